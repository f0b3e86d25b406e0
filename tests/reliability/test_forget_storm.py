# SPDX-License-Identifier: Apache-2.0
"""A dropped cache (or memory pressure) makes the kernel forget thousands of
bundles at once. Each forget removes the bundle's watch, and each removal
queues an IN_IGNORED event that the watcher must read before the kernel's
inotify queue (max_queued_events, read when the daemon starts) is full:
past it the kernel drops events, and the daemon, which can no longer tell
what changed, invalidates everything it let the kernel cache and says so in
its log. Forgets wait for the watcher instead (watch_pace in fs/watch.c),
so a storm of forgets loses nothing.

The queue is made small for the daemon under test (the setting is read at
inotify_init1, so it is restored as soon as the daemon runs), so that a few
thousand bundles are a storm far beyond it."""

import os

import pytest

from bfstest import ident, wait_until

QUEUED = "/proc/sys/fs/inotify/max_queued_events"
QUEUE = 1024
BUNDLES = 8 * QUEUE


def _write(path, value):
    with open(path, "w") as f:
        f.write(f"{value}\n")


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _watches(pid):
    """How many watches the daemon's inotify instance holds."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                return sum(1 for line in f if line.startswith("inotify wd:"))
        except OSError:
            continue
    return None


def test_forget_storm_loses_no_event(mount_bundlefs):
    if os.geteuid() != 0:
        pytest.fail("setting the inotify queue and dropping caches need root", pytrace=False)
    ns = ident("ns")
    names = [f"b{i:05d}" for i in range(BUNDLES)]
    old = _read(QUEUED)

    def prepare(b):
        os.mkdir(b.s(ns))
        for name in names:
            os.mkdir(b.s(ns, name))
        _write(QUEUED, QUEUE)

    try:
        m = mount_bundlefs(prepare=prepare, ro=True)
    finally:
        _write(QUEUED, old)
    for name in names:
        os.stat(m.m(ns, name))
    # Every bundle looked up is watched: the storm below removes them all.
    assert _watches(m.pid) >= BUNDLES
    os.sync()
    _write("/proc/sys/vm/drop_caches", 2)
    assert wait_until(lambda: _watches(m.pid) < BUNDLES // 100, 60.0), \
        f"the kernel forgot the bundles, yet {_watches(m.pid)} watches are left"
    assert "overflowed" not in m.log_text()
    # The mount answers as before, and the watcher follows the store again.
    assert os.path.isdir(m.m(ns, names[-1]))
    os.mkdir(m.s(ns, "new"))
    assert wait_until(lambda: os.path.isdir(m.m(ns, "new")), 2.0)
