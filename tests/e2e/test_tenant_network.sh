#!/usr/bin/env bash
# Tenant networks and the egress firewall (issue 15 items 4 and 5), as an
# attacker in alice's workspace would try them:
#  1. each tenant (namespace) has its own labelled network and bridge, and
#     its workspaces are on it alone;
#  2. alice's workspace reaches her other workspace, not bob's;
#  3. it does not reach the host's etcd nor the controller's metrics on
#     its gateway address (both listen on every address here, so the host
#     itself reaches them there), nor a link-local address (the cloud
#     metadata range) nor a KLANGK_EGRESS_DENY network, while another
#     network behind the same route answers;
#  4. nginx still serves both tenants' hosted apps;
#  5. the tenant's network goes when its last workspace does (garbage
#     collection runs at the resyncs that list the engine: every tenth);
#  6. the egress table, deleted by hand, comes back;
#  7. another Klangk instance's table on the same host (a copy of this
#     one's, renamed, knowing none of this bed's bridges) does not break
#     alice's traffic between her workspaces, bob still cannot reach them,
#     and neither can a workspace of that other instance (a container on a
#     "kt" bridge this instance does not own, which its own table leaves
#     alone).
# The link-local and denied destinations live in a network namespace of
# the test's own, routed from the host, so the drop is the firewall's and
# not a missing route.  Runs on Podman and dockerd (the bed's dockerd runs
# --iptables=false: the egress table isolates the bridges on both).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

NS_OUT="" VETH="" OUT_PID="" FOREIGN="" OTHER_NET="" OTHER_BR=""
cleanup() {
	local rc=$?
	set +e
	[ -z "$FOREIGN" ] || nft delete table inet "$FOREIGN" 2>/dev/null
	if [ -n "$OTHER_NET" ]; then
		engine_req DELETE "/v1.41/containers/$OTHER_NET?force=true" >/dev/null 2>&1
		engine_req DELETE "/v1.41/networks/$OTHER_NET" >/dev/null 2>&1
		bed_forget_bridge "$OTHER_BR"
	fi
	[ -z "$OUT_PID" ] || kill "$OUT_PID" 2>/dev/null
	[ -z "$VETH" ] || ip link delete "$VETH" 2>/dev/null
	[ -z "$NS_OUT" ] || ip netns delete "$NS_OUT" 2>/dev/null
	(exit "$rc")
	bed_down
}
trap cleanup EXIT
command -v nft >/dev/null || { echo "SKIP: nft is missing (bash scripts/deps.sh)"; exit 0; }
bed_up
SUF="${BED_BRIDGE#kbed}"

# --- the outside: a namespace behind a veth, routed from the host -------
OUT="$(bed_free_subnet)" || fail "no free subnet"
O="${OUT%.0/24}"
LL="169.254.$((1 + RANDOM % 250))"
NS_OUT="kout$SUF" VETH="kvo$SUF"
ip netns add "$NS_OUT"
ip link add "$VETH" type veth peer name "kvi$SUF" netns "$NS_OUT"
ip addr add "$O.1/25" dev "$VETH"
ip addr add "$O.129/25" dev "$VETH"
ip addr add "$LL.1/24" dev "$VETH"
ip link set "$VETH" up
ip -n "$NS_OUT" addr add "$O.2/25" dev "kvi$SUF"    # in KLANGK_EGRESS_DENY
ip -n "$NS_OUT" addr add "$O.130/25" dev "kvi$SUF"  # allowed
ip -n "$NS_OUT" addr add "$LL.2/24" dev "kvi$SUF"   # link-local
ip -n "$NS_OUT" link set "kvi$SUF" up
ip -n "$NS_OUT" link set lo up
ip -n "$NS_OUT" route add default via "$O.129"
mkdir -p "$BED/out" && echo outside >"$BED/out/index.html"
ip netns exec "$NS_OUT" python3 -m http.server -d "$BED/out" -b 0.0.0.0 8000 \
	>"$BED/out.log" 2>&1 &
OUT_PID=$!
wait_for "the outside's server" 10 curl -sf --max-time 2 -o /dev/null "http://$O.130:8000/" ||
	fail "the outside's server does not answer"

# --- control plane on every address of the host ---------------------------
read -r MPORT _ <<<"$BED_FREE_PORTS"
BED_ETCD_ARGS="--listen-client-urls http://0.0.0.0:$ETCD_PORT" bed_restart_etcd ||
	fail "etcd on 0.0.0.0"
export KLANGK_EGRESS_DENY="$O.0/25"
bed_start_controller --metrics-address "0.0.0.0:$MPORT" --resync-seconds 2
bed_start_proxygen

