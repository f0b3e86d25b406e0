# SPDX-License-Identifier: Apache-2.0
"""Helpers for the bundlefs black-box tests.

Everything here is independent of the daemon's C code: Go's filepath.Join and
Clean, the shim address and shim-config renderings are re-derived from the
containerd sources they describe (SPEC 4.3, 4.4), so that a test compares the
daemon against an expectation it did not produce itself.
"""

import contextlib
import errno
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "common"))

from bfstest import (bundlefs_bin, computed_address, diff_snapshots,  # noqa: E402,F401
                     errno_of, go_clean, go_join, log_problems, mode_of, read_bytes, read_log,
                     snapshot_tree, unmount, wait_started, write_through)

DEFAULT_DAEMON_ADDRESS = "/run/containerd/containerd.sock"

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                      "ThreadSanitizer")


def project_version():
    text = (REPO / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*bundlefs\s+VERSION\s+([0-9.]+)", text)
    return m.group(1)


# ---------------------------------------------------------------- identifiers

def ident(prefix="t"):
    """A fresh valid containerd identifier."""
    return prefix + uuid.uuid4().hex[:12]


# -------------------------------------------------------- Go's path/filepath

def legacy_address(ns, bid):
    return go_join("/", "containerd-shim", ns, bid, "shim.sock")


# ------------------------------------------------------- Go's encoding/json

def go_json_string(s):
    """A string as Go's json.Marshal writes it (HTML-safe escaping)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def shim_config_text(path, ns, workdir, criu, runtime_root, systemd_cgroup):
    """shim.Config as json.Marshal writes it, plus one newline."""
    return ("{"
            f'"Path":{go_json_string(path)},'
            f'"Namespace":{go_json_string(ns)},'
            f'"WorkDir":{go_json_string(workdir)},'
            f'"Criu":{go_json_string(criu)},'
            f'"RuntimeRoot":{go_json_string(runtime_root)},'
            f'"SystemdCgroup":{"true" if systemd_cgroup else "false"}'
            "}\n").encode()


def _json_scalar(v):
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    return str(int(v))


def status_text(complete, address, listening, shim_pid, init_pid, running, old=False):
    """status as SPEC 4.9 describes it: one compact JSON object, keys in the
    spec's order, then one newline. listening and the pids may be None (null);
    stale is derived here: neither the shim listens nor init runs, and the
    bundle is complete or `old` (its directory last modified over 10 s ago)."""
    stale = (complete or old) and listening is not True and not running
    return ("{"
            f'"complete":{_json_scalar(complete)},'
            f'"shim":{{"address":{go_json_string(address)},'
            f'"listening":{_json_scalar(listening)},"pid":{_json_scalar(shim_pid)}}},'
            f'"init":{{"pid":{_json_scalar(init_pid)},"running":{_json_scalar(running)}}},'
            f'"stale":{_json_scalar(stale)}'
            "}\n").encode()


def shim_config_v2_text(path, ns, bid, group, workdir, address, binary, runc_root,
                        runc_binary, systemd_cgroup, sandbox=""):
    """The v2 shim-config (SPEC 7.2) as json.Marshal writes it, plus one newline."""
    fields = [("Path", path), ("Namespace", ns), ("ID", bid), ("Group", group),
              ("WorkDir", workdir), ("Address", address), ("Sandbox", sandbox),
              ("Binary", binary),
              ("RuncRoot", runc_root), ("RuncBinary", runc_binary)]
    body = ",".join(f'"{k}":{go_json_string(v)}' for k, v in fields)
    return ("{" + body + f',"SystemdCgroup":{"true" if systemd_cgroup else "false"}'
            + "}\n").encode()


# ------------------------------------------------------------- config.json

# A valid spec (SPEC 5.2), as the shim tools write one.
VALID_SPEC = json.dumps({"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"},
                         "root": {"path": "rootfs"}}, indent=1) + "\n"


def rejected_re(ns, bid):
    """The log line of a rejected config.json write in bundle ns/bid (SPEC 5.3)."""
    return rf"^bundlefs: {re.escape(ns)}/{re.escape(bid)}: config\.json rejected: \S"


# ---------------------------------------------------------- backing store

def snapshot(*roots):
    """Everything observable about the trees below roots, without following
    symlinks (bfstest.snapshot_tree); an entry removed while walking shows as
    ("vanished",)."""
    return snapshot_tree(roots)


def wait_until(pred, timeout=3.0, poll=0.02):
    """Poll pred() every poll seconds until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(poll)


def bundle_and_mount_source(m, tmp_path):
    """A new bundle on mount m whose rmdir is expected to be logged as not
    deleted, and tmp_path/src holding container-file ("must survive") to
    bind-mount into it: (ns, bid, src)."""
    ns, bid = m.new_bundle()
    m.expect_log(rf"^bundlefs: {ns}/{bid}: not deleted: ")
    src = tmp_path / "src"
    src.mkdir()
    (src / "container-file").write_text("must survive")
    return ns, bid, src


@contextlib.contextmanager
def rmdir_busy_while_mounted(m, ns, bid, src, target):
    """Bind-mount src (holding container-file, "must survive") on target, made if
    missing; rmdir of the bundle through mount m must then fail with EBUSY and
    change nothing. The body runs with the mount in place; it is unmounted after."""
    os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", "--bind", str(src), target], check=True)
    try:
        before = m.snapshot()
        assert errno_of(os.rmdir, m.m(ns, bid)) == errno.EBUSY
        m.assert_unchanged(before)
        assert (src / "container-file").read_text() == "must survive"
        yield
    finally:
        subprocess.run(["umount", target], check=True)


def is_mounted(path):
    """Whether path is a mount point according to /proc/self/mounts."""
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            mp = fields[1].encode().decode("unicode_escape")
            if mp == path:
                return True
    return False


# ------------------------------------------------------------------ mounts

class BundleFS:
    """One running bundlefs daemon in the foreground on fresh directories."""

    def __init__(self, opts=None, source_arg=False):
        self.base = tempfile.mkdtemp(prefix="bfs-bb-")
        self.state = os.path.join(self.base, "state")
        self.work = os.path.join(self.base, "work")
        self.mnt = os.path.join(self.base, "mnt")
        self.socket_root = os.path.join(self.base, "socket_root")
        for d in (self.state, self.work, self.mnt, self.socket_root):
            os.mkdir(d)
        os.mkdir(os.path.join(self.socket_root, "s"))
        self.log_path = os.path.join(self.base, "stderr.log")
        self.expected = []
        self.proc = None
        self.opts = dict(opts or {})
        self.source_arg = source_arg

    # -- life cycle
    def option_string(self):
        o = {}
        if not self.source_arg:
            o["state"] = self.state
        o["work"] = self.work
        o["socket_root"] = self.socket_root
        # The v1 bundle format unless a test names another (runtime=None: the
        # default of SPEC 2, v2, or the state dir's name).
        o["runtime"] = "v1"
        o.update(self.opts)
        parts = []
        for k, v in o.items():
            if v is True:
                parts.append(k)
            elif v is None or v is False:
                continue
            else:
                parts.append(f"{k}={v}")
        return ",".join(parts)

    def argv(self):
        argv = [bundlefs_bin()]
        if self.source_arg:
            argv.append(self.state)
        argv += [self.mnt, "-f", "-o", self.option_string()]
        return argv

    def start(self, timeout=10.0):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        wait_started(self.proc, lambda: os.path.ismount(self.mnt), timeout, self.log_text)
        return self

    def stop(self):
        """Unmount, wait for the daemon; return a list of problems found."""
        problems = []
        if self.proc is None:
            return problems
        unmount(self.mnt)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            rc = self.proc.wait()
            problems.append("bundlefs did not exit within 10 s of the unmount (killed)")
        else:
            if rc != 0:
                problems.append(f"bundlefs exited with status {rc}")
        problems += self.log_problems()
        self.proc = None
        return problems

    def cleanup(self):
        unmount(self.mnt)
        # Bind mounts left behind by a failed test must not make rmtree descend.
        for root in (self.state, self.work):
            with open("/proc/self/mounts") as f:
                mps = [ln.split()[1] for ln in f]
            for mp in reversed(mps):
                if mp.startswith(root + "/"):
                    subprocess.run(["umount", "-l", mp], check=False)
        shutil.rmtree(self.base, ignore_errors=True)

    # -- log
    def log_text(self):
        return read_log(self.log_path)

    def expect_log(self, regex):
        """Declare that a log line matching regex (re.search) may appear."""
        self.expected.append(re.compile(regex))

    def wait_log(self, regex, timeout=5.0):
        """Declare regex expected and wait until a log line matches it."""
        self.expect_log(regex)
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        while True:
            if any(rx.search(ln) for ln in self.log_text().splitlines()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def log_problems(self):
        return log_problems(self.log_text(), self.expected, SANITIZER_PATTERNS)

    # -- paths
    def m(self, *parts):
        return os.path.join(self.mnt, *parts)

    def s(self, *parts):
        return os.path.join(self.state, *parts)

    def w(self, *parts):
        return os.path.join(self.work, *parts)

    # -- convenience
    def sh(self, script, cwd=None, check=False):
        """Run a shell command as a user would; cwd defaults to the mountpoint."""
        return subprocess.run(["sh", "-c", script], cwd=cwd or self.mnt, capture_output=True,
                              check=check)

    def new_ns(self):
        ns = ident("ns")
        os.mkdir(self.m(ns))
        return ns

    def new_bundle(self, ns=None):
        ns = ns or self.new_ns()
        bid = ident("b")
        os.mkdir(self.m(ns, bid))
        return ns, bid

    def snapshot(self):
        return snapshot(self.state, self.work, self.socket_root)

    def assert_unchanged(self, before, timeout=3.0):
        """Assert the backing store equals the snapshot before. The kernel sends
        FUSE's release after close(2) has returned, so what the daemon holds for an
        open file may take a moment to go: poll until equal or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            after = self.snapshot()
            if after == before or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert after == before, diff_snapshots(before, after)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and os.path.ismount(self.mnt)

    def address(self, ns, bid):
        return computed_address(self.opts.get("socket_root", self.socket_root),
                                self.opts.get("daemon_address", DEFAULT_DAEMON_ADDRESS), ns, bid)


def q(s):
    return shlex.quote(str(s))


__all__ = [n for n in dir() if not n.startswith("_")] + ["errno"]
