#!/usr/bin/env bash
# make run: a complete local Klangk on this machine, everything under ./run/:
# an etcd, Podman's Docker-compatible API service (private storage and
# network), klangk-controller, klangk-proxy-gen and the nginx it starts, and
# klangk-gateway on 127.0.0.1:8990 (klangkc exec/logs/top/export/import).
# Applies manifests/examples/hello.yaml, waits until the controller running
# now has observed it and nginx serves it, and prints its hosted URLs.
#
# Ctrl-C stops the control plane in order (the controller and proxy-gen,
# which resign and flush, then nginx, the engine's API service and etcd),
# prints one line and exits 0.  The workspaces' containers keep running,
# as pods outlive a kubelet restart: the next `make run` adopts them as they
# are.  `make run-down` (scripts/run.sh down) stops them too; after it,
# `rm -rf run` forgets everything.  etcd's data, the images and the volumes
# stay in ./run/ either way.  A daemon that dies on its own ends make run
# with a non-zero status and says which and why.
#
# The daemons run in sessions of their own, so a terminal's Ctrl-C (which
# signals the whole foreground process group) reaches only this script.
# Under make, the script also takes the terminal's foreground for its own
# process group, so that make does not die of the SIGINT after it.
#
# It reuses the test bed's Podman configuration and image helpers
# (tests/bed.sh), pointed at ./run/ instead of a temporary directory.
#
# Settings (environment): KLANGK_RUN_DIR (./run), KLANGK_RUN_ETCD_PORT (2379,
# its peer port is the next), KLANGK_NGINX_PORT (8995),
# KLANGK_RUN_METRICS_PORT (8996, the controller's /metrics),
# KLANGK_PORT_RANGE_START (9000), KLANGK_INSTANCE_ID (local),
# KLANGK_RUN_SUBNET (10.213.0.0/24), KLANGK_RUN_BRIDGE (kbrun0).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# take_terminal: under a parent that shares our process group and the
# terminal (make), re-executes this script in a process group of its own
# that is the terminal's foreground group.  Ctrl-C then signals only us: we
# stop the daemons and exit 0, and make, whose SIGINT handler would kill it
# after its child whatever the child's status, never sees it.  The terminal
# is given back to the parent's group on exit (give_terminal_back).
take_terminal() {
	local stat rest pgrp tpgid
	[ -t 0 ] && [ -z "${KLANGK_RUN_TTY_PGRP:-}" ] || return 0
	stat="$(cat /proc/$$/stat)" || return 0
	rest="${stat##*) }"
	# state ppid pgrp session tty_nr tpgid
	read -r _ _ pgrp _ _ tpgid _ <<<"$rest"
	[ "$pgrp" = "$tpgid" ] && [ "$pgrp" != $$ ] || return 0
	export KLANGK_RUN_TTY_PGRP="$pgrp"
	exec python3 -c '
import os, signal, sys
try:
    # tcsetpgrp from what is now a background group would stop us.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpgrp())
except OSError as e:
    print("make run: could not take the terminal (%s); Ctrl-C reaches make too" % e,
          file=sys.stderr)
# Python ignores these; exec would pass that on to bash and the daemons.
for s in (signal.SIGTTOU, signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])
' "$BASH" "${BASH_SOURCE[0]}" "$@"
}

# give_terminal_back: the terminal to the group we took it from.
give_terminal_back() {
	[ -n "${KLANGK_RUN_TTY_PGRP:-}" ] && [ -t 0 ] || return 0
	python3 -c '
import os, signal, sys
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
try:
    os.tcsetpgrp(0, int(sys.argv[1]))
except OSError:
    pass  # that group is gone: the shell above takes the terminal back
' "$KLANGK_RUN_TTY_PGRP" || true
}

take_terminal "$@"
trap give_terminal_back EXIT

export BIN="${BIN:-$REPO/bin}"
# shellcheck source=../tests/bed.sh
source "$REPO/tests/bed.sh"
# This script drives Podman only (KLANGK_E2E_ENGINE is the test beds').
export BED_ENGINE=podman

if [ "$(id -u)" -ne 0 ]; then
	echo "make run: needs root (Podman's rootful networking publishes the ports)" >&2
	exit 1
