#!/usr/bin/env bash
# KLANGK_PUBLISH=none (issue 18): no host port is published; nginx routes
# each allowed (id, host port) to the container's address on its tenant
# network, container port 8000 + i.  On one bed, with the controller, the
# egress table and proxy-gen as deployed:
#  1. the status says "publish": "none" and carries the container's network
#     and address, which are the engine's; nginx.conf routes there;
#  2. nothing listens on the leased host ports (the engine bound none) and
#     KLANGK_PORT_MAPPINGS still names them;
#  3. the proxy's checks: the app answers, 404 for an unknown id and for
#     another workspace's port, the slash-less redirect, a WebSocket echo
#     (also on the slash-less URL), activity recorded;
#  4. a workspace of another tenant's network is routed too, while the two
#     tenants' containers do not reach each other (that a tenant's own
#     workspaces reach each other is test_tenant_network's);
#  5. a recreated container (new environment) is routed to its new
#     container; a stopped one loses its address and its routes at once;
#     started again after its old address went to another workspace, it is
#     routed to its new address, and the other to the old one;
#  6. origin mode (KLANGK_HOSTING_DOMAIN) serves and redirects the same.
# Runs on Podman and dockerd (KLANGK_E2E_ENGINE=docker).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
command -v nft >/dev/null || { echo "SKIP: nft is missing (bash scripts/deps.sh)"; exit 0; }
bed_up
source "$HERE/proxy_helpers.sh"

export KLANGK_PUBLISH=none
bed_start_controller --resync-seconds 5
px_start_proxygen --activity-interval-seconds 1
K="$BIN/klangkc"

# addr_of NAME NS: the container's address on its tenant network, as the
# engine says.
addr_of() {
	engine_get "/v1.41/containers/$(ws_field "$1" "$2" .status.container.name)/json" |
		jq -r --arg n "klangk_${KLANGK_INSTANCE_ID}_$2" '.NetworkSettings.Networks[$n].IPAddress // empty'
}
# status_addr NAME NS: the address the status carries.
status_addr() {
	ws_field "$1" "$2" '.status.container.address // empty'
}
# reaches NAME NS IP PORT: an HTTP request from the workspace gets an answer.
reaches() {
	bed_engine_cli "$BED_ENGINE" exec "$(ws_field "$1" "$2" .status.container.name)" sh -c \
		"printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nc -w 3 $3 $4 2>/dev/null" | grep -q '^HTTP/'
}
# answers_as URL ID: the URL answers with the test app of workspace ID.
answers_as() {
	curl -sf --max-time 5 "$1" | grep -q "workspace=$2 "
}

ws_apply alice a1 '{"hostedPorts": 5}'
ws_apply bob b1 '{"hostedPorts": 2}'
wait_hosted_app a1 alice
A="$HOSTED_ID"
read -ra PA <<<"$(ws_field a1 alice '[.status.ports[].host] | join(" ")')"
wait_hosted_app b1 bob
B="$HOSTED_ID" PB1="$HOSTED_PORT"

echo "== 1. status and nginx.conf"
st="$(etcdget /klangk/status/alice/a1)"
assert_eq none "$(jq -r .publish <<<"$st")" "status.publish"
assert_eq "klangk_${KLANGK_INSTANCE_ID}_alice" "$(jq -r .container.network <<<"$st")" "status.container.network"
ADDR="$(addr_of a1 alice)"
[ -n "$ADDR" ] || fail "the engine reports no address for a1"
assert_eq "$ADDR" "$(jq -r .container.address <<<"$st")" "status.container.address"
for i in 0 4; do
	grep -q "$A/${PA[$i]} $ADDR:$((8000 + i));" "$NGINX_DIR/nginx.conf" ||
		fail "no route $A/${PA[$i]} -> $ADDR:$((8000 + i)) in nginx.conf"
done
d="$("$K" describe a1 -n alice)"
assert_contains "$(grep "Address:" <<<"$d")" "$ADDR" "describe: the container's address"
assert_contains "$(grep "Network:" <<<"$d")" "klangk_${KLANGK_INSTANCE_ID}_alice" "describe: its network"
echo "ok: a1 at $ADDR, routed there"

echo "== 2. nothing listens on the leased host ports"
info="$(engine_get "/v1.41/containers/$(ws_field a1 alice .status.container.name)/json")"
# (Podman lists the exposed ports in PortBindings with no binding.)
assert_eq "" "$(jq -r '[.HostConfig.PortBindings // {} | .[] | select(. != null) | .[] | .HostPort // empty | select(. != "")] | join(" ")' <<<"$info")" \
	"PortBindings"
assert_eq "" "$(jq -r '[.NetworkSettings.Ports // {} | .[] | select(. != null) | .[].HostPort] | join(" ")' <<<"$info")" \
	"host ports the engine bound"
for p in "${PA[@]}" "$PB1"; do
	[ -z "$(ss -Hltn "( sport = :$p )")" ] || fail "something listens on leased port $p: $(ss -Hltnp "( sport = :$p )")"
	! curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$p/" || fail "127.0.0.1:$p answers"
done
assert_contains "$(jq -r '.Config.Env[]' <<<"$info")" \
	"KLANGK_PORT_MAPPINGS=8000:${PA[0]},8001:${PA[1]},8002:${PA[2]},8003:${PA[3]},8004:${PA[4]}" \
	"KLANGK_PORT_MAPPINGS names the leased ports"
