#!/usr/bin/env bash
# The injection corpus (';', '}', '{', '#', '$', quotes, backslash, newline,
# tab, space, '..', '%2F', upper case, over-long, ports 0 and 65536) put
# straight into etcd — in keys, in workspace objects and in status objects —
# never reaches the engine or nginx: no container, volume or lease is made
# for any of it, the objects with well-formed keys are Stalled with the
# reason, the others are ignored, the daemons keep serving a good workspace,
# and every route line of nginx.conf is an (id, port) pair of the strict
# pattern with none of the corpus in the file.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_start_proxygen
CONF="$NGINX_DIR/nginx.conf"
LONG="$(printf 'a%.0s' {1..300})"
IMG="$KLANGK_TEST_IMAGE"

# ws_doc NAME SPEC_JSON [NS]: a workspace object as JSON.
ws_doc() {
	jq -cn --arg name "$1" --argjson spec "$2" --arg ns "${3:-}" \
		'{apiVersion: "klangk.io/v1alpha1", kind: "Workspace",
		  metadata: ({name: $name} + (if $ns == "" then {} else {namespace: $ns} end)),
		  spec: $spec}'
}

# 1. Status objects (normally written by the controller only) with the
# corpus in the id and the ports: proxy-gen must render none of it.
status() {
	jq -cn --arg id "$1" --argjson port "$2" \
		'{id: $id, phase: "Running", ports: [{container: 8000, host: $port}]}'
}
GOOD_ID=0123456789ab
GOOD_PORT=$((KLANGK_PORT_RANGE_START + 7))
etcdput /klangk/status/zed/s1 "$(status 'abcdef012345;}' 9000)"
etcdput /klangk/status/zed/s2 "$(status 'ABCDEF012345' 9001)"
etcdput /klangk/status/zed/s3 "$(status 'abcdef01234' 9002)"
etcdput /klangk/status/zed/s4 "$(status "$(printf '%s\n' abcdef012345)" 9003)"
etcdput /klangk/status/zed/s5 "$(status 'abcdef012345 x' 9004)"
etcdput /klangk/status/zed/s6 "$(status 'abcdef0123456' 0)"
etcdput /klangk/status/zed/s7 "$(status 'abcdef0123457' 65536)"
etcdput /klangk/status/zed/s8 "$(jq -cn '{id: "abcdef0123458", phase: "Running", ports: [{host: "9005;"}]}')"
etcdput /klangk/status/zed/s9 "$(status '../../etc/x%2F' 9006)"
etcdput '/klangk/status/Zed/s;}' "$(status 'abcdef0123459' 9007)"
etcdput /klangk/status/zed/s10 'not json {'
etcdput /klangk/status/zed/legit "$(status "$GOOD_ID" "$GOOD_PORT")"
_conf_has() { grep -q -- "$1" "$CONF" 2>/dev/null; }
wait_for "proxy-gen to render the legit status" 30 _conf_has "$GOOD_ID/$GOOD_PORT" ||
	fail "nginx.conf never got the legit route"
etcdctl del --prefix /klangk/status/ >/dev/null

# 2. Workspace objects with the corpus, straight into etcd.
bed_start_controller --resync-seconds 2
# Malformed keys: ignored (no status can even be named for them).
for k in 'Alice/x' 'a;b/x' 'alice/x%2F..' 'alice/a}b' 'alice/..' 'alice/x/y' \
	'al ice/x' "alice/x$(printf '\t')" "alice/$LONG" 'alice/$(id)' "alice/a'b" 'alice/a"b' \
	'alice/a\b' 'alice/a#b' 'alice/{x}'; do
	etcdput "/klangk/workspaces/$k" "$(ws_doc x '{"image":"'"$IMG"'"}')"
