# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the bundlefs reliability tests.

`store` is a factory: store(mnt_depth=1, tmp_root=None) -> relhelpers.Store
on fresh temporary directories (below tmp_root if given). At the end of the test every daemon started on it is
unmounted (fusermount3 -u -z) and reaped, and the test fails if a daemon
exited badly (other than by the test's own SIGKILL) or its stderr holds a
sanitizer report or a line the test did not declare with store.expect_log().
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfstest  # noqa: E402
import relhelpers  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _binary_present():
    try:
        relhelpers.bundlefs_bin()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def store():
    stores = []

    def factory(mnt_depth=1, tmp_root=None):
        s = relhelpers.Store(mnt_depth=mnt_depth, tmp_root=tmp_root)
        stores.append(s)
        return s

    yield factory
    problems = bfstest.stop_and_clean(stores, lambda s: s.stop_all())
    if problems:
        pytest.fail("bundlefs teardown:\n" + "\n".join(problems), pytrace=False)
