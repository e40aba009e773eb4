#!/usr/bin/env bash
# A resync whose listing of tenant networks fails loses only what needs
# that listing (Podman 4.3 takes over a minute to list 140 networks:
# BENCHMARKS.md).  The controller talks to the engine through
# tests/e2e/faultproxy.py, which answers 500 to `GET /networks?...` while
# told to:
#  1. meanwhile a resync that lists the engine (every tenth; one a second
#     here) still collects an orphaned labelled volume (the previous controller lost
#     the whole resync), and says in its log that the networks were not
#     listed;
#  2. a tenant whose last workspace was deleted meanwhile keeps its network
#     (nothing is collected from a listing that failed);
#  3. once the engine lists networks again, that network is collected.
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
DOCKER_HOST="unix://$BED/fault.sock" bed_start_controller --resync-seconds 1

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
echo "PASS test_resync_network_list"
