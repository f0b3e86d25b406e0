# SPDX-License-Identifier: Apache-2.0
"""cmake --install into a temporary prefix and into /usr, and mounting the
installed bundlefs through mount.bundlefs, mount -t bundlefs,
mount -t fuse.bundlefs (mount.fuse3) and fstab (mount -a, mount DIR): the
mount's source and type, its flags, a second mount, a remount after a crash."""
import errno
import os
import signal
from pathlib import Path

import pytest

from bfstest import REPO, daemon_pids, mount_stack
from install_helpers import (INSTALLED, WebStore, mounts_at, require_real, run, umount_and_wait,
                             wait_gone, where_mount_looks)

# What mount(8), fstab and systemd add and the daemon must never see.
MOUNT_OPTS = ("defaults,auto,nofail,_netdev,user,users,nouser,"
              "x-systemd.after=containerd.service,x-systemd.device-timeout=10s,"
              "comment=bundlefs-test")


def files_under(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            out[str(p.relative_to(root))] = p.stat().st_mode & 0o7777
    return out


@pytest.fixture(scope="module")
def tmp_prefix(build_dir, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    run(["cmake", "--install", build_dir, "--prefix", prefix])
    return prefix


def test_tmp_prefix_file_list(tmp_prefix):
    assert files_under(tmp_prefix) == INSTALLED


def test_tmp_prefix_manual_pages(tmp_prefix):
    for page in ("bundlefs.8", "mount.bundlefs.8"):
        got = run(["zcat", tmp_prefix / "share/man/man8" / (page + ".gz")]).stdout
        assert got == (REPO / "docs/man" / page).read_text()


def helper_env(tmp_prefix):
    return dict(os.environ, BUNDLEFS_DAEMON=str(tmp_prefix / "bin/bundlefs"))


def installed_helper(tmp_prefix, store, *args, check=True):
    return run([tmp_prefix / "sbin/mount.bundlefs", *args], check=check,
               env=helper_env(tmp_prefix))


def test_installed_helper_ro(tmp_prefix, store):
    installed_helper(tmp_prefix, store, store.state, store.mnt, "-o",
                     f"ro,work={store.work},{MOUNT_OPTS}")
    assert mounts_at(store.mnt) == ["fuse.bundlefs"]
    store.check_visible()
    store.check_ro()
    umount_and_wait(store.mnt)


def test_installed_helper_rw_state_option(tmp_prefix, store):
    installed_helper(tmp_prefix, store, "none", store.mnt, "-o",
                     f"state={store.state},work={store.work}")
    store.check_visible()
    store.check_rw()
    umount_and_wait(store.mnt)


def test_installed_through_mount_fuse3(tmp_prefix, store):
    """mount.fuse3 runs "bundlefs SRC DIR -o OPTS" from PATH. mount(8) has
    already removed defaults, x-* and comment=; mount.fuse3 drops nofail,
    _netdev, auto, noauto, user, users, nouser and adds dev,suid."""
    env = dict(os.environ, PATH=f"{tmp_prefix}/bin:{os.environ['PATH']}")
    run(["/sbin/mount.fuse3", store.state, store.mnt, "-t", "fuse.bundlefs", "-o",
         f"ro,work={store.work},auto,nofail,_netdev,user,users,nouser"], env=env)
    store.check_visible()
    store.check_ro()
    umount_and_wait(store.mnt)


def test_installed_through_mount_fuse3_none_source(tmp_prefix, store):
    env = dict(os.environ, PATH=f"{tmp_prefix}/bin:{os.environ['PATH']}")
    run(["/sbin/mount.fuse3", "none", store.mnt, "-t", "fuse.bundlefs", "-o",
         f"state={store.state},work={store.work}"], env=env)
    store.check_visible()
    store.check_rw()
    umount_and_wait(store.mnt)


def test_installed_helper_node_view(tmp_prefix, node_store):
    """The node view through the helper as mount(8) runs it (SPEC 8.1):
    node and containerd_root= reach the daemon, the source is C_S."""
    s = node_store
    installed_helper(tmp_prefix, s, s.cs, s.mountpoint, "-o",
                     f"rw,node,ro,containerd_root={s.cr},nofail,x-systemd.after=x")
    assert [(e["fstype"], e["source"]) for e in mount_stack(s.mountpoint)] == \
        [("fuse.bundlefs", s.cs)]
    s.check_visible()
    s.check_ro()
    umount_and_wait(s.mountpoint)


def one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got {stderr!r}"
    return lines[0]


def test_installed_helper_bad_option(tmp_prefix, store):
    r = installed_helper(tmp_prefix, store, store.state, store.mnt, "-o",
                         f"work={store.work},no_such_option", check=False)
    assert r.returncode == 32
    line = one_line(r.stderr)
    assert line.startswith(f"mount.bundlefs: {store.mnt}: ")
    assert "no_such_option" in line
    assert mounts_at(store.mnt) == []


def test_installed_helper_missing_work_dir(tmp_prefix, store):
    absent = Path(store.base) / "absent-work"
    r = installed_helper(tmp_prefix, store, store.state, store.mnt, "-o",
                         f"work={absent}", check=False)
    assert r.returncode == 32
    assert str(absent) in one_line(r.stderr)
    assert mounts_at(store.mnt) == []


def test_installed_helper_missing_mountpoint(tmp_prefix, store):
    r = installed_helper(tmp_prefix, store, store.state, Path(store.mnt) / "absent", "-o",
                         f"work={store.work}", check=False)
    assert r.returncode == 32
    assert one_line(r.stderr) == \
        f"mount.bundlefs: mount point {store.mnt}/absent: No such file or directory"


def kill_daemon(mnt, used=False):
    """kill -9 the daemon serving mnt. Used: its root is looked at first, so
    the kernel still answers stat(2) of the dead mount from its cache."""
    pids = daemon_pids(mnt)
    assert len(pids) == 1
    if used:
        os.listdir(mnt)
        os.stat(mnt)  # last: a readdir makes the kernel drop the root's attributes
    os.kill(pids[0], signal.SIGKILL)
    wait_gone(pids[0])
    # Kernels report ENOTCONN or, for an aborted connection, ECONNABORTED.
    with pytest.raises(OSError) as e:
        os.statvfs(mnt)
    assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    if used:
        os.stat(mnt)
    else:
        with pytest.raises(OSError) as e:
            os.stat(mnt)
        assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)


def check_mount(store, flags=("nosuid", "nodev")):
    """One live bundlefs mount on store.mnt, its source the state dir, with
    exactly those of nosuid and nodev among its flags."""
    stack = mount_stack(store.mnt)
    assert [(e["fstype"], e["source"]) for e in stack] == \
        [("fuse.bundlefs", str(store.state))], stack
    assert {"nosuid", "nodev"} & stack[0]["opts"] == set(flags), stack[0]["opts"]
    assert len(daemon_pids(store.mnt)) == 1
    os.statvfs(store.mnt)


def one_line_about(stderr, prog, mnt, state):
    assert stderr.splitlines() == \
        [f"{prog}: {mnt}: already mounted (bundlefs of {state})"], stderr


@pytest.mark.parametrize("used", [False, True], ids=["unused", "used"])
def test_installed_helper_recovers_stale_mount(tmp_prefix, store, used):
    """A remount over a crashed mount reports success when it mounts, whether
    or not the old mount was used before the crash."""
    installed_helper(tmp_prefix, store, store.state, store.mnt, "-o", f"work={store.work}")
    kill_daemon(store.mnt, used)
    r = installed_helper(tmp_prefix, store, store.state, store.mnt, "-o",
                         f"ro,work={store.work}")
    assert r.stderr == ""
    check_mount(store)
    store.check_visible()
    store.check_ro()
    umount_and_wait(store.mnt)


HELPER_FLAGS = {
    # the options beside work=, the flags of nosuid and nodev left on the mount
    "default": ("", ("nosuid", "nodev")),
    "dev_suid": (",dev,suid", ()),
    "allow_dev_allow_suid": (",allow_dev,allow_suid", ()),
    "allow_suid": (",allow_suid", ("nodev",)),
}


@pytest.mark.parametrize("case", HELPER_FLAGS)
@pytest.mark.parametrize("source", ["state", "none"])
def test_installed_helper_source_and_flags(tmp_prefix, store, case, source):
    """mount.bundlefs run as mount(8) runs it ("-o rw,..."): the source is the
    state dir (also when given as state=), nosuid,nodev by default."""
    extra, flags = HELPER_FLAGS[case]
    if source == "state":
        args = [store.state, store.mnt, "-o", f"rw,work={store.work}{extra}"]
    else:
        args = ["none", store.mnt, "-o", f"rw,state={store.state},work={store.work}{extra}"]
    r = installed_helper(tmp_prefix, store, *args)
    assert r.stderr == ""
    check_mount(store, flags)
    store.check_rw()
    umount_and_wait(store.mnt)


def test_installed_helper_second_mount_refused(tmp_prefix, store):
    installed_helper(tmp_prefix, store, store.state, store.mnt, "-o", f"work={store.work}")
    before = mount_stack(store.mnt)
    r = installed_helper(tmp_prefix, store, store.state, store.mnt, "-o",
                         f"work={store.work}", check=False)
    assert r.returncode == 32
    one_line_about(r.stderr, "mount.bundlefs", store.mnt, store.state)
    assert mount_stack(store.mnt) == before
    check_mount(store)
    umount_and_wait(store.mnt)


def mount_fuse3(tmp_prefix, store, opts, src=None, check=True):
    """mount.fuse3 as mount(8) runs it for type fuse.bundlefs; it runs
    "bundlefs SRC DIR -o OPTS,dev,suid" from PATH."""
    env = dict(os.environ, PATH=f"{tmp_prefix}/bin:{os.environ['PATH']}")
    return run(["/sbin/mount.fuse3", src or store.state, store.mnt, "-t", "fuse.bundlefs", "-o",
                opts], env=env, check=check)


@pytest.mark.parametrize("case", HELPER_FLAGS)
def test_installed_through_mount_fuse3_source_and_flags(tmp_prefix, store, case):
    """mount.fuse3 appends dev,suid (mount(8)'s defaults) to every mount;
    bundlefs drops what it appended, so nosuid,nodev by default here too."""
    extra, flags = HELPER_FLAGS[case]
    r = mount_fuse3(tmp_prefix, store, f"rw,work={store.work}{extra}")
    assert r.stderr == ""
    check_mount(store, flags)
    umount_and_wait(store.mnt)


@pytest.mark.parametrize("used", [False, True], ids=["unused", "used"])
def test_installed_through_mount_fuse3_recovers_stale_mount(tmp_prefix, store, used):
    mount_fuse3(tmp_prefix, store, f"rw,work={store.work}")
    kill_daemon(store.mnt, used)
    r = mount_fuse3(tmp_prefix, store, f"ro,work={store.work}")
    assert r.stderr == ""
    check_mount(store)
    store.check_ro()
    umount_and_wait(store.mnt)


def test_installed_through_mount_fuse3_second_mount_refused(tmp_prefix, store):
    mount_fuse3(tmp_prefix, store, f"rw,work={store.work}")
    before = mount_stack(store.mnt)
    r = mount_fuse3(tmp_prefix, store, f"rw,work={store.work}", check=False)
    assert r.returncode != 0
    one_line_about(r.stderr, "bundlefs", store.mnt, store.state)
    assert mount_stack(store.mnt) == before
    umount_and_wait(store.mnt)


# ---- the real prefix /usr: mount(8) finds the helper only there ----------

@pytest.fixture(scope="module")
def real_install(build_dir):
    require_real()
    run(["cmake", "--install", build_dir])
    manifest = [Path(p) for p in
                (build_dir / "install_manifest.txt").read_text().splitlines()]
    yield manifest
    for p in manifest:
        p.unlink(missing_ok=True)
    Path("/usr/share/doc/bundlefs").rmdir()


def test_real_file_list(real_install):
    assert sorted(str(p) for p in real_install) == \
        sorted(f"/usr/{rel}" for rel in INSTALLED)
    for rel, mode in INSTALLED.items():
        assert (Path("/usr") / rel).stat().st_mode & 0o7777 == mode
    # mount(8) looks in /sbin; on Debian 12 it is /usr/sbin.
    assert where_mount_looks("/usr/sbin/mount.bundlefs")


def test_mount_t_bundlefs(real_install, store):
    run(["mount", "-t", "bundlefs", store.state, store.mnt, "-o",
         f"ro,work={store.work},{MOUNT_OPTS}"])
    assert mounts_at(store.mnt) == ["fuse.bundlefs"]
    store.check_visible()
    store.check_ro()
    umount_and_wait(store.mnt)


def test_mount_t_bundlefs_node_view(real_install, node_store):
    """mount -t bundlefs C_S MNT -o node,ro: the fstab line of the README."""
    s = node_store
    run(["mount", "-t", "bundlefs", s.cs, s.mountpoint, "-o",
         f"node,ro,containerd_root={s.cr}"])
    assert mounts_at(s.mountpoint) == ["fuse.bundlefs"]
    s.check_visible()
    s.check_ro()
    umount_and_wait(s.mountpoint)


def test_mount_t_fuse_bundlefs(real_install, store):
    run(["mount", "-t", "fuse.bundlefs", store.state, store.mnt, "-o",
         f"work={store.work},{MOUNT_OPTS}"])
    assert mounts_at(store.mnt) == ["fuse.bundlefs"]
    store.check_visible()
    store.check_rw()
    umount_and_wait(store.mnt)


def test_mount_a_fstab(real_install, tmp_path):
    stores = [WebStore() for _ in range(4)]
    a, b, c, d = stores
    fstab = tmp_path / "fstab"
    fstab.write_text(
        "# bundlefs test table\n"
        f"{a.state} {a.mnt} bundlefs ro,work={a.work},{MOUNT_OPTS} 0 0\n"
        f"{b.state} {b.mnt} fuse.bundlefs ro,work={b.work},{MOUNT_OPTS} 0 0\n"
        f"{c.state} {c.mnt} bundlefs noauto,nofail,work={c.work},"
        f"x-systemd.requires=containerd.service 0 0\n"
        f"none {d.mnt} fuse.bundlefs noauto,state={d.state},work={d.work},"
        "x-systemd.after=containerd.service 0 0\n")
    try:
        run(["mount", "-a", "--fstab", fstab])
        assert mounts_at(a.mnt) == ["fuse.bundlefs"]
        assert mounts_at(b.mnt) == ["fuse.bundlefs"]
        assert mounts_at(c.mnt) == []  # noauto
        assert mounts_at(d.mnt) == []
        for s in (a, b):
            s.check_visible()
            s.check_ro()
        # "mount DIR" alone takes the rest from the table.
        run(["mount", "--fstab", fstab, c.mnt])
        run(["mount", "--fstab", fstab, d.mnt])
        for s in (c, d):
            assert mounts_at(s.mnt) == ["fuse.bundlefs"]
            s.check_visible()
            s.check_rw()
        for s in stores:
            umount_and_wait(s.mnt)
    finally:
        for s in stores:
            s.cleanup()


def test_mount_bad_option(real_install, store):
    r = run(["mount", "-t", "bundlefs", store.state, store.mnt, "-o",
             f"work={store.work},no_such_option"], check=False)
    assert r.returncode == 32
    assert "no_such_option" in r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert mounts_at(store.mnt) == []


def test_mount_missing_backing_dir(real_install, store):
    absent = Path(store.base) / "absent-work"
    r = run(["mount", "-t", "bundlefs", store.state, store.mnt, "-o", f"work={absent}"],
            check=False)
    assert r.returncode == 32
    assert str(absent) in r.stderr
    assert mounts_at(store.mnt) == []


def test_mount_missing_mountpoint(real_install, store):
    absent = Path(store.mnt) / "absent"
    r = run(["mount", "-t", "bundlefs", store.state, absent, "-o", f"work={store.work}"],
            check=False)
    assert r.returncode == 32
    assert str(absent) in r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr


TYPES = ["bundlefs", "fuse.bundlefs"]


@pytest.mark.parametrize("used", [False, True], ids=["unused", "used"])
@pytest.mark.parametrize("fstype", TYPES)
def test_mount_recovers_stale_mount(real_install, store, fstype, used):
    """kill -9 of the daemon, then mount again: exit 0, no message, one live
    mount, whether or not the old mount was used before the crash."""
    run(["mount", "-t", fstype, store.state, store.mnt, "-o", f"work={store.work}"])
    kill_daemon(store.mnt, used)
    r = run(["mount", "-t", fstype, store.state, store.mnt, "-o", f"ro,work={store.work}"])
    assert r.stdout == "" and r.stderr == ""
    check_mount(store)
    store.check_visible()
    store.check_ro()
    umount_and_wait(store.mnt)


@pytest.mark.parametrize("fstype", TYPES)
def test_mount_source_type_and_default_flags(real_install, store, fstype):
    """mountinfo, findmnt and df show the state dir as the source; the type is
    fuse.bundlefs; nosuid,nodev."""
    run(["mount", "-t", fstype, store.state, store.mnt, "-o", f"work={store.work}"])
    check_mount(store)
    out = run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--mountpoint",
               store.mnt]).stdout.split()
    assert out[:2] == [str(store.state), "fuse.bundlefs"]
    assert {"nosuid", "nodev"} <= set(out[2].split(","))
    out = run(["df", "--output=source", store.mnt]).stdout.splitlines()
    assert out[1:] == [str(store.state)]
    umount_and_wait(store.mnt)


