# SPDX-License-Identifier: Apache-2.0
"""SPEC 7 on a real runtime=v2 mount: the NewBundle skeleton and its `work`
link, the three sources of `address`, the v2 shim-config, the v2 Delete,
hidden `.<id>` trees as plain passthrough, and the start-up sweep. Each test
checks what the caller gets and what the backing store holds."""

import errno
import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from bfs_helpers import VALID_SPEC, bundle_and_mount_source, rmdir_busy_while_mounted
from bfstest import errno_of, ident, mode_of, q, read_bytes, wait_until
from gorender import DEFAULT_DAEMON_ADDRESS, computed_address, go_join, shim_config_v2_text

DEFAULT_RUNC_ROOT = "/run/containerd/runc"
GROUP_ANN = "io.containerd.runc.v2.group"
SANDBOX_ANN = "io.kubernetes.cri.sandbox-id"
SWEEP_LOG = r"^bundlefs: removed \d+ leftovers of interrupted operations$"


@pytest.fixture(scope="module")
def v2(module_mount):
    return module_mount(runtime="v2")


def write(path, data):
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def work_target(m, ns, bid):
    """The link target NewBundle makes: the absolute Join(W, ns, id)."""
    return go_join(m.work, ns, bid)


def complete_bundle(m):
    """A bundle with its config.json: its work link shows through the mount."""
    ns, bid = m.new_bundle()
    write(m.m(ns, bid, "config.json"), VALID_SPEC)
    return ns, bid


def settled(path, want, timeout=2.0):
    """The bytes read from path once they equal want (or after timeout): a
    change made beside the mount shows within a second (SPEC 4.8)."""
    wait_until(lambda: read_bytes(path) == want, timeout)
    return read_bytes(path)


def new_bundle_with(m, name, text):
    """A new bundle with text written to name through the mount and stored verbatim."""
    ns, bid = m.new_bundle()
    write(m.m(ns, bid, name), text)
    assert read_bytes(m.s(ns, bid, name)) == text.encode()
    return ns, bid


def assert_reads_as(path, want):
    """path reads as want, and stat gives its length."""
    assert read_bytes(path) == want
    assert os.stat(path).st_size == len(want)


# ------------------------------------------------------------------ 7.1

@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_mkdir_builds_newbundle_skeleton(v2, umask):
    ns = ident("ns")
    bid = ident("b")
    r = v2.sh(f"umask {umask:03o}; mkdir {q(ns)} && mkdir {q(ns)}/{q(bid)}")
    assert r.returncode == 0, r.stderr
    modes = {v2.s(ns): 0o711, v2.s(ns, bid): 0o700, v2.s(ns, bid, "rootfs"): 0o711,
             v2.w(ns): 0o711, v2.w(ns, bid): 0o711}
    for path, mode in modes.items():
        st = os.lstat(path)
        assert stat.S_ISDIR(st.st_mode), path
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (mode, 0, 0), path
    link = os.lstat(v2.s(ns, bid, "work"))
    assert stat.S_ISLNK(link.st_mode) and (link.st_uid, link.st_gid) == (0, 0)
    assert os.readlink(v2.s(ns, bid, "work")) == work_target(v2, ns, bid)
    assert os.path.isabs(os.readlink(v2.s(ns, bid, "work")))
    assert sorted(os.listdir(v2.s(ns, bid))) == ["rootfs", "work"]
    assert os.listdir(v2.w(ns, bid)) == [] and os.listdir(v2.s(ns, bid, "rootfs")) == []
    # Through the mount, until config.json: the overlay files, no runc-options,
    # and no work link yet (containerd makes it itself next: see below).
    assert sorted(os.listdir(v2.m(ns, bid))) == ["address", "rootfs", "shim-config", "status"]
    assert errno_of(os.lstat, v2.m(ns, bid, "work")) == errno.ENOENT
    # Complete: the link as it is.
    write(v2.m(ns, bid, "config.json"), VALID_SPEC)
    assert os.readlink(v2.m(ns, bid, "work")) == work_target(v2, ns, bid)
    assert stat.S_ISLNK(os.lstat(v2.m(ns, bid, "work")).st_mode)
    assert sorted(os.listdir(v2.m(ns, bid))) == ["address", "config.json", "rootfs",
                                                 "shim-config", "status", "work"]


