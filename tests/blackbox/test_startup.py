# SPDX-License-Identifier: Apache-2.0
"""SPEC 2: starting bundlefs, --help and --version, refusing bad set-ups, daemonizing after
the mount is live; the mount as mount(8), findmnt and df see it: its source is the state dir,
its type fuse.bundlefs, its nosuid,nodev default; no second mount on a live one, a remount
after a crash (SPEC 5.4).

(The embedded default store is exercised in test_default_store.py; mount.bundlefs, mount(8)
and fstab in tests/install.)
"""

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from bfs_helpers import project_version
from bfstest import (BundleFS, bundlefs_bin, daemon_pids, is_mounted, mount_stack, reap_mount,
                     unmount)


def run(argv, timeout=20):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)


@pytest.fixture
def dirs():
    """Fresh state/work/mnt/socket_root, no daemon."""
    b = BundleFS()
    yield b
    b.cleanup()


def test_help_exits_zero_and_prints_usage():
    r = run([bundlefs_bin(), "--help"])
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert "usage" in out.lower()
    for opt in ("state=", "work=", "socket_root=", "daemon_address=", "legacy_address",
                "bundle_root=", "allow_dev", "allow_suid", "nodev,nosuid"):
        assert opt in out, f"--help does not mention {opt}"


def test_help_names_every_default_store():
    """Root's, $XDG_DATA_HOME's, and the $HOME/.local/share fallback."""
    out = run([bundlefs_bin(), "--help"]).stdout.decode()
    for base in ("/var/lib/bundlefs", "$XDG_DATA_HOME/bundlefs", "$HOME/.local/share/bundlefs"):
        assert base in out, f"--help does not name {base}"


def test_version_exits_zero_and_prints_version():
    r = run([bundlefs_bin(), "--version"])
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert project_version() in out


def test_version_prints_bundlefs_first():
    """bundlefs's own line first, then the FUSE library's, and nothing else (no
    "fusermount3 version" line overtaking them on a pipe)."""
    r = run([bundlefs_bin(), "--version"])
    assert r.returncode == 0 and r.stderr == b""
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 2, lines
    assert lines[0] == f"bundlefs version {project_version()}"
    assert lines[1].startswith("FUSE library version 3.")


V1_DIR = "io.containerd.runtime.v1.linux"
V2_DIR = "io.containerd.runtime.v2.task"


def _opts(d, **over):
    o = {"state": d.state, "work": d.work, "socket_root": d.socket_root}
    o.update(over)
    return ",".join(k if v is True else f"{k}={v}" for k, v in o.items() if v is not None)


BAD_STARTS = {
    "unknown_option": lambda d: ["-f", "-o", _opts(d, no_such_option_x=True), d.mnt],
    "unknown_valued_option": lambda d: ["-f", "-o", _opts(d, frobnicate="1"), d.mnt],
    "missing_state_dir": lambda d: ["-f", "-o", _opts(d, state=d.state + "/nope"), d.mnt],
    "state_dir_is_a_file": lambda d: ["-f", "-o", _opts(d, state=d.base + "/afile"), d.mnt],
    "missing_work_dir": lambda d: ["-f", "-o", _opts(d, work=d.work + "/nope"), d.mnt],
    "work_dir_is_a_file": lambda d: ["-f", "-o", _opts(d, work=d.base + "/afile"), d.mnt],
    "state_inside_mountpoint": lambda d: ["-f", "-o", _opts(d, state=d.mnt + "/inner"), d.mnt],
    "work_inside_mountpoint": lambda d: ["-f", "-o", _opts(d, work=d.mnt + "/inner"), d.mnt],
    "state_is_mountpoint": lambda d: ["-f", "-o", _opts(d, state=d.mnt), d.mnt],
    "source_state_missing": lambda d: [d.state + "/nope", d.mnt, "-f", "-o",
                                       _opts(d, state=None)],
    "missing_mountpoint": lambda d: ["-f", "-o", _opts(d), d.base + "/nomnt"],
    # SPEC 2, runtime=: a state dir named after containerd's plugin decides it.
    "runtime_bad_value": lambda d: ["-f", "-o", _opts(d, runtime="v3"), d.mnt],
    "runtime_empty_value": lambda d: ["-f", "-o", _opts(d, runtime=""), d.mnt],
    "runtime_v2_on_v1_dir": lambda d: ["-f", "-o", _opts(d, state=d.base + "/" + V1_DIR,
                                                         runtime="v2"), d.mnt],
    "runtime_v1_on_v2_dir": lambda d: ["-f", "-o", _opts(d, state=d.base + "/" + V2_DIR,
                                                         runtime="v1"), d.mnt],
    "runtime_v1_on_v2_dir_source": lambda d: [d.base + "/" + V2_DIR + "/", d.mnt, "-f", "-o",
                                              _opts(d, state=None, runtime="v1")],
    "v2_dir_with_runtime_root": lambda d: ["-f", "-o", _opts(d, state=d.base + "/" + V2_DIR,
                                                             runtime_root="/r"), d.mnt],
}
# The v1 shim's options are refused with v2.
BAD_STARTS.update({f"v2_with_{k}": (lambda d, kv=(k, v): ["-f", "-o", _opts(
    d, runtime="v2", **{kv[0]: kv[1]}), d.mnt]) for k, v in
    [("runtime_root", "/r"), ("criu", "/usr/sbin/criu"), ("systemd_cgroup", True),
     ("legacy_address", True)]})