fi

BED="$(mkdir -p "${KLANGK_RUN_DIR:-$REPO/run}" && cd "${KLANGK_RUN_DIR:-$REPO/run}" && pwd)"
export BED
chmod 755 "$BED"
mkdir -p "$BED/nginx" "$BED/data"
export ETCD_PORT="${KLANGK_RUN_ETCD_PORT:-2379}"
export PEER_PORT=$((ETCD_PORT + 1))
export KLANGK_NGINX_PORT="${KLANGK_NGINX_PORT:-8995}"
export KLANGK_GATEWAY_LISTEN="127.0.0.1:8990"
GATEWAY_PORT=8990
METRICS_PORT="${KLANGK_RUN_METRICS_PORT:-8996}"
export KLANGK_PORT_RANGE_START="${KLANGK_PORT_RANGE_START:-9000}"
export KLANGK_INSTANCE_ID="${KLANGK_INSTANCE_ID:-local}"
export KLANGK_DATA_DIR="$BED/data"
# Never bind-mountable into a workspace (docs/security.md).
export KLANGK_PROTECTED_PATHS="${KLANGK_PROTECTED_PATHS:-$BED/etcd,$BED/nginx}"
export NGINX_DIR="$BED/nginx"
export KLANGK_TEST_IMAGE="localhost/klangk-test:latest"
export BED_NETWORK="klangk-run" BED_BRIDGE="${KLANGK_RUN_BRIDGE:-kbrun0}"
export BED_SUBNET="${KLANGK_RUN_SUBNET:-10.213.0.0/24}"
export KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$ETCD_PORT"
export ETCDCTL_API=3 ETCDCTL_ENDPOINTS="$KLANGK_ETCD_ENDPOINTS"
export CONTAINERS_CONF="$BED/containers.conf" CONTAINERS_STORAGE_CONF="$BED/storage.conf"
export DOCKER_HOST="unix://$BED/podman.sock"
# Daemons in sessions of their own (bed_start_controller, _proxygen).
export BED_OWN_SESSION=1
# The one line a stop prints (on a terminal, over the "^C" it echoed).
CR=""
[ ! -t 2 ] || CR=$'\r'

# say MSG...: a progress line.
say() {
	echo "make run: $*" >&2
}

# stop_daemons: the control plane, in order: the controller (it resigns
# its leadership while etcd is still up) and proxy-gen, nginx, then the
# engine's API service and etcd.  Also stops what a killed make run left
# (their pid files in $BED).  The containers are left running (conmon
# owns them).
# Each stage stops its two at once (neither needs the other): a subshell
# stops one while this shell stops the other, then reaps what the subshell
# stopped (its children are ours, not the subshell's).
stop_daemons() {
	local sub pg="${BED_PROXYGEN_PID:-}" engine etcd
	bed_stop_gateway || true
	{ bed_stop_proxygen; bed_stop_nginx; } &
	sub=$!
	bed_stop_controller 15 || true
	wait "$sub" || true
	[ -z "$pg" ] || wait "$pg" 2>/dev/null || true
	BED_PROXYGEN_PID=""
	engine="$(cat "$BED/podman.pid" 2>/dev/null)" etcd="$(cat "$BED/etcd.pid" 2>/dev/null)"
	_bed_stop_pid "$engine" "podman service" 10 TERM "$BED/podman.sock" &
	sub=$!
	_bed_stop_pid "$etcd" etcd 10 TERM "$BED/etcd" || true
	wait "$sub" || true
	[ -z "$engine" ] || wait "$engine" 2>/dev/null || true
	rm -f "$BED/podman.pid" "$BED/etcd.pid"
}

# run_down: `make run-down`: stops the workspaces' containers (Podman's
# CLI on the private storage needs no service) and removes the bridge.
run_down() {
	if _bed_alive "$(cat "$BED/etcd.pid" 2>/dev/null)"; then
		echo "make run-down: make run is running; press Ctrl-C in its terminal first" >&2
		exit 1
	fi
	if [ -f "$BED/containers.conf" ]; then
		bed_podman stop -a -t 5 >/dev/null
	fi
	if ip link show "$BED_BRIDGE" >/dev/null 2>&1; then
		ip link del "$BED_BRIDGE"
	fi
	echo "make run-down: the workspaces are stopped; state kept in $BED (rm -rf it to forget everything)" >&2
}