def test_mkdir_removes_leftover_work_dir(v2):
    ns = v2.new_ns()
    bid = ident("b")
    os.makedirs(v2.w(ns, bid, "old", "deep"))
    write(v2.w(ns, bid, "old", "deep", "f"), "stale")
    os.chmod(v2.w(ns, bid), 0o755)
    os.mkdir(v2.m(ns, bid))
    assert os.listdir(v2.w(ns, bid)) == []
    assert mode_of(v2.w(ns, bid)) == 0o711
    assert os.readlink(v2.s(ns, bid, "work")) == work_target(v2, ns, bid)


def test_mkdir_over_mounted_leftover_work_dir_ebusy(v2, tmp_path):
    ns = v2.new_ns()
    bid = ident("b")
    v2.expect_log(rf"^bundlefs: {ns}/{bid}: ")
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep").write_text("mounted")
    os.makedirs(v2.w(ns, bid, "sub"))
    subprocess.run(["mount", "--bind", str(src), v2.w(ns, bid, "sub")], check=True)
    try:
        before = v2.snapshot()
        assert errno_of(os.mkdir, v2.m(ns, bid)) == errno.EBUSY
        v2.assert_unchanged(before)
        assert (src / "keep").read_text() == "mounted"
        assert bid not in os.listdir(v2.m(ns))
    finally:
        subprocess.run(["umount", v2.w(ns, bid, "sub")], check=True)


def test_mkdir_existing_bundle_eexist(v2):
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "rootfs", "f"), "x")
    before = v2.snapshot()
    assert errno_of(os.mkdir, v2.m(ns, bid)) == errno.EEXIST
    v2.assert_unchanged(before)


# ------------------------------------------------------------- the work link

def test_symlink_onto_work_with_its_target_succeeds(v2):
    """containerd's NewBundle on the mount: mkdir, then symlink(W/<ns>/<id>,
    <bundle>/work), then config.json. The VFS answers symlink(2) onto a name a
    lookup finds with EEXIST before any FUSE daemon sees it, so the link made
    at mkdir shows through the mount only once the bundle is complete."""
    ns, bid = v2.new_bundle()
    before = v2.snapshot()
    os.symlink(work_target(v2, ns, bid), v2.m(ns, bid, "work"))
    v2.assert_unchanged(before)
    # Again, from another process (the one that made it sees it from then on).
    r = v2.sh(f"ln -s {q(work_target(v2, ns, bid))} {q(v2.m(ns, bid, 'work'))}")
    assert r.returncode == 0, r.stderr
    assert errno_of(os.symlink, work_target(v2, ns, bid), v2.m(ns, bid, "work")) == errno.EEXIST
    v2.assert_unchanged(before)
    write(v2.m(ns, bid, "config.json"), VALID_SPEC)
    assert os.readlink(v2.m(ns, bid, "work")) == work_target(v2, ns, bid)


