# SPDX-License-Identifier: Apache-2.0
"""Smoke test of the node view's benchmark: `bench/node.sh` at a small size
builds its node, mounts a node view, times both ways and prints every row
with numbers; it exits 0 only when the view and the hand count found the
same container links and stale bundles. No timing is asserted."""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "node.sh"
NUMBER = r"[0-9]+\.[0-9]+"


@pytest.fixture(scope="module")
def small_run():
    if os.geteuid() != 0:
        pytest.fail("the benchmark needs root (mounts)", pytrace=False)
    return subprocess.run([str(RUN), "--pods", "30", "--per-pod", "4", "--reps", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_exits_zero_and_agrees(small_run):
    assert small_run.returncode == 0, small_run.stdout + small_run.stderr
    assert "links: view 90 by hand 90; stale bundles: view 60 by hand 60" in small_run.stdout


@pytest.mark.parametrize("row,hand", [
    ("mount (index of every bundle)", False),
    ("ls -l pods/*/containers/", True),
    ("cat leaks", True),
])
def test_every_row_has_numbers(small_run, row, hand):
    line = [ln for ln in small_run.stdout.splitlines() if ln.startswith("| " + row)]
    assert len(line) == 1, small_run.stdout
    cells = [c.strip() for c in line[0].strip().strip("|").split("|")]
    assert re.fullmatch(NUMBER, cells[1]) and re.fullmatch(NUMBER, cells[2]), cells
    assert re.fullmatch(NUMBER, cells[3]) if hand else cells[3] == "-", cells


def test_no_mount_left(small_run):
    with open("/proc/self/mounts") as f:
        assert "bundlefs-node." not in f.read()
