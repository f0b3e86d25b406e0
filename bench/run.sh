#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bundlefs benchmark: builds what it needs, creates the backing stores, mounts
# bundlefs and libfuse's passthrough_ll over the same stores, measures, and
# prints one table (medians of several repetitions). Figures, not a test: it
# exits 0 whether the targets are met or not, non-zero only when something
# could not be run. Needs root (mounts, /proc/sys/vm/drop_caches).
#
#   bench/run.sh [--quick] [--small N] [--main N] [--readdir N] [--large N]
#                [--reps N] [--large-reps N] [--cycles N] [--churn N]
#                [--warm SEC] [--keep]
#
# Namespaces: main (stat, address reads, warm listings, churn beside the
# mount), stored (main's size, stored address files), status (main's size,
# stored addresses naming sockets under the socket root), readdir (listings),
# small and large (per-operation cost against the number of bundles).
# Environment (the flags win): BENCH_SMALL (100), BENCH_MAIN (5000),
# BENCH_READDIR (10000), BENCH_LARGE (100000), BENCH_REPS (5), BENCH_LARGE_REPS (3), BENCH_CYCLES (300),
# BENCH_CHURN (1000 bundles), BENCH_WARM_SEC (2: length of each warm pass),
# BENCH_TMPDIR (where the stores go, default $TMPDIR or /tmp),
# BENCH_BUILD_DIR (default <repo>/build-bench), BUNDLEFS_BIN (use this daemon
# instead of building one), PLL_OPTS (extra passthrough_ll options,
# default timeout=0.5: the same cache window as bundlefs).
# --quick: 2,000 bundles in the main, readdir and large namespaces, 3 repetitions,
# 100 cycles, 300 bundles of churn, 1 s warm passes (a smoke test of the whole chain).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

small=${BENCH_SMALL:-100}
main=${BENCH_MAIN:-5000}
rdn=${BENCH_READDIR:-10000}
large=${BENCH_LARGE:-100000}
reps=${BENCH_REPS:-5}
large_reps=${BENCH_LARGE_REPS:-3}
cycles=${BENCH_CYCLES:-300}
churn=${BENCH_CHURN:-1000}
warm_sec=${BENCH_WARM_SEC:-2}
keep=0
warm_set=100
expire=0.6 # longer than both cache windows (0.5 s)

usage() {
	sed -n '4,26p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) main=2000 rdn=2000 large=2000 reps=3 large_reps=3 cycles=100 churn=300 warm_sec=1 ;;
	--small) small=$2; shift ;;
	--main) main=$2; shift ;;
	--readdir) rdn=$2; shift ;;
	--large) large=$2; shift ;;
	--reps) reps=$2; shift ;;
	--large-reps) large_reps=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--churn) churn=$2; shift ;;
	--warm) warm_sec=$2; shift ;;
	--keep) keep=1 ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage 2 >&2 ;;
	esac
	shift
done
for v in "$small" "$main" "$rdn" "$large" "$reps" "$large_reps" "$cycles" "$churn"; do
	case $v in '' | *[!0-9]* | 0) echo "run.sh: sizes must be positive integers" >&2; exit 2 ;; esac
done
case $warm_sec in '' | *[!0-9.]* | *.*.* | .) echo "run.sh: --warm takes seconds" >&2; exit 2 ;; esac
[ "$main" -ge "$warm_set" ] || warm_set=$main
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (mounts, /proc/sys/vm/drop_caches)" >&2
	exit 2
fi

log() { echo "run.sh: $*" >&2; }

# ------------------------------------------------------------------ build
build=${BENCH_BUILD_DIR:-$top/build-bench}
tools=$build/bench-tools
mkdir -p "$tools"
if [ -n "${BUNDLEFS_BIN:-}" ]; then
	bfs_bin=$BUNDLEFS_BIN
else
	log "building bundlefs (Release) in $build"
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$tools/cmake.log" 2>&1 ||
		{ cat "$tools/cmake.log" >&2; exit 1; }
	cmake --build "$build" --target bundlefs -j"$(nproc)" >>"$tools/cmake.log" 2>&1 ||
		{ cat "$tools/cmake.log" >&2; exit 1; }
	bfs_bin=$build/fs/bundlefs
