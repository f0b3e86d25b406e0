# SPDX-License-Identifier: Apache-2.0
"""SPEC 2: without state= and work=, bundlefs uses its embedded default store,
created on first use: as root /var/lib/bundlefs/v2/{state,work} for runtime
v2, the default, and /var/lib/bundlefs/{state,work} with runtime=v1 (where
the default store was when v1 was the default, so that such a store keeps
working once named). The test removes what it created there (and the store
itself if it was not there before)."""

import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
import uuid

import pytest

from bfstest import bundlefs_bin, is_mounted, unmount

STORE = "/var/lib/bundlefs"


@contextlib.contextmanager
def embedded_store(mnt, ns):
    """For a test of daemons that mount the embedded store on mnt: whether
    the store existed before. Afterwards mnt is unmounted and goes, and so
    does namespace ns in both runtimes' stores, and the store itself if it
    was not there before."""
    existed = os.path.exists(STORE)
    try:
        yield existed
    finally:
        if is_mounted(mnt):
            unmount(mnt)
        for store in (STORE, os.path.join(STORE, "v2")):
            for sub in ("state", "work"):
                shutil.rmtree(os.path.join(store, sub, ns), ignore_errors=True)
        if not existed:
            shutil.rmtree(STORE, ignore_errors=True)
        os.rmdir(mnt)


@pytest.mark.parametrize("runtime", ["v1", "v2", None])
def test_embedded_default_store_created_and_used(runtime):
    """runtime None: no runtime= at all, which is v2."""
    assert os.geteuid() == 0, "the default store of a root daemon is /var/lib/bundlefs"
    v2 = runtime != "v1"
    mine = os.path.join(STORE, "v2") if v2 else STORE
    other = STORE if v2 else os.path.join(STORE, "v2")
    mnt = tempfile.mkdtemp(prefix="bfs-default-")
    ns = "dflt" + uuid.uuid4().hex[:12]
    argv = [bundlefs_bin(), mnt] + (["-o", "runtime=" + runtime] if runtime else [])
    with embedded_store(mnt, ns) as existed:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert is_mounted(mnt)
        for sub in ("state", "work"):
            st = os.stat(os.path.join(mine, sub))
            assert stat.S_ISDIR(st.st_mode)
            if not existed:
                assert stat.S_IMODE(st.st_mode) == 0o711
        os.mkdir(os.path.join(mnt, ns))
        os.mkdir(os.path.join(mnt, ns, "web"))
        assert os.path.isdir(os.path.join(mine, "state", ns, "web", "rootfs"))
        assert os.path.isdir(os.path.join(mine, "work", ns, "web"))
        # the bundle is v2 exactly in the v2 store, and nowhere else
        assert os.path.islink(os.path.join(mine, "state", ns, "web", "work")) is v2
        for sub in ("state", "work"):
            assert not os.path.lexists(os.path.join(other, sub, ns))
        with open(os.path.join(mnt, ns, "web", "address")) as f:
            assert f.read().startswith("unix:///run/containerd/s/")
        os.rmdir(os.path.join(mnt, ns, "web"))
        os.rmdir(os.path.join(mnt, ns))
        assert not os.path.exists(os.path.join(mine, "state", ns))
        assert not os.path.exists(os.path.join(mine, "work", ns))


def test_existing_v1_default_store_named_with_runtime_v1():
    """A v1 store left where the default store used to be: the v2 default says
    how to reach it, and runtime=v1 mounts it as it was."""
    ns = "dflt" + uuid.uuid4().hex[:12]
    mnt = tempfile.mkdtemp(prefix="bfs-default-")
    with embedded_store(mnt, ns):
        os.makedirs(os.path.join(STORE, "state", ns, "old", "rootfs"))
        os.makedirs(os.path.join(STORE, "work", ns, "old"))
        r = subprocess.run([bundlefs_bin(), mnt], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert b"runtime=v1" in r.stderr and os.path.join(STORE, "state").encode() in r.stderr
        assert ns not in os.listdir(mnt)
        unmount(mnt)
        r = subprocess.run([bundlefs_bin(), mnt, "-o", "runtime=v1"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        assert r.returncode == 0 and r.stderr == b"", r.stderr
        assert os.listdir(os.path.join(mnt, ns)) == ["old"]
        assert "work" not in os.listdir(os.path.join(mnt, ns, "old"))
        assert '"Criu":' in open(os.path.join(mnt, ns, "old", "shim-config")).read()
