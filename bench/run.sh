#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# bundlefs benchmark: builds what it needs, creates the backing stores, mounts
# bundlefs and two peers over the same stores (libfuse's passthrough_ll and
# Debian's bindfs, installed with apt-get when missing), measures, and prints
# one table: min/median/max of several repetitions per figure, ratios of the
# medians against the best peer and the backing store, each target PASS or
# MISS. Then the FUSE requests each daemon received per operation, counted
# with the kernel's fuse_request_send tracepoint (load-independent; skipped,
# with one line saying so, where tracefs has no fuse events). Figures, not a
# test: it exits 0 whether the targets are met or not, non-zero only when
# something could not be run. Needs root (mounts, drop_caches, tracefs).
#
#   bench/run.sh [--quick] [--small N] [--main N] [--readdir N] [--large N]
#                [--reps N] [--large-reps N] [--cycles N] [--churn N]
#                [--warm SEC] [--mchurn SEC] [--uring on|off] [--no-requests] [--keep]
#
# Namespaces: main (stat, address reads, warm listings, churn beside the
# mount), stored (main's size, stored address files), readdir (listings),
# small and large (per-operation cost against the number of bundles), cyc and
# mchurn (create-delete through the mount); a store of its own holds status
# (main's size, stored addresses naming sockets under the socket root), which
# a read-only bundlefs shows alone, so that MOUNT/*/*/status is that namespace.
# Status rows: at most 2 repetitions (their listeners are held by the
# benchmark, no shim, so each live status walks /proc to find none; bench/status.sh
# runs these rows alone, also with a shim holding them). Environment (the flags win): BENCH_SMALL (100), BENCH_MAIN (5000),
# BENCH_READDIR (10000), BENCH_LARGE (100000), BENCH_REPS (5), BENCH_LARGE_REPS (3),
# BENCH_CYCLES (300), BENCH_CHURN (1000 bundles), BENCH_WARM_SEC (1: length of
# each warm pass), BENCH_MCHURN_SEC (60: churn through the mounts),
# BENCH_TMPDIR (where the stores go, default $TMPDIR or /tmp),
# BENCH_BUILD_DIR (default <repo>/build-bench), BUNDLEFS_BIN (use this daemon
# instead of building one), PLL_OPTS (extra passthrough_ll options,
# default timeout=0.5: the same cache window as bundlefs), BINDFS_OPTS (extra
# bindfs arguments, default none: as a new user mounts it).
# --uring on|off: set the fuse module's enable_uring for the run (put back at
# the end), so that bundlefs serves through FUSE over io_uring or /dev/fuse;
# without it, as the node is. The table's header says which bundlefs used.
# --quick: 2,000 bundles in the main, readdir and large namespaces, 3 repetitions
# (also for the small namespace), 100 cycles, 300 bundles of churn, 0.5 s warm
# passes, 4 s of churn through the mounts, 500 status bundles (a smoke test
# of the whole chain).
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
warm_sec=${BENCH_WARM_SEC:-1}
mchurn_sec=${BENCH_MCHURN_SEC:-60}
status_max=''
small_reps=''
status_reps=''
requests=1
keep=0
uring=''
warm_set=100
expire=0.6 # longer than both cache windows (0.5 s)

usage() {
	sed -n '/^#   bench\/run.sh/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit "${1:-0}"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick)
		main=2000 rdn=2000 large=2000 reps=3 large_reps=3 cycles=100 churn=300 warm_sec=0.5
		mchurn_sec=4 status_max=500 small_reps=3
		;;
	--small) small=$2; shift ;;
	--main) main=$2; shift ;;
	--readdir) rdn=$2; shift ;;
	--large) large=$2; shift ;;
	--reps) reps=$2; shift ;;
	--large-reps) large_reps=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--churn) churn=$2; shift ;;
	--warm) warm_sec=$2; shift ;;
	--mchurn) mchurn_sec=$2; shift ;;
	--uring) uring=$2; shift ;;
	--no-requests) requests=0 ;;
	--keep) keep=1 ;;
	-h | --help) usage 0 ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage 2 >&2 ;;
	esac
	shift
