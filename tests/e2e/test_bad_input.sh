#!/usr/bin/env bash
# Bad input is refused with a message naming the file, the document and the
# field, with a non-zero exit and nothing written to etcd; an invalid object
# put straight into etcd is marked not Ready with the reason while the
# controller keeps serving the others.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up

# expect_refused FILE NEEDLE...: apply fails with exit 1, stderr names the
# file and each NEEDLE, and etcd holds no workspace.
expect_refused() {
	local f="$1" err rc=0
	shift
	err="$("$BIN/klangkc" apply -f "$f" 2>&1 >/dev/null)" || rc=$?
	assert_eq 1 "$rc" "exit code of apply -f $f"
	assert_contains "$err" "$f" "error names the file"
	for n in "$@"; do
		assert_contains "$err" "$n" "error for $f"
	done
	assert_eq "" "$(etcd_keys /klangk/)" "etcd after refused apply of $f"
}

printf 'this: is: not yaml: [\n' >"$BED/notyaml.yaml"
expect_refused "$BED/notyaml.yaml" "not valid YAML" "line 1"

printf '\x00\x01binary' >"$BED/binary.yaml"
expect_refused "$BED/binary.yaml" "not valid YAML"

cat >"$BED/kind.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
YAML
expect_refused "$BED/kind.yaml" "[0]: apiVersion: must be klangk.io/v1alpha1" "[0]: kind: must be Workspace"

cat >"$BED/noname.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {namespace: alice}
YAML
expect_refused "$BED/noname.yaml" "[0]: metadata.name: required"

# One bad document among good ones: nothing at all is written.
cat >"$BED/multi.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: good-one, namespace: alice}
---
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: second, namespace: alice}
spec:
  mounts: [{source: /srv, target: relative/path}]
YAML
expect_refused "$BED/multi.yaml" "[1]: spec.mounts[0].target: must be an absolute path"

# Duplicate keys are an error, not a silent last-one-wins.
cat >"$BED/dupkey.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: d}
spec:
  hostedPorts: 1
  hostedPorts: 2
YAML
expect_refused "$BED/dupkey.yaml" 'duplicate key "hostedPorts"'

# The controller: invalid objects put straight into etcd.
bed_start_controller
etcdput /klangk/workspaces/alice/bad \
	'{"apiVersion":"klangk.io/v1alpha1","kind":"Workspace","metadata":{"name":"bad"},"spec":{"hostedPorts":9,"image":"'"$KLANGK_TEST_IMAGE"'"}}'
etcdput /klangk/workspaces/alice/garbage 'this: is: not yaml: ['
cat >"$BED/good.yaml" <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: good, namespace: alice}
spec: {image: $KLANGK_TEST_IMAGE, hostedPorts: 1}
YAML
"$BIN/klangkc" apply -f "$BED/good.yaml" >/dev/null

wait_for "good workspace Running" 30 sh -c '[ "$("$BIN/klangkc" get good -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "valid workspace not served next to invalid ones: $(ws_json good alice)"
wait_for "bad workspace marked" 15 sh -c '[ "$("$BIN/klangkc" get bad -n alice -o json | jq -r ".status.conditions[]? | select(.type==\"Ready\") | .reason")" = InvalidSpec ]' ||
	fail "invalid workspace not marked: $(ws_json bad alice)"
assert_eq "False" "$(ws_field bad alice '.status.conditions[] | select(.type=="Ready") | .status')" "Ready of invalid"
assert_eq "True" "$(ws_field bad alice '.status.conditions[] | select(.type=="Stalled") | .status')" "Stalled of invalid"
assert_contains "$(ws_field bad alice '.status.conditions[] | select(.type=="Ready") | .message')" \
	"spec.hostedPorts: must be between 0 and 5" "reason of invalid"
wait_for "garbage workspace marked" 15 sh -c '[ "$("$BIN/klangkc" get garbage -n alice -o json | jq -r ".status.conditions[]? | select(.type==\"Ready\") | .reason")" = InvalidSpec ]' ||
	fail "unparseable workspace not marked: $(ws_json garbage alice)"
# Nothing was touched for them: no container, no leases.
names="$(engine_get '/v1.41/containers/json?all=1' | jq -r '.[].Names[]')"
assert_not_contains "$names" "_alice_bad" "containers"
assert_not_contains "$names" "_alice_garbage" "containers"
assert_eq "alice/good" "$(etcdctl get --prefix --print-value-only /klangk/leases/ | sed '/^$/d' | sort -u)" "lease owners"

# Fixing the object makes it converge.
etcdput /klangk/workspaces/alice/bad \
	'{"apiVersion":"klangk.io/v1alpha1","kind":"Workspace","metadata":{"name":"bad"},"spec":{"hostedPorts":1,"image":"'"$KLANGK_TEST_IMAGE"'"}}'
wait_for "fixed workspace Running" 30 sh -c '[ "$("$BIN/klangkc" get bad -n alice -o json | jq -r .status.phase)" = Running ]' ||
	fail "fixed workspace did not converge: $(ws_json bad alice)"
echo "PASS: test_bad_input"
