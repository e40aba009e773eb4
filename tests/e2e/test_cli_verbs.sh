#!/usr/bin/env bash
# klangkc's verbs against a real etcd (no controller): apply's three-way
# merge, create, get (formats, selectors, --watch), diff, edit (and its
# conflict), start/stop/restart, share/unshare/members, url, delete,
# apply --prune, stale writes (exit 3), help, the man page and completion.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap 'kill "${WATCH_PID:-}" 2>/dev/null || true; bed_down' EXIT
bed_up
K="$BIN/klangkc"
W="$BED/work"
mkdir -p "$W"

# rc CMD...: prints CMD's exit status (its output goes to $BED/out, $BED/err).
rc() {
	local r=0
	"$@" >"$BED/out" 2>"$BED/err" || r=$?
	echo "$r"
}
spec() { "$K" get "$1" -n "${2:-alice}" -o json | jq -c "$3"; }
# aligned TABLE WHAT: every cell of every row starts at its header's column
# (headers are single words), and no line ends in spaces.
aligned() {
	local bad
	bad="$(awk 'NR == 1 { for (i = 1; i <= length($0); i++)
			if (substr($0, i, 1) != " " && (i == 1 || substr($0, i - 1, 1) == " ")) start[++n] = i
		next }
		/ $/ { print "trailing spaces: " $0 }
		{ for (c = 2; c <= n; c++) if (substr($0, start[c] - 1, 2) !~ /^ [^ ]$/) {
			print "column " c " not at " start[c] ": " $0; break } }' <<<"$1")"
	[ -z "$bad" ] || fail "$2: not aligned: $bad
$1"
}

# --- apply: create, unchanged, configured; the three-way merge ------------
cat >"$W/ws.yaml" <<'YAML'
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata:
  name: proj
  namespace: alice
  labels: {team: ml, tier: gold}
spec:
  image: img-1
  hostedPorts: 2
  env: [{name: A, value: "1"}]
YAML
assert_eq "workspace.klangk.io/proj created" "$("$K" apply -f "$W/ws.yaml")" "first apply"
assert_eq "workspace.klangk.io/proj unchanged" "$("$K" apply -f "$W/ws.yaml")" "second apply"
assert_contains "$(spec proj alice '.metadata.annotations["klangk.io/last-applied-configuration"]')" \
	'\"hostedPorts\":2' "last-applied annotation"
# Other writers: stop and share.
assert_eq "workspace.klangk.io/proj stopped" "$("$K" stop proj -n alice)" "stop"
assert_eq "workspace.klangk.io/proj already stopped" "$("$K" stop proj -n alice)" "stop again"
"$K" share proj bob@example.com -n alice >/dev/null
# The file drops hostedPorts and the tier label and changes the image.
sed -i -e '/hostedPorts/d' -e 's/, tier: gold//' -e 's/img-1/img-2/' "$W/ws.yaml"
assert_eq "workspace.klangk.io/proj configured" "$("$K" apply -f "$W/ws.yaml")" "apply after edit"
assert_eq '{"image":"img-2","env":[{"name":"A","value":"1"}],"running":false,"members":[{"user":"bob@example.com","role":"coder"}]}' \
	"$(spec proj alice .spec)" "merged spec: removed field gone, others' fields kept"
assert_eq '{"team":"ml"}' "$(spec proj alice .metadata.labels)" "removed label gone"
# The file now says running: true: the file wins over stop.
printf '  running: true\n' >>"$W/ws.yaml"
"$K" apply -f "$W/ws.yaml" >/dev/null
assert_eq true "$(spec proj alice .spec.running)" "file wins for what it sets"

# --- diff --------------------------------------------------------------
assert_eq 0 "$(rc "$K" diff -f "$W/ws.yaml")" "diff of an applied file"
assert_eq "" "$(cat "$BED/out")" "no diff output"
sed -i 's/img-2/img-3/' "$W/ws.yaml"
assert_eq 1 "$(rc "$K" diff -f "$W/ws.yaml")" "diff of a changed file"
assert_contains "$(cat "$BED/out")" "-  image: img-2" "diff shows the old line"
assert_contains "$(cat "$BED/out")" "+  image: img-3" "diff shows the new line"
assert_eq img-2 "$(spec proj alice .spec.image | tr -d '"')" "diff writes nothing"
printf 'apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: new-one, namespace: alice}\n' >"$W/new.yaml"
assert_eq 1 "$(rc "$K" diff -f "$W/new.yaml")" "diff of a new object"
assert_contains "$(cat "$BED/out")" "+  name: new-one" "diff of a new object shows it"
printf 'kind: Nope\n' >"$W/bad.yaml"
assert_eq 2 "$(rc "$K" diff -f "$W/bad.yaml")" "diff of an invalid file"

