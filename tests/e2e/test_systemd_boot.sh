#!/usr/bin/env bash
# manifests/systemd/ under a real systemd: a Debian 12 container with
# systemd as PID 1 (tests/image/systemd/, podman run --systemd=always, the
# host's network) gets the binaries, the units and their settings installed
# as docs/operations.md tells an operator, and `systemctl enable --now`
# brings up klangk-etcd, klangk-controller and klangk-proxy:
#   1. all three are active, the controller is ready and leads, proxy-gen's
#      nginx serves;
#   2. a workspace applied with klangkc into that etcd runs on the bed's
#      Podman (its socket is bind-mounted where the docs put Podman's) and
#      its hosted app answers through the unit's nginx;
#   3. `systemctl reload` of the controller and of proxy-gen keeps them
#      running (SIGHUP), a controller killed with SIGKILL is restarted by
#      systemd and takes over again, `systemctl stop` ends each with a clean
#      exit.
# The units keep their hardening, as on a host: the container has
# CAP_SYS_ADMIN so that systemd can set up their namespaces
# (ProtectSystem=strict, PrivateTmp, ...) and CAP_DAC_READ_SEARCH, the one
# capability the controller's unit keeps; /proc/sys stays read-only and
# CAP_NET_ADMIN is not given, so the container's systemd cannot change the
# machine's settings.
#
# Cost: the image is built once per machine and per change of
# tests/image/systemd/ (about a minute, apt-get inside) and cached in
# /var/cache/klangk (340 MB); then a run takes about a minute on a quiet
# machine (loading the image ~5 s, the boot ~2 s, the units up in ~1 s; a run
# reached its last step in 57 s) and 4 to 6 minutes with a load of 35 on
# 2 cores.
# Marked engine-independent so that it runs once: it always uses a Podman
# bed (the container needs Podman's --systemd), also in the dockerd pass.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export KLANGK_E2E_ENGINE=podman
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

IMAGE=localhost/klangk-systemd-test:latest
CT=""
# in_ct CMD...: runs CMD in the systemd container (stdin passed on).
in_ct() {
	bed_podman exec -i "$CT" "$@"
}
cleanup() {
	local rc=$?
	# Nothing here may end the trap before bed_down (errexit applies in
	# traps too).
	set +e
	if [ -n "$CT" ]; then
		in_ct journalctl --no-pager -o short-monotonic -u 'klangk-*' </dev/null >"$BED/systemd-journal.log" 2>&1
		bed_podman stop -t 10 "$CT" >>"$BED/teardown.log" 2>&1
	fi
	(exit "$rc")
	bed_down
}
trap cleanup EXIT
bed_up
read -r E_PORT E_PEER C_METRICS P_METRICS <<<"$BED_FREE_PORTS"

echo "== 1. boot systemd"
bed_engine_cli bash -c 'source "$1/scripts/engine.sh" && engine_cached_build "$2" "$1/tests/image/systemd"' \
	_ "$REPO" "$IMAGE" || fail "the systemd image could not be built or loaded"
CT="klangk-systemd-$KLANGK_INSTANCE_ID"
bed_podman run -d --name "$CT" --systemd=always --network host --cap-add SYS_ADMIN,DAC_READ_SEARCH,NET_ADMIN \
	-v "$REPO:/src:ro" -v "$BIN:/src-bin:ro" \
	-v "${DOCKER_HOST#unix://}:/run/podman/podman.sock" "$IMAGE" >/dev/null
# is-system-running --wait blocks until the boot is over; before systemd's
# socket exists it fails at once.
booted() {
	local s
	s="$(in_ct systemctl is-system-running --wait)" || true
	[ "$s" = running ] || [ "$s" = degraded ]
}
wait_for "systemd in the container to finish booting" 60 booted || fail "systemd did not boot"
echo "systemd $(in_ct systemctl --version | head -1 | cut -d' ' -f2) is PID 1: $(in_ct cat /proc/1/comm)"

