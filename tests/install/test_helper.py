# SPDX-License-Identifier: Apache-2.0
"""mount.bundlefs against a stand-in daemon (BUNDLEFS_DAEMON): the command
line the daemon gets, exit codes and messages, the check that a mount
appeared, and the detach of a stale FUSE mount. Needs root (tmpfs mounts)."""
import errno
import os
import sys
import textwrap

import pytest

from bfstest import BundleFS, mount_stack, reap_mount
from install_helpers import mounts_at, run

# Records its argv (NUL-separated) and mounts a tmpfs on the mountpoint, or
# fails / does nothing when the options ask for it.
FAKE = textwrap.dedent("""\
    #!/bin/sh
    printf '%s\\0' "$0" "$@" > "$FAKE_ARGV"
    for a; do [ "$a" = -o ] && break; mnt=$a; done
    case "$*" in
    *fake_fail*) echo "fuse: first line" >&2
                 echo "bundlefs: unknown option 'fake_fail'" >&2; exit 1 ;;
    *fake_nomount*) exit 0 ;;
    *fake_signal*) kill -9 $$ ;;
    esac
    exec mount -t tmpfs bundlefs-test "$mnt"
    """)


@pytest.fixture
def fake(tmp_path):
    d = tmp_path / "fake"
    d.mkdir()
    daemon = d / "bundlefs"
    daemon.write_text(FAKE)
    daemon.chmod(0o755)
    src = tmp_path / "src"
    mnt = tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    env = dict(os.environ, BUNDLEFS_DAEMON=str(daemon), FAKE_ARGV=str(d / "argv"))

    class Fake:
        pass
    f = Fake()
    f.daemon, f.src, f.mnt, f.env, f.argv_file = daemon, src, mnt, env, d / "argv"

    def argv():
        return f.argv_file.read_bytes().split(b"\0")[:-1]
    f.argv = lambda: [a.decode() for a in argv()]
    yield f
    reap_mount(mnt)


def helper(helper_bin, f, *args):
    return run([helper_bin, *args], check=False, env=f.env)


def one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got {stderr!r}"
    assert lines[0].startswith("mount.bundlefs: ")
    return lines[0]


def test_drops_mount_and_systemd_options(helper_bin, fake):
    opts = ("ro,defaults,auto,noauto,nofail,_netdev,user,users,nouser,"
            "x-systemd.after=containerd.service,x-systemd.requires=a.service,"
            'comment="a,b",work=/w,allow_other,state=/s')
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-o", opts)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert fake.argv() == [str(fake.daemon), str(fake.src), str(fake.mnt),
                           "-o", "ro,work=/w,allow_other,state=/s"]
    assert mounts_at(fake.mnt) == ["tmpfs"]


def test_convention_flags_and_repeated_o(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-s", "-n", "-o", "ro", "-o",
               "defaults,work=/w")
    assert r.returncode == 0, r.stderr
    assert fake.argv()[1:] == [str(fake.src), str(fake.mnt), "-o", "ro,work=/w"]


def test_none_source_and_no_options(helper_bin, fake):
    r = helper(helper_bin, fake, "none", fake.mnt, "-o", "defaults,nofail")
    assert r.returncode == 0, r.stderr
    assert fake.argv()[1:] == [str(fake.mnt)]


def test_relative_paths_made_absolute(helper_bin, fake):
    r = run([helper_bin, "src", "mnt"], check=False, env=fake.env, cwd=fake.src.parent)
    assert r.returncode == 0, r.stderr
    assert fake.argv()[1:] == [str(fake.src), str(fake.mnt)]


