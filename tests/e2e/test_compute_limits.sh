#!/usr/bin/env bash
# Compute limits and least privilege on a real engine (issue 15): a
# workspace's container gets the CPU, memory (no extra swap) and pids limits
# that spec.resources and the operator's defaults resolve to, a
# size-limited /tmp tmpfs, the capabilities of KLANGK_CAP_DROP dropped and
# no-new-privileges; a raw socket fails inside it; forking past the pids
# limit fails while a neighbour keeps serving its hosted app; a spec over a
# cap is Stalled naming the field, and no container is made for it; a
# changed memory limit reaches the container.  Runs on Podman and dockerd.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
export KLANGK_DEFAULT_CPU=500m KLANGK_DEFAULT_MEMORY=256Mi KLANGK_DEFAULT_PIDS=200
export KLANGK_MAX_MEMORY=1Gi KLANGK_TMP_SIZE=32Mi
bed_start_controller
bed_start_proxygen
bed_start_gateway

K="$BIN/klangkc"
MiB=1048576

# in_ws NAME NS CMD: runs CMD with sh in the workspace's container (as root:
# the test image names no user).
in_ws() {
	"$K" exec "$1" -n "$2" -- sh -c "$3"
}

# hostcfg NAME NS FIELD: a HostConfig field of the workspace's container.
hostcfg() {
	engine_get "/v1.41/containers/$(ws_field "$1" "$2" .status.container.name)/json" |
		jq -r ".HostConfig.$3"
}

# cgroup NAME NS V2_FILE V1_FILE: a cgroup file as seen inside the container.
cgroup() {
	in_ws "$1" "$2" "cat /sys/fs/cgroup/$3 2>/dev/null || cat /sys/fs/cgroup/$4"
}

ws_apply alice lim '{"hostedPorts": 0, "resources": {"memory": "128Mi", "pids": 64}}'
ws_apply bob nb '{"hostedPorts": 2}'
wait_ws_converged lim alice 60
wait_hosted_app nb bob
NB_URL="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$HOSTED_ID/$HOSTED_PORT/"

# --- limits as resolved: memory and pids from the spec, CPU the default ---
assert_eq 500000000 "$(hostcfg lim alice NanoCpus)" "NanoCpus (KLANGK_DEFAULT_CPU=500m)"
assert_eq $((128 * MiB)) "$(hostcfg lim alice Memory)" "Memory (spec 128Mi)"
assert_eq $((128 * MiB)) "$(hostcfg lim alice MemorySwap)" "MemorySwap: no swap beyond the memory"
assert_eq 64 "$(hostcfg lim alice PidsLimit)" "PidsLimit (spec 64)"
assert_eq $((128 * MiB)) "$(cgroup lim alice memory.max memory/memory.limit_in_bytes)" \
	"the container's memory cgroup"
assert_eq 64 "$(cgroup lim alice pids.max pids/pids.max)" "the container's pids cgroup"
quota="$(cgroup lim alice cpu.max cpu/cpu.cfs_quota_us)"
case "$quota" in
"50000 100000" | 50000) ;;
*) fail "the container's CPU quota: expected 50000 per 100000 us, got '$quota'" ;;
esac
tmp="$(in_ws lim alice "grep ' /tmp ' /proc/mounts")"
assert_contains "$tmp" "tmpfs /tmp tmpfs" "/tmp is a tmpfs"
assert_contains "$tmp" "size=32768k" "/tmp's size (KLANGK_TMP_SIZE=32Mi)"
assert_eq 1777 "$(in_ws lim alice 'stat -c %a /tmp')" "/tmp's mode"

# What klangkc shows: the effective limits, from the status.
assert_eq "500m 128Mi 64" "$(ws_field lim alice '[.status.resources.cpu, .status.resources.memory, .status.resources.pids] | join(" ")')" \
	"status.resources"
desc="$("$K" describe lim -n alice)"
assert_contains "$desc" "CPU:" "describe's CPU"
grep -Eq '^ +CPU: +500m$' <<<"$desc" || fail "describe's CPU: $desc"
grep -Eq '^ +Memory: +128Mi$' <<<"$desc" || fail "describe's Memory: $desc"
grep -Eq '^ +Pids: +64$' <<<"$desc" || fail "describe's Pids: $desc"
wide="$("$K" get lim -n alice -o wide)"
assert_contains "$(head -n 1 <<<"$wide")" "CPU" "get -o wide's header"
grep -Eq ' 500m +128Mi +64 ' <<<"$wide" || fail "get -o wide's limits: $wide"

