"""containerd's runtime v2 with its state directory on bundlefs (SPEC.md sections 6, 7).

containerd (private root/state/sockets) runs the io.containerd.runc.v2 shim
with bundlefs (runtime=v2) mounted at <state>/io.containerd.runtime.v2.task;
the bundles live in a backing store elsewhere, the work root is containerd's
own <root>/io.containerd.runtime.v2.task. A second, read-only bundlefs over
the same backing store shows what containerd and the shim wrote.

Every test runs against Debian's containerd 1.6 and against containerd 2.1.5
(SPEC 7.4: bootstrap.json and no address file, no shim.pid); where they
differ, the test says how.
"""

import json
import os
import signal
import stat
import time

import pytest

import ctrd_helpers as h
from bfstest import cmdline, is_mounted

RUNTIME = "v2"
CONTAINERDS = ["1.6", "2.1"]
# runc's v2 root is the host's /run/containerd/runc/<ns>: a namespace of our own.
NAMESPACE = h.unique_name("v2e2e")
SHIM_CONFIG_KEYS = ["Path", "Namespace", "ID", "Group", "WorkDir", "Address", "Sandbox",
                    "Binary", "RuncRoot", "RuncBinary", "SystemdCgroup"]
GROUP_ANN = "io.containerd.runc.v2.group"


def _status(ro_bundle):
    return json.loads(h.read_text(os.path.join(ro_bundle, "status")))


def _sleep(node, rootfs, name, *extra):
    node.run(name, "-d", "--null-io", "--env", "PATH=/bin", *extra, "--rootfs", rootfs, name,
             "/bin/sleep", "600")
    assert node.tasks()[name][1] == "RUNNING"


def _remove(node, name, group=None):
    node.remove_and_check(name, group)


def _is_2x(node):
    return node.containerd_version == "2.1"


