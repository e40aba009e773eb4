#!/usr/bin/env bash
# bench/netcost.sh [ROUNDS] — where isolation's converge cost is (issue 15):
# the engine's raw create + start of the test image, one container at a
# time, alternated ROUNDS (5) times over six variants:
#   default        the bed's default network (what the build before
#                  isolation used)
#   user-defined   a network of its own, made as the controller makes a
#                  tenant's (bridge name, isolate)
#   +limits        and Memory = MemorySwap 8 GiB, NanoCpus 2, PidsLimit 16,384
#   +tmpfs         and /tmp a tmpfs
#   +caps          and the dropped capabilities and no-new-privileges
#   +all           all three
# Prints one line per round, in milliseconds. KLANGK_E2E_ENGINE=docker runs
# it on dockerd.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export BIN="${BIN:-$REPO/bin}"
source "$REPO/tests/bed.sh"
trap 'bed_down; bed_forget_bridge ktnetcost0001' EXIT
bed_up >/dev/null 2>&1
engine_post /v1.41/networks/create \
	'{"Name": "netcost", "Options": {"com.docker.network.bridge.name": "ktnetcost0001", "isolate": "true"}}' >/dev/null
# one NAME NETWORK HOSTCONFIG_JSON: create + start, prints milliseconds.
one() {
	local body t id
	body=$(jq -n --arg img "$KLANGK_TEST_IMAGE" --arg net "$2" --argjson x "$3" \
		'{Image: $img, HostConfig: ({Init: true, NetworkMode: $net} + $x)}')
	t=$(date +%s%N)
	id=$(engine_post "/v1.41/containers/create?name=$1" "$body" | jq -r .Id)
	engine_post "/v1.41/containers/$id/start" >/dev/null
	echo $((($(date +%s%N) - t) / 1000000))
}
LIM='{"Memory": 8589934592, "MemorySwap": 8589934592, "NanoCpus": 2000000000, "PidsLimit": 16384}'
TMP='{"Tmpfs": {"/tmp": "size=1g"}}'
CAP='{"CapDrop": ["NET_RAW", "MKNOD", "AUDIT_WRITE", "SYS_CHROOT", "SETFCAP"], "SecurityOpt": ["no-new-privileges"]}'
ALL=$(jq -n --argjson a "$LIM" --argjson b "$TMP" --argjson c "$CAP" '$a + $b + $c')
echo "Engine: $BED_ENGINE; create + start, ms"
for i in $(seq 1 "${1:-5}"); do
	echo "default=$(one "d$i" bridge '{}') user-defined=$(one "u$i" netcost '{}')" \
		"+limits=$(one "l$i" netcost "$LIM") +tmpfs=$(one "t$i" netcost "$TMP")" \
		"+caps=$(one "c$i" netcost "$CAP") +all=$(one "a$i" netcost "$ALL")"
done
