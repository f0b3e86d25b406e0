#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel's ceiling for stat(2) through FUSE, beside bundlefs: a store of
# COUNT bundle directories, bundlefs over it, and bench/nullfs.c, a FUSE
# daemon that answers without reading anything (entries and attributes
# cached for a day, default_permissions as bundlefs). Measures, as
# bench/run.sh does, cold stat (the kernel's caches dropped before each
# pass) and the three passes after the first lookups, on the store itself,
# the null daemon and bundlefs in each repetition, in both orders, and
# prints one line per row: the rates (the mean of the two orders' medians),
# then null/store, bundlefs/store and bundlefs/null. What the null daemon
# reaches, no daemon can pass. Needs root.
#
#   bench/ceiling.sh [--count N] [--reps N] [BUNDLEFS_BIN]
#
# BUNDLEFS_BIN: default <repo>/build/fs/bundlefs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
count=5000 reps=5
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift ;;
	--reps) reps=$2; shift ;;
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
S=$work/state W=$work/work mb=$work/mnt-bfs mn=$work/mnt-null
pids=()
cleanup() {
	set +e
	for m in "$mb" "$mn"; do mountpoint -q "$m" && umount -l "$m"; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$S" "$W" "$mb" "$mn"

gcc -O2 -Wall -Wextra -pthread -o "$work/bench" "$top/bench/bench.c"
gcc -O2 -Wall -Wextra -o "$work/nullfs" "$top/bench/nullfs.c" $(pkg-config --cflags --libs fuse3)
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

# Each measurement in both orders (the first column of a repetition runs
# right after the caches were dropped): each figure is the mean of the two
# medians.
fwd=("store=$S/ns" "null=$mn/ns" "bfs=$mb/ns")
rev=("bfs=$mb/ns" "null=$mn/ns" "store=$S/ns")
{
	"$work/bench" stat -r "$reps" -c "$count" "${fwd[@]}"
	"$work/bench" stat -r "$reps" -c "$count" "${rev[@]}"
	"$work/bench" stat -r "$reps" -k 3 "$count" "${fwd[@]}"
	"$work/bench" stat -r "$reps" -k 3 "$count" "${rev[@]}"
} | awk '$1 == "RESULT" {
	col = $2; row = "cold"
	if (match(col, /-p[0-9]+$/)) { row = "pass" substr(col, RSTART + 2); col = substr(col, 1, RSTART - 1) }
	sum[row, col] += $3; cnt[row, col]++
	med[row, col] = sum[row, col] / cnt[row, col]
	if (!(row in seen)) { seen[row] = 1; order[++n] = row }
}
END {
	printf "%-6s %10s %10s %10s %11s %10s %9s\n", "row", "store", "null", "bundlefs", "null/store", "bfs/store", "bfs/null"
	for (i = 1; i <= n; i++) {
		r = order[i]
		printf "%-6s %10.0f %10.0f %10.0f %11.2f %10.2f %9.2f\n", r, med[r, "store"], med[r, "null"],
			med[r, "bfs"], med[r, "null"] / med[r, "store"], med[r, "bfs"] / med[r, "store"],
			med[r, "bfs"] / med[r, "null"]
	}
}'
for f in bfs null; do
	if [ -s "$work/$f.log" ]; then
		echo "ceiling.sh: the $f daemon wrote:" >&2
		cat "$work/$f.log" >&2
	fi
done
