#!/usr/bin/env bash
# The mount policy (DESIGN §9, docs/security.md) on a real engine:
#   - klangkc refuses "/", "/run", "/var/run" and the engine sockets at apply
#     time; the same objects put straight into etcd are Stalled by the
#     controller and nothing is created for them;
#   - with KLANGK_ALLOWED_MOUNT_ROOTS, a path outside the roots is refused;
#     under them, the protected paths are refused whether the source is
#     inside them or contains them: KLANGK_DATA_DIR, the engine socket, the
#     engine's storage (learnt from the engine), KLANGK_PROTECTED_PATHS, and
#     every parent of them;
#   - symlinks are resolved: the container mounts the resolved path; a
#     symlink to a protected path is refused; a directory swapped for such a
#     symlink after apply is refused at the next (re)creation or start, and
#     the container is not restarted; swapped for a harmless one, the next
#     recreation mounts the new resolved path;
#   - readOnly is honoured.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up

ROOTS="$BED"   # the allowed root holds the protected paths of the bed
mkdir -p "$BED/share/data" "$BED/share/other" "$BED/share/swap"
echo hello >"$BED/share/data/file"
ln -s data "$BED/share/alias"
ln -s "$KLANGK_DATA_DIR" "$BED/share/to-data"
ln -s "$BED" "$BED/share/to-bed"
ln -s /var/run "$BED/share/to-varrun"
cname() { echo "klangk_${KLANGK_INSTANCE_ID}_$1_$2"; }

# 1. Fast feedback: klangkc refuses the built-in protected paths.
for src in / /run /var/run /var/run/docker.sock /run/podman /proc/1/root; do
	rc=0
	err="$(ws_apply alice p '{"mounts":[{"source":"'"$src"'","target":"/x"}]}' 2>&1)" || rc=$?
	assert_eq 1 "$rc" "apply with source $src"
	assert_contains "$err" "spec.mounts[0].source: must not" "error for $src"
done
assert_eq "" "$(etcd_keys /klangk/workspaces/)" "nothing written by refused applies"

KLANGK_ALLOWED_MOUNT_ROOTS="$ROOTS" KLANGK_PROTECTED_PATHS="$BED/etcd,$NGINX_DIR" \
	bed_start_controller --resync-seconds 2

# 2. The same objects straight into etcd: Stalled, nothing created.
etcdput /klangk/workspaces/alice/root \
	'{"apiVersion":"klangk.io/v1alpha1","kind":"Workspace","metadata":{"name":"root"},"spec":{"image":"'"$KLANGK_TEST_IMAGE"'","mounts":[{"source":"/","target":"/host"}]}}'
wait_ws_reason root alice InvalidSpec
assert_contains "$(ws_cond root alice Stalled message)" \
	"spec.mounts[0].source: must not contain the protected path" "reason of /"
assert_eq True "$(ws_cond root alice Stalled status)" "Stalled of /"
assert_not_contains "$(container_names)" "$(cname alice root)" "containers"

# 3. Allowed: a directory and a symlink to it; readOnly honoured.
ws_apply alice good '{"hostedPorts":0,"mounts":[
	{"source":"'"$BED/share/data"'","target":"/data","readOnly":true},
	{"source":"'"$BED/share/alias"'","target":"/alias"}]}'
wait_ws_reason good alice ContainerRunning
info="$(engine_get "/v1.41/containers/$(cname alice good)/json")"
assert_eq "$BED/share/data false" \
	"$(jq -r '.Mounts[] | select(.Destination=="/data") | "\(.Source) \(.RW)"' <<<"$info")" "read-only mount"
assert_eq "$BED/share/data true" \
	"$(jq -r '.Mounts[] | select(.Destination=="/alias") | "\(.Source) \(.RW)"' <<<"$info")" \
	"the symlink is mounted as its resolved path"