K="$BIN/klangkc"
# in_ws NAME NS CMD: CMD with sh in the workspace's container, through the
# engine's CLI (no gateway in this bed).
in_ws() {
	bed_engine_cli "$BED_ENGINE" exec "$(ws_field "$1" "$2" .status.container.name)" sh -c "$3"
}
# ctr_reaches CONTAINER IP PORT: an HTTP request from the container to
# IP:PORT gets an answer (a dropped SYN times out in 3 s).
ctr_reaches() {
	bed_engine_cli "$BED_ENGINE" exec "$1" sh -c \
		"printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc -w 3 $2 $3 2>/dev/null" |
		grep '^HTTP/' >/dev/null
}
# reaches NAME NS IP PORT: the same from the workspace.
reaches() {
	ctr_reaches "$(ws_field "$1" "$2" .status.container.name)" "$3" "$4"
}
ip_of() {
	engine_get "/v1.41/containers/$(ws_field "$1" "$2" .status.container.name)/json" |
		jq -r '.NetworkSettings.Networks | to_entries[0].value.IPAddress'
}
nets_of() {
	engine_get "/v1.41/containers/$(ws_field "$1" "$2" .status.container.name)/json" |
		jq -r '.NetworkSettings.Networks | keys | join(" ")'
}

ws_apply alice a1 '{"hostedPorts": 2}'
ws_apply alice a2 '{"hostedPorts": 2}'
ws_apply bob b1 '{"hostedPorts": 2}'
wait_hosted_app a1 alice
A1_URL="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$HOSTED_ID/$HOSTED_PORT/"
wait_hosted_app b1 bob
B1_URL="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$HOSTED_ID/$HOSTED_PORT/"
wait_ws_converged a2 alice 60

# --- 1. one network per tenant, labelled, and nothing else -----------------
NA="klangk_${KLANGK_INSTANCE_ID}_alice" NB="klangk_${KLANGK_INSTANCE_ID}_bob"
assert_eq "$NA" "$(nets_of a1 alice)" "a1's networks"
assert_eq "$NA" "$(nets_of a2 alice)" "a2's networks"
assert_eq "$NB" "$(nets_of b1 bob)" "b1's networks"
info="$(engine_get "/v1.41/networks/$NA")"
assert_eq "$KLANGK_INSTANCE_ID alice true" \
	"$(jq -r '[.Labels["klangk.instance"], .Labels["klangk.user-id"], .Labels["klangk.managed"]] | join(" ")' <<<"$info")" \
	"the network's labels"
BR_A="kt$(printf '%s/alice' "$KLANGK_INSTANCE_ID" | sha256sum | cut -c1-12)"
ip link show "$BR_A" >/dev/null || fail "alice's bridge $BR_A is missing"
GW="$(jq -r '.IPAM.Config[0].Gateway // empty' <<<"$info")"
[ -n "$GW" ] || GW="$(in_ws a1 alice "ip -4 route show default | sed -n 's/.*via \([0-9.]*\).*/\1/p'")"
[ -n "$GW" ] || fail "no gateway address for $NA"
echo "ok: one network per tenant ($BED_ENGINE): $NA on $BR_A, gateway $GW"

# --- 2. alice reaches alice, not bob ----------------------------------------
A2="$(ip_of a2 alice)" B1="$(ip_of b1 bob)"
wait_for "a1 reaches a2 at $A2" 20 reaches a1 alice "$A2" 8000 ||
	fail "alice's workspaces do not reach each other"
reaches a1 alice "$B1" 8000 && fail "alice's workspace reached bob's at $B1:8000"
reaches a1 alice "$B1" 8001 && fail "alice's workspace reached bob's at $B1:8001"
echo "ok: alice reaches alice ($A2), not bob ($B1)"

# --- 3. the host's control plane, metadata, the deny list -----------------
curl -s --max-time 3 "http://$GW:$ETCD_PORT/health" | grep health >/dev/null ||
	fail "the host does not reach etcd on $GW (the test's premise)"
curl -sf --max-time 3 -o /dev/null "http://$GW:$MPORT/metrics" ||
	fail "the host does not reach the controller's metrics on $GW (the test's premise)"
reaches a1 alice "$GW" "$ETCD_PORT" && fail "the workspace reached etcd at $GW:$ETCD_PORT"
reaches a1 alice "$GW" "$MPORT" && fail "the workspace reached the controller's metrics at $GW:$MPORT"
wait_for "a1 reaches the outside at $O.130" 20 reaches a1 alice "$O.130" 8000 ||
	fail "the workspace does not reach an allowed outside address (the test's premise)"
reaches a1 alice "$LL.2" 8000 && fail "the workspace reached the link-local $LL.2"
reaches a1 alice "$O.2" 8000 && fail "the workspace reached $O.2 (KLANGK_EGRESS_DENY=$KLANGK_EGRESS_DENY)"
echo "ok: etcd, metrics, link-local and the deny list refused; $O.130 reached"

# --- 4. nginx still serves both tenants' apps -------------------------------
assert_contains "$(curl -sf --max-time 5 "$A1_URL")" "container-port=8001" "alice's hosted app"
assert_contains "$(curl -sf --max-time 5 "$B1_URL")" "container-port=8001" "bob's hosted app"
echo "ok: nginx serves both tenants"

