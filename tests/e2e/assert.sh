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
