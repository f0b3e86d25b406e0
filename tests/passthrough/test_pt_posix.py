# SPDX-License-Identifier: Apache-2.0
"""Passthrough measured against the backing filesystem (SPEC 4.6, 4.8): each
experiment runs once in a directory under a bundle's rootfs through the mount
and once in a plain directory of the backing store, and the caller must get
the same results, errnos and stat fields, and the store the same entries.

Open files outliving their names, hard links as one file, mknod of every
type, fallocate, SEEK_DATA/SEEK_HOLE and renameat2."""

import hashlib
import os
import socket
import stat
import subprocess

import pytest

from bfstest import read_bytes as read
from pt_helpers import (FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_KEEP_SIZE,
                        FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, RENAME_EXCHANGE,
                        RENAME_NOREPLACE, fallocate, outcome, renameat2, stat_view, write)

BLOCK = 4096
DATA = bytes(range(256)) * 64          # 16 KiB


def fd_ops(fd):
    """What a caller gets from a descriptor whose name is gone or elsewhere."""
    got = {}
    got["pread"] = outcome(os.pread, fd, 11, 0)
    got["pwrite"] = outcome(os.pwrite, fd, b"XY", 3)
    got["pread2"] = outcome(os.pread, fd, 100, 0)
    got["fstat"] = outcome(lambda: stat_view(os.fstat(fd)))
    got["ftruncate"] = outcome(os.ftruncate, fd, 4)
    got["size"] = os.fstat(fd).st_size
    got["fsync"] = outcome(os.fsync, fd)
    got["fdatasync"] = outcome(os.fdatasync, fd)
    got["fchmod"] = outcome(os.fchmod, fd, 0o604)
    got["fchown"] = outcome(os.fchown, fd, 1234, 5678)
    got["write"] = outcome(os.write, fd, b"tail")
    got["fstat2"] = outcome(lambda: stat_view(os.fstat(fd)))
    got["pread3"] = outcome(os.pread, fd, 100, 0)
    return got


# ------------------------------------------------- open files outlive names

def test_unlinked_open_file(twin):
    def exp(root):
        path = os.path.join(root, "gone")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, b"hello world")
            os.unlink(path)
            got = fd_ops(fd)
            got["name"] = outcome(os.lstat, path)
            got["nlink"] = os.fstat(fd).st_nlink
        finally:
            os.close(fd)
        got["listing"] = sorted(os.listdir(root))
        return got

    got = twin.assert_same(exp)
    # "XY" at 3, cut to 4, then "tail" at the descriptor's offset, 11.
    assert got["nlink"] == 0 and got["pread3"] == ("ok", b"helX" + b"\0" * 7 + b"tail")
    twin.assert_daemon_alive()


@pytest.mark.parametrize("over", [False, True], ids=["rename", "rename-over"])
def test_renamed_open_file(twin, over):
    """A descriptor follows its file through a rename of its name, and outlives
    it when another file is renamed over that name."""
    def exp(root):
        a, b, c = (os.path.join(root, n) for n in ("a", "b", "c"))
        fd = os.open(a, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, b"hello world")
            os.rename(a, b)
            if over:
                write(c, b"other")
                os.rename(c, b)
            got = fd_ops(fd)
            got["a"] = outcome(os.lstat, a)
            got["b"] = outcome(lambda: (stat_view(os.lstat(b)), read(b)))
        finally:
            os.close(fd)
        got["listing"] = sorted(os.listdir(root))
        return got

    twin.assert_same(exp)
    twin.assert_daemon_alive()


def test_open_file_unlinked_beside_the_mount(twin):
    """The name goes in the store, not through the mount: the descriptor
    opened through the mount still reaches the same file."""
    path_m = os.path.join(twin.m, "side")
    write(path_m, b"hello world")
    fd = os.open(path_m, os.O_RDWR)
    try:
        os.unlink(os.path.join(twin.s, "side"))
        got = fd_ops(fd)
    finally:
        os.close(fd)
    # "XY" at 3, cut to 4, then "tail" at the descriptor's offset, 0.
    assert got["pread3"] == ("ok", b"tail"), got
    assert got["fstat2"][0] == "ok" and got["fstat2"][1][2] == 0, got
    twin.assert_daemon_alive()


