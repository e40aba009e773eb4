#!/usr/bin/env bash
# Origin mode (KLANGK_HOSTING_DOMAIN, docs/proxy-gen.md) on a real nginx,
# with status keys written directly and test-image containers as the apps,
# then with the controller:
#   - each (id, port) of a routable workspace is served at the host
#     <id>-<port>.<domain>, whatever the case of the Host header or its port,
#     reaching its own container port; WebSockets included;
#   - 404 for an unknown id, another workspace's port, etcd's loopback port,
#     a port with a leading zero, an id too long, another domain, a name
#     inside or around the app's, the bare domain; 400 for hostile Host
#     headers (odd characters, too long), and nginx keeps serving;
#   - the path URL <base>/hosted/<id>/<port>/... redirects (307) to the
#     app's origin with the raw path and query; unknown routes, foreign ports
#     and non-canonical prefixes get 404; nothing is proxied on the shared
#     host (a WebSocket handshake on a path URL is not upgraded);
#   - X-Forwarded-* as in path mode (the app at its origin's root);
#   - the controller Stalls a members-only app without origin mode, and
#     copies the access into status.ports[].access with it;
#   - the controller writes origin URLs into status.urls, `klangkc url`
#     prints them, and the container gets KLANGK_HOSTING_DOMAIN.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
source "$HERE/proxy_helpers.sh"

DOMAIN=apps.test
P="$KLANGK_NGINX_PORT"
A=aaaa00000000000a
B=bbbb00000000000b
read -ra PA <<<"$(px_new_ports 5)"
read -ra PB <<<"$(px_new_ports 1)"

px_container px-a "$A" "${PA[@]}" >/dev/null || fail "container a"
px_container px-b "$B" "${PB[@]}" >/dev/null || fail "container b"
px_status alice a "$A" Running "${PA[@]}"
px_status bob b "$B" Running "${PB[@]}"

KLANGK_HOSTING_DOMAIN="$DOMAIN:$P" px_start_proxygen
wait_for "routes of a and b" 20 px_metric_is klangk_proxygen_routes 6 ||
	fail "routes: $(px_metric klangk_proxygen_routes)"

# at HOST [CURL_ARGS...] PATH: GET http://127.0.0.1:P/PATH with that Host.
at() {
	local host="$1"
	shift
	curl -s --max-time 10 -H "Host: $host" "$@"
}
code_at() {
	local host="$1"
	shift
	at "$host" -o /dev/null -w '%{http_code}' "$@" || true
}

echo "== routing by host"
assert_contains "$(at "$A-${PA[0]}.$DOMAIN" -f "$NGX/")" "workspace=$A container-port=8000 host-port=${PA[0]}" "a:8000"
assert_contains "$(at "$A-${PA[3]}.$DOMAIN:$P" -f "$NGX/")" "workspace=$A container-port=8003" "a:8003, Host with port"
assert_contains "$(at "$B-${PB[0]}.$DOMAIN" -f "$NGX/")" "workspace=$B container-port=8000" "b:8000"
up="${A^^}-${PA[1]}.${DOMAIN^^}"
assert_contains "$(at "$up" -f "$NGX/")" "workspace=$A container-port=8001" "upper-case Host"
assert_contains "$(at "$A-${PA[1]}.$DOMAIN." -f "$NGX/")" "workspace=$A container-port=8001" "Host with a trailing dot"
raw="/a%2Fb/./c%20d/..//e?x=%20y&z=1"
assert_contains "$(at "$A-${PA[4]}.$DOMAIN" -f --path-as-is "$NGX$raw")" "GET $raw HTTP/1.1" "raw request line at the app"

echo "== 404 and 400"
assert_eq 404 "$(code_at "0123456789ab-${PA[0]}.$DOMAIN" "$NGX/")" "unknown id"
assert_eq 404 "$(code_at "$A-${PB[0]}.$DOMAIN" "$NGX/")" "another workspace's port"
assert_eq 404 "$(code_at "$B-${PA[0]}.$DOMAIN" "$NGX/")" "a port of A under B's id"
assert_eq 404 "$(code_at "$A-$ETCD_PORT.$DOMAIN" "$NGX/")" "etcd's loopback port"
assert_eq 404 "$(code_at "$A-0${PA[0]}.$DOMAIN" "$NGX/")" "port with a leading zero"
assert_eq 404 "$(code_at "${A}${A}${A}-${PA[0]}.$DOMAIN" "$NGX/")" "id longer than 32"
assert_eq 404 "$(code_at "$A-${PA[0]}.other.test" "$NGX/")" "another domain"
assert_eq 404 "$(code_at "$A-${PA[0]}.$DOMAIN.evil.test" "$NGX/")" "the name as a prefix of another"
assert_eq 404 "$(code_at "x.$A-${PA[0]}.$DOMAIN" "$NGX/")" "a name below the app's"
assert_eq 404 "$(code_at "x$A-${PA[0]}.$DOMAIN" "$NGX/")" "a longer first label"
assert_eq 404 "$(code_at "$A-${PA[0]}x$DOMAIN" "$NGX/")" "the dot before the domain is literal"
assert_eq 404 "$(code_at "$DOMAIN" "$NGX/")" "the bare domain"
assert_eq 404 "$(code_at "127.0.0.1:$P" "$NGX/")" "the address"
for h in "$A-${PA[0]}.$DOMAIN/x" "$A-${PA[0]}.$DOMAIN\\x" "a b.$DOMAIN" "$A-${PA[0]}..$DOMAIN"; do
	c="$(code_at "$h" "$NGX/")"
	[ "$c" = 400 ] || [ "$c" = 404 ] || fail "Host '$h': $c, want 400 or 404"
