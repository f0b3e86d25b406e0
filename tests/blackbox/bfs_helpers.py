# SPDX-License-Identifier: Apache-2.0
"""Helpers for the bundlefs black-box tests.

Everything here is independent of the daemon's C code: Go's filepath.Join and
Clean, the shim address and shim-config renderings are re-derived from the
containerd sources they describe (SPEC 4.3, 4.4), so that a test compares the
daemon against an expectation it did not produce itself.
"""

import errno
import hashlib
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DAEMON_ADDRESS = "/run/containerd/containerd.sock"

SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                      "ThreadSanitizer")


def bundlefs_bin():
    """The daemon binary: $BUNDLEFS_BIN, else <repo>/build/fs/bundlefs."""
    path = os.environ.get("BUNDLEFS_BIN") or str(REPO / "build" / "fs" / "bundlefs")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(f"bundlefs binary not found or not executable: {path} "
                           "(build it, or set BUNDLEFS_BIN)")
    return path


def project_version():
    text = (REPO / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*bundlefs\s+VERSION\s+([0-9.]+)", text)
    return m.group(1)


# ---------------------------------------------------------------- identifiers

def ident(prefix="t"):
    """A fresh valid containerd identifier."""
    return prefix + uuid.uuid4().hex[:12]


# -------------------------------------------------------- Go's path/filepath

def go_clean(p):
    """Go's filepath.Clean (Unix)."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    out = []
    for el in p.split("/"):
        if el in ("", "."):
            continue
        if el == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(el)
    res = "/".join(out)
    if rooted:
        res = "/" + res
    return res or "."


def go_join(*elems):
    """Go's filepath.Join: skip empty elements, join with '/', Clean; all empty: ""."""
    parts = [e for e in elems if e != ""]
    if not parts:
        return ""
    return go_clean("/".join(parts))


def computed_address(socket_root, daemon_address, ns, bid):
    digest = hashlib.sha256(go_join(daemon_address, ns, bid).encode()).hexdigest()
    return "unix://" + go_join(socket_root, "s") + "/" + digest


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


# ---------------------------------------------------------- backing store

def snapshot(*roots):
    """Everything observable about the trees below roots, without following
    symlinks: {(root index, relpath): (type, mode, uid, gid, size, digest or target)}.
    Directory sizes are left out (they depend on the filesystem's history)."""
    snap = {}
    for i, root in enumerate(roots):
        root = str(root)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in [""] + dirnames + filenames if dirpath == root else dirnames + filenames:
                full = os.path.join(dirpath, name) if name else dirpath
                rel = os.path.relpath(full, root)
                try:
                    st = os.lstat(full)
                    kind = stat.S_IFMT(st.st_mode)
                    extra = None
                    size = st.st_size
                    if stat.S_ISREG(st.st_mode):
                        h = hashlib.sha256()
                        with open(full, "rb") as f:
                            for chunk in iter(lambda: f.read(1 << 20), b""):
                                h.update(chunk)
                        extra = h.hexdigest()
                    elif stat.S_ISLNK(st.st_mode):
                        extra = os.readlink(full)
                    elif stat.S_ISDIR(st.st_mode):
                        size = None
                except FileNotFoundError:
                    # removed while walking (e.g. the daemon's release of a
                    # temporary file); the caller polls for a stable result
                    snap[(i, rel)] = ("vanished",)
                    continue
                snap[(i, rel)] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size,
                                  extra)
    return snap


def diff_snapshots(before, after):
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            lines.append(f"{k}: {before.get(k)} -> {after.get(k)}")
    return "\n".join(lines)


def wait_until(pred, timeout=3.0):
    """Poll pred() until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(0.02)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


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


def unmount(path):
    subprocess.run(["fusermount3", "-u", "-z", str(path)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def errno_of(fn, *args, **kwargs):
    """Call fn; return the errno of the OSError it raised, or None if it returned."""
    try:
        fn(*args, **kwargs)
    except OSError as e:
        return e.errno
    return None


def write_through(path, data, mode=0o666):
    """open(O_WRONLY|O_CREAT|O_TRUNC), write everything, close: return the
    errno of the first failing step (None if all worked) and which step."""
    if isinstance(data, str):
        data = data.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    except OSError as e:
        return e.errno, "open"
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:1 << 20])
            view = view[n:]
    except OSError as e:
        try:
            os.close(fd)
        except OSError:
            pass
        return e.errno, "write"
    try:
        os.close(fd)
    except OSError as e:
        return e.errno, "close"
    return None, None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


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
        deadline = time.monotonic() + timeout
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                raise RuntimeError(f"bundlefs exited early with {self.proc.returncode}: "
                                   f"{self.log_text()!r}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"bundlefs did not mount within {timeout}s: "
                                   f"{self.log_text()!r}")
            time.sleep(0.02)
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
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

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
        problems = []
        for line in self.log_text().splitlines():
            if not line.strip():
                continue
            if any(p in line for p in SANITIZER_PATTERNS):
                problems.append(f"sanitizer report: {line}")
            elif not any(rx.search(line) for rx in self.expected):
                problems.append(f"unexpected log line: {line}")
        return problems

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
