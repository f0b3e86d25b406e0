# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the passthrough, read-only and freshness tests. The mounts
(mount_bundlefs, bfs, module_mount) and their checks at teardown are every
suite's: tests/conftest.py."""

import os

import pytest

import pt_helpers


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
