# SPDX-License-Identifier: Apache-2.0
"""What containerd, runc and ordinary tools do inside a bundle (SPEC 4.6, 4.3):
the atomic-write protocols, log.json appends, sed -i, a rootfs unpacked with
tar, and symlinks that point outside the mount."""

import errno
import json
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from bfstest import errno_of
from bfstest import read_bytes as read
from pt_helpers import tree_walk, write

SYNC_EXCL = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_SYNC


def _atomic_write(tmp, final, data):
    """containerd's v1 writeFile / runc's createPidFile: temporary name,
    O_EXCL|O_SYNC 0666, write, close, rename over the final name."""
    fd = os.open(tmp, SYNC_EXCL | os.O_CLOEXEC, 0o666)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)
    os.rename(tmp, final)


@pytest.fixture
def bundle(bfs):
    return bfs.new_bundle()


@pytest.mark.parametrize("name", ["address", "init.pid", "shim.pid"])
def test_atomic_write_protocol(bfs, bundle, name, umask022):
    ns, bid = bundle
    m = lambda *p: bfs.m(ns, bid, *p)   # noqa: E731
    s = lambda *p: bfs.s(ns, bid, *p)   # noqa: E731
    values = [b"unix:///run/containerd/s/" + b"ab" * 32, b"12345", b"678\n"] \
        if name == "address" else [b"4242", b"99999", b"7\n"]
    for data in values:
        _atomic_write(m("." + name), m(name), data)
        assert read(s(name)) == data             # verbatim, no newline added or removed
        st = os.lstat(s(name))
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
        assert not os.path.lexists(s("." + name))
        assert read(m(name)) == data
        assert os.stat(m(name)).st_size == len(data)
        assert errno_of(os.lstat, m("." + name)) == errno.ENOENT
    # a leftover temporary name makes the next O_EXCL fail, as on a local disk
    write(s("." + name), b"stale")
    assert errno_of(os.open, m("." + name), SYNC_EXCL, 0o666) == errno.EEXIST
    assert read(s("." + name)) == b"stale"


def _log_writer(path, tag, n):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_SYNC | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        for i in range(n):
            line = json.dumps({"level": "info", "msg": f"{tag} line {i}", "pad": "x" * (i % 97)})
            os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


def test_log_json_two_writers(bfs, bundle, umask022):
    ns, bid = bundle
    path = bfs.m(ns, bid, "log.json")
    n = 200
    pids = []
    for tag in ("runc", "shim"):
        pid = os.fork()
        if pid == 0:
            try:
                _log_writer(path, tag, n)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    text = read(bfs.s(ns, bid, "log.json"))
    lines = text.decode().splitlines()
    assert text.endswith(b"\n") and len(lines) == 2 * n
    msgs = [json.loads(ln)["msg"] for ln in lines]
    for tag in ("runc", "shim"):
        assert [x for x in msgs if x.startswith(tag)] == [f"{tag} line {i}" for i in range(n)]
    assert stat.S_IMODE(os.lstat(bfs.s(ns, bid, "log.json")).st_mode) == 0o644


def test_sed_in_place(bfs, bundle):
    ns, bid = bundle
    os.makedirs(bfs.m(ns, bid, "rootfs/etc"))
    hosts = bfs.m(ns, bid, "rootfs/etc/hosts")
    write(hosts, b"127.0.0.1 localhost\n10.0.0.1 old-name\n")
    os.chmod(hosts, 0o640)
    os.chown(hosts, 1000, 1000)
    r = subprocess.run(["sed", "-i", "s/old-name/new-name/", hosts], capture_output=True)
    assert r.returncode == 0, r.stderr
    sp = bfs.s(ns, bid, "rootfs/etc/hosts")
    assert read(sp) == b"127.0.0.1 localhost\n10.0.0.1 new-name\n"
    st = os.lstat(sp)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1000, 1000)
    assert os.listdir(bfs.s(ns, bid, "rootfs/etc")) == ["hosts"]    # no temporary left
    assert read(hosts) == read(sp)


# ----------------------------------------------------------------- tar

