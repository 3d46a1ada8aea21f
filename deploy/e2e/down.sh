#!/usr/bin/env bash
set -euo pipefail
for i in 1 2; do kind delete cluster --name "cluster$i"; done
rm -f broker-info.subm
