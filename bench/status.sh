#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The status rows of bench/run.sh alone, with their set-up: a store of COUNT
# bundles whose stored addresses name sockets under a socket root, a
# read-only bundlefs over it, then (bench status, as run.sh runs it) every
# status read with the sockets dead, with every second one live, and the
# operator's `grep -l '"stale":true' MOUNT/*/*/status` over the half-live
# namespace. Prints bench's RESULT lines (median min max). Needs root.
#
#   bench/status.sh [--count N] [--reps N] [--holder shim|bench] [BUNDLEFS_BIN]
#
# --holder: which process listens on the live sockets. shim (the default):
# the benchmark run as a copy named containerd-shim-bench, so every live
# status finds it and reports its pid, as with a real shim; bench: a process
# that is no shim (run.sh's rows), so every live status looks for a shim and
# finds none. BUNDLEFS_BIN: default <repo>/build/fs/bundlefs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
count=5000 reps=2 holder=shim
while [ $# -gt 0 ]; do
	case $1 in
	--count) count=$2; shift ;;
	--reps) reps=$2; shift ;;
	--holder) holder=$2; shift ;;
	-h | --help) sed -n '/^#   bench/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "status.sh: unknown argument: $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
bin=${1:-$top/build/fs/bundlefs}
case $holder in shim | bench) ;; *) echo "status.sh: --holder shim|bench" >&2; exit 2 ;; esac
[ -x "$bin" ] || { echo "status.sh: no bundlefs binary at $bin" >&2; exit 1; }

work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/bundlefs-status.XXXXXX")
# A socket root of 15 characters, like /run/containerd (as run.sh).
sock=$(mktemp -d /tmp/bfsXXXXXXX)
C=$work/c mc=$work/mnt
bfs_pid=''
cleanup() {
	set +e
	mountpoint -q "$mc" && umount -l "$mc"
	[ -n "$bfs_pid" ] && kill "$bfs_pid" 2>/dev/null && wait "$bfs_pid" 2>/dev/null
	rm -rf "$work" "$sock"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$C/state" "$C/work" "$mc" "$sock/s"

gcc -O2 -Wall -Wextra -pthread -o "$work/bench" "$top/bench/bench.c"
bench=$work/bench
if [ "$holder" = shim ]; then
	cp "$bench" "$work/containerd-shim-bench"
	bench=$work/containerd-shim-bench
fi

"$bench" populate -j -a "unix://$sock/s/" "$C/state" "$C/work" status "$count"
(ulimit -n 1024 && exec "$bin" "$mc" -f \
	-o "ro,runtime=v1,state=$C/state,work=$C/work,socket_root=$sock") 2>"$work/bfs.log" &
bfs_pid=$!
for _ in $(seq 100); do
	mountpoint -q "$mc" && break
	kill -0 "$bfs_pid" 2>/dev/null || { cat "$work/bfs.log" >&2; exit 1; }
	sleep 0.1
done
echo "status.sh: $count bundles, live sockets held by $holder; daemon pid $bfs_pid" >&2

ulimit -Sn "$((count + 64))"
row() { # NAME bench-status-args...
	local name=$1
	shift
	"$bench" status "$@" | awk -v n="$name" '$1 == "RESULT" { print n, $3, $4, $5 }'
}
grep_cmd="grep -l '\"stale\":true' $mc/*/*/status"
echo "row median min max"
row status_dead -r "$reps" -e 1 -s "$sock/s" "$count" "bfs=$mc/status"
row status_half -r "$reps" -e 1 -l -m 2 -s "$sock/s" "$count" "bfs=$mc/status"
row stale_grep -r "$reps" -e 1 -l -m 2 -s "$sock/s" -x "$grep_cmd" "$count" "bfs=$mc/status"
if [ -s "$work/bfs.log" ]; then
	echo "status.sh: the daemon wrote:" >&2
	cat "$work/bfs.log" >&2
fi