def _build_rootfs(src, outside):
    """A small rootfs with every kind of entry a container image has."""
    def f(rel, data=b"", mode=0o644, owner=None):
        p = os.path.join(src, rel)
        with open(p, "wb") as fh:
            fh.write(data)
        os.chmod(p, mode)
        if owner:
            os.chown(p, *owner)

    for d, mode in (("bin", 0o755), ("etc", 0o755), ("home", 0o755), ("home/user", 0o700),
                    ("tmp", 0o1777), ("var", 0o755), ("var/lib", 0o2775), ("empty", 0o555)):
        os.mkdir(os.path.join(src, d))
    f("bin/busybox", b"\x7fELF" + bytes(range(256)) * 40, 0o755)
    f("bin/su", b"setuid program", 0o4755)
    f("bin/wall", b"setgid program", 0o2755)
    f("etc/passwd", b"root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    f("etc/shadow", b"root:*:1::::::\n", 0o600)
    f("etc/readonly", b"ro", 0o444)
    f("home/user/.profile", b"export A=1\n", 0o600, (1000, 1000))
    f("home/user/empty-file", b"", 0o640, (1000, 1000))
    f("var/lib/big", os.urandom(300 * 1024), 0o644)
    os.chown(os.path.join(src, "home/user"), 1000, 1000)
    os.chown(os.path.join(src, "var/lib"), 0, 1000)
    os.link(os.path.join(src, "bin/busybox"), os.path.join(src, "bin/sh"))
    os.link(os.path.join(src, "bin/busybox"), os.path.join(src, "bin/ls"))
    os.symlink("busybox", os.path.join(src, "bin/cat"))
    os.symlink("../bin/busybox", os.path.join(src, "etc/init"))
    os.symlink(os.path.join(outside, "passwd"), os.path.join(src, "etc/host-passwd"))
    os.symlink(outside, os.path.join(src, "var/outside-dir"))
    os.symlink("/does/not/exist", os.path.join(src, "var/dangling"))
    os.symlink(".profile", os.path.join(src, "home/user/link"))
    os.lchown(os.path.join(src, "home/user/link"), 1000, 1000)
    os.mkfifo(os.path.join(src, "var/fifo"), 0o620)
    os.mkfifo(os.path.join(src, "home/user/ufifo"), 0o600)
    os.chown(os.path.join(src, "home/user/ufifo"), 1000, 1000)
    for dirpath, dirnames, filenames in os.walk(src):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), (1_000_000_000, 1_234_567_890),
                     follow_symlinks=False)


def _diff_ok(a, b):
    r = subprocess.run(["diff", "-r", "--no-dereference", a, b], capture_output=True, timeout=60)
    if r.returncode == 0:
        return True, ""
    # GNU diff has no way to compare FIFOs and reports each pair; anything else is a difference.
    bad = [ln for ln in r.stdout.decode().splitlines()
           if not (ln.startswith("File ") and ln.endswith(" is a fifo")
                   and " is a fifo while file " in ln)]
    return r.returncode == 1 and not bad and not r.stderr, r.stdout.decode() + r.stderr.decode()


