#!/usr/bin/env bash
# A converged installation is quiet: resyncs (every 2 s here) cause no etcd
# write (the store's revision does not move) and no engine write (no POST or
# DELETE to the engine), and enqueue nothing.  They do not even read the
# engine: the engine cache (controller/ecache.h) answers, and only every
# 10th resync lists the containers, volumes and tenant networks again; and they read no
# status value, only the keys' revisions (controller/scache.h).  A container stopped
# behind the controller's back is put right (its event), the cache learns
# it by inspecting that one workspace, and resyncs are quiet again.
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
resyncs_reach() { [ "$(resyncs)" -ge "$1" ]; }
# Let the engine events of our own creations drain: one quiet resync first.
n0="$(resyncs)"
wait_for "a resync" 15 resyncs_reach $((n0 + 1)) || fail "no resync seen"
rev="$(revision)"
writes="$(engine_writes)"
n0="$(resyncs)"
wait_for "three more resyncs" 30 resyncs_reach $((n0 + 3)) ||
	fail "resyncs did not happen"
assert_eq "$rev" "$(revision)" "etcd revision across idle resyncs"
assert_eq "$writes" "$(engine_writes)" "engine writes across idle resyncs"
last="$(grep 'msg=resync ' "$BED/controller.log" | tail -1)"
assert_contains "$last" "enqueued=0" "last idle resync"

# Engine reads: none at a cached resync, two (volumes, containers) at a
# listing one.  Counted over whole resyncs: from just after one resync's
# line to just after another's.
engine_reads() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" |
		awk '/^klangk_engine_request_duration_seconds_count\{method="GET"\}/ {n += $2} END {print n + 0}'
}
n0="$(resyncs)"
wait_for "a resync" 15 resyncs_reach $((n0 + 1)) || fail "no resync seen"
n0="$(resyncs)"
reads="$(engine_reads)"
wait_for "four more resyncs" 30 resyncs_reach $((n0 + 4)) ||
	fail "resyncs did not happen"
reads1="$(engine_reads)"
n1="$(resyncs)"
window="$(grep 'msg=resync ' "$BED/controller.log" | sed -n "$((n0 + 1)),${n1}p")"
listed="$(grep -c 'engine=listed' <<<"$window" || true)"
cached="$(grep -c 'engine=cached inspected=0 ' <<<"$window" || true)"
assert_eq "$((n1 - n0))" "$((listed + cached))" "idle resyncs: listed or cached with nothing inspected"
# Nor do they read a status: none changed (controller/scache.h).
assert_eq "$((n1 - n0))" "$(grep -c ' status_reads=0 ' <<<"$window" || true)" "idle resyncs that read no status"
[ "$cached" -ge 2 ] || fail "only $cached of $((n1 - n0)) idle resyncs used the cache"
# A listing is three reads: containers, volumes, tenant networks.
assert_eq "$((3 * listed))" "$((reads1 - reads))" "engine reads over $((n1 - n0)) idle resyncs ($listed listing)"

# Drift behind the controller's back: the event puts it right, a resync
# inspects that workspace alone, and then all is quiet again.  (A listing
# resync, every 10th, learns it without an inspection; then try again.)
restarted() {
	[ "$(engine_get "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_idle_a/json" | jq -r .State.Status)" = running ]
}
ok=0
for attempt in 1 2 3; do
	before="$(resyncs)"
	engine_post "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_idle_a/stop?t=0" >/dev/null
	wait_for "a running again" 30 restarted || fail "a was not restarted"
	wait_for "two resyncs after the stop" 15 resyncs_reach $((before + 2)) ||
		fail "resyncs did not happen"
	if grep 'msg=resync ' "$BED/controller.log" | tail -n "+$((before + 1))" |
		grep -q 'engine=cached inspected=[1-9]'; then
		ok=1
		break
	fi
done
[ "$ok" = 1 ] || fail "no resync inspected the stopped workspace: $(grep 'msg=resync ' "$BED/controller.log" | tail -4)"
n0="$(resyncs)"
wait_for "two more resyncs" 15 resyncs_reach $((n0 + 2)) ||
	fail "resyncs did not happen"
last="$(grep 'msg=resync ' "$BED/controller.log" | tail -1)"
assert_contains "$last" "enqueued=0" "resync after the drift was put right"
echo "PASS: test_controller_idle"
