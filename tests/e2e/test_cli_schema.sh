#!/usr/bin/env bash
# The Workspace schema, three ways on one corpus (tests/data/):
#  1. a real JSON-Schema validator (ajv, tests/schema/check.js) run on the
#     CRD's openAPIV3Schema gives the same verdict as klangkc on every
#     document of every good and bad manifest;
#  2. every bad manifest gets exactly the error lines of its .expect file
#     (file, document index, field path, message) and exit status 1, and
#     leaves etcd untouched (same revision, no keys);
#  3. every good manifest is stored.
# e2e: engine-independent
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
source "$HERE/../bed.sh"
source "$HERE/assert.sh"
trap bed_down EXIT

SCHEMA="$REPO/tests/schema"
if [ ! -d "$SCHEMA/node_modules/ajv" ]; then
	npm ci --prefix "$SCHEMA" --no-audit --no-fund --loglevel=error >&2 ||
		fail "npm ci in tests/schema (ajv) failed"
fi
bed_up
K="$BIN/klangkc"
cd "$REPO/tests/data"

files=(good/* bad/*.yaml bad/*.json)
n_bad=0
for f in bad/*.yaml bad/*.json; do
	[ -f "${f%.*}.expect" ] || fail "$f has no .expect file"
	n_bad=$((n_bad + 1))
done
[ "$n_bad" -ge 40 ] || fail "only $n_bad bad manifests (at least 40 wanted)"

# --- 1. verdicts: ajv against klangkc -----------------------------------
# One line per file: "F unreadable", "F valid N" (N documents) or
# "F invalid I J..." (the indexes of the invalid documents).
node "$SCHEMA/check.js" --summary "$REPO/crds/workspace.yaml" "${files[@]}" >"$BED/ajv.txt"
node "$SCHEMA/check.js" "$REPO/crds/workspace.yaml" "${files[@]}" >"$BED/ajv.raw"
# klangkc's verdict on F in the same form (bash only: this runs 85 times).
normalise_klangkc() {
	local f="$1" out err rc=0 line n=0 bad=""
	out="$("$K" apply --dry-run=client -f "$f" 2>"$BED/err")" || rc=$?
	err="$(<"$BED/err")"
	if [ "$rc" = 0 ]; then
		while IFS= read -r line; do
			[[ "$line" == *"valid (client dry run)" ]] && n=$((n + 1))
		done <<<"$out"
		echo "$f valid $n"
	elif [ "$rc" = 1 ]; then
		while IFS= read -r line; do
			if [[ "$line" == "error: $f: "* ]]; then
				echo "$f unreadable"
				return
			fi
			if [[ "$line" =~ ^error:\ [^\ ]+\[([0-9]+)\]: ]] && [[ " $bad " != *" ${BASH_REMATCH[1]} "* ]]; then
				bad="$bad${bad:+ }${BASH_REMATCH[1]}"
			fi
		done <<<"$err"
		echo "$f invalid $bad"
	else
		echo "$f exit $rc: $err"
	fi
}
mismatch=0
declare -A ajv
while read -r f rest; do
	ajv[$f]="$f $rest"
done <"$BED/ajv.txt"
for f in "${files[@]}"; do
	a="${ajv[$f]:-}"
	k="$(normalise_klangkc "$f")"
	if [ "$a" != "$k" ]; then
		echo "verdicts differ: ajv says '$a', klangkc says '$k'" >&2
		grep -F "$f" "$BED/ajv.raw" | sed 's/^/  ajv: /' >&2
		mismatch=$((mismatch + 1))
	fi
	case "$f" in
	good/*) [[ "$k" == *" valid "* ]] || fail "$f: good manifest refused: $k" ;;
	bad/*) [[ "$k" != *" valid "* ]] || fail "$f: bad manifest accepted" ;;
	esac
done
[ "$mismatch" = 0 ] || fail "$mismatch manifests get different verdicts from ajv and klangkc"
echo "ajv and klangkc agree on ${#files[@]} manifests ($n_bad bad)"

# --- 2. exact errors, etcd untouched ------------------------------------
revision() {
	etcdctl get /klangk/ -w json | jq -r .header.revision
}
rev0="$(revision)"
cd bad
for f in *.yaml *.json; do
	rc=0
	"$K" apply -f "$f" >/dev/null 2>"$BED/err" || rc=$?
	assert_eq 1 "$rc" "exit status of apply -f bad/$f"
	if ! diff -u "${f%.*}.expect" "$BED/err" >&2; then
		fail "bad/$f: the errors differ from bad/${f%.*}.expect"
	fi
done
assert_eq "$rev0" "$(revision)" "etcd revision after $n_bad refused applies"
assert_eq "" "$(etcd_keys /)" "etcd keys after refused applies"
# All of them in one apply: still nothing, and every file is named.
rc=0
"$K" apply -f . >/dev/null 2>"$BED/err" || rc=$?
assert_eq 1 "$rc" "exit status of apply -f bad/"
for f in *.yaml *.json; do
	assert_contains "$(cat "$BED/err")" "$f" "apply -f bad/ names every file"
done
assert_eq "$rev0" "$(revision)" "etcd revision after apply -f bad/"
cd ..

# --- 3. the good ones are stored ------------------------------------------
for f in good/*; do
	rc=0
	"$K" apply -f "$f" >/dev/null 2>"$BED/err" || rc=$?
	if [ "$f" = good/status-ignored.yaml ]; then
		# It names resourceVersion 42 of an object that does not exist.
		assert_eq 3 "$rc" "apply of $f (stale resourceVersion)"
		assert_contains "$(cat "$BED/err")" "resourceVersion 42" "conflict message"
		continue
	fi
	assert_eq 0 "$rc" "apply of $f: $(cat "$BED/err")"
done
assert_eq 20 "$(etcd_keys /klangk/workspaces/ | wc -l)" "workspaces stored from good/"
assert_eq "5" "$("$K" get numbers -o json | jq -r .spec.hostedPorts)" "5.0 stored"
echo "PASS: test_cli_schema"
