# SPDX-License-Identifier: Apache-2.0
"""Passthrough (SPEC 4.6): every entry under a bundle that is not an overlay
file behaves as the same entry of the backing store, at any depth. Each test
acts through the mount and checks the backing store."""

import errno
import os
import pathlib
import select
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from bfstest import errno_of, q
from bfstest import read_bytes as read
from pt_helpers import RENAME_EXCHANGE, RENAME_NOREPLACE, daemon_fd_flags, renameat2, write

# Places in a bundle, from the bundle directory itself to deep in rootfs.
DEPTHS = ["", "rootfs", "rootfs/a", "rootfs/a/b/c/d"]


class B:
    """One fresh bundle on the module's mount: m() through the mount, s() in the store."""

    def __init__(self, bfs):
        self.bfs = bfs
        self.ns, self.id = bfs.new_bundle()
        for d in ("rootfs/a", "rootfs/a/b", "rootfs/a/b/c", "rootfs/a/b/c/d"):
            os.mkdir(self.m(d))

    def m(self, *p):
        return self.bfs.m(self.ns, self.id, *p)

    def s(self, *p):
        return self.bfs.s(self.ns, self.id, *p)


@pytest.fixture
def b(bfs):
    return B(bfs)


# ------------------------------------------------------------------ create

@pytest.mark.parametrize("depth", DEPTHS)
def test_create_excl(b, depth, umask022):
    for name in ("f", ".hidden", "init.pid"):
        rel = os.path.join(depth, name)
        fd = os.open(b.m(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.write(fd, b"first")
        os.close(fd)
        st = os.lstat(b.s(rel))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640, rel
        assert (st.st_uid, st.st_gid) == (0, 0)
        assert read(b.s(rel)) == b"first"
        assert errno_of(os.open, b.m(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600) \
            == errno.EEXIST, rel
        assert read(b.s(rel)) == b"first" and stat.S_IMODE(os.lstat(b.s(rel)).st_mode) == 0o640


def test_create_excl_over_entries_made_in_store(b):
    # The kernel has never seen these names: the daemon itself must answer EEXIST.
    write(b.s("rootfs/a/made"), b"store")
    os.symlink("dangling-target", b.s("rootfs/a/link"))
    for rel in ("rootfs/a/made", "rootfs/a/link"):
        assert errno_of(os.open, b.m(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644) \
            == errno.EEXIST, rel
    assert read(b.s("rootfs/a/made")) == b"store"
    assert not os.path.lexists(b.s("rootfs/a/dangling-target"))
    assert os.readlink(b.s("rootfs/a/link")) == "dangling-target"


@pytest.mark.parametrize("depth", DEPTHS)
def test_o_trunc(b, depth):
    rel = os.path.join(depth, "t")
    write(b.s(rel), b"0123456789" * 100)
    fd = os.open(b.m(rel), os.O_WRONLY | os.O_TRUNC)
    try:
        assert os.lstat(b.s(rel)).st_size == 0
        os.write(fd, b"ab")
    finally:
        os.close(fd)
    assert read(b.s(rel)) == b"ab"
    assert os.stat(b.m(rel)).st_size == 2
    # O_CREAT|O_TRUNC on an existing file: same.
    write(b.m(rel), b"x")
    assert read(b.s(rel)) == b"x"


@pytest.mark.parametrize("depth", ["", "rootfs/a/b"])
def test_o_append_interleaved_with_store(b, depth):
    """Appends through the mount land at the end of the stored file even when
    another process appended to the store meanwhile: the daemon's descriptor is
    in append mode, not positioned at the kernel's idea of the size."""
    rel = os.path.join(depth, "log.json")
    write(b.s(rel), b"start\n")
    fd_m = os.open(b.m(rel), os.O_WRONLY | os.O_APPEND)
    fd_s = os.open(b.s(rel), os.O_WRONLY | os.O_APPEND)
    expect = b"start\n"
    try:
        for fl in daemon_fd_flags(b.bfs.proc.pid, b.s(rel)):
            assert fl & os.O_APPEND, oct(fl)
        for i in range(20):
            for fd, tag in ((fd_m, b"M"), (fd_s, b"S")):
                line = tag + b"%02d\n" % i
                assert os.write(fd, line) == len(line)
                expect += line
    finally:
        os.close(fd_m)
        os.close(fd_s)
    assert read(b.s(rel)) == expect


def _appender(path, tag, n):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for i in range(n):
        os.write(fd, b'{"w":"%s","i":%04d}\n' % (tag, i))
    os.close(fd)


@pytest.mark.parametrize("depth", ["", "rootfs/a"])
def test_o_append_two_appenders(b, depth):
    rel = os.path.join(depth, "app.log")
    n = 300
    pids = []
    for tag in (b"A", b"B"):
        pid = os.fork()
        if pid == 0:
            try:
                _appender(b.m(rel), tag, n)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    lines = read(b.s(rel)).split(b"\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == 2 * n
    for tag in (b"A", b"B"):
        mine = [ln for ln in lines if ln.startswith(b'{"w":"%s"' % tag)]
        assert mine == [b'{"w":"%s","i":%04d}' % (tag, i) for i in range(n)]
    assert read(b.m(rel)) == read(b.s(rel))


@pytest.mark.parametrize("depth", DEPTHS)
def test_o_sync(b, depth):
    rel = os.path.join(depth, "sync")
    for flags in (os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_SYNC, os.O_WRONLY | os.O_SYNC,
                  os.O_WRONLY | os.O_DSYNC):
        fd = os.open(b.m(rel), flags, 0o644)
        try:
            held = daemon_fd_flags(b.bfs.proc.pid, b.s(rel))
            assert held, "the daemon holds no descriptor on the stored file"
            want = flags & os.O_SYNC
            assert all(fl & want == want for fl in held), [oct(f) for f in held]
            os.write(fd, b"synced")
            assert read(b.s(rel)) == b"synced"
        finally:
            os.close(fd)


# ------------------------------------------------------------ data access

@pytest.mark.parametrize("depth", DEPTHS)
def test_read_write_pwrite(b, depth):
    rel = os.path.join(depth, "data")
    base = bytes(range(256)) * 64
    write(b.s(rel), base)
    assert read(b.m(rel)) == base
    fd = os.open(b.m(rel), os.O_RDWR)
    model = bytearray(base)
    try:
        assert os.pread(fd, 10, 1000) == base[1000:1010]
        assert os.pread(fd, 100, len(base) - 5) == base[-5:]
        for off, data in ((0, b"HEAD"), (5000, b"middle"), (len(base) - 2, b"tail!"),
                          (100000, b"far")):
            assert os.pwrite(fd, data, off) == len(data)
            if off > len(model):
                model.extend(b"\0" * (off - len(model)))
            model[off:off + len(data)] = data
        os.lseek(fd, 7, os.SEEK_SET)
        assert os.write(fd, b"seq") == 3
        model[7:10] = b"seq"
        assert os.pread(fd, len(model) + 10, 0) == bytes(model)
    finally:
        os.close(fd)
    assert read(b.s(rel)) == bytes(model)
    assert os.stat(b.m(rel)).st_size == os.lstat(b.s(rel)).st_size == len(model)


@pytest.mark.parametrize("depth", DEPTHS)
def test_truncate_ftruncate(b, depth):
    rel = os.path.join(depth, "tr")
    write(b.s(rel), b"abcdefghij")
    os.truncate(b.m(rel), 4)
    assert read(b.s(rel)) == b"abcd"
    assert os.stat(b.m(rel)).st_size == 4
    os.truncate(b.m(rel), 9)
    assert read(b.s(rel)) == b"abcd" + b"\0" * 5
    fd = os.open(b.m(rel), os.O_RDWR)
    try:
        os.ftruncate(fd, 2)
        assert read(b.s(rel)) == b"ab"
        assert os.fstat(fd).st_size == 2
        os.ftruncate(fd, 70000)
        assert os.lstat(b.s(rel)).st_size == 70000
    finally:
        os.close(fd)
    assert read(b.m(rel)) == b"ab" + b"\0" * 69998


@pytest.mark.parametrize("depth", DEPTHS)
def test_fsync(b, depth):
    rel = os.path.join(depth, "fs")
    fd = os.open(b.m(rel), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"durable")
        os.fsync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    assert read(b.s(rel)) == b"durable"
    dfd = os.open(b.m(depth), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# -------------------------------------------------------- directories

@pytest.mark.parametrize("depth", DEPTHS)
def test_mkdir_rmdir(b, depth, umask022):
    top = os.path.join(depth, "nd")
    os.mkdir(b.m(top), 0o750)
    os.mkdir(b.m(top, "sub"))
    st = os.lstat(b.s(top))
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750
    assert stat.S_IMODE(os.lstat(b.s(top, "sub")).st_mode) == 0o755
    assert errno_of(os.mkdir, b.m(top)) == errno.EEXIST
    assert errno_of(os.rmdir, b.m(top)) == errno.ENOTEMPTY
    assert os.path.isdir(b.s(top, "sub"))
    write(b.m(top, "sub", "f"), b"x")
    assert errno_of(os.rmdir, b.m(top, "sub")) == errno.ENOTEMPTY
    assert read(b.s(top, "sub", "f")) == b"x"
    os.unlink(b.m(top, "sub", "f"))
    os.rmdir(b.m(top, "sub"))
    assert not os.path.lexists(b.s(top, "sub"))
    os.rmdir(b.m(top))
    assert not os.path.lexists(b.s(top))
    assert errno_of(os.rmdir, b.m(top)) == errno.ENOENT


def test_rmdir_of_dir_made_in_store(b):
    os.makedirs(b.s("rootfs/x/y"))
    write(b.s("rootfs/x/y/z"), b"")
    assert errno_of(os.rmdir, b.m("rootfs/x")) == errno.ENOTEMPTY
    assert errno_of(os.rmdir, b.m("rootfs/x/y")) == errno.ENOTEMPTY
    assert os.path.exists(b.s("rootfs/x/y/z"))


def test_listing_matches_store(b):
    for rel in ("rootfs/a/.dot", "rootfs/a/plain", ".init.pid", "init.pid", "rootfs/a/b/x"):
        write(b.s(rel), b"")
    os.symlink("/nowhere", b.s("rootfs/a/ln"))
    os.mkfifo(b.s("rootfs/a/ff"))
    for rel in ("rootfs", "rootfs/a", "rootfs/a/b", "rootfs/a/b/c/d"):
        assert sorted(os.listdir(b.m(rel))) == sorted(os.listdir(b.s(rel))), rel
    names = set(os.listdir(b.m()))
    assert {"rootfs", "init.pid", ".init.pid"} <= names


@pytest.mark.parametrize("depth", DEPTHS)
def test_unlink(b, depth):
    rel = os.path.join(depth, "gone")
    write(b.s(rel), b"x")
    os.symlink("gone", b.s(os.path.join(depth, "gonelink")))
    os.unlink(b.m(rel))
    assert not os.path.lexists(b.s(rel))
    assert errno_of(os.lstat, b.m(rel)) == errno.ENOENT
    os.unlink(b.m(depth, "gonelink"))
    assert not os.path.lexists(b.s(depth, "gonelink"))
    assert errno_of(os.unlink, b.m(rel)) == errno.ENOENT


# ------------------------------------------------------------- renames

def test_rename_within_bundle(b):
    moves = [("rootfs/f1", "rootfs/a/b/c/d/f1"),      # deeper
             ("rootfs/a/b/c/d/f1", "f1"),              # up to the bundle itself
             ("f1", "rootfs/a/f1"),                    # and down again
             (".init.pid", "init.pid"),                # bundle top, hidden -> visible
             ("rootfs/a/b", "rootfs/bb")]              # a directory with contents
    write(b.m("rootfs/f1"), b"one")
    write(b.m(".init.pid"), b"42")
    inode = os.lstat(b.s("rootfs/f1")).st_ino
    for src, dst in moves:
        os.rename(b.m(src), b.m(dst))
        assert not os.path.lexists(b.s(src)), src
        assert os.path.lexists(b.s(dst)), dst
        assert errno_of(os.lstat, b.m(src)) == errno.ENOENT
    assert read(b.s("rootfs/a/f1")) == b"one"
    assert os.lstat(b.s("rootfs/a/f1")).st_ino == inode
    assert read(b.s("init.pid")) == b"42"
    assert os.path.isdir(b.s("rootfs/bb/c/d"))
    assert read(b.m("rootfs/a/f1")) == b"one"


def test_rename_over_existing(b):
    write(b.m("rootfs/new"), b"new content")
    write(b.m("rootfs/a/old"), b"old")
    old_ino = os.lstat(b.s("rootfs/a/old")).st_ino
    new_ino = os.lstat(b.s("rootfs/new")).st_ino
    os.rename(b.m("rootfs/new"), b.m("rootfs/a/old"))
    assert read(b.s("rootfs/a/old")) == b"new content"
    st = os.lstat(b.s("rootfs/a/old"))
    assert st.st_ino == new_ino != old_ino
    assert not os.path.lexists(b.s("rootfs/new"))
    assert read(b.m("rootfs/a/old")) == b"new content"
    # directory over empty directory works, over a non-empty one: ENOTEMPTY
    os.mkdir(b.m("rootfs/d1"))
    write(b.m("rootfs/d1/in"), b"")
    os.mkdir(b.m("rootfs/d2"))
    os.rename(b.m("rootfs/d1"), b.m("rootfs/d2"))
    assert os.path.exists(b.s("rootfs/d2/in")) and not os.path.lexists(b.s("rootfs/d1"))
    os.mkdir(b.m("rootfs/d3"))
    assert errno_of(os.rename, b.m("rootfs/d3"), b.m("rootfs/d2")) == errno.ENOTEMPTY
    assert errno_of(os.rename, b.m("rootfs/d3"), b.m("rootfs/a/old")) == errno.ENOTDIR
    assert os.path.isdir(b.s("rootfs/d3")) and os.path.exists(b.s("rootfs/d2/in"))


def test_renameat2_noreplace(b):
    write(b.m("rootfs/src"), b"src")
    write(b.m("rootfs/a/dst"), b"dst")
    assert errno_of(renameat2, b.m("rootfs/src"), b.m("rootfs/a/dst"), RENAME_NOREPLACE) \
        == errno.EEXIST
    assert read(b.s("rootfs/src")) == b"src" and read(b.s("rootfs/a/dst")) == b"dst"
    # target made in the store behind the kernel's back: the daemon must refuse too
    write(b.s("rootfs/a/behind"), b"behind")
    assert errno_of(renameat2, b.m("rootfs/src"), b.m("rootfs/a/behind"), RENAME_NOREPLACE) \
        == errno.EEXIST
    assert read(b.s("rootfs/a/behind")) == b"behind"
    renameat2(b.m("rootfs/src"), b.m("rootfs/a/free"), RENAME_NOREPLACE)
    assert read(b.s("rootfs/a/free")) == b"src" and not os.path.lexists(b.s("rootfs/src"))
    # containerd's own pattern in a bundle: .init.pid -> init.pid without replacing
    write(b.m(".x"), b"1")
    renameat2(b.m(".x"), b.m("init.pid"), RENAME_NOREPLACE)
    assert read(b.s("init.pid")) == b"1"


def test_renameat2_exchange(b):
    write(b.m("rootfs/one"), b"1")
    os.mkdir(b.m("rootfs/a/two"))
    write(b.m("rootfs/a/two/inner"), b"2")
    renameat2(b.m("rootfs/one"), b.m("rootfs/a/two"), RENAME_EXCHANGE)
    assert os.path.isdir(b.s("rootfs/one")) and read(b.s("rootfs/one/inner")) == b"2"
    assert read(b.s("rootfs/a/two")) == b"1"
    assert read(b.m("rootfs/one/inner")) == b"2" and read(b.m("rootfs/a/two")) == b"1"
    write(b.m("init.pid"), b"10")
    write(b.m("shim.pid"), b"20")
    renameat2(b.m("init.pid"), b.m("shim.pid"), RENAME_EXCHANGE)
    assert read(b.s("init.pid")) == b"20" and read(b.s("shim.pid")) == b"10"
    assert errno_of(renameat2, b.m("init.pid"), b.m("rootfs/nothing"), RENAME_EXCHANGE) \
        == errno.ENOENT


def test_rename_across_bundles_exdev(bfs, b):
    ns2, id2 = bfs.new_bundle(b.ns)
    other = bfs.m(ns2, id2)
    write(b.m("rootfs/a/mv"), b"moving")
    write(b.m("init.pid"), b"7")
    before = bfs.snapshot()
    assert errno_of(os.rename, b.m("rootfs/a/mv"), os.path.join(other, "rootfs/mv")) \
        == errno.EXDEV
    assert errno_of(os.rename, b.m("init.pid"), os.path.join(other, "init.pid")) == errno.EXDEV
    assert errno_of(os.link, b.m("rootfs/a/mv"), os.path.join(other, "rootfs/ln")) \
        == errno.EXDEV
    # into another namespace's bundle as well
    ns3, id3 = bfs.new_bundle()
    before = bfs.snapshot()
    assert errno_of(os.rename, b.m("rootfs/a/mv"), bfs.m(ns3, id3, "rootfs/mv")) == errno.EXDEV
    bfs.assert_unchanged(before)
    # mv falls back to copying
    r = subprocess.run(["mv", b.m("rootfs/a/mv"), os.path.join(other, "rootfs/mv")],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert read(bfs.s(ns2, id2, "rootfs/mv")) == b"moving"
    assert not os.path.lexists(b.s("rootfs/a/mv"))


# ------------------------------------------------------------- links

TARGETS = ["plain", "../../../../../../etc/shadow", "/etc/passwd", "a/b/../c/",
           "with space and \u00e9", "x" * 1000, "/"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_symlink_readlink(b, depth):
    for i, target in enumerate(TARGETS):
        rel = os.path.join(depth, f"l{i}")
        os.symlink(target, b.m(rel))
        st = os.lstat(b.s(rel))
        assert stat.S_ISLNK(st.st_mode), rel
        assert (st.st_uid, st.st_gid) == (0, 0)
        assert os.readlink(b.s(rel)) == target
        assert os.readlink(b.m(rel)) == target
        mst = os.lstat(b.m(rel))
        assert stat.S_ISLNK(mst.st_mode) and mst.st_size == len(target.encode())
    assert errno_of(os.symlink, "again", b.m(depth, "l0")) == errno.EEXIST
    assert os.readlink(b.s(depth, "l0")) == "plain"
    # a link made in the store reads back the same
    os.symlink("store/made", b.s(depth, "sm"))
    assert os.readlink(b.m(depth, "sm")) == "store/made"
    assert errno_of(os.readlink, b.m(depth)) == errno.EINVAL


@pytest.mark.parametrize("src,dst", [("rootfs/f", "rootfs/a/b/c/d/g"), ("init.pid", "rootfs/pid"),
                                     ("rootfs/a/x", "y")])
def test_hard_link(b, src, dst):
    write(b.m(src), b"shared")
    os.link(b.m(src), b.m(dst))
    s1, s2 = os.lstat(b.s(src)), os.lstat(b.s(dst))
    assert s1.st_ino == s2.st_ino
    assert s1.st_nlink == s2.st_nlink == 2
    assert read(b.s(dst)) == b"shared"
    assert os.stat(b.m(src)).st_nlink == 2 and os.stat(b.m(dst)).st_nlink == 2
    assert os.stat(b.m(src)).st_ino == os.stat(b.m(dst)).st_ino
    with open(b.m(dst), "r+b") as f:
        f.write(b"SH")
    assert read(b.m(src)) == b"SHared" == read(b.s(src))
    assert errno_of(os.link, b.m(src), b.m(dst)) == errno.EEXIST
    os.unlink(b.m(src))
    assert os.lstat(b.s(dst)).st_nlink == 1
    assert read(b.m(dst)) == b"SHared"


def test_hard_link_of_symlink(b):
    os.symlink("/etc/passwd", b.m("rootfs/sl"))
    os.link(b.m("rootfs/sl"), b.m("rootfs/a/sl2"), follow_symlinks=False)
    st = os.lstat(b.s("rootfs/a/sl2"))
    assert stat.S_ISLNK(st.st_mode) and st.st_nlink == 2
    assert os.readlink(b.s("rootfs/a/sl2")) == "/etc/passwd"


# ---------------------------------------------------------- attributes

@pytest.mark.parametrize("depth", DEPTHS)
def test_chmod(b, depth):
    f = os.path.join(depth, "cm")
    d = os.path.join(depth, "cmd")
    write(b.m(f), b"")
    os.mkdir(b.m(d))
    for mode in (0o4755, 0o2750, 0o6711, 0o600, 0o000, 0o444, 0o777):
        os.chmod(b.m(f), mode)
        assert stat.S_IMODE(os.lstat(b.s(f)).st_mode) == mode, oct(mode)
        assert stat.S_IMODE(os.stat(b.m(f)).st_mode) == mode
    for mode in (0o1777, 0o2775, 0o700, 0o711):
        os.chmod(b.m(d), mode)
        assert stat.S_IMODE(os.lstat(b.s(d)).st_mode) == mode, oct(mode)
    fd = os.open(b.m(f), os.O_RDONLY)
    try:
        os.fchmod(fd, 0o640)
    finally:
        os.close(fd)
    assert stat.S_IMODE(os.lstat(b.s(f)).st_mode) == 0o640


@pytest.mark.parametrize("depth", DEPTHS)
def test_chown(b, depth):
    f = os.path.join(depth, "co")
    ln = os.path.join(depth, "col")
    write(b.m(f), b"")
    os.symlink("co", b.m(ln))
    os.chown(b.m(f), 1000, 1000)
    st = os.lstat(b.s(f))
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    os.chown(b.m(f), -1, 2000)
    st = os.lstat(b.s(f))
    assert (st.st_uid, st.st_gid) == (1000, 2000)
    os.lchown(b.m(ln), 3000, 3001)
    st = os.lstat(b.s(ln))
    assert (st.st_uid, st.st_gid) == (3000, 3001)
    st = os.lstat(b.s(f))
    assert (st.st_uid, st.st_gid) == (1000, 2000)    # the link's target is untouched
    assert (os.lstat(b.m(ln)).st_uid, os.stat(b.m(f)).st_gid) == (3000, 2000)
    fd = os.open(b.m(f), os.O_RDONLY)
    try:
        os.fchown(fd, 0, 0)
    finally:
        os.close(fd)
    st = os.lstat(b.s(f))
    assert (st.st_uid, st.st_gid) == (0, 0)


@pytest.mark.parametrize("depth", DEPTHS)
def test_utimens(b, depth):
    f = os.path.join(depth, "ut")
    d = os.path.join(depth, "utd")
    ln = os.path.join(depth, "utl")
    write(b.m(f), b"t")
    os.mkdir(b.m(d))
    os.symlink("ut", b.m(ln))
    atime, mtime = 1_500_000_000_123_456_789, 1_600_000_000_987_654_321
    for rel in (f, d):
        os.utime(b.m(rel), ns=(atime, mtime))
        st = os.lstat(b.s(rel))
        assert (st.st_atime_ns, st.st_mtime_ns) == (atime, mtime), rel
        assert os.stat(b.m(rel)).st_mtime_ns == mtime
    os.utime(b.m(ln), ns=(atime + 1, mtime + 1), follow_symlinks=False)
    assert os.lstat(b.s(ln)).st_mtime_ns == mtime + 1
    assert os.lstat(b.s(f)).st_mtime_ns == mtime          # target untouched
    before = time.time_ns()
    os.utime(b.m(f))                                      # UTIME_NOW
    assert os.lstat(b.s(f)).st_mtime_ns >= before - 10_000_000
    fd = os.open(b.m(f), os.O_RDONLY)
    try:
        os.utime(fd, ns=(atime, mtime))
    finally:
        os.close(fd)
    assert os.lstat(b.s(f)).st_mtime_ns == mtime


@pytest.mark.parametrize("depth", DEPTHS)
def test_mkfifo_and_pipe_through_it(b, depth, umask022):
    rel = os.path.join(depth, "fifo")
    os.mkfifo(b.m(rel), 0o640)
    st = os.lstat(b.s(rel))
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert stat.S_ISFIFO(os.lstat(b.m(rel)).st_mode)
    assert errno_of(os.mkfifo, b.m(rel)) == errno.EEXIST
    payload = "through the fifo " * 200
    writer = subprocess.Popen(["timeout", "20", "sh", "-c",
                               f"printf %s {q(payload)} > {q(b.m(rel))}"])
    try:
        reader = subprocess.run(["timeout", "20", "cat", b.m(rel)], capture_output=True)
    finally:
        assert writer.wait(timeout=30) == 0
    assert reader.returncode == 0 and reader.stdout.decode() == payload


def test_fifo_nonblocking_open(b):
    os.mkfifo(b.m("rootfs/nb"))
    r = os.open(b.m("rootfs/nb"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        w = os.open(b.m("rootfs/nb"), os.O_WRONLY | os.O_NONBLOCK)
        os.write(w, b"ping")
        os.close(w)
        assert select.select([r], [], [], 5)[0]
        assert os.read(r, 10) == b"ping"
    finally:
        os.close(r)


def test_statfs(bfs, b):
    for rel in ("", "rootfs", "rootfs/a/b/c/d", "init.pid"):
        if rel == "init.pid":
            write(b.m(rel), b"1")
        ms = os.statvfs(b.m(rel))
        ss = os.statvfs(bfs.state)
        for field in ("f_bsize", "f_frsize", "f_blocks", "f_files", "f_namemax"):
            assert getattr(ms, field) == getattr(ss, field), (rel, field)
        # free counts move with other users of the disk: only bound them
        assert abs(ms.f_bfree - ss.f_bfree) < ss.f_blocks // 100 + 1024


# -------------------------------------------------------------- modes

def test_requested_modes_reach_store_unmasked(b, umask0):
    fd = os.open(b.m("rootfs/m666"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.close(fd)
    os.mkdir(b.m("rootfs/d777"), 0o777)
    os.mkfifo(b.m("rootfs/p666"), 0o666)
    os.mkdir(b.m("rootfs/d1777"), 0o1777)
    for rel, mode in (("rootfs/m666", 0o666), ("rootfs/d777", 0o777), ("rootfs/p666", 0o666),
                      ("rootfs/d1777", 0o1777)):
        assert stat.S_IMODE(os.lstat(b.s(rel)).st_mode) == mode, rel


@pytest.mark.parametrize("mode", [0o4755, 0o2755, 0o6755], ids=oct)
def test_create_with_setid_mode(b, umask0, mode):
    """A local filesystem keeps the set-id bits a root caller asks for at
    creation (open(O_CREAT, 04755) as cp --preserve or an installer does)."""
    fd = os.open(b.m("rootfs/setid"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.close(fd)
    assert stat.S_IMODE(os.lstat(b.s("rootfs/setid")).st_mode) == mode


def test_requested_modes_with_umask_022(b, umask022):
    write(b.m("rootfs/m"), b"", mode=0o666)
    os.mkdir(b.m("rootfs/d"), 0o777)
    for rel, mode in (("rootfs/m", 0o644), ("rootfs/d", 0o755)):
        assert stat.S_IMODE(os.lstat(b.s(rel)).st_mode) == mode, rel


# ------------------------------------------------ a filesystem on rootfs

def test_mount_on_rootfs_served_by_kernel(bfs, b):
    src = pathlib.Path(tempfile.mkdtemp(prefix="bfs-pt-bind-"))
    (src / "from-bind").write_bytes(b"bound")
    r = subprocess.run(["mount", "--bind", str(src), b.m("rootfs")], capture_output=True)
    assert r.returncode == 0, r.stderr
    try:
        assert os.listdir(b.m("rootfs")) == ["from-bind"]
        assert read(b.m("rootfs/from-bind")) == b"bound"
        write(b.m("rootfs/new"), b"n")
        assert (src / "new").read_bytes() == b"n"
        assert not os.path.lexists(b.s("rootfs/new"))
        bfs.expect_log(rf"{b.ns}/{b.id}: .*mounted")
        assert errno_of(os.rmdir, b.m()) == errno.EBUSY
    finally:
        subprocess.run(["umount", b.m("rootfs")], check=True)
        shutil.rmtree(src)
    assert sorted(os.listdir(b.m("rootfs"))) == ["a"]
