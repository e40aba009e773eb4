#!/usr/bin/env bash
# Crashes reported and paced (issue 15): a workspace whose main process
# exits with code 3 shows Ready False ContainerExited with the code and
# Reconciling CrashLoopBackOff, an event with its count, and is restarted
# with exponential back-off (KLANGK_RESTART_BACKOFF_BASE=2, _MAX=4 here):
# the engine's own start events are spaced by the back-off, also across a
# controller restart (the pace is kept in status.restarts), so it never
# hammers the engine.  A memory hog is OOM-killed, shows OOMKilled (on
# Podman inferred from exit code 137: it reports no OOM kills), an event
# and the restart metric, and is restarted with back-off, while a
# neighbour's hosted app keeps answering through nginx throughout.  Runs on
# Podman and dockerd.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
BG_PIDS=()
cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	bed_down
}
trap cleanup EXIT
bed_up
export KLANGK_RESTART_BACKOFF_BASE=2 KLANGK_RESTART_BACKOFF_MAX=4
export KLANGK_DEFAULT_CPU=500m KLANGK_DEFAULT_MEMORY=256Mi
read -r MPORT _ <<<"$BED_FREE_PORTS"
bed_start_controller --metrics-address "127.0.0.1:$MPORT"
bed_start_proxygen
K="$BIN/klangkc"

# starts_of OWNER FILE: records the engine's events of OWNER's container
# (label klangk.workspace) in FILE, in the background, from now on.
starts_of() {
	local filt
	filt="$(jq -rn --arg l "klangk.workspace=$1" '{label: [$l]} | tojson | @uri')"
	curl -sN --unix-socket "$(_bed_engine_socket)" "http://d/v1.41/events?filters=$filt" >"$2" &
	BG_PIDS+=($!)
}

# start_times FILE: the times (seconds, with fraction) of the start events in FILE.
start_times() {
	jq -r 'select((.Action // .status) == "start") | (.timeNano // (.time * 1000000000)) / 1e9' "$1"
}

# events_of NS NAME: the workspace's recorded events, one JSON per line.
events_of() {
	etcdctl get --prefix --print-value-only "/klangk/events/$1/$2/" | sed '/^$/d'
}

_reconciling_is() { [ "$(ws_cond "$1" "$2" Reconciling reason)" = "$3" ]; }
_count_over() { [ "$(ws_field "$1" "$2" '.status.restarts.count // 0')" -gt "$3" ]; }

# The neighbour, probed through nginx every 0.2 s for the whole test.
ws_apply bob nb '{"hostedPorts": 2}'
wait_hosted_app nb bob
NB_URL="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$HOSTED_ID/$HOSTED_PORT/"
(
	while :; do
		if curl -sf --max-time 2 "$NB_URL" | grep -q "workspace=$HOSTED_ID"; then
			echo ok
		else
			echo "FAIL $(date +%T)"
		fi
		sleep 0.2
	done
) >"$BED/neighbour.log" 2>&1 &
BG_PIDS+=($!)

# --- exit code 3: ContainerExited, CrashLoopBackOff, paced restarts ---
starts_of alice/ex "$BED/ex.events"
ws_apply alice ex '{"hostedPorts": 0, "env": [{"name": "TEST_MAIN", "value": "exit 3"}]}'
wait_for "alice/ex in CrashLoopBackOff" 30 _reconciling_is ex alice CrashLoopBackOff ||
	fail "never CrashLoopBackOff: $(ws_json ex alice)"
assert_eq ContainerExited "$(ws_cond ex alice Ready reason)" "Ready's reason"
assert_eq False "$(ws_cond ex alice Ready status)" "Ready"
assert_contains "$(ws_cond ex alice Ready message)" "exit code 3" "Ready's message"
assert_contains "$(ws_cond ex alice Reconciling message)" "CrashLoopBackOff" "Reconciling's message"
assert_eq "ContainerExited 3" \
	"$(ws_field ex alice '"\(.status.restarts.lastReason) \(.status.restarts.lastExitCode)"')" \
	"status.restarts' last exit"
[ -n "$(ws_field ex alice '.status.restarts.nextRestartAt // empty')" ] ||
	fail "no nextRestartAt while a restart waits: $(ws_json ex alice)"
evs="$(events_of alice ex)"
grep '"reason":"ContainerExited"' <<<"$evs" | grep -q 'exited with exit code 3; restart [0-9]' ||
	fail "no ContainerExited event with its count: $evs"
