#!/usr/bin/env bash
# Aviator's resident memory in Kubernetes mode with 5,000 ServiceImports exported by 5 clusters,
# on a real kube-apiserver and etcd (tests/e2e/kubernetes_memory.rs). Prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release --locked -p aviator-dns --test e2e kubernetes_memory -- --ignored --nocapture 2>&1 \
  | grep -E "^(services|objects|rss|cpu)"