def test_work_link_of_incomplete_bundle(v2, tmp_path):
    """Until config.json the link is whole in the store but not shown: not
    listed, lstat and readlink ENOENT, unlink ENOENT; a symlink(2) onto it
    succeeds whatever its target and changes nothing (a restored copy of a
    bundle carries the old bundle's target), and the process that made it
    sees the link from then on; nothing changes."""
    ns, bid = v2.new_bundle()
    before = v2.snapshot()
    work = v2.m(ns, bid, "work")
    assert "work" not in os.listdir(v2.m(ns, bid))
    assert errno_of(os.readlink, work) == errno.ENOENT
    assert errno_of(os.unlink, work) == errno.ENOENT
    r = subprocess.run([sys.executable, "-c",
                        "import os, sys; os.symlink(sys.argv[1], sys.argv[2]); "
                        "print(os.readlink(sys.argv[2]))", str(tmp_path), work],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == work_target(v2, ns, bid)
    v2.assert_unchanged(before)
    assert os.readlink(v2.s(ns, bid, "work")) == work_target(v2, ns, bid)
    assert errno_of(os.readlink, work) == errno.ENOENT


def test_symlink_onto_work_with_other_target_eexist(v2, tmp_path):
    ns, bid = complete_bundle(v2)
    before = v2.snapshot()
    assert errno_of(os.symlink, str(tmp_path), v2.m(ns, bid, "work")) == errno.EEXIST
    v2.assert_unchanged(before)
    assert os.readlink(v2.m(ns, bid, "work")) == work_target(v2, ns, bid)


@pytest.mark.parametrize("op", ["unlink", "rename_from", "rename_onto", "rename_onto_dir",
                                "rm_f"])
def test_work_link_cannot_be_removed_or_renamed(v2, op):
    """Renames fail with EPERM; an unlink (rm -f) releases the name to the
    unlinking process and changes nothing (test_tools.py)."""
    ns, bid = complete_bundle(v2)
    write(v2.m(ns, bid, "other"), "x")
    os.mkdir(v2.m(ns, bid, "odir"))
    before = v2.snapshot()
    work, other = v2.m(ns, bid, "work"), v2.m(ns, bid, "other")
    if op == "unlink":
        r = v2.sh(f"rm {q(work)}")
        assert r.returncode == 0, r.stderr
    elif op == "rename_from":
        assert errno_of(os.rename, work, v2.m(ns, bid, "moved")) == errno.EPERM
    elif op == "rename_onto":
        assert errno_of(os.rename, other, work) == errno.EPERM
    elif op == "rename_onto_dir":
        assert errno_of(os.rename, work, v2.m(ns, bid, "odir", "work")) == errno.EPERM
    else:
        r = v2.sh(f"rm -f {q(ns)}/{q(bid)}/work")
        assert r.returncode == 0, r.stderr
    v2.assert_unchanged(before)
    assert os.readlink(work) == work_target(v2, ns, bid)
    assert os.readlink(work) == work_target(v2, ns, bid)


# ------------------------------------------------------------------ address

def group_address(m, ns, group):
    return m.address(ns, group).encode()


def test_address_computed_from_id(v2):
    ns, bid = v2.new_bundle()
    want = group_address(v2, ns, bid)
    assert_reads_as(v2.m(ns, bid, "address"), want)
    assert not os.path.lexists(v2.s(ns, bid, "address"))


@pytest.mark.parametrize("annotations,group", [
    ({GROUP_ANN: "g1"}, "g1"),
    ({SANDBOX_ANN: "sb1"}, "sb1"),
    ({SANDBOX_ANN: "sb1", GROUP_ANN: "g1"}, "g1"),
    ({GROUP_ANN: ""}, ""),
    ({GROUP_ANN: "../x//y/"}, "../x//y/"),
    ({"other": "v"}, None),
], ids=["group", "sandbox", "group_first", "empty_group", "uncleaned_group", "no_group"])
def test_address_computed_from_group(v2, annotations, group):
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "config.json"), json.dumps({"annotations": annotations}))
    want = group_address(v2, ns, bid if group is None else group)
    assert_reads_as(v2.m(ns, bid, "address"), want)
    cfg = json.loads(read_bytes(v2.m(ns, bid, "shim-config")))
    assert cfg["Group"] == (bid if group is None else group)


def test_group_address_shared_by_bundles_of_a_group(v2):
    ns = v2.new_ns()
    ids = [v2.new_bundle(ns)[1] for _ in range(2)]
    for bid in ids:
        write(v2.m(ns, bid, "config.json"), json.dumps({"annotations": {GROUP_ANN: "pod"}}))
    addrs = {read_bytes(v2.m(ns, bid, "address")) for bid in ids}
    assert addrs == {group_address(v2, ns, "pod")}


def test_address_stored_verbatim_then_unlinked(v2):
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "bootstrap.json"), '{"address":"unix:///from/bootstrap"}')
    stored = b"unix:///run/containerd/s/stored\n"
    write(v2.m(ns, bid, "address"), stored)
    assert read_bytes(v2.s(ns, bid, "address")) == stored
    assert_reads_as(v2.m(ns, bid, "address"), stored)
    os.unlink(v2.m(ns, bid, "address"))
    assert not os.path.lexists(v2.s(ns, bid, "address"))
    assert read_bytes(v2.m(ns, bid, "address")) == b"unix:///from/bootstrap"
    os.unlink(v2.m(ns, bid, "bootstrap.json"))
    assert read_bytes(v2.m(ns, bid, "address")) == group_address(v2, ns, bid)


