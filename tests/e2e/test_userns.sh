#!/usr/bin/env bash
# KLANGK_USERNS=auto (issue 15 item 3) on a real engine, as an attacker who
# is root in a workspace would see it:
#  1. on Podman, root in the workspace is not root on the host: the
#     container's processes run as a high unprivileged host uid (from the
#     subordinate ids of "containers" in /etc/subuid; scripts/deps.sh adds
#     them), the container's uid_map is not the identity, and a file it
#     makes in its home volume belongs to that uid on the host;
#  2. two tenants' workspaces get disjoint ranges, so neither's root is the
#     other's;
#  3. a workspace recreated (a changed memory limit recreates it on Podman)
#     still owns and reads what it wrote to its home;
#  4. on dockerd: SKIP (its user namespaces are the daemon's
#     --userns-remap; docs/security.md).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

if [ "${KLANGK_E2E_ENGINE:-podman}" = docker ]; then
	echo "SKIP: dockerd has no per-container user namespace (its --userns-remap is daemon-wide; docs/security.md)"
	exit 0
fi
grep -q '^containers:' /etc/subuid 2>/dev/null && grep -q '^containers:' /etc/subgid 2>/dev/null ||
	fail "no subordinate ids for \"containers\" in /etc/subuid and /etc/subgid (bash scripts/deps.sh)"
trap bed_down EXIT
bed_up
export KLANGK_USERNS=auto
bed_start_controller
bed_start_gateway
K="$BIN/klangkc"

in_ws() {
	"$K" exec "$1" -n "$2" -- sh -c "$3"
}
# host_uid NAME NS: the host uid of the workspace's first process.
host_uid() {
	local pid
	pid="$(engine_get "/v1.41/containers/$(ws_field "$1" "$2" .status.container.name)/json" |
		jq -r .State.Pid)"
	awk '/^Uid:/ {print $2}' "/proc/$pid/status"
}
# home_dir NAME NS: the host directory of the workspace's home volume.
home_dir() {
	engine_get "/v1.41/containers/$(ws_field "$1" "$2" .status.container.name)/json" |
		jq -r '.Mounts[] | select(.Name // "" | endswith("_home")) | .Source'
}

ws_apply alice a1 '{"hostedPorts": 0}'
ws_apply bob b1 '{"hostedPorts": 0}'
wait_ws_converged a1 alice 90
wait_ws_converged b1 bob 90

# --- 1. root inside, an unprivileged uid outside ----------------------------
assert_eq 0 "$(in_ws a1 alice 'id -u')" "uid inside the workspace"
UA="$(host_uid a1 alice)" UB="$(host_uid b1 bob)"
[ "$UA" -ge 65536 ] || fail "a1's first process runs as host uid $UA (not in a user namespace)"
read -r inside outside count < <(in_ws a1 alice 'cat /proc/self/uid_map')
assert_eq "0 $UA" "$inside $outside" "a1's uid_map maps root to host uid $UA"
[ "$count" -lt 4294967295 ] || fail "a1's uid_map is the identity"
HOME_A="$(home_dir a1 alice)"
[ -d "$HOME_A" ] || fail "a1's home volume is not at '$HOME_A'"
HOMEIN="$(engine_get "/v1.41/containers/$(ws_field a1 alice .status.container.name)/json" |
	jq -r '.Mounts[] | select(.Name // "" | endswith("_home")) | .Destination')"
in_ws a1 alice "echo secret > $HOMEIN/mine" || fail "cannot write to the home volume"
assert_eq "$UA" "$(stat -c %u "$HOME_A/mine")" "the host owner of a file root made in a1's home"
echo "ok: root in a1 is host uid $UA (uid_map: 0 $outside $count)"

# --- 2. disjoint ranges -----------------------------------------------------
read -r _ ob cb < <(in_ws b1 bob 'cat /proc/self/uid_map')
if [ "$ob" -lt $((outside + count)) ] && [ "$outside" -lt $((ob + cb)) ]; then
	fail "a1's range $outside+$count and b1's $ob+$cb overlap"
fi
[ "$UB" != "$UA" ] || fail "a1 and b1 run as the same host uid $UA"
echo "ok: b1's range ($ob+$cb) is not a1's"

# --- 3. recreated, it still owns its home -----------------------------------
OLD="$(engine_get "/v1.41/containers/$(ws_field a1 alice .status.container.name)/json" | jq -r .Id)"
ws_apply alice a1 '{"hostedPorts": 0, "resources": {"memory": "300Mi"}}'
_recreated() {
	local id
	id="$(engine_get "/v1.41/containers/$(ws_field a1 alice .status.container.name)/json" | jq -r .Id)" &&
		[ "$id" != "$OLD" ] && [ "$(ws_field a1 alice .status.phase)" = Running ]
}
wait_for "a1 recreated" 90 _recreated || fail "a1 was not recreated with the new memory limit"
wait_ws_converged a1 alice 60
assert_eq secret "$(in_ws a1 alice "cat $HOMEIN/mine")" "a1 reads its file after the recreation"
assert_eq 0 "$(in_ws a1 alice "stat -c %u $HOMEIN/mine")" "the file's owner inside a1 after the recreation"
in_ws a1 alice "echo again >> $HOMEIN/mine" || fail "a1 cannot write its file after the recreation"
echo "ok: recreated as host uid $(host_uid a1 alice), a1 still owns its home"
echo "PASS test_userns"