# 4. Refused under the allowed root: protected paths and their parents.
# expect_refused NAME SOURCE NEEDLE: the workspace is Stalled with
# MountRefused naming the mount and NEEDLE, and has no container.
expect_refused() {
	local name="$1" src="$2" needle="$3" msg
	ws_apply alice "$name" '{"hostedPorts":0,"mounts":[{"source":"cache","target":"/cache"},
		{"source":"'"$src"'","target":"/m"}]}'
	wait_ws_reason "$name" alice MountRefused
	msg="$(ws_cond "$name" alice Ready message)"
	assert_contains "$msg" "spec.mounts[1].source: $src" "message for $src"
	assert_contains "$msg" "$needle" "message for $src"
	assert_eq True "$(ws_cond "$name" alice Stalled status)" "Stalled for $src"
	assert_not_contains "$(container_names)" "$(cname alice "$name")" "containers after $src"
}
expect_refused data-dir "$KLANGK_DATA_DIR" "is the protected path $KLANGK_DATA_DIR"
expect_refused in-data "$KLANGK_DATA_DIR/x" "does not exist"
mkdir -p "$KLANGK_DATA_DIR/x"
wait_ws_reason in-data alice MountRefused
wait_for "in-data refused as inside" 30 sh -c \
	"'$BIN/klangkc' get in-data -n alice -o json | grep -q 'is inside the protected path'" ||
	fail "inside the data dir: $(ws_cond in-data alice Ready message)"
expect_refused bed "$BED" "contains the protected path"
store="$(engine_get /v1.41/info | jq -r .DockerRootDir)"
expect_refused engine-store "$store" "is the protected path $store"
expect_refused etcd-data "$BED/etcd" "is the protected path $BED/etcd"
expect_refused nginx-dir "$NGINX_DIR" "is the protected path $NGINX_DIR"
expect_refused to-data "$BED/share/to-data" "resolves to $KLANGK_DATA_DIR, which is the protected path"
expect_refused to-bed "$BED/share/to-bed" "resolves to $BED, which contains the protected path"
expect_refused to-varrun "$BED/share/to-varrun" "resolves to /run, which contains the protected path"
expect_refused socket "${DOCKER_HOST#unix://}" "is the protected path ${DOCKER_HOST#unix://}"
expect_refused outside /etc "is not under an allowed root"
expect_refused tmp /tmp "contains the protected path"

# 5. A directory swapped for a symlink after apply.
ws_apply alice swap '{"hostedPorts":0,"mounts":[{"source":"'"$BED/share/swap"'","target":"/s"}]}'
wait_ws_reason swap alice ContainerRunning
# 5a. To a harmless place: the next recreation mounts the new resolved path.
rmdir "$BED/share/swap"
ln -s other "$BED/share/swap"
ws_apply alice swap '{"hostedPorts":0,"env":[{"name":"V","value":"2"}],
	"mounts":[{"source":"'"$BED/share/swap"'","target":"/s"}]}'
_mount_source_is() {
	[ "$(engine_get "/v1.41/containers/$(cname alice swap)/json" |
		jq -r '.Mounts[] | select(.Destination=="/s") | .Source')" = "$1" ]
}
wait_ws_converged swap alice
_mount_source_is "$BED/share/other" || fail "swap to a harmless symlink not followed"
# 5b. To a protected path: refused; the container stopped behind the
# controller's back is not started again.
rm "$BED/share/swap"
ln -s "$KLANGK_DATA_DIR" "$BED/share/swap"
engine_post "/v1.41/containers/$(cname alice swap)/stop?t=0" >/dev/null
wait_ws_reason swap alice MountRefused
assert_contains "$(ws_cond swap alice Ready message)" \
	"spec.mounts[0].source: $BED/share/swap resolves to $KLANGK_DATA_DIR, which is the protected path" \
	"swapped symlink"
# The retries keep refusing it and never start the container.
_refusals() { grep 'workspace=alice/swap' "$BED/controller.log" | grep -c 'reason=MountRefused' || true; }
n="$(_refusals)"
wait_for "two more refusals" 15 sh -c "[ \$(grep 'workspace=alice/swap' '$BED/controller.log' | grep -c 'reason=MountRefused') -ge $((n + 2)) ]" ||
	fail "controller did not retry the refused workspace"
assert_eq false "$(engine_get "/v1.41/containers/$(cname alice swap)/json" | jq -r .State.Running)" \
	"container with a swapped mount stays stopped"

# The allowed workspace kept running throughout.
assert_eq ContainerRunning "$(ws_cond good alice Ready reason)" "good workspace"
echo "PASS: test_mount_policy"
