#!/usr/bin/env bash
# Tests the test bed (tests/bed.sh) itself:
#   1. bed_up; etcd put/get; engine ping; the engine sees only the bed's image;
#      containers of the test image created through the Docker API serve the
#      hosted URLs (with and without a base path) on 127.0.0.1; a stop with
#      Init is prompt; bed_down twice (idempotent). Then, from outside: no
#      process, mount, bridge, netns, iptables rule or directory is left.
#   2. SIGINT to a test that is up (with a running container): same checks.
#   3. bed_up failing halfway (the engine does not start): bed_down still
#      removes what was started.
set -euo pipefail
# This test checks the Podman bed's isolation (private storage, locks, CNI);
# with KLANGK_E2E_ENGINE=docker the other tests exercise the dockerd bed.
if [ "${KLANGK_E2E_ENGINE:-podman}" = docker ]; then
	echo "SKIP: test_bed checks the Podman bed only"
	exit 0
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../bed.sh
source "$HERE/../bed.sh"

STATE="$(mktemp -d)"
trap 'rm -rf "$STATE"' EXIT

WS=abcdefabcdef

# fail MSG: reports a failure and exits 1.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# ok MSG: reports a passed check.
ok() {
	echo "ok: $*"
}

# create_ws_container NAME HOST_PORT CONTAINER_PORT [BASE_PATH]: creates and
# starts a container of the test image publishing CONTAINER_PORT on
# 127.0.0.1:HOST_PORT; prints its id.
create_ws_container() {
	local name="$1" hp="$2" cp="$3" base="${4:-}" body id
	body="$(jq -n --arg img "$KLANGK_TEST_IMAGE" --arg ws "$WS" --arg hp "$hp" \
		--arg cp "$cp/tcp" --arg map "${3}:${2}" --arg base "$base" '{
		Image: $img,
		Env: ["KLANGK_WORKSPACE_ID=\($ws)", "KLANGK_PORT_MAPPINGS=\($map)",
		      "KLANGK_HOSTING_BASE_PATH=\($base)"],
		Labels: {"klangk.test": "bed"},
		ExposedPorts: {($cp): {}},
		HostConfig: {
			Init: true,
			PortBindings: {($cp): [{HostIp: "127.0.0.1", HostPort: $hp}]}
		}}')"
	id="$(engine_post "/v1.41/containers/create?name=$name" "$body" | jq -r .Id)"
	[ -n "$id" ] && [ "$id" != null ] || return 1
	engine_post "/v1.41/containers/$id/start" >/dev/null || return 1
	echo "$id"
}

# body_is URL TEXT: true when URL answers 200 with exactly TEXT.
body_is() {
	[ "$(curl -sf --max-time 2 "$1")" = "$2" ]
}

# save NAME VALUE: records a value for the checks made after the bed is down.
save() {
	printf '%s\n' "$2" >"$STATE/$1"
}

# saved NAME: prints a recorded value (empty when none).
saved() {
	cat "$STATE/$1" 2>/dev/null || true
}

# check_no_leaks LABEL: from outside a bed that is down, checks that nothing
# recorded in $STATE is left.
check_no_leaks() {
	local label="$1" bed pid p nat filter
	bed="$(saved bed)"
	[ -n "$bed" ] || fail "$label: no bed recorded"
	[ ! -e "$bed" ] || fail "$label: $bed still exists"
	for pid in $(saved pids); do
		! _bed_alive "$pid" || fail "$label: pid $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline)) still alive"
	done
	BED="$bed" _bed_no_pids_of_bed || fail "$label: processes of the bed remain: $(BED="$bed" _bed_pids_of_bed)"
	! grep -qF "$bed" /proc/mounts || fail "$label: mounts remain: $(grep -F "$bed" /proc/mounts)"
	if [ -n "$(saved bridge)" ] && ip link show "$(saved bridge)" >/dev/null 2>&1; then
		fail "$label: bridge $(saved bridge) remains"
	fi
	if [ -n "$(saved network)" ] && [ -e "/var/lib/cni/networks/$(saved network)" ]; then
		fail "$label: CNI IPAM state in /var/lib/cni"
	fi
	for p in $(saved netns); do
		[ ! -e "$p" ] || fail "$label: network namespace $p remains"
	done
	# (Rules are captured first: `iptables | grep -q` fails with pipefail.)
	nat="$(iptables -w -t nat -S)"
	filter="$(iptables -w -S)"
	for p in $(saved hostports); do
		! grep -qE -- "--dport $p( |\$)" <<<"$nat" || fail "$label: iptables nat rules for port $p remain"
	done
	if [ -n "$(saved network)" ]; then
		! grep -qF "$(saved network)" <<<"$nat" || fail "$label: nat rules of $(saved network) remain"
		! grep -qF "$(saved network)" <<<"$filter" || fail "$label: filter rules of $(saved network) remain"
	fi
	for p in $(saved ids); do
		! grep -qsF "$p" /var/lib/containers/storage/overlay-containers/containers.json ||
			fail "$label: container $p is in the machine's storage"
	done
	ok "$label: nothing left ($bed)"
}

