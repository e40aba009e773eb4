#!/usr/bin/env bash
# A converged installation is quiet: resyncs (every 2 s here) cause no etcd
# write (the store's revision does not move) and no engine write (no POST or
# DELETE to the engine), and enqueue nothing.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
read -r MPORT _ <<<"$BED_FREE_PORTS"
bed_start_controller --resync-seconds 2 --log-level debug --metrics-address "127.0.0.1:$MPORT"
for w in a b c; do
	printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: %s, namespace: idle}\nspec: {image: %s, hostedPorts: 2}\n' "$w" "$KLANGK_TEST_IMAGE"
done | "$BIN/klangkc" apply -f - >/dev/null
# A stopped one too: idle means idle whatever the phase.
printf 'apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: d, namespace: idle}\nspec: {image: %s, running: false}\n' "$KLANGK_TEST_IMAGE" |
	"$BIN/klangkc" apply -f - >/dev/null
settled() {
	[ "$("$BIN/klangkc" get -n idle -o json | jq '[.items[] | select(.status.phase == "Running" or .status.phase == "Stopped")] | length')" = 4 ]
}
wait_for "all converged" 60 settled || fail "did not converge: $("$BIN/klangkc" get -n idle)"

revision() { etcdctl endpoint status -w json | jq -r '.[0].Status.header.revision'; }
engine_writes() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" |
		awk '/^klangk_engine_request_duration_seconds_count\{method="(POST|DELETE)"\}/ {n += $2} END {print n + 0}'
}
resyncs() { grep -c 'msg=resync ' "$BED/controller.log" || true; }
# Let the engine events of our own creations drain: one quiet resync first.
n0="$(resyncs)"
wait_for "a resync" 15 sh -c "[ \$(grep -c 'msg=resync ' '$BED/controller.log') -gt $n0 ]" || fail "no resync seen"
rev="$(revision)"
writes="$(engine_writes)"
n0="$(resyncs)"
wait_for "three more resyncs" 30 sh -c "[ \$(grep -c 'msg=resync ' '$BED/controller.log') -ge $((n0 + 3)) ]" ||
	fail "resyncs did not happen"
assert_eq "$rev" "$(revision)" "etcd revision across idle resyncs"
assert_eq "$writes" "$(engine_writes)" "engine writes across idle resyncs"
last="$(grep 'msg=resync ' "$BED/controller.log" | tail -1)"
assert_contains "$last" "enqueued=0" "last idle resync"
echo "PASS: test_controller_idle"