done
long="$(head -c 300 /dev/zero | tr '\0' a)"
c="$(code_at "$long.$DOMAIN" "$NGX/")"
[ "$c" = 400 ] || [ "$c" = 404 ] || fail "a 300-character Host: $c"
long="$(head -c 20000 /dev/zero | tr '\0' a)"
c="$(code_at "$long.$DOMAIN" "$NGX/")"
[ "${c:0:1}" = 4 ] || fail "a 20000-character Host: $c"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host:' --http1.1 "$NGX/")" "an empty Host"
assert_contains "$(at "$A-${PA[0]}.$DOMAIN" -f "$NGX/")" "workspace=$A" "nginx serves on after hostile names"
! grep -q "emerg\|crit\|alert" "$NGINX_DIR/error.log" || fail "nginx: $(grep "emerg\|crit\|alert" "$NGINX_DIR/error.log")"

echo "== path URLs redirect to the origin"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A/${PA[0]}/x/y%20z?q=1&r=%20")"
assert_eq "307 http://$A-${PA[0]}.$DOMAIN:$P/x/y%20z?q=1&r=%20" "$loc" "path and query kept"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A/${PA[1]}?q=1")"
assert_eq "307 http://$A-${PA[1]}.$DOMAIN:$P/?q=1" "$loc" "slash-less path URL"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A/${PA[1]}")"
assert_eq "307 http://$A-${PA[1]}.$DOMAIN:$P/" "$loc" "slash-less path URL, no query"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' -X POST --data x=1 "$NGX/hosted/$A/${PA[1]}/form")"
assert_eq "307 http://$A-${PA[1]}.$DOMAIN:$P/form" "$loc" "a POST is redirected as it is (307)"
# The raw URI is what is kept, never the decoded one: encoded characters
# stay encoded, and an encoded CR LF splits no header.
hdrs="$(curl -s -D - -o /dev/null "$NGX/hosted/$A/${PA[0]}/a%3Cb%3E%22%0d%0aSet-Cookie:%20x=1")"
assert_not_contains "$hdrs" "Set-Cookie: x" "no header injected"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A/${PA[0]}/a%3Cb%3E%22%2F")"
assert_eq "307 http://$A-${PA[0]}.$DOMAIN:$P/a%3Cb%3E%22%2F" "$loc" "encoded characters stay encoded"
assert_eq 404 "$(http_code "$NGX/hosted/0123456789ab/${PA[0]}/")" "path URL of an unknown id"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PB[0]}/")" "path URL of another workspace's port"
assert_eq 404 "$(http_code "$NGX/hosted/${A^^}/${PA[0]}/")" "path URL with an upper-case id"
assert_eq 404 "$(http_code "$NGX/hosted/$B/${PB[0]}/../../$A/${PA[0]}/" --path-as-is)" "a prefix with dot-segments"
assert_eq 404 "$(http_code "$NGX/hosted/%61aaa00000000000a/${PA[0]}/" --path-as-is)" "a percent-encoded prefix"
assert_eq 404 "$(http_code "$NGX/hosted//$A/${PA[0]}/" --path-as-is)" "a doubled slash in the prefix"
assert_eq 404 "$(http_code "$NGX/")" "the root of the shared host"
# Nothing is proxied on the shared host, WebSockets included.
c="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$NGX/hosted/$A/${PA[4]}/ws")"
assert_eq 307 "$c" "a WebSocket handshake on a path URL is redirected, not upgraded"

echo "== WebSocket at the origin"
big="$(head -c 100000 /dev/zero | tr "\\0" x)"
out="$(/usr/bin/python3 "$WSCLIENT" --connect "127.0.0.1:$P" "ws://$A-${PA[4]}.$DOMAIN:$P/ws" hello "$big" | cut -c1-20)" ||
	fail "websocket echo at the origin failed: $out"
