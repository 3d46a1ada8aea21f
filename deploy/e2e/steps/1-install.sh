#!/usr/bin/env bash
# docs/kubernetes.md, step 2: install Aviator in a cluster joined by Submariner. As written in the
# docs; KUBECTL may name the kubectl to use (the tests run this against their own API server).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
kubectl=${KUBECTL:-kubectl}
$kubectl apply -f "$root/deploy/crds/aviator.dev.yaml"
$kubectl apply -k "$root/deploy/submariner"