done
for v in "$small" "$main" "$rdn" "$large" "$reps" "$large_reps" "$cycles" "$churn"; do
	case $v in '' | *[!0-9]* | 0) echo "run.sh: sizes must be positive integers" >&2; exit 2 ;; esac
done
for v in "$warm_sec" "$mchurn_sec"; do
	case $v in '' | *[!0-9.]* | *.*.* | .) echo "run.sh: --warm and --mchurn take seconds" >&2; exit 2 ;; esac
done
[ "$main" -ge "$warm_set" ] || warm_set=$main
[ -n "$small_reps" ] || small_reps=$((reps * 2 + 1))
[ -n "$status_reps" ] || status_reps=$((reps < 2 ? reps : 2))
if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: needs root (mounts, /proc/sys/vm/drop_caches)" >&2
	exit 2
fi
ring_param=/sys/module/fuse/parameters/enable_uring
ring_was=''
case $uring in
'') ;;
on | off)
	[ -w "$ring_param" ] || { echo "run.sh: this kernel has no FUSE over io_uring" >&2; exit 2; }
	;;
*) echo "run.sh: --uring takes on or off" >&2; exit 2 ;;
esac

t_zero=$(date +%s)
log() { echo "run.sh: [$(($(date +%s) - t_zero)) s] $*" >&2; }

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

# Debian's bindfs (libfuse 2, high-level API, one lstat by path per lookup).
bindfs_bin=$(command -v bindfs || true)
if [ -z "$bindfs_bin" ]; then
	log "bindfs is missing: installing Debian's package"
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bindfs ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bindfs; }; } \
		>"$tools/apt.log" 2>&1 || true
	bindfs_bin=$(command -v bindfs || true)
	[ -n "$bindfs_bin" ] || log "bindfs not available (apt-get install bindfs failed): its column is empty"
fi

# ------------------------------------------------------------ stores, mounts
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/bundlefs-bench.XXXXXX")
# A socket root of 15 characters, like /run/containerd: the computed address
# then has the size of a real one (89 bytes).
sock=$(mktemp -d /tmp/bfsXXXXXXX)
A=$work/src/a # bundlefs's store: no stored address files
B=$work/src/b # the same bundles with stored 89-byte address files
C=$work/c     # the status namespace alone
mb=$work/mnt-bfs
mp=$work/mnt-pll
mi=$work/mnt-bindfs
mc=$work/mnt-status # bundlefs, read-only, over store C
mr=$work/mnt-ro     # bundlefs, read-only, over store A (the churn's reader)
P=$mp # passthrough_ll serves $work/src: $P/a is store A, $P/b store B
I=$mi # bindfs serves $work/src too
bfs_pid='' pll_pid='' bindfs_pid='' st_pid='' ro_pid=''
trace_inst='' tracefs_mounted=''

