# SPDX-License-Identifier: Apache-2.0
"""Smoke test of `bench/status.sh`, the status rows of the benchmark alone,
small: it mounts, reads every status (dead and half live, the live half held
by a process named like a shim) and runs the operator's grep of stale
bundles, then unmounts. No timing is asserted: that it exits 0, prints the
three rows with numbers, found what the benchmark set up (bench.c complains
on stderr otherwise), and leaves no mount behind.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "status.sh"
NUM = r"[0-9]+(\.[0-9]+)?"


@pytest.mark.parametrize("holder", ["shim", "bench"])
def test_status_rows(holder):
    if os.geteuid() != 0:
        pytest.fail("the benchmark needs root (mounts)", pytrace=False)
    binary = os.environ.get("BUNDLEFS_BIN", str(REPO / "build" / "fs" / "bundlefs"))
    proc = subprocess.run([str(SCRIPT), "--count", "40", "--reps", "1", "--holder", holder,
                           binary], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()[1:]}
    assert set(rows) == {"status_dead", "status_half", "stale_grep"}, proc.stdout
    for name, figures in rows.items():
        assert len(figures) == 3 and all(re.fullmatch(NUM, f) for f in figures), (name, figures)
    for name in ("status_dead", "status_half"):
        assert float(rows[name][0]) > 0, proc.stdout
    assert "did not say" not in proc.stderr and "expected" not in proc.stderr, proc.stderr
    assert "the daemon wrote" not in proc.stderr, proc.stderr
    with open("/proc/self/mounts") as f:
        assert "bundlefs-status." not in f.read()
