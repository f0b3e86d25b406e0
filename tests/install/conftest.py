# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the installation tests: a build configured for prefix /usr,
backing stores with one bundle, mountpoints that are always unmounted.

Tests that change the real system (install into /usr, install the Debian
package) run when CI=true or BUNDLEFS_INSTALL_REAL=1, and are skipped with
that reason otherwise. BUNDLEFS_INSTALL_BUILD_DIR reuses a build directory
configured with -DCMAKE_INSTALL_PREFIX=/usr instead of building one.
"""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "common"))

from bfstest import mount_stack, mountinfo  # noqa: E402,F401

CONFIG = {"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"},
          "root": {"path": "rootfs"}}


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


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    given = os.environ.get("BUNDLEFS_INSTALL_BUILD_DIR")
    if given:
        d = Path(given)
        cache = (d / "CMakeCache.txt").read_text()
        assert "CMAKE_INSTALL_PREFIX:PATH=/usr\n" in cache, \
            f"{d} must be configured with -DCMAKE_INSTALL_PREFIX=/usr"
    else:
        d = tmp_path_factory.mktemp("build")
        run(["cmake", "-S", REPO, "-B", d, "-DCMAKE_INSTALL_PREFIX=/usr",
             "-DBUILD_TESTING=OFF"])
    run(["cmake", "--build", d, "-j2"])
    return d


@pytest.fixture(scope="session")
def default_build_dir(tmp_path_factory):
    """A build configured with no prefix at all (CMake's /usr/local), as a
    plain "cmake -S . -B build" makes it."""
    d = tmp_path_factory.mktemp("build-default")
    run(["cmake", "-S", REPO, "-B", d, "-DBUILD_TESTING=OFF"])
    run(["cmake", "--build", d, "-j2"])
    return d


def where_mount_looks(path):
    """Whether path is a mount.<type> helper in the directory mount(8)
    searches (/sbin, which /usr/sbin is on a merged /usr)."""
    return os.path.samefile(os.path.dirname(path), "/sbin")


@pytest.fixture(scope="session")
def helper_bin(build_dir):
    return build_dir / "mount-helper" / "mount.bundlefs"


@pytest.fixture(scope="session")
def daemon_bin(build_dir):
    return build_dir / "fs" / "bundlefs"


def mounts_at(path):
    """fstypes of the mounts whose mountpoint is path, bottom to top."""
    path = str(path)
    return [fstype for _id, _dev, mp, fstype, _src, _opts in mountinfo() if mp == path]


def daemon_pids(mnt):
    """Processes running bundlefs with mnt on their command line."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"bundlefs" and \
                str(mnt).encode() in argv:
            pids.append(int(p.name))
    return pids


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


def cleanup_mount(mnt):
    while mounts_at(mnt):
        r = subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        if r.returncode != 0:
            break
    for pid in daemon_pids(mnt):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Store:
    """A backing store with namespace 'default' and bundle 'web'."""

    def __init__(self, base):
        self.state = base / "state"
        self.work = base / "work"
        self.mnt = base / "mnt"
        for d in (self.state, self.work, self.mnt):
            d.mkdir()
        b = self.state / "default" / "web"
        (b / "rootfs").mkdir(parents=True)
        self.config = json.dumps(CONFIG)
        (b / "config.json").write_text(self.config)
        (self.work / "default" / "web").mkdir(parents=True)

    def check_visible(self, mnt=None):
        m = Path(mnt or self.mnt)
        assert os.listdir(m) == ["default"]
        assert os.listdir(m / "default") == ["web"]
        assert (m / "default" / "web" / "config.json").read_text() == self.config
        shim = json.loads((m / "default" / "web" / "shim-config").read_text())
        assert shim["Namespace"] == "default"
        assert shim["WorkDir"] == str(self.work / "default" / "web")

    def check_ro(self, mnt=None):
        m = Path(mnt or self.mnt)
        with pytest.raises(OSError) as e:
            os.mkdir(m / "default" / "new")
        assert e.value.errno == errno.EROFS
        assert not (self.state / "default" / "new").exists()

    def check_rw(self, mnt=None):
        m = Path(mnt or self.mnt)
        os.mkdir(m / "default" / "new")
        assert (self.state / "default" / "new" / "rootfs").is_dir()
        assert (self.work / "default" / "new").is_dir()
        os.rmdir(m / "default" / "new")
        assert not (self.state / "default" / "new").exists()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    yield s
    cleanup_mount(s.mnt)


def umount_and_wait(mnt):
    """umount mnt and check that the daemon serving it exits by itself."""
    pids = daemon_pids(mnt)
    assert len(pids) == 1, f"expected one daemon for {mnt}, found {pids}"
    run(["umount", mnt])
    wait_gone(pids[0], "bundlefs daemon")
    assert mounts_at(mnt) == []

