#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# The node view's benchmark (SPEC 8): a node of PODS pods of PER_POD bundles
# each (one sandbox, the rest containers) in containerd's v2 plugin, every
# bundle with CRI annotations and a stored address; the bundles of every
# other pod have a live shim socket (one process listening on all of them,
# accepting and closing), the others' sockets are gone (their bundles are
# stale). It times, through a read-only node view and by hand on the same
# directories:
#   ls -l pods/*/containers/     against jq over every config.json's annotations
#   cat leaks                    against a script connecting to every bundle's
#                                socket and to each socket no bundle names
# and prints seconds and the daemon's CPU seconds (user+system) for each.
# Figures, not a test: it checks only that both ways found the same links
# and the same stale bundles (exit 1 otherwise). Needs root (mounts), jq and
# python3.
#
#   bench/node.sh [--pods N] [--per-pod N] [--reps N] [--keep]
#
# Defaults: 1000 pods of 5 bundles (5,000 bundles, 2,500 live sockets), 3
# repetitions (the median is printed). BUNDLEFS_BIN: the daemon (default
# <repo>/build/fs/bundlefs); BENCH_TMPDIR: where the node goes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pods=1000
per_pod=5
reps=3
keep=0
while [ $# -gt 0 ]; do
	case $1 in
	--pods) pods=$2; shift 2 ;;
	--per-pod) per_pod=$2; shift 2 ;;
	--reps) reps=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '4,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "node.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
bin=${BUNDLEFS_BIN:-$top/build/fs/bundlefs}
[ -x "$bin" ] || { echo "node.sh: no daemon at $bin (build it, or set BUNDLEFS_BIN)" >&2; exit 2; }
command -v jq >/dev/null || { echo "node.sh: needs jq" >&2; exit 2; }

t=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/bundlefs-node.XXXXXX")
cs=$t/cs cr=$t/cr mnt=$t/mnt
plugin=io.containerd.runtime.v2.task
daemon= listener=
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u -z "$mnt" || true; fi
	[ -n "$daemon" ] && wait "$daemon" 2>/dev/null || true
	[ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null || true
	[ "$keep" = 1 ] || rm -rf "$t"
}
trap cleanup EXIT
mkdir -p "$cs/$plugin/k8s.io" "$cs/s" "$cr/$plugin/k8s.io" "$mnt"

# The node: bundle b<pod>-<k> of pod p<pod>; its address unix://CS/s/<id>.
python3 - "$cs" "$cr" "$plugin" "$pods" "$per_pod" <<'EOF'
import json, os, sys
cs, cr, plugin, pods, per_pod = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
for p in range(pods):
    for k in range(per_pod):
        bid = "b%d-%d" % (p, k)
        ann = {"io.kubernetes.cri.sandbox-namespace": "bench",
               "io.kubernetes.cri.sandbox-name": "pod%d" % p,
               "io.kubernetes.cri.sandbox-uid": "uid%d" % p,
               "io.kubernetes.cri.container-type": "sandbox" if k == 0 else "container"}
        if k:
            ann["io.kubernetes.cri.container-name"] = "c%d" % k
        d = os.path.join(cs, plugin, "k8s.io", bid)
        os.makedirs(os.path.join(d, "rootfs"))
        os.makedirs(os.path.join(cr, plugin, "k8s.io", bid))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"ociVersion": "1.1.0", "process": {"args": ["/pause"]},
                       "root": {"path": "rootfs"}, "annotations": ann}, f)
        with open(os.path.join(d, "address"), "w") as f:
            f.write("unix://%s/s/%s" % (cs, bid))
EOF

# One process listening on the sockets of every other pod, until killed.
python3 - "$cs" "$pods" "$per_pod" >"$t/listener.out" <<'EOF' &
import os, resource, selectors, socket, sys
cs, pods, per_pod = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = (pods + 1) // 2 * per_pod + 64
if need > hard:
    sys.exit("node.sh: %d live sockets need more descriptors than the limit %d" % (need, hard))
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
sel = selectors.DefaultSelector()
for p in range(0, pods, 2):
    for k in range(per_pod):
        s = socket.socket(socket.AF_UNIX)
        s.bind("%s/s/b%d-%d" % (cs, p, k))
        s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        try:
            key.fileobj.accept()[0].close()
        except BlockingIOError:
            pass
EOF
listener=$!
for _ in $(seq 600); do
	grep -q ready "$t/listener.out" 2>/dev/null && break
	kill -0 "$listener" 2>/dev/null || break
	sleep 0.1
done
grep -q ready "$t/listener.out" || { echo "node.sh: the listener did not start" >&2; exit 1; }

