# SPDX-License-Identifier: Apache-2.0
"""Helpers for the bundlefs reliability tests (SPEC 4.7, 5.3, 5.4, 5.5).

A `Store` is a fresh temporary directory holding state/, work/, socket_root/s/
and a mountpoint; `Store.start()` runs one bundlefs daemon on it in the
foreground and returns a `Daemon`. A store may be served by several daemons in
turn (the crash tests kill one with SIGKILL and mount again on the same,
stale, mountpoint). Every daemon's stderr goes to its own file; `problems()`
lists sanitizer reports and log lines no pattern declared with `expect_log()`.
"""

import hashlib
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "common"))

from bfstest import (bundlefs_bin, diff_snapshots, errno_of, go_join, log_problems,  # noqa: E402,F401
                     mode_of, mountinfo, read_log, snapshot_tree, unmount, wait_started)
from bfstest import read_bytes as read_file  # noqa: E402,F401
from bfstest import write_through as write_file  # noqa: E402,F401

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                      "ERROR: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")

# The ids the identifier rule accepts (SPEC 5.1).
IDENT_RE = re.compile(rb"^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$")
TMP_PREFIX = b".bundlefs-"


def mounts_below(path):
    """Mount points at or below path (from /proc/self/mountinfo), deepest first."""
    path = os.path.realpath(path)
    out = [mp for _id, _dev, mp, _fs, _src in mountinfo()
           if mp == path or mp.startswith(path + "/")]
    return sorted(out, key=len, reverse=True)


def mount_ids_at(path):
    """The ids of the mounts whose mount point is exactly path (mountinfo)."""
    path = os.path.realpath(path)
    return {mid for mid, _dev, mp, _fs, _src in mountinfo() if mp == path}


def bundlefs_mounted_at(path):
    """True if the top mount at exactly path is a bundlefs mount (mountinfo)."""
    path = os.path.realpath(path)
    top = None
    for _id, _dev, mp, fstype, _src in mountinfo():
        if mp == path:
            top = fstype
    return top == "fuse.bundlefs"


def is_served(mnt, old_ids=frozenset()):
    """A bundlefs mount is on top at mnt, mnt resolves to that very mount, and
    it answers statfs (statfs always reaches the daemon: a stale FUSE mount
    answers ENOTCONN even while stat() still succeeds from the attribute
    cache). The device check closes a race: a restarting daemon detaches the
    stale mount between our read of the mount table and our statfs, which
    would then succeed on the directory underneath. Mount ids are not
    compared: the kernel reuses the id of a detached mount at once."""
    del old_ids
    path = os.path.realpath(mnt)
    top = None
    for _id, dev, mp, fstype, _src in mountinfo():
        if mp == path:
            top = (dev, fstype)
    if not top or top[1] != "fuse.bundlefs":
        return False
    try:
        st = os.stat(mnt)
        os.statvfs(mnt)
        after = os.stat(mnt)
    except OSError:
        return False
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    return dev == top[0] and after.st_dev == st.st_dev


def snapshot(*roots):
    """Everything observable below roots without following symlinks, paths as
    bytes (bfstest.snapshot_tree); an entry removed while walking (a release
    in flight) is left out."""
    return snapshot_tree(roots, fsencode=True, mark_vanished=False)


def leftovers(state, work):
    """Hidden leftovers the start-up sweep must remove (SPEC 5.4): directories
    .<identifier> directly in S/<ns> and W/<ns>, and .bundlefs-* entries at any
    depth of S or W."""
    found = []
    for root in (os.fsencode(state), os.fsencode(work)):
        for ns in os.listdir(root):
            p = os.path.join(root, ns)
            if not ns.startswith(b".") and stat.S_ISDIR(os.lstat(p).st_mode):
                for name in os.listdir(p):
                    q = os.path.join(p, name)
                    if (name.startswith(b".") and IDENT_RE.match(name[1:])
                            and stat.S_ISDIR(os.lstat(q).st_mode)):
                        found.append(q)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in dirnames + filenames:
                if name.startswith(TMP_PREFIX):
                    found.append(os.path.join(dirpath, name))
    return sorted(set(found))