# --- dry runs and the namespace flag -----------------------------------
rev="$(etcdctl get /klangk/ -w json | jq -r .header.revision)"
assert_eq "workspace.klangk.io/proj configured (server dry run)" \
	"$("$K" apply -f "$W/ws.yaml" --dry-run=server)" "server dry run"
assert_eq "workspace.klangk.io/proj valid (client dry run)" \
	"$(KLANGK_ETCD_ENDPOINTS=http://127.0.0.1:1 "$K" apply -f "$W/ws.yaml" --dry-run=client)" \
	"client dry run needs no etcd"
assert_eq "$rev" "$(etcdctl get /klangk/ -w json | jq -r .header.revision)" "dry runs write nothing"
assert_eq 1 "$(rc "$K" apply -f "$W/ws.yaml" -n bob)" "-n conflicting with the file"
assert_eq "error: $W/ws.yaml[0]: metadata.namespace: \"alice\" does not match the namespace \"bob\" given with -n" \
	"$(head -1 "$BED/err")" "namespace mismatch message"

# --- stale writes: exit 3 ----------------------------------------------
cur="$(spec proj alice .metadata.resourceVersion | tr -d '"')"
"$K" get proj -n alice -o yaml >"$W/stale.yaml"
"$K" share proj carol -n alice >/dev/null
sed -i 's/img-2/img-stale/' "$W/stale.yaml"
assert_eq 3 "$(rc "$K" apply -f "$W/stale.yaml")" "apply with a stale resourceVersion"
assert_contains "$(cat "$BED/err")" "was written for resourceVersion $cur" "stale message"
assert_eq img-2 "$(spec proj alice .spec.image | tr -d '"')" "stale apply wrote nothing"

# --- create --------------------------------------------------------------
assert_eq 1 "$(rc "$K" create -f "$W/ws.yaml")" "create of an existing workspace"
assert_contains "$(cat "$BED/err")" "workspace alice/proj already exists" "create message"
assert_eq "workspace.klangk.io/new-one created" "$("$K" create -f "$W/new.yaml")" "create"
assert_eq null "$(spec new-one alice '.metadata.annotations')" "create records no last-applied"

# --- get -----------------------------------------------------------------
mkdir -p "$W/repo/sub"
for n in a b c; do
	printf 'apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: %s, labels: {app: repo, n: "%s"}}\n' "$n" "$n" >"$W/repo/$n.yaml"
done
mv "$W/repo/c.yaml" "$W/repo/sub/c.yml"
printf '{"apiVersion":"klangk.io/v1alpha1","kind":"Workspace","metadata":{"name":"j","labels":{"app":"other"}}}' >"$W/repo/j.json"
"$K" apply -f "$W/repo" -n team >/dev/null
assert_eq "a b j" "$("$K" get -n team -o name | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')" "apply of a directory (not recursive)"
"$K" apply -R -f "$W/repo" -n team >/dev/null
assert_eq "a b c" "$("$K" get -n team -l app=repo -o name | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')" "get -l after apply -R"
assert_eq "c j" "$("$K" get -n team -l 'n notin (a,b)' -o name | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')" "set-based selector"
assert_eq "List" "$("$K" get -A -o json | jq -r .kind)" "get -A is a List"
assert_eq 6 "$("$K" get -A -o json | jq '.items | length')" "six workspaces"
assert_contains "$("$K" get -A)" "NAMESPACE" "table header with -A"
assert_contains "$("$K" get proj -n alice -o wide)" "img-2" "wide shows the image"
# Every column starts where its header does, whatever the lengths of the
# cells before it (a long namespace, a status with ports and a URL).
etcdput /klangk/status/alice/proj '{"phase":"Running","id":"0123456789ab","nodeName":"node-with-a-long-name","ports":[{"container":8000,"host":27469},{"container":8001,"host":27470}],"urls":["http://127.0.0.1:27469/"],"conditions":[{"type":"Ready","status":"True"}]}'
for args in "-A -o wide" "-A" "-n alice -o wide"; do
	# shellcheck disable=SC2086
	aligned "$("$K" get $args)" "get $args"
done
assert_contains "$("$K" get -A -o wide)" "27469,27470   node-with-a-long-name   img-2" "wide row"
assert_eq proj "$("$K" get proj -n alice -o yaml | sed -n 's/^  name: //p')" "get -o yaml"
printf 'apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: w, namespace: alice}\n' | "$K" apply -f - >/dev/null
assert_eq w "$("$K" get w -n alice -o json | jq -r .metadata.name)" "apply from stdin"
assert_eq 4 "$(rc "$K" get nope -n alice)" "get of a missing workspace"
assert_eq 2 "$(rc "$K" get -o xml)" "get with a bad format"
assert_eq 2 "$(rc "$K" get -l 'a in (b')" "get with a bad selector"
assert_eq 5 "$(KLANGK_ETCD_ENDPOINTS=http://127.0.0.1:1 rc "$K" get -A)" "etcd unreachable"