echo "== 2. install and enable the units (docs/operations.md)"
in_ct sh -euc '
	install -m 755 /src-bin/klangkc /src-bin/klangk-controller /src-bin/klangk-proxy-gen /usr/local/bin/
	install -m 644 /src/manifests/systemd/*.service /etc/systemd/system/
	install -d /etc/klangk && install -m 640 /src/manifests/systemd/klangk.conf /etc/klangk/'
# The bed's ports instead of the defaults (the host's network is shared),
# through the files the docs name for settings.
in_ct sh -c 'cat >/etc/klangk/etcd.env' <<EOF
ETCD_NAME=klangk
ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:$E_PORT
ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:$E_PORT
ETCD_LISTEN_PEER_URLS=http://127.0.0.1:$E_PEER
ETCD_INITIAL_ADVERTISE_PEER_URLS=http://127.0.0.1:$E_PEER
ETCD_INITIAL_CLUSTER=klangk=http://127.0.0.1:$E_PEER
EOF
in_ct sed -i -e "s#^KLANGK_ETCD_ENDPOINTS=.*#KLANGK_ETCD_ENDPOINTS=http://127.0.0.1:$E_PORT#" \
	-e "s#^DOCKER_HOST=.*#DOCKER_HOST=unix:///run/podman/podman.sock#" \
	-e "s#^KLANGK_INSTANCE_ID=.*#KLANGK_INSTANCE_ID=$KLANGK_INSTANCE_ID#" \
	-e "s#^KLANGK_PORT_RANGE_START=.*#KLANGK_PORT_RANGE_START=$KLANGK_PORT_RANGE_START\nKLANGK_PORT_RANGE_END=$((KLANGK_PORT_RANGE_START + BED_PORT_RANGE_SIZE - 1))#" \
	-e "s#^KLANGK_NGINX_PORT=.*#KLANGK_NGINX_PORT=$KLANGK_NGINX_PORT#" /etc/klangk/klangk.conf
echo "KLANGK_METRICS_ADDRESS=127.0.0.1:$C_METRICS" | in_ct sh -c 'cat >/etc/klangk/controller.env'
in_ct sh -c 'cat >/etc/klangk/proxy.env' <<EOF
KLANGK_ETCD_ENDPOINTS=http://127.0.0.1:$E_PORT
KLANGK_INSTANCE_ID=$KLANGK_INSTANCE_ID
KLANGK_NGINX_PORT=$KLANGK_NGINX_PORT
KLANGK_PROXY_METRICS_ADDRESS=127.0.0.1:$P_METRICS
EOF
in_ct systemctl daemon-reload
in_ct systemctl enable --now klangk-etcd klangk-controller klangk-proxy 2>&1 | sed 's/^/  /'

# unit_is UNIT STATE: systemctl is-active UNIT prints STATE.
unit_is() {
	[ "$(in_ct systemctl is-active "$1")" = "$2" ]
}
# unit_prop UNIT PROPERTY: prints the unit's PROPERTY's value.
unit_prop() {
	in_ct systemctl show -P "$2" "$1"
}
for u in klangk-etcd klangk-controller klangk-proxy; do
	wait_for "$u to be active" 30 unit_is "$u" active ||
		fail "$u is $(in_ct systemctl is-active "$u"): $(in_ct systemctl status --no-pager -n 20 "$u")"
done
export KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$E_PORT" ETCDCTL_ENDPOINTS="http://127.0.0.1:$E_PORT"
wait_for "the controller's /readyz" 30 curl -sf --max-time 2 "http://127.0.0.1:$C_METRICS/readyz" ||
	fail "the controller never became ready"
leads() { curl -sf --max-time 2 "http://127.0.0.1:$C_METRICS/metrics" | grep -qx 'klangk_leader 1'; }
wait_for "the controller to lead" 30 leads || fail "the controller was not elected"
wait_for "proxy-gen's /readyz" 30 curl -sf --max-time 2 "http://127.0.0.1:$P_METRICS/readyz" ||
	fail "proxy-gen never became ready"
assert_eq 404 "$(http_code "http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/000000000000/1/")" "nginx of klangk-proxy"
# The hardening is in force, not skipped: the controller sees a read-only
# /usr and has only the capability the unit grants.
pid="$(unit_prop klangk-controller MainPID)"
mi="$(in_ct cat "/proc/$pid/mountinfo")"
awk '$5 == "/" { print $6 }' <<<"$mi" | grep -q '^ro' ||
	fail "ProtectSystem=strict is not applied to the controller: $mi"
assert_eq 0000000000001004 "$(in_ct sh -c "sed -n 's/^CapBnd:\t//p' /proc/$pid/status")" \
	"the controller's capability bounding set (CAP_DAC_READ_SEARCH, CAP_NET_ADMIN for nft)"

echo "== 3. a workspace through the units"
ws_apply demo hello '{"hostedPorts": 2}'
wait_hosted_app hello demo

echo "== 4. reload, restart, stop"
for u in klangk-controller klangk-proxy; do
	pid="$(unit_prop "$u" MainPID)"
	in_ct systemctl reload "$u" || fail "systemctl reload $u"
	unit_is "$u" active || fail "$u is not active after a reload"
	assert_eq "$pid" "$(unit_prop "$u" MainPID)" "$u's process after a reload"
done
pid="$(unit_prop klangk-controller MainPID)"
in_ct kill -KILL "$pid"
restarted() { [ "$(unit_prop klangk-controller NRestarts)" -ge 1 ] && unit_is klangk-controller active; }
wait_for "systemd to restart the killed controller" 30 restarted ||
	fail "the controller was not restarted: $(in_ct systemctl status --no-pager -n 20 klangk-controller)"
wait_for "the restarted controller to lead" 60 leads || fail "the restarted controller was not elected"
# It converges again: a stop reaches the container.
"$BIN/klangkc" stop hello -n demo >/dev/null
stopped() { [ "$(ws_field hello demo .status.phase)" = Stopped ]; }
wait_for "the restarted controller to stop the workspace" 60 stopped || fail "the workspace was not stopped"
# Our daemons exit 0 on SIGTERM; etcd dies of it, which systemd counts as
# a success too.
for u in klangk-proxy klangk-controller klangk-etcd; do
	in_ct systemctl stop "$u"
	assert_eq inactive "$(in_ct systemctl is-active "$u")" "$u after stop"
	assert_eq success "$(unit_prop "$u" Result)" "$u's result"
	[ "$u" = klangk-etcd ] || assert_eq "1 0" "$(unit_prop "$u" ExecMainCode) $(unit_prop "$u" ExecMainStatus)" \
		"$u's exit (CLD_EXITED, status 0)"
done
echo "ok"
