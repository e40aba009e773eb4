#!/usr/bin/env bash
# Crash safety and leader election: two controllers started at once never
# both create; killing the leader with SIGKILL at random moments while 20
# workspaces converge (5 rounds) loses nothing and leaks nothing: all 20
# converge, each with exactly one container, two volumes and its own five
# ports, no port leased twice; then deleting all 20 under the same kills
# leaves no container, volume, lease or status behind.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
: >"$BED/empty.conf"   # puts $BED in the command line, so bed_down finds them

declare -A PID
start_ctl() {
	"$BIN/klangk-controller" --config "$BED/empty.conf" --leader-ttl-seconds 3 \
		--resync-seconds 5 --leader-identity "$1" </dev/null >>"$BED/controller-$1.log" 2>&1 &
	PID[$1]=$!
}
# leader_pid: the pid of the controller (a or b, its leader identity)
# holding the leader key. A restarted one takes its key over at once.
leader_pid() {
	local id
	id="$(etcdget "/klangk/leader/$KLANGK_INSTANCE_ID")"
	[ -n "$id" ] && echo "${PID[$id]:-}"
}
N=20
names() { for i in $(seq 1 $N); do printf 'w%02d ' "$i"; done; }

# Two controllers at once.
start_ctl a
start_ctl b
for w in $(names); do
	cat <<YAML
---
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: $w, namespace: crash}
spec: {image: $KLANGK_TEST_IMAGE}
YAML
done >"$BED/all.yaml"
"$BIN/klangkc" apply -f "$BED/all.yaml" >/dev/null

all_running() {
	[ "$("$BIN/klangkc" get -n crash -o json | jq '[.items[] | select(.status.phase == "Running")] | length')" = "$N" ]
}
wait_for "20 workspaces running" 120 all_running || fail "not all converged: $("$BIN/klangkc" get -n crash)"
created_a="$(grep -c 'msg="container created"' "$BED/controller-a.log" || true)"
created_b="$(grep -c 'msg="container created"' "$BED/controller-b.log" || true)"
[ "$created_a" = 0 ] || [ "$created_b" = 0 ] || fail "both controllers created containers ($created_a, $created_b)"
assert_eq "$N" "$((created_a + created_b))" "containers created by the leader"

# check_world: exactly one running container, two volumes and five
# distinct ports per workspace; nothing else of ours in the engine.
check_world() {
	local containers vols leases owners
	containers="$(engine_get '/v1.41/containers/json?all=1' | jq -r '.[] | "\(.Names[0]) \(.State)"' | sed 's|^/||' | sort)"
	assert_eq "$N" "$(grep -c " running$" <<<"$containers")" "running containers"
	assert_eq "$N" "$(wc -l <<<"$containers")" "containers"
	vols="$(engine_get /v1.41/volumes | jq -r '.Volumes[].Name' | sort)"
	assert_eq "$((2 * N))" "$(grep -c '^klangk_' <<<"$vols")" "volumes"
	leases="$(etcdctl get --prefix /klangk/leases/ports/ -w json | jq -r '.kvs[] | "\(.key | @base64d) \(.value | @base64d)"')"
	assert_eq "$((5 * N))" "$(wc -l <<<"$leases")" "lease keys"
	owners="$(awk '{print $2}' <<<"$leases" | sort | uniq -c | awk '{print $1}' | sort -u)"
	assert_eq "5" "$owners" "leases per workspace"
	# Status agrees with the leases: the same 100 ports, no duplicates.
	local sp
	sp="$("$BIN/klangkc" get -n crash -o json | jq -r '.items[].status.ports[].host' | sort -n)"
	assert_eq "$((5 * N))" "$(sort -u <<<"$sp" | wc -l)" "distinct ports in status"
	assert_eq "$(awk '{print $1}' <<<"$leases" | sed 's|.*/||' | sort -n)" "$sp" "status ports vs leases"
}
check_world

# Five rounds: change every workspace (a spec change recreates the
# containers) and kill -9 the leader at a random moment while they converge.
for round in 1 2 3 4 5; do
	for w in $(names); do
		cat <<YAML
---
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: $w, namespace: crash, labels: {round: "r$round"}}
spec: {image: $KLANGK_TEST_IMAGE, env: [{name: ROUND, value: "$round"}]}
YAML
	done >"$BED/all.yaml"
	"$BIN/klangkc" apply -f "$BED/all.yaml" >/dev/null
	# A random moment in the convergence (the fault injection's timing,
	# not a synchronisation).
	sleep "0.$((RANDOM % 9 + 1))"
	victim="$(leader_pid)"
	for k in a b; do
		if [ "${PID[$k]}" = "$victim" ]; then
			kill -KILL "$victim"
			wait "$victim" 2>/dev/null || true
			start_ctl "$k"
		fi
	done
done
round_done() {
	[ "$("$BIN/klangkc" get -n crash -o json | jq '[.items[] | select(.status.phase == "Running" and .status.observedGeneration == .metadata.generation)] | length')" = "$N" ] &&
		[ "$(engine_get '/v1.41/containers/json' | jq '[.[] | select(.Labels["klangk.workspace"] != null)] | length')" = "$N" ]
}
wait_for "all converged after kill rounds" 180 round_done || fail "not converged after kills: $("$BIN/klangkc" get -n crash -o wide)"
for w in $(names); do
	env="$(engine_get "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_crash_$w/json" | jq -r '.Config.Env[]')"
	assert_contains "$env" "ROUND=5" "env of $w after the rounds"
done
check_world

# Delete all 20, killing the leader once more in the middle.
"$BIN/klangkc" delete -n crash $(names) >/dev/null
sleep "0.$((RANDOM % 9 + 1))"
victim="$(leader_pid)"
for k in a b; do
	if [ "${PID[$k]}" = "$victim" ]; then
		kill -KILL "$victim"
		wait "$victim" 2>/dev/null || true
		start_ctl "$k"
	fi
done
all_gone() {
	[ -z "$(etcdctl get --prefix --keys-only /klangk/status/)" ] &&
		[ -z "$(etcdctl get --prefix --keys-only /klangk/leases/)" ] &&
		[ "$(engine_get '/v1.41/containers/json?all=1' | jq length)" = 0 ] &&
		[ "$(engine_get /v1.41/volumes | jq '[.Volumes[]? | select(.Name | startswith("klangk_"))] | length')" = 0 ]
}
wait_for "everything removed" 120 all_gone || fail "leftovers: status=$(etcdctl get --prefix --keys-only /klangk/status/ | wc -l) leases=$(etcdctl get --prefix --keys-only /klangk/leases/ | wc -l) containers=$(engine_get '/v1.41/containers/json?all=1' | jq length)"
for k in a b; do kill -TERM "${PID[$k]}" 2>/dev/null || true; done
for k in a b; do
	rc=0
	wait "${PID[$k]}" || rc=$?
	assert_eq 0 "$rc" "exit status of controller $k on SIGTERM"
done
echo "PASS: test_controller_crash"
