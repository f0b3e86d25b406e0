# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the benchmark: `bench/run.sh --quick` builds what it needs,
mounts bundlefs, passthrough_ll and bindfs, measures every operation and
prints the whole table, then the FUSE requests per operation. No timing is
asserted: only that every row is there and that its figures are numbers
(min/median/max where there are repetitions), that each targeted row says
PASS or MISS (the benchmark marks each target itself and exits 0 either
way), and, where the kernel's FUSE tracepoint is there, that the request
counts are whole and consistent (every cold stat reaches every daemon).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bfstest import RING_PARAM, ring_offered

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.sh"

# Columns after the label: b backing, p passthrough_ll, i bindfs, f bundlefs,
# peer (bundlefs over the best peer, named), rb (bundlefs over backing).
COLS = ["b", "p", "i", "f", "peer", "rb"]
# Kinds of cell: 3 min/median/max, 1 one number, 2 start/end, peer "1.23 pll".
ALL = {"b": "3", "p": "3", "i": "3", "f": "3", "peer": "peer", "rb": "1"}
RATIOS = {"b": "1", "p": "1", "i": "1", "f": "1"}
ROWS = {
    "cold stat, 2000 bundles": ALL,
    "warm stat, set of 100": ALL,
    "stat after first lookups, pass 1": ALL,
    "stat after first lookups, pass 2": ALL,
    "stat after first lookups, pass 3": ALL,
    "address read, 2000": ALL,
    "stored address read, warm": ALL,
    "readdir, 2000 entries": ALL,
    "warm readdir, 2000 entries": ALL,
    "status, 500 dead sockets": {"f": "3"},
    "status, 500, half live": {"f": "3"},
    "grep -l stale */*/status, 500": {"f": "3"},
    "create-delete cycle": ALL,
    "cold stat, 2 threads": ALL,
    "cold stat, 4 threads (1/s)": ALL,
    "cold stat, 4 threads / 1 thread": RATIOS,
    "address read, 2 threads": ALL,
    "cold stat, small ns: 100": ALL,
    "cold stat, large ns: 2000": ALL,
    "cold stat cost, large/small": RATIOS,
    "address read, small ns: 100": ALL,
    "address read, large ns: 2000": ALL,
    "address read cost, large/small": RATIOS,
    "daemon peak RSS, 2000 bundles alone": {"f": "1"},
    "open descriptors then": {"f": "1"},
    "daemon peak RSS after every row": {"p": "1", "i": "1", "f": "1"},
    "daemon open descriptors": {"p": "1", "i": "1", "f": "1"},
    "churn of 300 bundles beside, wall": {"b": "3", "f": "3", "rb": "1"},
    "daemon CPU during churn beside": {"f": "3"},
    "churn through mounts, 4 s": {"f": "1"},
    "status reads on the ro mount": {"f": "1"},
    "rw daemon RSS start/warm/end": {"f": "3"},
    "rw daemon anon RSS start/warm/end": {"f": "3"},
    "rw daemon descriptors start/end": {"f": "2"},
    "rw daemon RSS growth after warm-up": {"f": "1"},
    "ro daemon RSS start/warm/end": {"f": "3"},
    "ro daemon anon RSS start/warm/end": {"f": "3"},
    "ro daemon descriptors start/end": {"f": "2"},
    "ro daemon RSS growth after warm-up": {"f": "1"},
}
# Rows whose figures may be 0 or negative (CPU time in clock ticks; growth).
ZERO_OK = {"daemon CPU during churn beside", "rw daemon RSS growth after warm-up",
           "ro daemon RSS growth after warm-up"}
TARGETED = {
    "cold stat, 2000 bundles", "warm stat, set of 100", "stat after first lookups, pass 1",
    "stat after first lookups, pass 2", "stat after first lookups, pass 3",
    "address read, 2000", "stored address read, warm", "readdir, 2000 entries",
    "warm readdir, 2000 entries", "create-delete cycle", "cold stat, 2 threads",
    "cold stat, 4 threads / 1 thread", "address read, 2 threads",
    "cold stat cost, large/small", "address read cost, large/small",
    "daemon peak RSS, 2000 bundles alone", "open descriptors then", "daemon open descriptors",
    "rw daemon RSS growth after warm-up", "ro daemon RSS growth after warm-up",
}
NUM = r"-?[0-9]+(\.[0-9]+)?[kM]?"
KINDS = {
    "3": re.compile(rf"^{NUM}/{NUM}/{NUM}$"),
    "2": re.compile(rf"^{NUM}/{NUM}$"),
    "1": re.compile(rf"^{NUM}$"),
    "peer": re.compile(r"^[0-9]+\.[0-9]+ (pll|bindfs)$"),
}
PHASES = [
    "stat, cold (first lookup)", "stat, second pass at once", "stat, third pass at once",
    "stat, again after 1.5 s", "address read", "address read, again at once",
    "create-delete cycle", "readdir, first listing", "readdir, second listing",
]
REQ_CELL = re.compile(r"^(0|-|[0-9]+\.[0-9]{2}: ([A-Z_]+ [0-9]+\.[0-9]{2} ?)+)$")