@pytest.mark.parametrize("case", sorted(BAD_STARTS))
def test_bad_start_is_refused(dirs, case):
    """Refused with a non-zero exit, exactly one line on stderr, nothing mounted."""
    d = dirs
    with open(d.base + "/afile", "w") as f:
        f.write("x")
    os.mkdir(d.mnt + "/inner")
    plugin_dirs = [d.base + "/" + V1_DIR, d.base + "/" + V2_DIR]
    for p in plugin_dirs:
        os.mkdir(p)
    argv = [bundlefs_bin()] + BAD_STARTS[case](d)
    try:
        r = run(argv)
    finally:
        mounted = is_mounted(d.mnt)
        if mounted:
            unmount(d.mnt)
    err = r.stderr.decode(errors="replace")
    assert r.returncode != 0, f"{argv} exited 0; stderr {err!r}"
    assert not mounted, f"{argv} left a mount behind"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    # Nothing was created in the store either.
    assert os.listdir(d.state) == [] and os.listdir(d.work) == []
    assert all(os.listdir(p) == [] for p in plugin_dirs)


def test_state_dir_as_source_argument(mount_bundlefs):
    m = mount_bundlefs(source_arg=True)
    assert "state=" not in m.option_string()
    ns, bid = m.new_bundle()
    assert os.path.isdir(m.s(ns, bid, "rootfs"))
    assert os.path.isdir(m.w(ns, bid))
    with open(m.s(ns, bid, "probe"), "w") as f:
        f.write("via-store")
    assert open(m.m(ns, bid, "probe")).read() == "via-store"


def test_daemonized_mount_is_live_when_command_returns(dirs):
    d = dirs
    out = open(d.base + "/daemon.out", "wb")
    try:
        r = subprocess.run([bundlefs_bin(), "-o", _opts(d), d.mnt], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, timeout=20)
        live = os.path.ismount(d.mnt)
        pids = daemon_pids(d.mnt)
        try:
            assert r.returncode == 0, open(d.base + "/daemon.out").read()
            assert live, "the command returned before the mount was live"
            assert pids, "no daemon process left running"
            os.mkdir(os.path.join(d.mnt, "dns"))
            assert os.path.isdir(os.path.join(d.state, "dns"))
        finally:
            unmount(d.mnt)
        deadline = time.monotonic() + 10
        while daemon_pids(d.mnt) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = daemon_pids(d.mnt)
        for p in left:
            os.kill(p, 9)
        assert not left, "the daemon did not exit after the unmount"
        assert not is_mounted(d.mnt)
    finally:
        out.close()


# ------------------------------------------------- the mount as mount(8) sees it

@pytest.fixture
def spare_mnts():
    """Fresh mountpoints for daemonized mounts; every one is unmounted and its
    daemon reaped at the end (a daemon left running fails the test)."""
    made = []

    def make():
        d = tempfile.mkdtemp(prefix="bfs-mnt-")
        os.chmod(d, 0o755)
        made.append(d)
        return d

    yield make
    left = []
    for d in made:
        left += reap_mount(d)
        os.rmdir(d)
    assert not left, f"daemons still running after the unmount: {left}"


