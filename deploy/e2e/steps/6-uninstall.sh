#!/usr/bin/env bash
# docs/kubernetes.md, step 6: remove Aviator (after 5-restore.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
kubectl=${KUBECTL:-kubectl}
$kubectl delete -k "$root/deploy/submariner" --ignore-not-found
$kubectl delete -f "$root/deploy/crds/aviator.dev.yaml" --ignore-not-found
