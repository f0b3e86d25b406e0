# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.9 (status: computed liveness, read-only), with 4.1's st_size rule.

Every mount here has a private socket_root (BundleFS's own) and a private
runtime_root, so the shim sockets and runc's state.json that status looks at
are the ones each test sets up. Each expected text is rendered by
bfs_helpers.status_text from what the test arranged, and compared byte for
byte; every read is checked to leave the backing store, the socket
directories and runc's root as they were.
"""

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from bfs_helpers import VALID_SPEC, status_text
from bfstest import (build_dir, diff_snapshots, errno_of, read_bytes, snapshot, wait_until,
                     write_through)
from gorender import go_join, legacy_address

SLOW_READ_BOUND = 5.0     # generous: the daemon's own bound is 100 ms per connect


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A directory outside every socket_root, for listeners status must not dial."""
    return str(tmp_path_factory.mktemp("outside"))


@pytest.fixture(scope="module")
def rr(tmp_path_factory):
    """The runtime_root= option of the module's mount: runc's root for v1."""
    return str(tmp_path_factory.mktemp("runc-root"))


@pytest.fixture(scope="module")
def sm(module_mount, rr, outside):
    m = module_mount(runtime_root=rr)
    m.watched = (m.state, m.work, m.socket_root, rr, outside)
    return m


@pytest.fixture
def short_dir():
    """A directory with a short path (pytest's tmp_path may leave no room in
    sun_path for a 64-digit socket name)."""
    d = tempfile.mkdtemp(prefix="bfs-sr-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def sleeper():
    """A live process of the test's own, to stand for a container's init."""
    p = subprocess.Popen(["sleep", "100"])
    yield p
    p.kill()
    p.wait()


# ------------------------------------------------------------------ helpers

def proc_start(pid):
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), as runc records it."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return int(text[text.rindex(")") + 2:].split()[19])


def proc_state(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2]


def read_status(m, ns, bid):
    """Read status through the mount; assert the read changed nothing watched."""
    watched = getattr(m, "watched", (m.state, m.work, m.socket_root))
    before = snapshot(*watched)
    got = read_bytes(m.m(ns, bid, "status"))
    after = snapshot(*watched)
    assert after == before, diff_snapshots(before, after)
    return got


def assert_status(got, want):
    assert json.loads(got) == json.loads(want)
    assert got == want


def check(m, ns, bid, **kw):
    """Read status and compare it with status_text(**kw); return the text."""
    kw.setdefault("complete", False)
    kw.setdefault("address", m.address(ns, bid))
    kw.setdefault("listening", False)
    kw.setdefault("shim_pid", None)
    kw.setdefault("init_pid", None)
    kw.setdefault("running", False)
    got = read_status(m, ns, bid)
    assert_status(got, status_text(**kw))
    return got


def complete(m, ns, bid):
    assert write_through(m.m(ns, bid, "config.json"), VALID_SPEC) == (None, None)


def put(m, ns, bid, name, data):
    """Write a bundle file through the mount (a passthrough entry)."""
    assert write_through(m.m(ns, bid, name), data) == (None, None)


def store_address(m, ns, bid, address):
    put(m, ns, bid, "address", address)


def shim_path(m, ns, bid):
    """The socket path of the bundle's computed address."""
    return m.address(ns, bid)[len("unix://"):]


@contextlib.contextmanager
def listener(path, backlog=16):
    """A unix stream socket bound at path and listening (abstract if path starts with NUL)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.bind(path)
        s.listen(backlog)
        yield s
    finally:
        s.close()
        if not path.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def fake_shim_binary():
    """The unit tests' stand-in shim: its executable's name begins with containerd-shim."""
    path = str(build_dir() / "tests" / "unit" / "containerd-shim-bfstest")
    assert os.access(path, os.X_OK), f"{path} is missing: build the unit tests (cmake)"
    return path


def exe_name(pid):
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return ""


@contextlib.contextmanager
def shim_listening(path):
    """A stand-in shim process holding a socket listening at path, handed on to
    it as the runc v2 shim's `start` hands its socket to the shim it starts."""
    with listener(path) as s:
        p = subprocess.Popen([fake_shim_binary()], pass_fds=[s.fileno()])
        try:
            assert wait_until(lambda: exe_name(p.pid) == "containerd-shim-bfstest")
            yield p
        finally:
            p.kill()
            p.wait()