fi
[ -x "$bfs_bin" ] || { echo "run.sh: no bundlefs binary at $bfs_bin" >&2; exit 1; }

gcc -O2 -Wall -Wextra -pthread -o "$tools/bench" "$top/bench/bench.c"

# libfuse's own example, as shipped by libfuse3-dev (possibly gzipped).
ex=/usr/share/doc/libfuse3-dev/examples
for f in passthrough_ll.c passthrough_helpers.h; do
	if [ -f "$ex/$f" ]; then
		cp "$ex/$f" "$tools/$f"
	elif [ -f "$ex/$f.gz" ]; then
		gunzip -c "$ex/$f.gz" >"$tools/$f"
	else
		echo "run.sh: $ex/$f not found (install libfuse3-dev)" >&2
		exit 1
	fi
done
(cd "$tools" && gcc -O2 -Wall passthrough_ll.c $(pkg-config --cflags --libs fuse3) \
	-o passthrough_ll)
pll_bin=$tools/passthrough_ll
bench=$tools/bench

# ------------------------------------------------------------ stores, mounts
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/bundlefs-bench.XXXXXX")
# A socket root of 15 characters, like /run/containerd: the computed address
# then has the size of a real one (89 bytes).
sock=$(mktemp -d /tmp/bfsXXXXXXX)
A=$work/src/a # bundlefs's store: no stored address files
B=$work/src/b # the same bundles with stored 89-byte address files
mb=$work/mnt-bfs
mp=$work/mnt-pll
P=$mp # passthrough_ll serves $work/src: $P/a is store A, $P/b store B
bfs_pid='' pll_pid=''

