#!/usr/bin/env bash
# Export and import: `klangkc export` writes the spec and the home (with
# work/) of a workspace; `klangkc import` on another name gives the same
# files (owned by the workspace user) and the same spec, restored before
# the first start; an import interrupted after creating the object (the
# controller is down) finishes when run again; malicious archives (absolute
# path, .., symbolic link out of the home, hard link out, a file below a
# link, a device, oversize) are refused with nothing created: no etcd key,
# no volume, no container.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
bed_workspace_image || fail "the workspace image could not be built or loaded"
bed_start_controller
bed_start_gateway

K="$BIN/klangkc"
cat >"$BED/ws.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: src, namespace: alice, labels: {team: ml}}
spec:
  hostedPorts: 2
  idleTimeoutSeconds: 600
  command: ["bash", "-l"]
  env: [{name: FOO, value: bar}]
  members: [{user: bob@example.com, role: coder}]
YAML
"$K" apply -f "$BED/ws.yaml" >/dev/null
wait_ws_converged src alice 60
"$K" exec src -n alice -- sh -c '
	echo hello >greeting.txt; mkdir -p .config/app && echo "k=v" >.config/app/rc
	echo "git status" >>.bash_history; chmod 600 .bash_history
	ln -s greeting.txt link; ln greeting.txt hard
	mkdir -p work/proj/src && echo "print(1)" >work/proj/src/main.py
	ln -s ../../greeting.txt work/proj/up
	head -c 200000 /dev/urandom >work/proj/blob.bin'
# What a workspace's files are: names, types, modes, owners, contents.
snapshot() {
	"$K" exec "$1" -n "$2" -- sh -c 'find . -mindepth 1 ! -name .klangk-imported \
		-printf "%P %y %m %u:%g %l\n" | sort; find . -type f ! -name .klangk-imported \
		-print0 | sort -z | xargs -0 sha256sum'
}
before="$(snapshot src alice)"
assert_contains "$before" "work/proj/src/main.py f 644 klangk:klangk" "snapshot sanity"

# Export, from the running workspace and from the stopped one alike.
"$K" export src -n alice -o "$BED/src.tar.gz" >/dev/null
tar tzf "$BED/src.tar.gz" >"$BED/list"
assert_eq workspace.yaml "$(head -1 "$BED/list")" "the spec comes first"
grep -qx 'home/work/proj/src/main.py' "$BED/list" || fail "work/ not exported: $(cat "$BED/list")"
spec_yaml="$(tar xzOf "$BED/src.tar.gz" workspace.yaml)"
assert_not_contains "$spec_yaml" "status" "no status in the archive"
assert_not_contains "$spec_yaml" "resourceVersion" "no server metadata in the archive"
"$K" stop src -n alice >/dev/null
wait_ws_reason src alice Stopped 30
"$K" export src -n alice -o "$BED/stopped.tar.gz" >/dev/null
diff <(tar tzf "$BED/src.tar.gz" | sort) <(tar tzf "$BED/stopped.tar.gz" | sort) >&2 ||
	fail "a stopped workspace exports other members"
"$K" start src -n alice >/dev/null

# Import on another name and namespace: the same spec and files.
out="$("$K" import "$BED/src.tar.gz" --name copy -n carol)"
assert_contains "$out" "workspace.klangk.io/copy imported" "import output"
wait_ws_converged copy carol 60
assert_eq "$(ws_json src alice | jq -S '.spec + {running: true}')" \
	"$(ws_json copy carol | jq -S '.spec + {running: true}')" "the same spec"
assert_eq '{"team":"ml"}' "$(ws_json copy carol | jq -c .metadata.labels)" "labels"
assert_eq null "$(ws_json copy carol | jq -c .metadata.annotations)" "no import annotation left"
after="$(snapshot copy carol)"
[ "$before" = "$after" ] || {
	diff <(echo "$before") <(echo "$after") >&2
	fail "the imported files differ"
}
# Restored before the first start: the container started once.
assert_eq 1 "$(etcdctl get --prefix --print-value-only /klangk/events/carol/copy/ |
	jq -s '[.[] | select(.reason == "Started") | .count] | add')" "one start of the imported workspace"