def age(m, ns, bid, seconds):
    """Set the backing bundle directory's mtime to `seconds` ago."""
    t = time.time() - seconds
    os.utime(m.s(ns, bid), (t, t))


def assert_no_connection(sock):
    sock.setblocking(False)
    with pytest.raises(BlockingIOError):
        conn, _ = sock.accept()
        conn.close()


def state_path(root, ns, bid):
    return go_join(root, ns, bid, "state.json")


def write_state(root, ns, bid, data):
    path = state_path(root, ns, bid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


# ------------------------------------------------------------ complete

def test_incomplete_bundle(sm):
    ns, bid = sm.new_bundle()
    got = check(sm, ns, bid, complete=False)
    assert json.loads(got)["stale"] is False
    assert got.count(b"\n") == 1 and got.endswith(b"}\n")
    assert list(json.loads(got)) == ["complete", "shim", "init", "stale"]
    assert list(json.loads(got)["shim"]) == ["address", "listening", "pid"]
    assert list(json.loads(got)["init"]) == ["pid", "running"]
    assert "status" in os.listdir(sm.m(ns, bid))


def test_no_status_below_hidden_directory(sm):
    """A hidden depth-2 directory is no bundle (SPEC 3.2): no computed status there."""
    ns, _ = sm.new_bundle()
    os.mkdir(sm.s(ns, ".gone"))
    assert errno_of(os.stat, sm.m(ns, ".gone", "status")) == errno.ENOENT
    assert "status" not in os.listdir(sm.m(ns, ".gone"))


def test_complete_bundle(sm):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    got = check(sm, ns, bid, complete=True)
    assert json.loads(got)["stale"] is True


def test_incomplete_bundle_stale_once_old(sm, sleeper):
    """A bundle without config.json is stale once nothing has touched it for
    10 s (a crash in NewBundle, containerd 2.x's spec-less bundles), not while
    containerd may be making it."""
    ns, bid = sm.new_bundle()
    assert json.loads(check(sm, ns, bid))["stale"] is False
    age(sm, ns, bid, 5)
    assert json.loads(check(sm, ns, bid))["stale"] is False
    age(sm, ns, bid, 3600)
    assert json.loads(check(sm, ns, bid, old=True))["stale"] is True
    with listener(shim_path(sm, ns, bid)):
        check(sm, ns, bid, listening=True, old=True)
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    age(sm, ns, bid, 3600)
    check(sm, ns, bid, init_pid=sleeper.pid, running=True, old=True)
    os.unlink(sm.m(ns, bid, "init.pid"))
    age(sm, ns, bid, 3600)
    assert json.loads(check(sm, ns, bid, old=True))["stale"] is True
    # Found by the documented grep.
    assert sm.m(ns, bid, "status") in subprocess.run(
        ["grep", "-l", '"stale":true', sm.m(ns, bid, "status")], capture_output=True,
        text=True).stdout.splitlines()


# ----------------------------------------------------------- listening

def test_listening_then_removed(sm):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    path = shim_path(sm, ns, bid)
    with listener(path):
        got = check(sm, ns, bid, complete=True, listening=True)
        assert json.loads(got)["stale"] is False
    assert not os.path.exists(path)
    got = check(sm, ns, bid, complete=True, listening=False)
    assert json.loads(got)["stale"] is True


def test_socket_kept_nobody_listening(sm):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    path = shim_path(sm, ns, bid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    s.bind(path)
    s.listen(4)
    check(sm, ns, bid, complete=True, listening=True)
    s.close()
    try:
        assert os.path.exists(path)
        got = check(sm, ns, bid, complete=True, listening=False)
        assert json.loads(got)["stale"] is True
    finally:
        os.unlink(path)


def test_stored_address_in_socket_dir(sm):
    """A stored address (not the computed one) naming a socket in <socket_root>/s/."""
    ns, bid = sm.new_bundle()
    path = os.path.join(sm.socket_root, "s", "stored-" + bid)
    address = "unix://" + path
    store_address(sm, ns, bid, address)
    with listener(path):
        check(sm, ns, bid, address=address, listening=True)
    check(sm, ns, bid, address=address, listening=False)


@pytest.mark.parametrize("spelling", ["{sr}//s//{name}", "{sr}/./s/./{name}"])
def test_stored_address_unclean_spelling(sm, spelling):
    """The address is compared after Clean: another spelling of a path in s/ is dialed."""
    ns, bid = sm.new_bundle()
    name = "sp-" + bid
    address = "unix://" + spelling.format(sr=sm.socket_root, name=name)
    store_address(sm, ns, bid, address)
    with listener(os.path.join(sm.socket_root, "s", name)):
        check(sm, ns, bid, address=address, listening=True)


@pytest.mark.parametrize("suffix", ["/", "/sub/..", "//."])
def test_socket_root_option_spelling(mount_bundlefs, short_dir, suffix):
    """socket_root= spelled with slashes, "." or "..": the computed address is
    dialed all the same."""
    sr = short_dir
    os.makedirs(sr + "/sub")
    os.mkdir(sr + "/s")
    m = mount_bundlefs(socket_root=sr + suffix)
    ns, bid = m.new_bundle()
    assert m.address(ns, bid).startswith("unix://" + sr + "/s/")
    with listener(shim_path(m, ns, bid)):
        check(m, ns, bid, listening=True)
    check(m, ns, bid, listening=False)


def test_stored_address_not_a_socket(sm):
    ns, bid = sm.new_bundle()
    path = os.path.join(sm.socket_root, "s", "plain-" + bid)
    with open(path, "wb") as f:
        f.write(b"not a socket")
    try:
        store_address(sm, ns, bid, "unix://" + path)
        check(sm, ns, bid, address="unix://" + path, listening=False)
    finally:
        os.unlink(path)


def outside_addresses(m, outside, bid):
    """(address, listener path) pairs naming sockets outside <socket_root>/s/."""
    sr = m.socket_root
    return [
        ("unix://" + os.path.join(outside, "o-" + bid), os.path.join(outside, "o-" + bid)),
        ("unix://" + sr + "/s/../e-" + bid, os.path.join(sr, "e-" + bid)),
        ("unix://" + sr + "/e2-" + bid, os.path.join(sr, "e2-" + bid)),
        # inside s/, but not a unix:// address
        (os.path.join(sr, "s", "bare-" + bid), os.path.join(sr, "s", "bare-" + bid)),
    ]


@pytest.mark.parametrize("which", range(4))
def test_address_outside_socket_dir_not_dialed(sm, outside, which):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    address, path = outside_addresses(sm, outside, bid)[which]
    store_address(sm, ns, bid, address)
    with listener(path) as s:
        got = check(sm, ns, bid, complete=True, address=address, listening=None)
        assert json.loads(got)["stale"] is True
        assert_no_connection(s)


def test_symlink_in_socket_dir_not_followed(sm, outside):
    """A symlink in <socket_root>/s/ to a listener elsewhere is not followed."""
    ns, bid = sm.new_bundle()
    target = os.path.join(outside, "t-" + bid)
    link = shim_path(sm, ns, bid)
    with listener(target) as s:
        os.symlink(target, link)
        try:
            check(sm, ns, bid, listening=False)
            assert_no_connection(s)
        finally:
            os.unlink(link)


def test_full_backlog_does_not_block_the_mount(sm):
    """A listener that never accepts, its backlog full: the read returns, false,
    and meanwhile the mount keeps serving other bundles."""
    ns, slow = sm.new_bundle()
    _, fast = sm.new_bundle(ns)
    complete(sm, ns, slow)
    want_fast = status_text(False, sm.address(ns, fast), False, None, None, False)
    with listener(shim_path(sm, ns, slow), backlog=0), contextlib.ExitStack() as clients:
        for _ in range(64):
            c = clients.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            c.setblocking(False)
            try:
                c.connect(shim_path(sm, ns, slow))
            except BlockingIOError:
                break
        else:
            pytest.fail("the backlog never filled")

        slow_spans, slow_texts, errors = [], [], []

        def slow_reader():
            try:
                for _ in range(8):
                    t0 = time.monotonic()
                    slow_texts.append(read_bytes(sm.m(ns, slow, "status")))
                    slow_spans.append((t0, time.monotonic()))
            except Exception as e:   # reported by the main thread
                errors.append(e)

        t = threading.Thread(target=slow_reader, daemon=True)
        fast_spans = []
        t.start()
        while t.is_alive() and len(fast_spans) < 2000:
            t0 = time.monotonic()
            os.stat(sm.m(ns, fast))
            assert read_bytes(sm.m(ns, fast, "status")) == want_fast
            fast_spans.append((t0, time.monotonic()))
        t.join(8 * SLOW_READ_BOUND)
        assert not t.is_alive(), "a status read with a full backlog did not return"
        assert not errors, errors
        want = status_text(True, sm.address(ns, slow), False, None, None, False)
        for got in slow_texts:
            assert_status(got, want)
        assert all(b - a < SLOW_READ_BOUND for a, b in slow_spans)
        # Some request on the other bundle was answered while a slow read was
        # in progress: it did not wait behind it.
        assert any(a0 < b0 and b1 < a1 for a0, a1 in slow_spans for b0, b1 in fast_spans), \
            "no request on another bundle completed during a slow status read"


def test_legacy_address_abstract_socket(mount_bundlefs):
    m = mount_bundlefs(legacy_address=True)
    ns, bid = m.new_bundle()
    address = legacy_address(ns, bid)
    complete(m, ns, bid)
    with listener("\0" + address):
        check(m, ns, bid, complete=True, address=address, listening=True)
    check(m, ns, bid, complete=True, address=address, listening=False)


# ---------------------------------------------------------------- init

def test_init_running(sm, sleeper):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    got = check(sm, ns, bid, complete=True, init_pid=sleeper.pid, running=True)
    assert json.loads(got)["stale"] is False


def test_init_zombie(sm):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        assert wait_until(lambda: proc_state(pid) == "Z")
        put(sm, ns, bid, "init.pid", str(pid))
        check(sm, ns, bid, complete=True, init_pid=pid, running=False)
    finally:
        os.waitpid(pid, 0)


def test_init_dead(sm):
    ns, bid = sm.new_bundle()
    p = subprocess.Popen(["true"])
    p.wait()
    if os.path.exists(f"/proc/{p.pid}"):
        pytest.skip("the pid was reused at once")
    put(sm, ns, bid, "init.pid", str(p.pid))
    check(sm, ns, bid, init_pid=p.pid, running=False)


@pytest.mark.parametrize("delta,running", [(1, False), (0, True)])
def test_init_start_time_vs_runc_state(sm, rr, sleeper, delta, running):
    """runc's state.json at Join(runtime_root, ns, id, "state.json") decides
    whether a live pid is still the container's init."""
    ns, bid = sm.new_bundle()
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    state = {"id": bid, "init_process_pid": sleeper.pid,
             "init_process_start": proc_start(sleeper.pid) + delta}
    write_state(rr, ns, bid, state)
    check(sm, ns, bid, init_pid=sleeper.pid, running=running)


def test_runc_options_runtime_root_wins(sm, rr, sleeper, tmp_path):
    """With runc-options naming a runtime_root, runc's state is looked for there."""
    ns, bid = sm.new_bundle()
    own = str(tmp_path / "own-root")
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    start = proc_start(sleeper.pid)
    write_state(rr, ns, bid, {"init_process_start": start})
    write_state(own, ns, bid, {"init_process_start": start + 7})
    put(sm, ns, bid, "runc-options", json.dumps({"runtime_root": own}))
    check(sm, ns, bid, init_pid=sleeper.pid, running=False)
    # An empty runtime_root there falls back to the mount's option.
    put(sm, ns, bid, "runc-options", json.dumps({"runtime_root": ""}))
    check(sm, ns, bid, init_pid=sleeper.pid, running=True)


@pytest.mark.parametrize("kind", ["truncated", "trailing", "array", "string", "float",
                                  "symlink", "directory"])
def test_malformed_runc_state_ignored(sm, rr, sleeper, tmp_path, kind):
    """A state.json that is not a usable object is ignored: the live process alone
    decides (each of these would name a wrong start time if it were believed)."""
    ns, bid = sm.new_bundle()
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    wrong = proc_start(sleeper.pid) + 1
    good = json.dumps({"init_process_start": wrong}).encode()
    data = {
        "truncated": good[:-1],
        "trailing": good + b" x",
        "array": json.dumps([wrong]).encode(),
        "string": json.dumps({"init_process_start": str(wrong)}).encode(),
        "float": json.dumps({"init_process_start": wrong + 0.5}).encode(),
    }
    path = state_path(rr, ns, bid)
    os.makedirs(os.path.dirname(path))
    if kind == "symlink":
        (tmp_path / "real-state.json").write_bytes(good)
        os.symlink(str(tmp_path / "real-state.json"), path)
    elif kind == "directory":
        os.mkdir(path)
    else:
        write_state(rr, ns, bid, data[kind])
    check(sm, ns, bid, init_pid=sleeper.pid, running=True)


# ----------------------------------------------------------- pid files

def malformed_pid_files(pid):
    return {
        "empty": b"",
        "suffix": b"12abc",
        "negative": b"-1",
        "newline": f"{pid}\n".encode(),
        "space": f" {pid}".encode(),
        "huge": b"99999999999999999999",
    }


@pytest.mark.parametrize("name", ["init.pid", "shim.pid"])
@pytest.mark.parametrize("kind", ["empty", "suffix", "negative", "newline", "space", "huge",
                                  "symlink", "directory"])
def test_malformed_pid_file(sm, sleeper, name, kind):
    ns, bid = sm.new_bundle()
    if kind == "symlink":
        put(sm, ns, bid, "real.pid", str(sleeper.pid))
        os.symlink("real.pid", sm.m(ns, bid, name))
    elif kind == "directory":
        os.mkdir(sm.m(ns, bid, name))
    else:
        put(sm, ns, bid, name, malformed_pid_files(sleeper.pid)[kind])
    check(sm, ns, bid, shim_pid=None, init_pid=None, running=False)


@pytest.mark.parametrize("text", ["{pid}", "+{pid}", "0{pid}"])
def test_pid_file_as_atoi_reads_it(sm, sleeper, text):
    """strconv.Atoi accepts a sign and leading zeros."""
    ns, bid = sm.new_bundle()
    data = text.format(pid=sleeper.pid)
    put(sm, ns, bid, "init.pid", data)
    put(sm, ns, bid, "shim.pid", data)
    check(sm, ns, bid, shim_pid=int(data), init_pid=int(data), running=True)


def test_shim_pid_from_the_listening_shim(sm):
    """Without shim.pid (the v2 shim writes none): the shim holding the socket."""
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    with shim_listening(shim_path(sm, ns, bid)) as shim:
        check(sm, ns, bid, complete=True, listening=True, shim_pid=shim.pid)
        put(sm, ns, bid, "shim.pid", "4242")
        check(sm, ns, bid, complete=True, listening=True, shim_pid=4242)
    os.unlink(sm.m(ns, bid, "shim.pid"))
    # A listener that is no shim (this test) names no pid.
    with listener(shim_path(sm, ns, bid)):
        check(sm, ns, bid, complete=True, listening=True)


def test_v2_group_names_its_shim_from_every_bundle(mount_bundlefs):
    """A pod's sandbox and containers share one shim: every bundle's status names it."""
    m = mount_bundlefs(runtime="v2")
    ns, sandbox = m.new_bundle()
    bids = [sandbox] + [m.new_bundle(ns)[1] for _ in range(2)]
    for bid in bids:
        put(m, ns, bid, "config.json",
            json.dumps({"annotations": {"io.kubernetes.cri.sandbox-id": sandbox}}))
    address = m.address(ns, sandbox)
    with shim_listening(address[len("unix://"):]) as shim:
        for bid in bids:
            check(m, ns, bid, complete=True, address=address, listening=True,
                  shim_pid=shim.pid)


def test_shim_pid(sm):
    """shim.pid is reported as stored; it says nothing about liveness."""
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    put(sm, ns, bid, "shim.pid", "4242")
    got = check(sm, ns, bid, complete=True, shim_pid=4242)
    assert json.loads(got)["stale"] is True


# --------------------------------------------------------------- stale

@pytest.mark.parametrize("is_complete", [False, True])
@pytest.mark.parametrize("listening", [None, False, True])
@pytest.mark.parametrize("running", [False, True])
def test_stale_combinations(sm, outside, sleeper, is_complete, listening, running):
    ns, bid = sm.new_bundle()
    if is_complete:
        complete(sm, ns, bid)
    if running:
        put(sm, ns, bid, "init.pid", str(sleeper.pid))
    address = sm.address(ns, bid)
    if listening is None:
        address = "unix://" + os.path.join(outside, "none-" + bid)
        store_address(sm, ns, bid, address)
    with contextlib.ExitStack() as stack:
        if listening:
            stack.enter_context(listener(shim_path(sm, ns, bid)))
        got = check(sm, ns, bid, complete=is_complete, address=address, listening=listening,
                    init_pid=sleeper.pid if running else None, running=running)
    assert json.loads(got)["stale"] is (is_complete and not listening and not running)


# ------------------------------------------------------ size, snapshots

def test_st_size_matches_read(sm, sleeper):
    ns, bid = sm.new_bundle()
    path = sm.m(ns, bid, "status")
    assert os.stat(path).st_size == len(read_status(sm, ns, bid))
    complete(sm, ns, bid)
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    put(sm, ns, bid, "shim.pid", "1234567")
    assert os.stat(path).st_size == len(read_status(sm, ns, bid))
    with listener(shim_path(sm, ns, bid)):
        size = os.stat(path).st_size
        got = check(sm, ns, bid, complete=True, listening=True, shim_pid=1234567,
                    init_pid=sleeper.pid, running=True)
        assert size == len(got)
    assert os.stat(path).st_size == len(read_status(sm, ns, bid))


def test_open_reads_one_snapshot(sm):
    """An open file keeps what it computed at open; a new open sees the change.
    (fstat(2) of the open file is not checked: the kernel sends FUSE's getattr
    for it without the file handle, so the daemon answers for the name.)"""
    ns, bid = sm.new_bundle()
    path = sm.m(ns, bid, "status")
    before = status_text(False, sm.address(ns, bid), False, None, None, False)
    after = status_text(False, sm.address(ns, bid), True, None, None, False)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with listener(shim_path(sm, ns, bid)):
            assert os.read(fd, 1 << 16) == before
            assert os.pread(fd, 1 << 16, 0) == before
            assert read_bytes(path) == after
            assert os.stat(path).st_size == len(after)
    finally:
        os.close(fd)
    assert before != after


# ----------------------------------------------------------- read-only

def _open_write(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CLOEXEC))


def _open_rdwr(path):
    os.close(os.open(path, os.O_RDWR | os.O_CLOEXEC))


def _open_trunc(path):
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC))