def test_verbose_prints_command(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-v", "-o", "ro")
    assert r.returncode == 0
    assert f"{fake.daemon} {fake.src} {fake.mnt} -o ro" in r.stderr


def test_fake_mode_mounts_nothing(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-f", "-o", "ro")
    assert r.returncode == 0, r.stderr
    assert not fake.argv_file.exists()
    assert mounts_at(fake.mnt) == []


def test_daemon_failure_reason(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-o", "fake_fail")
    assert r.returncode == 32
    assert one_line(r.stderr) == f"mount.bundlefs: {fake.mnt}: unknown option 'fake_fail'"


def test_daemon_exits_without_mount(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-o", "fake_nomount")
    assert r.returncode == 32
    assert "nothing is mounted" in one_line(r.stderr)


def test_daemon_killed(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-o", "fake_signal")
    assert r.returncode == 32
    assert "signal 9" in one_line(r.stderr)


def test_missing_mountpoint(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src, fake.mnt / "absent")
    assert r.returncode == 32
    assert one_line(r.stderr) == \
        f"mount.bundlefs: mount point {fake.mnt}/absent: No such file or directory"
    assert not fake.argv_file.exists()


def test_mountpoint_not_a_directory(helper_bin, fake):
    (fake.mnt / "file").write_text("")
    r = helper(helper_bin, fake, fake.src, fake.mnt / "file")
    assert r.returncode == 32
    assert "Not a directory" in one_line(r.stderr)


def test_missing_source(helper_bin, fake):
    r = helper(helper_bin, fake, fake.src / "absent", fake.mnt)
    assert r.returncode == 32
    assert one_line(r.stderr) == \
        f"mount.bundlefs: state directory {fake.src}/absent: No such file or directory"


def test_missing_daemon(helper_bin, fake):
    fake.env["BUNDLEFS_DAEMON"] = str(fake.daemon) + ".absent"
    r = helper(helper_bin, fake, fake.src, fake.mnt)
    assert r.returncode == 32
    assert "No such file or directory" in one_line(r.stderr)


@pytest.mark.parametrize("args", [[], ["only-one"], ["a", "b", "c"], ["a", "b", "-x"],
                                  ["a", "b", "-t", "ext4"]])
def test_incorrect_invocation(helper_bin, fake, args):
    r = helper(helper_bin, fake, *args)
    assert r.returncode == 1
    assert r.stderr
    assert not fake.argv_file.exists()


def test_compiled_daemon_path(helper_bin, fake):
    """Without BUNDLEFS_DAEMON the helper runs the installed daemon path."""
    del fake.env["BUNDLEFS_DAEMON"]
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-f", "-v")
    if os.path.exists("/usr/bin/bundlefs"):
        assert r.returncode == 0
    else:
        assert r.returncode == 32
        assert one_line(r.stderr) == \
            "mount.bundlefs: cannot run /usr/bin/bundlefs: No such file or directory"


def test_descriptors_not_leaked(helper_bin, fake):
    """The daemon inherits only stdin, stdout and stderr (O_CLOEXEC)."""
    fake.daemon.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        import os, subprocess, sys
        # The descriptor that listdir used is closed again: skip it.
        extra = [f for f in os.listdir("/proc/self/fd")
                 if int(f) > 2 and os.path.exists("/proc/self/fd/" + f)]
        open(os.environ["FAKE_ARGV"], "w").write(" ".join(extra))
        os.execvp("mount", ["mount", "-t", "tmpfs", "bundlefs-test", sys.argv[-1]])
        """))
    r = helper(helper_bin, fake, "none", fake.mnt)
    assert r.returncode == 0, r.stderr
    assert fake.argv_file.read_text() == ""


def start_real_daemon(daemon_bin, mnt, tmp_path):
    """The real daemon of this build ("bundlefs S MNT -f -o work=W") in the
    foreground on mnt, once it serves the mount: its BundleFS."""
    state, work = tmp_path / "s", tmp_path / "w"
    state.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    return BundleFS({"runtime": None}, source_arg=True, binary=daemon_bin,
                    dirs={"base": tmp_path, "state": state, "work": work, "mnt": mnt,
                          "socket_root": None}).start()


def make_stale(daemon_bin, mnt, tmp_path, used):
    """A bundlefs mount on mnt whose daemon was killed. Used: its root was
    looked at first, so the kernel still answers stat(2) from its cache."""
    fs = start_real_daemon(daemon_bin, mnt, tmp_path)
    try:
        if used:
            os.listdir(mnt)
            os.stat(mnt)  # last: a readdir makes the kernel drop the root's attributes
    finally:
        fs.kill9()
    with pytest.raises(OSError) as e:
        os.statvfs(mnt)
    assert e.value.errno in (errno.ENOTCONN, errno.ECONNABORTED)
    if used:
        os.stat(mnt)  # from the cache: stat(2) cannot tell the mount is dead


@pytest.mark.parametrize("used", [False, True], ids=["unused", "used"])
def test_stale_fuse_mount_is_detached(helper_bin, fake, daemon_bin, tmp_path, used):
    """A FUSE mount whose daemon was killed (ENOTCONN) is detached first,
    whether or not it was used before the crash."""
    make_stale(daemon_bin, fake.mnt, tmp_path, used)
    r = helper(helper_bin, fake, fake.src, fake.mnt)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert mounts_at(fake.mnt) == ["tmpfs"]
    os.stat(fake.mnt)


def mount_dead_fuse(mnt):
    """A FUSE mount on mnt that no daemon ever served: mounted on a /dev/fuse
    descriptor that is then closed (mount -i: no helper)."""
    fd = os.open("/dev/fuse", os.O_RDWR)
    try:
        run(["mount", "-i", "-t", "fuse.bundlefs", "-o",
             f"fd={fd},rootmode=40000,user_id=0,group_id=0", "dead", mnt], pass_fds=[fd])
    finally:
        os.close(fd)


def test_stacked_stale_mounts_are_detached(helper_bin, fake):
    """Dead mounts stacked by earlier attempts all go, then the new mount."""
    for _ in range(3):
        mount_dead_fuse(fake.mnt)
    assert mounts_at(fake.mnt) == ["fuse.bundlefs"] * 3
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-v")
    assert r.returncode == 0, r.stderr
    assert f"{fake.mnt}: detached 3 stale mounts" in r.stderr
    assert mounts_at(fake.mnt) == ["tmpfs"]


def test_fake_mode_detaches_nothing(helper_bin, fake):
    """-f changes nothing, and a dead bundlefs mount is no reason to refuse."""
    mount_dead_fuse(fake.mnt)
    r = helper(helper_bin, fake, fake.src, fake.mnt, "-f")
    assert r.returncode == 0, r.stderr
    assert mounts_at(fake.mnt) == ["fuse.bundlefs"]


def test_live_bundlefs_mount_is_refused(helper_bin, fake, daemon_bin, tmp_path):
    """A second mount would hide the first: one line, exit 32, the daemon
    not run, the live mount left as it was."""
    fs = start_real_daemon(daemon_bin, fake.mnt, tmp_path)
    try:
        before = mount_stack(fake.mnt)
        for args in ([fake.src, fake.mnt], [fake.src, fake.mnt, "-f"]):
            r = helper(helper_bin, fake, *args)
            assert r.returncode == 32
            assert one_line(r.stderr) == \
                f"mount.bundlefs: {fake.mnt}: already mounted (bundlefs of {fs.state})"
            assert not fake.argv_file.exists()
            assert mount_stack(fake.mnt) == before
        os.statvfs(fake.mnt)
    finally:
        problems = fs.stop()
    assert problems == []


def test_other_live_mount_is_mounted_over(helper_bin, fake):
    """Only a bundlefs mount is refused: on any other mount the new one goes
    on top, as mount(8) stacks any file system."""
    run(["mount", "-t", "tmpfs", "other", fake.mnt])
    r = helper(helper_bin, fake, fake.src, fake.mnt)
    assert r.returncode == 0, r.stderr
    assert mounts_at(fake.mnt) == ["tmpfs", "tmpfs"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
