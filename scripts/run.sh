#!/usr/bin/env bash
# make run: a complete local Klangk on this machine, everything under ./run/:
# an etcd, Podman's Docker-compatible API service (private storage and
# network), klangk-controller, klangk-proxy-gen and the nginx it starts, and
# klangk-gateway on 127.0.0.1:8990 (klangkc exec/logs/top/export/import).
# Applies manifests/examples/hello.yaml and prints its hosted URLs.
# Ctrl-C stops everything; etcd's data, the images and the volumes stay in
# ./run/ so the next `make run` picks up where this one stopped
# (`rm -rf run` after `make run` has stopped forgets it all).
#
# It reuses the test bed's Podman configuration and image helpers
# (tests/bed.sh), pointed at ./run/ instead of a temporary directory.
#
# Settings (environment): KLANGK_RUN_DIR (./run), KLANGK_RUN_ETCD_PORT (2379),
# KLANGK_NGINX_PORT (8995), KLANGK_PORT_RANGE_START (9000),
# KLANGK_INSTANCE_ID (local), KLANGK_RUN_SUBNET (10.213.0.0/24).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BIN="${BIN:-$REPO/bin}"
# shellcheck source=../tests/bed.sh
source "$REPO/tests/bed.sh"

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
export KLANGK_PORT_RANGE_START="${KLANGK_PORT_RANGE_START:-9000}"
export KLANGK_INSTANCE_ID="${KLANGK_INSTANCE_ID:-local}"
export KLANGK_DATA_DIR="$BED/data"
# Never bind-mountable into a workspace (docs/security.md).
export KLANGK_PROTECTED_PATHS="${KLANGK_PROTECTED_PATHS:-$BED/etcd,$BED/nginx}"
export NGINX_DIR="$BED/nginx"
export KLANGK_TEST_IMAGE="localhost/klangk-test:latest"
export BED_NETWORK="klangk-run" BED_BRIDGE="kbrun0"
export BED_SUBNET="${KLANGK_RUN_SUBNET:-10.213.0.0/24}"
export KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$ETCD_PORT"
export ETCDCTL_API=3 ETCDCTL_ENDPOINTS="$KLANGK_ETCD_ENDPOINTS"
export CONTAINERS_CONF="$BED/containers.conf" CONTAINERS_STORAGE_CONF="$BED/storage.conf"
export DOCKER_HOST="unix://$BED/podman.sock"

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
GATEWAY_PORT=8990
for v in ETCD_PORT PEER_PORT KLANGK_NGINX_PORT GATEWAY_PORT; do
	if ! port_free "${!v}"; then
		echo "make run: port ${!v} ($v) is in use; stop what uses it or set" \
			"KLANGK_RUN_ETCD_PORT / KLANGK_NGINX_PORT" >&2
		exit 1
	fi
done

RUN_ETCD_PID="" RUN_PODMAN_PID=""
# stop_all: the reverse of the start order; containers are stopped (their
# volumes and etcd's state stay for the next run).
stop_all() {
	trap - INT TERM EXIT
	echo
	echo "make run: stopping" >&2
	bed_stop_gateway || true
	bed_stop_controller 15 || true
	bed_stop_proxygen || true
	bed_stop_nginx || true
	if [ -S "$BED/podman.sock" ]; then
		bed_podman stop -a -t 5 >/dev/null 2>&1 || true
	fi
	_bed_stop_pid "$RUN_PODMAN_PID" "podman service" 10 TERM podman || true
	_bed_stop_pid "$RUN_ETCD_PID" etcd 10 TERM etcd || true
	ip link del "$BED_BRIDGE" 2>/dev/null || true
	echo "make run: stopped; state kept in $BED" >&2
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

env -u ETCD_PORT etcd --name klangk --data-dir "$BED/etcd" \
	--listen-client-urls "$KLANGK_ETCD_ENDPOINTS" \
	--advertise-client-urls "$KLANGK_ETCD_ENDPOINTS" \
	--listen-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
	--initial-cluster "klangk=http://127.0.0.1:$PEER_PORT" \
	</dev/null >>"$BED/etcd.log" 2>&1 &
RUN_ETCD_PID=$!

_bed_write_podman_conf
env TMPDIR="$BED/tmp" XDG_RUNTIME_DIR="$BED/xdg" \
	podman --log-level=warn system service --time=0 "unix://$BED/podman.sock" \
	</dev/null >>"$BED/podman.log" 2>&1 &
RUN_PODMAN_PID=$!

_bed_wait_daemon etcd "$RUN_ETCD_PID" 30 _bed_etcd_healthy ||
	{ tail -20 "$BED/etcd.log" >&2; exit 1; }
_bed_wait_daemon "podman service" "$RUN_PODMAN_PID" 30 _bed_engine_ping ||
	{ tail -20 "$BED/podman.log" >&2; exit 1; }
if ! _bed_engine_has_image; then
	echo "make run: building the demo image $KLANGK_TEST_IMAGE" >&2
	_bed_build_image
fi

bed_start_controller
bed_start_proxygen
bed_start_gateway || { tail -20 "$BED/gateway.log" >&2; exit 1; }
"$BIN/klangkc" apply -f "$REPO/manifests/examples/hello.yaml"

ready() {
	[ "$("$BIN/klangkc" get hello -n demo -o json | jq -r .status.phase)" = Running ]
}
if ! wait_for "hello to be Running" 60 ready; then
	"$BIN/klangkc" get hello -n demo -o yaml >&2 || true
	tail -20 "$BED/controller.log" >&2
	exit 1
fi
mapfile -t urls < <("$BIN/klangkc" get hello -n demo -o json | jq -r '.status.urls[]')
wait_for "the hosted app to answer through nginx" 30 curl -sf --max-time 5 "${urls[0]}" ||
	{ tail -20 "$BED/proxy-gen.log" >&2; exit 1; }

cat <<MSG

Klangk is running (state in $BED):
  etcd        $KLANGK_ETCD_ENDPOINTS
  engine      $DOCKER_HOST
  nginx       http://127.0.0.1:$KLANGK_NGINX_PORT/
  gateway     $KLANGK_GATEWAY_URL (klangkc exec, logs, top, export, import)
  logs        $BED/controller.log, $BED/proxy-gen.log, $BED/gateway.log

The hello workspace's hosted apps:
$(printf '  %s\n' "${urls[@]}")

  $ curl ${urls[0]}
  $(curl -s "${urls[0]}")

Try:  KLANGK_ETCD_ENDPOINTS=$KLANGK_ETCD_ENDPOINTS $BIN/klangkc get -A
Press Ctrl-C to stop.
MSG

# Wait for Ctrl-C, or for a daemon to die (then stop everything).
wait -n "$BED_CONTROLLER_PID" "$BED_PROXYGEN_PID" "$BED_GATEWAY_PID" "$RUN_ETCD_PID" "$RUN_PODMAN_PID" || true
echo "make run: a daemon exited unexpectedly; see the logs in $BED" >&2
exit 1