echo "ok: leased ports ${PA[*]} $PB1 unbound"

echo "== 3. the proxy's checks"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A container-port=8000 host-port=${PA[0]}" "a1:8000"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[4]}/x")" "klangk-echo workspace=$A port=8004" "a1:8004"
assert_eq 404 "$(http_code "$NGX/hosted/0123456789ab/${PA[0]}/")" "unknown id"
assert_eq 404 "$(http_code "$NGX/hosted/$A/$PB1/")" "another workspace's port"
assert_eq 404 "$(http_code "$NGX/hosted/$A/$ETCD_PORT/")" "etcd's port"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A/${PA[0]}?q=1")"
assert_eq "301 /hosted/$A/${PA[0]}/?q=1" "$loc" "slash-less redirect"
out="$(/usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PA[4]}/ws" hello)" ||
	fail "websocket echo: $out"
assert_eq hello "$out" "websocket echo"
/usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PA[4]}" slashless >/dev/null ||
	fail "websocket on the slash-less URL"
etcdctl del /klangk/activity/alice/a1 >/dev/null
curl -sf -o /dev/null "$NGX/hosted/$A/${PA[1]}/"
wait_for "a1's activity" 10 sh -c '[ -n "$(etcdctl get --print-value-only /klangk/activity/alice/a1)" ]' ||
	fail "a hosted request was not recorded as activity"
echo "ok: app, 404s, redirect, WebSocket, activity"

echo "== 4. another tenant's network: routed, and isolated"
answers_as "$NGX/hosted/$B/$PB1/" "$B" || fail "bob's app is not served"
BADDR="$(status_addr b1 bob)"
[ -n "$BADDR" ] && [ "$BADDR" = "$(addr_of b1 bob)" ] || fail "b1's status address '$BADDR'"
reaches a1 alice "$BADDR" 8000 && fail "alice's workspace reached bob's at $BADDR:8000"
reaches b1 bob "$ADDR" 8000 && fail "bob's workspace reached alice's at $ADDR:8000"
echo "ok: bob's app at $BADDR served; alice and bob do not reach each other"

echo "== 5. recreated, stopped, started at a new address"
cid="$(ws_field a1 alice .status.container.id)"
ws_apply alice a1 '{"hostedPorts": 5, "env": [{"name": "MARK", "value": "2"}]}'
wait_ws_converged a1 alice 60
[ "$(ws_field a1 alice .status.container.id)" != "$cid" ] || fail "a1 was not recreated"
NEW="$(addr_of a1 alice)"
assert_eq "$NEW" "$(status_addr a1 alice)" "the recreated container's address in the status"
wait_for "a1 served by its new container" 20 answers_as "$NGX/hosted/$A/${PA[1]}/" "$A" ||
	fail "the recreated a1 is not served"
grep -q "$A/${PA[1]} $NEW:8001;" "$NGINX_DIR/nginx.conf" || fail "no route to $NEW"
echo "ok: recreated at $NEW (was $ADDR) and routed there"

OLD="$NEW"
"$K" stop a1 -n alice >/dev/null
_stopped() { [ "$(ws_field a1 alice .status.phase)" = Stopped ]; }
wait_for "a1 stopped" 30 _stopped || fail "a1 did not stop: $(ws_json a1 alice)"
assert_eq "" "$(status_addr a1 alice)" "a stopped workspace's address"
wait_for "a1's routes gone" 20 px_code_is 404 "$NGX/hosted/$A/${PA[1]}/" || fail "a stopped a1 is still routed"
# Another workspace of alice's now, which may be given a1's old address
# (dockerd hands out the lowest free one).
ws_apply alice a2 '{"hostedPorts": 2}'
wait_hosted_app a2 alice
A2="$HOSTED_ID" PA2="$HOSTED_PORT"
"$K" start a1 -n alice >/dev/null
wait_ws_converged a1 alice 60
NEW="$(addr_of a1 alice)"
assert_eq "$NEW" "$(status_addr a1 alice)" "the restarted container's address in the status"
wait_for "a1 served again" 20 answers_as "$NGX/hosted/$A/${PA[1]}/" "$A" || fail "the restarted a1 is not served"
answers_as "$NGX/hosted/$A2/$PA2/" "$A2" || fail "a2 is not served as itself"
echo "ok: a1 at $NEW after the stop (was $OLD; a2 at $(status_addr a2 alice)), each routed to its own"
echo "== 6. origin mode routes to the addresses too"
gen="$(px_generation)"
bed_stop_proxygen
KLANGK_HOSTING_DOMAIN="apps.localhost:$KLANGK_NGINX_PORT" px_start_proxygen
wait_for "the origin-mode configuration" 20 px_applied_since "$gen" || fail "no new generation confirmed"
body="$(curl -sf --max-time 5 -H "Host: $A-${PA[1]}.apps.localhost:$KLANGK_NGINX_PORT" "$NGX/")" ||
	fail "a1's origin does not answer"
assert_contains "$body" "workspace=$A container-port=8001" "a1 at its origin"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A2/$PA2/x?y=1")"
assert_eq "307 http://$A2-$PA2.apps.localhost:$KLANGK_NGINX_PORT/x?y=1" "$loc" "a path URL redirects to its origin"
echo "ok: origin mode"
echo "PASS test_publish_none"
