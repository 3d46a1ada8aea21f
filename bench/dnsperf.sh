#!/usr/bin/env bash
# Throughput and latency of `aviator serve` against NSD and Knot serving the same answers, in
# one run:
#
#   bench/dnsperf.sh [SECONDS]            (default 10 s per run)
#   SERVICES=10000 bench/dnsperf.sh       (a generated clusterset: bench/gen-clusterset.sh)
#
# Needs dnsperf, nsd and knot (apt-get install -y dnsperf nsd knot). Each server runs alone on
# the same two cores, in turn (aviator, nsd, knot, twice), and gets two dnsperf runs:
#   - throughput: -c 4 -q 200 for SECONDS, flat out: queries/s and lost %;
#   - latency: the same mix offered at a fixed 20,000 queries/s for 5 s with -v, whose
#     per-query times give the p99 (dnsperf 2.10 has no histogram; -v would slow the flat-out
#     run, so it is kept apart).
# The figures are medians over the rounds; the ratio is Aviator's to the better anchor. On a
# machine whose cores dnsperf shares, the flat-out figure is bound by the client as much as by
# the server: so the server's own CPU per query in that run (its processes' user and system
# time over the queries answered) is printed too, the figure that says which server is cheaper.
# NSD's response-rate limiting is switched off (Debian's NSD has it on), or it would cap the
# comparison; Knot runs with its defaults (a UDP worker per core, no rate limiting).
set -euo pipefail
secs=${1:-10}
services=${SERVICES:-}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

for tool in dnsperf nsd knotd; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install -y dnsperf nsd knot)" >&2; exit 2; }
done

# AVIATOR_BIN runs another build (an earlier commit's, say) against the same anchors.
aviator=${AVIATOR_BIN:-$root/target/dist/aviator}
[ -n "${AVIATOR_BIN:-}" ] || cargo build --profile dist --locked --quiet --manifest-path "$root/Cargo.toml" -p aviator-dns

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

zone_head='$ORIGIN clusterset.local.
$TTL 5
@ IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. 1 7200 1800 86400 5
@ IN NS ns.dns.clusterset.local.
ns.dns IN A 127.0.0.1'
if [ -z "$services" ]; then
  config="$root/examples/clusterset.yaml"
  # ClusterSetIP A under round-robin, preferLocal and weights; AAAA; SRV; headless A.
  cat > "$work/queries.txt" <<'Q'
nginx.default.svc.clusterset.local A
echo.default.svc.clusterset.local A
checkout.shop.svc.clusterset.local A
web.shop.svc.clusterset.local AAAA
nginx.default.svc.clusterset.local SRV
db.data.svc.clusterset.local A
Q
  # The anchors serve one fixed answer per name, the same size as Aviator's.
  cat > "$work/clusterset.local.zone" <<Z
$zone_head
nginx.default.svc IN A 10.2.0.10
nginx.default.svc IN SRV 0 100 80 nginx.default.svc.clusterset.local.
echo.default.svc IN A 10.1.0.20
checkout.shop.svc IN A 10.2.0.50
web.shop.svc IN AAAA fd00:2::40
db.data.svc IN A 10.2.1.1
db.data.svc IN A 10.2.1.2
Z
else
  config="$work/clusterset.yaml"
  "$root/bench/gen-clusterset.sh" "$services" > "$config"
  # Every service in the zone (one A each, as Aviator answers one cluster's); the queries
  # spread over a thousand of them.
  { echo "$zone_head"
    awk -v n="$services" 'BEGIN { for (s = 0; s < n; s++)
      printf "svc-%d.ns-%d.svc IN A 10.1.%d.%d\n", s, s % 100, int(s / 250) % 250, s % 250 + 1 }'
  } > "$work/clusterset.local.zone"
  awk -v n="$services" 'BEGIN { step = n > 1000 ? int(n / 1000) : 1
    for (s = 0; s < n; s += step) printf "svc-%d.ns-%d.svc.clusterset.local A\n", s, s % 100 }' \
    > "$work/queries.txt"
fi

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

knot_port=$(free_port)
mkdir -p "$work/knot"
cat > "$work/knot.conf" <<C
server:
  rundir: "$work/knot"
  listen: 127.0.0.1@$knot_port
database:
  storage: "$work/knot"
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: "$work"
zone:
  - domain: clusterset.local
    file: clusterset.local.zone
C

