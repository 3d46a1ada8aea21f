#!/usr/bin/env bash
# Two kind clusters joined by Submariner, with Aviator answering clusterset.local in both.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
for tool in docker kind kubectl subctl; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is required" >&2; exit 2; }
done

for i in 1 2; do
  cat <<KIND | kind create cluster --name "cluster$i" --config -
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  podSubnet: 10.24$i.0.0/16
  serviceSubnet: 100.9$i.0.0/16
  disableDefaultCNI: false
KIND
done

kubectl config use-context kind-cluster1
subctl deploy-broker --context kind-cluster1
for i in 1 2; do
  subctl join --context "kind-cluster$i" broker-info.subm --clusterid "cluster$i" --natt=false
done

docker build -t aviator:e2e "$root"
for i in 1 2; do
  kind load docker-image aviator:e2e --name "cluster$i"
  KUBECTL="kubectl --context kind-cluster$i" "$root/deploy/e2e/steps/1-install.sh"
  kubectl --context "kind-cluster$i" -n submariner-operator set image deploy/aviator aviator=aviator:e2e
  kubectl --context "kind-cluster$i" -n submariner-operator rollout status deploy/aviator --timeout=180s
  KUBECTL="kubectl --context kind-cluster$i" "$root/deploy/e2e/steps/2-cutover.sh"
done

kubectl --context kind-cluster2 create deployment nginx --image=nginx
kubectl --context kind-cluster2 expose deployment nginx --port=80
subctl export service --context kind-cluster2 --namespace default nginx
