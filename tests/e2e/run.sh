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
# its dockerd pass), and whatever tests/bed.sh reads (BED_KEEP=1,
# BED_SHOW_LOGS=1). A bed that a killed test left up is torn down by the
# runner and fails the test.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
: "${BIN:=$REPO/bin}"
export BIN
TIMEOUT="${E2E_TIMEOUT:-600}"
KILL_AFTER="${E2E_KILL_AFTER:-30}"
# Recorded by bed_up in each bed, so that the beds of a test that could not
# tear down (killed) are found and torn down here.
KLANGK_E2E_RUN="run$$x$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
export KLANGK_E2E_RUN

# reap_beds: tears down the beds of this run that are still up (a test killed
# before its bed_down finished); fails when there was any.
reap_beds() {
	local bed n=0
	for bed in /tmp/klangk-bed.*; do
		[ -f "$bed/bed.env" ] || continue
		grep -qx "BED_RUN_ID=$KLANGK_E2E_RUN" "$bed/bed.env" 2>/dev/null || continue
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

passed=0
failed=0
skipped=0
failed_names=()
interrupted=0
# Ctrl-C reaches the running test too (same process group): it tears its bed
# down and exits; then the runner stops instead of going on.
trap 'interrupted=1' INT TERM

for t in "${tests[@]}"; do
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
	echo "=== RUN   $name"
	start="${EPOCHREALTIME/./}"
	set +e
	timeout --foreground -k "$KILL_AFTER" "$TIMEOUT" bash "$t"
	rc=$?
	set -e
	if ! reap_beds && [ "$rc" = 0 ]; then
		echo "$name: left a bed up"
		rc=1
	fi
	secs="$(((${EPOCHREALTIME/./} - start) / 100000))"
	secs="$((secs / 10)).$((secs % 10))"
	if [ "$rc" = 0 ]; then
		echo "--- PASS: $name (${secs}s)"
		passed=$((passed + 1))
	else
		[ "$rc" != 124 ] || echo "$name: timed out after ${TIMEOUT}s"
		echo "--- FAIL: $name (${secs}s, exit status $rc)"
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
	if [ "$interrupted" = 1 ]; then
		echo "interrupted: not running the remaining tests"
		break
	fi
done

[ ${#failed_names[@]} -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped skipped")"
if [ "$failed" -gt 0 ] || [ "$interrupted" = 1 ] || [ $((passed + failed + skipped)) -eq 0 ]; then
	exit 1
fi
