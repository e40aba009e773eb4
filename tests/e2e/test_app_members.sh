#!/usr/bin/env bash
# e2e: engine-independent
# Members-only hosted apps (spec.hostedApps access: members; origin mode),
# from the visitor's and the attacker's side, with etcd's authentication
# on and real etcd users: alice owns alice/app (members: bob), carol is a
# stranger.  Its status (as the controller writes it) has three apps:
# container port 8000 members-only, 8001 public, 8002 members-only.  The
# apps are one loopback echo server (what it was asked, the X-Klangk-User
# header and the Cookie header it got); proxy-gen routes status keys,
# whatever listens on the leased ports.  The etcd roles are the ones the
# controller grants (controller/rbac.c, tested by test_etcd_security): bob
# may read alice/app while he is a member.
#   - klangkc describe and get show which ports are members-only;
#   - curl: anonymous -> 302 to the gateway's page for the app (path and
#     query kept); the public app answers without any of it; a member's
#     ticket (HTTP Basic) -> the callback sets a host-only HttpOnly
#     SameSite=Lax cookie and redirects back; the app then answers with the
#     user, and never sees the app cookie; a replayed ticket, a forged or
#     altered cookie, another app's cookie and a ticket for another app are
#     refused; a stranger gets 403;
#   - chromium: bob opens the app, signs in on the gateway's page and lands
#     on the app; carol gets the page's 403; the gateway's session cookie
#     stays on the gateway's host;
#   - bob removed (spec and role, as the controller does): his cookie works
#     until it expires (KLANGK_GATEWAY_APP_COOKIE_SECONDS, short here), then
#     the app sends him to sign in, and the gateway refuses him;
#   - with the gateway down, the public app still answers (public routes
#     never ask the gateway), the members-only one does not.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
bed_browser || fail "the browser or its driver is missing"
trap 'kill "${APP_PID:-}" 2>/dev/null || true; bed_down' EXIT
bed_up
source "$HERE/proxy_helpers.sh"

ID=a11ce0000000000a
P="$KLANGK_NGINX_PORT"
read -r PM PP PO <<<"$(px_new_ports 3)"
COOKIE_S=6