desc="$("$K" describe ex -n alice)"
grep -Eq '^ +Restarts: +[1-9]' <<<"$desc" || fail "describe's Restarts: $desc"
grep -Eq '^ +Last Exit: +ContainerExited, exit code 3' <<<"$desc" || fail "describe's Last Exit: $desc"

# A controller restart in the middle of the series keeps its pace.
before="$(ws_field ex alice .status.restarts.count)"
bed_stop_controller
bed_start_controller --metrics-address "127.0.0.1:$MPORT"
wait_for "alice/ex restarted after the controller's restart" 30 _count_over ex alice "$before" ||
	fail "no restart after the controller restarted: $(ws_json ex alice)"
wait_for "six restarts of alice/ex" 60 _count_over ex alice 5 ||
	fail "fewer than six restarts: $(ws_json ex alice)"
[ "$(ws_field ex alice .status.restarts.count)" -gt "$before" ] || fail "the count went back"
"$K" delete ex -n alice >/dev/null
mapfile -t T < <(start_times "$BED/ex.events")
[ "${#T[@]}" -ge 6 ] || fail "only ${#T[@]} start events of alice/ex: $(cat "$BED/ex.events")"
# The i-th restart waits 0, 2, 4, 4, ... s after the exit before it (the
# status keeps whole seconds: 1 s of slack); the run itself is short.
for ((i = 1; i < ${#T[@]}; i++)); do
	want=$((i == 1 ? 0 : (i == 2 ? 2 : 4)))
	awk -v a="${T[i - 1]}" -v b="${T[i]}" -v w="$want" 'BEGIN { exit !(b - a >= w - 1.05) }' ||
		fail "start $i came $(awk -v a="${T[i - 1]}" -v b="${T[i]}" 'BEGIN { print b - a }') s after the previous one; the back-off is $want s (starts: ${T[*]})"
done
# Never hammering: at most 2 + W/3 starts in the W seconds observed.
awk -v n="${#T[@]}" -v a="${T[0]}" -v b="${T[${#T[@]} - 1]}" 'BEGIN { exit !(n <= 2 + (b - a) / 3) }' ||
	fail "${#T[@]} starts in $(awk -v a="${T[0]}" -v b="${T[${#T[@]} - 1]}" 'BEGIN { print b - a }') s"

# --- a memory hog: OOMKilled, an event, the metric, paced restarts ---
ws_apply alice hog '{"hostedPorts": 0, "resources": {"memory": "32Mi"}, "env": [{"name": "TEST_MAIN", "value": "tail /dev/zero"}]}'
wait_ws_reason hog alice OOMKilled 60
assert_eq CrashLoopBackOff "$(ws_cond hog alice Reconciling reason)" "the hog's Reconciling reason"
msg="$(ws_cond hog alice Ready message)"
assert_contains "$msg" "OOM-killed (exit code 137" "the hog's Ready message"
if [ "$BED_ENGINE" = podman ]; then
	assert_contains "$msg" "inferred" "Podman's OOM kill is said to be inferred"
fi
assert_eq "OOMKilled 137" \
	"$(ws_field hog alice '"\(.status.restarts.lastReason) \(.status.restarts.lastExitCode)"')" \
	"the hog's last exit"
grep '"reason":"OOMKilled"' <<<"$(events_of alice hog)" | grep -q 'restart [0-9]' ||
	fail "no OOMKilled event: $(events_of alice hog)"
wait_for "three restarts of the hog" 60 _count_over hog alice 2 ||
	fail "the hog was not restarted: $(ws_json hog alice)"
metrics="$(curl -sf "http://127.0.0.1:$MPORT/metrics")"
oom="$(awk '/^klangk_container_restarts_total\{reason="OOMKilled"\}/ {print $2}' <<<"$metrics")"
[ "${oom:-0}" -ge 1 ] 2>/dev/null || fail "no OOMKilled restarts counted: $metrics"
exited="$(awk '/^klangk_container_restarts_total\{reason="ContainerExited"\}/ {print $2}' <<<"$metrics")"
[ -n "$exited" ] || fail "no ContainerExited series: $metrics"
"$K" delete hog -n alice >/dev/null

# The neighbour answered throughout.
ok="$(grep -c '^ok$' "$BED/neighbour.log" || true)"
[ "$ok" -ge 20 ] || fail "the neighbour was probed only $ok times"
if grep -q FAIL "$BED/neighbour.log"; then
	fail "the neighbour's hosted app failed to answer: $(grep FAIL "$BED/neighbour.log" | head)"
fi
echo "PASS test_crash_backoff"
