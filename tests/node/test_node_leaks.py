# SPDX-License-Identifier: Apache-2.0
"""leaks (SPEC 8.4 and docs/SPEC.md's decisions), each finding made for
real: a shim killed with SIGKILL, a socket left in s/, a socket listened on
by a process with no bundle, a work dir without bundle, a shim whose bundle
directory was removed; and nothing when nothing leaked.

A node view sees every containerd-shim* process of the host: shims of other
tests may run meanwhile. Each test compares the findings about its own
directories and processes exactly, and the rest with the shims found in
/proc independently (foreign_shims)."""

import json
import os
import threading
import time

import pytest

from bfstest import V1_PLUGIN, V2_PLUGIN
from node_helpers import (FakeShim, bundle_beside, cri, foreign_shims, leaks, leaks_text,
                          left_socket, ours)


@pytest.fixture
def shims():
    made = []

    def start(cwd, path=None):
        s = FakeShim(cwd, path)
        made.append(s)
        return s
    yield start
    for s in made:
        s.stop()


def only_foreign(findings, fs, own_pids):
    """The findings that are not this test's: shims of other processes only."""
    rest = [f for f in findings if f not in ours(findings, fs, own_pids)]
    assert all(f["kind"] == "shim" for f in rest), rest
    return {f["pid"] for f in rest}


def test_nothing_leaked_is_an_empty_file(node_mount, shims):
    """A live bundle (its shim listening on its address, in its directory),
    an incomplete one being made, a work dir with its bundle: nothing."""
    fs = node_mount(plugins=(V2_PLUGIN, V1_PLUGIN))
    d = bundle_beside(fs, V2_PLUGIN, "k8s.io", "live", cri("default", "web", "u1", "sandbox"))
    addr = fs.address("k8s.io", "live")
    shim = shims(d, addr[len("unix://"):])
    bundle_beside(fs, V2_PLUGIN, "k8s.io", "making", complete=False)
    before = foreign_shims({shim.pid})
    text = leaks_text(fs.mountpoint)
    after = foreign_shims({shim.pid})
    if not (before or after):
        assert text == b""
    found = leaks(fs.mountpoint) if text else []
    assert ours(found, fs, {shim.pid}) == []
    assert only_foreign(found, fs, {shim.pid}) <= before | after


def test_a_shim_killed_leaves_a_stale_bundle(node_mount, shims):
    fs = node_mount()
    d = bundle_beside(fs, V2_PLUGIN, "k8s.io", "b1")
    shim = shims(d, fs.address("k8s.io", "b1")[len("unix://"):])
    assert ours(leaks(fs.mountpoint), fs, {shim.pid}) == []
    shim.kill9()
    # The socket file stays, named by the bundle: no socket finding.
    assert ours(leaks(fs.mountpoint), fs) == [
        {"kind": "bundle", "path": f"{V2_PLUGIN}/k8s.io/b1", "reason": "stale"}]


def test_sockets_no_bundle_names(node_mount, shims, tmp_path):
    fs = node_mount()
    s_dir = os.path.join(fs.socket_root, "s")
    left_socket(os.path.join(s_dir, "aa-left"))
    orphan = shims(str(tmp_path), os.path.join(s_dir, "bb-listened"))
    with open(os.path.join(s_dir, "cc-not-a-socket"), "w"):
        pass
    os.symlink(os.path.join(s_dir, "aa-left"), os.path.join(s_dir, "dd-link"))
    got = ours(leaks(fs.mountpoint), fs, {orphan.pid})
    assert got == [
        {"kind": "socket", "path": os.path.join(s_dir, "aa-left"), "listening": False},
        {"kind": "socket", "path": os.path.join(s_dir, "bb-listened"), "listening": True},
        {"kind": "shim", "pid": orphan.pid, "exe": FakeShim.exe(), "cwd": str(tmp_path)},
    ]


def test_a_work_dir_without_bundle(node_mount):
    fs = node_mount(plugins=(V2_PLUGIN, V1_PLUGIN))
    bundle_beside(fs, V2_PLUGIN, "k8s.io", "has-bundle", complete=False)
    os.makedirs(os.path.join(fs.cr, V2_PLUGIN, "k8s.io", "alone"))
    os.makedirs(os.path.join(fs.cr, V1_PLUGIN, "moby", "alone1"))
    os.makedirs(os.path.join(fs.cr, V2_PLUGIN, ".hidden", "x"))
    assert ours(leaks(fs.mountpoint), fs) == [
        {"kind": "workdir", "path": os.path.join(fs.cr, V1_PLUGIN, "moby", "alone1")},
        {"kind": "workdir", "path": os.path.join(fs.cr, V2_PLUGIN, "k8s.io", "alone")},
    ]


def test_a_shim_whose_bundle_dir_was_removed(node_mount, shims):
    fs = node_mount()
    d = bundle_beside(fs, V2_PLUGIN, "k8s.io", "gone", complete=False)
    sock = fs.address("k8s.io", "gone")[len("unix://"):]
    shim = shims(d, sock)
    assert ours(leaks(fs.mountpoint), fs, {shim.pid}) == []
    os.rmdir(d)
    os.rmdir(os.path.join(fs.cr, V2_PLUGIN, "k8s.io", "gone"))
    assert ours(leaks(fs.mountpoint), fs, {shim.pid}) == [
        {"kind": "socket", "path": sock, "listening": True},
        {"kind": "shim", "pid": shim.pid, "exe": FakeShim.exe(), "cwd": d + " (deleted)"},
    ]


def test_a_finding_must_hold_at_the_second_look(node_mount):
    """Each open looks twice, at least 100 ms apart (250 ms here): a work dir
    whose bundle is made while the file is being opened (as containerd's
    create makes the two halves one after the other) is not reported."""
    fs = node_mount()
    wd = os.path.join(fs.cr, V2_PLUGIN, "k8s.io", "w1")
    os.makedirs(wd)
    got = {}

    def read():
        t0 = time.monotonic()
        got["text"] = leaks_text(fs.mountpoint)
        got["took"] = time.monotonic() - t0

    t = threading.Thread(target=read)
    t.start()
    time.sleep(0.05)    # within the window between the looks, not an assertion
    os.makedirs(os.path.join(fs.cs, V2_PLUGIN, "k8s.io", "w1"))
    t.join()
    assert got["took"] >= 0.1   # the contract's minimum between the looks
    assert not any(f["kind"] == "workdir" for f in
                   ours([json.loads(ln) for ln in got["text"].decode().splitlines()], fs))
    # Without its bundle again, it is reported.
    os.rmdir(os.path.join(fs.cs, V2_PLUGIN, "k8s.io", "w1"))
    assert ours(leaks(fs.mountpoint), fs) == [{"kind": "workdir", "path": wd}]
