#!/usr/bin/env bash
# e2e: engine-independent
# Hosted apps in a real browser (Debian's chromium, headless, driven by
# playwright-core: tests/browser/origin_isolation.js): a visitor signs in to
# workspace B's app (it sets its session cookie), then opens workspace A's
# app, whose hostile page tries to read B's secret with the visitor's
# cookies (fetch with credentials, and an iframe's document).
#   - path mode: both apps share one origin, and the hostile page reads B's
#     secret: the documented risk (docs/security.md);
#   - origin mode (KLANGK_HOSTING_DOMAIN): A and B are different origins;
#     the page gets neither the fetch's answer nor the iframe's document,
#     neither at B's origin nor at B's path URL (which redirects there).
# The apps are loopback servers (tests/browser/apps.py) on the leased ports:
# proxy-gen routes status keys, whatever listens there.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
bed_browser || fail "the browser or its driver is missing"
trap 'kill "${APPS_PID:-}" 2>/dev/null || true; bed_down' EXIT
bed_up
source "$HERE/proxy_helpers.sh"

A=aaaa00000000000a
B=bbbb00000000000b
P="$KLANGK_NGINX_PORT"
read -r PA PB <<<"$(px_new_ports 2)"
/usr/bin/python3 "$BROWSER_DIR/apps.py" "$PB" "$PA" >"$BED/apps.log" 2>&1 &
APPS_PID=$!
wait_for "the apps" 20 grep -qx ready "$BED/apps.log" || fail "apps: $(cat "$BED/apps.log")"
px_status alice a "$A" Running "$PA"
px_status bob b "$B" Running "$PB"

# browse LOGIN_URL HOSTILE_URL: what A's hostile page got (one JSON line).
browse() {
	node "$BROWSER_DIR/origin_isolation.js" "$1" "$2" 2>"$BED/browser.err" ||
		fail "browser: $(cat "$BED/browser.err")"
}

echo "== path mode: one origin, A's page reads B's secret"
px_start_proxygen
wait_for "routes" 20 px_metric_is klangk_proxygen_routes 2 || fail "routes: $(px_metric klangk_proxygen_routes)"
NGX_HOST="http://127.0.0.1:$P"
got="$(browse "$NGX_HOST/hosted/$B/$PB/login" "$NGX_HOST/hosted/$A/$PA/hostile.html?target=/hosted/$B/$PB/secret")"
echo "path mode: $got"
assert_eq "status 200: SECRET=s3cret-of-b" "$(jq -r .fetch <<<"$got")" "path mode: the hostile page's fetch reads B's secret"
assert_eq "read: SECRET=s3cret-of-b" "$(jq -r .iframe <<<"$got")" "path mode: the hostile page reads B's iframe"

echo "== origin mode: one origin per app, A's page reads nothing of B"
gen="$(px_generation)"
bed_stop_proxygen
KLANGK_HOSTING_DOMAIN="apps.test:$P" px_start_proxygen
wait_for "the origin-mode configuration" 20 px_applied_since "$gen" || fail "no new generation confirmed"
OA="http://$A-$PA.apps.test:$P"
OB="http://$B-$PB.apps.test:$P"
# The same sign-in and the same hostile page, opened at their path URLs as a
# visitor's old links would: both redirect to the apps' origins.
got="$(browse "$NGX_HOST/hosted/$B/$PB/login" "$NGX_HOST/hosted/$A/$PA/hostile.html?target=$OB/secret")"
echo "origin mode: $got"
assert_eq "$OA" "$(jq -r .hostileOrigin <<<"$got")" "the hostile page runs at A's own origin"
assert_contains "$(jq -r .fetch <<<"$got")" "error: TypeError" "origin mode: the fetch of B's origin is refused"
assert_not_contains "$got" "s3cret" "origin mode: B's secret"
assert_eq "no access" "$(jq -r .iframe <<<"$got")" "origin mode: B's iframe cannot be read"
# B's path URL on the shared host: another origin as well (and a redirect
# to B's origin); the secret stays out of reach.
got="$(browse "$OB/login" "$OA/hostile.html?target=$NGX_HOST/hosted/$B/$PB/secret")"
echo "origin mode, path URL: $got"
assert_contains "$(jq -r .fetch <<<"$got")" "error: TypeError" "origin mode: the fetch of B's path URL is refused"
assert_not_contains "$got" "s3cret" "origin mode, path URL: B's secret"
# A relative URL stays at A's own origin, where B's app is not.
got="$(browse "$OB/login" "$OA/hostile.html?target=/hosted/$B/$PB/secret")"
assert_not_contains "$got" "s3cret" "origin mode, relative path: B's secret"
# B's app still works for the visitor at its own origin (the control).
assert_eq "SECRET=s3cret-of-b" "$(curl -sf -H "Host: $B-$PB.apps.test" -H "Cookie: b_token=s3cret-of-b" "$NGX_HOST/secret")" \
	"B answers its own session"

echo "PASS: test_proxy_origin_browser"