def test_address_stored_as_containerd_writes_it(v2):
    """The 1.6/1.7 shim: .address with O_EXCL, then rename over address."""
    ns, bid = v2.new_bundle()
    addr = group_address(v2, ns, bid)
    fd = os.open(v2.m(ns, bid, ".address"), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_SYNC,
                 0o666)
    os.write(fd, addr)
    os.close(fd)
    os.rename(v2.m(ns, bid, ".address"), v2.m(ns, bid, "address"))
    assert read_bytes(v2.s(ns, bid, "address")) == addr
    assert stat.S_ISREG(os.lstat(v2.s(ns, bid, "address")).st_mode)
    assert not os.path.lexists(v2.s(ns, bid, ".address"))
    assert read_bytes(v2.m(ns, bid, "address")) == addr


BOOTSTRAP = {
    "valid": ('{"version":3,"address":"unix:///run/containerd/s/boot","protocol":"ttrpc"}',
              b"unix:///run/containerd/s/boot"),
    "later_keys": ('{"version":3,"address":"unix:///a","protocol":"ttrpc",'
                   '"capabilities":["x"],"metadata":{"k":"v"}}', b"unix:///a"),
    "not_an_object": ('["unix:///run/containerd/s/boot"]', None),
    "address_not_a_string": ('{"version":3,"address":42}', None),
    "address_null": ('{"address":null}', None),
    "no_address": ('{"version":3}', None),
    "not_json": ('{"address":"unix:///x"', None),
}


@pytest.mark.parametrize("case", sorted(BOOTSTRAP))
def test_address_from_bootstrap_json(v2, case):
    text, want = BOOTSTRAP[case]
    ns, bid = new_bundle_with(v2, "bootstrap.json", text)
    want = want if want is not None else group_address(v2, ns, bid)
    assert_reads_as(v2.m(ns, bid, "address"), want)
    assert json.loads(read_bytes(v2.m(ns, bid, "shim-config")))["Address"] == want.decode()


@pytest.mark.parametrize("name", ["bootstrap.json", "address"])
def test_symlink_in_place_of_address_source_not_followed(v2, tmp_path, name):
    ns, bid = v2.new_bundle()
    elsewhere = tmp_path / "planted"
    elsewhere.write_text('{"address":"unix:///planted"}' if name == "bootstrap.json"
                         else "unix:///planted")
    # `address` always exists through the mount: plant that link in the store.
    os.symlink(str(elsewhere), (v2.m if name == "bootstrap.json" else v2.s)(ns, bid, name))
    assert stat.S_ISLNK(os.lstat(v2.s(ns, bid, name)).st_mode)
    want = group_address(v2, ns, bid)
    assert settled(v2.m(ns, bid, "address"), want) == want


def test_address_follows_bootstrap_written_beside_mount(v2):
    ns, bid = v2.new_bundle()
    assert read_bytes(v2.m(ns, bid, "address")) == group_address(v2, ns, bid)
    write(v2.s(ns, bid, "bootstrap.json"), '{"address":"unix:///beside"}')
    assert settled(v2.m(ns, bid, "address"), b"unix:///beside") == b"unix:///beside"


# -------------------------------------------------------------- shim-config

def expected_shim_config(m, ns, bid, group=None, address=None, binary="", runc_root=None,
                         runc_binary="runc", systemd_cgroup=False, sandbox=""):
    group = bid if group is None else group
    return shim_config_v2_text(
        go_join(m.state, ns, bid), ns, bid, group, go_join(m.work, ns, bid),
        address if address is not None else m.address(ns, group), binary,
        go_join(runc_root or DEFAULT_RUNC_ROOT, ns), runc_binary, systemd_cgroup, sandbox)


def test_shim_config_without_options(v2):
    ns, bid = v2.new_bundle()
    assert_reads_as(v2.m(ns, bid, "shim-config"), expected_shim_config(v2, ns, bid))


OPTIONS = {
    "empty": ("{}", {}),
    "root": ('{"root":"/x/runc"}', {"runc_root": "/x/runc"}),
    "empty_root": ('{"root":""}', {}),
    "binary_name": ('{"binary_name":"/usr/sbin/runc"}', {"runc_binary": "/usr/sbin/runc"}),
    "systemd_cgroup": ('{"systemd_cgroup":true}', {"systemd_cgroup": True}),
    "all": ('{"binary_name":"crun","root":"/r//o/","systemd_cgroup":true,"io_uid":5}',
            {"runc_root": "/r//o/", "runc_binary": "crun", "systemd_cgroup": True}),
    "not_an_object": ('["root","/x"]', {}),
    "not_json": ('{"root":', {}),
}


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_shim_config_with_options_json(v2, case):
    text, over = OPTIONS[case]
    ns, bid = new_bundle_with(v2, "options.json", text)
    assert_reads_as(v2.m(ns, bid, "shim-config"), expected_shim_config(v2, ns, bid, **over))


