#!/usr/bin/env bash
# bench/idle.sh [N] — the controller idle with N workspaces (default 1000):
# etcd writes (revision movement) and engine writes (POST/DELETE requests)
# per resync, CPU over a window of several resyncs, and resident memory.
# The workspaces are declared with running: false, so N containers are
# created but not started (the engine's own cost of N running containers is
# not what is measured here).  Prints a Markdown table.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export BIN="${BIN:-$REPO/bin}"
source "$REPO/tests/bed.sh"
trap bed_down EXIT
N="${1:-1000}"
RESYNC="${RESYNC:-10}"
WINDOW="${WINDOW:-60}"
bed_up >/dev/null 2>&1
read -r MPORT _ <<<"$BED_FREE_PORTS"
bed_start_controller --resync-seconds "$RESYNC" --log-level debug \
	--metrics-address "127.0.0.1:$MPORT" \
	--port-range-end $((KLANGK_PORT_RANGE_START + N + 10))
for i in $(seq 1 "$N"); do
	printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w%04d, namespace: idle}\nspec: {image: %s, hostedPorts: 1, running: false}\n' "$i" "$KLANGK_TEST_IMAGE"
done >"$BED/all.yaml"
t0=$(date +%s)
"$BIN/klangkc" apply -f "$BED/all.yaml" >/dev/null
settled() {
	[ "$("$BIN/klangkc" get -n idle -o json | jq '[.items[] | select(.status.phase == "Stopped")] | length')" = "$N" ]
}
wait_for "all $N converged" 3600 settled >/dev/null
converge_s=$(( $(date +%s) - t0 ))
revision() { etcdctl endpoint status -w json | jq -r '.[0].Status.header.revision'; }
engine_writes() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" |
		awk '/^klangk_engine_request_duration_seconds_count\{method="(POST|DELETE)"\}/ {n += $2} END {print n + 0}'
}
resyncs() { grep -c 'msg=resync ' "$BED/controller.log" || true; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$BED_CONTROLLER_PID/stat"; }
# The engine service's own CPU (Podman's service or dockerd): what our
# requests cost it.
engine_ticks() { awk '{print $14 + $15}' "/proc/$BED_PODMAN_PID/stat"; }
# thread_ticks: "NAME TICKS" per thread (the controller names its threads).
thread_ticks() {
	local t
	for t in /proc/"$BED_CONTROLLER_PID"/task/*; do
		printf '%s %s\n' "$(cat "$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"
	done 2>/dev/null | sort
}
# Let our own creations drain (their engine events, the reconciles they
# cause), then measure: wait for a quiet resync, one that enqueued nothing
# and had nothing of the engine's to inspect.
quiet() {
	local last
	last="$(grep 'msg=resync ' "$BED/controller.log" | tail -n 1)"
	grep -Eq ' enqueued=0( |$)' <<<"$last" && ! grep -q ' inspected=[1-9]' <<<"$last"
}
wait_for "a quiet resync" 600 quiet >/dev/null
rev0=$(revision); w0=$(engine_writes); r0=$(resyncs); c0=$(cpu_ticks); e0=$(engine_ticks); t0=$(date +%s.%N)
thread_ticks >"$BED/threads0"
python3 -c "import time; time.sleep($WINDOW)"   # the measurement window itself
rev1=$(revision); w1=$(engine_writes); r1=$(resyncs); c1=$(cpu_ticks); e1=$(engine_ticks); t1=$(date +%s.%N)
thread_ticks >"$BED/threads1"
hz=$(getconf CLK_TCK)
cpu=$(echo "($c1 - $c0) / $hz / ($t1 - $t0) * 100" | bc -l | xargs printf '%.2f')
ecpu=$(echo "($e1 - $e0) / $hz / ($t1 - $t0) * 100" | bc -l | xargs printf '%.2f')
rss=$(awk '/VmRSS/ {print $2}' "/proc/$BED_CONTROLLER_PID/status")
cat <<MD
Engine: $BED_ENGINE; N = $N workspaces (containers created, not started); resync every ${RESYNC} s; window ${WINDOW} s.

| what | value | goal |
| --- | --- | --- |
| converge $N (apply -> all Stopped as declared) | ${converge_s} s | |
| resyncs in the window | $((r1 - r0)) | |
| etcd writes in the window (revision change) | $((rev1 - rev0)) | 0 |
| engine writes in the window (POST/DELETE) | $((w1 - w0)) | 0 |
| controller CPU over the window | ${cpu} % | < 1 % |
| controller RSS | $((rss / 1024)) MiB | < 20 MB |
| engine service CPU over the window | ${ecpu} % | |

CPU by thread over the window (ms):
$(join -a2 -e0 -o 2.1,1.2,2.2 "$BED/threads0" "$BED/threads1" |
	awk -v hz="$hz" '{d[$1] += ($3 - $2) * 1000 / hz} END {for (n in d) if (d[n] > 0) printf "- %s: %d\n", n, d[n]}' | sort)
MD
