# SPDX-License-Identifier: Apache-2.0
"""The backing filesystem's own behaviour shows through the mount (SPEC 4.6):
a write that a full filesystem takes only in part is short for the caller
too, and O_DIRECT is the backing filesystem's: honoured where it has it,
with its alignment rules, refused with its EINVAL where it has not. Each
experiment runs through the mount and on the backing filesystem directly
(the store's own, or one mounted in the store for it), and the caller must
get the same results."""

import fcntl
import hashlib
import mmap
import os
import subprocess

import pytest

from bfstest import read_bytes as read
from pt_helpers import Twin, TwinOn, cached_pages, daemon_fd_flags, outcome, write

CHUNK = 64 * 1024
PAGE = mmap.PAGESIZE


def test_short_write_on_a_full_filesystem(bfs):
    """A write larger than the room left: as many bytes as the filesystem
    took, not the size asked for; the next write fails with ENOSPC."""
    data = bytes(range(256)) * (3 * CHUNK // 256)

    def exp(root):
        path = os.path.join(root, "big")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            got = {"write": outcome(os.write, fd, data)}
            got["fstat"] = os.fstat(fd).st_size
            got["again"] = outcome(os.write, fd, b"more")
        finally:
            os.close(fd)
        got["stat"] = os.stat(path).st_size
        got["content"] = hashlib.sha256(read(path)).hexdigest()
        os.unlink(path)
        return got

    with TwinOn(bfs, "tmpfs", "size=%d" % CHUNK) as t:
        got = t.run(exp)
    assert got["mount"] == got["store"], got
    assert got["store"]["write"][0] == "ok" and 0 < got["store"]["write"][1] < len(data), got


# ---------------------------------------------------------------- O_DIRECT

def _opens(path, flags, mode=0o644):
    """What open(2) gives, the descriptor closed again: ("ok",) or ("err", name)."""
    got = outcome(os.open, path, flags, mode)
    if got[0] != "ok":
        return got
    os.close(got[1])
    return ("ok",)


def _aligned(size, fill):
    """A page-aligned buffer of size bytes (an anonymous mapping) holding fill."""
    buf = mmap.mmap(-1, size)
    buf.write(fill * (size // len(fill)))
    return buf


def _direct_io(root):
    """open, write and read with O_DIRECT: aligned and misaligned sizes and
    offsets from page-aligned buffers. What each call gives."""
    path = os.path.join(root, "f")
    got = {"create": outcome(os.open, path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT,
                             0o644)}
    if got["create"][0] != "ok":
        return got
    fd = got["create"][1]
    got["create"] = ("ok",)
    src = memoryview(_aligned(4 * PAGE, b"0123456789abcdef"))
    dst = memoryview(_aligned(4 * PAGE, b"\0"))
    try:
        got["write page"] = outcome(os.pwritev, fd, [src[:PAGE]], 0)
        got["write 2 pages"] = outcome(os.pwritev, fd, [src[:2 * PAGE]], PAGE)
        got["write 512"] = outcome(os.pwritev, fd, [src[:512]], 3 * PAGE)
        got["write odd size"] = outcome(os.pwritev, fd, [src[:100]], 4 * PAGE)
        got["write odd offset"] = outcome(os.pwritev, fd, [src[:PAGE]], 100)
        got["size"] = os.fstat(fd).st_size
        got["read page"] = outcome(os.preadv, fd, [dst[:PAGE]], 0)
        got["read 512"] = outcome(os.preadv, fd, [dst[:512]], 512)
        got["read odd size"] = outcome(os.preadv, fd, [dst[:100]], 0)
        got["read odd offset"] = outcome(os.preadv, fd, [dst[:PAGE]], 100)
        got["read to end"] = outcome(os.preadv, fd, [dst[:4 * PAGE]], 0)
        got["data"] = hashlib.sha256(dst[:4 * PAGE]).hexdigest()
        got["read past end"] = outcome(os.preadv, fd, [dst[:PAGE]], 1 << 20)
    finally:
        os.close(fd)
    got["stored"] = hashlib.sha256(read(path)).hexdigest()
    return got


def test_o_direct_on_the_store(bfs):
    """On the store's own filesystem (ext4 here): the same results and errnos
    through the mount as on the store; the backing file is held with
    O_DIRECT."""
    t = Twin(bfs)
    got = t.run(_direct_io)
    assert got["mount"] == got["store"], got
    assert got["store"]["create"] == ("ok",)
    path = os.path.join(t.m, "held")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o644)
    try:
        flags = daemon_fd_flags(bfs.proc.pid, os.path.join(t.s, "held"))
        assert flags and all(fl & os.O_DIRECT for fl in flags), flags
    finally:
        os.close(fd)


def test_o_direct_memory_alignment_is_the_kernels(bfs):
    """The one difference: the kernel copies a caller's data into its request,
    so the alignment of the caller's memory does not reach the store; sizes
    and offsets do. A misaligned buffer with an aligned size and offset is
    served."""
    t = Twin(bfs)
    path = os.path.join(t.m, "mem")
    src = memoryview(_aligned(2 * PAGE, b"m"))
    dst = memoryview(_aligned(2 * PAGE, b"\0"))
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT, 0o644)
    try:
        assert os.pwritev(fd, [src[1:PAGE + 1]], 0) == PAGE
        assert os.preadv(fd, [dst[1:PAGE + 1]], 0) == PAGE
        assert bytes(dst[1:PAGE + 1]) == b"m" * PAGE
    finally:
        os.close(fd)
    assert read(os.path.join(t.s, "mem")) == b"m" * PAGE


def test_o_direct_on_tmpfs(bfs):
    """tmpfs has O_DIRECT (since Linux 6.6) without alignment rules: the same
    results through the mount."""
    with TwinOn(bfs, "tmpfs") as t:
        got = t.run(_direct_io)
    assert got["mount"] == got["store"], got


def test_o_direct_refused(bfs):
    """A filesystem without O_DIRECT (ramfs): an open with it fails with
    EINVAL, as on that filesystem, and changes nothing (an existing file is
    not truncated; a file the create made is removed again, where the store
    itself leaves it empty)."""
    def exp(root):
        path = os.path.join(root, "new")
        got = {"create": _opens(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_DIRECT)}
        got["created"] = os.path.exists(path)
        old = os.path.join(root, "old")
        write(old, b"kept")
        got["open"] = _opens(old, os.O_RDWR | os.O_DIRECT)
        got["open trunc"] = _opens(old, os.O_RDWR | os.O_TRUNC | os.O_DIRECT)
        got["create existing"] = _opens(old, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT)
        got["content"] = read(old)
        got["open plain"] = _opens(old, os.O_RDWR)
        return got

    with TwinOn(bfs, "ramfs") as t:
        got = t.run(exp)
        left = sorted(os.listdir(t.s))
    mount, store = dict(got["mount"]), dict(got["store"])
    assert store["create"] == ("err", "EINVAL") and store["created"], store
    assert mount.pop("created") is False and store.pop("created") is True
    assert mount == store, got
    assert left == ["old"]


def test_o_direct_bypasses_the_store_page_cache(bfs):
    """Data written and read with O_DIRECT through the mount leaves no page
    of the backing file in the page cache, as O_DIRECT on the store itself;
    written without it, the backing file's pages are cached (the measure
    sees them)."""
    data = _aligned(64 * PAGE, b"direct!!")

    def exp(root, flags):
        path = os.path.join(root, "c%o" % flags)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | flags, 0o644)
        try:
            os.pwritev(fd, [data], 0)
            os.preadv(fd, [_aligned(64 * PAGE, b"\0")], 0)
        finally:
            os.close(fd)
        return path

    t = Twin(bfs)
    exp(t.o, os.O_DIRECT)
    if cached_pages(os.path.join(t.o, "c%o" % os.O_DIRECT)):
        pytest.skip("the store's filesystem keeps O_DIRECT data in its page cache (tmpfs)")
    exp(t.m, os.O_DIRECT)
    exp(t.m, 0)
    assert cached_pages(os.path.join(t.s, "c%o" % os.O_DIRECT)) == 0
    assert cached_pages(os.path.join(t.s, "c0")) > 0