# --- 5. the network goes with the tenant's last workspace -------------------
"$K" delete b1 -n bob >/dev/null || fail "klangkc delete b1"
_net_gone() { ! engine_get "/v1.41/networks/$NB" >/dev/null 2>&1; }
wait_for "bob's network collected" 60 _net_gone || fail "$NB was not collected"
engine_get "/v1.41/networks/$NA" >/dev/null || fail "alice's network went too"
# Podman 4.3's CNI plugin leaves its isolation rules behind a removed
# network (docs/security.md): the bed's own clean-up.
bed_forget_bridge "kt$(printf '%s/bob' "$KLANGK_INSTANCE_ID" | sha256sum | cut -c1-12)"
echo "ok: bob's network collected, alice's kept"
# --- 6. a table deleted behind the controller's back comes back -------------
# (at the next resync that lists the engine; applying it is idempotent, so
# a controller that crashed mid-apply does the same on its next start).
TABLE="klangk-$KLANGK_INSTANCE_ID"
nft list table inet "$TABLE" >/dev/null || fail "no table $TABLE"
# The premise: without the table the workspace reaches etcd.  The
# controller may re-apply the table between the delete and the probe (a
# resync that lists the engine came due): then the probe proves nothing,
# and the delete is tried again.
premise=0
for _ in 1 2 3 4 5; do
	nft delete table inet "$TABLE" 2>/dev/null || true
	if reaches a1 alice "$GW" "$ETCD_PORT"; then
		premise=1
		break
	fi
	nft list table inet "$TABLE" >/dev/null 2>&1 ||
		fail "without the table the workspace should reach etcd (the test's premise)"
done
[ "$premise" = 1 ] || fail "the table came back before every probe of the premise (5 tries)"
wait_for "the table back" 60 nft list table inet "$TABLE" >/dev/null || fail "$TABLE did not come back"
reaches a1 alice "$GW" "$ETCD_PORT" && fail "the workspace reached etcd after the table came back"
echo "ok: the egress table re-applied after it was deleted"
# --- 7. a second instance's table does not judge this one's bridges -------
# A copy of this bed's table under another instance's name, with its sets
# of bridges emptied: what the controller of another Klangk instance on
# this host loads.  Its rules see this bed's bridged traffic too (with
# br_netfilter on every bridged packet passes the forward hook of every
# table); a rule on "kt*" at both ends would drop alice's own traffic.
ws_apply bob b2 '{"hostedPorts": 2}'
wait_ws_converged b2 bob 60
FOREIGN="klangk-other$SUF"
nft list table inet "$TABLE" | sed "1s/^table inet $TABLE {/table inet $FOREIGN {/" >"$BED/foreign.nft"
nft -f "$BED/foreign.nft" || fail "cannot load the other instance's table"
for set in own same; do
	nft flush set inet "$FOREIGN" "$set" 2>/dev/null || true
done
nft list table inet "$FOREIGN" >"$BED/foreign.list" || fail "cannot list the other instance's table"
grep -q 'hook forward' "$BED/foreign.list" || fail "the other table has no forward chain"
wait_for "a1 reaches a2 at $A2 beside another instance's table" 20 reaches a1 alice "$A2" 8000 ||
	fail "another instance's egress table broke alice's traffic between her workspaces"
reaches b2 bob "$A2" 8000 && fail "bob's workspace reached alice's at $A2:8000"
reaches b2 bob "$(ip_of a1 alice)" 8001 && fail "bob's workspace reached alice's a1 at port 8001"
# The other instance's workspace: a container on a bridge of its own
# (without Podman's isolate, so only a firewall can stop it), which the
# other table's rules do not judge either (its sets are empty): what
# keeps it from alice is this instance's rule on traffic into its bridges
# (on dockerd that rule alone: without it this step fails there; on Podman
# the isolate option of alice's network stops it too).
OTHER_NET="kother$SUF" OTHER_BR="ktother$SUF"
engine_post /v1.41/networks/create "$(jq -nc --arg n "$OTHER_NET" --arg b "$OTHER_BR" \
	'{Name: $n, Options: {"com.docker.network.bridge.name": $b}}')" >/dev/null ||
	fail "cannot make the other instance's network"
engine_post "/v1.41/containers/create?name=$OTHER_NET" "$(jq -nc --arg img "$KLANGK_TEST_IMAGE" \
	--arg n "$OTHER_NET" '{Image: $img, HostConfig: {Init: true, NetworkMode: $n}}')" >/dev/null &&
	engine_post "/v1.41/containers/$OTHER_NET/start" >/dev/null ||
	fail "cannot start the other instance's workspace"
wait_for "the other instance's workspace reaches the outside at $O.130" 20 \
	ctr_reaches "$OTHER_NET" "$O.130" 8000 ||
	fail "the other instance's workspace routes nowhere (the test's premise)"
ctr_reaches "$OTHER_NET" "$A2" 8000 && fail "another instance's workspace reached alice's at $A2:8000"
ctr_reaches "$OTHER_NET" "$(ip_of a1 alice)" 8001 &&
	fail "another instance's workspace reached alice's a1 at port 8001"
echo "ok: another instance's table leaves alice's own traffic alone; bob and the other instance's workspace refused"
echo "PASS test_tenant_network"
