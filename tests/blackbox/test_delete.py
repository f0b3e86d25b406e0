# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.7 and 3.2: rmdir of a bundle deletes it as bundle.Delete does, never crossing
a mount point, removing only a real unix socket in <socket_root>/s/."""

import errno
import os
import socket
import stat
import subprocess

import pytest

from bfs_helpers import bundle_and_mount_source, rmdir_busy_while_mounted
from bfstest import errno_of, ident, q


@pytest.fixture
def sockets():
    made = []

    def make(path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        made.append(s)
        return path

    yield make
    for s in made:
        s.close()


def populate(root):
    """Files, nested dirs, a symlink to an outside dir, a FIFO, odd modes."""
    os.makedirs(os.path.join(root, "rootfs", "a", "b", "c"))
    with open(os.path.join(root, "rootfs", "a", "b", "c", "f"), "w") as f:
        f.write("deep")
    with open(os.path.join(root, "init.pid"), "w") as f:
        f.write("123")
    os.mkfifo(os.path.join(root, "fifo"))
    os.makedirs(os.path.join(root, "locked", "inner"))
    with open(os.path.join(root, "locked", "inner", "ro"), "w") as f:
        f.write("r")
    os.chmod(os.path.join(root, "locked", "inner", "ro"), 0)
    os.chmod(os.path.join(root, "locked"), 0)
    os.makedirs(os.path.join(root, ".hidden", "x"))


def test_rmdir_removes_whatever_it_contains(bfs, tmp_path):
    ns, bid = bfs.new_bundle()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    populate(bfs.s(ns, bid))
    populate(bfs.w(ns, bid))
    os.symlink(str(outside), bfs.s(ns, bid, "rootfs", "link"))
    os.symlink(str(outside), bfs.w(ns, bid, "link"))
    with open(bfs.m(ns, bid, "config.json"), "w") as f:
        f.write("{}")
    with open(bfs.m(ns, bid, "runc-options"), "w") as f:
        f.write("{}")
    with open(bfs.m(ns, bid, "address"), "w") as f:
        f.write("unix:///nowhere/sock")
    r = bfs.sh(f"rmdir {q(ns)}/{q(bid)}")
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(bfs.s(ns, bid))
    assert not os.path.lexists(bfs.w(ns, bid))
    assert (outside / "precious").read_text() == "keep me"
    assert bid not in os.listdir(bfs.m(ns))
    # containerd's protocol leaves nothing hidden behind either
    assert os.listdir(bfs.s(ns)) == [] and os.listdir(bfs.w(ns)) == []
    assert errno_of(os.stat, bfs.m(ns, bid)) == errno.ENOENT


def test_rmdir_fresh_bundle(bfs):
    ns, bid = bfs.new_bundle()
    os.rmdir(bfs.m(ns, bid))
    assert not os.path.lexists(bfs.s(ns, bid)) and not os.path.lexists(bfs.w(ns, bid))
    # the same id can be created again
    os.mkdir(bfs.m(ns, bid))
    assert os.path.isdir(bfs.s(ns, bid, "rootfs"))


def test_rmdir_store_made_bundle_without_work_dir(bfs):
    ns = bfs.new_ns()
    os.makedirs(bfs.s(ns, "hand", "rootfs", "x"))
    os.rmdir(bfs.m(ns, "hand"))
    assert not os.path.lexists(bfs.s(ns, "hand"))


def test_rmdir_removes_socket_in_socket_root(bfs, sockets):
    ns, bid = bfs.new_bundle()
    sock = sockets(os.path.join(bfs.socket_root, "s", ident("sock")))
    with open(bfs.m(ns, bid, "address"), "w") as f:
        f.write("unix://" + sock)
    keep = sockets(os.path.join(bfs.socket_root, "s", ident("other")))
    os.rmdir(bfs.m(ns, bid))
    assert not os.path.lexists(sock)
    assert stat.S_ISSOCK(os.lstat(keep).st_mode)
    assert not os.path.lexists(bfs.s(ns, bid))


def test_rmdir_removes_socket_at_computed_name(bfs, sockets):
    """A stored address equal to the computed one (as containerd writes it)."""
    ns, bid = bfs.new_bundle()
    addr = bfs.address(ns, bid)
    sock = sockets(addr[len("unix://"):])
    fd = os.open(bfs.m(ns, bid, ".address"), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_SYNC,
                 0o666)
    os.write(fd, addr.encode())
    os.close(fd)
    os.rename(bfs.m(ns, bid, ".address"), bfs.m(ns, bid, "address"))
    os.rmdir(bfs.m(ns, bid))
    assert not os.path.lexists(sock)


def test_rmdir_without_stored_address_leaves_computed_socket(bfs, sockets):
    """Delete reads the stored address only (loadAddress); none stored: no socket step."""
    ns, bid = bfs.new_bundle()
    sock = sockets(bfs.address(ns, bid)[len("unix://"):])
    os.rmdir(bfs.m(ns, bid))
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)


@pytest.mark.parametrize("kind", ["regular", "directory", "symlink_to_socket", "fifo",
                                  "symlink_dangling"])
def test_rmdir_never_removes_non_socket(bfs, sockets, tmp_path, kind):
    ns, bid = bfs.new_bundle()
    victim = os.path.join(bfs.socket_root, "s", ident("v"))
    elsewhere = sockets(str(tmp_path / "real.sock"))
    if kind == "regular":
        with open(victim, "w") as f:
            f.write("data")
    elif kind == "directory":
        os.mkdir(victim)
    elif kind == "symlink_to_socket":
        os.symlink(elsewhere, victim)
    elif kind == "fifo":
        os.mkfifo(victim)
    else:
        os.symlink(str(tmp_path / "nothing"), victim)
    before = os.lstat(victim)
    with open(bfs.m(ns, bid, "address"), "w") as f:
        f.write("unix://" + victim)
    os.rmdir(bfs.m(ns, bid))
    after = os.lstat(victim)
    assert stat.S_IFMT(after.st_mode) == stat.S_IFMT(before.st_mode)
    assert after.st_ino == before.st_ino
    assert stat.S_ISSOCK(os.lstat(elsewhere).st_mode)
    assert not os.path.lexists(bfs.s(ns, bid))


@pytest.mark.parametrize("where", ["outside", "dotdot", "socket_root_itself",
                                   "not_unix_scheme", "relative"])
def test_rmdir_ignores_address_outside_socket_dir(bfs, sockets, tmp_path, where):
    ns, bid = bfs.new_bundle()
    os.makedirs(os.path.join(bfs.socket_root, "s", "sub"), exist_ok=True)
    if where == "outside":
        sock = sockets(str(tmp_path / "out.sock"))
        addr = "unix://" + sock
    elif where == "dotdot":
        sock = sockets(os.path.join(bfs.socket_root, ident("up")))
        addr = "unix://" + bfs.socket_root + "/s/../" + os.path.basename(sock)
    elif where == "socket_root_itself":
        sock = sockets(os.path.join(bfs.socket_root, ident("r")))
        addr = "unix://" + sock
    elif where == "not_unix_scheme":
        sock = sockets(os.path.join(bfs.socket_root, "s", ident("t")))
        addr = "tcp://" + sock
    else:
        sock = sockets(os.path.join(bfs.socket_root, "s", ident("rel")))
        addr = "unix://" + os.path.relpath(sock, "/")
    with open(bfs.m(ns, bid, "address"), "w") as f:
        f.write(addr)
    os.rmdir(bfs.m(ns, bid))
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert not os.path.lexists(bfs.s(ns, bid))


def test_rmdir_with_stale_hidden_dirs(bfs):
    ns, bid = bfs.new_bundle()
    for root in (bfs.s, bfs.w):
        os.makedirs(root(ns, "." + bid, "rootfs", "old"))
        with open(root(ns, "." + bid, "rootfs", "old", "f"), "w") as f:
            f.write("stale")
    os.rmdir(bfs.m(ns, bid))
    assert not os.path.lexists(bfs.s(ns, bid))
    assert not os.path.lexists(bfs.w(ns, bid))
    assert bid not in os.listdir(bfs.m(ns))


def test_rmdir_with_stale_hidden_file(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.s(ns, "." + bid), "w") as f:
        f.write("a file in the way")
    os.rmdir(bfs.m(ns, bid))
    assert not os.path.lexists(bfs.s(ns, bid))
    assert not os.path.lexists(bfs.w(ns, bid))


def test_rmdir_hidden_depth2_dir(bfs, sockets):
    ns, bid = bfs.new_bundle()
    sock = sockets(os.path.join(bfs.socket_root, "s", ident("h")))
    os.makedirs(bfs.s(ns, ".gone", "rootfs", "deep"))
    with open(bfs.s(ns, ".gone", "address"), "w") as f:
        f.write("unix://" + sock)
    os.makedirs(bfs.w(ns, ".gone", "keep"))
    os.rmdir(bfs.m(ns, ".gone"))
    assert not os.path.lexists(bfs.s(ns, ".gone"))
    # no socket step and no work-dir step for a hidden directory
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert os.path.isdir(bfs.w(ns, ".gone", "keep"))
    assert os.path.isdir(bfs.s(ns, bid, "rootfs"))


def test_containerd_atomic_delete_through_mount(bfs):
    """rename to .<id> then rmdir of the hidden tree (containerd's atomicDelete)."""
    ns, bid = bfs.new_bundle()
    populate(bfs.s(ns, bid))
    os.rename(bfs.m(ns, bid), bfs.m(ns, "." + bid))
    os.rmdir(bfs.m(ns, "." + bid))
    assert not os.path.lexists(bfs.s(ns, "." + bid))
    assert not os.path.lexists(bfs.s(ns, bid))
    assert os.path.isdir(bfs.w(ns, bid))


def test_atomic_delete_rename_over_stale_hidden_dir(bfs):
    """A stale non-empty .<id> from a crashed delete never leaves the bundle stuck:
    containerd's rename(<id>, .<id>) through the mount replaces it."""
    ns, bid = bfs.new_bundle()
    os.makedirs(bfs.s(ns, "." + bid, "stale", "deep"))
    with open(bfs.s(ns, "." + bid, "stale", "deep", "f"), "w") as f:
        f.write("old")
    os.rename(bfs.m(ns, bid), bfs.m(ns, "." + bid))
    assert not os.path.lexists(bfs.s(ns, bid))
    assert sorted(os.listdir(bfs.s(ns, "." + bid))) == ["rootfs"]
    assert not [n for n in os.listdir(bfs.s(ns)) if n.startswith(".bundlefs-")]
    os.rmdir(bfs.m(ns, "." + bid))
    assert not os.path.lexists(bfs.s(ns, "." + bid))


def test_rename_bundle_noreplace_over_hidden_dir_is_eexist(bfs):
    ns, bid = bfs.new_bundle()
    os.makedirs(bfs.s(ns, "." + bid, "stale"))
    libc = __import__("ctypes").CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_NOREPLACE = -100, 1
    rc = libc.renameat2(AT_FDCWD, bfs.m(ns, bid).encode(), AT_FDCWD,
                        bfs.m(ns, "." + bid).encode(), RENAME_NOREPLACE)
    assert rc == -1 and __import__("ctypes").get_errno() == errno.EEXIST
    assert os.path.isdir(bfs.s(ns, bid, "rootfs"))
    assert os.path.isdir(bfs.s(ns, "." + bid, "stale"))


def test_rmdir_never_enotempty(bfs):
    ns, bid = bfs.new_bundle()
    for i in range(50):
        with open(bfs.m(ns, bid, "rootfs", f"f{i}"), "w") as f:
            f.write(str(i))
    assert errno_of(os.rmdir, bfs.m(ns, bid)) is None


# ------------------------------------------------------------- mount points

@pytest.mark.parametrize("where", ["rootfs_sub", "rootfs", "work_sub", "work_dir", "deep"])
def test_rmdir_busy_with_mount_inside(bfs, tmp_path, where):
    ns, bid, src = bundle_and_mount_source(bfs, tmp_path)
    populate(bfs.s(ns, bid))
    target = {
        "rootfs_sub": bfs.s(ns, bid, "rootfs", "sub"),
        "rootfs": bfs.s(ns, bid, "rootfs"),
        "work_sub": bfs.w(ns, bid, "sub"),
        "work_dir": bfs.w(ns, bid),
        "deep": bfs.s(ns, bid, "rootfs", "a", "b", "c", "m"),
    }[where]
    with rmdir_busy_while_mounted(bfs, ns, bid, src, target):
        assert bid in os.listdir(bfs.m(ns))
    os.rmdir(bfs.m(ns, bid))
    assert not os.path.lexists(bfs.s(ns, bid)) and not os.path.lexists(bfs.w(ns, bid))
    assert (src / "container-file").read_text() == "must survive"


def test_rmdir_hidden_dir_busy_with_mount(bfs, tmp_path):
    ns = bfs.new_ns()
    bfs.expect_log(rf"^bundlefs: {ns}/\.h: not deleted: ")
    os.makedirs(bfs.s(ns, ".h", "rootfs"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    subprocess.run(["mount", "--bind", str(src), bfs.s(ns, ".h", "rootfs")], check=True)
    try:
        assert errno_of(os.rmdir, bfs.m(ns, ".h")) == errno.EBUSY
        assert (src / "f").read_text() == "x"
        assert os.path.isdir(bfs.s(ns, ".h", "rootfs"))
    finally:
        subprocess.run(["umount", bfs.s(ns, ".h", "rootfs")], check=True)
    os.rmdir(bfs.m(ns, ".h"))
    assert not os.path.lexists(bfs.s(ns, ".h"))
