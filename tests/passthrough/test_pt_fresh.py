# SPDX-License-Identifier: Apache-2.0
"""Freshness (SPEC 6, 1): changes other processes make in the backing store
show through the mount within one second; changes made through the mount
show through it at once.

The one-second checks poll every 50 ms until one second after the change and
fail only if the change is not visible by then: a bound, not a speed test.
Each first looks through the mount before the change, so that whatever the
kernel caches is primed with the old state."""

import errno
import os
import shutil
import stat
import time

import pytest

from bfstest import errno_of, ident
from bfstest import read_bytes as read
from gorender import go_join, shim_config_text
from pt_helpers import write

BOUND = 1.0


def within_bound(pred, t0):
    """pred() true at some poll up to BOUND seconds after t0 (when the store
    was changed). Returns (ok, seconds waited)."""
    while True:
        if pred():
            return True, time.monotonic() - t0
        if time.monotonic() - t0 > BOUND:
            return bool(pred()), time.monotonic() - t0
        time.sleep(0.05)


def _lists(path, name):
    try:
        return name in os.listdir(path)
    except OSError:
        return False


def _stat_ok(path):
    try:
        os.lstat(path)
        return True
    except OSError:
        return False


def _gone(path):
    try:
        os.lstat(path)
        return False
    except FileNotFoundError:
        return True


def _reads(path, data):
    try:
        return read(path) == data and os.stat(path).st_size == len(data)
    except OSError:
        return False


@pytest.fixture
def bundle(bfs):
    ns, bid = bfs.new_bundle()
    write(bfs.m(ns, bid, "config.json"), b"{}")
    return ns, bid


# ------------------------------------------------------- store -> mount

def test_new_bundle_in_store_appears(bfs):
    ns = bfs.new_ns()
    bid = ident("b")
    assert os.listdir(bfs.m(ns)) == []
    assert errno_of(os.lstat, bfs.m(ns, bid)) == errno.ENOENT       # negative entry primed
    os.makedirs(bfs.s(ns, bid, "rootfs"))
    os.chmod(bfs.s(ns, bid), 0o700)
    t0 = time.monotonic()
    ok, _ = within_bound(lambda: _lists(bfs.m(ns), bid) and _stat_ok(bfs.m(ns, bid)), t0)
    assert ok
    assert stat.S_ISDIR(os.stat(bfs.m(ns, bid)).st_mode)
    assert {"rootfs", "address", "shim-config"} <= set(os.listdir(bfs.m(ns, bid)))


def test_new_namespace_in_store_appears(bfs):
    ns = ident("ns")
    assert ns not in os.listdir(bfs.m())
    assert errno_of(os.stat, bfs.m(ns)) == errno.ENOENT
    os.makedirs(bfs.s(ns, "b1", "rootfs"))
    t0 = time.monotonic()
    ok, _ = within_bound(lambda: _lists(bfs.m(), ns) and _lists(bfs.m(ns), "b1"), t0)
    assert ok


def test_removed_bundle_in_store_vanishes(bfs, bundle):
    ns, bid = bundle
    assert bid in os.listdir(bfs.m(ns))
    os.stat(bfs.m(ns, bid))
    os.stat(bfs.m(ns, bid, "rootfs"))
    shutil.rmtree(bfs.s(ns, bid))
    t0 = time.monotonic()
    ok, _ = within_bound(lambda: not _lists(bfs.m(ns), bid) and _gone(bfs.m(ns, bid)), t0)
    assert ok
    assert errno_of(os.listdir, bfs.m(ns, bid, "rootfs")) == errno.ENOENT


def test_changed_stored_address_reads_new(bfs, bundle):
    ns, bid = bundle
    old = b"unix:///run/containerd/s/old"
    new = b"unix:///run/containerd/s/" + b"n" * 64 + b"\n"
    write(bfs.s(ns, bid, "address"), old)
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "address"), old), t0)[0]
    # replaced the way containerd does it, bypassing the mount
    write(bfs.s(ns, bid, ".address"), new)
    os.rename(bfs.s(ns, bid, ".address"), bfs.s(ns, bid, "address"))
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "address"), new), t0)[0]
    # rewritten in place, shorter
    write(bfs.s(ns, bid, "address"), b"unix:///x")
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "address"), b"unix:///x"), t0)[0]
    # removed: back to the computed value
    os.unlink(bfs.s(ns, bid, "address"))
    computed = bfs.address(ns, bid).encode()
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "address"), computed), t0)[0]


