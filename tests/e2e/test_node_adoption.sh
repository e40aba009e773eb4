#!/usr/bin/env bash
# From one host to several (docs/operations.md): a workspace converged by a
# controller without a node name is adopted when that controller comes back
# with one:
#   - it is placed on that node and its status says so;
#   - its port leases move under the node's prefix (the old keys go), its
#     ports stay the same;
#   - its container is recreated with the node's label, its home volume is
#     the same volume (a file written there is still there).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up

echo "== one host, no node name"
bed_start_controller --resync-seconds 5
ws_apply old proj '{"hostedPorts": 2}'
wait_ws_converged proj old
port="$(ws_field proj old '.status.ports[0].host')"
assert_eq old/proj "$(etcdget "/klangk/leases/ports/$port")" "the single-node lease"
assert_eq null "$(ws_field proj old .status.nodeName)" "no node yet"
cname="klangk_${KLANGK_INSTANCE_ID}_old_proj"
echo "kept" >"$(engine_get "/v1.41/volumes/${cname}_home" | jq -r .Mountpoint)/marker"
bed_stop_controller

echo "== the same host as node-a"
bed_start_controller --node-name node-a --resync-seconds 5
adopted() {
	[ "$(ws_field proj old .status.nodeName)" = node-a ] && _ws_converged proj old
}
wait_for "node-a adopts old/proj" 30 adopted || fail "not adopted: $(ws_json proj old)"
assert_eq node-a "$(etcdget /klangk/placements/old/proj)" "the placement"
assert_eq "$port" "$(ws_field proj old '.status.ports[0].host')" "the same port"
assert_eq old/proj "$(etcdget "/klangk/leases/ports/node-a/$port")" "the node's lease"
assert_eq "" "$(etcdctl get --keys-only --prefix /klangk/leases/ports/ | grep -E '^/klangk/leases/ports/[0-9]+$' || true)" \
	"single-node leases left"
assert_eq node-a "$(engine_get "/v1.41/containers/$cname/json" | jq -r '.Config.Labels["klangk.node"]')" \
	"the container's node label"
assert_eq kept "$(cat "$(engine_get "/v1.41/volumes/${cname}_home" | jq -r .Mountpoint)/marker")" "the home's file"
echo "ok"
