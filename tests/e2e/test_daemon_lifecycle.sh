#!/usr/bin/env bash
# The daemons' lifecycle (controller/main.c, proxy-gen/main.c, lib/stopper):
#   1. a controller whose workers (and other threads) cannot make their etcd
#      client exits by itself, non-zero, saying why; the trigger is real: an
#      etcd user whose password file does not exist, with leader election
#      off so that main makes no client of its own first;
#   2. proxy-gen whose watcher cannot make its etcd client exits non-zero
#      and says why (it used to exit 0);
#   3. SIGHUP reloads the controller's --config in the signal thread;
#   4. SIGTERM while 20 workspaces converge loses nothing: the controller
#      exits 0 promptly, and a restarted controller converges all 20 with
#      exactly one container, two volumes and five port leases each; deleting
#      them leaves nothing behind.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up

# exits_within NAME PID TIMEOUT_S: waits for PID (a child of this shell)
# to end by itself (after TIMEOUT_S it is killed and the test fails); its
# exit status is left in EXIT_RC.
exits_within() {
	if ! wait_for "$1 (pid $2) to exit by itself" "$3" _bed_not_alive "$2"; then
		kill -KILL "$2" 2>/dev/null || true
		wait "$2" 2>/dev/null || true
		fail "$1 lives on after a fatal thread failure"
	fi
	EXIT_RC=0
	wait "$2" || EXIT_RC=$?
}

# 1. The controller: no etcd client can be made.
KLANGK_ETCD_USERNAME=klangk KLANGK_ETCD_PASSWORD_FILE="$BED/no-such-password" \
	"$BIN/klangk-controller" --no-leader-elect --workers 2 \
	</dev/null >"$BED/fatal-controller.log" 2>&1 &
exits_within klangk-controller $! 30
log="$(cat "$BED/fatal-controller.log")"
[ "$EXIT_RC" = 1 ] || fail "controller exited $EXIT_RC, not 1, although its threads could not go on: $log"
assert_contains "$log" 'msg="worker: cannot create clients"' "the worker's log line"
assert_contains "$log" 'msg="stopped: cannot go on" reason=' "the controller's last line"
assert_contains "$log" "no-such-password" "the reason names the cause"

# 2. proxy-gen: its watcher cannot make the etcd client (activity off, so
# main makes none of its own first).
KLANGK_ETCD_USERNAME=klangk KLANGK_ETCD_PASSWORD_FILE="$BED/no-such-password" \
	"$BIN/klangk-proxy-gen" --dir "$NGINX_DIR" --port "$KLANGK_NGINX_PORT" \
	--activity-interval-seconds 0 </dev/null >"$BED/fatal-proxy-gen.log" 2>&1 &
exits_within klangk-proxy-gen $! 30
log="$(cat "$BED/fatal-proxy-gen.log")"
[ "$EXIT_RC" = 1 ] || fail "proxy-gen exited $EXIT_RC, not 1, although its watcher could not go on: $log"
assert_contains "$log" 'msg="stopped: cannot go on" reason="watcher: cannot create etcd client: ' \
	"proxy-gen's last line"
assert_contains "$log" "no-such-password" "proxy-gen's reason names the cause"

# 3. SIGHUP: the signal thread reloads the settings.
echo "KLANGK_PORT_RANGE_START=$KLANGK_PORT_RANGE_START" >"$BED/controller.conf"
bed_start_controller --config "$BED/controller.conf" --leader-ttl-seconds 3 --resync-seconds 5
wait_for "the controller to lead" 30 grep -q 'msg="elected leader"' "$BED/controller.log" ||
	fail "the controller never led"
kill -HUP "$BED_CONTROLLER_PID"
wait_for "the reload" 10 grep -q 'msg="configuration reloaded"' "$BED/controller.log" ||
	fail "SIGHUP did not reload the configuration"

# 4. SIGTERM during a burst.
N=20
names() { for i in $(seq 1 $N); do printf 'b%02d ' "$i"; done; }
for w in $(names); do
	printf -- '---\napiVersion: klangk.io/v1alpha1\nkind: Workspace\n'
	printf 'metadata: {name: %s, namespace: burst}\nspec: {image: %s}\n' "$w" "$KLANGK_TEST_IMAGE"