cleanup() {
	set +e
	for m in "$mb" "$mp"; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u -z "$m"
	done
	for p in $bfs_pid $pll_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$keep" = 1 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
	rm -rf "$sock"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mkdir -p "$A/state" "$A/work" "$B/state" "$B/work" "$mb" "$mp" "$sock/s"

# Status reads: one listening unix socket per bundle in the live case, so
# the measuring process needs that many descriptors (soft limit raised for
# it alone, up to the hard limit; fewer bundles when that is too small).
nstatus=$main
status_nofile=$(ulimit -Hn)
[ "$status_nofile" = unlimited ] && status_nofile=$(cat /proc/sys/fs/nr_open)
if [ "$status_nofile" -lt $((nstatus + 64)) ]; then
	nstatus=$((status_nofile - 64))
	log "descriptor limit $status_nofile: status measured over $nstatus bundles"
fi

t_start=$(date +%s)
log "creating store A: $small + $main + $nstatus + $rdn + $large bundles"
"$bench" populate "$A/state" "$A/work" small "$small"
"$bench" populate "$A/state" "$A/work" main "$main"
"$bench" populate -j -a "unix://$sock/s/" "$A/state" "$A/work" status "$nstatus"
"$bench" populate "$A/state" "$A/work" readdir "$rdn"
"$bench" populate "$A/state" "$A/work" large "$large"
"$bench" populate "$A/state" "$A/work" cyc 0

wait_mount() { # MNT PID LOG
	for _ in $(seq 100); do
		mountpoint -q "$1" && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: mounting $1 failed:" >&2
	cat "$3" >&2
	exit 1
}

# bundlefs under a 1024-descriptor limit: it must serve every bundle with it.
# The v1 format, which the published figures (docs/PERFORMANCE.md) measure.
(ulimit -n 1024 && exec "$bfs_bin" "$mb" -f \
	-o "runtime=v1,state=$A/state,work=$A/work,socket_root=$sock") 2>"$work/bfs.log" &
bfs_pid=$!
wait_mount "$mb" "$bfs_pid" "$work/bfs.log"

addr_len=$(wc -c <"$mb/main/b0000000/address")
log "creating store B, and namespace stored in store A, with stored $addr_len-byte address files"
# Beside the mount: bundlefs shows them within a second (SPEC 4.8).
"$bench" populate -a "$addr_len" "$A/state" "$A/work" stored "$main"
"$bench" populate -a "$addr_len" "$B/state" "$B/work" small "$small"
"$bench" populate -a "$addr_len" "$B/state" "$B/work" main "$main"
"$bench" populate -a "$addr_len" "$B/state" "$B/work" large "$large"

# passthrough_ll keeps one O_PATH descriptor per inode the kernel knows.
# Raise its limit as far as this machine lets us; the large namespace is
# measured through it only when the limit covers two descriptors per bundle.
pll_nofile=$(cat /proc/sys/fs/nr_open)
ulimit -Hn "$pll_nofile" 2>/dev/null || pll_nofile=$(ulimit -Hn)
[ "$pll_nofile" = unlimited ] && pll_nofile=$(cat /proc/sys/fs/nr_open)
(ulimit -n "$pll_nofile" &&
	exec "$pll_bin" -f -o "source=$work/src,${PLL_OPTS:-timeout=0.5}" "$mp") \
	2>"$work/pll.log" &
pll_pid=$!
wait_mount "$mp" "$pll_pid" "$work/pll.log"
t_ready=$(date +%s)

# ------------------------------------------------------------------ measure
res=$work/results
: >"$res"
measure() { # NAME bench-args...
	local name=$1 out
	shift
	log "measuring $name"
	out=$("$bench" "$@")
	echo "$out" | awk -v n="$name" '$1 == "RESULT" { print n, $2, $3 }' >>"$res"
}
measure_status() { # NAME bench-status-args...: with a descriptor per live socket
	local name=$1 out
	shift
	log "measuring $name"
	out=$(ulimit -Sn "$((nstatus + 64))" && "$bench" status "$@")
	echo "$out" | awk -v n="$name" '$1 == "RESULT" { print n, $2, $3 }' >>"$res"
}
cols3() { # NSDIR-suffix for store A
	echo "backing=$A/state/$1" "pll=$P/a/state/$1" "bfs=$mb/$1"
}
cols3b() { # address reads: backing and passthrough_ll read stored files (store B)
	echo "backing=$B/state/$1" "pll=$P/b/state/$1" "bfs=$mb/$1"
}
pll_large=1
if [ "$pll_nofile" -lt $((2 * large + 1000)) ]; then
	pll_large=0
	log "passthrough_ll's descriptor limit ($pll_nofile) is too small for $large bundles:" \
		"large namespace without it"
fi
cols_large() { # $1: the cols function
	if [ "$pll_large" = 1 ]; then
		$1 large
	else
		$1 large | tr ' ' '\n' | grep -v '^pll='
	fi
}

drop_caches() { # between groups: passthrough_ll then closes what the kernel forgets
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 0.2
	echo 3 >/proc/sys/vm/drop_caches
}
# shellcheck disable=SC2046
{
	drop_caches
	measure readdir readdir -r "$reps" $(cols3 readdir)
	drop_caches
	measure warm_stat stat -r "$reps" -e "$expire" -w "$warm_set" "$main" $(cols3 main)
	measure warm_stat_all stat -r "$reps" -w "$main" -d "$warm_sec" "$main" $(cols3 main)
	measure warm_readdir readdir -r "$reps" -p -d "$warm_sec" $(cols3 main)
	measure read_stored read -r "$reps" -w "$main" -d "$warm_sec" "$main" \
		"backing=$A/state/stored" "pll=$P/a/state/stored" "bfs=$mb/stored"
	measure_status status_live -r "$reps" -e "$expire" -l -s "$sock/s" "$nstatus" \
		"bfs=$mb/status"
	measure_status status_dead -r "$reps" -e "$expire" -s "$sock/s" "$nstatus" \
		"bfs=$mb/status"
	measure cold_stat stat -r "$reps" -c "$main" $(cols3 main)
	measure read read -r "$reps" -e "$expire" "$main" $(cols3b main)
	drop_caches
	measure cold_stat_2t stat -r "$reps" -c -t 2 "$main" $(cols3 main)
	measure read_2t read -r "$reps" -e "$expire" -t 2 "$main" $(cols3b main)
	drop_caches
	measure cycle cycle -r "$reps" -n "$cycles" \
		"backing=direct:$A/state/cyc:$A/work/cyc" \
		"pll=direct:$P/a/state/cyc:$P/a/work/cyc" "bfs=fs:$mb/cyc"
	measure cold_stat_small stat -r "$((reps * 2 + 1))" -c "$small" $(cols3 small)
	measure read_small read -r "$((reps * 2 + 1))" -e "$expire" "$small" $(cols3b small)
	drop_caches
	measure cold_stat_large stat -r "$large_reps" -c "$large" $(cols_large cols3)
	measure read_large read -r "$large_reps" -e "$expire" "$large" $(cols_large cols3b)
}

# After every bundle of the large namespace has been stat-ed and read.
proc_figures() { # PID -> "hwm_kib fds"
	echo "$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status")" "$(ls "/proc/$1/fd" | wc -l)"
}
read -r bfs_hwm bfs_fds < <(proc_figures "$bfs_pid")
read -r pll_hwm pll_fds < <(proc_figures "$pll_pid")
{
	echo "rss pll $pll_hwm"
	echo "rss bfs $bfs_hwm"
	echo "fds pll $pll_fds"
	echo "fds bfs $bfs_fds"
} >>"$res"

