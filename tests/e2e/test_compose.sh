#!/usr/bin/env bash
# The images and the compose deployment, as an operator gets them:
#   1. the Dockerfile's targets are built in the bed's engine from the
#      imported Debian base (scripts/images.sh; cached by the source tree's
#      hash, so only a changed tree builds again);
#   2. manifests/compose/docker-compose.yaml brings up etcd, the controller,
#      the gateway and the nginx sidecar against the bed's engine socket with Debian's
#      docker-compose;
#   3. a workspace applied with klangkc into that etcd runs, and its hosted
#      app answers through the sidecar's nginx, klangkc exec reaches it
#      through the gateway service; deleting it removes its container;
#   4. `compose down` stops the four services (and the bed removes
#      anything left, also when the test fails).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"

command -v docker-compose >/dev/null || fail "docker-compose is missing (bash scripts/deps.sh)"

COMPOSE_FILE="$REPO/manifests/compose/docker-compose.yaml"
compose() {
	env DOCKER_HOST="$DOCKER_HOST" COMPOSE_PROJECT_NAME="$PROJECT" \
		KLANGK_ENGINE_SOCKET="$SOCK" KLANGK_ENGINE_GID="$(stat -c %g "$SOCK")" \
		KLANGK_PORT_RANGE_END=$((KLANGK_PORT_RANGE_START + BED_PORT_RANGE_SIZE - 2)) \
		KLANGK_GATEWAY_LISTEN="127.0.0.1:$C_GATEWAY" \
		KLANGK_ETCD_PORT="$C_ETCD" KLANGK_ETCD_PEER_PORT="$C_PEER" \
		KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$C_ETCD" \
		KLANGK_METRICS_ADDRESS="127.0.0.1:$C_METRICS" \
		KLANGK_PROXY_METRICS_ADDRESS="127.0.0.1:$C_PROXY_METRICS" \
		docker-compose -f "$COMPOSE_FILE" "$@"
}
cleanup() {
	local rc=$?
	# errexit applies in traps too: `(exit "$rc")` below would end the
	# trap before bed_down when the test failed.
	set +e
	if [ -n "${PROJECT:-}" ]; then
		compose logs --no-color >"$BED/compose.log" 2>&1 || true
		compose down -v -t 5 >>"$BED/teardown.log" 2>&1 || true
	fi
	(exit "$rc")
	bed_down
}
trap cleanup EXIT
bed_up
PROJECT="k$KLANGK_INSTANCE_ID"
# A host's engine socket is its group's too (Docker: docker, Podman's
# socket unit: root, 0660); the controller runs as nobody in that group.
SOCK="${DOCKER_HOST#unix://}"
chmod 660 "$SOCK"
read -r C_ETCD C_PEER C_METRICS C_PROXY_METRICS <<<"$BED_FREE_PORTS"
# The gateway takes the last port of the bed's range, which the
# controller then does not lease.
C_GATEWAY=$((KLANGK_PORT_RANGE_START + BED_PORT_RANGE_SIZE - 1))

echo "== 1. images"
bed_base_image
bed_engine_cli bash "$REPO/scripts/images.sh" 2>&1 | tail -n 3
for t in controller proxy etcd; do
	engine_get "/v1.41/images/klangk-$t:latest/json" >/dev/null ||
		fail "klangk-$t:latest is not in the engine"
done
hash="$(engine_get /v1.41/images/klangk-controller:latest/json | jq -r '.Config.Labels["klangk.source-hash"]')"
[[ "$hash" =~ ^[0-9a-f]{32}$ ]] || fail "the controller image has no source hash label ('$hash')"
# The cache: a second run builds nothing.
out="$(bed_engine_cli bash "$REPO/scripts/images.sh" 2>&1)"
assert_contains "$out" "up to date ($hash)" "second images.sh"

echo "== 2. compose up"
compose up -d >"$BED/compose-up.log" 2>&1 || { cat "$BED/compose-up.log" >&2; fail "compose up"; }
etcd_ok() { curl -sf --max-time 2 "http://127.0.0.1:$C_ETCD/health" | grep -q '"health":"true"'; }
wait_for "compose's etcd" 60 etcd_ok || fail "etcd of compose never became healthy"
wait_for "the controller's /readyz" 60 curl -sf --max-time 2 "http://127.0.0.1:$C_METRICS/readyz" ||
	fail "the controller never became ready"
wait_for "proxy-gen's /readyz" 60 curl -sf --max-time 2 "http://127.0.0.1:$C_PROXY_METRICS/readyz" ||
	fail "proxy-gen never became ready"
running="$(engine_get '/v1.41/containers/json' | jq -r --arg p "$PROJECT" \
	'[.[] | select(.Labels["com.docker.compose.project"] == $p) | .Labels["com.docker.compose.service"]] | sort | join(" ")')"
assert_eq "controller etcd gateway proxy" "$running" "compose services running"
# The controller runs as root (the egress table) in the engine socket's group.
assert_eq "0:$(stat -c %g "$SOCK")" "$(engine_get "/v1.41/containers/${PROJECT}_controller_1/json" | jq -r .Config.User)" \
	"the controller's user"

echo "== 3. a workspace through the sidecar"
export KLANGK_ETCD_ENDPOINTS="http://127.0.0.1:$C_ETCD" ETCDCTL_ENDPOINTS="http://127.0.0.1:$C_ETCD"
ws_apply demo hello '{"hostedPorts": 2}'
wait_hosted_app hello demo
id="$HOSTED_ID"
assert_eq 404 "$(http_code "http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$id/1/")" "an unleased port"
# klangkc's exec through compose's gateway, with no engine socket.
assert_eq hi "$(env -u DOCKER_HOST KLANGK_GATEWAY_URL="http://127.0.0.1:$C_GATEWAY" \
	"$BIN/klangkc" exec hello -n demo -- echo hi)" "exec through compose's gateway"
"$BIN/klangkc" delete hello -n demo >/dev/null
gone() { [ -z "$(etcdget "/klangk/status/demo/hello")" ] && ! engine_get "/v1.41/containers/klangk_${KLANGK_INSTANCE_ID}_demo_hello/json" >/dev/null 2>&1; }
wait_for "the workspace's teardown" 30 gone || fail "the workspace was not torn down"

echo "== 4. compose down"
compose down -v -t 5 >>"$BED/teardown.log" 2>&1 || fail "compose down"
left="$(engine_get '/v1.41/containers/json?all=true' | jq -r --arg p "$PROJECT" \
	'[.[] | select(.Labels["com.docker.compose.project"] == $p)] | length')"
assert_eq 0 "$left" "compose containers after down"
PROJECT=""
echo "ok"
