# SPDX-License-Identifier: Apache-2.0
"""Helpers of the passthrough, read-only and freshness tests (SPEC 4.6, 2, 6):
system calls Python lacks, the backing store as an oracle (Twin), children
running as another user. The daemon and its fixtures are every suite's
(tests/common/bfstest.py, tests/conftest.py)."""

import ctypes
import errno
import mmap
import os
import pickle
import stat
import subprocess
import traceback

_libc = ctypes.CDLL(None, use_errno=True)
_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                            ctypes.c_uint]
_libc.renameat2.restype = ctypes.c_int

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def renameat2(old, new, flags):
    """renameat2(2) on two paths; raises OSError like os.rename."""
    if _libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old, None, new)


def write(path, data, mode=0o666, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, flags | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def daemon_fd_flags(pid, backing_path):
    """The open-file flags of every descriptor the daemon holds on backing_path
    (from /proc/<pid>/fdinfo): how the daemon opened the backing file."""
    backing_path = os.path.realpath(backing_path)
    found = []
    fddir = f"/proc/{pid}/fd"
    for name in os.listdir(fddir):
        try:
            target = os.readlink(os.path.join(fddir, name))
        except OSError:
            continue
        if target != backing_path:
            continue
        with open(f"/proc/{pid}/fdinfo/{name}") as f:
            for line in f:
                if line.startswith("flags:"):
                    found.append(int(line.split()[1], 8))
    return found


def send_pickled(fd, value):
    """Write value, pickled, whole to descriptor fd (a forked child's answer)."""
    data = pickle.dumps(value)
    while data:
        data = data[os.write(fd, data):]


def read_to_end(fd):
    """Everything read from descriptor fd up to its end; fd is closed."""
    chunks = []
    while True:
        c = os.read(fd, 65536)
        if not c:
            break
        chunks.append(c)
    os.close(fd)
    return b"".join(chunks)


def as_user(uid, gid, fn, *args):
    """Run fn(*args) in a forked child with the given uid/gid and no
    supplementary groups. Returns ("ok", value) or ("err", errno) for an
    OSError; any other exception is re-raised here as a RuntimeError."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                res = ("ok", fn(*args))
            except OSError as e:
                res = ("err", e.errno)
            except BaseException:  # noqa: BLE001 - reported to the parent
                res = ("exc", traceback.format_exc())
            send_pickled(w, res)
        finally:
            os._exit(0)
    os.close(w)
    data = read_to_end(r)
    os.waitpid(pid, 0)
    res = pickle.loads(data)
    if res[0] == "exc":
        raise RuntimeError("child failed:\n" + res[1])
    return res


def tree_walk(root):
    """{relpath: (type, mode, uid, gid, size, link target, mtime s)} of a tree,
    without following symlinks, and the sets of hard-linked groups."""
    out = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            target = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
            size = st.st_size if stat.S_ISREG(st.st_mode) else None
            mtime = int(st.st_mtime) if not stat.S_ISLNK(st.st_mode) else None
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                        size, target, mtime, st.st_nlink)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                inodes.setdefault(st.st_ino, set()).add(rel)
    links = sorted(sorted(g) for g in inodes.values())
    return out, links


# ------------------------------------------------- the backing store as oracle

def outcome(fn, *args, **kwargs):
    """("ok", fn's value) or ("err", errno name) for an OSError: what a
    caller gets, in a form two runs can be compared by."""
    try:
        return ("ok", fn(*args, **kwargs))
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


class Twin:
    """The same experiment in two places: a directory under a bundle's rootfs
    reached through the mount (m, stored at s) and a plain directory of the
    backing store's own filesystem (o), the oracle. run(fn) calls fn(root) in
    each and returns both results."""

    def __init__(self, bfs):
        self.bfs = bfs
        self.ns, self.id = bfs.new_bundle()
        self.m = bfs.m(self.ns, self.id, "rootfs", "t")
        self.s = bfs.s(self.ns, self.id, "rootfs", "t")
        os.mkdir(self.m)
        self.o = os.path.join(bfs.base, "oracle-" + self.id)
        os.mkdir(self.o)

    def run(self, fn):
        return {"mount": fn(self.m), "store": fn(self.o)}

    def assert_same(self, fn):
        """fn(root) gives the same result through the mount as on the store,
        and the mount's directory holds afterwards what the oracle's holds."""
        got = self.run(fn)
        assert got["mount"] == got["store"], got
        self.assert_stored_alike()
        return got["mount"]

    def assert_stored_alike(self):
        assert _shape(self.s) == _shape(self.o)

    def assert_daemon_alive(self):
        assert self.bfs.proc.poll() is None, self.bfs.log_text()
        assert os.path.isdir(self.bfs.mnt) and os.path.ismount(self.bfs.mnt)
        os.stat(self.bfs.mnt)
        os.listdir(self.m)


class TwinOn(Twin):
    """A Twin on a filesystem of its own: fstype (with mount options) mounted
    in the store on a directory under a bundle's rootfs before the mount has
    seen it, m (through the mount, stored at s) and o (the oracle, in the
    store itself) two directories on it. A context manager: unmounted at the
    end."""

    def __init__(self, bfs, fstype, options=None):
        self.bfs = bfs
        self.ns, self.id = bfs.new_bundle()
        self.top = bfs.s(self.ns, self.id, "rootfs", "fs")
        os.mkdir(self.top)
        subprocess.run(["mount", "-t", fstype] + (["-o", options] if options else [])
                       + ["bundlefs-test-" + fstype, self.top], check=True)
        for d in ("m", "o"):
            os.mkdir(os.path.join(self.top, d))
        self.m = bfs.m(self.ns, self.id, "rootfs", "fs", "m")
        self.s = os.path.join(self.top, "m")
        self.o = os.path.join(self.top, "o")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", "-l", self.top], check=False)


def _shape(root):
    """tree_walk without the mtimes, which differ between two runs."""
    entries, links = tree_walk(root)
    return {k: v[:6] + v[7:] for k, v in entries.items()}, links


def stat_view(st, times=False):
    """The fields of a stat result that two copies of one experiment share
    (no inode or device numbers, no times unless asked)."""
    v = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_nlink, st.st_uid,
         st.st_gid, st.st_size, st.st_rdev)
    return v + ((st.st_atime_ns, st.st_mtime_ns) if times else ())


# ----------------------------------------------------------- raw syscalls

_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                       ctypes.c_long]
_libc.mmap.restype = ctypes.c_void_p
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.munmap.restype = ctypes.c_int
_libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
_libc.mincore.restype = ctypes.c_int


def cached_pages(path):
    """How many pages of the file at path are in the page cache (mincore(2) on
    a shared mapping, which looks without reading anything in)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0
        addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)
        try:
            vec = ctypes.create_string_buffer((size + mmap.PAGESIZE - 1) // mmap.PAGESIZE)
            _check(_libc.mincore(addr, size, vec))
        finally:
            _libc.munmap(addr, size)
        return sum(b & 1 for b in vec.raw)
    finally:
        os.close(fd)


_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
_libc.fallocate.restype = ctypes.c_int
_libc.lgetxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.lgetxattr.restype = ctypes.c_ssize_t
_libc.llistxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
_libc.llistxattr.restype = ctypes.c_ssize_t

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20


def _check(ret):
    if ret < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def fallocate(fd, mode, offset, length):
    """fallocate(2); raises OSError."""
    return _check(_libc.fallocate(fd, mode, offset, length))


def lgetxattr_size(path, name, size):
    """lgetxattr(2) into a buffer of size bytes: (length, value); raises
    OSError (ERANGE when the buffer is too small, as os.getxattr never shows)."""
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _check(_libc.lgetxattr(os.fsencode(path), os.fsencode(name),
                               buf if size else None, size))
    return n, buf.raw[:n] if size else b""


def llistxattr_size(path, size):
    """llistxattr(2) into a buffer of size bytes: the sorted names; raises OSError."""
    buf = ctypes.create_string_buffer(max(size, 1))
    n = _check(_libc.llistxattr(os.fsencode(path), buf if size else None, size))
    return n if not size else sorted(x for x in buf.raw[:n].split(b"\0") if x)