def test_shim_config_binary_group_and_address(v2):
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "shim-binary-path"), "/usr/bin/containerd-shim-runc-v2")
    write(v2.m(ns, bid, "config.json"), json.dumps({"annotations": {GROUP_ANN: "g"}}))
    write(v2.m(ns, bid, "options.json"), '{"root":"/rr"}')
    want = expected_shim_config(v2, ns, bid, group="g",
                                binary="/usr/bin/containerd-shim-runc-v2", runc_root="/rr")
    assert read_bytes(v2.m(ns, bid, "shim-config")) == want
    write(v2.m(ns, bid, "address"), "unix:///stored")
    want = expected_shim_config(v2, ns, bid, group="g", address="unix:///stored",
                                binary="/usr/bin/containerd-shim-runc-v2", runc_root="/rr")
    assert read_bytes(v2.m(ns, bid, "shim-config")) == want


def test_shim_binary_path_symlink_not_followed(v2, tmp_path):
    ns, bid = v2.new_bundle()
    (tmp_path / "bin").write_text("/planted")
    os.symlink(str(tmp_path / "bin"), v2.m(ns, bid, "shim-binary-path"))
    assert read_bytes(v2.m(ns, bid, "shim-config")) == expected_shim_config(v2, ns, bid)


def test_shim_config_of_a_pods_containers(v2):
    """containerd 2.x (SPEC 7.2, 7.4): a pod's containers name their sandbox in
    `sandbox` and have no shim-binary-path; the sandbox's bundle has it."""
    ns, sb = v2.new_bundle()
    _, ctr = v2.new_bundle(ns)
    shim = "/opt/containerd2/bin/containerd-shim-runc-v2"
    for bid in (sb, ctr):
        write(v2.m(ns, bid, "config.json"), json.dumps({"annotations": {SANDBOX_ANN: sb}}))
    write(v2.m(ns, sb, "shim-binary-path"), shim)
    write(v2.m(ns, ctr, "sandbox"), sb)
    assert read_bytes(v2.m(ns, sb, "shim-config")) == expected_shim_config(
        v2, ns, sb, group=sb, binary=shim)
    assert read_bytes(v2.m(ns, ctr, "shim-config")) == expected_shim_config(
        v2, ns, ctr, group=sb, binary=shim, sandbox=sb)
    # The container's own shim-binary-path wins; without the sandbox's, none.
    write(v2.m(ns, ctr, "shim-binary-path"), "/own")
    assert json.loads(read_bytes(v2.m(ns, ctr, "shim-config")))["Binary"] == "/own"
    os.unlink(v2.m(ns, ctr, "shim-binary-path"))
    os.unlink(v2.m(ns, sb, "shim-binary-path"))
    cfg = json.loads(read_bytes(v2.m(ns, ctr, "shim-config")))
    assert (cfg["Sandbox"], cfg["Binary"]) == (sb, "")
    # Only an identifier names a sandbox (a trailing newline makes none).
    write(v2.m(ns, sb, "shim-binary-path"), shim)
    write(v2.m(ns, ctr, "sandbox"), sb + "\n")
    cfg = json.loads(read_bytes(v2.m(ns, ctr, "shim-config")))
    assert (cfg["Sandbox"], cfg["Binary"]) == ("", "")


def test_shim_config_options_of_mount(module_mount):
    """daemon_address, socket_root and bundle_root feed Address and Path."""
    m = module_mount(runtime="v2", daemon_address="/x/../c.sock/", bundle_root="/b//root/")
    ns, bid = m.new_bundle()
    want = shim_config_v2_text(
        go_join("/b//root/", ns, bid), ns, bid, bid, go_join(m.work, ns, bid),
        m.address(ns, bid), "", go_join(DEFAULT_RUNC_ROOT, ns), "runc", False)
    assert read_bytes(m.m(ns, bid, "shim-config")) == want
    assert m.address(ns, bid) != computed_address(m.socket_root, DEFAULT_DAEMON_ADDRESS, ns, bid)