def _daemonize(argv, env=None):
    """Run a command that mounts and returns (bundlefs, mount.fuse3)."""
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=30, env=env)


@pytest.mark.parametrize("source_arg", [False, True], ids=["state_option", "source"])
def test_mount_source_is_the_state_dir(mount_bundlefs, source_arg):
    """mountinfo, findmnt and df show the state dir as the source, fuse.bundlefs as the type."""
    m = mount_bundlefs(source_arg=source_arg)
    stack = mount_stack(m.mnt)
    assert [(e["fstype"], e["source"]) for e in stack] == \
        [("fuse.bundlefs", os.path.realpath(m.state))]
    out = run(["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--mountpoint", m.mnt]).stdout.decode()
    assert out.split() == [os.path.realpath(m.state), "fuse.bundlefs"]
    out = run(["df", "--output=source", m.mnt]).stdout.decode()
    assert out.splitlines()[1:] == [os.path.realpath(m.state)]


def test_mount_source_with_comma_and_space(mount_bundlefs):
    """A ',' or a space in the state dir's path comes through libfuse's option
    parser and mountinfo's escapes whole."""
    def odd_state(m):
        m.state = os.path.join(m.base, "st a,b\\c")
        os.mkdir(m.state)
    m = mount_bundlefs(source_arg=True, prepare=odd_state)
    assert [e["source"] for e in mount_stack(m.mnt)] == [m.state]
    os.mkdir(m.m("ns"))
    assert os.path.isdir(os.path.join(m.state, "ns"))


DEFAULT_STORE = "/var/lib/bundlefs"


def test_embedded_store_source(spare_mnts):
    """Without state= and work=, the source is the embedded store's state dir
    (root's, runtime v2 by default: /var/lib/bundlefs/v2/state). What the test
    creates there goes again, the store itself too if it was not there before
    (as in test_default_store)."""
    assert os.geteuid() == 0, "the default store of a root daemon is /var/lib/bundlefs"
    existed = os.path.exists(DEFAULT_STORE)
    mnt = spare_mnts()
    try:
        r = _daemonize([bundlefs_bin(), mnt])
        assert r.returncode == 0 and r.stderr == b"", r.stderr
        stack = mount_stack(mnt)
        assert [(e["fstype"], e["source"]) for e in stack] == \
            [("fuse.bundlefs", os.path.join(DEFAULT_STORE, "v2", "state"))]
    finally:
        assert reap_mount(mnt) == []
        if not existed:
            shutil.rmtree(DEFAULT_STORE, ignore_errors=True)


def test_second_mount_on_a_live_mount_is_refused(mount_bundlefs, tmp_path):
    """One line on stderr, a non-zero exit, nothing stacked; the first mount
    keeps working. A second daemon would hide the first and serve the same
    mountpoint twice."""
    m = mount_bundlefs()
    ns = m.new_ns()
    before = mount_stack(m.mnt)
    other_state, other_work = tmp_path / "s2", tmp_path / "w2"
    other_state.mkdir()
    other_work.mkdir()
    for argv in ([bundlefs_bin(), "-o", f"state={m.state},work={m.work}", m.mnt],
                 [bundlefs_bin(), other_state, m.mnt, "-f", "-o", f"work={other_work}"]):
        r = run([str(a) for a in argv])
        err = r.stderr.decode()
        assert r.returncode != 0, err
        assert err.splitlines() == [
            f"bundlefs: {m.mnt}: already mounted (bundlefs of {os.path.realpath(m.state)})"]
        assert mount_stack(m.mnt) == before
        assert os.listdir(m.mnt) == [ns]
    assert os.listdir(other_state) == []


def test_remount_over_a_crashed_used_mount(dirs, spare_mnts):
    """kill -9 of a daemon whose mount was in use (the kernel still holds the
    root's attributes, so stat(2) of the dead mountpoint succeeds), then
    bundlefs again on the same directory: exit 0, nothing on stderr, one live
    mount, the store's content there."""
    d = dirs
    # Made before the start: a mkdir through the mount would have the
    # watcher drop the root's attributes again, at a moment of its own.
    os.mkdir(d.s("ns"))
    d.start()
    os.listdir(d.mnt)
    os.stat(d.mnt)  # last: a readdir makes the kernel drop the root's attributes
    d.kill9()
    assert len(mount_stack(d.mnt)) == 1
    with pytest.raises(OSError) as e:
        os.statvfs(d.mnt)
    assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    os.stat(d.mnt)  # from the cache: stat(2) cannot tell the mount is dead
    r = _daemonize([bundlefs_bin(), d.state, d.mnt, "-o",
                    f"work={d.work},socket_root={d.socket_root}"])
    try:
        assert r.returncode == 0 and r.stderr == b"", r.stderr
        stack = mount_stack(d.mnt)
        assert [e["source"] for e in stack] == [os.path.realpath(d.state)]
        os.statvfs(d.mnt)
        assert os.listdir(d.mnt) == ["ns"]
    finally:
        assert reap_mount(d.mnt) == []