cleanup() {
	set +e
	for m in "$mb" "$mp" "$mi" "$mc" "$mr"; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	for p in $bfs_pid $pll_pid $bindfs_pid $st_pid $ro_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "$trace_inst" ] && [ -d "$trace_inst" ]; then
		echo 0 >"$trace_inst/events/fuse/fuse_request_send/enable"
		rmdir "$trace_inst"
	fi
	[ -n "$tracefs_mounted" ] && umount /sys/kernel/tracing
	[ -n "$ring_was" ] && echo "$ring_was" >"$ring_param"
	if [ "$keep" = 1 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
	rm -rf "$sock"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
if [ -n "$uring" ]; then
	ring_was=$(cat "$ring_param")
	if [ "$uring" = on ]; then echo Y >"$ring_param"; else echo N >"$ring_param"; fi
fi

mkdir -p "$A/state" "$A/work" "$B/state" "$B/work" "$C/state" "$C/work" \
	"$mb" "$mp" "$mi" "$mc" "$mr" "$sock/s"

# Status reads: one listening unix socket per live bundle, so the measuring
# process needs that many descriptors (soft limit raised for it alone, up
# to the hard limit; fewer bundles when that is too small).
nstatus=$main
[ -n "$status_max" ] && [ "$nstatus" -gt "$status_max" ] && nstatus=$status_max
status_nofile=$(ulimit -Hn)
[ "$status_nofile" = unlimited ] && status_nofile=$(cat /proc/sys/fs/nr_open)
if [ "$status_nofile" -lt $((nstatus + 64)) ]; then
	nstatus=$((status_nofile - 64))
	log "descriptor limit $status_nofile: status measured over $nstatus bundles"
fi

t_start=$(date +%s)
log "creating store A: $small + $main + $rdn + $large bundles; store C: $nstatus"
"$bench" populate "$A/state" "$A/work" small "$small"
"$bench" populate "$A/state" "$A/work" main "$main"
"$bench" populate "$A/state" "$A/work" readdir "$rdn"
"$bench" populate "$A/state" "$A/work" large "$large"
"$bench" populate "$A/state" "$A/work" cyc 0
"$bench" populate "$A/state" "$A/work" mchurn 0
"$bench" populate -j -a "unix://$sock/s/" "$C/state" "$C/work" status "$nstatus"

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
(ulimit -n 1024 && exec "$bfs_bin" "$mc" -f \
	-o "ro,runtime=v1,state=$C/state,work=$C/work,socket_root=$sock") 2>"$work/status.log" &
st_pid=$!
wait_mount "$mc" "$st_pid" "$work/status.log"

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
if [ -n "$bindfs_bin" ]; then
	# shellcheck disable=SC2086
	"$bindfs_bin" -f ${BINDFS_OPTS:-} "$work/src" "$mi" 2>"$work/bindfs.log" &
	bindfs_pid=$!
	wait_mount "$mi" "$bindfs_pid" "$work/bindfs.log"
fi
t_ready=$(date +%s)

# ------------------------------------------------------------------ measure
res=$work/results
: >"$res"
measure() { # NAME bench-args...
	local name=$1 out
	shift
	log "measuring $name"
	out=$("$bench" "$@")
	results "$name" <<<"$out"
}
results() { # NAME < bench's output: "NAME COL median min max"; COL-pK: NAME-pK COL
	awk -v n="$1" '$1 == "RESULT" {
		name = n; col = $2
		if (match(col, /-p[0-9]+$/)) { name = n substr(col, RSTART); col = substr(col, 1, RSTART - 1) }
		print name, col, $3, $4, $5
	}' >>"$res"
}
measure_status() { # NAME bench-status-args...: with a descriptor per live socket
	local name=$1 out
	shift
	log "measuring $name"
	out=$(ulimit -Sn "$((nstatus + 64))" && "$bench" status "$@")
	results "$name" <<<"$out"
}
# Columns: bench's labels, one per daemon (bindfs only when it is mounted).
cols() { # NS-suffix, store A
	echo "backing=$A/state/$1" "pll=$P/a/state/$1"
	[ -n "$bindfs_pid" ] && echo "bindfs=$I/a/state/$1"
	echo "bfs=$mb/$1"
}
colsb() { # address reads: backing and the peers read stored files (store B)
	echo "backing=$B/state/$1" "pll=$P/b/state/$1"
	[ -n "$bindfs_pid" ] && echo "bindfs=$I/b/state/$1"
	echo "bfs=$mb/$1"
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
stale_grep="grep -l '\"stale\":true' $mc/*/*/status"
# Address reads measure the daemons with the backing store warm: the cold
# stat passes before them dropped its pages, which the peers would read back
# from the disk (one untimed pass on the store itself warms them for all).
prime_b() { # NS COUNT
	"$bench" read -r 1 "$2" "backing=$B/state/$1" >/dev/null
}
# shellcheck disable=SC2046
{
	drop_caches
	measure readdir readdir -r "$reps" $(cols readdir)
	drop_caches
	measure warm_stat stat -r "$reps" -e "$expire" -w "$warm_set" "$main" $(cols main)
	# The first lookups of every bundle, then three passes back to back.
	measure warm_pass stat -r "$reps" -k 3 "$main" $(cols main)
	measure warm_readdir readdir -r "$reps" -p -d "$warm_sec" $(cols main)
	measure read_stored read -r "$reps" -w "$main" -d "$warm_sec" "$main" $(cols stored)
	measure_status status_dead -r "$status_reps" -e "$expire" -s "$sock/s" "$nstatus" \
		"bfs=$mc/status"
	measure_status status_half -r "$status_reps" -e "$expire" -l -m 2 -s "$sock/s" "$nstatus" \
		"bfs=$mc/status"
	measure_status stale_grep -r "$status_reps" -e "$expire" -l -m 2 -s "$sock/s" -x "$stale_grep" \
		"$nstatus" "bfs=$mc/status"
	measure cold_stat stat -r "$reps" -c "$main" $(cols main)
	prime_b main "$main"
	measure read read -r "$reps" -e "$expire" "$main" $(colsb main)
	drop_caches
	measure cold_stat_2t stat -r "$reps" -c -t 2 "$main" $(cols main)
	measure cold_stat_4t stat -r "$reps" -c -t 4 "$main" $(cols main)
	prime_b main "$main"
	measure read_2t read -r "$reps" -e "$expire" -t 2 "$main" $(colsb main)
	drop_caches
	bcyc="bindfs=direct:$I/a/state/cyc:$I/a/work/cyc"
	[ -n "$bindfs_pid" ] || bcyc=''
	measure cycle cycle -r "$reps" -n "$cycles" \
		"backing=direct:$A/state/cyc:$A/work/cyc" \
		"pll=direct:$P/a/state/cyc:$P/a/work/cyc" $bcyc "bfs=fs:$mb/cyc"
	measure cold_stat_small stat -r "$small_reps" -c "$small" $(cols small)
	prime_b small "$small"
	measure read_small read -r "$small_reps" -e "$expire" "$small" $(colsb small)
	drop_caches
	measure cold_stat_large stat -r "$large_reps" -c "$large" $(cols_large cols)
	prime_b large "$large"
	measure read_large read -r "$large_reps" -e "$expire" "$large" $(cols_large colsb)
}

# After every bundle of the large namespace has been stat-ed and read.
proc_figures() { # PID -> "hwm_kib fds"
	echo "$(awk '/^VmHWM:/ { print $2 }' "/proc/$1/status")" "$(ls "/proc/$1/fd" | wc -l)"
}
{
	for d in pll bfs bindfs; do
		pid=$(eval echo "\$${d}_pid")
		[ -n "$pid" ] || continue
		read -r hwm fds < <(proc_figures "$pid")
		echo "rss $d $hwm $hwm $hwm"
		echo "fds $d $fds $fds $fds"
	done
} >>"$res"

# A read-only bundlefs over store A on $mr (its log: $work/$1.log), and its end.
mount_ro_a() { # LOG_NAME
	(ulimit -n 1024 && exec "$bfs_bin" "$mr" -f \
		-o "ro,runtime=v1,state=$A/state,work=$A/work,socket_root=$sock") 2>"$work/$1.log" &
	ro_pid=$!
	wait_mount "$mr" "$ro_pid" "$work/$1.log"
}
umount_ro_a() {
	umount "$mr"
	wait "$ro_pid" 2>/dev/null || true
	ro_pid=''
}

# The target's shape: a daemon that has served the large namespace alone
# (the one above also holds the other namespaces' 15,000 bundles and the
# rows' work): a fresh read-only bundlefs over store A, every bundle of the
# large namespace stat-ed once and its address read twice.
mount_ro_a alone
log "measuring the memory of a daemon serving the large namespace alone"
drop_caches
"$bench" stat -r 1 -c "$large" "bfs=$mr/large" >/dev/null
"$bench" read -r 2 "$large" "bfs=$mr/large" >/dev/null
read -r hwm fds < <(proc_figures "$ro_pid")
echo "rss bfs-alone $hwm $hwm $hwm" >>"$res"
echo "fds bfs-alone $fds $fds $fds" >>"$res"
umount_ro_a

# Churn through the mount: bundles made and removed in $mb (mkdir, write
# config.json, read status, rmdir) for a bounded time, while a second,
# read-only bundlefs over the same store is listed and every status read in
# a loop. The daemons' RSS and descriptors before, after the warm-up and at
# the end (RSS and descriptors of a daemon that is not growing stay flat).
mount_ro_a ro
log "measuring churn through the mounts ($mchurn_sec s)"
"$bench" mchurn -d "$mchurn_sec" -P "$bfs_pid" -Q "$ro_pid" "$mb/mchurn" "$mr/mchurn" |
	awk '$1 == "MCHURN" { print "mchurn", $2, $3, $3, $3 }' >>"$res"
umount_ro_a

# Churn beside the idle mount, after one ls -l of the namespace, then the
# same churn with nothing mounted.
measure churn_mnt churn -r "$reps" -n "$churn" -P "$bfs_pid" -L "$mb/main" \
	"bfs=$A/state/main:$A/work/main"
for p in $bfs_pid $st_pid; do
	if ! kill -0 "$p" 2>/dev/null; then
		echo "run.sh: bundlefs exited during the benchmark:" >&2
		cat "$work/bfs.log" "$work/status.log" >&2
		exit 1
	fi
done

# ---------------------------------------------------- requests per operation
# Each daemon in turn, one pass per phase, the FUSE requests it received
# counted from the kernel's fuse_request_send tracepoint (a private tracing
# instance filtered on the mounts' connections): what each operation costs
# in round trips, whatever else loads the machine.
req=$work/requests
: >"$req"
tracing=/sys/kernel/tracing
if [ "$requests" = 1 ] && [ ! -d "$tracing/events" ] && mount -t tracefs nodev "$tracing" 2>/dev/null; then
	tracefs_mounted=1
fi
if [ "$requests" = 1 ] && [ -d "$tracing/events/fuse/fuse_request_send" ] &&
	mkdir "$tracing/instances/bundlefs-bench-$$" 2>/dev/null; then
	trace_inst=$tracing/instances/bundlefs-bench-$$
	declare -A devof
	filter=''
	for d in pll:$mp bindfs:$mi bfs:$mb status:$mc; do
		m=${d#*:}
		mountpoint -q "$m" || continue
		dev=$(stat -c %d "$m")
		devof[${d%%:*}]=$dev
		filter="${filter:+$filter || }connection == $dev"
	done
	ev=$trace_inst/events/fuse/fuse_request_send
	echo 32768 >"$trace_inst/buffer_size_kb"
	echo "$filter" >"$ev/filter"
	echo 1 >"$ev/enable"
	req_phase() { # DAEMON PHASE OPS bench-args...
		local d=$1 phase=$2 ops=$3
		shift 3
		echo >"$trace_inst/trace"
		"$bench" "$@" >/dev/null
		awk -v d="$d" -v p="$phase" -v ops="$ops" -v dev="${devof[$d]}" '
		/fuse_request_send/ {
			c = ""
			for (i = 1; i <= NF; i++) {
				if ($i == "connection") c = $(i + 1)
				if ($i == "opcode") o = $(i + 2)
			}
			if (c != dev) next
			gsub(/[()]|FUSE_/, "", o); n[o]++
		}
		END {
			for (o in n)
				if (n[o] / ops >= 0.005) { printf "%s\t%s\t%s\t%.2f\n", p, d, o, n[o] / ops; any = 1 }
			if (!any) printf "%s\t%s\t%s\t%.2f\n", p, d, "none", 0
		}' \
			"$trace_inst/trace" | sort -t"$(printf '\t')" -k3,3 >>"$req"
	}
	log "counting requests per operation"
	for d in pll bindfs bfs; do
		case $d in
		pll) s=$P/a/state b=$P/b/state cyc="direct:$P/a/state/cyc:$P/a/work/cyc" ;;
		bindfs) [ -n "$bindfs_pid" ] || continue
			s=$I/a/state b=$I/b/state cyc="direct:$I/a/state/cyc:$I/a/work/cyc" ;;
		bfs) s=$mb b=$mb cyc="fs:$mb/cyc" ;;
		esac
		drop_caches
		req_phase $d "1 stat, cold (first lookup)" "$main" stat -r 1 "$main" "x=$s/main"
		req_phase $d "2 stat, second pass at once" "$main" stat -r 1 "$main" "x=$s/main"
		req_phase $d "3 stat, third pass at once" "$main" stat -r 1 "$main" "x=$s/main"
		req_phase $d "4 stat, again after 1.5 s" "$main" stat -r 1 -e 1.5 "$main" "x=$s/main"
		req_phase $d "5 address read" "$main" read -r 1 -e "$expire" "$main" "x=$b/main"
		req_phase $d "6 address read, again at once" "$main" read -r 1 "$main" "x=$b/main"
		req_phase $d "7 create-delete cycle" "$cycles" cycle -r 1 -n "$cycles" "x=$cyc"
		drop_caches
		req_phase $d "8 readdir, first listing" 1 readdir -r 1 -d 0.000001 "x=$s/readdir"
		req_phase $d "9 readdir, second listing" 1 readdir -r 1 -d 0.000001 "x=$s/readdir"
	done
	(ulimit -Sn "$((nstatus + 64))" && req_phase status "10 status read, half live" \
		"$nstatus" status -r 1 -l -m 2 -s "$sock/s" "$nstatus" "x=$mc/status")
	echo 0 >"$ev/enable"
	rmdir "$trace_inst"
	trace_inst=''
	[ -n "$tracefs_mounted" ] && umount "$tracing" && tracefs_mounted=''