done
# Well-formed keys, the corpus in the values: Stalled with InvalidSpec.
declare -A BAD=(
	[name]="$(ws_doc 'x;y' '{}')"
	[ns]="$(ws_doc ns '{}' 'Alice')"
	[image]="$(ws_doc image '{"image":"busybox;rm -rf /"}')"
	[imagedots]="$(ws_doc imagedots '{"image":"x/../../containers/create"}')"
	[envname]="$(ws_doc envname '{"env":[{"name":"A B","value":"x"}]}')"
	[envres]="$(ws_doc envres '{"env":[{"name":"LD_PRELOAD","value":"/x.so"}]}')"
	[label]="$(jq -cn '{apiVersion: "klangk.io/v1alpha1", kind: "Workspace",
		metadata: {name: "label", labels: {"a}b": "x"}}, spec: {}}')"
	[labelval]="$(jq -cn '{apiVersion: "klangk.io/v1alpha1", kind: "Workspace",
		metadata: {name: "labelval", labels: {a: "x\ny"}}, spec: {}}')"
	[volume]="$(ws_doc volume '{"mounts":[{"source":"a;b","target":"/v"}]}')"
	[volumedots]="$(ws_doc volumedots '{"mounts":[{"source":"..","target":"/v"}]}')"
	[target]="$(ws_doc target '{"mounts":[{"source":"v","target":"/x\n}"}]}')"
	[source]="$(ws_doc source '{"mounts":[{"source":"/srv/a\tb","target":"/v"}]}')"
	[user]="$(ws_doc user '{"members":[{"user":"$(id)"}]}')"
	[ports]="$(ws_doc ports '{"hostedPorts":65536}')"
	[portsneg]="$(ws_doc portsneg '{"hostedPorts":-1}')"
	[long]="$(ws_doc long "{\"image\":\"$LONG\"}")"
	[mismatch]="$(ws_doc other '{}')"
)
for n in "${!BAD[@]}"; do
	etcdput "/klangk/workspaces/alice/$n" "${BAD[$n]}"
done
ws_apply alice good '{"hostedPorts":1}'
wait_ws_reason good alice ContainerRunning
for n in "${!BAD[@]}"; do
	wait_ws_reason "$n" alice InvalidSpec
	assert_eq True "$(ws_cond "$n" alice Stalled status)" "Stalled of $n"
done
assert_contains "$(ws_cond image alice Ready message)" "spec.image: must be an image reference" "image"
assert_contains "$(ws_cond ports alice Ready message)" "spec.hostedPorts: must be between 0 and 5" "ports"
assert_contains "$(ws_cond mismatch alice Ready message)" "do not match the key" "name/key mismatch"
grep -q 'ignoring malformed key' "$BED/controller.log" || fail "malformed keys not reported"

# 3. Nothing of it reached the engine ...
assert_eq "klangk_${KLANGK_INSTANCE_ID}_alice_good" "$(container_names)" "containers"
assert_eq "klangk_${KLANGK_INSTANCE_ID}_alice_good_home klangk_${KLANGK_INSTANCE_ID}_alice_good_work" \
	"$(engine_get /v1.41/volumes | jq -r '[.Volumes[]?.Name] | sort | join(" ")')" "volumes"
assert_eq "alice/good" "$(etcdctl get --prefix --print-value-only /klangk/leases/ | sed '/^$/d' | sort -u)" \
	"lease owners"
# ... nor nginx: the good workspace is routed, and nothing else.
id="$(ws_field good alice .status.id)"
port="$(ws_field good alice '.status.ports[0].host')"
wait_for "the good route in nginx.conf" 30 _conf_has "$id/$port" || fail "good route missing"
routes="$(sed -n '/map \$klangk_id\/\$klangk_port \$klangk_upstream {/,/^    }/p' "$CONF" |
	sed '1d;$d' | grep -v 'default ""')"
assert_eq "        $id/$port 127.0.0.1:$port;" "$routes" "the only route"
for needle in ';}' 'ABCDEF' 'abcdef0' '65536' '%2F' '../' '$(id)' 'Zed' 'Alice' \
	'a}b' 'x;y' 'busybox;' 'LD_PRELOAD' "$LONG"; do
	if grep -qF -- "$needle" "$CONF"; then
		fail "nginx.conf contains '$needle'"
	fi
done
assert_eq 200 "$(http_code "http://127.0.0.1:$KLANGK_NGINX_PORT/hosted/$id/$port/")" "good route serves"
"$BIN/klangkc" get -A >/dev/null || fail "klangkc get -A fails on the corpus"
echo "PASS: test_injection"
