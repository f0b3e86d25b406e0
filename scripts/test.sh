#!/bin/sh
# Install what is missing, build, and run every test: unit tests (ctest),
# black-box suites on real mounts, containerd end to end, installation, then
# the unit and black-box suites again on an ASan+UBSan build, and a bounded
# fuzzing run. Exits non-zero on any failure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
pytest="/usr/bin/python3 -m pytest"

"$top/scripts/deps.sh" test
ulimit -n 20000 2>/dev/null || true

status=0
step() {
	echo "==> $*"
	if ! "$@"; then
		echo "==> FAILED: $*"
		status=1
	fi
}

step "$top/scripts/check-source.sh"
step "$top/scripts/build.sh" "$top/build"
step ctest --test-dir "$top/build" --output-on-failure
# Suites on a real mount; all of them again on the sanitizer build but the
# installation and benchmark smoke tests, which exercise packaging and timing.
suites="tests/godiff tests/blackbox tests/node tests/passthrough tests/reliability tests/containerd tests/install tests/bench"
asan_suites="tests/godiff tests/blackbox tests/node tests/passthrough tests/reliability tests/containerd"

# The kernel's FUSE over io_uring (fs/ring.h) is the fuse module's
# enable_uring parameter, for the whole machine: off for the first pass
# (bundlefs reads /dev/fuse, as on a kernel's default), on for the
# sanitizer pass (bundlefs serves every request through the ring), and put
# back as it was at the end.
ring_param=/sys/module/fuse/parameters/enable_uring
ring_was=
if [ -w "$ring_param" ]; then
	ring_was=$(cat "$ring_param")
	trap 'echo "$ring_was" > "$ring_param"' EXIT
	echo N > "$ring_param"
else
	echo "==> this kernel has no FUSE over io_uring: every pass reads /dev/fuse"
fi

export BUNDLEFS_BIN="$top/build/fs/bundlefs" BUNDLEFS_BUILD="$top/build"
for suite in $suites; do
	[ -d "$suite" ] && step $pytest -q -p no:cacheprovider "$suite"
done

step "$top/scripts/build.sh" "$top/build-asan" -DBUNDLEFS_SANITIZE=ON
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
step ctest --test-dir "$top/build-asan" --output-on-failure
export BUNDLEFS_BIN="$top/build-asan/fs/bundlefs" BUNDLEFS_BUILD="$top/build-asan"
# The sanitizer build serves about ten times slower: the descriptor-scale test
# runs on 20,000 bundles there (100,000 on the plain build above).
export BUNDLEFS_SCALE_BUNDLES=20000
if [ -n "$ring_was" ]; then
	echo "==> the sanitizer pass serves through FUSE over io_uring (enable_uring=Y)"
	echo Y > "$ring_param"
fi
for suite in $asan_suites; do
	[ -d "$suite" ] && step $pytest -q -p no:cacheprovider "$suite"
done
unset ASAN_OPTIONS UBSAN_OPTIONS BUNDLEFS_SCALE_BUNDLES BUNDLEFS_BUILD
[ -z "$ring_was" ] || echo N > "$ring_param"

[ -x tests/fuzz/run.sh ] && step tests/fuzz/run.sh "${BUNDLEFS_FUZZ_SECONDS:-30}"

if [ $status -ne 0 ]; then
	echo "==> some tests FAILED"
fi
exit $status
