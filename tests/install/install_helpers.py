# SPDX-License-Identifier: Apache-2.0
"""Helpers of the installation tests: whether a test may change the real
system, commands with their output, where mount(8) looks for helpers, and a
backing store with one bundle for the daemons that mount(8), fstab or a
helper start. The mount table, the daemons' processes and their reaping are
every suite's (tests/common/bfstest.py)."""
import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from bfstest import V2_PLUGIN, BundleFS, daemon_pids, mount_stack

CONFIG = {"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"},
          "root": {"path": "rootfs"}}

# Every file an installation holds, relative to the prefix.
INSTALLED = {
    "bin/bundlefs": 0o755,
    "sbin/mount.bundlefs": 0o755,
    "lib/systemd/system/mnt-node.mount": 0o644,
    "lib/systemd/system/run-bundlefs.mount": 0o644,
    "lib/systemd/system/run-bundlefs_v2.mount": 0o644,
    "share/man/man8/bundlefs.8.gz": 0o644,
    "share/man/man8/mount.bundlefs.8.gz": 0o644,
    "share/doc/bundlefs/copyright": 0o644,
}


def real_enabled():
    return os.environ.get("CI") == "true" or os.environ.get("BUNDLEFS_INSTALL_REAL") == "1"


def require_real():
    """Skip (visibly) unless the run may change the real system; in that
    case the preconditions are required, not optional."""
    if not real_enabled():
        pytest.skip("changes /usr and the package database: "
                    "runs with CI=true or BUNDLEFS_INSTALL_REAL=1")
    assert os.geteuid() == 0, "real installation tests need root"


def run(cmd, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    res = subprocess.run([str(c) for c in cmd], **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd} exited {res.returncode}\n"
                             f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


def where_mount_looks(path):
    """Whether path is a mount.<type> helper in the directory mount(8)
    searches (/sbin, which /usr/sbin is on a merged /usr)."""
    return os.path.samefile(os.path.dirname(path), "/sbin")


def mounts_at(path):
    """fstypes of the mounts whose mountpoint is path, bottom to top."""
    return [e["fstype"] for e in mount_stack(path)]


def wait_gone(pid, what="process"):
    # A bound against a hang, not a timing assertion.
    for _ in range(600):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return  # exited; only its parent's wait is missing
        time.sleep(0.05)
    raise AssertionError(f"{what} {pid} did not exit")


def umount_and_wait(mnt):
    """umount mnt and check that the daemon serving it exits by itself."""
    pids = daemon_pids(mnt)
    assert len(pids) == 1, f"expected one daemon for {mnt}, found {pids}"
    run(["umount", mnt])
    wait_gone(pids[0], "bundlefs daemon")
    assert mounts_at(mnt) == []


class WebStore(BundleFS):
    """A backing store with namespace 'default' and bundle 'web' (state/,
    work/ and mnt/ of a BundleFS whose daemons the test starts through
    mount(8), fstab or a helper). cleanup() unmounts mnt and ends the daemon
    serving it, whoever started it."""

    def __init__(self):
        super().__init__()
        os.makedirs(self.s("default", "web", "rootfs"))
        self.config = json.dumps(CONFIG)
        with open(self.s("default", "web", "config.json"), "w") as f:
            f.write(self.config)
        os.makedirs(self.w("default", "web"))

    def check_visible(self, mnt=None):
        m = Path(mnt or self.mnt)
        assert os.listdir(m) == ["default"]
        assert os.listdir(m / "default") == ["web"]
        assert (m / "default" / "web" / "config.json").read_text() == self.config
        shim = json.loads((m / "default" / "web" / "shim-config").read_text())
        assert shim["Namespace"] == "default"
        assert shim["WorkDir"] == self.w("default", "web")

    def check_ro(self, mnt=None):
        m = Path(mnt or self.mnt)
        with pytest.raises(OSError) as e:
            os.mkdir(m / "default" / "new")
        assert e.value.errno == errno.EROFS
        assert not os.path.exists(self.s("default", "new"))

    def check_rw(self, mnt=None):
        m = Path(mnt or self.mnt)
        os.mkdir(m / "default" / "new")
        assert os.path.isdir(self.s("default", "new", "rootfs"))
        assert os.path.isdir(self.w("default", "new"))
        os.rmdir(m / "default" / "new")
        assert not os.path.exists(self.s("default", "new"))


class NodeStore(BundleFS):
    """containerd's state and root (cs/, cr/) with one pod's sandbox in the
    v2 plugin, and the mountpoint of a node view of them (mountpoint), whose
    daemons the test starts through mount(8) or the helper."""

    POD = "default_web_u1"

    def __init__(self):
        super().__init__(node=V2_PLUGIN)
        os.makedirs(self.s("k8s.io", "sb1", "rootfs"))
        with open(self.s("k8s.io", "sb1", "config.json"), "w") as f:
            f.write(json.dumps({"ociVersion": "1.1.0", "annotations": {
                "io.kubernetes.cri.sandbox-namespace": "default",
                "io.kubernetes.cri.sandbox-name": "web",
                "io.kubernetes.cri.sandbox-uid": "u1",
                "io.kubernetes.cri.container-type": "sandbox"}}))
        os.makedirs(self.w("k8s.io", "sb1"))

    def check_visible(self):
        m = Path(self.mountpoint)
        assert sorted(os.listdir(m)) == [V2_PLUGIN, "leaks", "pods"]
        assert os.listdir(m / "pods") == [self.POD]
        link = m / "pods" / self.POD / "sandbox"
        assert os.readlink(link) == f"../../{V2_PLUGIN}/k8s.io/sb1"
        assert json.loads((link / "status").read_text())["complete"] is True
        assert (m / "leaks").read_text() == \
            '{"kind":"bundle","path":"%s/k8s.io/sb1","reason":"stale"}\n' % V2_PLUGIN

    def check_ro(self):
        m = Path(self.mountpoint)
        for path in (m / "x", m / V2_PLUGIN / "k8s.io" / "new"):
            with pytest.raises(OSError) as e:
                os.mkdir(path)
            assert e.value.errno == errno.EROFS
        assert not os.path.exists(self.s("k8s.io", "new"))