def test_tar_rootfs_roundtrip(bfs, bundle):
    ns, bid = bundle
    tmp = tempfile.mkdtemp(prefix="bfs-pt-tar-")
    try:
        src = os.path.join(tmp, "src")
        outside = os.path.join(tmp, "outside")
        os.mkdir(src)
        os.mkdir(outside)
        write(os.path.join(outside, "passwd"), b"the host's file\n")
        os.chmod(os.path.join(outside, "passwd"), 0o644)
        outside_before = os.lstat(os.path.join(outside, "passwd"))
        _build_rootfs(src, outside)
        archive = os.path.join(tmp, "rootfs.tar")
        r = subprocess.run(["tar", "-C", src, "-cpf", archive, "--numeric-owner", "."],
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        dest = bfs.m(ns, bid, "rootfs")
        r = subprocess.run(["tar", "-C", dest, "-xpf", archive, "--same-owner",
                            "--numeric-owner"], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr

        want, want_links = tree_walk(src)
        for root in (dest, bfs.s(ns, bid, "rootfs")):
            ok, out = _diff_ok(src, root)
            assert ok, f"{root}:\n{out}"
            got, got_links = tree_walk(root)
            diffs = {k: (want.get(k), got.get(k)) for k in set(want) | set(got)
                     if want.get(k) != got.get(k)}
            assert not diffs, f"{root}: {diffs}"
            assert got_links == want_links == [["bin/busybox", "bin/ls", "bin/sh"]]
        # the daemon never went through the absolute links
        st = os.lstat(os.path.join(outside, "passwd"))
        assert read(os.path.join(outside, "passwd")) == b"the host's file\n"
        assert (st.st_mtime_ns, st.st_mode, st.st_uid, st.st_ino) == \
            (outside_before.st_mtime_ns, outside_before.st_mode, outside_before.st_uid,
             outside_before.st_ino)
        assert os.listdir(outside) == ["passwd"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------- links pointing outside

def test_symlinks_outside_never_followed(bfs, bundle):
    ns, bid = bundle
    m = lambda *p: bfs.m(ns, bid, *p)   # noqa: E731
    s = lambda *p: bfs.s(ns, bid, *p)   # noqa: E731
    outside = tempfile.mkdtemp(prefix="bfs-pt-outside-")
    try:
        target = os.path.join(outside, "passwd")
        write(target, b"root:x:0:0\n")
        os.chmod(target, 0o644)
        os.mkdir(os.path.join(outside, "dir"))
        write(os.path.join(outside, "dir", "keep"), b"keep")

        def outside_state():
            out = {}
            for dp, dn, fn in os.walk(outside):
                for n in [""] + dn + fn if dp == outside else dn + fn:
                    p = os.path.join(dp, n)
                    st = os.lstat(p)
                    out[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino,
                              read(p) if stat.S_ISREG(st.st_mode) else None)
            return out

        before = outside_state()
        os.makedirs(m("rootfs/etc"))
        os.symlink(target, m("rootfs/etc/passwd"))              # made through the mount
        os.symlink(os.path.join(outside, "dir"), s("rootfs/lib"))  # made in the store
        os.symlink(target, m("init.pid"))                       # directly in the bundle

        for rel in ("rootfs/etc/passwd", "rootfs/lib", "init.pid"):
            assert stat.S_ISLNK(os.lstat(m(rel)).st_mode), rel
            assert stat.S_ISLNK(os.lstat(s(rel)).st_mode), rel
        assert os.readlink(m("rootfs/etc/passwd")) == target
        assert os.readlink(m("rootfs/lib")) == os.path.join(outside, "dir")
        assert "passwd" in os.listdir(m("rootfs/etc")) and "lib" in os.listdir(m("rootfs"))

        # changes made through other names, and on the links themselves
        write(m("rootfs/etc/passwd-"), b"other name\n")
        os.rename(m("rootfs/etc/passwd-"), m("rootfs/etc/shadow"))
        assert errno_of(os.open, m("rootfs/etc/passwd"), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                        0o600) == errno.EEXIST
        assert errno_of(os.mkdir, m("rootfs/etc/passwd")) == errno.EEXIST
        assert errno_of(os.mkfifo, m("rootfs/lib")) == errno.EEXIST
        os.lchown(m("rootfs/etc/passwd"), 1000, 1000)
        os.utime(m("rootfs/etc/passwd"), ns=(1, 2), follow_symlinks=False)
        os.link(m("rootfs/etc/passwd"), m("rootfs/etc/passwd.hard"), follow_symlinks=False)
        os.rename(m("rootfs/etc/shadow"), m("rootfs/etc/passwd"))     # replaces the link
        assert read(s("rootfs/etc/passwd")) == b"other name\n"
        assert stat.S_ISLNK(os.lstat(s("rootfs/etc/passwd.hard")).st_mode)
        os.unlink(m("rootfs/lib"))
        assert not os.path.lexists(s("rootfs/lib"))
        os.symlink(os.path.join(outside, "dir"), m("rootfs/lib2"))
        subprocess.run(["rm", "-rf", m("rootfs")], check=False)
        assert not os.path.lexists(s("rootfs/lib2"))
        os.unlink(m("init.pid"))
        assert outside_state() == before
    finally:
        shutil.rmtree(outside, ignore_errors=True)
