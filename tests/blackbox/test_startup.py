# SPDX-License-Identifier: Apache-2.0
"""SPEC 2: starting bundlefs, refusing bad set-ups, daemonizing after the mount is live.

(The embedded default store is exercised in test_default_store.py.)
"""

import os
import subprocess
import time

import pytest

from bfs_helpers import BundleFS, bundlefs_bin, is_mounted, project_version, unmount


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
                "bundle_root="):
        assert opt in out, f"--help does not mention {opt}"


def test_version_exits_zero_and_prints_version():
    r = run([bundlefs_bin(), "--version"])
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert project_version() in out


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


def _daemon_pids(mnt):
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if mnt.encode() in argv and any(a.endswith(b"bundlefs") for a in argv[:1]):
            pids.append(int(p))
    return pids


def test_daemonized_mount_is_live_when_command_returns(dirs):
    d = dirs
    out = open(d.base + "/daemon.out", "wb")
    try:
        r = subprocess.run([bundlefs_bin(), "-o", _opts(d), d.mnt], stdin=subprocess.DEVNULL,
                           stdout=out, stderr=out, timeout=20)
        live = os.path.ismount(d.mnt)
        pids = _daemon_pids(d.mnt)
        try:
            assert r.returncode == 0, open(d.base + "/daemon.out").read()
            assert live, "the command returned before the mount was live"
            assert pids, "no daemon process left running"
            os.mkdir(os.path.join(d.mnt, "dns"))
            assert os.path.isdir(os.path.join(d.state, "dns"))
        finally:
            unmount(d.mnt)
        deadline = time.monotonic() + 10
        while _daemon_pids(d.mnt) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _daemon_pids(d.mnt)
        for p in left:
            os.kill(p, 9)
        assert not left, "the daemon did not exit after the unmount"
        assert not is_mounted(d.mnt)
    finally:
        out.close()
