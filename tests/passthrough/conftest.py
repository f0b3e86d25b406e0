# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the bundlefs passthrough, read-only and freshness tests.

The mount factory, the shared module mount and the teardown checks (daemon
exit status, sanitizer reports, undeclared log lines) are the black-box
suite's own: its conftest is loaded under a name of its own and its fixtures
re-exported here, so that both directories can be collected in one run.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
_BLACKBOX = _HERE.parent / "blackbox"
sys.path.insert(0, str(_BLACKBOX))
sys.path.insert(0, str(_HERE))

import pt_helpers  # noqa: E402

_spec = importlib.util.spec_from_file_location("bundlefs_blackbox_conftest",
                                               _BLACKBOX / "conftest.py")
_bb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bb)

_binary_present = _bb._binary_present
mount_bundlefs = _bb.mount_bundlefs
bfs = _bb.bfs
module_mount = _bb.module_mount


@pytest.fixture
def twin(mount_bundlefs):
    """A pt_helpers.Twin on a mount of its own (a daemon that one experiment
    stops takes no other test with it): one directory under a bundle's rootfs
    and one plain directory of the backing store beside it."""
    return pt_helpers.Twin(mount_bundlefs())


@pytest.fixture
def umask022():
    """Run the test under containerd's usual umask 022."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def umask0():
    """Run the test with no umask, so requested modes reach the store as asked."""
    old = os.umask(0)
    yield
    os.umask(old)
