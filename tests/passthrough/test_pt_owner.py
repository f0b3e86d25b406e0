# SPDX-License-Identifier: Apache-2.0
"""Ownership through the mount (SPEC 4.6, 2): files created through the mount
belong to the calling user and group, and the kernel's permission checks
(default_permissions) stay on for unprivileged callers."""

import errno
import os
import stat

import pytest

from bfstest import read_bytes as read
from bfstest import snapshot
from pt_helpers import as_user, write

UID, GID = 65534, 65534          # nobody / nogroup


@pytest.fixture(scope="module")
def mnt(module_mount):
    m = module_mount(allow_other=True)
    # Let the unprivileged user reach the mountpoint (mkdtemp makes it 0700).
    os.chmod(m.base, 0o711)
    return m


@pytest.fixture
def bundle(mnt):
    ns, bid = mnt.new_bundle()
    # containerd makes the bundle 0700; open it (in the store) so that the user
    # can reach rootfs, and give the user a writable place in it.
    os.chmod(mnt.s(ns, bid), 0o711)
    os.mkdir(mnt.s(ns, bid, "rootfs", "pub"))
    os.chmod(mnt.s(ns, bid, "rootfs", "pub"), 0o777)
    os.mkdir(mnt.s(ns, bid, "rootfs", "priv"), 0o755)
    write(mnt.s(ns, bid, "rootfs", "priv", "root-file"), b"root's")
    os.chmod(mnt.s(ns, bid, "rootfs", "priv", "root-file"), 0o644)
    os.mkdir(mnt.s(ns, bid, "rootfs", "sticky"))
    os.chmod(mnt.s(ns, bid, "rootfs", "sticky"), 0o1777)
    write(mnt.s(ns, bid, "rootfs", "sticky", "root-file"), b"root's")
    return ns, bid