# mount(8) passes no "dev" or "suid" to a helper (they are its defaults):
# allow_dev and allow_suid reach the daemon in their place.
MOUNT_FLAGS = {
    "default": ("", ("nosuid", "nodev")),
    "allow_dev_allow_suid": (",allow_dev,allow_suid", ()),
    "allow_dev": (",allow_dev", ("nosuid",)),
    "nodev_allow_suid": (",nodev,allow_suid", ("nodev",)),
}


@pytest.mark.parametrize("case", MOUNT_FLAGS)
@pytest.mark.parametrize("fstype", TYPES)
def test_mount_flags(real_install, store, fstype, case):
    extra, flags = MOUNT_FLAGS[case]
    run(["mount", "-t", fstype, store.state, store.mnt, "-o", f"work={store.work}{extra}"])
    check_mount(store, flags)
    umount_and_wait(store.mnt)


@pytest.mark.parametrize("fstype", TYPES)
def test_mount_second_mount_refused(real_install, store, fstype):
    """One line on stderr, a non-zero exit, nothing stacked."""
    run(["mount", "-t", fstype, store.state, store.mnt, "-o", f"work={store.work}"])
    before = mount_stack(store.mnt)
    r = run(["mount", "-t", fstype, store.state, store.mnt, "-o", f"work={store.work}"],
            check=False)
    assert r.returncode != 0
    prog = "mount.bundlefs" if fstype == "bundlefs" else "bundlefs"
    one_line_about(r.stderr, prog, store.mnt, store.state)
    assert mount_stack(store.mnt) == before
    check_mount(store)
    umount_and_wait(store.mnt)