# --- least privilege ---
capeff="$(in_ws lim alice "sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status")"
[[ "$capeff" =~ ^[0-9a-f]{16}$ ]] || fail "CapEff '$capeff'"
for cap in NET_RAW:13 SYS_CHROOT:18 MKNOD:27 AUDIT_WRITE:29 SETFCAP:31; do
	(((0x$capeff >> ${cap#*:}) & 1)) && fail "CapEff $capeff holds ${cap%:*}"
done
# What the entrypoints need stays: CHOWN (0), SETGID (6), SETUID (7).
(((0x$capeff & 0xc1) == 0xc1)) || fail "CapEff $capeff lacks CHOWN, SETGID or SETUID"
assert_eq 1 "$(in_ws lim alice "sed -n 's/^NoNewPrivs:[[:space:]]*//p' /proc/self/status")" \
	"no-new-privileges"
# A raw socket: arping (a packet socket) and ping as root.  busybox's ping
# falls back to an ICMP datagram socket when a raw one is refused, which an
# engine may allow through net.ipv4.ping_group_range (echo requests only,
# no forged headers); where it does not, ping fails.
gw="$(in_ws lim alice "ip -4 route show default | sed -n 's/.*via \([0-9.]*\).*/\1/p'")"
[ -n "$gw" ] || fail "no default route in the container"
rc=0
out="$(in_ws lim alice "arping -c 1 -w 2 $gw" 2>&1)" || rc=$?
[ "$rc" -ne 0 ] || fail "arping (a raw packet socket) worked: $out"
assert_contains "$out" "socket: Operation not permitted" "arping's raw socket"
rc=0
out="$(in_ws lim alice "ping -c 1 -W 2 127.0.0.1" 2>&1)" || rc=$?
range="$(in_ws lim alice 'cat /proc/sys/net/ipv4/ping_group_range')"
if [[ "$range" =~ ^0[[:space:]] ]]; then
	# The engine lets gid 0 open ICMP datagram sockets (dockerd does):
	# ping works without a raw socket, which arping showed is refused.
	echo "ping as root: ICMP datagram socket allowed (ping_group_range $range)" >&2
else
	[ "$rc" -ne 0 ] || fail "ping as root worked without NET_RAW: $out"
	assert_contains "$out" "permission denied" "ping as root without NET_RAW"
fi

# --- forking past the pids limit fails; the neighbour keeps serving ---
rc=0
out="$(in_ws lim alice 'i=0; while [ $i -lt 100 ]; do sleep 20 & i=$((i + 1)); done; echo all-forked' 2>&1)" ||
	rc=$?
[ "$rc" -ne 0 ] || fail "100 forks under a limit of 64 pids all worked: $out"
assert_contains "$out" "can't fork" "the fork that failed"
assert_not_contains "$out" "all-forked" "the fork loop's end"
assert_contains "$(curl -sf --max-time 5 "$NB_URL")" "workspace=$HOSTED_ID" \
	"the neighbour's hosted app while alice's workspace is at its pids limit"
wait_for "lim's sleeps gone" 60 sh -c "'$K' exec lim -n alice -- true 2>/dev/null" ||
	fail "lim never accepted an exec again"

# --- a spec over a cap: Stalled naming the field, no container ---
ws_apply alice big '{"hostedPorts": 0, "resources": {"memory": "2Gi"}}'
wait_ws_reason big alice ResourcesRefused 30
assert_eq True "$(ws_cond big alice Stalled status)" "Stalled over the cap"
assert_contains "$(ws_cond big alice Ready message)" \
	"spec.resources.memory: 2Gi is over the cap 1Gi (KLANGK_MAX_MEMORY)" "the reason's message"
assert_not_contains "$(container_names)" "_alice_big" "a container for the refused spec"

# --- a change of resources reaches the container ---
ws_apply alice lim '{"hostedPorts": 0, "resources": {"memory": "192Mi", "pids": 64}}'
wait_ws_converged lim alice 60
_mem_is() { [ "$(hostcfg lim alice Memory)" = $((192 * MiB)) ]; }
wait_for "lim's new memory limit" 30 _mem_is || fail "Memory: $(hostcfg lim alice Memory)"
assert_eq $((192 * MiB)) "$(cgroup lim alice memory.max memory/memory.limit_in_bytes)" \
	"the container's memory cgroup after the change"
assert_eq 192Mi "$(ws_field lim alice .status.resources.memory)" "status.resources.memory after the change"
echo "PASS test_compute_limits"
