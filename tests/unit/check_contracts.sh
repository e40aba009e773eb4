#!/usr/bin/env bash
# check_contracts — every contract between the binaries has one owner in
# lib/ (README.md, "What the controller does"): the etcd key layout is lib/keys.{c,h}'s, the
# status object's field names are lib/status.c's.  This fails when C code
# anywhere else spells a key prefix ("/klangk/...", "klangk:user:"), builds
# a key by pasting a prefix constant to a format (KEYS_..._PREFIX "%s"), or
# names a status field.  Comments are stripped first (by the C
# preprocessor), so documenting a key or a field is fine; tests/ is not
# checked (tests spell the contract on purpose, to pin it down).
#
# Usage: check_contracts.sh [REPO]   (default: this script's repository)
# Prints "contracts: N passed, M failed" as the unit test programs do.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2
CC=${CC:-cc}
pass=0
fail=0

# The code of every checked file without its comments, "file: line" per
# line, made once (the C preprocessor is most of this script's time) into
# $all.
tmp=$(mktemp -d)
all=$tmp/all
trap 'rm -rf "$tmp"' EXIT
code() {
	"$CC" -fpreprocessed -dD -E "$1" 2>/dev/null | grep -v '^# [0-9]' | sed "s|^|$1: |"
}
export -f code
export CC tmp
files=$(find cli controller proxy-gen gateway lib bench -name '*.[ch]' 2>/dev/null | sort)
printf '%s\n' "$files" |
	xargs -P "$(nproc)" -n 8 bash -c 'for f; do code "$f" >"$tmp/${f//\//%}"; done' _
while IFS= read -r f; do
	cat "$tmp/${f//\//%}"
done <<<"$files" >"$all"

# check NAME OWNERS... -- PATTERN: no match of PATTERN (ERE) outside OWNERS.
check() {
	local name=$1 pattern owners=() hits
	shift
	while [ "$1" != -- ]; do owners+=("$1"); shift; done
	pattern=$2
	hits=$(grep -E -- "$pattern" "$all" | while IFS= read -r l; do
		for o in "${owners[@]}"; do [ "${l%%: *}" = "$o" ] && continue 2; done
		printf '%s\n' "$l"
	done)
	if [ -n "$hits" ]; then
		printf '%s: outside its owner:\n%s\n' "$name" "$hits" >&2
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
}

check "etcd key prefix literal" lib/keys.c lib/keys.h -- '"(/klangk/|klangk:user:)'
check "key built from a prefix constant" lib/keys.c lib/keys.h -- 'KEYS_[A-Z_]*PREFIX[[:space:]]*"'
# Names only the status has (nodeName and reclaimPolicy are also spec
# fields, which lib/ws.c owns; id, ports, container are too common a word).
check "status field name" lib/status.c -- \
	'"(phase|observedGeneration|specHash|lastActivity|idleSince|conditions|lastTransitionTime|urls|exitCode|oomKilled|startedAt|finishedAt)"'

echo "contracts: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
