# SPDX-License-Identifier: Apache-2.0
"""The daemon's memory does not grow with the number of bundles served or the
number of requests made.

20,000 bundles (fewer if BUNDLEFS_SCALE_BUNDLES says so) are created directly
in the backing store; a daemon serves them. Several passes of stat + read
`address` + read `shim-config` over every bundle follow, then 2,000 cycles of
mkdir + write `config.json` + rmdir through the mount. VmRSS and VmHWM are read
from /proc/PID/status after each step and printed. The first pass may grow the
daemon (first-use allocations, libfuse's node table); after it, three more
passes over the same bundles must add less than PASS_GROWTH_MIB in total, and
the create/delete cycles (after a short warm-up) less than CYCLE_GROWTH_MIB.

Under a sanitizer build (the binary carries __asan_init, __tsan_init or
__msan_init) the sanitizer's own allocator (quarantine, shadow memory) makes
RSS figures meaningless: the same work is done and checked (every read right,
no bundle or temporary file left behind, the daemon alive, no sanitizer
report at teardown), the figures are printed, and the RSS bounds are not
asserted. No timing is asserted anywhere.
"""

import hashlib
import json
import os

from bfstest import bundlefs_bin
from bfstest import read_bytes as read_file
from bfstest import write_through as write_file
from relhelpers import leftovers

BUNDLES = 20000
if os.environ.get("BUNDLEFS_SCALE_BUNDLES"):
    BUNDLES = min(BUNDLES, int(os.environ["BUNDLEFS_SCALE_BUNDLES"]))
PASSES = 4
WARMUP_CYCLES = 100
CYCLES = 2000
PASS_GROWTH_MIB = 4
CYCLE_GROWTH_MIB = 2
DAEMON_ADDRESS = "/run/containerd/containerd.sock"
CONFIG = b'{"ociVersion": "1.0.2", "process": {"args": ["sh"]}, "root": {"path": "rootfs"}}\n'
NS = "mem"


def _sanitized(binary):
    """True if the binary was built with a sanitizer runtime."""
    with open(binary, "rb") as f:
        data = f.read()
    return any(sym in data for sym in (b"__asan_init", b"__tsan_init", b"__msan_init"))


def _mem_kib(pid):
    """(VmRSS, VmHWM) of pid in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    return out["VmRSS"], out["VmHWM"]


def _addr(socket_root, ns, bid):
    d = hashlib.sha256(f"{DAEMON_ADDRESS}/{ns}/{bid}".encode()).hexdigest()
    return f"unix://{socket_root}/s/{d}".encode()


def _serve_pass(st, n):
    """stat + read address + read shim-config for every bundle: the wrong ones."""
    bad = []
    for i in range(n):
        b = f"b{i}"
        try:
            if not os.path.isdir(st.m(NS, b)):
                bad.append(f"{b}: not a directory")
                continue
            if read_file(st.m(NS, b, "address")) != _addr(st.socket_root, NS, b):
                bad.append(f"{b}: wrong address")
            cfg = json.loads(read_file(st.m(NS, b, "shim-config")))
            if (cfg.get("Namespace") != NS or cfg.get("WorkDir") != st.w(NS, b)
                    or not cfg.get("Path", "").endswith(f"/{NS}/{b}")):
                bad.append(f"{b}: wrong shim-config {cfg}")
        except (OSError, ValueError) as e:
            bad.append(f"{b}: {e}")
        if len(bad) > 10:
            break
    return bad


def _cycles(st, first, count):
    """mkdir + write config.json + rmdir through the mount: the failures."""
    bad = []
    for i in range(first, first + count):
        c = f"c{i}"
        try:
            os.mkdir(st.m(NS, c))
            err, step = write_file(st.m(NS, c, "config.json"), CONFIG, 0o644)
            if err is not None:
                bad.append(f"{c}: config.json {step}: {os.strerror(err)}")
            os.rmdir(st.m(NS, c))
        except OSError as e:
            bad.append(f"{c}: {e}")
        if len(bad) > 10:
            break
    return bad


def test_memory_flat_over_bundles_and_requests(new_bundlefs):
    sanitized = _sanitized(bundlefs_bin())
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    st = new_bundlefs(tmp_root=shm)
    sns, wns = st.s(NS), st.w(NS)
    os.mkdir(sns, 0o711)
    os.mkdir(wns, 0o711)
    for i in range(BUNDLES):
        b = f"b{i}"
        os.mkdir(f"{sns}/{b}", 0o700)
        os.mkdir(f"{sns}/{b}/rootfs", 0o711)
        os.mkdir(f"{wns}/{b}", 0o711)

    d = st.start()
    figures = [("started", *_mem_kib(d.pid))]
    for p in range(PASSES):
        bad = _serve_pass(st, BUNDLES)
        assert not bad, f"pass {p + 1}: bundles not served right: {bad}"
        figures.append((f"pass {p + 1}", *_mem_kib(d.pid)))
    bad = _cycles(st, 0, WARMUP_CYCLES)
    assert not bad, f"warm-up cycles failed: {bad}"
    figures.append((f"{WARMUP_CYCLES} warm-up cycles", *_mem_kib(d.pid)))
    bad = _cycles(st, WARMUP_CYCLES, CYCLES)
    assert not bad, f"create/delete cycles failed: {bad}"
    figures.append((f"{CYCLES} cycles", *_mem_kib(d.pid)))

    print(f"\nmemory ({'sanitizer build, bounds not asserted' if sanitized else 'plain build'}"
          f"; {BUNDLES} bundles):")
    for what, rss, hwm in figures:
        print(f"  {what:>22}: VmRSS {rss / 1024:8.2f} MiB  VmHWM {hwm / 1024:8.2f} MiB")
    pass_growth = figures[PASSES][1] - figures[1][1]
    cycle_growth = figures[-1][1] - figures[-2][1]
    print(f"  growth over passes 2..{PASSES}: {pass_growth} KiB; "
          f"over {CYCLES} cycles: {cycle_growth} KiB")

    assert d.proc.poll() is None, "the daemon died"
    # Every cycle's bundle is gone from the store, with no temporary leftovers.
    left = sorted(n for n in os.listdir(sns) if not n.startswith("b"))
    assert not left, f"S/{NS} holds leftovers: {left[:10]}"
    left = sorted(n for n in os.listdir(wns) if not n.startswith("b"))
    assert not left, f"W/{NS} holds leftovers: {left[:10]}"
    assert len(os.listdir(sns)) == BUNDLES and len(os.listdir(wns)) == BUNDLES
    assert not leftovers(st.state, st.work)

    if sanitized:
        return
    assert pass_growth < PASS_GROWTH_MIB * 1024, (
        f"VmRSS grew by {pass_growth} KiB over passes 2..{PASSES} of {BUNDLES} bundles")
    assert cycle_growth < CYCLE_GROWTH_MIB * 1024, (
        f"VmRSS grew by {cycle_growth} KiB over {CYCLES} create/delete cycles")