def test_new_init_pid_appears(bfs, bundle):
    ns, bid = bundle
    assert errno_of(os.stat, bfs.m(ns, bid, "init.pid")) == errno.ENOENT
    assert "init.pid" not in os.listdir(bfs.m(ns, bid))
    write(bfs.s(ns, bid, ".init.pid"), b"31337")
    os.rename(bfs.s(ns, bid, ".init.pid"), bfs.s(ns, bid, "init.pid"))
    t0 = time.monotonic()
    ok, _ = within_bound(lambda: _lists(bfs.m(ns, bid), "init.pid")
                         and _reads(bfs.m(ns, bid, "init.pid"), b"31337"), t0)
    assert ok
    write(bfs.s(ns, bid, "init.pid"), b"4")
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "init.pid"), b"4"), t0)[0]
    os.unlink(bfs.s(ns, bid, "init.pid"))
    t0 = time.monotonic()
    assert within_bound(lambda: _gone(bfs.m(ns, bid, "init.pid"))
                        and not _lists(bfs.m(ns, bid), "init.pid"), t0)[0]


def test_changed_config_and_rootfs_file(bfs, bundle):
    ns, bid = bundle
    assert read(bfs.m(ns, bid, "config.json")) == b"{}"
    write(bfs.s(ns, bid, "rootfs", "f"), b"short")
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "rootfs", "f"), b"short"), t0)[0]
    write(bfs.s(ns, bid, "config.json"), b'{"ociVersion":"1.0.2"}')
    with open(bfs.s(ns, bid, "rootfs", "f"), "ab") as fh:
        fh.write(b" and longer")
    t0 = time.monotonic()
    assert within_bound(lambda: _reads(bfs.m(ns, bid, "config.json"), b'{"ociVersion":"1.0.2"}')
                        and _reads(bfs.m(ns, bid, "rootfs", "f"), b"short and longer"), t0)[0]


def test_attribute_changes_in_store(bfs, bundle):
    ns, bid = bundle
    p = bfs.s(ns, bid, "rootfs", "attr")
    write(p, b"a")
    t0 = time.monotonic()
    assert within_bound(lambda: _stat_ok(bfs.m(ns, bid, "rootfs", "attr")), t0)[0]
    os.chmod(p, 0o600)
    os.chown(p, 1000, 1001)
    os.utime(p, ns=(10**18, 10**18 + 7))

    def seen():
        st = os.lstat(bfs.m(ns, bid, "rootfs", "attr"))
        return (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns) == \
            (0o600, 1000, 1001, 10**18 + 7)

    t0 = time.monotonic()
    assert within_bound(seen, t0)[0]
    # a file replaced by a directory, and a directory by a symlink
    os.unlink(p)
    os.mkdir(p)
    t0 = time.monotonic()
    assert within_bound(lambda: stat.S_ISDIR(os.lstat(bfs.m(ns, bid, "rootfs", "attr")).st_mode)
                        if _stat_ok(bfs.m(ns, bid, "rootfs", "attr")) else False, t0)[0]
    os.rmdir(p)
    os.symlink("/elsewhere", p)
    t0 = time.monotonic()
    assert within_bound(lambda: _stat_ok(bfs.m(ns, bid, "rootfs", "attr")) and stat.S_ISLNK(
        os.lstat(bfs.m(ns, bid, "rootfs", "attr")).st_mode), t0)[0]
    assert os.readlink(bfs.m(ns, bid, "rootfs", "attr")) == "/elsewhere"


