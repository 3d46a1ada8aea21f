#!/usr/bin/env bash
# Builds the real control plane the Kubernetes-mode tests run against into OUT (default
# ../../target/control-plane): bin/kube-apiserver, bin/kubectl (the docs' steps in deploy/e2e
# run with it) and bin/etcd at the versions go.mod pins,
# bin/certs, and crds/ with Submariner's Gateway CustomResourceDefinition (mcs-api's come from
# tests/lighthouse, at the version Lighthouse requires). Go's module and build
# caches make a second run take seconds; the first downloads and compiles for several minutes.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-../../target/control-plane}
mkdir -p "$out/bin" "$out/crds"
rm -f "$out"/crds/*.yaml
# Submariner's module has no entry in the checksum database the proxy serves; go.sum pins it.
export GONOSUMDB=github.com/submariner-io/submariner
go build -o "$out/bin/" ./etcd ./certs k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
# `go list -m` names a module's folder only once it is in the module cache, and nothing built
# here imports this one: fetch it first, or a cold cache gives an empty path.
go mod download github.com/submariner-io/submariner
cp "$(go list -m -f '{{.Dir}}' github.com/submariner-io/submariner)"/deploy/crds/submariner.io_gateways.yaml "$out/crds/"
chmod u+w "$out"/crds/*.yaml