def test_o_direct_changed_by_fcntl(bfs):
    """O_DIRECT turned off and on with fcntl after the open counts from then
    on, as on the store: GNU dd writes a short last block with it off, and a
    misaligned write after turning it on fails with EINVAL."""
    src = os.path.join(bfs.base, "dd-src")
    with open(src, "wb") as f:
        f.write(os.urandom(3 * PAGE + 1000))

    def exp(root):
        got = {}
        out = os.path.join(root, "dd-out")
        r = subprocess.run(["dd", "if=" + src, "of=" + out, "bs=%d" % PAGE, "oflag=direct",
                            "status=none"], capture_output=True)
        got["dd out"] = (r.returncode, r.stderr, read(out) == read(src))
        r = subprocess.run(["dd", "if=" + out, "of=/dev/null", "bs=%d" % PAGE, "iflag=direct",
                            "status=none"], capture_output=True)
        got["dd in"] = (r.returncode, r.stderr)
        fd = os.open(os.path.join(root, "on"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            got["plain odd write"] = outcome(os.pwrite, fd, b"x" * 100, 0)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
            got["direct odd write"] = outcome(os.pwritev, fd, [_aligned(PAGE, b"y")[:100]], 0)
            got["direct page write"] = outcome(os.pwritev, fd, [_aligned(PAGE, b"y")], 0)
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
            got["plain odd write again"] = outcome(os.pwrite, fd, b"z" * 100, 10)
        finally:
            os.close(fd)
        got["content"] = read(os.path.join(root, "on"))
        return got

    t = Twin(bfs)
    got = t.run(exp)
    assert got["mount"] == got["store"], got
    assert got["store"]["dd out"][0] == 0


@pytest.mark.parametrize("share", [mmap.MAP_SHARED, mmap.MAP_PRIVATE], ids=["shared", "private"])
def test_o_direct_file_mapped(bfs, share):
    """A file open with O_DIRECT can be mapped, as on the store."""
    def exp(root):
        path = os.path.join(root, "mapped%d" % share)
        write(path, b"p" * PAGE)
        fd = os.open(path, os.O_RDWR | os.O_DIRECT)
        try:
            m = mmap.mmap(fd, PAGE, share)
            try:
                return m[:4]
            finally:
                m.close()
        finally:
            os.close(fd)

    Twin(bfs).assert_same(exp)