def test_work_root_changes_show_in_shim_config(bfs, bundle):
    """Changes made in the store by other processes include runc-options."""
    ns, bid = bundle
    sc = bfs.m(ns, bid, "shim-config")
    assert b'"Criu":""' in read(sc)
    write(bfs.s(ns, bid, "runc-options"), b'{"criu_path":"/opt/criu"}')
    t0 = time.monotonic()
    want = shim_config_text(go_join(bfs.state, ns, bid), ns,
                                        go_join(bfs.work, ns, bid), "/opt/criu", "",
                                        False)
    assert within_bound(lambda: _reads(sc, want), t0)[0]


# ------------------------------------------------------- mount -> mount

def test_changes_through_mount_visible_at_once(bfs):
    ns = bfs.new_ns()
    bid = ident("b")
    assert bid not in os.listdir(bfs.m(ns))
    assert errno_of(os.stat, bfs.m(ns, bid)) == errno.ENOENT
    os.mkdir(bfs.m(ns, bid))
    assert bid in os.listdir(bfs.m(ns)) and os.path.isdir(bfs.m(ns, bid, "rootfs"))
    m = lambda *p: bfs.m(ns, bid, *p)  # noqa: E731

    computed = read(m("address"))
    write(m("address"), b"unix:///a")
    assert read(m("address")) == b"unix:///a" and os.stat(m("address")).st_size == 9
    write(m("address"), b"unix:///" + b"b" * 100)
    assert os.stat(m("address")).st_size == 108 and read(m("address")) == b"unix:///" + b"b" * 100
    os.unlink(m("address"))
    assert read(m("address")) == computed
    assert os.stat(m("address")).st_size == len(computed)

    assert errno_of(os.stat, m("init.pid")) == errno.ENOENT
    write(m("init.pid"), b"1")
    assert "init.pid" in os.listdir(m()) and read(m("init.pid")) == b"1"
    write(m("init.pid"), b"12345")
    assert os.stat(m("init.pid")).st_size == 5 and read(m("init.pid")) == b"12345"
    os.unlink(m("init.pid"))
    assert errno_of(os.stat, m("init.pid")) == errno.ENOENT
    assert "init.pid" not in os.listdir(m())

    write(m("rootfs", "f"), b"x")
    os.chmod(m("rootfs", "f"), 0o600)
    os.utime(m("rootfs", "f"), ns=(1, 123))
    st = os.stat(m("rootfs", "f"))
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o600, 123)
    os.rename(m("rootfs", "f"), m("rootfs", "g"))
    assert errno_of(os.stat, m("rootfs", "f")) == errno.ENOENT and read(m("rootfs", "g")) == b"x"
    with open(m("rootfs", "g"), "ab") as fh:
        fh.write(b"yz")
    assert read(m("rootfs", "g")) == b"xyz" and os.stat(m("rootfs", "g")).st_size == 3

    write(m("config.json"), b"{}")
    assert read(m("config.json")) == b"{}"
    write(m("config.json"), b'{"linux":{}}')
    assert read(m("config.json")) == b'{"linux":{}}'
    assert os.stat(m("config.json")).st_size == 12

    os.rmdir(m())
    assert bid not in os.listdir(bfs.m(ns))
    assert errno_of(os.stat, m()) == errno.ENOENT


def test_hard_link_names_agree(bfs, bundle):
    """Two names of one file: data written through one is read whole through the
    other at once; the other name's attributes (its own kernel inode, cached)
    follow within the one-second freshness bound."""
    ns, bid = bundle
    a, b = bfs.m(ns, bid, "rootfs", "a"), bfs.m(ns, bid, "rootfs", "b")
    write(a, b"short")
    os.link(a, b)
    assert os.stat(b).st_size == 5
    grown = b"short grown through the other name"
    with open(a, "ab") as fh:
        fh.write(grown[5:])
    os.chmod(a, 0o600)
    assert read(b) == grown
    deadline = time.monotonic() + 1.0
    while True:
        st = os.stat(b)
        if (st.st_size, stat.S_IMODE(st.st_mode)) == (len(grown), 0o600):
            break
        assert time.monotonic() < deadline, (st.st_size, oct(st.st_mode))
        time.sleep(0.05)
    os.unlink(a)
    assert read(b) == grown
    assert os.lstat(bfs.s(ns, bid, "rootfs", "b")).st_nlink == 1
