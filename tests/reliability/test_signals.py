# SPDX-License-Identifier: Apache-2.0
"""Signals and the daemon's end, in both session loops (bundlefs's own and,
with -s, libfuse's): SIGTERM ends the daemon, which unmounts and exits with
status 1 (a signal is an error, as libfuse's loops report it); a signal
that does not end the session (SIGPIPE, which a write to a closed socket
raises) changes nothing: the mount serves on, and a later unmount ends the
daemon with status 0."""

import os
import signal
import time

import pytest

from bfstest import ident, wait_until

LOOPS = [pytest.param((), id="own-loop"), pytest.param(("-s",), id="single")]


@pytest.mark.parametrize("args", LOOPS)
def test_sigpipe_is_not_an_end(mount_bundlefs, args):
    m = mount_bundlefs(args=args)
    ns = ident("ns")
    os.mkdir(m.m(ns))
    os.kill(m.pid, signal.SIGPIPE)
    time.sleep(0.2)
    os.mkdir(m.m(ns, "b"))
    assert os.path.isdir(m.s(ns, "b"))
    assert m.stop() == []


@pytest.mark.parametrize("args", LOOPS)
def test_sigterm_ends_the_daemon(mount_bundlefs, args):
    m = mount_bundlefs(args=args)
    ns = ident("ns")
    os.mkdir(m.m(ns))
    proc = m.proc
    os.kill(m.pid, signal.SIGTERM)
    assert wait_until(lambda: proc.poll() is not None, 10.0), "SIGTERM did not end the daemon"
    assert proc.returncode == 1
    assert wait_until(lambda: not os.path.ismount(m.mountpoint), 5.0)
    # The harness's own check: no other problem than the status of a signal.
    assert m.stop() == ["bundlefs exited with status 1"]
    assert os.path.isdir(m.s(ns))
