#!/usr/bin/env bash
# docs/kubernetes.md, step 5: what Aviator decided, and whether the zone's queries reach it.
set -euo pipefail
kubectl=${KUBECTL:-kubectl}
$kubectl get aviatorpolicies -A
$kubectl -n default get aviatorpolicy nginx \
  -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}){"\n"}{end}'
