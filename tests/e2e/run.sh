#!/usr/bin/env bash
# End-to-end test runner: runs tests/e2e/test_*.sh in name order, each in its
# own bash process (each test brings up and tears down its own bed with
# tests/bed.sh), and ends with the line "N passed, M failed"; exits 1 when a
# test failed or none ran (a skipped one counts as run).
#
#   tests/e2e/run.sh                 all tests
#   tests/e2e/run.sh test_foo ...    only these (test_foo, test_foo.sh or a path)
#
# Environment: BIN (the binaries' directory, default ./bin), E2E_TIMEOUT
# (seconds per test, default 600; the test then gets SIGTERM, and SIGKILL
# E2E_KILL_AFTER (30) seconds later), E2E_ENGINE_TESTS_ONLY=1 (skip the
# tests marked with a line "# e2e: engine-independent": the product code
# they test never talks to the container engine (klangkc without the
# controller, proxy-gen and nginx, whose backends are only test fixtures),
# so a second engine's pass would only repeat them; `make test` sets it for
# its dockerd pass), E2E_JOBS (how many tests run at once, default 1; `make
# test` runs two: each test has a bed of its own, with ports, subnets and
# instance ids claimed under a lock, so tests do not see each other; a test
# marked with a line "# e2e: alone" runs with no other test beside it), and
# whatever tests/bed.sh reads (BED_KEEP=1, BED_SHOW_LOGS=1). A bed that a
# killed test left up is torn down by the runner and fails the test.
#
# With E2E_JOBS=1 a test's output streams as it runs; with more, each test's
# output is printed whole when it ends, so that tests never interleave.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
: "${BIN:=$REPO/bin}"
export BIN
TIMEOUT="${E2E_TIMEOUT:-600}"
KILL_AFTER="${E2E_KILL_AFTER:-30}"
# Each test's beds record "$RUN_ID-<test>" (KLANGK_E2E_RUN, written by bed_up
# to $BED/bed.env), so that the beds of a test that could not tear down
# (killed) are found and torn down here without touching the beds of the
# tests still running beside it.
RUN_ID="run$$x$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
JOBS="${E2E_JOBS:-1}"
case "$JOBS" in '' | *[!0-9]* | 0)
	echo "run.sh: E2E_JOBS=$JOBS: must be a whole number of at least 1" >&2
	exit 2
	;;
esac
OUT="$(mktemp -d /tmp/klangk-e2e.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT

# reap_beds RUN: tears down the beds of RUN that are still up (a test killed
# before its bed_down finished); fails when there was any.
reap_beds() {
	local bed n=0
	for bed in /tmp/klangk-bed.*; do
		[ -f "$bed/bed.env" ] || continue
		grep -qx "BED_RUN_ID=$1" "$bed/bed.env" 2>/dev/null || continue
		[ ! -e "$bed/down" ] || continue # kept on purpose (BED_KEEP=1), and down
		echo "runner: tearing down the leftover bed $bed"
		(
			set +eu
			# shellcheck source=SCRIPTDIR/../bed.sh
			source "$HERE/../bed.sh"
			BED="$bed"
			BED_FAILED=1 bed_down
		) || true
		n=$((n + 1))
	done
	[ "$n" = 0 ]
}

# run_test PATH NAME: runs one test under its timeout, reaps its beds, and
# writes "RC SECONDS" to $OUT/NAME.rc; the test's output goes to stdout.
run_test() {
	local start rc secs
	start="${EPOCHREALTIME/./}"
	set +e
	KLANGK_E2E_RUN="$RUN_ID-$2" timeout --foreground -k "$KILL_AFTER" "$TIMEOUT" bash "$1"
	rc=$?
	set -e
	if ! reap_beds "$RUN_ID-$2" && [ "$rc" = 0 ]; then
		echo "$2: left a bed up"
		rc=1
	fi
	[ "$rc" != 124 ] || echo "$2: timed out after ${TIMEOUT}s"
	secs="$(((${EPOCHREALTIME/./} - start) / 100000))"
	echo "$rc $((secs / 10)).$((secs % 10))" >"$OUT/$2.rc"
}

