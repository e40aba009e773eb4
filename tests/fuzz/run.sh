#!/usr/bin/env bash
# Runs each libFuzzer target given for a bounded time:
#   tests/fuzz/run.sh SECONDS build-fuzz/fuzz/fuzz_ws ...
# Each target fuzzes a working corpus in its build directory, seeded from
# tests/fuzz/corpus/<name>/ (which it never writes to), with the dictionary
# tests/fuzz/<name>.dict.  A crash, leak or failed invariant stops the run:
# the input is saved next to the binary as <name>-crash-... and the exit
# status is non-zero.  Reproduce with: build-fuzz/fuzz/fuzz_ws FILE
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="$1"
shift
rc=0
for t in "$@"; do
	name="$(basename "$t")"
	name="${name#fuzz_}"
	dir="$(dirname "$t")"
	work="$dir/corpus/$name"
	mkdir -p "$work"
	dict=()
	[ -f "$HERE/$name.dict" ] && dict=(-dict="$HERE/$name.dict")
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$dir/$name-" "${dict[@]}" \
		"$work" "$HERE/corpus/$name" >"$dir/$name.log" 2>&1; then
		echo "fuzz: $name FAILED (log $dir/$name.log):"
		grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$dir/$name.log" | head -20
		rc=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$dir/$name.log" |
		sed "s/^/fuzz: $name: /"
done
exit "$rc"