def _make_all(pub):
    fd = os.open(os.path.join(pub, "file"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    os.write(fd, b"mine")
    os.close(fd)
    os.mkdir(os.path.join(pub, "dir"), 0o750)
    os.symlink("file", os.path.join(pub, "link"))
    os.mkfifo(os.path.join(pub, "fifo"), 0o600)
    os.mkdir(os.path.join(pub, "dir", "deeper"))
    with open(os.path.join(pub, "dir", "deeper", "f"), "wb") as f:
        f.write(b"x")
    os.link(os.path.join(pub, "file"), os.path.join(pub, "hard"))
    os.chmod(os.path.join(pub, "file"), 0o600)       # the owner may chmod
    os.utime(os.path.join(pub, "file"), ns=(5, 6))   # and set times
    return sorted(os.listdir(pub))


def test_unprivileged_creations_belong_to_caller(mnt, bundle):
    ns, bid = bundle
    res = as_user(UID, GID, _make_all, mnt.m(ns, bid, "rootfs", "pub"))
    assert res == ("ok", ["dir", "fifo", "file", "hard", "link"])
    pub = mnt.s(ns, bid, "rootfs", "pub")
    for rel, kind in (("file", stat.S_ISREG), ("dir", stat.S_ISDIR), ("link", stat.S_ISLNK),
                      ("fifo", stat.S_ISFIFO), ("dir/deeper", stat.S_ISDIR),
                      ("dir/deeper/f", stat.S_ISREG)):
        st = os.lstat(os.path.join(pub, rel))
        assert kind(st.st_mode), rel
        assert (st.st_uid, st.st_gid) == (UID, GID), rel
    assert stat.S_IMODE(os.lstat(os.path.join(pub, "file")).st_mode) == 0o600
    assert os.lstat(os.path.join(pub, "file")).st_mtime_ns == 6
    assert os.lstat(os.path.join(pub, "file")).st_nlink == 2
    assert read(os.path.join(pub, "hard")) == b"mine"


def test_root_caller_with_other_group(mnt, bundle):
    ns, bid = bundle

    def make(p):
        write(os.path.join(p, "g"), b"")
        os.mkdir(os.path.join(p, "gd"))
        os.symlink("g", os.path.join(p, "gl"))

    assert as_user(0, 4321, make, mnt.m(ns, bid, "rootfs")) == ("ok", None)
    for rel in ("g", "gd", "gl"):
        st = os.lstat(mnt.s(ns, bid, "rootfs", rel))
        assert (st.st_uid, st.st_gid) == (0, 4321), rel


def _try(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return None


def _forbidden(root):
    priv = os.path.join(root, "rootfs", "priv")
    sticky = os.path.join(root, "rootfs", "sticky")
    rf = os.path.join(priv, "root-file")
    res = {}
    res["write root 0644"] = _try(lambda: os.close(os.open(rf, os.O_WRONLY)))
    res["append root 0644"] = _try(lambda: os.close(os.open(rf, os.O_WRONLY | os.O_APPEND)))
    res["truncate root 0644"] = _try(os.truncate, rf, 0)
    res["create in 0755"] = _try(lambda: os.close(os.open(os.path.join(priv, "n"),
                                                          os.O_WRONLY | os.O_CREAT, 0o644)))
    res["mkdir in 0755"] = _try(os.mkdir, os.path.join(priv, "d"))
    res["symlink in 0755"] = _try(os.symlink, "x", os.path.join(priv, "l"))
    res["mkfifo in 0755"] = _try(os.mkfifo, os.path.join(priv, "p"))
    res["unlink in 0755"] = _try(os.unlink, rf)
    res["rename in 0755"] = _try(os.rename, rf, os.path.join(priv, "moved"))
    res["link into 0755"] = _try(os.link, os.path.join(root, "rootfs", "pub", "own"),
                                 os.path.join(priv, "hl"))
    res["chmod root file"] = _try(os.chmod, rf, 0o666)
    res["chown root file"] = _try(os.chown, rf, UID, GID)
    res["utime root file"] = _try(os.utime, rf, (1, 1))
    res["unlink sticky"] = _try(os.unlink, os.path.join(sticky, "root-file"))
    res["list 0700 bundle"] = _try(os.listdir, os.path.dirname(root) + "/" + os.path.basename(root))
    res["create at bundle top"] = _try(lambda: os.close(os.open(
        os.path.join(root, "init.pid"), os.O_WRONLY | os.O_CREAT, 0o644)))
    return res


def test_unprivileged_permission_checks(mnt, bundle):
    ns, bid = bundle
    os.chmod(mnt.s(ns, bid), 0o711)      # traversable, not listable/writable by others
    write(mnt.s(ns, bid, "rootfs", "pub", "own"), b"user's")
    os.chown(mnt.s(ns, bid, "rootfs", "pub", "own"), UID, GID)
    before = snapshot(mnt.state, mnt.work, times=True)
    status, res = as_user(UID, GID, _forbidden, mnt.m(ns, bid))
    assert status == "ok"
    want = {k: errno.EACCES for k in res}
    want.update({"chmod root file": errno.EPERM, "chown root file": errno.EPERM,
                 "utime root file": errno.EPERM, "unlink sticky": errno.EPERM})
    assert res == want
    assert snapshot(mnt.state, mnt.work, times=True) == before
    # and the same user may read what its mode bits allow
    assert as_user(UID, GID, read, mnt.m(ns, bid, "rootfs", "priv", "root-file")) == \
        ("ok", b"root's")


def test_unprivileged_cannot_enter_0700_bundle(mnt):
    ns, bid = mnt.new_bundle()           # 0700 as containerd makes it
    assert stat.S_IMODE(os.stat(mnt.m(ns, bid)).st_mode) == 0o700
    assert as_user(UID, GID, os.listdir, mnt.m(ns, bid, "rootfs")) == ("err", errno.EACCES)
    assert as_user(UID, GID, os.listdir, mnt.m(ns, bid)) == ("err", errno.EACCES)
