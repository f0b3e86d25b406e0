# SPDX-License-Identifier: Apache-2.0
"""The bundlefs test harness, shared by every Python suite.

`BundleFS` is the one way the suites run the daemon: fresh directories, the
options, a start that watches for an early exit, a stop that unmounts with
`fusermount3 -u -z` and checks the exit status and the log (one list of
sanitizer patterns, the log lines a test declared), and snapshots of the
backing store. tests/conftest.py hands it out through fixtures (see
tests/README.md). Around it: locating the binary, mount-table and /proc
look-ups, file calls that report an errno, and the snapshots themselves.

What containerd's Go code computes lives beside this file, in gorender.py.
"""

import collections
import contextlib
import ctypes
import errno
import hashlib
import os
import re
import resource
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from gorender import DEFAULT_DAEMON_ADDRESS, computed_address

REPO = Path(__file__).resolve().parents[2]

# A line holding one of these is a sanitizer's report (ASan, LSan, UBSan, TSan).
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "LeakSanitizer", "runtime error:",
                      "SUMMARY: UndefinedBehaviorSanitizer", "ThreadSanitizer")

# How long a daemon may take to mount, and to exit once unmounted (twice:
# then it is killed). Bounds against a hang, not timing assertions.
START_TIMEOUT = 20.0
EXIT_TIMEOUT = 10.0
# How long a daemon held alive by a copy of its mount in another mount
# namespace (see foreign_holders) may wait for it to go before SIGTERM.
HOLDERS_TIMEOUT = 30.0


# ------------------------------------------------------------- the build

def bundlefs_bin():
    """The daemon binary: $BUNDLEFS_BIN, else <repo>/build/fs/bundlefs."""
    path = os.environ.get("BUNDLEFS_BIN") or str(REPO / "build" / "fs" / "bundlefs")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(f"bundlefs binary not found or not executable: {path} "
                           "(build it, or set BUNDLEFS_BIN)")
    return path


def build_dir():
    """The build directory: $BUNDLEFS_BUILD, else the one the daemon binary
    ($BUNDLEFS_BIN, else <repo>/build/fs/bundlefs) was built in."""
    if os.environ.get("BUNDLEFS_BUILD"):
        return Path(os.environ["BUNDLEFS_BUILD"])
    binary = os.environ.get("BUNDLEFS_BIN") or str(REPO / "build" / "fs" / "bundlefs")
    return Path(binary).parent.parent


# ------------------------------------------------------- names and calls

def ident(prefix="t"):
    """A fresh valid containerd identifier."""
    return prefix + uuid.uuid4().hex[:12]


def q(s):
    """s quoted for sh."""
    return shlex.quote(str(s))


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
            pass            # the write's error is the one that counts
        return e.errno, "write"
    try:
        os.close(fd)
    except OSError as e:
        return e.errno, "close"
    return None, None


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


# In a daemon's -d log: the kernel forgetting inodes, and a kernel without
# FUSE_NOTIFY_PRUNE (logged once; such names stay until memory pressure).
FORGET = re.compile(r"opcode: (?:BATCH_)?FORGET \(")
PRUNE_MISSING = r"^bundlefs: the kernel cannot prune entries \(FUSE_NOTIFY_PRUNE\)"