@pytest.mark.parametrize("op", [
    _open_write, _open_rdwr, _open_trunc,
    lambda p: os.truncate(p, 0),
    lambda p: os.chmod(p, 0o644),
    lambda p: os.chmod(p, 0o666),
    lambda p: os.chown(p, 1, 1),
    lambda p: os.utime(p, (1, 1)),
    lambda p: os.setxattr(p, "user.k", b"v"),
    lambda p: os.rename(p, p + ".moved"),
    lambda p: os.link(p, p + ".linked"),
])
def test_read_only(sm, op):
    ns, bid = sm.new_bundle()
    want = status_text(False, sm.address(ns, bid), False, None, None, False)
    before = snapshot(*sm.watched)
    assert errno_of(op, sm.m(ns, bid, "status")) in (errno.EPERM, errno.EACCES)
    after = snapshot(*sm.watched)
    assert after == before, diff_snapshots(before, after)
    assert read_bytes(sm.m(ns, bid, "status")) == want
    assert os.stat(sm.m(ns, bid, "status")).st_mode & 0o7777 == 0o444


def test_ro_mount_reads_the_same(sm, mount_bundlefs, rr, sleeper):
    ns, bid = sm.new_bundle()
    complete(sm, ns, bid)
    put(sm, ns, bid, "init.pid", str(sleeper.pid))
    put(sm, ns, bid, "shim.pid", "77")
    write_state(rr, ns, bid, {"init_process_start": proc_start(sleeper.pid)})
    ro = mount_bundlefs(ro=True, state=sm.state, work=sm.work, socket_root=sm.socket_root,
                        runtime_root=rr)
    ro.watched = sm.watched
    with listener(shim_path(sm, ns, bid)):
        kw = dict(complete=True, listening=True, shim_pid=77, init_pid=sleeper.pid, running=True)
        got = check(ro, ns, bid, **kw)
        assert got == check(sm, ns, bid, **kw)
    kw["listening"] = False
    assert check(ro, ns, bid, **kw) == check(sm, ns, bid, **kw)
    assert errno_of(_open_write, ro.m(ns, bid, "status")) in (errno.EPERM, errno.EACCES,
                                                                errno.EROFS)


