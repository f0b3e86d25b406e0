# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.1: `address` and `shim-config` opened read-only are served from the
kernel's page cache only while nothing they are computed from has changed. A
change through the mount is seen by the next open, a change beside it within
the times of SPEC 4.8; `status` is computed at each open.

Each test reads the file more than once before the change, so that the
kernel holds its pages when the change comes: a daemon that kept them
without dropping them would serve the old value."""

import json
import os

import pytest

from bfs_helpers import VALID_SPEC
from bfstest import ident, read_bytes, wait_until

GROUP_ANN = "io.containerd.runc.v2.group"
# The assertion is visibility, not speed (SPEC 4.8: 100 ms with a watch).
DEADLINE = 2.0


def write(path, data):
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def read_or_none(path):
    try:
        return read_bytes(path)
    except OSError:
        return None


def warm(path, times=3):
    """Read path a few times (the kernel may keep its pages); its content."""
    first = read_bytes(path)
    for _ in range(times - 1):
        assert read_bytes(path) == first
    return first


@pytest.fixture(scope="module")
def v2(module_mount):
    return module_mount(runtime="v2")


def spec_with_group(group):
    spec = json.loads(VALID_SPEC)
    spec.setdefault("annotations", {})[GROUP_ANN] = group
    return json.dumps(spec)


def test_config_json_through_mount_changes_address_at_once(v2):
    """v2: the group in config.json names the shim's socket; a commit through
    the mount that changes it shows in the very next read of address."""
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "config.json"), VALID_SPEC)
    path = v2.m(ns, bid, "address")
    assert warm(path) == v2.address(ns, bid).encode()
    for group in ("pod-a", "pod-bb", bid):
        write(v2.m(ns, bid, "config.json"), spec_with_group(group))
        want = v2.address(ns, group).encode()
        assert read_bytes(path) == want
        assert os.stat(path).st_size == len(want)
        assert warm(path) == want


@pytest.mark.parametrize("via", ["write", "rename"])
def test_bootstrap_json_through_mount_changes_address_at_once(v2, via):
    """v2: a shim's bootstrap.json written through the mount names the
    address; stat and read of address agree with it at once, though the
    kernel keeps address's name, attributes and pages."""
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "config.json"), VALID_SPEC)
    path = v2.m(ns, bid, "address")
    computed = warm(path)
    for want in (b"unix:///run/containerd/s/short", b"unix:///run/containerd/s/a-longer-one"):
        text = json.dumps({"address": want.decode()})
        if via == "rename":
            tmp = v2.m(ns, bid, ident(".tmp"))
            write(tmp, text)
            os.rename(tmp, v2.m(ns, bid, "bootstrap.json"))
        else:
            write(v2.m(ns, bid, "bootstrap.json"), text)
        assert os.stat(path).st_size == len(want)
        assert read_bytes(path) == want
        assert warm(path) == want
    os.unlink(v2.m(ns, bid, "bootstrap.json"))
    assert os.stat(path).st_size == len(computed)
    assert read_bytes(path) == computed


@pytest.fixture(scope="module")
def v2_unwatched(module_mount):
    """No watch at all (the stand-in for an exhausted inotify limit): no
    watcher's event can make up for a request that forgot to drop what it
    made stale, so a stale size would show for the short lifetime."""
    m = module_mount(runtime="v2", watch_limit="0")
    m.expect_log("inotify watch limit reached")
    return m


@pytest.mark.parametrize("how", ["rewrite", "truncate", "append", "fallocate"])
@pytest.mark.parametrize("watched", [True, False], ids=["watched", "unwatched"])
def test_bootstrap_json_changed_in_place_changes_address_at_once(v2, v2_unwatched, how,
                                                                 watched):
    """v2: bootstrap.json changed in place through the mount (O_TRUNC and a
    write, truncate(2), an append, fallocate) changes address's size in the
    very next stat (SPEC 4.8: never older than the last change through the
    mount), with or without the watcher."""
    m = v2 if watched else v2_unwatched
    ns, bid = m.new_bundle()
    write(m.m(ns, bid, "config.json"), VALID_SPEC)
    path, boot = m.m(ns, bid, "address"), m.m(ns, bid, "bootstrap.json")
    first = b"unix:///run/containerd/s/first"
    write(boot, json.dumps({"address": first.decode()}))
    for _ in range(3):
        assert os.stat(path).st_size == len(first)
    assert warm(path) == first
    if how == "rewrite":
        want = b"unix:///run/containerd/s/the-second-one"
        write(boot, json.dumps({"address": want.decode()}))
    elif how == "truncate":
        os.truncate(boot, 0)  # not JSON: address is computed from the group
        want = m.address(ns, bid).encode()
    elif how == "append":
        with open(boot, "ab") as f:
            f.write(b" ")  # still the same object: same address
        with open(boot, "r+b") as f:
            f.write(json.dumps({"address": "unix:///x"}).encode())  # now: trailing garbage
        want = m.address(ns, bid).encode()
    else:
        os.truncate(boot, 0)
        for _ in range(3):
            assert os.stat(path).st_size == len(m.address(ns, bid))
        with open(boot, "r+b") as f:
            os.posix_fallocate(f.fileno(), 0, 16)  # 16 NUL bytes: not JSON either
        want = m.address(ns, bid).encode()
    assert os.stat(path).st_size == len(want)
    assert read_bytes(path) == want
    assert warm(path) == want