# ---------------------------------------------------------------- 1
echo "== 1. bed up, etcd, engine, test image, teardown"
set +e
(
	set -e
	trap bed_down EXIT
	bed_up
	save bed "$BED"
	save bridge "$BED_BRIDGE"
	save network "$BED_NETWORK"

	etcdput /klangk/test/hello world
	[ "$(etcdget /klangk/test/hello)" = world ] || fail "etcd get"
	[ -z "$(etcdget /klangk/test/absent)" ] || fail "etcd get of an absent key"
	ok "etcd put/get on $KLANGK_ETCD_ENDPOINTS"

	[ "$(engine_get /_ping)" = OK ] || fail "engine ping"
	ok "engine ping on $DOCKER_HOST"
	images="$(engine_get /v1.41/images/json | jq -c '[.[].RepoTags[]]')"
	[ "$images" = "[\"$KLANGK_TEST_IMAGE\"]" ] || fail "engine images: $images"
	ok "the engine sees only the bed's image"

	P=$((KLANGK_PORT_RANGE_START + BED_PORT_RANGE_SIZE - 1))
	P2=$((P - 1))
	save hostports "$P $P2"
	id1="$(create_ws_container bedtest-1 "$P" 8000)" || fail "create container 1"
	id2="$(create_ws_container bedtest-2 "$P2" 8003 /apps/)" || fail "create container 2"
	save ids "$id1 $id2"
	pids="$(cat "$BED/etcd.pid" "$BED/podman.pid" | tr '\n' ' ')"
	for id in "$id1" "$id2"; do
		pids="$pids $(engine_get "/v1.41/containers/$id/json" | jq -r .State.Pid)"
		pids="$pids $(cat "$BED/runroot/overlay-containers/$id/userdata/conmon.pid")"
		engine_get "/v1.41/containers/$id/json" | jq -r .NetworkSettings.SandboxKey >>"$STATE/netns"
	done
	save pids "$pids"

	want="klangk-test workspace=$WS container-port=8000 host-port=$P"
	wait_for "container 1 to serve" 20 body_is "http://127.0.0.1:$P/hosted/$WS/$P/" "$want"
	body_is "http://127.0.0.1:$P/" "$want" || fail "container 1 /"
	ok "container 1 serves /hosted/$WS/$P/ on 127.0.0.1:$P"
	want="klangk-test workspace=$WS container-port=8003 host-port=$P2"
	wait_for "container 2 to serve" 20 body_is "http://127.0.0.1:$P2/apps/hosted/$WS/$P2/" "$want"
	! curl -sf --max-time 2 "http://127.0.0.1:$P2/hosted/$WS/$P2/" >/dev/null || fail "container 2 served without base path"
	ok "container 2 serves /apps/hosted/$WS/$P2/ (base path) on 127.0.0.1:$P2"
	nat="$(iptables -w -t nat -S)"
	grep -qE -- "--dport $P( |\$)" <<<"$nat" || fail "no DNAT rule for $P while running"

	init="$(engine_get "/v1.41/containers/$id1/json" | jq -r .HostConfig.Init)"
	[ "$init" = true ] || fail "HostConfig.Init is $init"
	t0="$(_bed_now_us)"
	engine_post "/v1.41/containers/$id1/stop?t=10" >/dev/null
	ms=$((($(_bed_now_us) - t0) / 1000))
	((ms < 5000)) || fail "stop took ${ms} ms"
	ok "stop with Init took ${ms} ms"
	state="$(engine_get "/v1.41/containers/$id1/json" | jq -r .State.Status)"
	[ "$state" = exited ] || fail "container 1 is $state after stop"

	engine_post /v1.41/volumes/create '{"Name": "bedtest-vol"}' >/dev/null
	# Container 2 is left running: bed_down must remove it.
	bed_down
	bed_down
	[ -z "${BED_PODMAN_PID:-}" ] || fail "bed_down left BED_PODMAN_PID"
)
rc=$?
set -e
[ "$rc" = 0 ] || fail "part 1 exited $rc"
check_no_leaks "after bed_down"

