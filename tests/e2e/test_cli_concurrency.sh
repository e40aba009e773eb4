#!/usr/bin/env bash
# Concurrent writers on one workspace lose no update: ten processes each
# apply their own file (a label of their own) twice and share the workspace
# with their own user, all at once. Every write is a transaction comparing
# mod_revision; a writer that loses the race reads, merges and writes again.
# Afterwards all ten members are there (no apply or share wrote over
# another's update), the labels are exactly those of one complete file
# (apply's semantics: the last applied file wins, the earlier files' labels
# were removed by the later applies), and etcd's version of the key counts
# exactly the writes the processes reported.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT
bed_up
K="$BIN/klangkc"
W="$BED/work"
mkdir -p "$W"

file() { # file I LABELS
	cat <<YAML
apiVersion: klangk.io/v1alpha1
kind: Workspace
metadata:
  name: shared
  namespace: alice
  labels: {base: "1"$2}
spec:
  image: img
YAML
}
file 0 "" >"$W/base.yaml"
"$K" apply -f "$W/base.yaml" >/dev/null
for i in $(seq 0 9); do
	file "$i" ", w$i: x" >"$W/f$i.yaml"
done

pids=()
for i in $(seq 0 9); do
	(
		"$K" apply -f "$W/f$i.yaml" &&
			"$K" share shared "user$i" -n alice &&
			"$K" apply -f "$W/f$i.yaml"
	) >"$W/out$i" 2>"$W/err$i" &
	pids+=($!)
done
for i in $(seq 0 9); do
	wait "${pids[$i]}" || fail "writer $i failed: $(cat "$W/err$i")"
done

members="$("$K" members shared -n alice -o json | jq -r '.[].user' | sort | tr '\n' ' ')"
assert_eq "user0 user1 user2 user3 user4 user5 user6 user7 user8 user9 " "$members" \
	"every share survived the concurrent applies and shares"
labels="$("$K" get shared -n alice -o json | jq -c '.metadata.labels')"
[[ "$labels" =~ ^\{\"base\":\"1\",\"w[0-9]\":\"x\"\}$ ]] || fail "labels are not one whole file's: $labels"
last="$("$K" get shared -n alice -o json | jq -r '.metadata.annotations["klangk.io/last-applied-configuration"]' | jq -c .metadata.labels)"
assert_eq "$labels" "$last" "labels match the last applied file"
writes="$(cat "$W"/out* | grep -cE ' configured$| added to ')"
version="$(etcdctl get /klangk/workspaces/alice/shared -w json | jq -r '.kvs[0].version')"
assert_eq "$((writes + 1))" "$version" "etcd's version counts the reported writes (plus the first apply)"
echo "$writes writes by 10 concurrent writers, $(cat "$W"/out* | grep -c ' unchanged$') unchanged"

# Ten concurrent applies of one directory each (the same 50 workspaces, in
# batched transactions): every object is written once and reported once as
# created; the others see it unchanged.
mkdir -p "$W/many"
for n in $(seq 1 50); do
	printf 'apiVersion: klangk.io/v1alpha1\nkind: Workspace\nmetadata: {name: m%s, namespace: bulk}\n' "$n" >"$W/many/m$n.yaml"
done
pids=()
for i in $(seq 0 9); do
	"$K" apply -f "$W/many" >"$W/bulk$i" 2>"$W/bulkerr$i" &
	pids+=($!)
done
for i in $(seq 0 9); do
	wait "${pids[$i]}" || fail "bulk writer $i failed: $(cat "$W/bulkerr$i")"
done
assert_eq 50 "$(cat "$W"/bulk? | grep -c ' created$')" "each workspace created exactly once"
assert_eq 450 "$(cat "$W"/bulk? | grep -c ' unchanged$')" "and seen unchanged by the nine others"
assert_eq 50 "$(etcd_keys /klangk/workspaces/bulk/ | wc -l)" "fifty workspaces"
echo "PASS: test_cli_concurrency"