class Daemon:
    """One bundlefs process serving a Store."""

    def __init__(self, store, log_path, opts, nofile=None):
        self.store = store
        old_ids = mount_ids_at(store.mnt)
        self.log_path = log_path
        argv = [bundlefs_bin(), store.mnt, "-f", "-o", store.option_string(opts)]
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        env = dict(os.environ)
        # Leaks are reported at a clean exit; keep the report on stderr.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, preexec_fn=preexec, env=env)
        self.pid = self.proc.pid
        self.killed = False
        self.old_ids = old_ids

    def wait_mounted(self, timeout=20.0):
        wait_started(self.proc, lambda: is_served(self.store.mnt, self.old_ids), timeout,
                     self.log_text)

    def kill9(self):
        self.killed = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """Unmount and reap; a list of problems (exit status, log)."""
        problems = []
        if self.proc.poll() is None or not self.killed:
            unmount(self.store.mnt)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            problems.append("bundlefs did not exit within 20 s of the unmount (killed)")
        if not self.killed and rc != 0:
            problems.append(f"bundlefs exited with status {rc}")
        return problems + self.log_problems()

    def fd_count(self):
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return None

    def log_text(self):
        return read_log(self.log_path)

    def log_problems(self):
        return log_problems(self.log_text(), self.store.expected, SANITIZER_PATTERNS)


class Store:
    """Fresh backing store + mountpoint; serves daemons one after another."""

    def __init__(self, mnt_depth=1, tmp_root=None):
        self.base = tempfile.mkdtemp(prefix="bfs-rel-", dir=tmp_root)
        self.state = os.path.join(self.base, "state")
        self.work = os.path.join(self.base, "work")
        self.socket_root = os.path.join(self.base, "socket_root")
        # A deeper mountpoint lets relative symlink targets resolve differently
        # through the mount and in the backing store (test_symlink_race).
        self.mnt = os.path.join(self.base, *(["d"] * (mnt_depth - 1)), "mnt")
        for d in (self.state, self.work, self.socket_root):
            os.mkdir(d)
        os.makedirs(self.mnt)
        os.mkdir(os.path.join(self.socket_root, "s"))
        self.expected = []
        self.daemons = []
        self.current = None

    def option_string(self, opts):
        # The v1 bundle format unless a test names another (SPEC 2's default is v2).
        o = {"state": self.state, "work": self.work, "socket_root": self.socket_root,
             "runtime": "v1"}
        o.update(opts or {})
        return ",".join(k if v is True else f"{k}={v}" for k, v in o.items()
                        if v is not None and v is not False)

    def expect_log(self, regex):
        """Declare that log lines matching regex (re.search) may appear."""
        self.expected.append(re.compile(regex))

    def start(self, opts=None, nofile=None):
        n = len(self.daemons)
        d = Daemon(self, os.path.join(self.base, f"stderr.{n}.log"), opts, nofile)
        self.daemons.append(d)
        self.current = d
        d.wait_mounted()
        return d

    def stop_all(self):
        problems = []
        for d in self.daemons:
            problems += [f"daemon #{self.daemons.index(d)}: {p}" for p in d.stop()]
        return problems

    def cleanup(self):
        import shutil
        unmount(self.mnt)
        for mp in mounts_below(self.base):
            subprocess.run(["umount", "-l", mp], check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(self.base, ignore_errors=True)

    # paths
    def m(self, *parts):
        return os.path.join(self.mnt, *parts)

    def s(self, *parts):
        return os.path.join(self.state, *parts)

    def w(self, *parts):
        return os.path.join(self.work, *parts)

    def backing_snapshot(self):
        return snapshot(self.state, self.work, self.socket_root)

    def settled_snapshot(self, before, timeout=3.0):
        """A snapshot taken once the store equals `before`, or after timeout.
        The kernel sends FUSE's release after close() has returned, so a
        staging file may outlive the close by a moment."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.backing_snapshot()
            if snap == before or time.monotonic() > deadline:
                return snap
            time.sleep(0.02)


# ------------------------------------------------------------ crash storm

def config_version(bid, tag):
    """The config.json the crash-storm writers write as version `tag` of bundle
    `bid`: valid for SPEC 5.2, distinct per version, and 1 KiB..400 KiB long so
    that one write spans several FUSE write requests (a torn file is visible)."""
    import json
    h = int(hashlib.sha256(f"{bid}/{tag}".encode()).hexdigest()[:8], 16)
    pad = "%s-%s|" % (bid, tag)
    pad = (pad * (1 + (1024 + h % (400 * 1024)) // len(pad)))
    doc = {"ociVersion": "1.0.2", "bundlefsTest": {"id": bid, "tag": tag},
           "linux": {"gidMappings": [{"containerID": 1, "hostID": 1000 + h % 1000,
                                      "size": 1}]},
           "pad": pad}
    return json.dumps(doc).encode()


def config_tag(data):
    """(id, tag) named inside a crash-storm config.json, or None."""
    import json
    try:
        t = json.loads(data)["bundlefsTest"]
        return t["id"], t["tag"]
    except (ValueError, KeyError, TypeError):
        return None


def address_version(bid, tag):
    """The address the crash-storm writers store as version `tag` of bundle
    `bid` (a v2 shim's format: no newline)."""
    return ("unix:///run/containerd/s/" + hashlib.sha256(f"{bid}/{tag}".encode()).hexdigest()
            ).encode()
