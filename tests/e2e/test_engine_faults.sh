#!/usr/bin/env bash
# Engine answers the controller must ride out, injected by
# tests/e2e/faultproxy.py between the controller and the engine.
# A resync whose listing of tenant networks fails loses only what needs
# that listing (Podman's compat list once took over a minute at 140
# networks: BENCHMARKS.md); the proxy answers 500 to the network list
# while told to:
#  1. meanwhile a resync that lists the engine (every tenth; one a second
#     here) still collects an orphaned labelled volume (the previous controller lost
#     the whole resync), and says in its log that the networks were not
#     listed;
#  2. a tenant whose last workspace was deleted meanwhile keeps its network
#     (nothing is collected from a listing that failed);
#  3. once the engine lists networks again, that network is collected;
#  4. Podman's answer to an inspect racing a container's removal (500 "...
#     does not exist in database: no such container", where dockerd says
#     404) means the container is gone: a deleted workspace whose container
#     answers so is deleted, and no resync is lost to it (the previous
#     controller lost each resync that inspected it).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

FP_PID=""
cleanup() {
	local rc=$?
	set +e
	[ -z "$FP_PID" ] || kill "$FP_PID" 2>/dev/null
	(exit "$rc")
	bed_down
}
trap cleanup EXIT
bed_up

# --- the engine behind a proxy that can fail the network listing ----------
FAULTS="$BED/faults"
python3 "$HERE/faultproxy.py" "$BED/fault.sock" "${DOCKER_HOST#unix://}" "$FAULTS" \
	>"$BED/faultproxy.log" 2>&1 &
FP_PID=$!
wait_for "the fault proxy" 10 grep -qx ready "$BED/faultproxy.log" || fail "faultproxy.py did not start"
DOCKER_HOST="unix://$BED/fault.sock" bed_start_controller --resync-seconds 1 --log-level debug

K="$BIN/klangkc"
NA="klangk_${KLANGK_INSTANCE_ID}_alice" NB="klangk_${KLANGK_INSTANCE_ID}_bob"
ws_apply alice a1 '{"hostedPorts": 0}'
ws_apply bob b1 '{"hostedPorts": 0}'
wait_ws_converged a1 alice 90
wait_ws_converged b1 bob 90
engine_get "/v1.41/networks/$NB" >/dev/null || fail "bob has no network (the test's premise)"

# --- 1. the listing of networks fails; the rest of the resync goes on -----
echo '^GET /v[0-9.]+/(libpod/)?networks(/json)?\?' >"$FAULTS"
"$K" delete b1 -n bob >/dev/null || fail "klangkc delete b1"
_b1_gone() { ! engine_get "/v1.41/containers/$(ws_field b1 bob .status.container.name 2>/dev/null || echo none)/json" >/dev/null 2>&1 &&
	! "$K" get b1 -n bob >/dev/null 2>&1; }
wait_for "b1 deleted" 60 _b1_gone || fail "b1 was not deleted"
engine_post /v1.41/volumes/create \
	'{"Name":"orphan-'"$KLANGK_INSTANCE_ID"'","Labels":{"klangk.instance":"'"$KLANGK_INSTANCE_ID"'","klangk.user-id":"alice","klangk.workspace":"alice/ghost"}}' >/dev/null
faults_before="$(grep -c '^fault:' "$BED/faultproxy.log" || true)"
_orphan_gone() { ! engine_get "/v1.41/volumes/orphan-$KLANGK_INSTANCE_ID" >/dev/null 2>&1; }
wait_for "the orphaned volume collected" 60 _orphan_gone ||
	fail "the orphaned volume was not collected while the network listing failed"
[ "$(grep -c '^fault:' "$BED/faultproxy.log")" -gt "$faults_before" ] ||
	fail "the network listing was not tried (the test's premise)"
grep -q 'tenant networks not listed' "$BED/controller.log" ||
	fail "the controller did not say the networks were not listed"
! grep -q 'resync: listing failed' "$BED/controller.log" ||
	fail "a resync was lost whole"
echo "ok: with the network listing failing, the resync still collected a volume"

# --- 2. nothing collected from a listing that failed ----------------------
engine_get "/v1.41/networks/$NB" >/dev/null || fail "bob's network went without a listing"
echo "ok: bob's network kept while networks cannot be listed"

# --- 3. the engine lists again: the network goes ---------------------------
rm -f "$FAULTS"
_net_gone() { ! engine_get "/v1.41/networks/$NB" >/dev/null 2>&1; }
wait_for "bob's network collected" 60 _net_gone || fail "$NB was not collected after the listing came back"
engine_get "/v1.41/networks/$NA" >/dev/null || fail "alice's network went too"
# Podman 4.3's CNI plugin leaves its isolation rules behind a removed
# network (docs/security.md): the bed's own clean-up.
bed_forget_bridge "kt$(printf '%s/bob' "$KLANGK_INSTANCE_ID" | sha256sum | cut -c1-12)"
echo "ok: bob's network collected once networks are listed again"
# --- 4. "no such container" from a racing inspect is a container gone ------
ws_apply alice a3 '{"hostedPorts": 0}'
wait_ws_converged a3 alice 90
A3C="$(ws_field a3 alice .status.container.name)"
echo "^GET /v[0-9.]+/containers/$A3C/json => 500 container 0123 does not exist in database: no such container" >"$FAULTS"
lost_before="$(grep -c 'resync: listing failed' "$BED/controller.log" || true)"
faults_before="$(grep -c "^fault: GET .*/containers/$A3C/json" "$BED/faultproxy.log" || true)"
"$K" delete a3 -n alice >/dev/null || fail "klangkc delete a3"
_a3_gone() { ! "$K" get a3 -n alice >/dev/null 2>&1 &&
	! engine_get "/v1.41/containers/$A3C/json" >/dev/null 2>&1; }
wait_for "a3 deleted" 60 _a3_gone || fail "a3 was not deleted while its inspect answered 'no such container'"
# A few resyncs (one a second) that look at the deleted container.
_inspected() { [ "$(grep -c "^fault: GET .*/containers/$A3C/json" "$BED/faultproxy.log")" -gt "$faults_before" ]; }
wait_for "a3's container inspected through the fault" 30 _inspected ||
	fail "nothing inspected a3's container (the test's premise)"
# Two resyncs finished after that (each logs "resync" at debug level when
# it completes; one lost to the fault would log "listing failed" instead).
resyncs() { grep -c 'level=debug msg=resync ' "$BED/controller.log" || true; }
after="$(resyncs)"
_two_more() { [ "$(resyncs)" -ge $((after + 2)) ]; }
wait_for "two more resyncs" 30 _two_more || fail "the resyncs stopped"
rm -f "$FAULTS"
[ "$(grep -c 'resync: listing failed' "$BED/controller.log" || true)" = "$lost_before" ] ||
	fail "a resync was lost to 'no such container': $(grep 'resync: listing failed' "$BED/controller.log" | tail -1)"
echo "ok: 'no such container' taken as gone: a3 deleted, no resync lost"
echo "PASS test_engine_faults"
