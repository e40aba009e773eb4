#!/usr/bin/env bash
# proxy-gen's routing on a real nginx, with status keys written directly and
# test-image containers as the hosted apps:
#   - each (id, port) of a Running workspace reaches its own container port,
#     and so does a Pending one's (being created: routed ahead of Ready);
#   - 404 for an unknown id, another workspace's port, a loopback port not
#     leased (etcd's), an unleased port, an upper-case id, a path outside the
#     base, a Stopped, Terminating or Failed workspace, a workspace with
#     hostedPorts 0;
#   - the raw URI and query pass unchanged; the slash-less URL redirects to
#     <base>/hosted/<id>/<port>/, but a WebSocket handshake on it is proxied;
#   - no body size limit (a 3 MB upload, with a length and chunked) and no
#     response buffering (a response's first line arrives while it goes on);
#   - a WebSocket echo through the proxy (short and 100 kB messages);
#   - X-Forwarded-* composition without a trusted proxy (client values never
#     reach the app) and, after a restart with KLANGK_HOSTING_BASE_PATH=/klangk
#     KLANGK_TRUST_FORWARDED=1, with one (outer values honoured when well-formed;
#     the redirect carries outer prefix and base path).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
source "$HERE/proxy_helpers.sh"

A=aaaa00000000000a # workspace ids (lowercase hex, 12..32)
B=bbbb00000000000b
C=cccc00000000000c
D=dddd00000000000d
E=eeee00000000000e
F=ffff00000000000f
G=abcd00000000000a
read -ra PA <<<"$(px_new_ports 5)"
read -ra PB <<<"$(px_new_ports 5)"
read -ra PD <<<"$(px_new_ports 5)"
read -ra PF <<<"$(px_new_ports 2)"
PE="$(px_new_ports 1)"
PG="$(px_new_ports 1)"
UNLEASED="$(px_new_ports 1)"

px_container px-a "$A" "${PA[@]}" >/dev/null || fail "container a"
px_container px-b "$B" "${PB[@]}" >/dev/null || fail "container b"
px_container px-e "$E" "$PE" >/dev/null || fail "container e"
px_status alice a "$A" Running "${PA[@]}"
px_status bob b "$B" Running "${PB[@]}"
px_status carol c "$C" Running            # hostedPorts: 0
px_status dave d "$D" Stopped "${PD[@]}"
px_status erin e "$E" Pending "$PE"
px_status frank f "$F" Terminating "${PF[@]}"
px_status grace g "$G" Failed "$PG"
etcdput /klangk/status/eve/bad '{"id": "AB;} evil", "phase": "Running", "ports": [{"container": 8000, "host": 80}]}'

px_start_proxygen
wait_for "routes of a, b and e" 20 px_metric_is klangk_proxygen_routes 11 ||
	fail "routes: $(px_metric klangk_proxygen_routes)"
assert_eq 1 "$(px_metric klangk_proxygen_invalid_status)" "invalid status entries skipped"
! grep -q "evil" "$NGINX_DIR/nginx.conf" || fail "an invalid status value reached nginx.conf"

echo "== routing"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[0]}/")" "workspace=$A container-port=8000 host-port=${PA[0]}" "a:8000"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[3]}/")" "workspace=$A container-port=8003 host-port=${PA[3]}" "a:8003"
assert_contains "$(curl -sf "$NGX/hosted/$B/${PB[1]}/index.html")" "workspace=$B container-port=8001" "b:8001"
assert_contains "$(curl -sf "$NGX/hosted/$A/${PA[4]}/x")" "klangk-echo workspace=$A port=8004" "a:8004 echo server"
assert_contains "$(curl -sf "$NGX/hosted/$E/$PE/")" "workspace=$E container-port=8000 host-port=$PE" "a Pending workspace is routed"

echo "== 404s"
assert_eq 404 "$(http_code "$NGX/hosted/0123456789ab/${PA[0]}/")" "unknown id"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PB[0]}/")" "another workspace's port"
assert_eq 404 "$(http_code "$NGX/hosted/$A/$ETCD_PORT/")" "etcd's loopback port"
assert_eq 404 "$(http_code "$NGX/hosted/$A/$UNLEASED/")" "an unleased port"
assert_eq 404 "$(http_code "$NGX/hosted/${A^^}/${PA[0]}/")" "upper-case id"
assert_eq 404 "$(http_code "$NGX/hosted/$A/0${PA[0]}/")" "port with a leading zero"
assert_eq 404 "$(http_code "$NGX/hosted/$A/")" "no port"
assert_eq 404 "$(http_code "$NGX/other/hosted/$A/${PA[0]}/")" "path outside the base"
assert_eq 404 "$(http_code "$NGX/")" "root"
assert_eq 404 "$(http_code "$NGX/hosted/$D/${PD[0]}/")" "a Stopped workspace"
assert_eq 404 "$(http_code "$NGX/hosted/$F/${PF[0]}/")" "a Terminating workspace"
assert_eq 404 "$(http_code "$NGX/hosted/$G/$PG/")" "a Failed workspace"
for p in "${PA[@]}" 8000 80; do
	assert_eq 404 "$(http_code "$NGX/hosted/$C/$p/")" "hostedPorts 0 workspace, port $p"