FLAG_CASES = {
    # options: (nosuid, nodev) expected in mountinfo
    "default": ({}, True, True),
    "dev_suid": ({"dev": True, "suid": True}, False, False),
    "allow_dev_allow_suid": ({"allow_dev": True, "allow_suid": True}, False, False),
    "allow_dev": ({"allow_dev": True}, True, False),
    "suid": ({"suid": True}, False, True),
    "dev_then_nodev": ({"dev": True, "nodev": True}, True, True),
    "nosuid_then_allow_suid": ({"nosuid": True, "allow_suid": True}, False, True),
}


@pytest.mark.parametrize("case", FLAG_CASES)
def test_mount_flags(mount_bundlefs, case):
    """nosuid,nodev unless asked otherwise; the later of two contrary options wins."""
    opts, nosuid, nodev = FLAG_CASES[case]
    m = mount_bundlefs(**opts)
    flags = mount_stack(m.mnt)[0]["opts"]
    assert ("nosuid" in flags, "nodev" in flags) == (nosuid, nodev), flags


def _bundlefs_on_path(tmp_path):
    """A PATH whose first directory runs bundlefs under that name, as
    mount.fuse3 looks it up."""
    d = tmp_path / "bin"
    d.mkdir()
    os.symlink(bundlefs_bin(), d / "bundlefs")
    return f"{d}:{os.environ['PATH']}"


@pytest.mark.parametrize("extra, nosuid, nodev", [
    ("", True, True),
    (",dev,suid", False, False),
    (",allow_dev", True, False),
    (",nodev", True, True),
    (",nosuid,allow_dev", True, False),
    (",nosuid,nodev", True, True),
], ids=["default", "dev_suid", "allow_dev", "nodev", "nosuid_allow_dev", "nosuid_nodev"])
def test_mount_fuse3_flags(dirs, spare_mnts, tmp_path, extra, nosuid, nodev):
    """mount.fuse3 (mount -t fuse.bundlefs) appends dev,suid to every option
    list; the daemon drops what it appended, so the default is nosuid,nodev
    there too, and a dev or suid given by the caller stays."""
    mnt = spare_mnts()
    env = dict(os.environ, PATH=_bundlefs_on_path(tmp_path))
    r = _daemonize(["/sbin/mount.fuse3", dirs.state, mnt, "-t", "fuse.bundlefs", "-o",
                    f"work={dirs.work},socket_root={dirs.socket_root}{extra}"], env=env)
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    stack = mount_stack(mnt)
    assert [(e["fstype"], e["source"]) for e in stack] == \
        [("fuse.bundlefs", os.path.realpath(dirs.state))]
    flags = stack[0]["opts"]
    assert ("nosuid" in flags, "nodev" in flags) == (nosuid, nodev), flags


def test_mount_fuse3_with_an_exec_shell(dirs, spare_mnts):
    """Where /bin/sh replaces itself with the command (bash does), the daemon
    mount.fuse3 started has mount(8) as its parent: mount.fuse3's appended
    dev,suid are dropped there too."""
    mnt = spare_mnts()
    parent = ("import ctypes, subprocess, sys\n"
              "ctypes.CDLL(None).prctl(15, b'mount', 0, 0, 0)\n"  # PR_SET_NAME
              "sys.exit(subprocess.run(sys.argv[1:]).returncode)\n")
    r = _daemonize([sys.executable, "-c", parent, bundlefs_bin(), dirs.state, mnt, "-o",
                    f"rw,work={dirs.work},socket_root={dirs.socket_root},dev,suid"])
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert {"nosuid", "nodev"} <= mount_stack(mnt)[0]["opts"]
