# SPDX-License-Identifier: Apache-2.0
"""Plain helpers shared by the bundlefs Python test suites.

Each suite keeps its own fixtures and daemon wrappers; what is here is the
code they had in common: locating the daemon binary, unmounting, errno
capture, whole-file reads and writes, backing-store snapshots, the daemon's
log checks and /proc/self/mountinfo parsing. A suite's helper module adds
this directory to sys.path and re-exports what it uses under its own names.
"""

import hashlib
import os
import stat
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ daemon

def bundlefs_bin():
    """The daemon binary: $BUNDLEFS_BIN, else <repo>/build/fs/bundlefs."""
    path = os.environ.get("BUNDLEFS_BIN") or str(REPO / "build" / "fs" / "bundlefs")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(f"bundlefs binary not found or not executable: {path} "
                           "(build it, or set BUNDLEFS_BIN)")
    return path


def unmount(path):
    subprocess.run(["fusermount3", "-u", "-z", str(path)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def wait_started(proc, ready, timeout, log_text):
    """Poll ready() until true. If proc exits first, or timeout passes (then
    proc is killed and reaped), raise RuntimeError quoting log_text()."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"bundlefs exited early with {proc.returncode}: "
                               f"{log_text()!r}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"bundlefs did not mount within {timeout}s: "
                               f"{log_text()!r}")
        time.sleep(0.02)


def read_log(path):
    """The text of a daemon's log file ("" if it does not exist yet)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def log_problems(text, expected, sanitizer_patterns):
    """The log lines of text that hold a sanitizer pattern or match none of
    the compiled regexes in expected (re.search), one message a line."""
    problems = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if any(p in line for p in sanitizer_patterns):
            problems.append(f"sanitizer report: {line}")
        elif not any(rx.search(line) for rx in expected):
            problems.append(f"unexpected log line: {line}")
    return problems


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
    """The shim address containerd computes: unix://<socket_root>/s/<sha256 of
    Join(daemon_address, ns, bid)> (SPEC 4.3)."""
    digest = hashlib.sha256(go_join(daemon_address, ns, bid).encode()).hexdigest()
    return "unix://" + go_join(socket_root, "s") + "/" + digest


# ------------------------------------------------------------- file calls

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


# ---------------------------------------------------------- backing store

def snapshot_tree(roots, fsencode=False, mark_vanished=True):
    """Everything observable about the trees below roots, without following
    symlinks: {(root index, relpath): (type, mode, uid, gid, size, sha256 or
    link target)}. Directory sizes are left out (they depend on the file
    system's history). With fsencode, paths (and so relpaths and link
    targets) are bytes. An entry removed while walking (e.g. the daemon's
    release of a temporary file) is recorded as ("vanished",) with
    mark_vanished, else left out; callers poll for a stable result."""
    snap = {}
    for i, root in enumerate(roots):
        root = os.fsencode(root) if fsencode else str(root)
        top = b"" if fsencode else ""
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            names = dirnames + filenames
            if dirpath == root:
                names = [top] + names
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
    return snap


def diff_snapshots(before, after):
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            lines.append(f"{k}: {before.get(k)} -> {after.get(k)}")
    return "\n".join(lines)


# ------------------------------------------------------------------ mounts

def unescape_mountinfo(s):
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


def mountinfo():
    """[(mount id, "major:minor", mount point, fstype, source)] of this mount
    namespace from /proc/self/mountinfo, in mount order (bottom to top)."""
    result = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            lf, rf = left.split(), right.split()
            result.append((int(lf[0]), lf[2], unescape_mountinfo(lf[4]), rf[0],
                           unescape_mountinfo(rf[1])))
    return result


def mount_stack(path):
    """The mounts whose mount point is exactly path, bottom to top, each a dict
    with id, fstype, source and opts (the per-mount options, a set: nosuid,
    nodev, ro...), from /proc/self/mountinfo."""
    path = str(path)
    stack = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            lf, rf = left.split(), right.split()
            if unescape_mountinfo(lf[4]) == path:
                stack.append({"id": int(lf[0]), "fstype": rf[0],
                              "source": unescape_mountinfo(rf[1]),
                              "opts": set(lf[5].split(","))})
    return stack


# ---------------------------------------------------------------- teardown

def stop_and_clean(items, stop):
    """For each of items: stop(item) (a list of problems), then item.cleanup()
    even if stop raised. Return the problems, each prefixed with item.mnt."""
    problems = []
    for item in items:
        try:
            problems += [f"{item.mnt}: {p}" for p in stop(item)]
        finally:
            item.cleanup()
    return problems
