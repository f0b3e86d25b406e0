# SPDX-License-Identifier: Apache-2.0
"""Fresh names under load (SPEC 4.6): several processes, each in a directory
of its own under a bundle's rootfs, make fresh directories and files and
remove them (rmdir, unlink, a rename over one) as fast as they can. The
backing filesystem (ext4) gives a freed inode number to the next entry made,
often one another process makes while the remover's reply is still on its
way; every entry made through the mount must still be a new, empty, working
entry: mkdir of a fresh name succeeds, a file created in it can be written,
read and removed, the directory removed, a file renamed over another reads
as itself, and nothing is left in the store. On the backing store itself the
same loop has no failure, so any failure through the mount is an anomaly."""

import errno
import os
import pickle
import stat
import time

from pt_helpers import read_to_end, send_pickled

WORKERS = 4
SECONDS = 3.0          # a time budget, not a speed requirement
MAX_ROUNDS = 200000    # per worker: the loop ends at whichever comes first
SHOWN = 10             # anomalies kept per worker for the report


def _round(base, i, anomalies):
    """One round in base, the reproducer's: a fresh directory, its stat, a
    file made, written and removed in it, the directory removed; then a
    fresh file beside it, in every fourth round first replaced by another
    renamed over it (which frees its inode), and removed. Appends what went
    wrong to anomalies."""
    def bad(what, e):
        anomalies.append((i, what, errno.errorcode.get(e.errno, e.errno)
                          if isinstance(e, OSError) else e))

    d = os.path.join(base, "d%d" % i)
    try:
        os.mkdir(d, 0o755)
    except OSError as e:
        bad("mkdir", e)
        return
    try:
        st = os.stat(d)
        if not stat.S_ISDIR(st.st_mode) or st.st_nlink != 2:
            bad("stat dir", "mode %o nlink %d" % (st.st_mode, st.st_nlink))
        f = os.path.join(d, "f")
        if _make(f, b"in d%d" % i, bad):
            os.unlink(f)
    except OSError as e:
        bad("in dir", e)
    try:
        os.rmdir(d)
    except OSError as e:
        bad("rmdir", e)

    f = os.path.join(base, "f%d" % i)
    if not _make(f, b"file %d" % i, bad):
        return
    if i % 4 == 0 and _make(f + ".new", b"new %d" % i, bad):
        try:
            os.rename(f + ".new", f)
            with open(f, "rb") as fh:
                if fh.read() != b"new %d" % i:
                    bad("read renamed", "content")
        except OSError as e:
            bad("rename over", e)
    try:
        os.unlink(f)
    except OSError as e:
        bad("unlink", e)


def _make(path, data, bad):
    """Create path fresh, write data, check it; whether it was made."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        bad("create", e)
        return False
    try:
        os.write(fd, data)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size != len(data):
            bad("fstat", "mode %o nlink %d size %d" % (st.st_mode, st.st_nlink, st.st_size))
        if os.pread(fd, 100, 0) != data:
            bad("pread", "content")
    except OSError as e:
        bad("file", e)
    finally:
        os.close(fd)
    return True


def _worker(base, deadline, w):
    """Rounds in base until deadline or MAX_ROUNDS: (rounds, anomaly count,
    the first SHOWN anomalies), pickled to descriptor w."""
    anomalies = []
    count = 0
    rounds = 0
    while rounds < MAX_ROUNDS and time.monotonic() < deadline:
        before = len(anomalies)
        _round(base, rounds, anomalies)
        count += len(anomalies) - before
        del anomalies[SHOWN:]
        rounds += 1
    send_pickled(w, (rounds, count, anomalies))


def run_workers(bases, seconds):
    """Run one forked worker per directory of bases for about seconds; their
    results, in order."""
    deadline = time.monotonic() + seconds
    children = []
    for base in bases:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                _worker(base, deadline, w)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        children.append((pid, r))
    results = []
    for pid, r in children:
        data = read_to_end(r)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "worker failed"
        results.append(pickle.loads(data))
    return results


def test_fresh_names_under_load(mount_bundlefs):
    """Directories and files made and removed concurrently under fresh names:
    no anomaly, nothing left behind."""
    m = mount_bundlefs()
    ns, bid = m.new_bundle()
    names = ["w%d" % k for k in range(WORKERS)]
    for n in names:
        os.mkdir(m.m(ns, bid, "rootfs", n))
    results = run_workers([m.m(ns, bid, "rootfs", n) for n in names], SECONDS)
    rounds = sum(r[0] for r in results)
    anomalies = sum(r[1] for r in results)
    shown = [a for r in results for a in r[2]]
    assert rounds > 0
    assert anomalies == 0, f"{anomalies} anomalies in {rounds} rounds: {shown}"
    for n in names:
        assert os.listdir(m.s(ns, bid, "rootfs", n)) == [], n
        assert os.listdir(m.m(ns, bid, "rootfs", n)) == [], n
    assert m.alive()
