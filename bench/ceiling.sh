#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel's ceiling through FUSE, beside bundlefs: a store of COUNT
# bundle directories, bundlefs over it, bench/nullfs.c, a FUSE daemon that
# answers without reading anything, and bench/leastfs.c, the least daemon
# that does the store's work (one fstatat(2) a lookup; containerd's system
# calls for the create-delete cycle, and nothing else); entries and
# attributes cached for a day, default_permissions as bundlefs. Measures,
# as bench/run.sh does, cold stat (the kernel's caches dropped before each
# pass), the three passes after the first lookups, and the create-delete
# cycle (CYCLES a repetition; the store's figure is the C program's), in
# each repetition, in both orders, and prints one line per row: the rates
# (the mean of the two orders' medians), then null/store, least/store,
# bundlefs/store and bundlefs/least. What the null daemon reaches, no
# daemon can pass; what the least daemon reaches is, in practice, the most a
# daemon that must read the store through /dev/fuse reaches. bundlefs serves through FUSE over io_uring when the fuse
# module's enable_uring is set (the first line says which); the other two
# read /dev/fuse (libfuse 3.14). Needs root.
#
#   bench/ceiling.sh [--count N] [--reps N] [--cycles N] [BUNDLEFS_BIN]
#
# BUNDLEFS_BIN: default <repo>/build/fs/bundlefs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
count=5000 reps=5 cycles=300
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift ;;
	--reps) reps=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	-h | --help) sed -n '/^#   bench/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "ceiling.sh: unknown argument: $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
bin=${1:-$top/build/fs/bundlefs}
[ -x "$bin" ] || { echo "ceiling.sh: no bundlefs binary at $bin" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "ceiling.sh: needs root (mounts, drop_caches)" >&2; exit 2; }

