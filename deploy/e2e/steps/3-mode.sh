#!/usr/bin/env bash
# docs/kubernetes.md, step 4: set a mode for a service (here default/nginx, Optimized for cost).
set -euo pipefail
kubectl=${KUBECTL:-kubectl}
$kubectl apply -f - <<'POLICY'
apiVersion: aviator.dev/v1alpha1
kind: AviatorPolicy
metadata: { name: nginx, namespace: default }
spec:
  service: nginx
  loadBalancing: Optimized
  objective: Cost
  latencySloMs: 200
POLICY