def _wait(pred, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def test_mount_is_v2_bundlefs_over_separate_store(node):
    assert is_mounted(node.mnt, "fuse.bundlefs"), "%s is not a bundlefs mount" % node.mnt
    assert node.mnt.endswith("/" + h.V2)
    assert os.stat(node.mnt).st_dev != os.stat(node.bstate).st_dev


def test_run_foreground_prints_output(node, rootfs):
    name = h.unique_name("v2fg")
    r = node.run(name, "--rm", "--env", "PATH=/bin", "--rootfs", rootfs, name,
                 "sh", "-c", "echo out:$((6*7))")
    assert r.stdout.splitlines() == ["out:42"], r.stdout
    node.containers.discard(name)
    assert os.path.isdir(os.path.join(node.bstate, NAMESPACE))
    assert node.leftovers(name) == [], "ctr run --rm left these behind"


def test_detached_task_through_readonly_mount(node, rootfs, inspector):
    name = h.unique_name("v2run")
    _sleep(node, rootfs, name)
    pid = node.tasks()[name][0]
    shim = node.shim_of(name)
    assert os.readlink("/proc/%d/cwd" % shim) == node.bundle(name)

    # containerd's NewBundle ran on the mount: the skeleton is in the backing store.
    back = node.backing_bundle(name)
    assert os.readlink(os.path.join(back, "work")) == node.work_dir(name)
    assert stat.S_IMODE(os.lstat(back).st_mode) == 0o700
    assert os.path.isdir(node.work_dir(name))
    assert os.path.isfile(os.path.join(back, "config.json"))
    if _is_2x(node):
        # SPEC 7.4: bootstrap.json, renamed into place, and no address file.
        boot = json.loads(h.read_text(os.path.join(back, "bootstrap.json")))
        assert boot == {"version": 3, "address": h.shim_address(node.address, NAMESPACE, name),
                        "protocol": "ttrpc"}
        assert not os.path.lexists(os.path.join(back, "address"))
        assert not os.path.lexists(os.path.join(back, "shim.pid"))

    ro_bundle = os.path.join(inspector, NAMESPACE, name)
    address = h.read_text(os.path.join(ro_bundle, "address"))
    assert address == h.shim_address(node.address, NAMESPACE, name)
    sock = address[len("unix://"):]
    assert os.path.dirname(sock) == os.path.join(h.SOCKET_ROOT, "s")
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    assert sock in h.listening_unix_sockets(shim), "shim %d does not listen on %s" % (
        shim, address)

    text = h.read_text(os.path.join(ro_bundle, "shim-config"))
    assert text.endswith("}\n")
    cfg = json.loads(text)
    assert list(cfg) == SHIM_CONFIG_KEYS
    flags = h.parse_shim_flags(cmdline(shim))
    assert cfg["Path"] == node.bundle(name)
    assert cfg["Namespace"] == flags["namespace"] == NAMESPACE
    assert cfg["ID"] == cfg["Group"] == flags["id"] == name
    assert cfg["WorkDir"] == node.work_dir(name)
    assert cfg["Address"] == address
    assert flags["address"] == node.address
    assert cfg["Sandbox"] == ""
    if _is_2x(node):
        assert cfg["Binary"] == os.path.join(node.bin, h.V2_SHIM) == h.read_text(
            os.path.join(back, "shim-binary-path")) == os.readlink("/proc/%d/exe" % shim)
    else:
        assert cfg["Binary"] in ("", h.read_text(os.path.join(back, "shim-binary-path")))
    assert cfg["RuncRoot"] == os.path.join(h.V2_RUNC_ROOT, NAMESPACE)
    assert os.path.isfile(os.path.join(cfg["RuncRoot"], name, "state.json"))
    assert cfg["RuncBinary"] == "runc" and cfg["SystemdCgroup"] is False

    st = _status(ro_bundle)
    assert st == {"complete": True,
                  "shim": {"address": address, "listening": True, "pid": shim},
                  "init": {"pid": pid, "running": True}, "stale": False}

    _remove(node, name)
    assert name not in os.listdir(os.path.join(inspector, NAMESPACE))


def test_group_shares_one_shim(node, rootfs, inspector):
    group = h.unique_name("g")
    names = [h.unique_name("v2grp") for _ in range(2)]
    for name in names:
        _sleep(node, rootfs, name, "--annotation", "%s=%s" % (GROUP_ANN, group))
    want = h.shim_address(node.address, NAMESPACE, group)
    addresses = {h.read_text(os.path.join(inspector, NAMESPACE, n, "address")) for n in names}
    assert addresses == {want}
    shim = node.shim_of(names[0])
    assert want[len("unix://"):] in h.listening_unix_sockets(shim)
    assert [p for p, argv in node.shims().items() if "start" not in argv] == [shim]
    for name in names:
        cfg = json.loads(h.read_text(os.path.join(inspector, NAMESPACE, name, "shim-config")))
        assert cfg["Group"] == group and cfg["Address"] == want
        st = _status(os.path.join(inspector, NAMESPACE, name))
        assert st["shim"] == {"address": want, "listening": True, "pid": shim}, st
    # The shim and its socket serve the group until its last container goes.
    _remove(node, names[1])
    assert os.path.exists("/proc/%d" % shim)
    assert stat.S_ISSOCK(os.lstat(want[len("unix://"):]).st_mode)
    _remove(node, names[0], group)


def test_restart_with_live_tasks_reconnects(node, rootfs, inspector):
    """containerd killed and started again finds its live tasks, alone and in
    a group, through the bundles on the mount, and nothing of theirs changes."""
    group = h.unique_name("g")
    alone = h.unique_name("v2live")
    grouped = [h.unique_name("v2livegrp") for _ in range(2)]
    _sleep(node, rootfs, alone)
    for name in grouped:
        _sleep(node, rootfs, name, "--annotation", "%s=%s" % (GROUP_ANN, group))
    names = [alone] + grouped
    before = {n: node.tasks()[n] for n in names}
    status = {n: _status(os.path.join(inspector, NAMESPACE, n)) for n in names}
    shims = {node.shim_of(alone), node.shim_of(grouped[0])}

    node.kill_containerd(signal.SIGKILL)
    assert all(os.path.exists("/proc/%d" % p) for p in shims), "a shim died with containerd"
    node.start_containerd()

    tasks = node.tasks()
    for name in names:
        assert tasks[name] == before[name]
        r = node.ctr("task", "exec", "--exec-id", "probe", name, "sh", "-c",
                     "echo exec:$((1+1))")
        assert r.stdout.splitlines() == ["exec:2"]
        assert _status(os.path.join(inspector, NAMESPACE, name)) == status[name]
    for name in grouped[1:] + [alone]:
        _remove(node, name)
    _remove(node, grouped[0], group)
    assert not shims & set(node.shims()), "a shim outlived its containers"


def test_killed_shim_reads_stale_then_containerd_cleans_up(node, rootfs, inspector):
    name = h.unique_name("v2stale")
    _sleep(node, rootfs, name)
    pid = node.tasks()[name][0]
    shim = node.shim_of(name)
    ro_bundle = os.path.join(inspector, NAMESPACE, name)
    assert _status(ro_bundle)["stale"] is False
    # containerd deletes a bundle as soon as its shim disconnects: stop it first,
    # so that the bundle a SIGKILL leaves behind (as after a node crash) stays.
    node.kill_containerd(signal.SIGKILL)
    for p in (shim, pid):
        os.kill(p, signal.SIGKILL)
    _wait(lambda: _status(ro_bundle)["stale"] is True, "status to say stale")
    st = _status(ro_bundle)
    # The runc v2 shim writes no shim.pid, and no socket names it now.
    assert st["shim"]["listening"] is False and st["shim"]["pid"] is None, st
    assert st["init"] == {"pid": pid, "running": False}, st
    # containerd, restarted, finds the dead shim and deletes the bundle itself,
    # through the mount: nothing of it is left in either root.
    node.start_containerd()
    _wait(lambda: not os.path.lexists(node.backing_bundle(name)) and
          not os.path.lexists(node.work_dir(name)), "containerd to delete the bundle")
    assert name not in os.listdir(os.path.join(inspector, NAMESPACE))
    assert name not in node.tasks()
    # The dead shim's socket stays (containerd's weakness: SPEC 7.3 removes no
    # v2 socket); the container record goes with ctr.
    sock = h.shim_address(node.address, NAMESPACE, name)[len("unix://"):]
    if os.path.lexists(sock):
        os.unlink(sock)
    _remove(node, name)


def _leaks(mnt):
    return [json.loads(ln) for ln in h.read_text(os.path.join(mnt, "leaks")).splitlines()]


def test_node_view_leaks_of_a_killed_shim(node, rootfs):
    """SPEC 8.4 with a real shim: killed with SIGKILL while containerd is
    down, its bundle is reported stale by a node view over the node; once
    containerd, restarted, has deleted the bundle, the shim's socket it left
    in s/ is reported, not listening."""
    name = h.unique_name("v2leak")
    _sleep(node, rootfs, name)
    pid = node.tasks()[name][0]
    shim = node.shim_of(name)
    sock = h.shim_address(node.address, NAMESPACE, name)[len("unix://"):]
    if _is_2x(node):
        boot = json.loads(h.read_text(os.path.join(node.backing_bundle(name),
                                                   "bootstrap.json")))
        sock = boot["address"][len("unix://"):]
    fs = node.mount_node_view(os.path.join(node.tmp, "node-view-leak"))
    mnt = fs.mountpoint
    bundle = {"kind": "bundle", "path": "%s/%s/%s" % (h.V2, NAMESPACE, name),
              "reason": "stale"}

    def mine():
        return [f for f in _leaks(mnt)
                if f.get("path") in (bundle["path"], sock, node.work_dir(name)) or
                f.get("pid") in (shim, pid)]

    try:
        assert mine() == []
        node.kill_containerd(signal.SIGKILL)
        for p in (shim, pid):
            os.kill(p, signal.SIGKILL)
        _wait(lambda: mine() == [bundle], "leaks to name the stale bundle")
        node.start_containerd()
        _wait(lambda: mine() == [{"kind": "socket", "path": sock, "listening": False}],
              "leaks to name the socket the dead shim left")
    finally:
        problems = fs.stop()
        if os.path.lexists(sock):
            os.unlink(sock)
        _remove(node, name)
    assert problems == []


def test_store_empty_after_deletes(node):
    node.assert_store_empty()