def test_rmdir_of_open_directory(twin):
    def exp(root):
        d = os.path.join(root, "dir")
        os.mkdir(d, 0o755)
        write(os.path.join(d, "f"), b"x")
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            before = sorted(os.listdir(fd))
            os.unlink(os.path.join(d, "f"))
            os.rmdir(d)
            got = {"before": before,
                   "fstat": outcome(lambda: stat_view(os.fstat(fd))[:3]),
                   "listdir": outcome(lambda: sorted(os.listdir(fd))),
                   "create": outcome(os.open, "new", os.O_WRONLY | os.O_CREAT, 0o644,
                                     dir_fd=fd),
                   "fchmod": outcome(os.fchmod, fd, 0o700)}
        finally:
            os.close(fd)
        got["name"] = outcome(os.lstat, d)
        return got

    got = twin.assert_same(exp)
    assert got["before"] == ["f"] and got["listdir"] == ("ok", [])
    twin.assert_daemon_alive()


# ----------------------------------------------------- hard links, one file

def test_hard_links_are_one_file(twin):
    """Every change through one name shows through the other at once: both
    names are looked up (so cached by the kernel) before each change."""
    def views(a, b):
        return stat_view(os.stat(a), times=True), stat_view(os.stat(b), times=True)

    def exp(root):
        a, b = os.path.join(root, "a"), os.path.join(root, "b")
        write(a, b"0123456789", mode=0o644)
        os.stat(a)
        os.link(a, b)
        seen = {"link": os.stat(a).st_nlink}
        os.utime(a, ns=(1_000_000_000, 2_000_000_000))
        seen["utime a"] = views(a, b)
        os.chmod(a, 0o600)
        seen["chmod a"] = views(a, b)
        os.chown(b, 4321, 8765)
        seen["chown b"] = views(a, b)
        with open(a, "r+b") as f:
            f.seek(2)
            f.write(b"ab")
        os.utime(a, ns=(3_000_000_000, 4_000_000_000))
        seen["write a"] = (views(a, b), read(b))
        os.truncate(b, 5)
        os.utime(b, ns=(5_000_000_000, 6_000_000_000))
        seen["truncate b"] = (views(a, b), read(a))
        with open(b, "ab") as f:
            f.write(b"++")
        os.utime(b, ns=(7_000_000_000, 8_000_000_000))
        seen["append b"] = (views(a, b), read(a))
        seen["ino"] = os.stat(a).st_ino == os.stat(b).st_ino
        seen["samefile"] = os.path.samefile(a, b)
        os.unlink(a)
        seen["unlink a"] = (stat_view(os.stat(b)), outcome(os.stat, a))
        return seen

    seen = twin.assert_same(exp)
    assert seen["link"] == 2 and seen["ino"] and seen["samefile"]
    assert seen["unlink a"][0][2] == 1


def test_hard_link_nlink_through_open_descriptor(twin):
    def exp(root):
        a, b = os.path.join(root, "a"), os.path.join(root, "b")
        write(a, b"data")
        fd = os.open(a, os.O_RDONLY)
        try:
            n0 = os.fstat(fd).st_nlink
            os.link(a, b)
            n1 = os.fstat(fd).st_nlink
            os.chmod(b, 0o640)
            mode = stat.S_IMODE(os.fstat(fd).st_mode)
            os.unlink(b)
            n2 = os.fstat(fd).st_nlink
        finally:
            os.close(fd)
        return n0, n1, mode, n2

    assert twin.assert_same(exp) == (1, 2, 0o640, 1)


# ------------------------------------------------------------------ mknod

def _node_view(path):
    st = os.lstat(path)
    return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_rdev


@pytest.mark.parametrize("kind,rdev", [
    (stat.S_IFIFO, None), (stat.S_IFCHR, (1, 3)), (stat.S_IFCHR, (4, 64)),
    (stat.S_IFBLK, (7, 0)), (stat.S_IFBLK, (8, 17)), (stat.S_IFREG, None)],
    ids=["fifo", "chr-1-3", "chr-4-64", "blk-7-0", "blk-8-17", "reg"])
def test_mknod(twin, umask0, kind, rdev):
    dev = os.makedev(*rdev) if rdev else 0

    def exp(root):
        path = os.path.join(root, "node")
        made = outcome(os.mknod, path, kind | 0o640, dev)
        again = outcome(os.mknod, path, kind | 0o640, dev)
        return made, again, outcome(_node_view, path)

    got = twin.assert_same(exp)
    assert got[0] == ("ok", None) and got[1] == ("err", "EEXIST")
    assert _node_view(os.path.join(twin.s, "node")) == (kind, 0o640, dev)


