#!/usr/bin/env bash
# Resolves the exported service from cluster1 through Aviator and shows what Aviator decided.
set -euo pipefail
kubectl --context kind-cluster1 run dig --rm -i --restart=Never \
  --image=registry.k8s.io/e2e-test-images/jessie-dnsutils:1.3 -- \
  dig +short nginx.default.svc.clusterset.local | tee /dev/stderr | grep -Eq '^[0-9.]+$'
kubectl --context kind-cluster1 get aviatorpolicies -A