def test_mount_a_twice_mounts_once(real_install, tmp_path):
    """mount(8) sees that a line is mounted when the mount's source and target
    are the line's: a second "mount -a" mounts nothing, through either type."""
    stores = [WebStore() for _ in range(2)]
    a, b = stores
    fstab = tmp_path / "fstab"
    fstab.write_text(
        f"{a.state} {a.mnt} bundlefs ro,work={a.work},nofail 0 0\n"
        f"{b.state} {b.mnt} fuse.bundlefs ro,work={b.work},nofail 0 0\n")
    try:
        for _ in range(3):
            r = run(["mount", "-a", "-T", fstab])
            assert r.stdout == "" and r.stderr == ""
            for s in stores:
                check_mount(s)
        r = run(["mount", "-a", "-v", "-T", fstab])
        for s in stores:
            assert f"{s.mnt}" in r.stdout and "already mounted" in r.stdout, r.stdout
        for s in stores:
            s.check_visible()
            umount_and_wait(s.mnt)
    finally:
        for s in stores:
            s.cleanup()


# ------------------------------------------------- default prefix (/usr/local)

def test_default_prefix_destdir_helper_in_sbin(default_build_dir, tmp_path):
    """A plain "cmake --install" (prefix /usr/local) still puts the helper
    where mount(8) looks, and the helper runs the daemon from where that same
    installation put it."""
    dest = tmp_path / "dest"
    run(["cmake", "--install", default_build_dir], env=dict(os.environ, DESTDIR=str(dest)))
    files = {"/" + rel: mode for rel, mode in files_under(dest).items()}
    helpers = [p for p in files if os.path.basename(p) == "mount.bundlefs"]
    assert len(helpers) == 1, sorted(files)
    assert where_mount_looks(helpers[0]), helpers[0]
    assert files[helpers[0]] == 0o755
    assert files["/usr/local/bin/bundlefs"] == 0o755
    assert not (dest / "usr/local/sbin").exists()
    # The daemon path compiled into the installed helper, NUL-terminated.
    assert b"/usr/local/bin/bundlefs\0" in (dest / helpers[0].lstrip("/")).read_bytes()