# The echo app on the three ports.
/usr/bin/python3 - "$PM" "$PP" "$PO" >"$BED/app.log" 2>&1 <<'PY' &
import http.server, socketserver, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "APP %s user=%s cookie=%s" % (self.path, self.headers.get("X-Klangk-User", "-"),
                                           self.headers.get("Cookie", "-"))
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
for p in sys.argv[1:]:
    s = S(("127.0.0.1", int(p)), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
PY
APP_PID=$!
wait_for "the app" 20 grep -qx ready "$BED/app.log" || fail "app: $(cat "$BED/app.log")"

bed_etcd_users alice bob carol || fail "etcd users"
# What the controller grants (controller/rbac.c): the owner her namespace,
# the member read on the workspace and its status.
role() { etcdctl role add "klangk:user:$1" >/dev/null && etcdctl user grant-role "$1" "klangk:user:$1" >/dev/null; }
for u in alice bob carol; do role "$u" || fail "role of $u"; done
etcdctl role grant-permission "klangk:user:alice" --prefix readwrite /klangk/workspaces/alice/ >/dev/null
etcdctl role grant-permission "klangk:user:alice" --prefix read /klangk/status/alice/ >/dev/null
etcdctl role grant-permission "klangk:user:carol" --prefix readwrite /klangk/workspaces/carol/ >/dev/null
etcdctl role grant-permission "klangk:user:bob" read /klangk/workspaces/alice/app >/dev/null
etcdctl role grant-permission "klangk:user:bob" read /klangk/status/alice/app >/dev/null
spec() {
	etcdput /klangk/workspaces/alice/app "{\"apiVersion\": \"klangk.io/v1alpha1\", \"kind\": \"Workspace\",
		\"metadata\": {\"name\": \"app\", \"namespace\": \"alice\"},
		\"spec\": {\"hostedPorts\": 3, \"members\": [$1],
		\"hostedApps\": [{\"port\": 8000, \"access\": \"members\"}, {\"port\": 8002, \"access\": \"members\"}]}}"
}
spec '{"user": "bob", "role": "spectator"}'
etcdput /klangk/status/alice/app "{\"id\": \"$ID\", \"phase\": \"Running\", \"ports\": [
	{\"container\": 8000, \"host\": $PM, \"access\": \"members\"},
	{\"container\": 8001, \"host\": $PP},
	{\"container\": 8002, \"host\": $PO, \"access\": \"members\"}]}"

# The owner sees which apps are members-only, in the spec and in the status.
d="$(bed_as_tenant alice "$BIN/klangkc" describe app -n alice)" || fail "describe: $d"
assert_contains "$d" "8000: members" "describe: spec.hostedApps"
assert_contains "$(grep -- "8000 -> $PM" <<<"$d")" "(members only)" "describe: the members-only port"
! grep -- "8001 -> $PP" <<<"$d" | grep -q "members only" || fail "describe calls the public port members-only"
assert_contains "$(bed_as_tenant alice "$BIN/klangkc" get app -n alice)" "$PM/members,$PP,$PO/members" "get: PORTS"

export KLANGK_HOSTING_DOMAIN="apps.test:$P"
KLANGK_GATEWAY_APP_COOKIE_SECONDS=$COOKIE_S bed_start_gateway || fail "gateway"
GWP="${KLANGK_GATEWAY_URL##*:}"
GW_ORIGIN="http://gw.test:$GWP"
KLANGK_ETCD_USERNAME=klangk-controller KLANGK_ETCD_PASSWORD_FILE="$BED/secrets/klangk-controller" \
	KLANGK_GATEWAY_ADDRESS="127.0.0.1:$GWP" KLANGK_GATEWAY_ORIGIN="$GW_ORIGIN" px_start_proxygen ||
	fail "proxy-gen"
wait_for "routes" 20 px_metric_is klangk_proxygen_routes 3 || fail "routes: $(px_metric klangk_proxygen_routes)"

M="http://$ID-$PM.apps.test:$P"
PUB="http://$ID-$PP.apps.test:$P"
O="http://$ID-$PO.apps.test:$P"
c() { curl -s --max-time 10 --connect-to "::127.0.0.1:" "$@"; }
status_of() { c -o /dev/null -w '%{http_code}' "$@"; }
pw() { cat "$BED/secrets/$1"; }
# ticket USER APP PATH: the member's ticket URL (HTTP Basic), or the error.
ticket() {
	c -u "$1:$(pw "$1")" -H 'Content-Type: application/json' -w '\n%{http_code}' \
		-d "{\"app\": \"$2\", \"path\": \"$3\"}" "$KLANGK_GATEWAY_URL/api/v1/app/ticket"
}

echo "== anonymous: sent to the gateway's sign-in; the public app answers"
hdr="$(c -D - -o /dev/null "$M/some/path?q=1&r=%2F")"
assert_contains "$hdr" "HTTP/1.1 302" "anonymous visitor of the members-only app"
assert_contains "$hdr" "Location: $GW_ORIGIN/app/$ID-$PM/some/path?q=1&r=%2F" "to the gateway's page, path and query kept"
assert_eq "APP /p user=- cookie=a=1" "$(c -H 'Cookie: a=1' "$PUB/p")" "the public app, as before"
assert_eq 404 "$(status_of "$PUB/_klangk/callback?ticket=x")" "no callback on a public app"
assert_eq 404 "$(status_of "$M/_klangk/members")" "the internal locations are not reachable"
assert_eq 404 "$(status_of "$M/_klangk/auth")" "the internal auth location is not reachable"
assert_eq "307 $M/" "$(c -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$P/hosted/$ID/$PM/")" \
	"the path URL only redirects to the app's origin"

echo "== a member's ticket: the cookie on the app's origin only"
out="$(ticket bob "$ID-$PM" "/deep/link?x=1")"
assert_eq 200 "$(tail -1 <<<"$out")" "bob's ticket: $out"
url="$(head -1 <<<"$out" | jq -r .url)"
assert_contains "$url" "$M/_klangk/callback?ticket=" "the callback is on the app's origin"
hdr="$(c -D - -o /dev/null "$url")"
assert_contains "$hdr" "HTTP/1.1 302" "the callback redirects"
assert_contains "$hdr" "Location: $M/deep/link?x=1" "back to where bob was going"
setc="$(grep -i '^Set-Cookie: klangk_app=' <<<"$hdr" | tr -d '\r')"
assert_contains "$setc" "; Path=/; Max-Age=$COOKIE_S; HttpOnly; SameSite=Lax" "the app cookie's attributes"
assert_not_contains "$setc" "Domain=" "the app cookie is host-only"
assert_not_contains "$hdr" "klangk_session" "no gateway session on the app's origin"
V="$(sed 's/^Set-Cookie: klangk_app=\([^;]*\);.*/\1/I' <<<"$setc")"
assert_eq 403 "$(status_of "$url")" "a replayed ticket"
assert_eq "APP /deep/link?x=1 user=bob cookie=a=1; b=2" \
	"$(c -H "Cookie: a=1; klangk_app=$V; b=2" "$M/deep/link?x=1")" "the app sees bob, never the app cookie"
assert_eq "APP / user=bob cookie=b=2" "$(c -H "Cookie: klangk_app=$V; b=2" "$M/")" "the app cookie first"
assert_eq "APP / user=bob cookie=-" "$(c -H "Cookie: klangk_app=$V" "$M/")" "the app cookie alone"
assert_eq "APP / user=- cookie=klangk_app=$V" "$(c -H "Cookie: klangk_app=$V" "$PUB/")" \
	"(a public app gets its cookies as they come)"

echo "== the attacker's side"
forged="${V%.*}"; forged="${forged%%.*}.carol.${V##*.}"
assert_eq 302 "$(status_of -H "Cookie: klangk_app=$forged" "$M/")" "bob's signature on carol's name"
longer="$((${V%%.*} + 3600)).${V#*.}"
assert_eq 302 "$(status_of -H "Cookie: klangk_app=$longer" "$M/")" "a longer life, same signature"
assert_eq 302 "$(status_of -H "Cookie: klangk_app=${V%?}0" "$M/")" "an altered signature"
assert_eq 302 "$(status_of -H "Cookie: klangk_app=$V" "$O/")" "bob's cookie of one app on another"
assert_eq 302 "$(status_of -H "Cookie: xklangk_app=$V" "$M/")" "a cookie whose name ends the same"
out="$(ticket bob "$ID-$PO" "/")"
url="$(head -1 <<<"$out" | jq -r .url)"
assert_eq 403 "$(status_of "${url/$ID-$PO/$ID-$PM}")" "a ticket of one app redeemed on another"
out="$(ticket "carol" "$ID-$PM" "/")"
assert_eq 403 "$(tail -1 <<<"$out")" "a stranger's ticket: $out"
assert_eq 403 "$(tail -1 <<<"$(ticket "carol" "ffff00000000000f-$PM" "/")")" "an unknown app: the same answer"
assert_eq 400 "$(tail -1 <<<"$(ticket bob "$ID-$PM" "//evil.test/")")" "no redirect to another host"
assert_eq 401 "$(c -o /dev/null -w '%{http_code}' -u "bob:wrong" -H 'Content-Type: application/json' \
	-d "{\"app\": \"$ID-$PM\", \"path\": \"/\"}" "$KLANGK_GATEWAY_URL/api/v1/app/ticket")" "a wrong password"
assert_eq 403 "$(c -o /dev/null -w '%{http_code}' -H "Origin: $M" -H 'Content-Type: application/json' \
	-u "bob:$(pw bob)" -d "{\"app\": \"$ID-$PM\", \"path\": \"/\"}" "$KLANGK_GATEWAY_URL/api/v1/app/ticket")" \
	"a ticket asked from the app's origin"

echo "== chromium: member -> sign-in -> app; stranger -> 403"
got="$(timeout 120 node "$BROWSER_DIR/app_members.js" "$M/hello?q=1" bob "$(pw bob)" 2>"$BED/browser.err")" ||
	fail "browser: $(cat "$BED/browser.err")"
echo "bob: $got"
assert_eq "gw.test:$GWP/app/$ID-$PM/hello" "$(jq -r .signinAt <<<"$got")" "bob was sent to the gateway's page"
assert_eq "$M/hello?q=1" "$(jq -r .url <<<"$got")" "and back to the app"
assert_eq "APP /hello?q=1 user=bob cookie=-" "$(jq -r .body <<<"$got")" "the app saw bob and no cookie"
assert_eq '[{"name":"klangk_app","domain":"'"$ID-$PM"'.apps.test","path":"/","httpOnly":true,"sameSite":"Lax","secure":false}]' \
	"$(jq -c .cookies <<<"$got")" "the browser's cookies for the app's origin"
assert_eq "" "$(jq -r .documentCookie <<<"$got")" "no script of the app reads the app cookie"
assert_eq '["gw.test/api/"]' "$(jq -c .gatewayCookies <<<"$got")" "the gateway's session stays on its host"
got="$(timeout 120 node "$BROWSER_DIR/app_members.js" "$M/" carol "$(pw carol)" 2>"$BED/browser.err")" ||
	fail "browser: $(cat "$BED/browser.err")"
echo "carol: $got"
assert_contains "$(jq -r .error <<<"$got")" "open to the members of its workspace only" "carol is refused on the page"
assert_eq "[]" "$(jq -c .cookies <<<"$got")" "carol has no app cookie"

echo "== bob removed: refused once his cookie expires"
out="$(ticket bob "$ID-$PM" "/")"
hdr="$(c -D - -o /dev/null "$(head -1 <<<"$out" | jq -r .url)")"
V="$(grep -i '^Set-Cookie: klangk_app=' <<<"$hdr" | tr -d '\r' | sed 's/^Set-Cookie: klangk_app=\([^;]*\);.*/\1/I')"
spec ''
etcdctl role revoke-permission "klangk:user:bob" /klangk/workspaces/alice/app >/dev/null
etcdctl role revoke-permission "klangk:user:bob" /klangk/status/alice/app >/dev/null
assert_eq 403 "$(tail -1 <<<"$(ticket bob "$ID-$PM" "/")")" "no new ticket for bob"
assert_eq "APP / user=bob cookie=-" "$(c -H "Cookie: klangk_app=$V" "$M/")" "his cookie still works (within its lifetime)"
_refused() { [ "$(status_of -H "Cookie: klangk_app=$V" "$M/")" = 302 ]; }
wait_for "bob's cookie to expire" $((COOKIE_S + 10)) _refused || fail "bob's cookie still works after $COOKIE_S s"
grep -q 'app cookie refused.*expired' "$BED/gateway.log" || fail "no expiry in the gateway's log"

echo "== the gateway down: public apps never ask it"
bed_stop_gateway
assert_eq "APP / user=- cookie=-" "$(c "$PUB/")" "the public app without the gateway"
assert_eq 500 "$(status_of -H "Cookie: klangk_app=$V" "$M/")" "the members-only app fails closed"

echo "PASS: test_app_members"
