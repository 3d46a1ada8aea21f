#!/usr/bin/env bash
# Throughput of `aviator serve` against NSD serving the same answers, measured in one run.
#
#   bench/dnsperf.sh [SECONDS]        (default 10 s per run; needs dnsperf and nsd:
#                                      apt-get install -y dnsperf nsd)
#
# Each server runs alone with dnsperf (-c 4 -q 200) on the same two cores, alternating
# aviator, nsd, aviator, nsd; the figure reported is the ratio of the medians (reference §6).
# NSD's response-rate limiting is switched off, or it would cap the comparison.
set -euo pipefail
secs=${1:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for tool in dnsperf nsd; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install -y dnsperf nsd)" >&2; exit 2; }
done

cargo build --release --locked --quiet --manifest-path "$root/Cargo.toml" -p aviator-dns
aviator="$root/target/release/aviator"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The query mix: ClusterSetIP A under round-robin, preferLocal and weights; AAAA; SRV; headless A.
cat > "$work/queries.txt" <<'Q'
nginx.default.svc.clusterset.local A
echo.default.svc.clusterset.local A
checkout.shop.svc.clusterset.local A
web.shop.svc.clusterset.local AAAA
nginx.default.svc.clusterset.local SRV
db.data.svc.clusterset.local A
Q

# NSD serves one fixed answer per name, the same size as Aviator's.
cat > "$work/clusterset.local.zone" <<'Z'
$ORIGIN clusterset.local.
$TTL 5
@ IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5
@ IN NS ns.dns.clusterset.local.
nginx.default.svc IN A 10.2.0.10
nginx.default.svc IN SRV 0 100 80 nginx.default.svc.clusterset.local.
echo.default.svc IN A 10.1.0.20
checkout.shop.svc IN A 10.2.0.50
web.shop.svc IN AAAA fd00:2::40
db.data.svc IN A 10.2.1.1
db.data.svc IN A 10.2.1.2
Z

nsd_port=$(free_port)
cat > "$work/nsd.conf" <<C
server:
  ip-address: 127.0.0.1@$nsd_port
  server-count: 1
  username: ""
  zonesdir: "$work"
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: clusterset.local
  zonefile: clusterset.local.zone
C

wait_for() { # port
  for _ in $(seq 100); do
    dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -n 1 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: server on port $1 did not answer" >&2; exit 1
}

run_aviator() {
  local port; port=$(free_port)
  "$aviator" serve --config "$root/examples/clusterset.yaml" --listen "127.0.0.1:$port" \
    --admin 127.0.0.1:0 --log-level warn >/dev/null &
  local pid=$!; pids+=("$pid")
  wait_for "$port"
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -c 4 -q 200 -l "$secs" > "$work/out.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_nsd() {
  nsd -c "$work/nsd.conf" -d &
  local pid=$!; pids+=("$pid")
  wait_for "$nsd_port"
  dnsperf -s 127.0.0.1 -p "$nsd_port" -d "$work/queries.txt" -c 4 -q 200 -l "$secs" > "$work/out.txt"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

# Prints "qps lost% avg_ms" from a dnsperf report.
summarise() {
  awk '/Queries per second/ {q=$4} /Queries lost/ {gsub(/[()%]/,"",$4); l=$4}
       /Average Latency/ {a=$4*1000} END {printf "%.0f %s %.3f\n", q, l, a}' "$work/out.txt"
}

declare -a av_q ns_q
printf '%-8s %-4s %12s %8s %12s\n' server run "queries/s" "lost %" "avg ms"
for round in 1 2; do
  run_aviator; read -r q l a < <(summarise); av_q+=("$q")
  printf '%-8s %-4s %12s %8s %12s\n' aviator "$round" "$q" "$l" "$a"
  run_nsd; read -r q l a < <(summarise); ns_q+=("$q")
  printf '%-8s %-4s %12s %8s %12s\n' nsd "$round" "$q" "$l" "$a"
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
am=$(median "${av_q[@]}"); nm=$(median "${ns_q[@]}")
echo "median queries/s: aviator $am, nsd $nm; ratio aviator/nsd = $(awk -v a="$am" -v n="$nm" 'BEGIN {printf "%.2f", a/n}')"