@pytest.fixture
def real_default_install(default_build_dir, tmp_path):
    """cmake --install of the default-prefix build into the real system; every
    installed file, and every directory the installation created, is removed
    again."""
    require_real()
    # Which directories the installation will need, learnt from a DESTDIR run,
    # so that only those it creates are removed afterwards.
    plan = tmp_path / "plan"
    run(["cmake", "--install", default_build_dir], env=dict(os.environ, DESTDIR=str(plan)))
    existed = {d for rel in files_under(plan) for d in (Path("/") / rel).parents if d.is_dir()}
    run(["cmake", "--install", default_build_dir])
    manifest = [Path(p) for p in
                (default_build_dir / "install_manifest.txt").read_text().splitlines()]
    try:
        yield manifest
    finally:
        dirs = set()
        for p in manifest:
            p.unlink(missing_ok=True)
            dirs.update(p.parents)
        for d in sorted(dirs - existed, key=lambda d: len(d.parts), reverse=True):
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()


def test_default_prefix_mount_t_bundlefs(real_default_install, store):
    helper = [p for p in real_default_install if p.name == "mount.bundlefs"]
    assert len(helper) == 1 and where_mount_looks(helper[0]), real_default_install
    run(["mount", "-t", "bundlefs", store.state, store.mnt, "-o",
         f"ro,work={store.work},{MOUNT_OPTS}"])
    assert mounts_at(store.mnt) == ["fuse.bundlefs"]
    store.check_visible()
    store.check_ro()
    umount_and_wait(store.mnt)
