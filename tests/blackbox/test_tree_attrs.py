# SPDX-License-Identifier: Apache-2.0
"""SPEC 3.3: chmod, chown and utimens of the mount root, of a namespace and of
a bundle apply to S, S/<ns> and S/<ns>/<id>, and show through the mount at
once (4.8)."""

import os
import stat
import subprocess

import pytest


def _check_attrs(path_m, path_s):
    for mode in (0o755, 0o700, 0o711):
        os.chmod(path_m, mode)
        assert stat.S_IMODE(os.lstat(path_s).st_mode) == mode
        assert stat.S_IMODE(os.stat(path_m).st_mode) == mode
    os.chown(path_m, 1234, 5678)
    assert (os.lstat(path_s).st_uid, os.lstat(path_s).st_gid) == (1234, 5678)
    assert (os.stat(path_m).st_uid, os.stat(path_m).st_gid) == (1234, 5678)
    os.chown(path_m, -1, 0)
    assert (os.lstat(path_s).st_uid, os.lstat(path_s).st_gid) == (1234, 0)
    os.chown(path_m, 0, 0)
    os.utime(path_m, ns=(1_000_000_001, 2_000_000_002))
    for p in (path_s, path_m):
        st = os.stat(p)
        assert (st.st_atime_ns, st.st_mtime_ns) == (1_000_000_001, 2_000_000_002), p


@pytest.mark.parametrize("where", ["mount", "namespace", "bundle"])
def test_tree_attributes_reach_store(mount_bundlefs, where):
    m = mount_bundlefs()
    ns, bid = m.new_bundle()
    rel = {"mount": (), "namespace": (ns,), "bundle": (ns, bid)}[where]
    _check_attrs(m.m(*rel), m.s(*rel))
    # The tree still works with its new attributes.
    assert sorted(os.listdir(m.m(ns))) == [bid]
    assert os.path.isdir(m.m(ns, bid, "rootfs"))


def test_chmod_755_mount_with_the_shell(mount_bundlefs):
    """What an operator types to open an allow_other mount to other users."""
    m = mount_bundlefs()
    os.chmod(m.s(), 0o700)
    r = subprocess.run(["chmod", "755", m.mnt], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.lstat(m.s()).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(m.mnt).st_mode) == 0o755