def test_shim_config_read_only(v2):
    ns, bid = v2.new_bundle()
    before = v2.snapshot()
    assert errno_of(open, v2.m(ns, bid, "shim-config"), "w") in (errno.EPERM, errno.EACCES)
    assert errno_of(os.truncate, v2.m(ns, bid, "shim-config"), 0) in (errno.EPERM, errno.EACCES)
    v2.assert_unchanged(before)


def test_runc_options_is_passthrough(v2):
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "runc-options"), "not json at all")
    assert read_bytes(v2.s(ns, bid, "runc-options")) == b"not json at all"
    assert read_bytes(v2.m(ns, bid, "runc-options")) == b"not json at all"
    os.unlink(v2.m(ns, bid, "runc-options"))
    assert not os.path.lexists(v2.s(ns, bid, "runc-options"))


# ------------------------------------------------------------------- 7.3

def test_rmdir_deletes_computed_work_dir_not_link_target(v2, tmp_path):
    ns, bid = v2.new_bundle()
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "precious").write_text("keep")
    write(v2.m(ns, bid, "rootfs", "f"), "x")
    write(v2.w(ns, bid, "wf"), "y")
    os.unlink(v2.s(ns, bid, "work"))
    os.symlink(str(other), v2.s(ns, bid, "work"))
    os.rmdir(v2.m(ns, bid))
    assert not os.path.lexists(v2.s(ns, bid)) and not os.path.lexists(v2.w(ns, bid))
    assert os.listdir(v2.s(ns)) == [] and os.listdir(v2.w(ns)) == []
    assert sorted(os.listdir(other)) == ["precious"]
    assert (other / "precious").read_text() == "keep"
    assert errno_of(os.stat, v2.m(ns, bid)) == errno.ENOENT


def test_rmdir_removes_no_socket(v2):
    ns, bid = v2.new_bundle()
    path = v2.address(ns, bid)[len("unix://"):]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        write(v2.m(ns, bid, "address"), "unix://" + path)
        os.rmdir(v2.m(ns, bid))
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert not os.path.lexists(v2.s(ns, bid))
    finally:
        s.close()
        os.unlink(path)


def test_rmdir_with_stale_hidden_dirs(v2):
    ns, bid = v2.new_bundle()
    for root in (v2.s, v2.w):
        os.makedirs(root(ns, "." + bid, "rootfs", "old"))
        write(root(ns, "." + bid, "rootfs", "old", "f"), "stale")
    os.rmdir(v2.m(ns, bid))
    assert not os.path.lexists(v2.s(ns, bid)) and not os.path.lexists(v2.w(ns, bid))
    assert bid not in os.listdir(v2.m(ns))


@pytest.mark.parametrize("where", ["rootfs", "rootfs_sub", "work_sub"])
def test_rmdir_busy_with_mount_inside(v2, tmp_path, where):
    ns, bid, src = bundle_and_mount_source(v2, tmp_path)
    target = {"rootfs": v2.s(ns, bid, "rootfs"), "rootfs_sub": v2.s(ns, bid, "rootfs", "sub"),
              "work_sub": v2.w(ns, bid, "sub")}[where]
    with rmdir_busy_while_mounted(v2, ns, bid, src, target):
        assert os.readlink(v2.s(ns, bid, "work")) == work_target(v2, ns, bid)
    os.rmdir(v2.m(ns, bid))
    assert not os.path.lexists(v2.s(ns, bid)) and not os.path.lexists(v2.w(ns, bid))