done >"$BED/burst.yaml"
"$BIN/klangkc" apply -f "$BED/burst.yaml" >/dev/null
created() { [ "$(grep -c 'msg="container created"' "$BED/controller.log")" -ge "$1" ]; }
# Mid-burst: some containers exist, most do not yet.
wait_for "the first containers" 60 created 2 || fail "the burst never started"
bed_stop_controller 90
assert_eq 0 "$BED_LAST_RC" "the controller's exit status on SIGTERM during a burst"
ctl_log="$(cat "$BED/controller.log")"
assert_contains "$ctl_log" 'msg=stopped reason=SIGTERM' "the last line"
# Promptly: after the signal no new work starts (every workspace logged
# after it was in flight before it), and once the in-flight reconciles are
# done (the engine's time, up to half a minute on a loaded machine) the
# controller is gone at once.
before="$(sed '/msg="signal received/,$d' <<<"$ctl_log" | grep -o 'workspace=[^ ]*' | sort -u)"
after="$(sed -n '/msg="signal received/,$p' <<<"$ctl_log" | grep -o 'workspace=[^ ]*' | sort -u)"
[ -z "$(comm -13 <(echo "$before") <(echo "$after"))" ] ||
	fail "work started after SIGTERM: $(comm -13 <(echo "$before") <(echo "$after"))"
ms_of() { date -d "$(sed -E 's/^ts=([^ ]*) .*/\1/' <<<"$1")" +%s%3N; }
last_work="$(sed -n '/msg="signal received/,$p' <<<"$ctl_log" | grep -v 'msg=stopped' | tail -1)"
took_ms=$(($(ms_of "$(grep 'msg=stopped reason=SIGTERM' <<<"$ctl_log")") - $(ms_of "$last_work")))
((took_ms < 10000)) || fail "the controller took ${took_ms} ms to stop after its last in-flight work"
echo "stopped ${took_ms} ms after the in-flight work, after $(grep -c 'msg="container created"' "$BED/controller.log") of $N containers"

bed_start_controller --config "$BED/controller.conf" --leader-ttl-seconds 3 --resync-seconds 5
all_converged() {
	[ "$("$BIN/klangkc" get -n burst -o json | jq '[.items[] | select(.status.phase == "Running"
		and .status.observedGeneration == .metadata.generation)] | length')" = "$N" ]
}
wait_for "all $N converged after the restart" 180 all_converged ||
	fail "not converged: $("$BIN/klangkc" get -n burst -o wide)"
containers="$(engine_get '/v1.41/containers/json?all=1' | jq -r '.[] | .State')"
assert_eq "$N" "$(grep -c '^running$' <<<"$containers")" "running containers"
assert_eq "$N" "$(wc -l <<<"$containers")" "containers"
assert_eq "$((2 * N))" "$(engine_get /v1.41/volumes | jq '[.Volumes[]? | select(.Name | startswith("klangk_"))] | length')" "volumes"
leases="$(etcdctl get --prefix /klangk/leases/ports/ -w json | jq -r '.kvs[] | .value | @base64d')"
assert_eq "$((5 * N))" "$(wc -l <<<"$leases")" "port leases"
assert_eq 5 "$(sort <<<"$leases" | uniq -c | awk '{print $1}' | sort -u)" "leases per workspace"

# shellcheck disable=SC2046 # the names
"$BIN/klangkc" delete -n burst $(names) >/dev/null
all_gone() {
	[ -z "$(etcd_keys /klangk/status/)" ] && [ -z "$(etcd_keys /klangk/leases/)" ] &&
		[ "$(engine_get '/v1.41/containers/json?all=1' | jq length)" = 0 ] &&
		[ "$(engine_get /v1.41/volumes | jq '[.Volumes[]? | select(.Name | startswith("klangk_"))] | length')" = 0 ]
}
wait_for "everything removed" 120 all_gone || fail "leftovers after delete"
bed_stop_controller 30
assert_eq 0 "$BED_LAST_RC" "the controller's exit status on SIGTERM"
echo "PASS: test_daemon_lifecycle"
