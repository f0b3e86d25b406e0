# SPDX-License-Identifier: Apache-2.0
"""FUSE over io_uring (fs/ring.h): used when the kernel offers it (the fuse
module's enable_uring parameter), never with -o nouring, and serving as
/dev/fuse does: a request that stalls holds nothing else, big reads and
writes arrive whole, SIGTERM and the unmount end the daemon as before.

The parameter is the kernel's, for the whole machine: each test sets it for
its own mounts (the kernel reads it at each mount's INIT) and puts it back.
The sanitizer pass of scripts/test.sh runs every suite with it set."""

import errno
import os
import signal
import time

import pytest

from bfstest import (RING_PARAM, enable_uring, fd_links, ident, read_bytes, wait_until,
                     write_through)
import test_signals
import test_stall

pytestmark = pytest.mark.skipif(
    not os.path.exists(RING_PARAM),
    reason="this kernel has no FUSE over io_uring (CONFIG_FUSE_IO_URING, Linux 6.14)")


def cpus_of(pid):
    """The CPU list each thread of pid may run on."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    out.append(line.split()[1])
    return out


def rings(m):
    return sum(1 for ln in fd_links(m.pid) if ln == "anon_inode:[io_uring]")


def exercise(m):
    ns = ident("ns")
    os.mkdir(m.m(ns))
    os.mkdir(m.m(ns, "b"))
    write_through(m.m(ns, "b", "config.json"), b"{}")
    assert read_bytes(m.s(ns, "b", "config.json")) == b"{}"
    assert read_bytes(m.m(ns, "b", "address")).startswith(b"unix://")
    assert "config.json" in os.listdir(m.m(ns, "b"))
    os.rmdir(m.m(ns, "b"))
    assert not os.path.exists(m.s(ns, "b"))
    return ns


def test_used_when_offered(mount_bundlefs):
    with enable_uring(True):
        m = mount_bundlefs()
        exercise(m)
        assert wait_until(lambda: "FUSE over io_uring" in m.log_text(), 5.0), m.log_text()
        ncpu = os.sysconf("SC_NPROCESSORS_CONF")
        # A thread, with its ring, for each CPU's queue at the start (more
        # only for requests that stall).
        assert rings(m) >= ncpu
        # Each queue's threads run on its CPU (where the daemon may run there).
        allowed = os.sched_getaffinity(0)
        bound = set(cpus_of(m.pid))
        for cpu in allowed:
            assert str(cpu) in bound, (cpu, bound)
        assert m.stop() == []


def test_not_used_with_nouring(mount_bundlefs):
    with enable_uring(True):
        m = mount_bundlefs(nouring=True)
        exercise(m)
        assert rings(m) == 0
        assert "io_uring" not in m.log_text()
        assert m.stop() == []


def test_not_used_when_not_offered(mount_bundlefs):
    with enable_uring(False):
        m = mount_bundlefs()
        exercise(m)
        assert rings(m) == 0
        assert "io_uring" not in m.log_text()
        assert m.stop() == []


def test_big_reads_and_writes(mount_bundlefs):
    """Writes bigger than a page arrive whole in the entry's payload, and
    reads of a stored file, spliced to /dev/fuse otherwise, are copied into
    the entry."""
    with enable_uring(True):
        m = mount_bundlefs()
        ns = exercise(m)
        os.mkdir(m.m(ns, "c"))
        data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and 4 bytes
        path = m.m(ns, "c", "blob")
        with open(path, "wb") as f:
            f.write(data)
        assert read_bytes(m.s(ns, "c", "blob")) == data
        with open(m.s(ns, "c", "blob2"), "wb") as f:
            f.write(data[::-1])

        def read_whole(path):
            with open(path, "rb", buffering=0) as f:
                got = b""
                while chunk := f.read(1 << 20):
                    got += chunk
            return got
        # In a thread: a reply that missed the entry would leave the read
        # waiting for ever.
        t = test_stall.in_thread(read_whole, m.m(ns, "c", "blob2"))
        t.join(test_stall.DEADLINE)
        assert not t.is_alive(), "the read of a stored file got no reply"
        assert t.result == ("ok", data[::-1])
        assert rings(m) > 0
        assert m.stop() == []


def recording(mount_bundlefs, made):
    """mount_bundlefs, noting each mount in made."""
    def mount(*args, **kwargs):
        made.append(mount_bundlefs(*args, **kwargs))
        return made[-1]
    return mount


def test_stalled_requests_hold_nothing(mount_bundlefs, new_bundlefs):
    """Each queue starts with one thread: the requests behind the stalled
    ones are answered only because the watchdog gives their queue another."""
    made = []
    with enable_uring(True):
        test_stall.test_stalled_lookups_do_not_hold_the_mount(
            recording(mount_bundlefs, made), new_bundlefs)
        assert rings(made[0]) > os.sysconf("SC_NPROCESSORS_CONF")


def on_cpu0(fn):
    """fn, run by a thread bound to CPU 0: its requests go to queue 0."""
    def run(*args):
        os.sched_setaffinity(0, {0})
        return fn(*args)
    return run


def test_requests_queued_behind_stalls(mount_bundlefs, new_bundlefs):
    """Callers on one CPU, several at once, while its queue's threads wait in
    stalled lookups: the kernel queues a request that finds no free entry,
    and an entry registered later does not take it (only the next commit on
    that queue does). Every request behind the stalled ones must still be
    answered, the queued ones too."""
    with enable_uring(True):
        st = mount_bundlefs()
        ns, bid = st.new_bundle()
        write_through(st.m(ns, bid, "config.json"), b"{}")
        inner = test_stall.start_stalled(st, new_bundlefs, ns, bid)
        try:
            first = test_stall.in_thread(on_cpu0(os.stat), st.m(ns, bid, "stall", "a"))
            first.join(0.3)
            # Four at once on queue 0: one entry is free at most (the one the
            # watchdog added for the first), the others are queued.
            stuck = [first] + [test_stall.in_thread(on_cpu0(os.stat),
                                                    st.m(ns, bid, "stall", n))
                               for n in "bcde"]
            time.sleep(0.3)
            assert all(t.is_alive() for t in stuck), [t.result for t in stuck]

            def others():
                for _ in range(20):
                    os.stat(st.m(ns, bid, "config.json"))
                    os.listdir(st.m(ns))
                return True
            t = test_stall.in_thread(on_cpu0(others))
            t.join(test_stall.DEADLINE)
            assert t.result == ("ok", True), \
                (f"requests on queue 0 not answered within {test_stall.DEADLINE} s; "
                 f"log: {st.log_text()}")
            assert all(s.is_alive() for s in stuck), [s.result for s in stuck]
        finally:
            inner.proc.send_signal(signal.SIGCONT)
            for s in stuck:
                s.join(test_stall.DEADLINE)
            problems = inner.stop()
        # The queued lookups were answered too, once the store answered them.
        assert [s.result for s in stuck] == [("err", errno.ENOENT)] * 5
        assert problems == []


@pytest.mark.parametrize("test", [test_signals.test_sigpipe_is_not_an_end,
                                  test_signals.test_sigterm_ends_the_daemon],
                         ids=["sigpipe", "sigterm"])
def test_signals_as_on_dev_fuse(mount_bundlefs, test):
    made = []
    with enable_uring(True):
        test(recording(mount_bundlefs, made), ())
    assert "FUSE over io_uring" in made[0].log_text()