done
! grep -q "$C" "$NGINX_DIR/nginx.conf" || fail "the hostedPorts 0 workspace has a route"
# Dot-segments are resolved before the allow-list is consulted: they reach
# no port the normalized path does not own.
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PA[0]}/../$UNLEASED/" --path-as-is)" "dot-segments to an unleased port"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PA[0]}/../$ETCD_PORT/" --path-as-is)" "dot-segments to etcd"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PA[0]}/%2e%2e/$ETCD_PORT/" --path-as-is)" "encoded dot-segments to etcd"
assert_contains "$(curl -sf --path-as-is "$NGX/hosted/$A/${PA[0]}/../../$B/${PB[0]}/")" "workspace=$B" \
	"dot-segments lead to the normalized path's own upstream"

echo "== raw URI, query, redirect"
raw="/hosted/$A/${PA[4]}/a%2Fb/./c%20d/..//e?x=%20y&z=1"
body="$(curl -sf --path-as-is "$NGX$raw")"
assert_contains "$body" "GET $raw HTTP/1.1" "raw request line at the app"
loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' "$NGX/hosted/$A/${PA[0]}?q=1&r=2")"
assert_eq "301 /hosted/$A/${PA[0]}/?q=1&r=2" "$loc" "slash-less redirect"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PB[0]}")" "slash-less URL of a foreign port: 404, no redirect"
# A WebSocket handshake on the slash-less URL is proxied, not redirected.
out="$(/usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PA[4]}" slashless)" ||
	fail "websocket on the slash-less URL: $out"

echo "== no body size limit, no buffering"
# A 3 MB upload (nginx's default limit is 1 MiB) arrives whole, with a
# Content-Length and chunked; wsecho answers with the body's size and hash.
head -c 3000000 /dev/urandom >"$BED/upload"
sum="$(sha256sum "$BED/upload" | cut -c1-64)"
out="$(curl -sf --data-binary @"$BED/upload" -H 'Content-Type: application/octet-stream' \
	"$NGX/hosted/$A/${PA[4]}/upload")" || fail "a 3 MB upload was refused"
assert_contains "$out" "body bytes=3000000 sha256=$sum" "a 3 MB upload"
out="$(curl -sf --data-binary @"$BED/upload" -H 'Transfer-Encoding: chunked' \
	"$NGX/hosted/$A/${PA[4]}/upload")" || fail "a 3 MB chunked upload was refused"
assert_contains "$out" "body bytes=3000000 sha256=$sum" "a 3 MB chunked upload"
# A response is passed on as it comes: /drip sends one line, then holds the
# connection open (a buffering proxy would hold the line back).
curl -sN --max-time 60 "$NGX/hosted/$A/${PA[4]}/drip" >"$BED/drip.out" 2>/dev/null &
drip=$!
wait_for "the first line of a response in progress" 10 grep -qx first "$BED/drip.out" ||
	fail "the start of a response was held back"
_bed_alive "$drip" || fail "the /drip response ended early"
kill "$drip"
wait "$drip" 2>/dev/null || true

echo "== WebSocket echo"
big="$(head -c 100000 /dev/zero | tr "\\0" x)"
out="$(/usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PA[4]}/ws" hello "second message" "$big" | cut -c1-20)" ||
	fail "websocket echo failed: $out"
assert_eq "hello
second message
xxxxxxxxxxxxxxxxxxxx" "$out" "websocket echoes"
# Not through another workspace's port.
! /usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$A/${PB[4]}/ws" x >/dev/null 2>&1 ||
	fail "websocket to another workspace's port connected"

echo "== headers without a trusted proxy"
h="$(curl -sf "$NGX/hosted/$A/${PA[4]}/h" -H 'X-Forwarded-Host: evil.example' \
	-H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Prefix: /evil' \
	-H 'X-Forwarded-For: 6.6.6.6' -H 'Forwarded: for=6.6.6.6;host=evil.example')"
assert_contains "$h" "X-Forwarded-Host: 127.0.0.1:$KLANGK_NGINX_PORT" "X-Forwarded-Host"
assert_contains "$h" "X-Forwarded-Proto: http" "X-Forwarded-Proto"
assert_contains "$h" "X-Forwarded-For: 127.0.0.1" "X-Forwarded-For"
assert_contains "$h" "Host: 127.0.0.1:$KLANGK_NGINX_PORT" "Host"
assert_not_contains "$h" "evil" "client's forwarding headers"
assert_not_contains "$h" "6.6.6.6" "client's X-Forwarded-For"
assert_not_contains "$h" "X-Forwarded-Prefix" "X-Forwarded-Prefix without a base path"
# A client's own X-Forwarded-Prefix does not steer the redirect either.
loc="$(curl -s -o /dev/null -w '%header{location}' -H 'X-Forwarded-Prefix: /evil' "$NGX/hosted/$A/${PA[0]}")"
assert_eq "/hosted/$A/${PA[0]}/" "$loc" "redirect ignores an untrusted prefix"