elif [ "$requests" = 1 ]; then
	log "no fuse_request_send tracepoint in tracefs here: requests per operation not counted"
fi

for m in "$mb" "$mp" "$mi" "$mc"; do
	mountpoint -q "$m" && umount "$m"
done
for p in $bfs_pid $pll_pid $bindfs_pid $st_pid; do
	wait "$p" 2>/dev/null || true
done
bfs_pid='' pll_pid='' bindfs_pid='' st_pid=''
measure churn_nomnt churn -r "$reps" -n "$churn" "backing=$A/state/main:$A/work/main"
{
	awk '$1 == "churn_mnt" && $2 == "bfs" { $1 = "churn"; print }' "$res"
	awk '$1 == "churn_nomnt" && $2 == "backing" { $1 = "churn"; print }' "$res"
} >>"$res.2"
cat "$res.2" >>"$res"
t_end=$(date +%s)

# -------------------------------------------------------------------- table
echo
echo "bundlefs benchmark: $(nproc) CPUs, kernel $(uname -r)," \
	"$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "namespaces: small=$small main=$main readdir=$rdn large=$large status=$nstatus bundles;" \
	"$reps repetitions ($large_reps for large); $cycles cycles per repetition;" \
	"set-up $((t_ready - t_start)) s, measuring $((t_end - t_ready)) s;" \
	"load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q "FUSE over io_uring" "$work/bfs.log"; then
	echo "bundlefs serves through FUSE over io_uring (the fuse module's enable_uring is set)"