def wait_until(pred, timeout=3.0, poll=0.02):
    """Poll pred() every poll seconds until true or timeout; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(poll)


# ---------------------------------------------------------- backing store

def fd_links(pid):
    """What each open descriptor of process pid is (readlink of /proc/PID/fd/N)."""
    fd_dir = f"/proc/{pid}/fd"
    out = []
    for fd in os.listdir(fd_dir):
        try:
            out.append(os.readlink(os.path.join(fd_dir, fd)))
        except FileNotFoundError:
            pass
    return out


def snapshot(*roots, times=False, mark_vanished=True):
    """Everything observable about the trees below roots, without following
    symlinks: {(root index, relpath): (type, mode, uid, gid, size, sha256 or
    link target)}, with (mtime ns, link count) added when times is true.
    Directory sizes are left out (they depend on the file system's history).
    An entry removed while walking (e.g. the daemon's release of a temporary
    file) is recorded as ("vanished",) with mark_vanished, else left out."""
    snap = {}
    for i, root in enumerate(roots):
        root = str(root)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            names = dirnames + filenames
            if dirpath == root:
                names = [""] + names
            for name in names:
                full = os.path.join(dirpath, name) if name else dirpath
                rel = os.path.relpath(full, root)
                try:
                    st = os.lstat(full)
                    extra, size = None, st.st_size
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
                    if mark_vanished:
                        snap[(i, rel)] = ("vanished",)
                    continue
                snap[(i, rel)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                  st.st_gid, size, extra)
                if times:
                    snap[(i, rel)] += (st.st_mtime_ns, st.st_nlink)
    return snap


def diff_snapshots(before, after):
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            lines.append(f"{k}: {before.get(k)} -> {after.get(k)}")
    return "\n".join(lines)


# ------------------------------------------------------------------ mounts

Mount = collections.namedtuple("Mount", "id dev point fstype source opts")

_libc = ctypes.CDLL(None, use_errno=True)
_MNT_DETACH = 2


def _unescape(s):
    """A mountinfo field with the kernel's \\ooo octal escapes undone."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 4 <= len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _real(path):
    """path with its directory resolved; the last component is not looked at,
    so that a hung or dead mount there is never reached."""
    path = os.fspath(path).rstrip("/") or "/"
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def mountinfo():
    """[Mount(id, "major:minor", mount point, fstype, source, per-mount
    options as a set)] of this mount namespace from /proc/self/mountinfo,
    in mount order (bottom to top)."""
    result = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            lf, rf = left.split(), right.split()
            result.append(Mount(int(lf[0]), lf[2], _unescape(lf[4]), rf[0], _unescape(rf[1]),
                                set(lf[5].split(","))))
    return result


def mount_stack(path):
    """The mounts whose mount point is exactly path, bottom to top, each a dict
    with id, dev, fstype, source and opts (the per-mount options, a set:
    nosuid, nodev, ro...)."""
    path = _real(path)
    return [{"id": m.id, "dev": m.dev, "fstype": m.fstype, "source": m.source, "opts": m.opts}
            for m in mountinfo() if m.point == path]


def is_mounted(path, fstype=None):
    """Whether something (of type fstype, if given) is mounted at exactly path."""
    return any(fstype is None or e["fstype"] == fstype for e in mount_stack(path))


def mounts_below(path):
    """Mount points at or below path, the latest mounted first (so each can be
    detached in turn)."""
    path = _real(path)
    return [m.point for m in reversed(mountinfo())
            if m.point == path or m.point.startswith(path + "/")]


def is_served(mnt):
    """A bundlefs mount is on top at mnt, mnt resolves to that very mount, and
    it answers statfs (statfs always reaches the daemon: a stale FUSE mount
    answers ENOTCONN even while stat() still succeeds from the attribute
    cache). The device check closes a race: a restarting daemon detaches the
    stale mount between our read of the mount table and our statfs, which
    would then succeed on the directory underneath."""
    stack = mount_stack(mnt)
    if not stack or stack[-1]["fstype"] != "fuse.bundlefs":
        return False
    try:
        st = os.stat(mnt)
        os.statvfs(mnt)
        after = os.stat(mnt)
    except OSError:
        return False
    dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    return dev == stack[-1]["dev"] and after.st_dev == st.st_dev


def unmount(path):
    """fusermount3 -u -z path; its error output, "" when it succeeded."""
    r = subprocess.run(["fusermount3", "-u", "-z", str(path)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30, check=False)
    return r.stderr.strip() if r.returncode != 0 else ""


def detach(path):
    """umount2(path, MNT_DETACH): any file system, as root; a path below a
    dead FUSE mount (ENOTCONN) goes with that mount."""
    if _libc.umount2(os.fsencode(path), _MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT, errno.ENOTCONN):
            raise OSError(e, os.strerror(e), path)


def cmdline(pid):
    """The argv of process pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def daemon_pids(mnt):
    """Processes running bundlefs with mnt on their command line."""
    mnt = str(mnt)
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = cmdline(int(entry))
            if argv and os.path.basename(argv[0]) == "bundlefs" and mnt in argv:
                pids.append(int(entry))
    return pids


def reap_mount(mnt, timeout=10.0):
    """Unmount every layer at mnt and wait for the daemons serving it (found by
    their command line, whoever started them) to exit; kill those still
    running after timeout and return their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack = mount_stack(mnt)
        if not stack:
            break
        if stack[-1]["fstype"].startswith("fuse"):
            unmount(mnt)
        else:
            detach(mnt)
    while daemon_pids(mnt) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = daemon_pids(mnt)
    for pid in left:
        sigkill(pid)
    return left


def sigkill(pid):
    """SIGKILL process pid, if it is still there."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def listdir_sorted(path):
    """The sorted names in directory path; none if it cannot be read."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _read_text(path):
    with open(path) as f:
        return f.read()


def mount_users(path):
    """Processes whose cwd, root or an open file lies at or below path (a walk
    of /proc: tens of milliseconds)."""
    users = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        links = ["cwd", "root"] + ["fd/" + fd for fd in listdir_sorted(f"/proc/{entry}/fd")]
        for link in links:
            try:
                target = os.readlink(f"/proc/{entry}/{link}")
            except OSError:
                continue
            if target == path or target.startswith(path + "/"):
                users.append("%s(%s) %s -> %s" % (entry, " ".join(cmdline(int(entry)) or []),
                                                 link, target))
    return users


def foreign_holders(dev):
    """Processes in another mount namespace that hold a copy of the mount of device dev.

    A lazy unmount only detaches the mount in this namespace: a namespace created
    meanwhile by anyone on the machine (unshare -m, a container) keeps its copy,
    and the FUSE connection lives until that namespace goes away.
    """
    mine = os.readlink("/proc/self/ns/mnt")
    found, seen = [], set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{entry}/ns/mnt")
            if ns == mine or ns in seen:
                continue
            info = _read_text(f"/proc/{entry}/mountinfo")
        except OSError:
            continue
        hits = [ln.split()[4] for ln in info.splitlines() if ln.split()[2] == dev]
        if hits:
            seen.add(ns)
            found.append("pid %s in %s (%s) has %s" % (
                entry, ns, " ".join(cmdline(int(entry)) or []), ", ".join(hits)))
    return found


def hang_report(pid, users):
    """What a daemon that does not exit is waiting for, and who used its mount."""
    lines = []
    for tid in listdir_sorted(f"/proc/{pid}/task"):
        try:
            wchan = _read_text(f"/proc/{pid}/task/{tid}/wchan")
            state = _read_text(f"/proc/{pid}/task/{tid}/stat").split(")")[-1].split()[0]
        except OSError:
            continue
        lines.append(f"thread {tid} state {state} wchan {wchan}")
    for conn in listdir_sorted("/sys/fs/fuse/connections"):
        try:
            waiting = _read_text(f"/sys/fs/fuse/connections/{conn}/waiting").strip()
        except OSError:
            continue
        lines.append(f"fuse connection {conn} waiting {waiting}")
    lines += ["user at unmount: " + u for u in users] or ["no process used the mount"]
    return "\n    ".join([""] + lines)


# ------------------------------------------------------------------- logs

def read_log(path):
    """The text of a daemon's log file ("" if it does not exist yet)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


# The daemon's line when it serves FUSE over io_uring (fs/ring.c).
RING_LOG = re.compile(r"^bundlefs: FUSE over io_uring: \d+ queues, one for each CPU$")
# The fuse module's parameter that lets the kernel offer FUSE over io_uring
# (Linux 6.14 and later); for the whole machine, read at each mount's INIT.
RING_PARAM = "/sys/module/fuse/parameters/enable_uring"


def ring_offered():
    """Whether the kernel offers FUSE over io_uring to new mounts now."""
    try:
        with open(RING_PARAM) as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


@contextlib.contextmanager
def enable_uring(value):
    """RING_PARAM set to value (bool) for the block, put back after."""
    with open(RING_PARAM) as f:
        old = f.read().strip()
    with open(RING_PARAM, "w") as f:
        f.write("Y" if value else "N")
    try:
        yield
    finally:
        with open(RING_PARAM, "w") as f:
            f.write(old)


def log_problems(text, expected):
    """The log lines of text that hold a sanitizer pattern or match none of
    the compiled regexes in expected (re.search), one message a line; the
    first sanitizer report is quoted whole."""
    problems = []
    lines = text.splitlines()
    quoted = False
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if any(p in line for p in SANITIZER_PATTERNS):
            if quoted:
                problems.append(f"sanitizer report: {line}")
            else:
                problems.append("sanitizer report:\n" + "\n".join(lines[i:i + 60]))
                quoted = True
        elif not any(rx.search(line) for rx in expected):
            problems.append(f"unexpected log line: {line}")
    return problems


# ------------------------------------------------------------- the daemon

def _wait(proc, timeout):
    """proc's exit status, or None if it is still running after timeout."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


class _Run:
    """One daemon process: its Popen, its log, whether the test killed it."""

    def __init__(self, n, proc, log_path):
        self.n, self.proc, self.log_path, self.killed = n, proc, log_path, False


# containerd's plugin directories in a node view (SPEC 8.2), by their rules.
V1_PLUGIN = "io.containerd.runtime.v1.linux"
V2_PLUGIN = "io.containerd.runtime.v2.task"
SANDBOX_PLUGIN = "io.containerd.sandbox.controller.v1.shim"
NODE_PLUGINS = (V2_PLUGIN, V1_PLUGIN, SANDBOX_PLUGIN)


class BundleFS:
    """bundlefs daemons serving one backing store on one mountpoint in the
    foreground, one after another (a test may kill one and start the next on
    the same, stale, mountpoint).

    The directories are fresh, below a new temporary directory `base` (made
    in tmp_root if given): state/, work/, socket_root/ with its s/, and the
    mountpoint mnt/, mnt_depth levels below base (a deeper mountpoint lets
    relative symlink targets resolve differently through the mount and in
    the store). `dirs` names existing directories instead: {"base": where the
    logs go, "state", "work", "mnt", "socket_root" (None: no socket_root=
    option)}; cleanup() then leaves them alone.

    opts are the daemon's -o options: True for a flag, a string for
    NAME=VALUE, None or False for none. state= (unless source_arg: then the
    state dir is the first argument), work= and socket_root= name the
    directories, and runtime=v1 is given unless opts name another runtime
    (runtime=None: the daemon's default, v2, or the state dir's name). args
    are more command-line arguments (-d); binary is the daemon's, if not
    bundlefs_bin().

    stop() unmounts and checks every daemon started since the last stop: it
    exits with status 0 after the unmount (unless the test killed it, or a
    copy of the mount in another mount namespace kept it alive and it had to
    be ended with SIGTERM), and its log holds no sanitizer report and no
    line that no expect_log() pattern matches. The first daemon logs to
    base/<log_name>.log, the n-th after it to base/<log_name>.<n>.log.
    """

    def __init__(self, opts=None, source_arg=False, *, args=(), tmp_root=None, mnt_depth=1,
                 dirs=None, log_name="stderr", report_users=False, binary=None, node=None):
        # node=PLUGIN: a node view (-o node) whose subtree PLUGIN is the store
        # under test (see NODE_PLUGINS): mnt is then MOUNTPOINT/PLUGIN, the
        # state and work dirs are cs/PLUGIN and cr/PLUGIN, and mountpoint is
        # what is mounted and unmounted.
        # With dirs, a node view names {"base", "cs", "cr", "mnt" (MOUNT),
        # "socket_root" (None: the view's default)}.
        self.node = node
        if node is not None and dirs is not None:
            self.own_base = False
            self.base, self.cs, self.cr, self.mountpoint = (dirs[k] for k in
                                                            ("base", "cs", "cr", "mnt"))
            self.socket_root = dirs.get("socket_root")
            self.state = os.path.join(self.cs, node)
            self.work = os.path.join(self.cr, node)
            self.mnt = os.path.join(self.mountpoint, node)
        elif node is not None:
            self.own_base = True
            self.base = tempfile.mkdtemp(prefix="bfs-", dir=tmp_root)
            self.cs = os.path.join(self.base, "cs")
            self.cr = os.path.join(self.base, "cr")
            self.state = os.path.join(self.cs, node)
            self.work = os.path.join(self.cr, node)
            self.socket_root = os.path.join(self.base, "socket_root")
            self.mountpoint = os.path.join(self.base, *(["d"] * (mnt_depth - 1)), "mnt")
            self.mnt = os.path.join(self.mountpoint, node)
            for d in (self.cs, self.cr, self.state, self.work, self.socket_root):
                os.mkdir(d)
            os.mkdir(os.path.join(self.socket_root, "s"))
            os.makedirs(self.mountpoint)
        elif dirs is None:
            self.own_base = True
            self.base = tempfile.mkdtemp(prefix="bfs-", dir=tmp_root)
            self.state = os.path.join(self.base, "state")
            self.work = os.path.join(self.base, "work")
            self.socket_root = os.path.join(self.base, "socket_root")
            self.mnt = os.path.join(self.base, *(["d"] * (mnt_depth - 1)), "mnt")
            for d in (self.state, self.work, self.socket_root):
                os.mkdir(d)
            os.mkdir(os.path.join(self.socket_root, "s"))
            os.makedirs(self.mnt)
        else:
            self.own_base = False
            self.base, self.state, self.work, self.mnt = (dirs[k] for k in
                                                          ("base", "state", "work", "mnt"))
            self.socket_root = dirs.get("socket_root")
        if node is None:
            self.mountpoint = self.mnt
        self.opts = dict(opts or {})
        self.source_arg = source_arg
        self.args = list(args)
        self.binary = binary
        self.log_name = log_name
        # Walk /proc for the users of the mount at each unmount, for the report
        # of a daemon that does not exit: slow, for suites with few mounts.
        self.report_users = report_users
        # Said once at the start where the kernel offers FUSE over io_uring
        # (the fuse module's enable_uring): the daemon then uses it.
        self.expected = [RING_LOG]
        self.proc = None           # the latest daemon's Popen
        self.log_path = None       # and its log
        self._runs = []            # daemons not stopped yet
        self._started = 0

    # -- options and command line
    def option_string(self):
        if self.node is not None:
            return self._node_option_string()
        o = {}
        if not self.source_arg:
            o["state"] = self.state
        o["work"] = self.work
        if self.socket_root is not None:
            o["socket_root"] = self.socket_root
        o["runtime"] = "v1"
        o.update(self.opts)
        return ",".join(k if v is True else f"{k}={v}" for k, v in o.items()
                        if v is not None and v is not False)

    def _node_option_string(self):
        """The node view's options: the store's own (state=, work=, runtime=)
        are the plugin directory's; the test's others pass through."""
        o = {"node": True, "containerd_root": self.cr, "socket_root": self.socket_root,
             "daemon_address": DEFAULT_DAEMON_ADDRESS if self.socket_root else None}
        o.update((k, v) for k, v in self.opts.items() if k not in ("state", "work", "runtime"))
        return ",".join(k if v is True else f"{k}={v}" for k, v in o.items()
                        if v is not None and v is not False)

    def argv(self):
        if self.node is not None:
            return ([str(self.binary or bundlefs_bin()), self.cs, self.mountpoint, "-f", "-o",
                     self.option_string()] + self.args)
        return ([str(self.binary or bundlefs_bin())] + ([self.state] if self.source_arg else [])
                + [self.mnt, "-f", "-o", self.option_string()] + self.args)

    # -- life cycle
    def start(self, opts=None, nofile=None, timeout=START_TIMEOUT):
        """Start a daemon (with opts, if given, from now on; under an
        RLIMIT_NOFILE of nofile, if given) and wait until it serves the mount.
        If it exits first, or does not mount within timeout (it is then
        killed), raise RuntimeError quoting its log. Returns self."""
        if opts is not None:
            self.opts = dict(opts)
        n = self._started
        self._started += 1
        log_path = os.path.join(self.base, f"{self.log_name}.log" if n == 0
                                else f"{self.log_name}.{n}.log")
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        env = dict(os.environ)
        # Leaks are reported at a clean exit; keep every report on stderr.
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log, preexec_fn=preexec, env=env)
        self._runs.append(_Run(n, proc, log_path))
        self.proc, self.log_path = proc, log_path
        deadline = time.monotonic() + timeout
        while not is_served(self.mountpoint):
            if proc.poll() is not None:
                raise RuntimeError(f"bundlefs exited early with {proc.returncode}: "
                                   f"{self.log_text()!r}")
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"bundlefs did not mount {self.mountpoint} within {timeout} s: "
                                   f"{self.log_text()!r}")
            time.sleep(0.02)
        return self

    def kill9(self):
        """SIGKILL the latest daemon and reap it; its mount stays, dead."""
        run = self._runs[-1]
        run.killed = True
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGKILL)
        run.proc.wait()

    def stop(self):
        """Unmount, reap every daemon started since the last stop; return the
        problems found (an empty list when all is well)."""
        runs, self._runs = self._runs, []
        problems = []
        for run in runs:
            found = self._stop_run(run)
            problems += [f"daemon #{run.n}: {p}" for p in found] if len(runs) > 1 else found
        self.proc = None
        return problems

    def _stop_run(self, run):
        problems = []
        dev, users = None, []
        stack = mount_stack(self.mountpoint)
        if not run.killed and stack:
            dev = stack[-1]["dev"]
            users = mount_users(self.mountpoint) if self.report_users else []
            err = unmount(self.mountpoint)
            if err:
                problems.append(f"fusermount3 -u -z {self.mountpoint}: {err}")
        rc = _wait(run.proc, EXIT_TIMEOUT)
        holders = []
        if rc is None and dev is not None:
            # A copy of the mount in another mount namespace keeps the FUSE
            # connection alive: give its holders time to let go.
            deadline = time.monotonic() + HOLDERS_TIMEOUT
            while rc is None and time.monotonic() < deadline:
                holders = foreign_holders(dev)
                if not holders:
                    break
                rc = _wait(run.proc, 0.5)
        terminated = rc is None and bool(holders)
        if terminated:
            # Not bundlefs's doing: end the daemon the ordinary way. libfuse's
            # handler then ends the loop with status 1, and its own unmount fails.
            sys.stderr.write("bundlefs on %s outlived its unmount because of:\n  %s\n" %
                             (self.mountpoint, "\n  ".join(holders)))
            run.proc.terminate()
        if rc is None:
            rc = _wait(run.proc, EXIT_TIMEOUT)
        if rc is None:
            problems.append("bundlefs did not exit after the unmount%s (killed);%s"
                            % (" and SIGTERM" if terminated else "",
                               hang_report(run.proc.pid, users)))
            run.proc.kill()
            rc = run.proc.wait()
        if rc != 0 and not run.killed and not terminated and not problems:
            problems.append(f"bundlefs exited with status {rc}")
        expected = self.expected + ([re.compile(r"^fuse: failed to unmount ")]
                                    if terminated else [])
        return problems + log_problems(read_log(run.log_path), expected)

    def cleanup(self):
        """Whatever stop() left: unmount every layer at mnt and end the daemons
        serving it (a test's own, started outside this object, too); detach
        what a failed test left mounted below base and remove base, if it was
        made here."""
        reap_mount(self.mountpoint)
        for run in self._runs:
            if run.proc.poll() is None:
                run.proc.kill()
            run.proc.wait()
        self._runs = []
        if self.own_base:
            for mp in mounts_below(self.base):
                detach(mp)
            shutil.rmtree(self.base, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and os.path.ismount(self.mountpoint)

    @property
    def pid(self):
        return self.proc.pid

    def fd_count(self):
        """How many descriptors the latest daemon holds (None if it is gone)."""
        try:
            return len(os.listdir(f"/proc/{self.proc.pid}/fd"))
        except OSError:
            return None

    # -- log
    def log_text(self):
        """The latest daemon's log."""
        return read_log(self.log_path) if self.log_path else ""

    def expect_log(self, regex):
        """Declare that log lines matching regex (re.search) may appear."""
        self.expected.append(re.compile(regex))

    def wait_log(self, regex, timeout=5.0):
        """Declare regex expected and wait until a log line matches it."""
        self.expect_log(regex)
        rx = re.compile(regex)
        return wait_until(lambda: any(rx.search(ln) for ln in self.log_text().splitlines()),
                          timeout)

    # -- paths
    def m(self, *parts):
        return os.path.join(self.mnt, *parts)

    def s(self, *parts):
        return os.path.join(self.state, *parts)

    def w(self, *parts):
        return os.path.join(self.work, *parts)

    def address(self, ns, bid):
        """The shim address the mount computes for ns/bid (SPEC 4.3)."""
        return computed_address(self.opts.get("socket_root", self.socket_root),
                                self.opts.get("daemon_address", DEFAULT_DAEMON_ADDRESS), ns, bid)

    # -- through the mount
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

    # -- the backing store
    def snapshot(self):
        """The backing store (state, work, socket_root) as snapshot() sees it;
        an entry removed while walking (a release in flight) is left out."""
        return snapshot(*(d for d in (self.state, self.work, self.socket_root) if d),
                        mark_vanished=False)

    def settled_snapshot(self, before, timeout=3.0):
        """A snapshot taken once the store equals `before`, or after timeout.
        The kernel sends FUSE's release after close(2) has returned, so what
        the daemon holds for an open file may take a moment to go."""
        deadline = time.monotonic() + timeout
        while True:
            snap = self.snapshot()
            if snap == before or time.monotonic() > deadline:
                return snap
            time.sleep(0.02)

    def assert_unchanged(self, before, timeout=3.0):
        """Assert the backing store settles to the snapshot before."""
        after = self.settled_snapshot(before, timeout)
        assert after == before, diff_snapshots(before, after)
