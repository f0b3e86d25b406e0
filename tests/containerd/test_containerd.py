"""containerd's runtime v1 with its state directory on bundlefs (SPEC.md section 6).

containerd (Debian's package, private root/state/sockets) runs with bundlefs
mounted at <state>/io.containerd.runtime.v1.linux; the bundles really live in a
backing store elsewhere, and the work root is containerd's own
<root>/io.containerd.runtime.v1.linux. A second, read-only bundlefs over the
same backing store shows what containerd wrote.
"""

import errno
import json
import os
import signal
import subprocess
import time

import pytest

import ctrd_helpers as h
from bfstest import cmdline, is_mounted, mount_stack, mounts_below
from ctrd_helpers import NAMESPACE

SHIM_CONFIG_KEYS = ["Path", "Namespace", "WorkDir", "Criu", "RuntimeRoot", "SystemdCgroup"]


def _assert_deleted(node, name):
    assert node.leftovers(name) == [], "deleting %s left these behind" % name


def _remove(node, name):
    node.remove_and_check(name)


def test_mount_is_bundlefs_over_separate_store(node):
    assert is_mounted(node.mnt, "fuse.bundlefs"), "%s is not a bundlefs mount" % node.mnt
    assert os.stat(node.mnt).st_dev != os.stat(node.bstate).st_dev


def test_run_rootfs_prints_output(node, rootfs):
    name = h.unique_name("run")
    r = node.run(name, "--rm", "--env", "PATH=/bin", "--rootfs", rootfs, name,
                 "sh", "-c", "echo out:$((6*7))")
    assert r.stdout.splitlines() == ["out:42"], r.stdout
    node.containers.discard(name)
    # containerd created its namespace through the mount: it exists in the backing store.
    assert os.path.isdir(os.path.join(node.bstate, NAMESPACE))
    _assert_deleted(node, name)


def test_detached_bundle_through_readonly_mount(node, rootfs, inspector):
    name = h.unique_name("detached")
    node.run(name, "-d", "--env", "PATH=/bin", "--rootfs", rootfs, name, "sleep", "600")
    task_pid, status = node.tasks()[name]
    assert status == "RUNNING"

    shim = node.shim_of(name)
    flags = h.parse_shim_flags(cmdline(shim))
    # containerd ran the bundle on the mount, and the data went to the backing store.
    assert os.readlink("/proc/%d/cwd" % shim) == node.bundle(name)
    assert os.path.isfile(os.path.join(node.backing_bundle(name), "config.json"))

    ro_bundle = os.path.join(inspector, NAMESPACE, name)
    assert name in os.listdir(os.path.join(inspector, NAMESPACE))

    # address: the socket the shim listens on, the same as containerd's hash.
    address = h.read_text(os.path.join(ro_bundle, "address"))
    assert address == h.shim_address(node.address, NAMESPACE, name)
    assert os.stat(os.path.join(ro_bundle, "address")).st_size == len(address)
    assert address.startswith("unix://")
    assert address[len("unix://"):] in h.listening_unix_sockets(shim), \
        "shim %d does not listen on %s" % (shim, address)

    # shim-config: what containerd passed to the shim on its command line.
    text = h.read_text(os.path.join(ro_bundle, "shim-config"))
    assert text.endswith("}\n")
    assert os.stat(os.path.join(ro_bundle, "shim-config")).st_size == len(text.encode())
    cfg = json.loads(text)
    assert list(cfg) == SHIM_CONFIG_KEYS
    assert cfg["Namespace"] == flags["namespace"] == NAMESPACE
    assert cfg["WorkDir"] == flags["workdir"] == node.work_dir(name)
    assert cfg["RuntimeRoot"] == flags.get("runtime-root", "") == node.runc_root
    assert cfg["Criu"] == flags.get("criu", "")
    assert cfg["SystemdCgroup"] is flags.get("systemd-cgroup", False)
    assert cfg["Path"] == os.readlink("/proc/%d/cwd" % shim) == node.bundle(name)
    assert flags["address"] == node.address

    # pid files, written by containerd and runc through the read-write mount.
    assert h.read_text(os.path.join(ro_bundle, "init.pid")) == str(task_pid)
    assert h.read_text(os.path.join(ro_bundle, "shim.pid")) == str(shim)
    with open(os.path.join(ro_bundle, "config.json"), "rb") as a, \
            open(os.path.join(node.bundle(name), "config.json"), "rb") as b:
        spec = a.read()
        assert spec == b.read()
    assert json.loads(spec)["process"]["args"] == ["sleep", "600"]

    # The inspector changes nothing.
    with pytest.raises(OSError) as e:
        open(os.path.join(ro_bundle, "probe"), "w").close()
    assert e.value.errno == errno.EROFS
    with pytest.raises(OSError) as e:
        os.rmdir(ro_bundle)
    assert e.value.errno == errno.EROFS

    _remove(node, name)
    assert name not in os.listdir(os.path.join(inspector, NAMESPACE))


