# SPDX-License-Identifier: Apache-2.0
"""Smoke test of `bench/ceiling.sh`, small: it builds bench/nullfs.c (the
FUSE daemon that answers without reading anything) and bench/leastfs.c (the
least daemon that does the store's work), mounts them and bundlefs over a
store of a few bundles, measures cold stat, the three passes after the
first lookups and the create-delete cycle, prints one row each with
numbers, and leaves no mount behind. No timing is asserted."""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "ceiling.sh"
NUM = r"[0-9]+(\.[0-9]+)?"
HEADER = ["row", "store", "null", "least", "bundlefs", "null/store", "least/store", "bfs/store",
          "bfs/least"]


def test_ceiling_rows():
    if os.geteuid() != 0:
        pytest.fail("the benchmark needs root (mounts)", pytrace=False)
    binary = os.environ.get("BUNDLEFS_BIN", str(REPO / "build" / "fs" / "bundlefs"))
    proc = subprocess.run([str(SCRIPT), "--count", "100", "--reps", "1", "--cycles", "20",
                           binary], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("bundlefs serves through "), proc.stdout
    assert lines[1].split() == HEADER, proc.stdout
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(rows) == ["cold", "pass1", "pass2", "pass3", "cycle"], proc.stdout
    for name, figures in rows.items():
        assert len(figures) == 8, (name, figures)
        # The null daemon cannot do the cycle: its columns say so.
        dashed = {1, 4} if name == "cycle" else set()
        for i, f in enumerate(figures):
            if i in dashed:
                assert f == "-", (name, figures)
            else:
                assert re.fullmatch(NUM, f) and float(f) > 0, (name, figures)
    for daemon in ("bfs", "null", "least"):
        assert f"the {daemon} daemon wrote" not in proc.stderr, proc.stderr
    with open("/proc/self/mounts") as f:
        assert "bundlefs-ceiling." not in f.read()
