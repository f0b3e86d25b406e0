# SPDX-License-Identifier: Apache-2.0
"""The `ro` option (SPEC 2, 5.4, 6): over a populated store every change
fails with EROFS and nothing on the store changes, reads still work, and the
start-up sweep is skipped."""

import errno
import os
import shutil
import tempfile

import pytest

from bfstest import diff_snapshots, errno_of, ident, snapshot
from bfstest import read_bytes as read
from gorender import DEFAULT_DAEMON_ADDRESS, computed_address, go_join, shim_config_text
from pt_helpers import write

CONFIG = b'{"ociVersion":"1.0.2","process":{"args":["sh"]},"root":{"path":"rootfs"}}'
STORED_ADDRESS = b"unix:///run/containerd/s/stored-address"
RUNC_OPTIONS = b'{"runtime":"runc","criu_path":"/usr/sbin/criu","systemd_cgroup":true}'


@pytest.fixture
def store():
    base = tempfile.mkdtemp(prefix="bfs-pt-ro-")
    d = {k: os.path.join(base, k) for k in ("state", "work", "socket_root")}
    for p in d.values():
        os.mkdir(p)
    os.mkdir(os.path.join(d["socket_root"], "s"))
    yield d
    shutil.rmtree(base, ignore_errors=True)


def _populate(m):
    """A store as a node has it, made through a read-write mount."""
    ns = m.new_ns()
    b1, b2 = ident("b"), ident("b")
    for bid in (b1, b2):
        os.mkdir(m.m(ns, bid))
    write(m.m(ns, b1, "config.json"), CONFIG)
    write(m.m(ns, b2, "address"), STORED_ADDRESS)
    write(m.m(ns, b2, "runc-options"), RUNC_OPTIONS)
    write(m.m(ns, b1, "init.pid"), b"1234")
    write(m.m(ns, b1, "log.json"), b'{"level":"info"}\n')
    os.makedirs(m.m(ns, b1, "rootfs", "etc"))
    os.mkdir(m.m(ns, b1, "rootfs", "empty"))
    write(m.m(ns, b1, "rootfs", "etc", "hosts"), b"127.0.0.1 localhost\n")
    os.symlink("/etc/passwd", m.m(ns, b1, "rootfs", "etc", "passwd"))
    os.mkfifo(m.m(ns, b1, "rootfs", "fifo"))
    return ns, b1, b2


