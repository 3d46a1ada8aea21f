#!/usr/bin/env bash
# Does reloading a large clusterset stall DNS? Serves bench/gen-clusterset.sh SERVICES, offers
# a fixed query rate for SECS seconds twice: once quiet, once while the file is rewritten (one
# address changed, by atomic rename) every 2 s; prints the p99 and worst latency and the loss
# of each, and the ratio of the reloading run's p99 to the quiet one's.
#
#   bench/reload.sh [SERVICES=10000] [SECS=20]
#
# AVIATOR_BIN runs another build (an earlier commit's, say). Needs dnsperf.
set -euo pipefail
services=${1:-10000}; secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=""; writer=""
cleanup() { for p in $pid $writer; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
command -v dnsperf >/dev/null || { echo "bench: dnsperf is not installed (apt-get install -y dnsperf)" >&2; exit 2; }
bin=${AVIATOR_BIN:-$root/target/dist/aviator}
[ -n "${AVIATOR_BIN:-}" ] || cargo build --profile dist --locked --quiet --manifest-path "$root/Cargo.toml" -p aviator-dns

"$root/bench/gen-clusterset.sh" "$services" > "$work/original.yaml"
cp "$work/original.yaml" "$work/clusterset.yaml"
grep -q 'ips: \[10\.1\.0\.1\]' "$work/original.yaml" || { echo "bench: no address to change" >&2; exit 1; }
awk -v n="$services" 'BEGIN { step = n > 1000 ? int(n / 1000) : 1
  for (s = 0; s < n; s += step) printf "svc-%d.ns-%d.svc.clusterset.local A\n", s, s % 100 }' \
  > "$work/queries.txt"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); admin=$(free_port)
reloads() { curl -s "http://127.0.0.1:$admin/metrics" | awk '/^aviator_config_reloads_total\{result="ok"\}/ {print $2}'; }
"$bin" serve --config "$work/clusterset.yaml" --listen "127.0.0.1:$port" --admin "127.0.0.1:$admin" \
  --log-level warn >/dev/null 2>&1 &
pid=$!
for _ in $(seq 600); do
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -n 1 -t 1 2>/dev/null \
    | grep -q 'Queries lost: *0 ' && break
  sleep 0.1
done

# Prints "p99_ms max_ms lost%" at 20,000 queries/s.
latency() {
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -c 4 -Q 20000 -l "$secs" -v \
    > "$work/run.txt"
  local lost; lost=$(awk '/Queries lost/ {gsub(/[()%]/,"",$4); print $4}' "$work/run.txt")
  awk '/^> / {print $NF * 1000}' "$work/run.txt" | sort -n \
    | awk -v lost="$lost" '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f %.3f %s\n", v[i], v[NR], lost}'
}

read -r quiet_p99 quiet_max quiet_lost < <(latency)
( i=0; while true; do
    i=$((i + 1))
    sed "0,/ips: \[10\.1\.0\.1\]/s//ips: [10.1.250.$((i % 200 + 1))]/" "$work/original.yaml" > "$work/next.yaml"
    mv "$work/next.yaml" "$work/clusterset.yaml"
    sleep 2
  done ) &
writer=$!
before=$(reloads)
read -r busy_p99 busy_max busy_lost < <(latency)
kill "$writer"; writer=""
taken=$(( $(reloads) - ${before:-0} ))
printf '%-26s %10s %10s %8s\n' "services $services" "p99 ms" "max ms" "lost %"
printf '%-26s %10s %10s %8s\n' quiet "$quiet_p99" "$quiet_max" "$quiet_lost"
printf '%-26s %10s %10s %8s\n' "reloading ($taken taken)" "$busy_p99" "$busy_max" "$busy_lost"
echo "p99 while reloading / quiet = $(awk -v a="$busy_p99" -v b="$quiet_p99" 'BEGIN {printf "%.2f", a/b}')x"