# ------------------------------------------------------------------ v2

def test_v2_bundle(mount_bundlefs, sleeper, tmp_path):
    """v2: runc's state is Join(RuncRoot, id, "state.json"), RuncRoot = Join(root, ns)
    with root from options.json."""
    m = mount_bundlefs(runtime="v2")
    root = str(tmp_path / "v2-root")
    m.watched = (m.state, m.work, m.socket_root, root)
    ns, bid = m.new_bundle()
    complete(m, ns, bid)
    put(m, ns, bid, "options.json", json.dumps({"root": root}))
    put(m, ns, bid, "init.pid", str(sleeper.pid))
    write_state(root, ns, bid, {"init_process_start": proc_start(sleeper.pid) + 1})
    with listener(shim_path(m, ns, bid)):
        check(m, ns, bid, complete=True, listening=True, init_pid=sleeper.pid, running=False)
    write_state(root, ns, bid, {"init_process_start": proc_start(sleeper.pid)})
    check(m, ns, bid, complete=True, listening=False, init_pid=sleeper.pid, running=True)
    os.unlink(state_path(root, ns, bid))
    put(m, ns, bid, "init.pid", "")
    got = check(m, ns, bid, complete=True, listening=False)
    assert json.loads(got)["stale"] is True


def test_pid_file_with_many_leading_zeros(sm, sleeper):
    """Atoi reads any number of leading zeros: the file's length alone does not
    make a pid malformed."""
    ns, bid = sm.new_bundle()
    data = "0" * 200 + str(sleeper.pid)
    put(sm, ns, bid, "init.pid", data)
    put(sm, ns, bid, "shim.pid", "+" + "0" * 5000 + "17")
    check(sm, ns, bid, shim_pid=17, init_pid=sleeper.pid, running=True)


# ------------------------------------------------------------- escaping

def test_address_escaped_as_go_does(sm):
    """shim.address is the address as json.Marshal writes it."""
    ns, bid = sm.new_bundle()
    text = 'unix:///no/where/<a&b>"q"\\\t\x01\x00\u00e9\u2028end'
    store_address(sm, ns, bid, text.encode())
    check(sm, ns, bid, address=text, listening=None)


def test_address_invalid_utf8(sm):
    """Invalid UTF-8 is written as \\ufffd, as Go's encoder does."""
    ns, bid = sm.new_bundle()
    store_address(sm, ns, bid, b"unix:///no/\xff/x")
    want = status_text(False, "unix:///no/@/x", None, None, None, False).replace(b"@",
                                                                               b"\\ufffd")
    assert_status(read_status(sm, ns, bid), want)