assert_eq "hello
xxxxxxxxxxxxxxxxxxxx" "$out" "websocket echoes at the origin"
! /usr/bin/python3 "$WSCLIENT" --connect "127.0.0.1:$P" "ws://$A-${PB[0]}.$DOMAIN:$P/ws" x >/dev/null 2>&1 ||
	fail "websocket to another workspace's port connected"

echo "== forwarding headers"
h="$(at "$A-${PA[4]}.$DOMAIN:$P" -f "$NGX/h" -H 'X-Forwarded-Host: evil.example' -H 'X-Forwarded-Prefix: /evil' \
	-H 'X-Forwarded-For: 6.6.6.6')"
assert_contains "$h" "X-Forwarded-Host: $A-${PA[4]}.$DOMAIN:$P" "X-Forwarded-Host is the app's origin"
assert_contains "$h" "Host: $A-${PA[4]}.$DOMAIN:$P" "Host"
assert_contains "$h" "X-Forwarded-Proto: http" "X-Forwarded-Proto"
assert_contains "$h" "X-Forwarded-For: 127.0.0.1" "X-Forwarded-For"
assert_not_contains "$h" "evil" "client's forwarding headers"
assert_not_contains "$h" "X-Forwarded-Prefix" "no prefix: the app is at its origin's root"

echo "== trusted outer proxy, https"
gen="$(px_generation)"
bed_stop_proxygen
KLANGK_HOSTING_DOMAIN="$DOMAIN" KLANGK_HOSTING_PROTO=https KLANGK_HOSTING_BASE_PATH=/klangk \
	KLANGK_TRUST_FORWARDED=1 px_start_proxygen
wait_for "the new configuration" 20 px_applied_since "$gen" || fail "no new generation confirmed"
h="$(at "$A-${PA[4]}.$DOMAIN" -f "$NGX/h" -H "X-Forwarded-Host: $A-${PA[4]}.$DOMAIN" -H 'X-Forwarded-Proto: https')"
assert_contains "$h" "X-Forwarded-Host: $A-${PA[4]}.$DOMAIN" "trusted X-Forwarded-Host"
assert_contains "$h" "X-Forwarded-Proto: https" "trusted X-Forwarded-Proto"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/klangk/hosted/$A/${PA[0]}/p?q")"
assert_eq "307 https://$A-${PA[0]}.$DOMAIN/p?q" "$loc" "redirect under the base path, https, no port"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PA[0]}/")" "outside the base path"
bed_stop_proxygen

echo "== the controller: a members-only app needs origin mode"
engine_post "/v1.41/containers/px-a/stop?t=0" >/dev/null || true
bed_start_controller
ws_apply carol app '{"hostedPorts": 2, "hostedApps": [{"port": 8000, "access": "members"}]}'
wait_ws_reason app carol OriginModeRequired
assert_eq "spec.hostedApps: port 8000 has access members, which needs origin mode (KLANGK_HOSTING_DOMAIN is not set); the port is not routed" \
	"$(ws_cond app carol Stalled message)" "the Stalled message names the field"
bed_stop_controller

echo "== the controller: status.urls, klangkc url, the container's env, the access"
export KLANGK_HOSTING_DOMAIN="$DOMAIN:$P"
bed_start_controller
px_start_proxygen
wait_ws_converged app carol 60
assert_eq "members -" "$(ws_field app carol '[.status.ports[0].access, (.status.ports[1].access // "-")] | join(" ")')" \
	"status.ports[].access from spec.hostedApps"
id="$(ws_field app carol .status.id)"
p1="$(ws_field app carol '.status.ports[1].host')"
assert_eq "http://$id-$p1.$DOMAIN:$P/" "$(ws_field app carol '.status.urls[1]')" "status.urls"
assert_eq "http://$id-$p1.$DOMAIN:$P/" "$("$BIN/klangkc" url app -n carol 8001)" "klangkc url"
env="$(engine_get "/v1.41/containers/json?all=1&filters=$(jq -rn --arg l "klangk.workspace" '{label: [$l]} | tojson | @uri')" |
	jq -r '.[].Id' | while read -r c; do engine_get "/v1.41/containers/$c/json" | jq -r '.Config.Env[]'; done)"
assert_contains "$env" "KLANGK_HOSTING_DOMAIN=$DOMAIN:$P" "the container's KLANGK_HOSTING_DOMAIN"
assert_contains "$env" "KLANGK_WORKSPACE_ID=$id" "the container's KLANGK_WORKSPACE_ID"
wait_for "the app at its origin" 30 sh -c "curl -sf --max-time 5 -H 'Host: $id-$p1.$DOMAIN' '$NGX/' | grep -q 'workspace=$id'" ||
	fail "GET $id-$p1.$DOMAIN: $(at "$id-$p1.$DOMAIN" "$NGX/")"

echo "PASS: test_proxy_origin"
