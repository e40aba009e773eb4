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

# The code of one file without its comments, "file: line" per line.
code() {
	"$CC" -fpreprocessed -dD -E "$1" 2>/dev/null | grep -v '^# [0-9]' | sed "s|^|$1: |"
}

# check NAME OWNERS... -- PATTERN: no match of PATTERN (ERE) outside OWNERS.
check() {
	local name=$1 pattern owners=() f hits=""
	shift
	while [ "$1" != -- ]; do owners+=("$1"); shift; done
	pattern=$2
	while IFS= read -r f; do
		for o in "${owners[@]}"; do [ "$f" = "$o" ] && continue 2; done
		hits+=$(code "$f" | grep -E -- "$pattern")$'\n'
	done < <(find cli controller proxy-gen gateway lib bench -name '*.[ch]' 2>/dev/null | sort)
	hits=$(printf '%s' "$hits" | sed '/^$/d')
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
