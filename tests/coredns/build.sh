#!/usr/bin/env bash
# Builds CoreDNS at the release go.mod pins into OUT (default ../../target/coredns): the tests run
# it as a cluster's own DNS, whose forward plugin sends the clusterset zone to Aviator (or, after
# a revert, elsewhere). Go's caches make a second run take seconds.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-../../target/coredns}
mkdir -p "$out/bin"
go build -o "$out/bin/coredns" github.com/coredns/coredns
