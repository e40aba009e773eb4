#!/usr/bin/env bash
# Runs the unit test programs given as arguments and sums their
# "NAME: N passed, M failed" lines.  With VALGRIND=1 each runs under
# valgrind and a leak or memory error fails it.  UNIT_JOBS programs run at
# once (default: the number of cores; the programs share nothing but the
# machine), and their outputs are printed in the order given.
set -uo pipefail
jobs="${UNIT_JOBS:-$(nproc)}"
out_dir="$(mktemp -d /tmp/klangk-unit.XXXXXX)"
trap 'rm -rf "$out_dir"' EXIT

# run_one I PROGRAM: runs it, its output to $out_dir/I.out, its exit status
# to $out_dir/I.rc.
run_one() {
	if [ "${VALGRIND:-0}" = 1 ]; then
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
			--errors-for-leak-kinds=definite,indirect --error-exitcode=99 "$2" \
			>"$out_dir/$1.out" 2>&1
	else
		"$2" >"$out_dir/$1.out" 2>&1
	fi
	echo $? >"$out_dir/$1.rc"
}

i=0
running=0
for t in "$@"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$i" "$t" &
	running=$((running + 1))
	i=$((i + 1))
done
wait

pass=0
fail=0
i=0
for t in "$@"; do
	out="$(cat "$out_dir/$i.out" 2>/dev/null)"
	rc="$(cat "$out_dir/$i.rc" 2>/dev/null || echo 1)"
	i=$((i + 1))
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
	if [ -z "$line" ]; then
		echo "$t: crashed or printed no result (exit $rc)"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed/\1/')
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$t: exit $rc (valgrind or sanitizer error)"
		fail=$((fail + 1))
	fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
