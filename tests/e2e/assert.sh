# shellcheck shell=bash
# tests/e2e/assert.sh — assertions for the end-to-end tests. Each failure
# prints what was expected and what was seen, marks the bed as failed (so
# bed_down prints the daemons' logs) and exits the test.

# fail MSG...: the test failed.
fail() {
	echo "FAIL: $*" >&2
	export BED_FAILED=1
	exit 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
	case "$1" in
	*"$2"*) ;;
	*) fail "$3: '$2' not found in: $1" ;;
	esac
}

# assert_not_contains HAYSTACK NEEDLE WHAT
assert_not_contains() {
	case "$1" in
	*"$2"*) fail "$3: '$2' unexpectedly found in: $1" ;;
	*) ;;
	esac
}

# http_code URL [CURL_ARGS...]: prints the HTTP status of a GET.
http_code() {
	local url="$1"
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

# ws_json NAME NS: the workspace as klangkc shows it.
ws_json() {
	"$BIN/klangkc" get "$1" -n "$2" -o json
}

# ws_field NAME NS JQ: one field of the workspace.
ws_field() {
	ws_json "$1" "$2" | jq -r "$3"
}

# etcd_keys PREFIX: the keys under PREFIX, one per line.
etcd_keys() {
	etcdctl get --prefix --keys-only "$1" | sed '/^$/d'
}

# ws_cond NAME NS TYPE FIELD: FIELD (status, reason, message) of the
# workspace's condition TYPE (Ready, Stalled, Reconciling); empty if none.
ws_cond() {
	ws_field "$1" "$2" ".status.conditions[]? | select(.type==\"$3\") | .$4" 2>/dev/null
}

# _ws_reason_is NAME NS REASON: true when the Ready condition's reason is REASON.
_ws_reason_is() {
	[ "$(ws_cond "$1" "$2" Ready reason)" = "$3" ]
}

# wait_ws_reason NAME NS REASON [TIMEOUT_S]: waits until the workspace's
# Ready condition has REASON (e.g. ContainerRunning, MountRefused); fails
# the test with the object when it does not within TIMEOUT_S (30).
wait_ws_reason() {
	wait_for "$2/$1 Ready reason $3" "${4:-30}" _ws_reason_is "$1" "$2" "$3" ||
		fail "$2/$1 never got reason $3: $(ws_json "$1" "$2" 2>&1)"
}

# _ws_converged NAME NS: Ready with ContainerRunning for the current generation.
_ws_converged() {
	ws_json "$1" "$2" 2>/dev/null | jq -e '.metadata.generation as $g |
		[.status.conditions[]? | select(.type == "Ready" and .reason == "ContainerRunning"
			and .observedGeneration == $g)] | length == 1' >/dev/null
}

# wait_ws_converged NAME NS [TIMEOUT_S]: waits until the workspace runs its
# current generation (Ready, ContainerRunning, observedGeneration current).
wait_ws_converged() {
	wait_for "$2/$1 converged" "${3:-30}" _ws_converged "$1" "$2" ||
		fail "$2/$1 never converged: $(ws_json "$1" "$2" 2>&1)"
}

# ws_apply NS NAME SPEC_JSON: applies a workspace with klangkc (SPEC_JSON is
# the spec object; the image defaults to the bed's test image).
ws_apply() {
	jq -n --arg ns "$1" --arg name "$2" --arg img "$KLANGK_TEST_IMAGE" --argjson spec "$3" \
		'{apiVersion: "klangk.io/v1alpha1", kind: "Workspace",
		  metadata: {name: $name, namespace: $ns}, spec: ({image: $img} + $spec)}' |
		"$BIN/klangkc" apply -f - >/dev/null
}

# wait_hosted_app NAME NS: waits until the workspace converged and the app
# on its second hosted port (container port 8001 of the test image) answers
# through nginx on KLANGK_NGINX_PORT; fails the test otherwise. Sets
# HOSTED_ID and HOSTED_PORT (the workspace's id and that host port). When
# proxy-gen was started by px_start_proxygen, it also waits until proxy-gen
# has settled: a route answers as soon as nginx's new workers have it, but
# until the reload is confirmed an old worker may still take the next
# connection with the configuration before it.
wait_hosted_app() {
	local url
	wait_ws_converged "$1" "$2" 60
	HOSTED_ID="$(ws_field "$1" "$2" .status.id)"
	HOSTED_PORT="$(ws_field "$1" "$2" '.status.ports[1].host')"
	url="http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$HOSTED_ID/$HOSTED_PORT/"
	wait_for "the hosted app through nginx" 30 sh -c "curl -sf --max-time 5 '$url' | grep -q 'workspace=$HOSTED_ID'" ||
		fail "GET $url: $(curl -s "$url")"
	if [ -n "${PX_READYZ:-}" ]; then
		wait_for "proxy-gen settled" 30 px_settled || fail "proxy-gen never settled: $(curl -s "$PX_READYZ")"
	fi
	assert_contains "$(curl -sf "$url")" "container-port=8001 host-port=$HOSTED_PORT" "hosted app"
}

# container_names: the names of the engine's containers, one per line.
container_names() {
	engine_get '/v1.41/containers/json?all=1' | jq -r '.[].Names[]' | sed 's,^/,,'
}
