#!/bin/sh
# Build the libFuzzer targets and run each for DURATION_SECONDS on its corpus.
# Usage: tests/fuzz/run.sh DURATION_SECONDS [BUILD_DIR]
# Exits non-zero if a target finds a crash (the input is left in the
# build dir as crash-*); prints the executions of each target.
set -eu

dur=${1:?usage: run.sh DURATION_SECONDS [BUILD_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${2:-$src/build-fuzz}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DBUNDLEFS_FUZZ=ON \
	-DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j2 --target fuzz_spec fuzz_ropts fuzz_ident fuzz_gopath >/dev/null

status=0
for t in fuzz_spec fuzz_ropts fuzz_ident fuzz_gopath; do
	work=$(mktemp -d)
	# new inputs go to a scratch corpus; the seed corpus is read only
	mkdir -p "$work/corpus"
	log="$build/$t.log"
	if "$build/tests/fuzz/$t" -max_total_time="$dur" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$build/$t-" -print_final_stats=1 \
		"$work/corpus" "$here/corpus/$t" >"$log" 2>&1; then
		result=ok
	else
		result=CRASH
		status=1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	echo "$t: $result, ${execs:-?} executions (log: $log)"
	rm -rf "$work"
done
exit $status