# ---------------------------------------------------------------- 2
echo "== 2. SIGINT while up"
rm -f "$STATE"/*
# A background job of a non-interactive shell starts with SIGINT ignored (and
# could not trap it): python3 restores the default before exec'ing bash.
# shellcheck disable=SC2016 # the script is expanded by the child bash
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("bash", ["bash", "-c", sys.argv[1], "sigint-test", sys.argv[2], sys.argv[3]])' '
	set -euo pipefail
	source "$1"
	STATE="$2"
	trap bed_down EXIT
	bed_up
	echo "$BED" >"$STATE/bed"
	echo "$BED_BRIDGE" >"$STATE/bridge"
	echo "$BED_NETWORK" >"$STATE/network"
	P=$((KLANGK_PORT_RANGE_START + 3))
	echo "$P" >"$STATE/hostports"
	id="$(engine_post /v1.41/containers/create "{\"Image\": \"$KLANGK_TEST_IMAGE\",
		\"HostConfig\": {\"Init\": true, \"PortBindings\": {\"8000/tcp\": [{\"HostIp\": \"127.0.0.1\", \"HostPort\": \"$P\"}]}}}" | jq -r .Id)"
	engine_post "/v1.41/containers/$id/start" >/dev/null
	echo "$id" >"$STATE/ids"
	wait_for "the container to serve" 20 curl -sf "http://127.0.0.1:$P/"
	{ cat "$BED/etcd.pid" "$BED/podman.pid" "$BED/runroot/overlay-containers/$id/userdata/conmon.pid"
	  engine_get "/v1.41/containers/$id/json" | jq -r .State.Pid; } | tr "\n" " " >"$STATE/pids"
	engine_get "/v1.41/containers/$id/json" | jq -r .NetworkSettings.SandboxKey >"$STATE/netns"
	touch "$STATE/ready"
	# Up until interrupted (not a synchronisation: the test waits for "ready").
	while :; do sleep 0.2; done
' "$HERE/../bed.sh" "$STATE" &
child=$!
if ! wait_for "the SIGINT test's bed to be up" 90 test -e "$STATE/ready"; then
	kill -TERM "$child" 2>/dev/null || true
	wait "$child" || true
	fail "the SIGINT test's bed did not come up"
fi
kill -INT "$child"
wait_for "the SIGINT test to exit" 60 _bed_not_alive "$child" || fail "still running after SIGINT"
set +e
wait "$child"
rc=$?
set -e
[ "$rc" = 130 ] || fail "exit status $rc after SIGINT, want 130"
ok "SIGINT: exit status 130"
check_no_leaks "after SIGINT"

# ---------------------------------------------------------------- 3
echo "== 3. bed_up failing halfway"
rm -f "$STATE"/*
mkdir -p "$STATE/fakebin"
printf '#!/bin/sh\necho "fake podman: refusing to start" >&2\nexit 1\n' >"$STATE/fakebin/podman"
chmod +x "$STATE/fakebin/podman"
echo "(an expected bed_up failure and its logs follow)"
set +e
(
	set -e
	PATH="$STATE/fakebin:$PATH"
	# Records what was started, then tears down with the failing status.
	trap 'rc=$?; cat "$BED/etcd.pid" >"$STATE/pids"; echo "$BED" >"$STATE/bed"; set +e; (exit "$rc"); bed_down' EXIT
	bed_up
)
rc=$?
set -e
[ "$rc" != 0 ] || fail "bed_up succeeded with a failing podman"
[ -n "$(saved pids)" ] || fail "etcd was not started before the failure"
ok "bed_up failed ($rc) when the engine did not start"
check_no_leaks "after a failed bed_up"

echo "test_bed: all checks passed"