echo "== base path /klangk, trusted outer proxy"
gen="$(px_generation)"
bed_stop_proxygen
# Configured from the environment (--base-path and --trust-forwarded set the same).
KLANGK_HOSTING_BASE_PATH=/klangk KLANGK_TRUST_FORWARDED=1 px_start_proxygen
wait_for "the new configuration" 20 px_applied_since "$gen" || fail "no new generation confirmed"
assert_contains "$(curl -sf "$NGX/klangk/hosted/$A/${PA[4]}/")" "klangk-echo workspace=$A" "under the base path"
assert_eq 404 "$(http_code "$NGX/hosted/$A/${PA[4]}/")" "outside the base path"
assert_eq 404 "$(http_code "$NGX/klangkx/hosted/$A/${PA[4]}/")" "a longer first segment"

h="$(curl -sf "$NGX/klangk/hosted/$A/${PA[4]}/h" -H 'X-Forwarded-Host: outer.example:8443' \
	-H 'X-Forwarded-Proto: https' -H 'X-Forwarded-Prefix: /outer/' -H 'X-Forwarded-For: 6.6.6.6')"
assert_contains "$h" "X-Forwarded-Host: outer.example:8443" "trusted X-Forwarded-Host"
assert_contains "$h" "X-Forwarded-Proto: https" "trusted X-Forwarded-Proto"
assert_contains "$h" "X-Forwarded-Prefix: /outer/klangk" "trusted prefix + base path"
assert_contains "$h" "X-Forwarded-For: 6.6.6.6, 127.0.0.1" "trusted X-Forwarded-For appended"
h="$(curl -sf "$NGX/klangk/hosted/$A/${PA[4]}/h")"
assert_contains "$h" "X-Forwarded-Host: 127.0.0.1:$KLANGK_NGINX_PORT" "no outer host: the request's"
assert_contains "$h" "X-Forwarded-Proto: http" "no outer proto: the request's"
assert_contains "$h" "X-Forwarded-Prefix: /klangk" "no outer prefix: the base path"
# Malformed outer values fall back to the request's own.
h="$(curl -sf "$NGX/klangk/hosted/$A/${PA[4]}/h" -H 'X-Forwarded-Host: evil.example/path' \
	-H 'X-Forwarded-Proto: javascript' -H 'X-Forwarded-Prefix: //evil.example')"
assert_contains "$h" "X-Forwarded-Host: 127.0.0.1:$KLANGK_NGINX_PORT" "malformed outer host"
assert_contains "$h" "X-Forwarded-Proto: http" "malformed outer proto"
assert_contains "$h" "X-Forwarded-Prefix: /klangk" "malformed outer prefix"
assert_not_contains "$h" "evil.example" "malformed values"
# A list: the first (the outermost proxy's) entry.
h="$(curl -sf "$NGX/klangk/hosted/$A/${PA[4]}/h" -H 'X-Forwarded-Host: first.example, second.example' \
	-H 'X-Forwarded-Proto: https,http')"
assert_contains "$h" "X-Forwarded-Host: first.example" "first of a host list"
assert_contains "$h" "X-Forwarded-Proto: https" "first of a proto list"

loc="$(curl -s -o /dev/null -w '%{http_code} %header{location}' -H 'X-Forwarded-Prefix: /outer' \
	"$NGX/klangk/hosted/$A/${PA[0]}?q=1")"
assert_eq "301 /outer/klangk/hosted/$A/${PA[0]}/?q=1" "$loc" "redirect with outer prefix and base path"
loc="$(curl -s -o /dev/null -w '%header{location}' "$NGX/klangk/hosted/$A/${PA[0]}")"
assert_eq "/klangk/hosted/$A/${PA[0]}/" "$loc" "redirect with the base path only"
loc="$(curl -s -o /dev/null -w '%header{location}' -H 'X-Forwarded-Prefix: //evil.example' "$NGX/klangk/hosted/$A/${PA[0]}")"
assert_eq "/klangk/hosted/$A/${PA[0]}/" "$loc" "redirect ignores a malformed prefix"
out="$(/usr/bin/python3 "$WSCLIENT" "ws://127.0.0.1:$KLANGK_NGINX_PORT/klangk/hosted/$A/${PA[4]}" under-base)" ||
	fail "websocket under the base path: $out"

echo "PASS: test_proxy_routing"