def test_hidden_tree_removed_by_rm_rf(v2):
    """containerd's atomicDelete: rename to .<id>, then RemoveAll through the
    mount; below .<id> every entry, `work` included, is passthrough."""
    ns, bid = v2.new_bundle()
    write(v2.m(ns, bid, "config.json"), "{}")
    write(v2.m(ns, bid, "address"), "unix:///a")
    write(v2.m(ns, bid, "bootstrap.json"), '{"address":"unix:///b"}')
    os.makedirs(v2.m(ns, bid, "rootfs", "a", "b"))
    os.mkfifo(v2.m(ns, bid, "log"), 0o700)
    os.rename(v2.m(ns, bid), v2.m(ns, "." + bid))
    hidden = v2.m(ns, "." + bid)
    assert sorted(os.listdir(hidden)) == ["address", "bootstrap.json", "config.json", "log",
                                          "rootfs", "work"]
    assert errno_of(os.stat, os.path.join(hidden, "shim-config")) == errno.ENOENT
    assert read_bytes(os.path.join(hidden, "address")) == b"unix:///a"
    write(os.path.join(hidden, "config.json"), "not a spec")   # no validation here
    assert read_bytes(v2.s(ns, "." + bid, "config.json")) == b"not a spec"
    r = v2.sh(f"rm -rf {q(ns)}/.{q(bid)}")
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(v2.s(ns, "." + bid))
    assert os.path.isdir(v2.w(ns, bid))        # the work dir is containerd's next step
    assert os.listdir(v2.m(ns)) == []


def test_hidden_work_link_unlinkable(v2):
    ns = v2.new_ns()
    os.makedirs(v2.s(ns, ".h"))
    os.symlink("/somewhere", v2.s(ns, ".h", "work"))
    os.unlink(v2.m(ns, ".h", "work"))
    assert not os.path.lexists(v2.s(ns, ".h", "work"))
    os.symlink("/x", v2.m(ns, ".h", "work"))
    assert os.readlink(v2.s(ns, ".h", "work")) == "/x"


# ----------------------------------------------------------------- the sweep

def test_startup_sweep_on_v2_mount(mount_bundlefs):
    ns, bid = "swns", "keep"
    gone = [("s", ns, ".dead1"), ("w", ns, ".dead1"), ("w", ns, ".dead2"),
            ("s", ".bundlefs-tmp1"), ("s", ns, ".bundlefs-tmp2")]
    kept = [("s", ns, bid, "rootfs", "f"), ("s", ns, bid, ".bundlefs-inside"),
            ("s", ns, ".notident..x"), ("w", ns, bid, ".old"), ("w", ns, "visible")]

    def prepare(m):
        m.expect_log(SWEEP_LOG)
        os.makedirs(m.s(ns, bid, "rootfs"), 0o700)
        os.symlink(go_join(m.work, ns, bid), m.s(ns, bid, "work"))
        os.makedirs(m.w(ns, bid))
        for where, *parts in gone + kept:
            root = m.s if where == "s" else m.w
            os.makedirs(os.path.dirname(root(*parts)), exist_ok=True)
            if parts[-1].startswith(".dead"):
                os.makedirs(root(*parts, "rootfs", "deep"))
                write(root(*parts, "rootfs", "deep", "f"), "x")
            else:
                write(root(*parts), "x")

    m = mount_bundlefs(prepare=prepare, runtime="v2")
    for where, *parts in gone:
        assert not os.path.lexists((m.s if where == "s" else m.w)(*parts)), parts
    for where, *parts in kept:
        assert os.path.lexists((m.s if where == "s" else m.w)(*parts)), parts
    assert os.readlink(m.s(ns, bid, "work")) == go_join(m.work, ns, bid)
    assert m.wait_log(SWEEP_LOG)
    assert sorted(os.listdir(m.m(ns))) == [".notident..x", bid]


# ------------------------------------------------------------ SPEC 2 runtime=

@pytest.mark.parametrize("dirname,runtime,is_v2", [
    ("io.containerd.runtime.v2.task", None, True),
    ("io.containerd.runtime.v2.task", "v2", True),
    ("io.containerd.runtime.v1.linux", None, False),
    ("io.containerd.runtime.v1.linux", "v1", False),
    ("state", None, True),
    ("state", "v2", True),
    ("state", "v1", False),
])
def test_runtime_decided_by_state_dir_name(mount_bundlefs, dirname, runtime, is_v2):
    def prepare(m):
        m.state = os.path.join(m.base, dirname)
        os.makedirs(m.state, exist_ok=True)

    m = mount_bundlefs(prepare=prepare, runtime=runtime)
    ns, bid = m.new_bundle()
    write(m.m(ns, bid, "config.json"), VALID_SPEC)
    assert os.path.islink(m.s(ns, bid, "work")) is is_v2
    assert ("work" in os.listdir(m.m(ns, bid))) is is_v2
    assert ('"Group":' in read_bytes(m.m(ns, bid, "shim-config")).decode()) is is_v2
