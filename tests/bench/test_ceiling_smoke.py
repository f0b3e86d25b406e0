# SPDX-License-Identifier: Apache-2.0
"""Smoke test of `bench/ceiling.sh`, small: it builds bench/nullfs.c (the
FUSE daemon that answers without reading anything), mounts it and bundlefs
over a store of a few bundles, measures cold stat and the three passes
after the first lookups on the store, the null daemon and bundlefs, prints
one row each with numbers, and leaves no mount behind. No timing is
asserted."""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "ceiling.sh"
NUM = r"[0-9]+(\.[0-9]+)?"


def test_ceiling_rows():
    if os.geteuid() != 0:
        pytest.fail("the benchmark needs root (mounts)", pytrace=False)
    binary = os.environ.get("BUNDLEFS_BIN", str(REPO / "build" / "fs" / "bundlefs"))
    proc = subprocess.run([str(SCRIPT), "--count", "100", "--reps", "1", binary], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["row", "store", "null", "bundlefs", "null/store", "bfs/store",
                                "bfs/null"], proc.stdout
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == ["cold", "pass1", "pass2", "pass3"], proc.stdout
    for name, figures in rows.items():
        assert len(figures) == 6 and all(re.fullmatch(NUM, f) for f in figures), (name, figures)
        assert all(float(f) > 0 for f in figures[:3]), (name, figures)
    assert "the bfs daemon wrote" not in proc.stderr, proc.stderr
    assert "the null daemon wrote" not in proc.stderr, proc.stderr
    with open("/proc/self/mounts") as f:
        assert "bundlefs-ceiling." not in f.read()
