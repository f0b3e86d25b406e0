# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the bundlefs black-box tests (in the style of libfuse's test helpers).

`mount_bundlefs(**opts)` starts a daemon in the foreground on fresh state/,
work/, mnt/ and socket_root/ directories (option values: True for a flag,
a string for OPT=VALUE) and returns a BundleFS; every mount it started is
checked at the end of the test. `bfs` is one default mount shared by a module;
its log is checked at the end of the module, so patterns declared with
`bfs.expect_log()` accumulate over the module.

The check on teardown: the unmount makes the daemon exit with status 0, and
its stderr holds no sanitizer report and no line that was not declared.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "common"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfs_helpers  # noqa: E402
import bfstest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _binary_present():
    try:
        bfs_helpers.bundlefs_bin()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


def _start(opts, source_arg=False, prepare=None):
    m = bfs_helpers.BundleFS(opts, source_arg=source_arg)
    try:
        if prepare is not None:
            prepare(m)
        m.start()
    except Exception:
        m.cleanup()
        raise
    return m


def _finish(mounts):
    problems = bfstest.stop_and_clean(mounts, lambda m: m.stop())
    if problems:
        pytest.fail("bundlefs teardown:\n" + "\n".join(problems), pytrace=False)


def _mount_factory():
    """A factory(source_arg=False, prepare=None, **opts) -> BundleFS; prepare(m),
    if given, runs on the fresh directories before the daemon starts. Every
    mount it made is stopped and checked when the fixture using it ends."""
    mounts = []

    def factory(source_arg=False, prepare=None, **opts):
        m = _start(opts, source_arg=source_arg, prepare=prepare)
        mounts.append(m)
        return m

    yield factory
    _finish(mounts)


@pytest.fixture
def mount_bundlefs():
    """Factory: mount_bundlefs(source_arg=False, prepare=None, **opts) -> BundleFS."""
    yield from _mount_factory()


@pytest.fixture(scope="module")
def bfs():
    m = _start({})
    yield m
    _finish([m])


@pytest.fixture(scope="module")
def module_mount():
    """Factory for extra module-scoped mounts with options."""
    yield from _mount_factory()
