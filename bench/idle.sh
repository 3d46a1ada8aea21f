#!/usr/bin/env bash
# Control-plane cost of an idle `aviator serve` (no queries) on a generated clusterset:
#
#   bench/idle.sh [SERVICES=10000] [SETTLE_S=180] [MEASURE_S=60]
#
# Starts it on bench/gen-clusterset.sh SERVICES (5 clusters, a tenth Optimized), lets the
# optimizer settle for SETTLE_S, then prints its CPU over MEASURE_S (% of one core) and its
# RSS; /healthz and TCP DNS latency are printed too (worst of 100 each, while it runs).
set -euo pipefail
services=${1:-10000}; settle=${2:-180}; measure=${3:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# AVIATOR_BIN runs another build (an earlier commit's, say) beside this one's.
bin=${AVIATOR_BIN:-$root/target/dist/aviator}
[ -n "${AVIATOR_BIN:-}" ] || cargo build --profile dist --locked --quiet --manifest-path "$root/Cargo.toml" -p aviator-dns
"$root/bench/gen-clusterset.sh" "$services" > "$work/clusterset.yaml"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dns=$(port); admin=$(port)
"$bin" serve --config "$work/clusterset.yaml" --listen "127.0.0.1:$dns" \
  --admin "127.0.0.1:$admin" --log-level warn >/dev/null 2>&1 &
pid=$!
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# Resident memory, and how much of it is the heap and stacks (anonymous) and how much the
# binary's own pages (file-backed, shared with any other process running it).
rss_mib() { awk '/VmRSS|RssAnon|RssFile/ {v[$1] = $2 / 1024}
  END {printf "%.1f MiB (%.1f MB; anonymous %.1f MiB, file-backed %.1f MiB)", v["VmRSS:"], v["VmRSS:"] * 1.048576, v["RssAnon:"], v["RssFile:"]}' "/proc/$pid/status"; }
sleep "$settle"
t0=$(ticks); sleep "$measure"; t1=$(ticks)
echo "services $services: control-plane CPU $(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$measure" 'BEGIN {printf "%.1f", 100 * d / hz / s}')% of a core over ${measure}s, RSS $(rss_mib)"
python3 - "$dns" "$admin" <<'P'
import socket, struct, sys, time, urllib.request
dns, admin = int(sys.argv[1]), int(sys.argv[2])
q = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x05svc-1\x04ns-1\x03svc\x0aclusterset\x05local\x00\x00\x01\x00\x01"
tcp, health = [], []
for _ in range(100):
    t = time.perf_counter()
    with socket.create_connection(("127.0.0.1", dns), timeout=5) as s:
        s.sendall(struct.pack(">H", len(q)) + q); s.recv(2)
    tcp.append(time.perf_counter() - t)
    t = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{admin}/healthz", timeout=5).read()
    health.append(time.perf_counter() - t)
    time.sleep(0.05)
print(f"worst of 100 over 5 s: TCP query {max(tcp)*1000:.1f} ms, /healthz {max(health)*1000:.1f} ms")
P
