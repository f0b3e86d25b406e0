# SPDX-License-Identifier: Apache-2.0
"""Fixtures every suite shares (tests/README.md says which to use).

`mount_bundlefs(source_arg=False, prepare=None, args=(), **opts)` starts a
daemon in the foreground on fresh state/, work/, mnt/ and socket_root/
directories and returns its bfstest.BundleFS; prepare(fs), if given, runs on
the directories first. `new_bundlefs(**kwargs)` gives a BundleFS whose
daemons the test starts itself (fs.start(), again after fs.kill9()); its
keyword arguments are BundleFS's. `bfs` is one default mount shared by a module, and
`module_mount` a factory of mounts that last as long as the module.

Every BundleFS these fixtures made is stopped and checked when the fixture
ends (at the end of the test, or of the module for the module-scoped ones,
so that the log lines declared with expect_log() accumulate over the
module): the unmount makes each daemon exit with status 0 (unless the test
killed it), and its log holds no sanitizer report and no line that was not
declared. Then its directories are removed.
"""

import contextlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))

import bfstest  # noqa: E402


@pytest.fixture(scope="session")
def bundlefs_binary():
    """The daemon binary ($BUNDLEFS_BIN); fails the test when it is missing."""
    try:
        return bfstest.bundlefs_bin()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def bundlefs_kwargs():
    """What a suite adds to every BundleFS its fixtures make: a function of
    the mount's opts giving BundleFS keyword arguments. None here; tests/node
    makes every mount a subtree of a node view (node=PLUGIN)."""
    return lambda opts: {}


@contextlib.contextmanager
def _bundlefs_factory(start, extra):
    """A factory of BundleFS objects, started at once when start is true;
    every one is stopped, checked and removed when the context ends. extra:
    bundlefs_kwargs."""
    made = []

    def make(opts=None, source_arg=False, prepare=None, **kwargs):
        kwargs = {**extra(dict(opts or {})), **kwargs}
        fs = bfstest.BundleFS(opts, source_arg, **kwargs)
        if not start:
            made.append(fs)
            return fs
        try:
            if prepare is not None:
                prepare(fs)
            fs.start()
        except Exception:
            fs.cleanup()
            raise
        made.append(fs)
        return fs

    yield make
    problems = []
    for fs in made:
        try:
            problems += [f"{fs.mnt}: {p}" for p in fs.stop()]
        finally:
            fs.cleanup()
    if problems:
        pytest.fail("bundlefs teardown:\n" + "\n".join(problems), pytrace=False)


def _mount_factory(make):
    def mount(source_arg=False, prepare=None, args=(), **opts):
        return make(opts, source_arg, prepare, args=args)
    return mount


@pytest.fixture
def new_bundlefs(bundlefs_binary, bundlefs_kwargs):
    """Factory: new_bundlefs(**kwargs) -> a BundleFS not started yet (tmp_root=,
    mnt_depth=...: see bfstest.BundleFS)."""
    with _bundlefs_factory(start=False, extra=bundlefs_kwargs) as make:
        yield make


@pytest.fixture
def mount_bundlefs(bundlefs_binary, bundlefs_kwargs):
    """Factory: mount_bundlefs(source_arg=False, prepare=None, args=(), **opts)
    -> a started BundleFS."""
    with _bundlefs_factory(start=True, extra=bundlefs_kwargs) as make:
        yield _mount_factory(make)


@pytest.fixture(scope="module")
def module_mount(bundlefs_binary, bundlefs_kwargs):
    """mount_bundlefs, for mounts that serve a whole module."""
    with _bundlefs_factory(start=True, extra=bundlefs_kwargs) as make:
        yield _mount_factory(make)


@pytest.fixture(scope="module")
def bfs(module_mount):
    """One mount with the default options, shared by a module."""
    return module_mount()
