# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the installation tests: a build configured for prefix /usr,
backing stores with one bundle, mountpoints that are always unmounted.

Tests that change the real system (install into /usr, install the Debian
package) run when CI=true or BUNDLEFS_INSTALL_REAL=1, and are skipped with
that reason otherwise (install_helpers.require_real).
BUNDLEFS_INSTALL_BUILD_DIR reuses a build directory configured with
-DCMAKE_INSTALL_PREFIX=/usr instead of building one.
"""
import os
from pathlib import Path

import pytest

from bfstest import REPO
from install_helpers import NodeStore, WebStore, run


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    given = os.environ.get("BUNDLEFS_INSTALL_BUILD_DIR")
    if given:
        d = Path(given)
        cache = (d / "CMakeCache.txt").read_text()
        assert "CMAKE_INSTALL_PREFIX:PATH=/usr\n" in cache, \
            f"{d} must be configured with -DCMAKE_INSTALL_PREFIX=/usr"
    else:
        d = tmp_path_factory.mktemp("build")
        run(["cmake", "-S", REPO, "-B", d, "-DCMAKE_INSTALL_PREFIX=/usr",
             "-DBUILD_TESTING=OFF"])
    run(["cmake", "--build", d, "-j2"])
    return d


@pytest.fixture(scope="session")
def default_build_dir(tmp_path_factory):
    """A build configured with no prefix at all (CMake's /usr/local), as a
    plain "cmake -S . -B build" makes it."""
    d = tmp_path_factory.mktemp("build-default")
    run(["cmake", "-S", REPO, "-B", d, "-DBUILD_TESTING=OFF"])
    run(["cmake", "--build", d, "-j2"])
    return d


@pytest.fixture(scope="session")
def helper_bin(build_dir):
    return build_dir / "mount-helper" / "mount.bundlefs"


@pytest.fixture(scope="session")
def daemon_bin(build_dir):
    return build_dir / "fs" / "bundlefs"


@pytest.fixture
def store():
    """A WebStore; whatever the test mounted on it is unmounted, and its
    daemon ended, after the test."""
    s = WebStore()
    yield s
    s.cleanup()


@pytest.fixture
def node_store():
    """A NodeStore (install_helpers); whatever the test mounted on its
    mountpoint is unmounted, and its daemon ended, after the test."""
    s = NodeStore()
    yield s
    s.cleanup()
