#!/usr/bin/env bash
# The ThreadSanitizer run of `make tsan`: the unit test programs given as
# arguments, then the e2e tests named in $1 with the instrumented binaries of
# $BIN.  Every instrumented process (unit tests, klangkc, the controller,
# proxy-gen) writes its reports to one directory (TSAN_OPTIONS log_path), so a
# race in a daemon fails the run even when the test around it passed.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
e2e="$1"
shift
reports="$(mktemp -d /tmp/klangk-tsan.XXXXXX)"
# second_deadlock_stack: both stacks of a lock-order inversion.
export TSAN_OPTIONS="log_path=$reports/report suppressions=$HERE/tsan.supp second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
rc=0
start=$(date +%s)
bash "$HERE/run-unit.sh" "$@" || rc=1
if [ -n "$e2e" ]; then
	# shellcheck disable=SC2086 # a list of test names
	bash "$HERE/e2e/run.sh" $e2e || rc=1
fi
found=0
for f in "$reports"/report.*; do
	[ -e "$f" ] || continue
	found=$((found + 1))
	echo "=== ThreadSanitizer report: $f"
	cat "$f"
done
if [ "$found" -gt 0 ]; then
	echo "tsan: $found process(es) reported (kept in $reports)"
	rc=1
else
	rm -rf "$reports"
	echo "tsan: no reports ($(($(date +%s) - start)) s)"
fi
exit "$rc"