wait_for() { # port
  for _ in $(seq 300); do
    dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -n 1 -t 1 2>/dev/null \
      | grep -q 'Queries lost: *0 ' && return 0
    sleep 0.1
  done
  echo "bench: server on port $1 did not answer" >&2; exit 1
}

start() { # name -> sets port; starts the server in the background
  case $1 in
    aviator) port=$(free_port)
      "$aviator" serve --config "$config" --listen "127.0.0.1:$port" --admin 127.0.0.1:0 \
        --log-level warn >/dev/null 2>&1 & ;;
    nsd) port=$nsd_port; nsd -c "$work/nsd.conf" -d & ;;
    knot) port=$knot_port; knotd -c "$work/knot.conf" 2>>"$work/knot.log" & ;;
  esac
  pid=$!; pids+=("$pid")
  wait_for "$port"
}

# CPU ticks (user + system) of process $1 and all its descendants (NSD forks its servers).
tree_ticks() {
  python3 - "$1" <<'P'
import os, sys
procs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            s = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
total, todo = 0, [int(sys.argv[1])]
while todo:
    p = todo.pop()
    total += procs.get(p, (0, 0))[1]
    todo += [c for c, (parent, _) in procs.items() if parent == p]
print(total)
P
}
hz=$(getconf CLK_TCK)

# Prints "qps lost% cpu-us-per-query" from a dnsperf report and the server's CPU time.
throughput() {
  local t0 t1
  t0=$(tree_ticks "$pid")
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -c 4 -q 200 -l "$secs" \
    | awk '/Queries per second/ {q=$4} /Queries lost/ {gsub(/[()%]/,"",$4); l=$4}
           END {printf "%.0f %s\n", q, l}' > "$work/throughput"
  t1=$(tree_ticks "$pid")
  read -r q l < "$work/throughput"
  echo "$q $l $(awk -v d=$((t1 - t0)) -v hz="$hz" -v q="$q" -v s="$secs" \
    'BEGIN {printf "%.2f", d / hz * 1e6 / (q * s)}')"
}

# Prints the p99 latency in ms at a fixed offered rate.
p99() {
  dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -c 4 -Q 20000 -l 5 -v \
    | awk '/^> / {print $NF * 1000}' | sort -n \
    | awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f\n", v[i]}'
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

declare -A qps lost lat cpu
servers=(aviator nsd knot)
echo "mix: $(wc -l < "$work/queries.txt") names, $(grep -c . "$config" | xargs) config lines${services:+, $services services}"
printf '%-8s %-5s %12s %8s %10s %12s\n' server round "queries/s" "lost %" "p99 ms" "cpu us/query"
for round in 1 2; do
  for server in "${servers[@]}"; do
    start "$server"
    read -r q l c < <(throughput)
    p=$(p99)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    qps[$server]+="$q "; lost[$server]+="$l "; lat[$server]+="$p "; cpu[$server]+="$c "
    printf '%-8s %-5s %12s %8s %10s %12s\n' "$server" "$round" "$q" "$l" "$p" "$c"
  done
done
echo
printf '%-8s %12s %8s %10s %12s\n' median "queries/s" "lost %" "p99 ms" "cpu us/query"
declare -A m mc
for server in "${servers[@]}"; do
  # shellcheck disable=SC2086
  m[$server]=$(median ${qps[$server]})
  # shellcheck disable=SC2086
  mc[$server]=$(median ${cpu[$server]})
  # shellcheck disable=SC2086
  printf '%-8s %12s %8s %10s %12s\n' "$server" "${m[$server]}" "$(median ${lost[$server]})" "$(median ${lat[$server]})" "${mc[$server]}"
done
best=nsd; awk -v k="${m[knot]}" -v n="${m[nsd]}" 'BEGIN {exit !(k > n)}' && best=knot
echo "aviator / $best (the better anchor) = $(awk -v a="${m[aviator]}" -v b="${m[$best]}" 'BEGIN {printf "%.2f", a/b}')x queries/s"
cheapest=nsd; awk -v k="${mc[knot]}" -v n="${mc[nsd]}" 'BEGIN {exit !(k < n)}' && cheapest=knot
echo "aviator / $cheapest (the cheaper anchor) = $(awk -v a="${mc[aviator]}" -v b="${mc[$cheapest]}" 'BEGIN {printf "%.2f", a/b}')x CPU per query"
