#!/usr/bin/env bash
# manifests/examples/: together they use every field of a Workspace, each
# applies as it is, and each converges on a node named node-a (the pinned
# example names it):
#   1. every field of the CRD's spec is set by some example;
#   2. `klangkc apply -f manifests/examples/` stores every document and a
#      diff against the files is then empty;
#   3. with the controller running, each workspace reaches the state its
#      file declares (running, stopped, no hosted ports, pinned to its
#      node, the bind mount read-only, the named volume, the env); the bind
#      source of full.yaml is host-specific, so it is pointed at a directory
#      of the bed;
#   4. `klangkc delete -f manifests/examples/` removes them all, and the
#      Retain example's home and work volumes stay.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
EX="$REPO/manifests/examples"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
K="$BIN/klangkc"

echo "== 1. every field"
# The spec's fields of the CRD, against those the examples set.
crd_fields="$(python3 -c 'import sys, yaml
crd = yaml.safe_load(open(sys.argv[1]))
spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
print(" ".join(sorted(spec)))' "$REPO/crds/workspace.yaml")"
used="$(python3 -c 'import sys, yaml
used = set()
for f in sys.argv[1:]:
    for d in yaml.safe_load_all(open(f)):
        if d:
            used |= set(d.get("spec") or {})
print(" ".join(sorted(used)))' "$EX"/*.yaml)"
assert_eq "$crd_fields" "$used" "spec fields used by the examples"
for f in labels annotations; do
	grep -q "^  $f:" "$EX"/*.yaml || fail "no example sets metadata.$f"
done

echo "== 2. apply as they are"
out="$("$K" apply -f "$EX/")"
n_docs="$(cat "$EX"/*.yaml | grep -c '^kind: Workspace$')"
assert_eq "$n_docs" "$(grep -c ' created$' <<<"$out")" "workspaces created"
assert_eq "$n_docs" "$(etcd_keys /klangk/workspaces/ | wc -l)" "stored objects"
"$K" diff -f "$EX/" >/dev/null || fail "a diff after apply: $("$K" diff -f "$EX/" 2>&1)"

echo "== 3. converge"
# The default image is the bed's test image under the name the examples
# use; the bind source is a directory of the bed.
engine_post "/v1.41/images/$KLANGK_TEST_IMAGE/tag?repo=klangk-workspace&tag=latest" >/dev/null
mkdir -p "$BED/datasets"
sed "s#/srv/klangk/datasets#$BED/datasets#" "$EX/full.yaml" | "$K" apply -f - >/dev/null
bed_start_controller --node-name node-a
for w in demo/hello alice/my-project bob/paper dan/review carol/gpu-box; do
	wait_ws_converged "${w#*/}" "${w%/*}" 60
done
wait_ws_reason archive alice Stopped
assert_eq Stopped "$(ws_field archive alice .status.phase)" "archive's phase"
cname() { echo "klangk_${KLANGK_INSTANCE_ID}_$1_$2"; }
assert_eq false "$(engine_get "/v1.41/containers/$(cname alice archive)/json" | jq .State.Running)" \
	"archive's container running"
assert_eq node-a "$(etcdget /klangk/placements/carol/gpu-box)" "gpu-box's node"
assert_eq node-a "$(ws_field gpu-box carol .status.nodeName)" "gpu-box's status.nodeName"
assert_eq 0 "$(ws_field review dan '.status.ports | length')" "review's hosted ports"
assert_eq 5 "$(ws_field my-project alice '.status.ports | length')" "my-project's hosted ports"
info="$(engine_get "/v1.41/containers/$(cname alice my-project)/json")"
assert_eq "$BED/datasets:/data:ro" "$(jq -r '.Mounts[] | select(.Destination == "/data") |
	"\(.Source):\(.Destination):\(if .RW then "rw" else "ro" end)"' <<<"$info")" "my-project's bind mount"
assert_eq nix-store "$(jq -r '.Mounts[] | select(.Destination == "/nix") | .Name' <<<"$info")" "my-project's named volume"
assert_contains "$(jq -r '.Config.Env[]' <<<"$info")" "FOO=bar" "my-project's env"
assert_eq "1500000000 4294967296 4096" "$(jq -r '.HostConfig | "\(.NanoCpus) \(.Memory) \(.PidsLimit)"' <<<"$info")" \
	"my-project's limits"

echo "== 4. delete"
"$K" delete -f "$EX/" --wait --timeout=60s >/dev/null
assert_eq "" "$(etcd_keys /klangk/workspaces/)" "objects left"
assert_eq "" "$(etcd_keys /klangk/status/)" "statuses left"
vols="$(engine_get /v1.41/volumes | jq -r '.Volumes[].Name' | sort | xargs)"
assert_contains "$vols" "$(cname alice my-project)_home" "the Retain example's home"
assert_contains "$vols" "$(cname alice my-project)_work" "the Retain example's work"
assert_not_contains "$vols" "$(cname alice archive)_home" "the Delete example's home"
echo "ok"