# Churn beside the idle mount, after one ls -l of the namespace, then the
# same churn with nothing mounted.
measure churn_mnt churn -r "$reps" -n "$churn" -P "$bfs_pid" -L "$mb/main" \
	"bfs=$A/state/main:$A/work/main"
if ! kill -0 "$bfs_pid" 2>/dev/null; then
	echo "run.sh: bundlefs exited during the benchmark:" >&2
	cat "$work/bfs.log" >&2
	exit 1
fi
for m in "$mb" "$mp"; do
	fusermount3 -u "$m"
done
for p in $bfs_pid $pll_pid; do
	wait "$p" 2>/dev/null || true
done
bfs_pid='' pll_pid=''
measure churn_nomnt churn -r "$reps" -n "$churn" "backing=$A/state/main:$A/work/main"
churn_bfs=$(awk '$1 == "churn_mnt" && $2 == "bfs" { print $3 }' "$res")
churn_bak=$(awk '$1 == "churn_nomnt" && $2 == "backing" { print $3 }' "$res")
printf 'churn bfs %s\nchurn backing %s\n' "$churn_bfs" "$churn_bak" >>"$res"
t_end=$(date +%s)

# -------------------------------------------------------------------- table
echo
echo "bundlefs benchmark: $(nproc) CPUs, kernel $(uname -r)," \
	"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "namespaces: small=$small main=$main readdir=$rdn large=$large bundles; $reps repetitions" \
	"($large_reps for large); $cycles cycles per repetition;" \
	"set-up $((t_ready - t_start)) s, measuring $((t_end - t_ready)) s"
echo
awk -v small="$small" -v main="$main" -v rdn="$rdn" -v large="$large" -v ws="$warm_set" \
	-v nstatus="$nstatus" -v churn="$churn" '
function fmt(x) {
	if (x == "") return "-"
	if (x == 0) return "0"
	if (x >= 1000) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "" : a / b }
