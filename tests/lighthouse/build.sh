#!/usr/bin/env bash
# Builds the real Lighthouse agent into OUT (default ../../target/lighthouse): bin/lighthouse-agent
# from github.com/submariner-io/lighthouse at the version go.mod pins, stamped with that version,
# and crds/ with the mcs-api CustomResourceDefinitions at the version that Lighthouse release
# requires (v0.1.0): the newer ones' ServiceExport schema wants a non-empty condition reason, and
# rejects the agent's status updates, whose Valid condition has none.
#
# lighthouse-coredns is not built: its source is the separate module
# github.com/submariner-io/lighthouse/coredns, which has no tagged release and which the module
# proxy does not serve (the lighthouse module's own zip excludes the coredns/ folder), so the
# Lighthouse CoreDNS plugin cannot be had from a registry here.
#
# Go's module and build caches make a second run take seconds; the first downloads and compiles
# for a minute or two.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-../../target/lighthouse}
mkdir -p "$out/bin" "$out/crds"
rm -f "$out"/crds/*.yaml
# Submariner's modules have no entry in the checksum database the proxy serves; go.sum pins them.
export GONOSUMDB='github.com/submariner-io/*'
version=$(go list -m -f '{{.Version}}' github.com/submariner-io/lighthouse)
go build -ldflags "-X main.version=$version" -o "$out/bin/lighthouse-agent" \
	github.com/submariner-io/lighthouse/pkg/agent
# `go list -m` names a module's folder only once it is in the module cache.
go mod download sigs.k8s.io/mcs-api
cp "$(go list -m -f '{{.Dir}}' sigs.k8s.io/mcs-api)"/config/crd/multicluster.x-k8s.io_*.yaml "$out/crds/"
chmod u+w "$out"/crds/*.yaml
