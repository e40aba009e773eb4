#!/usr/bin/env bash
# The gateway's terminal page in a real browser: Debian's chromium, headless,
# driven by playwright-core (tests/browser/gateway_browser.js), with etcd
# authentication on and real etcd users (alice owns alice/proj, running and
# shared with bob as coder, and alice/off, stopped).
#   - alice signs in, sees her workspaces, opens proj's terminal, types a
#     command and reads its output from the page;
#   - a hostile page, served from proj itself through nginx's
#     /hosted/<id>/<port>/ and opened in the same browser (so with alice's
#     session cookie), tries to read the list, start off (fetch and form
#     POST) and open a terminal (WebSocket): all fail, the gateway's log
#     shows each was refused for its Origin though the cookie came along,
#     and off stays stopped;
#   - the cookie replayed outside the browser is refused for the missing
#     CSRF token; the same requests from the gateway's own page succeed,
#     and its start button starts off;
#   - after sign-out the session is dead; bob sees proj "shared with me".
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
bed_browser || fail "the browser or its driver is missing"
trap bed_down EXIT
bed_up
bed_workspace_image || fail "the workspace image could not be built or loaded"

bed_etcd_users alice bob || fail "etcd users"
as() { bed_as_tenant "$@"; }
KC="$BIN/klangkc"
KLANGK_ETCD_USERNAME=klangk-controller KLANGK_ETCD_PASSWORD_FILE="$BED/secrets/klangk-controller" \
	bed_start_controller --resync-seconds 2
KLANGK_ETCD_USERNAME=klangk-controller KLANGK_ETCD_PASSWORD_FILE="$BED/secrets/klangk-controller" \
	bed_start_proxygen
bed_start_gateway
bed_wait_tenant_role alice || fail "no role for alice"
_has_key() { etcdctl role get "klangk:user:$1" | grep -q -- "$2"; }
wait_for "alice's role" 30 _has_key alice /klangk/workspaces/alice/ || fail "no role for alice"

as alice "$KC" apply -f - >/dev/null <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: proj, namespace: alice}
spec:
  members: [{user: bob, role: coder}]
---
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: off, namespace: alice}
spec: {running: false}
YAML
as alice "$KC" wait --for=condition=Ready proj -n alice --timeout=120s >/dev/null ||
	fail "alice/proj not Ready: $(as alice "$KC" get proj -n alice -o yaml 2>&1)"
wait_for "bob's grant" 30 _has_key bob /klangk/workspaces/alice/proj || fail "no grant for bob"

# The hosted app: proj serves the hostile page on container port 8000, at
# the path nginx passes through (/hosted/<id>/<host port>/).  The page goes
# in as an argument (base64).
# shellcheck disable=SC2016 # expanded in the container
where="$(as alice "$KC" exec proj -n alice -- sh -c '
	h="${KLANGK_PORT_MAPPINGS%%,*}"; h="${h#8000:}"
	d="$HOME/www/hosted/$KLANGK_WORKSPACE_ID/$h"
	mkdir -p "$d" && printf %s "$1" | base64 -d >"$d/index.html" &&
	setsid nohup python3 -m http.server 8000 --directory "$HOME/www" >/dev/null 2>&1 </dev/null &
	echo "$KLANGK_WORKSPACE_ID/$h"' sh "$(base64 -w0 "$BROWSER_DIR/hostile.html")" </dev/null)" ||
	fail "serving the hostile page"
HOSTILE="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$where/"
_serves() { curl -sf "$HOSTILE" | grep -q 'a hosted app'; }
wait_for "the hosted app" 60 _serves ||
	fail "the hostile page is not served at $HOSTILE: $(curl -s "$HOSTILE" 2>&1 | head -c 300)"

GW="$KLANGK_GATEWAY_URL" GWLOG="$BED/gateway.log" HOSTILE="$HOSTILE" NS=alice RUN=proj \
	STOPPED=off ALICE_PW="$(cat "$BED/secrets/alice")" BOB_PW="$(cat "$BED/secrets/bob")" \
	timeout 300 node "$BROWSER_DIR/gateway_browser.js" || fail "the browser test failed"

# What the start button did, as etcd and the controller see it.
[ "$(etcdget /klangk/workspaces/alice/off | jq -r .spec.running)" = true ] ||
	fail "alice/off's spec.running is not true after the start button"
as alice "$KC" wait --for=condition=Ready off -n alice --timeout=120s >/dev/null ||
	fail "alice/off did not become Ready"
echo "PASS: test_gateway_browser"