function row(label, b, p, f, rp, rb, target, ok) {
	printf "| %-34s | %14s | %14s | %14s | %7s | %7s | %-22s | %-4s |\n", label, \
		fmt(b), fmt(p), fmt(f), fmt(rp), fmt(rb), target, ok
}
function verdict(x, op, lim) {
	if (x == "") return "MISS"
	return (op == ">=" ? x >= lim : x <= lim) ? "PASS" : "MISS"
}
function rate_row(label, name, which, lim,    b, p, f, rp, rb, ok, tgt) {
	b = v[name, "backing"]; p = v[name, "pll"]; f = v[name, "bfs"]
	rp = ratio(f, p); rb = ratio(f, b)
	if (which == "pll") { ok = verdict(rp, ">=", lim); tgt = "bfs/pll >= " lim }
	else if (which == "backing") { ok = verdict(rb, ">=", lim); tgt = "bfs/backing >= " lim }
	else { ok = ""; tgt = "" }
	row(label, b, p, f, rp, rb, tgt, ok)
}
function cost_row(label, s, l,    b, p, f) {
	# per-operation cost large / small = rate small / rate large
	b = ratio(v[s, "backing"], v[l, "backing"])
	p = ratio(v[s, "pll"], v[l, "pll"])
	f = ratio(v[s, "bfs"], v[l, "bfs"])
	row(label, b, p, f, "", "", "bfs <= 1.2", verdict(f, "<=", 1.2))
}
{ v[$1, $2] = $3 }
END {
	printf "| %-34s | %14s | %14s | %14s | %7s | %7s | %-22s | %-4s |\n", "operation", \
		"backing", "passthrough_ll", "bundlefs", "bfs/pll", "bfs/bak", "target", "res"
	printf "|%s|%s|%s|%s|%s|%s|%s|%s|\n", "------------------------------------", \
		"----------------", "----------------", "----------------", "---------", \
		"---------", "------------------------", "------"
	rate_row("cold stat, " main " bundles (1/s)", "cold_stat", "pll", "1.0")
	rate_row("warm stat, set of " ws " (1/s)", "warm_stat", "backing", "0.5")
	rate_row("warm stat, all " main ", passes (1/s)", "warm_stat_all", "backing", "0.95")
	rate_row("address read, " main " (1/s)", "read", "pll", "1.0")
	rate_row("stored address read, warm (1/s)", "read_stored", "backing", "0.5")
	rate_row("readdir, " rdn " entries (entries/s)", "readdir", "pll", "1.0")
	rate_row("warm readdir, " main " entries (ent/s)", "warm_readdir", "backing", "0.95")
	row("status, " nstatus " live sockets (1/s)", "", "", v["status_live", "bfs"], "", "", "", "")
	row("status, " nstatus " dead sockets (1/s)", "", "", v["status_dead", "bfs"], "", "", "", "")
	rate_row("create-delete cycle (1/s)", "cycle", "backing", "0.5")
	rate_row("cold stat, 2 threads (1/s)", "cold_stat_2t", "pll", "1.0")
	rate_row("address read, 2 threads (1/s)", "read_2t", "pll", "1.0")
	rate_row("cold stat, small ns: " small " (1/s)", "cold_stat_small", "", "")
	rate_row("cold stat, large ns: " large " (1/s)", "cold_stat_large", "", "")
	cost_row("cold stat cost, large/small", "cold_stat_small", "cold_stat_large")
	rate_row("address read, small ns: " small " (1/s)", "read_small", "", "")
	rate_row("address read, large ns: " large " (1/s)", "read_large", "", "")
	cost_row("address read cost, large/small", "read_small", "read_large")
	f = v["rss", "bfs"] / 1024; p = v["rss", "pll"] / 1024
	row("daemon peak RSS, VmHWM (MiB)", "", p, f, "", "", "bfs <= 64", verdict(f, "<=", 64))
	row("daemon open descriptors", "", v["fds", "pll"], v["fds", "bfs"], "", "", \
		"bfs <= 64 (bounded)", verdict(v["fds", "bfs"], "<=", 64))
	row("churn of " churn " bundles, wall (ms)", v["churn", "backing"], "", v["churn", "bfs"], \
		"", ratio(v["churn", "bfs"], v["churn", "backing"]), "", "")
	row("daemon CPU during churn (ms)", 0, "", v["churn_mnt", "bfs-cpu"], "", "", "", "")
}' "$res"
cat <<EOF

backing: the store's own directories (address reads: stored files of $addr_len bytes;
create-delete: containerd's newBundle + bundle.Delete in C). passthrough_ll: libfuse's
example over the same stores (-o ${PLL_OPTS:-timeout=0.5}; create-delete: the same C steps
through it). bundlefs: computed addresses; create-delete = mkdir, write config.json, rmdir.
cold stat: caches dropped before each pass. address read: open-read-close, each pass after
the ${expire} s cache window of the previous one expired (backing store warm).
warm stat: the set is stat-ed once, then again and again for 0.25 s (inside the window).
warm stat (all), stored address read, warm readdir: one untimed pass, then whole passes
over the namespace, no change between them, for $warm_sec s (repetitions of that).
stored address read: namespace stored (store A), $addr_len-byte stored files read by all three.
status: open-read-close of every bundle's status, stored address unix://$sock/s/<id>;
live: the benchmark listens on each (and accepts); dead: socket files, connect refused.
churn: $churn bundles made (rootfs, config.json, address, init.pid, work dir) then removed,
directly in store A's main namespace; bundlefs: beside the idle mount after an ls -l of
it (kept open), daemon CPU = utime+stime until 0.5 s after; backing: nothing mounted.
EOF
exit 0
