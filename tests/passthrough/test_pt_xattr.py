# SPDX-License-Identifier: Apache-2.0
"""Extended attributes through the passthrough (SPEC 4.6): user.*, trusted.*,
security.capability (setcap/getcap), POSIX ACLs (setfacl/getfacl), and their
errors, compared with the same calls in a plain directory of the backing
store."""

import os
import shutil
import subprocess

import pytest

from bfstest import read_bytes as read
from pt_helpers import lgetxattr_size, llistxattr_size, outcome, write


def tool(name):
    """The path of a command-line tool the test needs: missing is a failure
    (scripts/deps.sh test installs it), not a skip."""
    path = shutil.which(name)
    assert path, f"{name} is not installed (scripts/deps.sh test installs it)"
    return path


def _listing(path, follow=True):
    return sorted(os.listxattr(path, follow_symlinks=follow))


def _xattr_round(path, prefix, follow=True):
    """set, get, list, replace, remove of one name, and every error case."""
    n, n2 = prefix + "bfs.one", prefix + "bfs.two"
    got = {}
    got["set"] = outcome(os.setxattr, path, n, b"value-1", follow_symlinks=follow)
    got["get"] = outcome(os.getxattr, path, n, follow_symlinks=follow)
    got["set-empty"] = outcome(os.setxattr, path, n2, b"", follow_symlinks=follow)
    got["get-empty"] = outcome(os.getxattr, path, n2, follow_symlinks=follow)
    got["list"] = outcome(_listing, path, follow)
    got["create-existing"] = outcome(os.setxattr, path, n, b"x", os.XATTR_CREATE,
                                     follow_symlinks=follow)
    got["replace-missing"] = outcome(os.setxattr, path, prefix + "bfs.none", b"x",
                                     os.XATTR_REPLACE, follow_symlinks=follow)
    got["replace"] = outcome(os.setxattr, path, n, b"value-22", os.XATTR_REPLACE,
                             follow_symlinks=follow)
    got["get2"] = outcome(os.getxattr, path, n, follow_symlinks=follow)
    got["get-missing"] = outcome(os.getxattr, path, prefix + "bfs.none", follow_symlinks=follow)
    got["big"] = outcome(os.setxattr, path, prefix + "bfs.big", bytes(range(256)) * 16,
                         follow_symlinks=follow)
    got["get-big"] = outcome(os.getxattr, path, prefix + "bfs.big", follow_symlinks=follow)
    got["remove"] = outcome(os.removexattr, path, n, follow_symlinks=follow)
    got["remove-missing"] = outcome(os.removexattr, path, n, follow_symlinks=follow)
    got["get-removed"] = outcome(os.getxattr, path, n, follow_symlinks=follow)
    got["list2"] = outcome(_listing, path, follow)
    return got


@pytest.mark.parametrize("prefix", ["user.", "trusted."])
@pytest.mark.parametrize("kind", ["file", "dir"])
def test_xattr_set_get_list_remove(twin, prefix, kind):
    def exp(root):
        p = os.path.join(root, "x")
        if kind == "file":
            write(p, b"data")
        else:
            os.mkdir(p)
        return _xattr_round(p, prefix)

    got = twin.assert_same(exp)
    assert got["get2"] == ("ok", b"value-22") and got["create-existing"] == ("err", "EEXIST")
    assert got["replace-missing"] == ("err", "ENODATA")
    assert os.getxattr(os.path.join(twin.s, "x"), prefix + "bfs.two") == b""


@pytest.mark.parametrize("prefix", ["user.", "trusted."])
def test_xattr_on_symlink_itself(twin, prefix):
    def exp(root):
        write(os.path.join(root, "target"), b"t")
        p = os.path.join(root, "ln")
        os.symlink("target", p)
        got = _xattr_round(p, prefix, follow=False)
        got["target"] = sorted(os.listxattr(os.path.join(root, "target")))
        return got

    twin.assert_same(exp)


def test_xattr_follows_symlink_to_target(twin):
    def exp(root):
        write(os.path.join(root, "target"), b"t")
        os.symlink("target", os.path.join(root, "ln"))
        os.setxattr(os.path.join(root, "ln"), "user.via", b"link")
        return (os.getxattr(os.path.join(root, "target"), "user.via"),
                _listing(os.path.join(root, "ln"), False))

    assert twin.assert_same(exp)[0] == b"link"