if [ "${1:-}" = down ]; then
	run_down
	exit 0
fi

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A make run that was killed (not stopped) left its daemons running.
for f in gateway controller proxy-gen etcd podman nginx/nginx; do
	if _bed_alive "$(cat "$BED/$f.pid" 2>/dev/null)"; then
		say "stopping the daemons a killed make run left"
		stop_daemons
		break
	fi
done
for v in ETCD_PORT PEER_PORT KLANGK_NGINX_PORT METRICS_PORT GATEWAY_PORT; do
	if ! port_free "${!v}"; then
		say "port ${!v} ($v) is in use; stop what uses it or set" \
			"KLANGK_RUN_ETCD_PORT / KLANGK_NGINX_PORT / KLANGK_RUN_METRICS_PORT" >&2
		exit 1
	fi
done

RUN_STATUS=1
# on_exit: stop the control plane, say so in one line, give the terminal
# back; exit with RUN_STATUS (0 after a stop asked for by a signal).
on_exit() {
	trap '' INT TERM HUP QUIT
	stop_daemons
	echo "${CR}make run: stopped the gateway, the controller, proxy-gen, nginx, the engine and etcd;" \
		"workspaces keep running (make run-down stops them); state in $BED" >&2
	give_terminal_back
	exit "$RUN_STATUS"
}
# on_signal: a stop asked for (Ctrl-C, kill, the terminal closed).
on_signal() {
	RUN_STATUS=0
	exit 0
}
trap on_exit EXIT
trap on_signal INT TERM HUP QUIT
# Ctrl-Z would stop this script with the terminal still given to it.
trap '' TSTP

_bed_write_podman_conf
# setsid: see BED_OWN_SESSION.  etcd reads ETCD_* variables as flags.
setsid env -u ETCD_PORT etcd --name klangk --data-dir "$BED/etcd" \
	--listen-client-urls "$KLANGK_ETCD_ENDPOINTS" \
	--advertise-client-urls "$KLANGK_ETCD_ENDPOINTS" \
	--listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-cluster "klangk=http://127.0.0.1:$PEER_PORT" \
	</dev/null >>"$BED/etcd.log" 2>&1 &
RUN_ETCD_PID=$!
echo "$RUN_ETCD_PID" >"$BED/etcd.pid"
setsid env TMPDIR="$BED/tmp" XDG_RUNTIME_DIR="$BED/xdg" \
	podman --log-level=warn system service --time=0 "unix://$BED/podman.sock" \
	</dev/null >>"$BED/podman.log" 2>&1 &
RUN_PODMAN_PID=$!
echo "$RUN_PODMAN_PID" >"$BED/podman.pid"

# await WHAT PID TIMEOUT_S CMD...: says it waits for WHAT, then waits until
# CMD succeeds; gives up after TIMEOUT_S or as soon as process PID (the
# daemon that should make it happen) dies.
await() {
	local what="$1" pid="$2" timeout="$3"
	shift 3
	say "waiting for $what"
	wait_for "$what" "$timeout" _bed_daemon_check "$pid" "$@" || return 1
	if ! _bed_alive "$pid"; then
		say "gave up waiting for $what: the daemon that serves it (pid $pid) died"
		return 1
	fi
	"$@" >/dev/null 2>&1
}

await "etcd at $KLANGK_ETCD_ENDPOINTS" "$RUN_ETCD_PID" 30 _bed_etcd_healthy ||
	{ tail -20 "$BED/etcd.log" >&2; exit 1; }
await "the engine at $DOCKER_HOST" "$RUN_PODMAN_PID" 30 _bed_engine_ping ||
	{ tail -20 "$BED/podman.log" >&2; exit 1; }
if ! _bed_engine_has_image; then
	say "building the demo image $KLANGK_TEST_IMAGE"
	_bed_build_image
fi