start=$(date +%s.%N)
"$bin" "$cs" "$mnt" -f -o "node,ro,containerd_root=$cr" 2>"$t/daemon.log" &
daemon=$!
for _ in $(seq 1200); do mountpoint -q "$mnt" && break; sleep 0.05; done
mountpoint -q "$mnt" || { echo "node.sh: not mounted: $(cat "$t/daemon.log")" >&2; exit 1; }
mounted=$(date +%s.%N)

cpu() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
tick=$(getconf CLK_TCK)
# time_cmd VAR_SECONDS VAR_CPU CMD...: one run's wall seconds and daemon CPU seconds.
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
measure() {
	local label=$1 byhand=$2
	shift 2
	local walls=() cpus=() i c0 t0 t1 c1
	for i in $(seq "$reps"); do
		c0=$(cpu)
		t0=$(date +%s.%N)
		"$@" >/dev/null
		t1=$(date +%s.%N)
		c1=$(cpu)
		walls+=("$(echo "$t1 - $t0" | bc -l)")
		cpus+=("$(echo "($c1 - $c0) / $tick" | bc -l)")
	done
	printf '| %-34s | %8.3f | %8.2f | %8s |\n' "$label" \
		"$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)" "$byhand"
}
by_hand() { # the median seconds of REPS runs of CMD
	local t0 t1 i
	for i in $(seq "$reps"); do
		t0=$(date +%s.%N)
		"$@" >/dev/null
		t1=$(date +%s.%N)
		echo "$t1 - $t0" | bc -l
	done | median | xargs printf '%.3f'
}

links_view() { ls -l "$mnt"/pods/*/containers/; }
links_hand() {
	find "$cs/$plugin" -mindepth 3 -maxdepth 3 -name config.json -print0 |
		xargs -0 jq -r '.annotations as $a | select($a["io.kubernetes.cri.container-type"] == "container")
			| [$a["io.kubernetes.cri.sandbox-namespace"] + "_" + $a["io.kubernetes.cri.sandbox-name"]
			   + "_" + $a["io.kubernetes.cri.sandbox-uid"], $a["io.kubernetes.cri.container-name"],
			   (input_filename | split("/") | .[-2])] | @tsv'
}
leaks_view() { cat "$mnt/leaks"; }
leaks_hand() {
	python3 - "$cs" "$plugin" <<'EOF'
import os, socket, sys
cs, plugin = sys.argv[1], sys.argv[2]
def listens(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(0.1)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()
named = set()
base = os.path.join(cs, plugin, "k8s.io")
for bid in sorted(os.listdir(base)):
    with open(os.path.join(base, bid, "address")) as f:
        path = f.read()[len("unix://"):]
    named.add(path)
    if not listens(path):
        print("bundle", bid)
for name in sorted(os.listdir(os.path.join(cs, "s"))):
    path = os.path.join(cs, "s", name)
    if path not in named:
        print("socket", path, listens(path))
EOF
}

echo "node view: $pods pods of $per_pod bundles ($((pods * per_pod)) bundles," \
	"$(((pods + 1) / 2 * per_pod)) live sockets); median of $reps"
printf '| %-34s | %8s | %8s | %8s |\n' "operation" "view s" "CPU s" "hand s"
printf '|%s|%s|%s|%s|\n' "------------------------------------" "----------" "----------" "----------"
printf '| %-34s | %8.3f | %8s | %8s |\n' "mount (index of every bundle)" \
	"$(echo "$mounted - $start" | bc -l)" "$(printf '%.2f' "$(echo "$(cpu) / $tick" | bc -l)")" "-"
measure "ls -l pods/*/containers/" "$(by_hand links_hand)" links_view
measure "cat leaks" "$(by_hand leaks_hand)" leaks_view

# Both ways must have found the same: the container links, the stale bundles.
view_links=$(for l in "$mnt"/pods/*/containers/*; do
	printf '%s\t%s\t%s\n' "$(basename "$(dirname "$(dirname "$l")")")" "$(basename "$l")" \
		"$(basename "$(readlink "$l")")"; done | sort)
hand_links=$(links_hand | sort)
view_stale=$(jq -r 'select(.kind == "bundle") | .path | split("/") | .[-1]' "$mnt/leaks" | sort)
hand_stale=$(leaks_hand | awk '$1 == "bundle" {print $2}' | sort)
echo "links: view $(echo "$view_links" | grep -c .) by hand $(echo "$hand_links" | grep -c .);" \
	"stale bundles: view $(echo "$view_stale" | grep -c .) by hand $(echo "$hand_stale" | grep -c .)"
if [ "$view_links" != "$hand_links" ] || [ "$view_stale" != "$hand_stale" ]; then
	echo "node.sh: the view and the hand count disagree" >&2
	exit 1
fi
