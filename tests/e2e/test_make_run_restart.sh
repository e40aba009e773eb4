#!/usr/bin/env bash
# make run, then Ctrl-C, ten times in a row, as at a terminal: the
# Makefile's `run` recipe (its build prerequisites skipped with -o) runs on
# a pseudo-terminal and Ctrl-C is typed into it (tests/e2e/ptyrun.py: the
# line discipline signals the terminal's foreground process group).
#   - every start prints hosted URLs that answer through nginx, then and a
#     moment later;
#   - every Ctrl-C ends make with status 0 after one line, and leaves no
#     daemon (etcd, the engine's service, controller, proxy-gen, nginx);
#   - the workspace's container keeps running while the control plane is
#     stopped, and the next start adopts it (the same container);
#   - `make run-down` after the fifth run stops it and removes the bridge;
#     the sixth start starts it again.
# Everything is private: a run directory in /tmp, ports, subnet, bridge and
# instance picked like a bed's (never make run's own); torn down like a bed.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

# A bed-like directory, so that bed_down (and the runner, for a killed
# test) tears it down: run.sh leaves its pid files there.
BED="$(mktemp -d /tmp/klangk-bed.XXXXXX)"
export BED
chmod 755 "$BED"
trap bed_down EXIT
suffix="$(_bed_random_hex 4)"
export BED_NETWORK=klangk-run BED_BRIDGE="kr$suffix"
printf 'BED_NETWORK=%s\nBED_BRIDGE=%s\nBED_RUN_ID=%s\n' \
	"$BED_NETWORK" "$BED_BRIDGE" "${KLANGK_E2E_RUN:-}" >"$BED/bed.env"
read -r p_etcd _ p_nginx p_metrics _ _ _ range subnet <<<"$(_bed_pick_resources)"
export KLANGK_RUN_DIR="$BED" KLANGK_RUN_ETCD_PORT="$p_etcd" KLANGK_NGINX_PORT="$p_nginx"
export KLANGK_RUN_METRICS_PORT="$p_metrics" KLANGK_PORT_RANGE_START="$range"
export KLANGK_RUN_SUBNET="$subnet" KLANGK_RUN_BRIDGE="$BED_BRIDGE"
export KLANGK_INSTANCE_ID="run$suffix"
CONTAINER="klangk_${KLANGK_INSTANCE_ID}_demo_hello"

# check_started: run by ptyrun.py once the banner is out: every hosted URL
# printed answers through our nginx, five times over a second; records
# the daemons' pids (to check the stop) and the container's id.
check_started() {
	local urls u i
	mapfile -t urls < <(tr -d '\r' <"$OUT/start.out" |
		sed -n 's|^  \(http://[^ ]*/hosted/[^ ]*\)$|\1|p')
	[ "${#urls[@]}" -ge 1 ] || { echo "no hosted URL printed"; return 1; }
	for i in 1 2 3 4 5; do
		for u in "${urls[@]}"; do
			[[ "$u" == *":$KLANGK_NGINX_PORT/"* ]] || { echo "$u: not our nginx"; return 1; }
			curl -sf --max-time 5 -o /dev/null "$u" || { echo "$u did not answer (look $i)"; return 1; }
		done
		sleep 0.2 # the looks are spread over a second on purpose
	done
	cat "$BED/etcd.pid" "$BED/podman.pid" "$BED/controller.pid" "$BED/proxy-gen.pid" \
		"$BED/nginx/nginx.pid" >"$OUT/pids"
	bed_podman inspect -f '{{.Id}}' "$CONTAINER" >"$OUT/container"
}
export -f check_started bed_podman
export CONTAINER

# container_state: running, exited, ... of the workspace's container
# (Podman's CLI on the run's private storage; no service needed).
container_state() {
	bed_podman inspect -f '{{.State.Status}}' "$CONTAINER" 2>/dev/null
}

# one_run N: make run on a pseudo-terminal, checks, Ctrl-C; asserts.
one_run() {
	local n="$1" timeout=90 lines p
	OUT="$BED/cycle-$n"
	export OUT
	mkdir -p "$OUT"
	[ "$n" != 1 ] || timeout=240 # the first builds the demo image
	python3 "$HERE/ptyrun.py" "$OUT" 'Press Ctrl-C to stop' "$timeout" 60 check_started -- \
		make -s -C "$REPO" -o deps -o all run
	echo "run $n: $(cat "$OUT/times")"
	if [ "$(cat "$OUT/ready")" != yes ]; then
		tr -d '\r' <"$OUT/start.out" | tail -20
		fail "run $n: make run never printed its banner"
	fi
	[ "$(cat "$OUT/check.rc")" = 0 ] || fail "run $n: $(cat "$OUT/check.out")"
	# What the stop printed, as the terminal shows it: "^C" and a line
	# that starts with a carriage return over it.
	lines="$(tr -d '\r' <"$OUT/stop.out" | sed 's/^^C//' | grep -v '^$' || true)"
	[ "$(cat "$OUT/rc")" = 0 ] || fail "run $n: make exited with $(cat "$OUT/rc"): $lines"
	assert_eq 1 "$(wc -l <<<"$lines")" "run $n: lines printed by the stop: $lines"
	assert_contains "$lines" "make run: stopped" "run $n: the stop's line"
	assert_contains "$lines" "workspaces keep running" "run $n: the stop's line"
	for p in $(cat "$OUT/pids"); do
		if _bed_alive "$p"; then
			fail "run $n: pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) outlived the stop"
		fi
	done
	assert_eq running "$(container_state)" "run $n: the container after the stop"
	assert_eq "$(cat "$BED/cycle-1/container")" "$(cat "$OUT/container")" \
		"run $n: the container (adopted, not recreated)"
}

for n in 1 2 3 4 5 6 7 8 9 10; do
	one_run "$n"
	if [ "$n" = 5 ]; then
		make -s -C "$REPO" run-down
		assert_eq exited "$(container_state)" "the container after make run-down"
		! ip link show "$BED_BRIDGE" >/dev/null 2>&1 || fail "make run-down left the bridge"
	fi
done
echo "PASS: test_make_run_restart"
