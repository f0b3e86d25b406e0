# SPDX-License-Identifier: Apache-2.0
"""A read-only mount over a store where bundles are made and removed through
another mount, listed and every `status` read in a loop (an operator's view
of a busy node), keeps none of the removed bundles: each is pruned from the
kernel's caches (FUSE_NOTIFY_PRUNE) and forgotten, so the daemon's node table
and memory do not grow with the churn. The cases that escape the watcher's
prune at the removal event are the ones this drives: a listing or lookup
whose reply crossed the removal (the name was learned after its event), and
a `status` looked up inside a bundle already removed. (A name that is
absent from a directory still there when it is looked up leaves a negative
entry that keeps the directory once it is removed beside the mount: only an
entry invalidation could drop it, which bundlefs never sends; see
docs/DESIGN.md. The reader here reads what an operator's `*/status` reads.)
Checked by dropping
the kernel's caches afterwards: nothing is left for them to free (no FORGET
follows), while the namespace itself is held open."""

import os
import re
import threading
import time

import pytest

from bfstest import FORGET, PRUNE_MISSING, ident, wait_until

SPEC = (b'{"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"}, '
        b'"root": {"path": "rootfs"}}\n')

CHURN_SECONDS = 8


def forgets(m):
    return len(FORGET.findall(m.log_text()))


def settled(m, quiet=2.0, deadline=20.0):
    """Poll until no FORGET arrived for `quiet` seconds (prunes are retried
    once a second): true, or false at the deadline."""
    last, since, end = forgets(m), time.monotonic(), time.monotonic() + deadline
    while time.monotonic() < end:
        time.sleep(0.2)
        now = forgets(m)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True
    return False


def test_read_only_mount_forgets_bundles_removed_under_it(mount_bundlefs):
    if os.geteuid() != 0:
        pytest.fail("dropping the kernel's caches needs root", pytrace=False)
    rw = mount_bundlefs()
    ro = mount_bundlefs(ro=True, state=rw.state, work=rw.work, args=["-d"])
    ro.expect_log(r".")  # libfuse's request trace
    ns = ident("ns")
    os.mkdir(rw.m(ns))
    assert wait_until(lambda: os.path.isdir(ro.m(ns)), 2.0)
    stop = threading.Event()
    reads = [0]

    def reader():
        while not stop.is_set():
            # As the shell's */status: hidden names (a removal's own) left out.
            for name in os.listdir(ro.m(ns)):
                if name.startswith("."):
                    continue
                try:
                    with open(ro.m(ns, name, "status"), "rb") as f:
                        f.read()
                    reads[0] += 1
                except OSError:
                    pass  # removed meanwhile: as for any reader

    t = threading.Thread(target=reader)
    t.start()
    made, end = 0, time.monotonic() + CHURN_SECONDS
    try:
        while time.monotonic() < end:
            b = rw.m(ns, f"c{made}")
            os.mkdir(b)
            with open(os.path.join(b, "config.json"), "wb") as f:
                f.write(SPEC)
            os.rmdir(b)
            made += 1
    finally:
        stop.set()
        t.join()
    assert made > 100 and reads[0] > 0, (made, reads[0])
    if re.search(PRUNE_MISSING, ro.log_text(), re.M):
        pytest.skip("this kernel has no FUSE_NOTIFY_PRUNE")
    held = os.open(ro.m(ns), os.O_PATH | os.O_DIRECTORY)
    try:
        assert settled(ro), "FORGETs kept coming for 20 s after the churn"
        before = forgets(ro)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        time.sleep(1.0)  # what the drop frees is forgotten at once
        after = forgets(ro)
    finally:
        os.close(held)
    assert after == before, (
        f"{after - before} FORGET requests after dropping the caches: the kernel still "
        f"held bundles removed under the read-only mount ({made} made and removed)")