# --- get --watch: rows as they change ----------------------------------
"$K" get -n team --watch >"$W/watch.out" 2>&1 &
WATCH_PID=$!
wait_for "watch lists" 10 grep -q '^a ' "$W/watch.out" || fail "watch: $(cat "$W/watch.out")"
"$K" stop a -n team >/dev/null
etcdput /klangk/status/team/b '{"phase":"Running","id":"0123456789ab","conditions":[{"type":"Ready","status":"True"}]}'
"$K" delete c -n team >/dev/null
wait_for "watch shows b running" 10 grep -q '^b .*Running.*True.*0123456789ab' "$W/watch.out" ||
	fail "watch: $(cat "$W/watch.out")"
wait_for "watch shows c deleted" 10 grep -q '^c .*Deleted' "$W/watch.out" || fail "watch: $(cat "$W/watch.out")"
assert_eq 2 "$(grep -c '^a ' "$W/watch.out")" "a listed, then again when stopped"
kill "$WATCH_PID"
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=
# A status without its spec is a workspace being torn down: shown as such.
"$K" delete b -n team >/dev/null
assert_contains "$("$K" get b -n team)" "Terminating" "deleted, status left: Terminating"
etcdctl del /klangk/status/team/b >/dev/null
assert_eq 4 "$(rc "$K" get b -n team)" "both keys gone"
"$K" apply -f "$W/repo/b.yaml" -n team >/dev/null

# --- start / stop / restart ---------------------------------------------
assert_eq "workspace.klangk.io/a started" "$("$K" start a -n team)" "start"
assert_eq true "$(spec a team .spec.running)" "running after start"
assert_eq "workspace.klangk.io/a restarted" "$("$K" restart a -n team)" "restart"
assert_contains "$(spec a team '.metadata.annotations["klangk.io/restartedAt"]')" "T" "restartedAt"
assert_eq 4 "$(rc "$K" stop nope -n team)" "stop of a missing workspace"

# --- share / unshare / members ------------------------------------------
assert_eq "dan@example.com added to workspace team/a as coder" "$("$K" share a dan@example.com -n team)" "share"
assert_eq "dan@example.com is now owner of workspace team/a (was coder)" \
	"$("$K" share a dan@example.com --role=owner -n team)" "share changes the role"
assert_eq "dan@example.com is already owner of workspace team/a" \
	"$("$K" share a dan@example.com --role owner -n team)" "share again"
"$K" share a erin --role spectator -n team >/dev/null
assert_contains "$("$K" members a -n team)" "erin              spectator" "members table, as wide as its users"
aligned "$("$K" members a -n team)" "members table"
assert_eq '[{"user":"dan@example.com","role":"owner"},{"user":"erin","role":"spectator"}]' \
	"$("$K" members a -n team -o json | jq -c .)" "members -o json"
assert_eq 2 "$(rc "$K" share a x --role=admin -n team)" "share with a bad role"
assert_eq 1 "$(rc "$K" share a "bad user" -n team)" "share with a bad user"
assert_contains "$(cat "$BED/err")" "spec.members[2].user: must be a user name" "bad user message"
assert_eq 4 "$(rc "$K" unshare a frank -n team)" "unshare of a non-member"
assert_contains "$(cat "$BED/err")" "frank is not a member" "unshare non-member message"
assert_eq "erin removed from workspace team/a (was spectator)" "$("$K" unshare a erin -n team)" "unshare"

# --- url -----------------------------------------------------------------
assert_eq 1 "$(rc "$K" url a -n team)" "url before the controller assigned ports"
etcdput /klangk/status/team/a '{"phase":"Running","id":"0123456789ab","ports":[{"container":8000,"host":9100},{"container":8001,"host":9101}],"urls":["http://h/hosted/0123456789ab/9100/","http://h/hosted/0123456789ab/9101/"]}'
assert_eq "http://h/hosted/0123456789ab/9100/
http://h/hosted/0123456789ab/9101/" "$("$K" url a -n team)" "url"
assert_eq "http://h/hosted/0123456789ab/9101/" "$("$K" url a 8001 -n team)" "url by container port"
assert_eq "http://h/hosted/0123456789ab/9100/" "$("$K" url a 9100 -n team)" "url by host port"
assert_eq 4 "$(rc "$K" url a 8004 -n team)" "url of an unpublished port"
etcdctl del /klangk/status/team/a >/dev/null