else
	echo "bundlefs serves through /dev/fuse (no FUSE over io_uring: the fuse module's enable_uring is not set, or the kernel has none)"
fi
echo "each figure: min/median/max over the repetitions; ratios: of the medians"
echo
awk -v small="$small" -v main="$main" -v rdn="$rdn" -v large="$large" -v ws="$warm_set" \
	-v nstatus="$nstatus" -v churn="$churn" -v mchurn_sec="$mchurn_sec" \
	-f "$top/bench/table.awk" "$res"
cat <<EOF

backing: the store's own directories (address reads: stored files of $addr_len bytes;
create-delete: containerd's newBundle + bundle.Delete in C). passthrough_ll: libfuse's
example over the same stores (-o ${PLL_OPTS:-timeout=0.5}); bindfs: Debian's, over the same
stores (${BINDFS_OPTS:-no options}); create-delete for both: the same C steps through them.
bundlefs: computed addresses; create-delete = mkdir, write config.json, rmdir.
vs best peer: bundlefs over the better of passthrough_ll and bindfs (named), medians.
cold stat: caches dropped before each pass. address read: open-read-close, each pass after
the ${expire} s cache window of the previous one expired (backing store warm).
warm stat: the set is stat-ed once, then again and again for 0.25 s (inside the window).
stat after first lookups: caches dropped, one untimed pass (every bundle looked up once),
then three passes back to back, each its own row. stored address read, warm readdir: one
untimed pass, then whole passes, no change between them, for $warm_sec s.
status: open-read-close of every bundle's status (a read-only bundlefs over a store of
that namespace alone), stored address unix://$sock/s/<id>; dead: socket files, connect
refused; half live: the benchmark listens on every second one (and accepts).
grep: $stale_grep, half live (seconds; must list the dead half).
4 threads / 1 thread: cold stat rate with four threads over quarters of the namespace,
over the rate with one.
churn beside: $churn bundles made (rootfs, config.json, address, init.pid, work dir) then
removed, directly in store A's main namespace; bundlefs: beside the idle mount after an
ls -l of it (kept open), daemon CPU = utime+stime until 0.5 s after; backing: unmounted.
churn through mounts: for $mchurn_sec s, mkdir, write config.json, read status, rmdir
through bundlefs, one bundle at a time, while a second, read-only bundlefs over the same
store is listed and every status in it read in a loop; RSS (VmRSS, and RssAnon: the heap
and stacks without the libraries) before, after the warm-up (a sixth of the run), at the
end; growth = end - warm-up (VmRSS).
EOF

