"""containerd's runtime v2 with its state directory on bundlefs (SPEC.md sections 6, 7).

containerd (Debian's package, private root/state/sockets) runs the
io.containerd.runc.v2 shim with bundlefs (runtime=v2) mounted at
<state>/io.containerd.runtime.v2.task; the bundles live in a backing store
elsewhere, the work root is containerd's own <root>/io.containerd.runtime.v2.task.
A second, read-only bundlefs over the same backing store shows what containerd
and the shim wrote.
"""

import json
import os
import signal
import stat
import time

import pytest

import ctrd_helpers as h

RUNTIME = "v2"
# runc's v2 root is the host's /run/containerd/runc/<ns>: a namespace of our own.
NAMESPACE = h.unique_name("v2e2e")
SHIM_CONFIG_KEYS = ["Path", "Namespace", "ID", "Group", "WorkDir", "Address", "Binary",
                    "RuncRoot", "RuncBinary", "SystemdCgroup"]
GROUP_ANN = "io.containerd.runc.v2.group"


def _status(ro_bundle):
    return json.loads(h.read_text(os.path.join(ro_bundle, "status")))


def _sleep(node, rootfs, name, *extra):
    node.run(name, "-d", "--null-io", "--env", "PATH=/bin", *extra, "--rootfs", rootfs, name,
             "/bin/sleep", "600")
    assert node.tasks()[name][1] == "RUNNING"


def _remove(node, name, group=None):
    node.remove_and_check(name, group)


def test_mount_is_v2_bundlefs_over_separate_store(node):
    assert h.is_mounted(node.mnt, "fuse.bundlefs"), "%s is not a bundlefs mount" % node.mnt
    assert node.mnt.endswith("/" + h.V2)
    assert os.stat(node.mnt).st_dev != os.stat(node.bstate).st_dev


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
    flags = h.parse_shim_flags(h.cmdline(shim))
    assert cfg["Path"] == node.bundle(name)
    assert cfg["Namespace"] == flags["namespace"] == NAMESPACE
    assert cfg["ID"] == cfg["Group"] == flags["id"] == name
    assert cfg["WorkDir"] == node.work_dir(name)
    assert cfg["Address"] == address
    assert flags["address"] == node.address
    assert cfg["Binary"] in ("", h.read_text(os.path.join(back, "shim-binary-path")))
    assert cfg["RuncRoot"] == os.path.join(h.V2_RUNC_ROOT, NAMESPACE)
    assert os.path.isfile(os.path.join(cfg["RuncRoot"], name, "state.json"))
    assert cfg["RuncBinary"] == "runc" and cfg["SystemdCgroup"] is False

    st = _status(ro_bundle)
    assert st["complete"] is True and st["stale"] is False
    assert st["shim"]["address"] == address and st["shim"]["listening"] is True
    assert st["init"] == {"pid": pid, "running": True}

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
    # The shim and its socket serve the group until its last container goes.
    _remove(node, names[1])
    assert os.path.exists("/proc/%d" % shim)
    assert stat.S_ISSOCK(os.lstat(want[len("unix://"):]).st_mode)
    _remove(node, names[0], group)


def test_killed_shim_reads_stale(node, rootfs, inspector):
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
    deadline = time.monotonic() + 5
    while _status(ro_bundle)["stale"] is not True and time.monotonic() < deadline:
        time.sleep(0.1)
    st = _status(ro_bundle)
    assert st["stale"] is True, st
    assert st["shim"]["listening"] is False and st["init"]["running"] is False
    # containerd, restarted, cleans up after the dead shim, which leaves its
    # socket behind (containerd's weakness: SPEC 7.3 removes no v2 socket).
    node.start_containerd()
    node.remove_container(name)
    sock = h.shim_address(node.address, NAMESPACE, name)[len("unix://"):]
    if os.path.lexists(sock):
        os.unlink(sock)
    _remove(node, name)


def test_store_empty_after_deletes(node):
    node.assert_store_empty()