passed=0
failed=0
skipped=0
failed_names=()
interrupted=0
declare -A running=() # pid -> test name

# report NAME: prints the verdict of a test that ended and counts it.
report() {
	local rc secs
	read -r rc secs <"$OUT/$1.rc" || { rc=1 secs=?; }
	if [ "$rc" = 0 ]; then
		echo "--- PASS: $1 (${secs}s)"
		passed=$((passed + 1))
	else
		echo "--- FAIL: $1 (${secs}s, exit status $rc)"
		failed=$((failed + 1))
		failed_names+=("$1")
	fi
}

# reap_one: waits for one running test to end, prints its output and verdict.
reap_one() {
	local pid name
	# A trapped Ctrl-C interrupts `wait`; the tests got it too and are
	# tearing down, so wait again for them to end.
	local rc=0
	until wait -n -p pid "${!running[@]}" 2>/dev/null || { rc=$? && [ -n "${pid:-}" ]; }; do
		[ "${#running[@]}" -gt 0 ] || return 0
		# 127: none of them is a job to wait for (already collected);
		# take one that is gone rather than spin.
		if [ "$rc" = 127 ]; then
			for pid in "${!running[@]}"; do
				kill -0 "$pid" 2>/dev/null || break
			done
			! kill -0 "$pid" 2>/dev/null && break
			pid=""
		fi
	done
	name="${running[$pid]}"
	unset "running[$pid]"
	echo "=== RUN   $name"
	cat "$OUT/$name.log"
	report "$name"
}

tests=()
if [ $# -eq 0 ]; then
	for t in "$HERE"/test_*.sh; do
		[ -e "$t" ] && tests+=("$t")
	done
else
	for a in "$@"; do
		a="$(basename "$a")"
		a="${a%.sh}"
		tests+=("$HERE/$a.sh")
	done
fi

# Ctrl-C reaches the running tests too (same process group): they tear their
# beds down and exit; then the runner stops instead of going on.
trap 'interrupted=1' INT TERM

for t in "${tests[@]}"; do
	[ "$interrupted" = 0 ] || break
	name="$(basename "$t" .sh)"
	if [ ! -f "$t" ]; then
		echo "--- FAIL: $name (no such test: ${t#"$REPO"/})"
		failed=$((failed + 1))
		failed_names+=("$name")
		continue
	fi
	if [ "${E2E_ENGINE_TESTS_ONLY:-0}" = 1 ] && grep -qx '# e2e: engine-independent' "$t"; then
		echo "--- SKIP: $name (engine-independent; E2E_ENGINE_TESTS_ONLY=1)"
		skipped=$((skipped + 1))
		continue
	fi
	if [ "$JOBS" = 1 ]; then
		echo "=== RUN   $name"
		run_test "$t" "$name"
		report "$name"
		continue
	fi
	alone=0
	! grep -qx '# e2e: alone' "$t" || alone=1
	while [ "${#running[@]}" -ge "$JOBS" ] || { [ "$alone" = 1 ] && [ "${#running[@]}" -gt 0 ]; }; do
		reap_one
	done
	[ "$interrupted" = 0 ] || break
	run_test "$t" "$name" >"$OUT/$name.log" 2>&1 &
	running[$!]="$name"
	# An "alone" test ends before the next one starts.
	[ "$alone" = 0 ] || reap_one
done
while [ "${#running[@]}" -gt 0 ]; do
	reap_one
done
[ "$interrupted" = 0 ] || echo "interrupted: not running the remaining tests"

[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
if [ "$failed" -gt 0 ] || [ "$interrupted" = 1 ] || [ $((passed + failed + skipped)) -eq 0 ]; then
	exit 1
fi