def _status(bundle_dir):
    with open(os.path.join(bundle_dir, "status"), "rb") as f:
        raw = f.read()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1, raw
    assert os.stat(os.path.join(bundle_dir, "status")).st_size == len(raw)
    return json.loads(raw)


def _wait_gone(pid, deadline=10.0):
    """Until /proc/pid is gone or is a zombie that nobody will reap here."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError("process %d did not die" % pid)


def test_status_of_live_and_killed_task(node, rootfs, inspector):
    """status (SPEC 4.9): a running task is not stale; once its shim and init
    are killed with SIGKILL while containerd is down (so that nothing cleans
    up: the leftover a node is left with), it is."""
    name = h.unique_name("status")
    node.run(name, "-d", "--env", "PATH=/bin", "--rootfs", rootfs, name, "sleep", "600")
    task_pid, _ = node.tasks()[name]
    shim = node.shim_of(name)
    ro_bundle = os.path.join(inspector, NAMESPACE, name)
    address = h.read_text(os.path.join(ro_bundle, "address"))
    assert _status(ro_bundle) == {
        "complete": True,
        "shim": {"address": address, "listening": True, "pid": shim},
        "init": {"pid": task_pid, "running": True},
        "stale": False}
    node.kill_containerd(signal.SIGKILL)
    os.kill(shim, signal.SIGKILL)
    os.kill(task_pid, signal.SIGKILL)
    _wait_gone(shim)
    _wait_gone(task_pid)
    got = _status(ro_bundle)
    assert got["stale"] is True and got["init"]["running"] is False, got
    assert got["shim"]["listening"] is False and got["shim"]["pid"] == shim, got
    assert got["complete"] is True and got["init"]["pid"] == task_pid, got
    # What an operator does about such a leftover: runc's state, then the bundle.
    subprocess.run(["runc", "--root", os.path.join(node.runc_root, NAMESPACE), "delete",
                    "--force", name], check=True, capture_output=True, timeout=30)
    node.start_containerd()
    _remove(node, name)


def test_containerd_killed_and_restarted_reconnects(node, rootfs):
    name = h.unique_name("restart")
    node.run(name, "-d", "--env", "PATH=/bin", "--rootfs", rootfs, name, "sleep", "600")
    pid, status = node.tasks()[name]
    assert status == "RUNNING"
    shim = node.shim_of(name)

    node.kill_containerd(signal.SIGKILL)
    assert os.path.exists("/proc/%d" % shim), "the shim died with containerd"
    node.start_containerd()

    assert node.tasks()[name] == (pid, "RUNNING")
    r = node.ctr("task", "exec", "--exec-id", "probe", name, "sh", "-c", "echo exec:$((1+1))")
    assert r.stdout.splitlines() == ["exec:2"]
    _remove(node, name)
    assert shim not in node.shims(), "shim %d outlived its container" % shim


def test_restart_reconnects_through_computed_address(node, rootfs):
    """Without a stored address containerd reads bundlefs's computed one."""
    name = h.unique_name("computed")
    node.run(name, "-d", "--env", "PATH=/bin", "--rootfs", rootfs, name, "sleep", "600")
    pid, _status = node.tasks()[name]
    addr_file = os.path.join(node.bundle(name), "address")
    stored = h.read_text(addr_file)
    os.unlink(addr_file)
    assert not os.path.lexists(os.path.join(node.backing_bundle(name), "address"))
    assert h.read_text(addr_file) == stored

    node.kill_containerd(signal.SIGKILL)
    node.start_containerd()
    assert node.tasks()[name] == (pid, "RUNNING")
    r = node.ctr("task", "exec", "--exec-id", "probe", name, "echo", "reconnected")
    assert r.stdout == "reconnected\n"
    _remove(node, name)


def test_image_container_rootfs_mounted_in_bundle(node, image):
    name = h.unique_name("img-rm")
    r = node.run(name, "--rm", image, name, "echo", "hi")
    assert r.stdout == "hi\n"
    node.containers.discard(name)
    _assert_deleted(node, name)

    name = h.unique_name("img")
    node.run(name, "-d", image, name, "sleep", "600")
    rootfs = os.path.join(node.bundle(name), "rootfs")
    kinds = [e["fstype"] for e in mount_stack(rootfs)]
    assert kinds == ["overlay"], "mounts on %s: %r" % (rootfs, kinds)
    assert os.path.isfile(os.path.join(rootfs, "bin", "busybox"))
    # The overlay sits on the mount's directory; the backing store's stays empty.
    assert os.listdir(os.path.join(node.backing_bundle(name), "rootfs")) == []
    r = node.ctr("task", "exec", "--exec-id", "probe", name, "echo", "hi")
    assert r.stdout == "hi\n"

    _remove(node, name)
    assert [m for m in mounts_below(node.mnt) if m != node.mnt] == []


def test_store_empty_after_deletes(node):
    """Every container this module ran is deleted: nothing of them is left anywhere."""
    node.assert_store_empty()
