# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the benchmark: `bench/run.sh --quick` builds what it needs,
mounts bundlefs and passthrough_ll, measures every operation and prints the
whole table. No timing is asserted: only that every row is there and that its
figures are numbers (the benchmark marks each target PASS or MISS itself and
exits 0 either way).
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.sh"

# Row label prefix -> the columns that must hold a number (b: backing,
# p: passthrough_ll, f: bundlefs, rp: bundlefs/passthrough_ll, rb: bundlefs/backing).
ROWS = {
    "cold stat, 2000 bundles": "b p f rp rb",
    "warm stat, set of 100": "b p f rp rb",
    "warm stat, all 2000, passes": "b p f rp rb",
    "address read, 2000": "b p f rp rb",
    "stored address read, warm": "b p f rp rb",
    "readdir, 2000 entries": "b p f rp rb",
    "warm readdir, 2000 entries": "b p f rp rb",
    "status, 2000 live sockets": "f",
    "status, 2000 dead sockets": "f",
    "create-delete cycle": "b p f rp rb",
    "cold stat, 2 threads": "b p f rp rb",
    "address read, 2 threads": "b p f rp rb",
    "cold stat, small ns: 100": "b p f rp rb",
    "cold stat, large ns: 2000": "b p f rp rb",
    "cold stat cost, large/small": "b p f",
    "address read, small ns: 100": "b p f rp rb",
    "address read, large ns: 2000": "b p f rp rb",
    "address read cost, large/small": "b p f",
    "daemon peak RSS, VmHWM": "p f",
    "daemon open descriptors": "p f",
    "churn of 300 bundles, wall": "b f rb",
    "daemon CPU during churn": "b f",
}
# Rows whose figures may be 0 (CPU time in clock ticks; no daemon at all).
ZERO_OK = {"daemon CPU during churn"}
TARGETED = {
    "cold stat, 2000 bundles", "warm stat, set of 100", "address read, 2000",
    "readdir, 2000 entries", "create-delete cycle", "cold stat, 2 threads",
    "warm stat, all 2000, passes", "stored address read, warm", "warm readdir, 2000 entries",
    "address read, 2 threads", "cold stat cost, large/small", "address read cost, large/small",
    "daemon peak RSS, VmHWM", "daemon open descriptors",
}
COLS = ["b", "p", "f", "rp", "rb"]
NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@pytest.fixture(scope="module")
def quick_run():
    if os.geteuid() != 0:
        pytest.fail("the benchmark needs root (mounts, drop_caches)", pytrace=False)
    env = dict(os.environ)
    proc = subprocess.run([str(RUN), "--quick"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=900)
    return proc


def table_rows(out):
    rows = {}
    for line in out.splitlines():
        if not line.startswith("| ") or line.startswith("| operation"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


def test_exits_zero(quick_run):
    assert quick_run.returncode == 0, quick_run.stdout + quick_run.stderr


def test_every_row_has_numbers(quick_run):
    rows = table_rows(quick_run.stdout)
    for prefix, needed in ROWS.items():
        found = [label for label in rows if label.startswith(prefix)]
        assert len(found) == 1, f"row {prefix!r}: found {found} in\n{quick_run.stdout}"
        cells = rows[found[0]]
        assert len(cells) == 8, cells
        for col in needed.split():
            value = cells[1 + COLS.index(col)]
            assert NUMBER.match(value), f"row {found[0]!r}, column {col}: {value!r}"
            if prefix not in ZERO_OK:
                assert float(value) > 0, f"row {found[0]!r}, column {col}: {value!r}"
        verdict = cells[7]
        if prefix in TARGETED:
            assert verdict in ("PASS", "MISS"), f"row {found[0]!r}: verdict {verdict!r}"
            assert cells[6], f"row {found[0]!r}: no target"
        else:
            assert verdict == "", f"row {found[0]!r}: verdict {verdict!r}"


def test_status_saw_the_sockets_as_set_up(quick_run):
    # Not a timing: every status read said "listening":true with the
    # benchmark listening, false once only the socket files were left.
    assert "status reads did not say" not in quick_run.stderr, quick_run.stderr


def test_no_mount_left(quick_run):
    with open("/proc/self/mounts") as f:
        mounts = f.read()
    assert "bundlefs-bench." not in mounts, mounts