def test_unix_socket_bind_and_connect(twin):
    def exp(root):
        path = os.path.join(root, "sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            srv.bind(path)
            srv.listen(1)
            cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                cli.connect(path)
                conn, _ = srv.accept()
                cli.sendall(b"ping")
                got = conn.recv(4)
                conn.close()
            finally:
                cli.close()
        finally:
            srv.close()
        st = os.lstat(path)
        return got, stat.S_IFMT(st.st_mode), outcome(socket.socket(socket.AF_UNIX).bind, path)

    got = twin.assert_same(exp)
    assert got[:2] == (b"ping", stat.S_IFSOCK)
    assert stat.S_ISSOCK(os.lstat(os.path.join(twin.s, "sock")).st_mode)


# -------------------------------------------------------------- fallocate

def _file_view(fd):
    st = os.fstat(fd)
    return st.st_size, st.st_blocks, hashlib.sha256(os.pread(fd, st.st_size + 1, 0)).hexdigest()


FALLOCATE = {
    "default": (0, 4 * BLOCK, 8 * BLOCK),
    "default-past-eof": (0, 6 * BLOCK, 4 * BLOCK),
    "keep-size": (FALLOC_FL_KEEP_SIZE, 2 * BLOCK, 16 * BLOCK),
    "punch-hole": (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, BLOCK, 2 * BLOCK),
    "punch-hole-unaligned": (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 5000),
    "punch-without-keep-size": (FALLOC_FL_PUNCH_HOLE, BLOCK, BLOCK),
    "zero-range": (FALLOC_FL_ZERO_RANGE, BLOCK, 3 * BLOCK),
    "zero-range-keep-size": (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 2 * BLOCK, 8 * BLOCK),
    "bad-mode": (0x4000, 0, BLOCK),
    "negative-length": (0, 0, -1),
}


def _on_data_file(root, fn):
    """fn(fd) on root/fa, made afresh holding DATA (synced); the file closed after."""
    fd = os.open(os.path.join(root, "fa"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, DATA)
        os.fsync(fd)
        return fn(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("case", sorted(FALLOCATE))
def test_fallocate(twin, case):
    mode, off, length = FALLOCATE[case]

    def exp(root):
        return _on_data_file(
            root, lambda fd: (outcome(fallocate, fd, mode, off, length), _file_view(fd)))

    got = twin.assert_same(exp)
    if case in ("default", "keep-size", "punch-hole", "zero-range"):
        assert got[0] == ("ok", 0), got       # the backing ext4 supports them


# The kernel's FUSE client accepts only KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE
# (fs/fuse/file.c, fuse_file_fallocate) and refuses the other modes with
# EOPNOTSUPP before any FUSE daemon sees the request.
KERNEL_REFUSED = {
    "collapse-range": (FALLOC_FL_COLLAPSE_RANGE, BLOCK, BLOCK),
    "insert-range": (FALLOC_FL_INSERT_RANGE, BLOCK, 2 * BLOCK),
}


@pytest.mark.parametrize("case", sorted(KERNEL_REFUSED))
def test_fallocate_modes_fuse_cannot_carry(twin, case):
    """The backing store does them; through any FUSE mount the kernel answers
    EOPNOTSUPP and the file is left exactly as it was."""
    mode, off, length = KERNEL_REFUSED[case]

    def exp(root):
        # The tuple is built left to right: the view before, the call, the view after.
        return _on_data_file(
            root,
            lambda fd: (_file_view(fd), outcome(fallocate, fd, mode, off, length), _file_view(fd)))

    got = twin.run(exp)
    assert got["store"][1] == ("ok", 0), got
    assert got["mount"][1] == ("err", "ENOTSUP"), got
    assert got["mount"][0] == got["mount"][2] == got["store"][0], got


def test_posix_fallocate(twin):
    def exp(root):
        fd = os.open(os.path.join(root, "pf"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"abc")
            got = [outcome(os.posix_fallocate, fd, 0, 10 * BLOCK), _file_view(fd),
                   outcome(os.posix_fallocate, fd, 2 * BLOCK, BLOCK), _file_view(fd)]
            return got
        finally:
            os.close(fd)

    got = twin.assert_same(exp)
    assert got[0] == ("ok", None) and got[1][0] == 10 * BLOCK


# ------------------------------------------------- SEEK_DATA and SEEK_HOLE

def test_seek_data_hole(twin):
    mib = 1 << 20

    def exp(root):
        fd = os.open(os.path.join(root, "sparse"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, b"a" * BLOCK, 0)
            os.pwrite(fd, b"b" * BLOCK, mib)
            os.pwrite(fd, b"c" * 100, 3 * mib)
            os.ftruncate(fd, 4 * mib)
            os.fsync(fd)
            size = os.fstat(fd).st_size
            got = {}
            for off in (0, 100, BLOCK, BLOCK + 1, mib - 1, mib, mib + BLOCK, 2 * mib,
                        3 * mib + 50, size - 1, size, size + 1, 10 * mib):
                for whence in (os.SEEK_DATA, os.SEEK_HOLE):
                    got[(off, whence)] = outcome(os.lseek, fd, off, whence)
            return got
        finally:
            os.close(fd)

    got = twin.assert_same(exp)
    assert got[(mib - 1, os.SEEK_DATA)] == ("ok", 1 << 20)
    assert got[(4 << 20, os.SEEK_DATA)] == ("err", "ENXIO")
    assert got[(4 << 20, os.SEEK_HOLE)] == ("err", "ENXIO")


# ---------------------------------------------------------------- renameat2

def _populate(root):
    for n in ("f1", "f2"):
        write(os.path.join(root, n), n.encode())
    for d in ("d1", "d2"):
        os.mkdir(os.path.join(root, d))
        write(os.path.join(root, d, "in-" + d), d.encode())
    os.mkdir(os.path.join(root, "d1", "sub"))
    os.symlink("f1", os.path.join(root, "l1"))


RENAMES = [
    ("f1", "f2", RENAME_NOREPLACE), ("f1", "new", RENAME_NOREPLACE),
    ("d1", "d2", RENAME_NOREPLACE), ("d1", "dnew", RENAME_NOREPLACE),
    ("f1", "f2", RENAME_EXCHANGE), ("d1", "d2", RENAME_EXCHANGE),
    ("f1", "d2", RENAME_EXCHANGE), ("l1", "f2", RENAME_EXCHANGE),
    ("f1", "absent", RENAME_EXCHANGE), ("absent", "f1", RENAME_NOREPLACE),
    ("d1", "d1/sub/x", RENAME_NOREPLACE), ("d1", "d1/sub", RENAME_EXCHANGE),
    ("f1", "d1/in-d1", RENAME_EXCHANGE), ("f1", "f2", RENAME_NOREPLACE | RENAME_EXCHANGE),
    ("f1", "f1", RENAME_NOREPLACE), ("f1", "f1", RENAME_EXCHANGE),
]


@pytest.mark.parametrize("src,dst,flags", RENAMES,
                         ids=[f"{s}-{d}-{f}" for s, d, f in RENAMES])
def test_renameat2(twin, src, dst, flags):
    def exp(root):
        _populate(root)
        got = outcome(renameat2, os.path.join(root, src), os.path.join(root, dst), flags)
        # Every name looked up again, as a caller would after the rename.
        names = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for n in dirnames + filenames:
                p = os.path.join(dirpath, n)
                names[os.path.relpath(p, root)] = stat_view(os.lstat(p))
        return got, names, read(os.path.join(root, "f2")) if os.path.isfile(
            os.path.join(root, "f2")) else None

    twin.assert_same(exp)


def test_directory_reborn_under_a_removed_ones_inode_number(twin):
    """A directory removed while a process still has it as its working
    directory (the kernel keeps that dead inode), then a new directory that
    the filesystem gives the same inode number: the new one is a directory
    like any other (creating in it works), not the dead one."""
    def exp(root):
        got = []
        for i in range(5):
            d, e = os.path.join(root, "d%d" % i), os.path.join(root, "e%d" % i)
            os.mkdir(d)
            proc = subprocess.Popen(["sleep", "60"], cwd=d)
            try:
                os.rmdir(d)
                os.mkdir(e)
                got.append(outcome(os.mkdir, os.path.join(e, "x")))
                got.append(outcome(lambda: sorted(os.listdir(e))))
            finally:
                proc.kill()
                proc.wait()
        return got

    got = twin.assert_same(exp)
    assert all(r[0] == "ok" for r in got), got