if [ -s "$req" ]; then
	echo
	echo "FUSE requests per operation (one pass per phase, each daemon in turn; kernel tracepoint)"
	echo
	awk -F'\t' '
	{ k = $1 SUBSEP $2; s[k] = s[k] (s[k] == "" ? "" : " ") $3 " " $4; t[k] += $4
	  if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
	function c(p, d,    k) {
		k = p SUBSEP d
		if (!(k in t)) return "-"
		return t[k] == 0 ? "0" : sprintf("%.2f: %s", t[k], s[k])
	}
	END {
		printf "| %-32s | %-38s | %-38s | %-46s |\n", "phase", "passthrough_ll", "bindfs", "bundlefs"
		printf "|%s|%s|%s|%s|\n", "----------------------------------", \
			"----------------------------------------", "----------------------------------------", \
			"------------------------------------------------"
		for (j = 1; j <= n; j++) {
			p = order[j]; label = p; sub(/^[0-9]+ /, "", label)
			printf "| %-32s | %-38s | %-38s | %-46s |\n", label, c(p, "pll"), c(p, "bindfs"), \
				(p ~ /status/) ? c(p, "status") : c(p, "bfs")
		}
	}' "$req"
	cat <<EOF

Each cell: requests per operation (per stat, per open-read-close, per cycle, per listing),
total first, then by opcode. FORGET and BATCH_FORGET are the kernel dropping inodes.
EOF
fi
exit 0