@pytest.fixture(scope="module")
def quick_run():
    if os.geteuid() != 0:
        pytest.fail("the benchmark needs root (mounts, drop_caches)", pytrace=False)
    env = dict(os.environ)
    proc = subprocess.run([str(RUN), "--quick"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    return proc


def table_rows(out, header):
    rows = {}
    for line in out.splitlines():
        if not line.startswith("| ") or line.startswith("| " + header):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


def value(cell):
    """The median of a min/median/max cell, or the number itself."""
    parts = cell.split("/")
    x = parts[1] if len(parts) == 3 else parts[0]
    mult = {"k": 1e3, "M": 1e6}.get(x[-1], 1)
    return float(x.rstrip("kM")) * mult


def test_exits_zero(quick_run):
    assert quick_run.returncode == 0, quick_run.stdout + quick_run.stderr


def test_every_row_has_numbers(quick_run):
    rows = {k: v for k, v in table_rows(quick_run.stdout, "operation").items()
            if len(v) == 9}
    bindfs = shutil.which("bindfs") is not None
    for prefix, needed in ROWS.items():
        found = [label for label in rows if label.startswith(prefix)]
        assert len(found) == 1, f"row {prefix!r}: found {found} in\n{quick_run.stdout}"
        cells = rows[found[0]]
        for col, kind in needed.items():
            if col == "i" and not bindfs:
                continue
            cell = cells[1 + COLS.index(col)]
            assert KINDS[kind].match(cell), f"row {found[0]!r}, column {col}: {cell!r}"
            if prefix not in ZERO_OK and kind != "peer":
                assert value(cell) > 0, f"row {found[0]!r}, column {col}: {cell!r}"
        verdict = cells[8]
        if prefix in TARGETED:
            assert verdict in ("PASS", "MISS"), f"row {found[0]!r}: verdict {verdict!r}"
            assert cells[7], f"row {found[0]!r}: no target"
        else:
            assert verdict == "", f"row {found[0]!r}: verdict {verdict!r}"


def test_status_saw_the_sockets_as_set_up(quick_run):
    # Not a timing: every status read said "listening":true where the
    # benchmark listened, false where only the socket file was left, and
    # the grep of stale bundles listed exactly the dead half.
    assert "status reads did not say" not in quick_run.stderr, quick_run.stderr
    assert not re.search(r"bench: .*: [0-9]+ lines, [0-9]+ expected", quick_run.stderr), \
        quick_run.stderr


def test_request_counts(quick_run):
    if "requests per operation not counted" in quick_run.stderr:
        pytest.skip("no fuse_request_send tracepoint here")
    rows = {k: v for k, v in table_rows(quick_run.stdout, "phase").items() if len(v) == 4}
    for phase in PHASES:
        assert phase in rows, f"phase {phase!r} missing in\n{quick_run.stdout}"
        for cell in rows[phase][1:]:
            assert REQ_CELL.match(cell), f"phase {phase!r}: {cell!r}"
    # Caches dropped: every stat reaches every daemon as (at least) one LOOKUP.
    for cell in rows["stat, cold (first lookup)"][1:]:
        if cell == "-":
            continue
        assert re.search(r"LOOKUP (1\.[0-9]{2}|[2-9])", cell), cell


def test_no_mount_left(quick_run):
    with open("/proc/self/mounts") as f:
        mounts = f.read()
    assert "bundlefs-bench." not in mounts, mounts


def test_header_names_the_transport(quick_run):
    """The table says whether bundlefs served through FUSE over io_uring,
    which the fuse module's enable_uring decides (run.sh leaves it alone
    without --uring)."""
    ring = ring_offered()
    out = quick_run.stdout
    assert ("bundlefs serves through FUSE over io_uring" in out) == ring, out[:2000]
    assert ("bundlefs serves through /dev/fuse" in out) == (not ring), out[:2000]


def test_uring_takes_on_or_off():
    before = open(RING_PARAM).read() if os.path.exists(RING_PARAM) else None
    proc = subprocess.run([str(RUN), "--uring", "maybe"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "--uring takes on or off" in proc.stderr
    assert (open(RING_PARAM).read() if before is not None else None) == before