def test_ro_refuses_every_change(mount_bundlefs, store):
    rw = mount_bundlefs(**store)
    ns, b1, b2 = _populate(rw)
    assert rw.stop() == []
    # leftovers of an interrupted delete: a read-write start would sweep them
    for root in (store["state"], store["work"]):
        os.makedirs(os.path.join(root, ns, ".bgone", "rootfs"))
        write(os.path.join(root, ns, ".bgone", "leftover"), b"x")
    roots = (store["state"], store["work"], store["socket_root"])
    before = snapshot(*roots, times=True)

    ro = mount_bundlefs(ro=True, **store)
    m = lambda *p: ro.m(ns, *p)  # noqa: E731

    # --- reads work
    assert sorted(os.listdir(ro.m())) == [ns]
    assert sorted(os.listdir(m())) == sorted([b1, b2, ".bgone"])
    assert read(m(b1, "config.json")) == CONFIG
    assert read(m(b1, "address")) == computed_address(
        store["socket_root"], DEFAULT_DAEMON_ADDRESS, ns, b1).encode()
    assert os.stat(m(b1, "address")).st_size == len(read(m(b1, "address")))
    assert read(m(b2, "address")) == STORED_ADDRESS
    assert read(m(b1, "shim-config")) == shim_config_text(
        go_join(store["state"], ns, b1), ns,
        go_join(store["work"], ns, b1), "", "", False)
    assert read(m(b2, "shim-config")) == shim_config_text(
        go_join(store["state"], ns, b2), ns,
        go_join(store["work"], ns, b2), "/usr/sbin/criu", "", True)
    assert read(m(b2, "runc-options")) == RUNC_OPTIONS
    assert read(m(b1, "init.pid")) == b"1234"
    assert read(m(b1, "rootfs", "etc", "hosts")) == b"127.0.0.1 localhost\n"
    assert os.readlink(m(b1, "rootfs", "etc", "passwd")) == "/etc/passwd"
    assert read(m(".bgone", "leftover")) == b"x"
    assert os.statvfs(m(b1, "rootfs")).f_blocks == os.statvfs(store["state"]).f_blocks

    # --- every change: EROFS
    f = m(b1, "rootfs", "etc", "hosts")

    def open_close(path, flags, mode=0o644):
        os.close(os.open(path, flags, mode))

    W, C, T = os.O_WRONLY, os.O_CREAT, os.O_TRUNC
    attempts = {
        "mkdir ns": (os.mkdir, ro.m("newns")),
        "mkdir bundle": (os.mkdir, m("newbundle")),
        "mkdir in rootfs": (os.mkdir, m(b1, "rootfs", "newdir")),
        "rmdir bundle": (os.rmdir, m(b1)),
        "rmdir bundle without config": (os.rmdir, m(b2)),
        "rmdir hidden": (os.rmdir, m(".bgone")),
        "rmdir ns": (os.rmdir, m()),
        "rmdir in rootfs": (os.rmdir, m(b1, "rootfs", "empty")),
        "write config.json": (open_close, m(b1, "config.json"), W | C | T),
        "create config.json": (open_close, m(b2, "config.json"), W | C | T),
        "write address (computed)": (open_close, m(b1, "address"), W | C | T),
        "write address (stored)": (open_close, m(b2, "address"), W | T),
        "create .address": (open_close, m(b1, ".address"),
                            os.O_RDWR | C | os.O_EXCL | os.O_SYNC),
        "write runc-options": (open_close, m(b2, "runc-options"), W | T),
        "create in rootfs": (open_close, m(b1, "rootfs", "new"), W | C),
        "create init.pid": (open_close, m(b2, "init.pid"), W | C | os.O_EXCL),
        "open rdwr": (open_close, f, os.O_RDWR),
        "open append": (open_close, m(b1, "log.json"), W | os.O_APPEND),
        "open trunc": (open_close, f, os.O_RDONLY | T),
        "unlink file": (os.unlink, f),
        "unlink init.pid": (os.unlink, m(b1, "init.pid")),
        "unlink stored address": (os.unlink, m(b2, "address")),
        "unlink runc-options": (os.unlink, m(b2, "runc-options")),
        "unlink symlink": (os.unlink, m(b1, "rootfs", "etc", "passwd")),
        "rename in rootfs": (os.rename, f, m(b1, "rootfs", "etc", "hosts2")),
        "rename over": (os.rename, m(b1, "init.pid"), m(b1, "log.json")),
        "rename bundle to hidden": (os.rename, m(b1), m("." + b1)),
        "chmod file": (os.chmod, f, 0o600),
        "chmod bundle": (os.chmod, m(b1), 0o755),
        "chmod config.json": (os.chmod, m(b1, "config.json"), 0o600),
        "chown file": (os.chown, f, 1000, 1000),
        "lchown symlink": (os.lchown, m(b1, "rootfs", "etc", "passwd"), 1000, 1000),
        "utime file": (os.utime, f, (1, 1)),
        "utime now": (os.utime, f, None),
        "utime dir": (os.utime, m(b1, "rootfs"), (1, 1)),
        "truncate file": (os.truncate, f, 0),
        "truncate config.json": (os.truncate, m(b1, "config.json"), 1),
        "truncate address": (os.truncate, m(b2, "address"), 0),
        "symlink": (os.symlink, "x", m(b1, "rootfs", "newlink")),
        "link": (os.link, f, m(b1, "rootfs", "hardlink")),
        "mkfifo": (os.mkfifo, m(b1, "rootfs", "newfifo")),
    }
    got = {k: errno_of(fn, *args) for k, (fn, *args) in attempts.items()}
    assert got == {k: errno.EROFS for k in attempts}
    # an open file cannot be changed through its descriptor either
    fd = os.open(f, os.O_RDONLY)
    try:
        assert errno_of(os.fchmod, fd, 0o600) == errno.EROFS
        assert errno_of(os.fchown, fd, 1, 1) == errno.EROFS
        assert errno_of(os.utime, fd, (1, 1)) == errno.EROFS
    finally:
        os.close(fd)

    # --- the store is exactly as it was, sweep included
    assert os.path.isdir(os.path.join(store["state"], ns, ".bgone"))
    assert os.path.isdir(os.path.join(store["work"], ns, ".bgone"))
    after = snapshot(*roots, times=True)
    assert after == before, diff_snapshots(before, after)
    assert ro.stop() == []
    after = snapshot(*roots, times=True)
    assert after == before, diff_snapshots(before, after)

    # control: the same leftovers are swept by a read-write start
    rw2 = mount_bundlefs(**store)
    rw2.expect_log(r"removed \d+ leftovers")
    assert not os.path.lexists(os.path.join(store["state"], ns, ".bgone"))
    assert not os.path.lexists(os.path.join(store["work"], ns, ".bgone"))
    assert read(rw2.m(ns, b1, "config.json")) == CONFIG


def test_ro_over_store_made_by_hand(mount_bundlefs, store):
    """A live node's layout, written without bundlefs (section 6: inspection)."""
    ns, bid = "k8s.io", "0123456789abcdef"
    s = os.path.join(store["state"], ns, bid)
    os.makedirs(os.path.join(s, "rootfs"), mode=0o711)
    os.chmod(os.path.join(store["state"], ns), 0o711)
    os.chmod(s, 0o700)
    os.makedirs(os.path.join(store["work"], ns, bid), mode=0o711)
    write(os.path.join(s, "config.json"), CONFIG)
    write(os.path.join(s, "address"), b"unix:///run/containerd/s/abc")
    write(os.path.join(s, "shim.pid"), b"555")
    before = snapshot(store["state"], store["work"], times=True)
    ro = mount_bundlefs(ro=True, **store)
    assert read(ro.m(ns, bid, "address")) == b"unix:///run/containerd/s/abc"
    assert read(ro.m(ns, bid, "shim.pid")) == b"555"
    assert sorted(os.listdir(ro.m(ns, bid))) == sorted(
        ["config.json", "address", "shim.pid", "rootfs", "shim-config", "status"])
    assert errno_of(os.unlink, ro.m(ns, bid, "shim.pid")) == errno.EROFS
    assert errno_of(os.rmdir, ro.m(ns, bid)) == errno.EROFS
    assert snapshot(store["state"], store["work"], times=True) == before