def test_xattr_erange_small_buffer(twin):
    def exp(root):
        p = os.path.join(root, "x")
        write(p, b"data")
        os.setxattr(p, "user.sized", b"0123456789")
        os.setxattr(p, "user.other", b"")
        return {"size-query": outcome(lgetxattr_size, p, "user.sized", 0),
                "exact": outcome(lgetxattr_size, p, "user.sized", 10),
                "small": outcome(lgetxattr_size, p, "user.sized", 4),
                "missing": outcome(lgetxattr_size, p, "user.none", 4),
                "list-size": outcome(llistxattr_size, p, 0),
                "list-small": outcome(llistxattr_size, p, 3),
                "list": outcome(llistxattr_size, p, 4096)}

    got = twin.assert_same(exp)
    assert got["small"] == ("err", "ERANGE") and got["list-small"] == ("err", "ERANGE")
    assert got["size-query"] == ("ok", (10, b""))


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    return r.returncode, r.stdout, r.stderr.replace(kw.get("cwd", ""), "")


def test_security_capability_setcap_getcap(twin):
    setcap, getcap = tool("setcap"), tool("getcap")

    def exp(root):
        p = os.path.join(root, "ping")
        write(p, b"\x7fELF fake", mode=0o755)
        got = [_run([setcap, "cap_net_raw+ep", "ping"], cwd=root),
               _run([getcap, "ping"], cwd=root),
               outcome(os.getxattr, p, "security.capability"),
               outcome(_listing, p)]
        # chown clears security.capability (the kernel's rule for file capabilities).
        os.chown(p, 0, 0)
        got += [outcome(os.getxattr, p, "security.capability"),
                _run([setcap, "-r", "ping"], cwd=root), _run([getcap, "ping"], cwd=root),
                outcome(os.getxattr, p, "security.capability")]
        return got

    got = twin.assert_same(exp)
    assert got[0][0] == 0 and "cap_net_raw=ep" in got[1][1], got
    assert got[2][0] == "ok" and got[4] == ("err", "ENODATA"), got


def test_posix_acl_setfacl_getfacl(twin):
    setfacl, getfacl = tool("setfacl"), tool("getfacl")

    def exp(root):
        write(os.path.join(root, "f"), b"acl", mode=0o640)
        os.mkdir(os.path.join(root, "d"), 0o750)
        got = [_run([setfacl, "-m", "u:1234:rw,g:5678:r", "f"], cwd=root),
               _run([setfacl, "-d", "-m", "u:1234:rwx", "d"], cwd=root),
               _run([getfacl, "-c", "-n", "f", "d"], cwd=root),
               outcome(lambda: oct(os.stat(os.path.join(root, "f")).st_mode)),
               outcome(_listing, os.path.join(root, "f")),
               outcome(os.getxattr, os.path.join(root, "f"), "system.posix_acl_access")]
        # The default ACL reaches a file created in the directory.
        write(os.path.join(root, "d", "child"), b"c", mode=0o666)
        got += [_run([getfacl, "-c", "-n", "d/child"], cwd=root),
                outcome(lambda: oct(os.stat(os.path.join(root, "d", "child")).st_mode)),
                _run([setfacl, "-b", "f"], cwd=root),
                outcome(os.getxattr, os.path.join(root, "f"), "system.posix_acl_access"),
                outcome(lambda: oct(os.stat(os.path.join(root, "f")).st_mode))]
        return got

    got = twin.assert_same(exp)
    assert got[0][0] == 0 and "user:1234:rw-" in got[2][1], got
    assert "user:1234:rwx" in got[6][1], got


def test_posix_acl_through_setxattr(twin):
    # The ACL's binary form, as the backing filesystem itself produces it.
    src = os.path.join(twin.bfs.base, "acl-src-" + twin.id)
    write(src, b"", mode=0o600)
    subprocess.run([tool("setfacl"), "-m", "u:42:r", src], check=True)
    blob = os.getxattr(src, "system.posix_acl_access")

    def exp(root):
        p = os.path.join(root, "f")
        write(p, b"acl", mode=0o600)
        got = [outcome(os.setxattr, p, "system.posix_acl_access", blob),
               outcome(os.getxattr, p, "system.posix_acl_access") == ("ok", blob),
               oct(os.stat(p).st_mode),
               outcome(os.setxattr, p, "system.posix_acl_access", b"garbage"),
               outcome(os.removexattr, p, "system.posix_acl_access"),
               oct(os.stat(p).st_mode), read(p)]
        return got

    got = twin.assert_same(exp)
    assert got[0] == ("ok", None) and got[1] is True
