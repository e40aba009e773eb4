#!/usr/bin/env bash
# Activity from klangkc: a workspace that its idle timeout stopped (with
# spec.running still true) is brought back by `klangkc start`, by `klangkc
# exec` (which waits for it and then runs the command) and by `klangkc
# touch`; each records /klangk/activity/<ns>/<name>.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_start_controller
bed_start_gateway

K="$BIN/klangkc"
ws_apply alice nap '{"hostedPorts": 0, "idleTimeoutSeconds": 3}'
wait_ws_converged nap alice 30
_idle() { [ "$(ws_cond nap alice Ready reason)" = IdleTimeout ]; }
wait_idle() {
	wait_for "nap stopped for idleness ($1)" 30 _idle || fail "not idle-stopped: $(ws_json nap alice)"
	assert_eq Stopped "$(ws_field nap alice .status.phase)" "phase when idle ($1)"
}

# start: spec.running is already true, yet the workspace comes back.
wait_idle "before start"
before="$(etcdget /klangk/activity/alice/nap)"
"$K" start nap -n alice >/dev/null
[ -n "$(etcdget /klangk/activity/alice/nap)" ] || fail "start recorded no activity"
wait_ws_converged nap alice 30

# exec: waits for the workspace to run again, then runs the command.
wait_idle "before exec"
out="$("$K" exec nap -n alice --timeout 30s -- echo back 2>"$BED/err")"
assert_eq back "$out" "exec on an idle-stopped workspace"
assert_contains "$(cat "$BED/err")" "waiting for workspace alice/nap to run" "exec says it waits"
assert_eq Running "$(ws_field nap alice .status.phase)" "phase after exec"

# touch.
wait_idle "before touch"
assert_eq "workspace.klangk.io/nap touched" "$("$K" touch nap -n alice)" "touch output"
wait_ws_converged nap alice 30
set +e
"$K" touch nosuch -n alice 2>/dev/null
rc=$?
set -e
assert_eq 4 "$rc" "touch on a missing workspace"
assert_eq "" "$(etcdget /klangk/activity/alice/nosuch)" "no activity key for a missing workspace"
[ "$before" != "$(etcdget /klangk/activity/alice/nap)" ] || fail "the activity key never changed"

# spec.running: false is not undone by activity; exec says how to start it.
"$K" stop nap -n alice >/dev/null
wait_ws_reason nap alice Stopped 30
set +e
"$K" exec nap -n alice -- true 2>"$BED/err"
rc=$?
set -e
assert_eq 1 "$rc" "exec on a stopped workspace"
assert_contains "$(cat "$BED/err")" "klangkc start nap -n alice" "exec's hint"
echo "PASS test_idle_cli"