# An import interrupted after it created the object: run again, it finishes.
bed_stop_controller
set +e
"$K" import "$BED/src.tar.gz" --name again -n carol --timeout 1s >/dev/null 2>"$BED/err"
rc=$?
set -e
assert_eq 1 "$rc" "an import the controller never answers"
assert_contains "$(cat "$BED/err")" "run the same import again" "it says how to finish"
assert_eq false "$(ws_field again carol .spec.running)" "created stopped"
bed_start_controller
"$K" import "$BED/src.tar.gz" --name again -n carol >/dev/null 2>"$BED/err"
assert_contains "$(cat "$BED/err")" "continuing the import" "the rerun continues"
wait_ws_converged again carol 60
[ "$(snapshot again carol)" = "$before" ] || fail "the resumed import's files differ"
# A different archive for a taken name is refused.
set +e
"$K" import "$BED/stopped.tar.gz" --name again -n carol >/dev/null 2>"$BED/err"
rc=$?
set -e
assert_eq 1 "$rc" "import over an existing workspace"
assert_contains "$(cat "$BED/err")" "already exists" "import over an existing workspace"

# Reserved env in an archive: dropped with a warning.
mkdir -p "$BED/res/home"
cat >"$BED/res/workspace.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata: {name: whatever, namespace: elsewhere}
spec:
  hostedPorts: 0
  env: [{name: KLANGK_WORKSPACE_ID, value: forged}, {name: OK, value: "1"}, {name: LD_PRELOAD, value: /x.so}]
YAML
tar czf "$BED/res.tar.gz" -C "$BED/res" workspace.yaml home
"$K" import "$BED/res.tar.gz" --name res -n carol >/dev/null 2>"$BED/err"
assert_contains "$(cat "$BED/err")" "KLANGK_WORKSPACE_ID dropped" "warning for a reserved name"
assert_contains "$(cat "$BED/err")" "LD_PRELOAD dropped" "warning for LD_"
assert_eq '[{"name":"OK","value":"1"}]' "$(ws_json res carol | jq -c .spec.env)" "only the allowed env"

# Malicious archives: refused, and nothing at all created.
/usr/bin/python3 - "$BED" <<'PY'
import io, sys, tarfile
bed = sys.argv[1]
spec = b"apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: x}\nspec: {hostedPorts: 0}\n"
def add(t, name, data=b"", type=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name)
    i.type, i.linkname, i.size = type, link, len(data)
    t.addfile(i, io.BytesIO(data) if data else None)
cases = {
    "absolute": [("/etc/cron.d/evil", b"* * * * * root sh\n")],
    "dotdot": [("home/../../../etc/passwd", b"x")],
    "symlink-out": [("home/etc", b"", tarfile.SYMTYPE, "/etc")],
    "symlink-climb": [("home/up", b"", tarfile.SYMTYPE, "../../../root")],
    "through-link": [("home/d", b"", tarfile.SYMTYPE, "work"), ("home/d/x", b"x")],
    "hardlink-out": [("home/shadow", b"", tarfile.LNKTYPE, "/etc/shadow")],
    "device": [("home/mem", b"", tarfile.CHRTYPE)],
    "oversize": [("home/big", b"0" * 300000)],
}
for name, members in cases.items():
    with tarfile.open("%s/evil-%s.tar.gz" % (bed, name), "w:gz") as t:
        add(t, "workspace.yaml", spec)
        add(t, "home/", type=tarfile.DIRTYPE)
        for m in members:
            add(t, *m)
PY
vols_before="$(engine_get /v1.41/volumes | jq -r '.Volumes[].Name' | sort)"
ctrs_before="$(container_names | sort)"
for c in absolute dotdot symlink-out symlink-climb through-link hardlink-out device oversize; do
	set +e
	"$K" import "$BED/evil-$c.tar.gz" --name "evil-$c" -n mallory --max-size 100K \
		>/dev/null 2>"$BED/err"
	rc=$?
	set -e
	assert_eq 1 "$rc" "import of the $c archive"
	assert_contains "$(cat "$BED/err")" "nothing was imported" "the $c archive's error"
done
assert_eq "" "$(etcd_keys /klangk/workspaces/mallory/)" "no workspace created by a refused archive"
assert_eq "" "$(etcd_keys /klangk/status/mallory/)" "no status either"
assert_eq "$vols_before" "$(engine_get /v1.41/volumes | jq -r '.Volumes[].Name' | sort)" \
	"no volume created by a refused archive"
assert_eq "$ctrs_before" "$(container_names | sort)" "no container created by a refused archive"
# The reasons, for the record.
out="$("$K" import "$BED/evil-symlink-out.tar.gz" --name e -n mallory 2>&1 || true)"
assert_contains "$out" "symbolic link to \"/etc\" leaves the home" "the symlink's reason"
out="$("$K" import "$BED/evil-oversize.tar.gz" --name e -n mallory --max-size 100K 2>&1 || true)"
assert_contains "$out" "larger than the limit" "the size's reason"
echo "PASS test_export_import"
