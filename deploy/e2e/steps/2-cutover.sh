#!/usr/bin/env bash
# docs/kubernetes.md, step 3: send the clusterset zone to Aviator. CoreDNS's clusterset.local
# block forwards to the submariner-lighthouse-coredns Service, and the submariner-operator puts it
# back on every reconcile; the Service itself the operator creates once and never updates, so
# that is where the cutover is made: it now selects Aviator's pods, on Aviator's port.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
kubectl=${KUBECTL:-kubectl}
$kubectl -n submariner-operator patch service submariner-lighthouse-coredns \
  --type=json --patch-file "$root/deploy/submariner/cutover.json"
$kubectl -n submariner-operator get service submariner-lighthouse-coredns \
  -o jsonpath='{.spec.selector}{" "}{.spec.ports[*].targetPort}{"\n"}'
