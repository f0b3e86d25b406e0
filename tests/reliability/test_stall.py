# SPDX-License-Identifier: Apache-2.0
"""A request that waits does not hold the others (SPEC 5.3: never a hang).

The daemon answers requests in the thread that read them (fs/loop.h); a
request whose store stops answering must leave the mount serving everyone
else. Here the store stops answering for real: a directory of a bundle is the
mountpoint of a second bundlefs, stopped with SIGSTOP, so that a lookup
through the mount below it waits in the daemon until that one continues.
"""

import errno
import os
import signal
import threading
import time

from bfstest import read_bytes, write_through

DEADLINE = 20.0


def start_stalled(st, new_bundlefs, ns, bid):
    """A second bundlefs mounted on S/ns/bid/stall, its directory looked up
    through the mount, then stopped: returns it."""
    os.mkdir(st.s(ns, bid, "stall"))
    base = os.path.join(st.base, "inner")
    dirs = {"base": base, "state": os.path.join(base, "state"),
            "work": os.path.join(base, "work"), "mnt": st.s(ns, bid, "stall"),
            "socket_root": None}
    for d in ("state", "work"):
        os.makedirs(dirs[d])
    inner = new_bundlefs(dirs=dirs).start()
    os.stat(st.m(ns, bid, "stall"))
    inner.proc.send_signal(signal.SIGSTOP)
    return inner


def in_thread(fn, *args):
    """Run fn(*args) in a thread; the thread, whose .result is ("ok", value)
    or ("err", errno) once it ends."""
    def run():
        try:
            t.result = ("ok", fn(*args))
        except OSError as e:
            t.result = ("err", e.errno)
    t = threading.Thread(target=run, daemon=True)
    t.result = None
    t.start()
    return t


def test_stalled_lookups_do_not_hold_the_mount(mount_bundlefs, new_bundlefs):
    st = mount_bundlefs()
    ns, bid = st.new_bundle()
    write_through(st.m(ns, bid, "config.json"), b"{}")
    inner = start_stalled(st, new_bundlefs, ns, bid)
    stuck = []
    try:
        # Three lookups wait in the daemon, each for the stopped store. The
        # first comes from a caller that has been alone for a while (a few
        # hundred requests, statfs: never answered by the kernel), so that
        # only the thread watching the one that reads takes over (loop.h),
        # not the pool that callers side by side get.
        def alone_then_stall(path):
            for _ in range(300):
                os.statvfs(st.mnt)
            return os.stat(path)
        stuck.append(in_thread(alone_then_stall, st.m(ns, bid, "stall", "a")))
        stuck[0].join(0.5)
        for name in ("b", "c"):
            stuck.append(in_thread(os.stat, st.m(ns, bid, "stall", name)))
        time.sleep(0.2)
        assert all(t.is_alive() for t in stuck), [t.result for t in stuck]

        def others():
            os.listdir(st.m(ns))
            os.stat(st.m(ns, bid, "config.json"))
            assert read_bytes(st.m(ns, bid, "config.json")) == b"{}"
            read_bytes(st.m(ns, bid, "address"))
            ns2, bid2 = st.new_bundle()
            write_through(st.m(ns2, bid2, "config.json"), b"{}")
            os.stat(st.s(ns2, bid2, "config.json"))
            for _ in range(200):
                os.stat(st.m(ns2, bid2))
            os.rmdir(st.m(ns2, bid2))
            return True

        t = in_thread(others)
        t.join(DEADLINE)
        assert t.result == ("ok", True), \
            f"requests behind the stalled ones did not complete within {DEADLINE} s"
        # They completed while the stalled lookups still waited.
        assert all(s.is_alive() for s in stuck), [s.result for s in stuck]
    finally:
        inner.proc.send_signal(signal.SIGCONT)
        for s in stuck:
            s.join(DEADLINE)
        problems = inner.stop()
    assert [s.result for s in stuck] == [("err", errno.ENOENT)] * 3
    assert problems == []
    # The threads that waited serve again: the mount answers as before.
    assert sorted(os.listdir(st.m(ns, bid, "stall"))) == []
    assert read_bytes(st.m(ns, bid, "config.json")) == b"{}"