work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/bundlefs-ceiling.XXXXXX")
S=$work/state W=$work/work mb=$work/mnt-bfs mn=$work/mnt-null ml=$work/mnt-least mc=$work/mnt-least-cycle
pids=()
cleanup() {
	set +e
	for m in "$mb" "$mn" "$ml" "$mc"; do mountpoint -q "$m" && umount -l "$m"; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$S" "$W" "$mb" "$mn" "$ml" "$mc" "$S/cyc" "$W/cyc" "$work/c/S" "$work/c/W" "$work/l/S" "$work/l/W"

gcc -O2 -Wall -Wextra -pthread -o "$work/bench" "$top/bench/bench.c"
gcc -O2 -Wall -Wextra -o "$work/nullfs" "$top/bench/nullfs.c" $(pkg-config --cflags --libs fuse3)
gcc -O2 -Wall -Wextra -pthread -o "$work/leastfs" "$top/bench/leastfs.c" \
	$(pkg-config --cflags --libs fuse3)
"$work/bench" populate "$S" "$W" ns "$count"

mounted() { # MOUNTPOINT PID LOG
	for _ in $(seq 100); do
		mountpoint -q "$1" && return 0
		kill -0 "$2" 2>/dev/null || { cat "$3" >&2; exit 1; }
		sleep 0.1
	done
	echo "ceiling.sh: $1 not mounted" >&2
	exit 1
}
"$bin" "$mb" -f -o "runtime=v1,state=$S,work=$W" 2>"$work/bfs.log" &
pids+=($!)
mounted "$mb" "$!" "$work/bfs.log"
"$work/nullfs" "$mn" -f -o default_permissions --count="$count" 2>"$work/null.log" &
pids+=($!)
mounted "$mn" "$!" "$work/null.log"
# The least daemon: the stat rows over the namespace, and the cycle in
# a namespace of its own (l/S, l/W), as bundlefs's (S/cyc) and the C
# program's (c/S, c/W), so that no row sees another's bundles. One thread
# (-s): every row has one caller, and one thread answers it sooner than
# libfuse's pool (side by side here: cold stat 1.04-1.17 times, the cycle
# 1.06-1.24 times the pool's rate), so that is its ceiling.
"$work/leastfs" "$ml" -f -s -o default_permissions --state="$S/ns" --work="$W/ns" \
	2>"$work/least.log" &
pids+=($!)
mounted "$ml" "$!" "$work/least.log"
"$work/leastfs" "$mc" -f -s -o default_permissions --state="$work/l/S" --work="$work/l/W" \
	2>>"$work/least.log" &
pids+=($!)
mounted "$mc" "$!" "$work/least.log"

if grep -q "FUSE over io_uring" "$work/bfs.log"; then
	echo "bundlefs serves through FUSE over io_uring (the fuse module's enable_uring is set)"
else
	echo "bundlefs serves through /dev/fuse"
fi

# Each measurement in both orders (the first column of a repetition runs
# right after the caches were dropped): each figure is the mean of the two
# medians.
fwd=("store=$S/ns" "null=$mn/ns" "least=$ml/ns" "bfs=$mb/ns")
rev=("bfs=$mb/ns" "least=$ml/ns" "null=$mn/ns" "store=$S/ns")
cfwd=("store=direct:$work/c/S:$work/c/W" "least=fs:$mc/ns" "bfs=fs:$mb/cyc")
crev=("bfs=fs:$mb/cyc" "least=fs:$mc/ns" "store=direct:$work/c/S:$work/c/W")
{
	"$work/bench" stat -r "$reps" -c "$count" "${fwd[@]}"
	"$work/bench" stat -r "$reps" -c "$count" "${rev[@]}"
	"$work/bench" stat -r "$reps" -k 3 "$count" "${fwd[@]}"
	"$work/bench" stat -r "$reps" -k 3 "$count" "${rev[@]}"
	"$work/bench" cycle -r "$reps" -n "$cycles" "${cfwd[@]}" | sed 's/^RESULT \([a-z]*\)/RESULT \1-cycle/'
	"$work/bench" cycle -r "$reps" -n "$cycles" "${crev[@]}" | sed 's/^RESULT \([a-z]*\)/RESULT \1-cycle/'
} | awk '$1 == "RESULT" {
	col = $2; row = "cold"
	if (match(col, /-p[0-9]+$/)) { row = "pass" substr(col, RSTART + 2); col = substr(col, 1, RSTART - 1) }
	else if (match(col, /-cycle$/)) { row = "cycle"; col = substr(col, 1, RSTART - 1) }
	sum[row, col] += $3; cnt[row, col]++
	if (!(row in seen)) { seen[row] = 1; order[++n] = row }
}
function fig(r, c) { return cnt[r, c] ? sprintf("%.0f", sum[r, c] / cnt[r, c]) : "-" }
function ratio(r, a, b) { return cnt[r, a] && cnt[r, b] ? sprintf("%.2f", (sum[r, a] / cnt[r, a]) / (sum[r, b] / cnt[r, b])) : "-" }
END {
	printf "%-6s %9s %9s %9s %9s %10s %11s %9s %9s\n", "row", "store", "null", "least", "bundlefs",
		"null/store", "least/store", "bfs/store", "bfs/least"
	for (i = 1; i <= n; i++) {
		r = order[i]
		printf "%-6s %9s %9s %9s %9s %10s %11s %9s %9s\n", r, fig(r, "store"), fig(r, "null"),
			fig(r, "least"), fig(r, "bfs"), ratio(r, "null", "store"), ratio(r, "least", "store"),
			ratio(r, "bfs", "store"), ratio(r, "bfs", "least")
	}
}'
grep -v "FUSE over io_uring" "$work/bfs.log" >"$work/bfs.rest" || true
for f in bfs.rest null.log least.log; do
	if [ -s "$work/$f" ]; then
		echo "ceiling.sh: the ${f%.*} daemon wrote:" >&2
		cat "$work/$f" >&2
	fi
done
