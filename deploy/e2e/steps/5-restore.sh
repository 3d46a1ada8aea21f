#!/usr/bin/env bash
# docs/kubernetes.md, the way back: lighthouse-coredns answers the zone again.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
kubectl=${KUBECTL:-kubectl}
$kubectl -n submariner-operator patch service submariner-lighthouse-coredns \
  --type=json --patch-file "$root/deploy/submariner/restore.json"