# --- edit ----------------------------------------------------------------
cat >"$W/editor.sh" <<'SH'
#!/bin/sh
sed -i 's/img-2/img-edited/' "$1"
SH
chmod +x "$W/editor.sh"
assert_eq "workspace.klangk.io/proj edited" "$(EDITOR="$W/editor.sh" "$K" edit proj -n alice)" "edit"
assert_eq img-edited "$(spec proj alice .spec.image | tr -d '"')" "edited"
assert_eq "Edit cancelled, no changes made." "$(EDITOR=true "$K" edit proj -n alice)" "edit without changes"
# Someone else writes while the editor is open: refused, file kept.
cat >"$W/editor2.sh" <<SH
#!/bin/sh
"$K" stop proj -n alice >/dev/null
sed -i 's/img-edited/img-lost/' "\$1"
SH
chmod +x "$W/editor2.sh"
assert_eq 3 "$(EDITOR="$W/editor2.sh" rc "$K" edit proj -n alice)" "edit while someone else writes"
kept="$(sed -n 's/.*kept at \(.*\.yaml\)$/\1/p' "$BED/err")"
assert_contains "$(cat "$kept")" "img-lost" "the refused edit is kept"
rm -f "$kept"
assert_eq img-edited "$(spec proj alice .spec.image | tr -d '"')" "refused edit wrote nothing"
assert_eq false "$(spec proj alice .spec.running)" "the other writer's change stays"
cat >"$W/editor3.sh" <<'SH'
#!/bin/sh
sed -i 's/hostedPorts: .*//; s/^spec:$/spec:\n  hostedPorts: 9/' "$1"
SH
chmod +x "$W/editor3.sh"
assert_eq 1 "$(EDITOR="$W/editor3.sh" rc "$K" edit proj -n alice)" "invalid edit"
assert_contains "$(cat "$BED/err")" "[0]: spec.hostedPorts: must be between 0 and 5" "invalid edit message"
rm -f /tmp/klangkc-edit-*.yaml

# --- apply --prune ---------------------------------------------------------
rm "$W/repo/b.yaml"
"$K" apply -R -f "$W/repo" -n team --prune -l app=repo >"$BED/out"
assert_contains "$(cat "$BED/out")" "workspace.klangk.io/b pruned" "prune removes b"
assert_eq "a c j" "$("$K" get -n team -o name | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')" "after prune"
# Not created by apply: never pruned, even with the label.
printf 'apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: manual, namespace: team, labels: {app: repo}}\n' | "$K" create -f - >/dev/null
"$K" apply -R -f "$W/repo" -n team --prune -l app=repo >/dev/null
assert_contains "$("$K" get -n team -o name)" "manual" "an object created by create is not pruned"
assert_eq 2 "$(rc "$K" apply -f "$W/repo" --prune)" "prune without a selector"

# --- delete ----------------------------------------------------------------
assert_eq 'workspace.klangk.io "manual" deleted' "$("$K" delete manual -n team)" "delete"
assert_eq 4 "$(rc "$K" delete manual -n team)" "delete of a missing workspace"
assert_eq 0 "$(rc "$K" delete manual -n team --ignore-not-found)" "--ignore-not-found"
"$K" delete -f "$W/new.yaml" >/dev/null
assert_eq 4 "$(rc "$K" get new-one -n alice)" "delete -f"
"$K" delete -l app=repo -n team >/dev/null
assert_eq "j" "$("$K" get -n team -o name | sed 's|.*/||' | tr '\n' ' ' | sed 's/ $//')" "delete -l"
assert_eq 0 "$(rc "$K" delete j -n team --wait --timeout=5s)" "delete --wait without a status"

# --- help, man page, completion ---------------------------------------------
for v in $("$K" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NF > 1 {print $1}'); do
	assert_eq 0 "$(rc "$K" "$v" --help)" "$v --help"
	assert_contains "$(cat "$BED/out")" "klangkc $v" "$v --help shows its usage"
	assert_contains "$(cat "$REPO/docs/klangkc.1")" ".SS $v" "the man page has $v"
done
# That docs/klangkc.1 is what the tables generate, and every option is in
# it: test_cli_options.
page="$(MANWIDTH=100 man -l "$REPO/docs/klangkc.1" 2>&1)"
assert_contains "$page" "EXIT STATUS" "man page renders"
assert_contains "$page" "3  conflict" "man page documents exit codes"
assert_eq 2 "$(rc "$K" nosuchverb)" "unknown verb"
(
	source <("$K" completion bash)
	PATH="$BIN:$PATH"
	COMP_WORDS=(klangkc sh)
	COMP_CWORD=1
	_klangkc
	assert_eq "share" "${COMPREPLY[*]}" "completion of a verb"
	COMP_WORDS=(klangkc get -n alice pr)
	COMP_CWORD=4
	_klangkc
	assert_eq "proj" "${COMPREPLY[*]}" "completion of a workspace name"
	COMP_WORDS=(klangkc delete --ig)
	COMP_CWORD=2
	_klangkc
	assert_eq "--ignore-not-found" "${COMPREPLY[*]}" "completion of an option"
)
echo "PASS: test_cli_verbs"