bed_start_controller --metrics-address "127.0.0.1:$METRICS_PORT"
bed_start_proxygen
bed_start_gateway || { tail -20 "$BED/gateway.log" >&2; exit 1; }
"$BIN/klangkc" apply -f "$REPO/manifests/examples/hello.yaml" >&2

# controller_reconciled: this controller leads and has finished a
# reconcile (the informer's first listing queues every workspace).
controller_reconciled() {
	local m
	m="$(curl -sf --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics")" || return 1
	grep -qx 'klangk_leader 1' <<<"$m" &&
		grep -Eq '^klangk_reconcile_total\{result="success"\} [1-9]' <<<"$m"
}
# answers URL...: every URL answers (through nginx).
answers() {
	local u
	for u in "$@"; do
		curl -sf --max-time 5 -o /dev/null "$u" || return 1
	done
}
# failed WHAT LOG: says what was not seen and shows the log's tail.
failed() {
	say "gave up waiting for $1; the last lines of $2:"
	tail -20 "$2" >&2
	exit 1
}

if ! await "the controller to lead and reconcile (http://127.0.0.1:$METRICS_PORT/metrics)" \
	"$BED_CONTROLLER_PID" 60 controller_reconciled; then
	say "the leader key holds: $(etcdctl get --print-value-only "/klangk/leader/$KLANGK_INSTANCE_ID" 2>&1)"
	failed "the controller's first reconcile" "$BED/controller.log"
fi
gen="$("$BIN/klangkc" get hello -n demo -o json | jq -r .metadata.generation)"
say "waiting for the controller to observe hello's generation $gen and find it Ready"
"$BIN/klangkc" wait hello -n demo --for=condition=Ready --timeout=60s >/dev/null ||
	{ "$BIN/klangkc" get hello -n demo -o yaml >&2 || true; failed "hello's Ready" "$BED/controller.log"; }
mapfile -t urls < <("$BIN/klangkc" get hello -n demo -o json | jq -r '.status.urls[]')
[ "${#urls[@]}" -gt 0 ] || failed "hello's URLs in its status" "$BED/controller.log"
await "nginx to serve ${urls[*]}" "$BED_PROXYGEN_PID" 30 answers "${urls[@]}" ||
	failed "the hosted app answering through nginx" "$BED/proxy-gen.log"

cat <<MSG

Klangk is running (state in $BED):
  etcd        $KLANGK_ETCD_ENDPOINTS
  engine      $DOCKER_HOST
  nginx       http://127.0.0.1:$KLANGK_NGINX_PORT/
  metrics     http://127.0.0.1:$METRICS_PORT/metrics (the controller)
  gateway     $KLANGK_GATEWAY_URL (klangkc exec, logs, top, export, import;
              the terminal page in a browser: $KLANGK_GATEWAY_URL/)
  logs        $BED/controller.log, $BED/proxy-gen.log, $BED/gateway.log

The hello workspace's hosted apps:
$(printf '  %s\n' "${urls[@]}")

  $ curl ${urls[0]}
  $(curl -s "${urls[0]}")

Try:  KLANGK_ETCD_ENDPOINTS=$KLANGK_ETCD_ENDPOINTS $BIN/klangkc get -A
Press Ctrl-C to stop (the workspaces keep running; make run-down stops them).
MSG

# Wait for Ctrl-C (on_signal), or for a daemon to die: that is a failure.
died=""
rc=0
wait -n -p died "$BED_CONTROLLER_PID" "$BED_PROXYGEN_PID" "$BED_GATEWAY_PID" "$RUN_ETCD_PID" "$RUN_PODMAN_PID" || rc=$?
case "$died" in
"$BED_CONTROLLER_PID") name=klangk-controller log=controller.log BED_CONTROLLER_PID="" ;;
"$BED_PROXYGEN_PID") name=klangk-proxy-gen log=proxy-gen.log BED_PROXYGEN_PID="" ;;
"$BED_GATEWAY_PID") name=klangk-gateway log=gateway.log BED_GATEWAY_PID="" ;;
"$RUN_ETCD_PID") name=etcd log=etcd.log ;;
*) name="podman system service" log=podman.log ;;
esac
say "$name exited on its own (status $rc); the last lines of $BED/$log:"
tail -20 "$BED/$log" >&2
exit 1