def test_released_address_absent_to_its_process_only(bfs):
    """An unlink of a computed address releases the name to the process
    that made it (SPEC 4.2): absent to it, present to every other, though
    the kernel may keep the name for the others."""
    ns, bid = bfs.new_bundle()
    path = bfs.m(ns, bid, "address")
    computed = warm(path)
    script = ("import os, sys\n"
              "p = sys.argv[1]\n"
              "os.unlink(p)\n"
              "for _ in range(3):\n"
              "    assert not os.path.exists(p)\n"
              "    os.system('cat ' + p + ' > /dev/null 2>&1')\n"
              "    assert not os.path.exists(p)\n")
    import subprocess
    import sys
    subprocess.run([sys.executable, "-c", script, path], check=True)
    assert warm(path) == computed


def test_config_json_through_mount_changes_shim_config_at_once(v2):
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "config.json"), VALID_SPEC)
    path = v2.m(ns, bid, "shim-config")
    assert json.loads(warm(path))["Group"] == bid
    write(v2.m(ns, bid, "config.json"), spec_with_group("pod-c"))
    assert json.loads(read_bytes(path))["Group"] == "pod-c"


def test_address_through_mount_then_unlinked(bfs):
    ns, bid = bfs.new_bundle()
    path = bfs.m(ns, bid, "address")
    computed = warm(path)
    stored = b"unix:///run/containerd/s/through-the-mount"
    write(path, stored)
    assert read_bytes(path) == stored
    assert warm(path) == stored
    os.unlink(path)
    assert read_bytes(path) == computed
    assert os.stat(path).st_size == len(computed)


@pytest.mark.parametrize("via_rename", [False, True], ids=["in-place", "rename"])
def test_stored_address_beside_then_removed(bfs, via_rename):
    """A stored address written beside the mount shows within the window of
    SPEC 4.8, with its size; removed, the computed value is back."""
    ns, bid = bfs.new_bundle()
    path = bfs.m(ns, bid, "address")
    computed = warm(path)
    for text in (b"unix:///run/containerd/s/beside", b"unix:///run/containerd/s/beside-longer", b"x"):
        target = bfs.s(ns, bid, "address")
        if via_rename:
            tmp = bfs.s(ns, bid, "." + ident("tmp"))
            write(tmp, text)
            os.rename(tmp, target)
        else:
            write(target, text)
        assert wait_until(lambda: read_or_none(path) == text, DEADLINE, poll=0.01)
        assert os.stat(path).st_size == len(text)
        assert warm(path) == text
    os.unlink(bfs.s(ns, bid, "address"))
    assert wait_until(lambda: read_or_none(path) == computed, DEADLINE, poll=0.01)
    assert os.stat(path).st_size == len(computed)
    assert warm(path) == computed


def test_change_beside_of_same_size_and_mtime(bfs):
    """A change the kernel cannot tell from the attributes (same size, same
    mtime) still shows: the kernel's pages are checked at every open."""
    ns, bid = bfs.new_bundle()
    path = bfs.m(ns, bid, "address")
    target = bfs.s(ns, bid, "address")
    first, second = b"unix:///run/containerd/s/aaaa", b"unix:///run/containerd/s/bbbb"
    write(target, first)
    assert wait_until(lambda: read_or_none(path) == first, DEADLINE, poll=0.01)
    st = os.stat(target)
    assert warm(path) == first
    write(target, second)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert wait_until(lambda: read_or_none(path) == second, DEADLINE, poll=0.01)
    assert warm(path) == second


def test_file_open_across_a_change(bfs):
    """A reader that kept address open across a change reads what it opened
    (one open, one value); an open after the change reads the new value,
    also after the old reader filled the kernel's pages again."""
    ns, bid = bfs.new_bundle()
    path = bfs.m(ns, bid, "address")
    computed = warm(path)
    old = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(old, 4096, 0) == computed
        stored = b"unix:///run/containerd/s/changed-while-open"
        write(bfs.s(ns, bid, "address"), stored)
        assert wait_until(lambda: read_or_none(path) == stored, DEADLINE, poll=0.01)
        os.posix_fadvise(old, 0, 0, os.POSIX_FADV_DONTNEED)
        os.pread(old, 4096, 0)
        assert read_bytes(path) == stored
        assert warm(path) == stored
    finally:
        os.close(old)


def test_status_computed_at_each_open(bfs):
    """status is never kept: a change shows in the next open even when read
    many times before."""
    ns, bid = bfs.new_bundle()
    write(bfs.m(ns, bid, "config.json"), VALID_SPEC)
    path = bfs.m(ns, bid, "status")
    assert json.loads(warm(path))["init"]["pid"] is None
    write(bfs.s(ns, bid, "init.pid"), str(os.getpid()).encode())
    assert wait_until(lambda: json.loads(read_bytes(path))["init"]["pid"] == os.getpid(),
                      DEADLINE, poll=0.01)
