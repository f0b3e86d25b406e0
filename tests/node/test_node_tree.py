# SPDX-License-Identifier: Apache-2.0
"""The node view's tree (SPEC 8.1, 8.2): the plugin directories there are,
each the root of a store, and MOUNT, pods/ and leaks read-only."""

import errno
import os
import stat

import pytest

from bfstest import (NODE_PLUGINS, SANDBOX_PLUGIN, V1_PLUGIN, V2_PLUGIN, errno_of,
                     fd_links, ident, read_bytes)
from node_helpers import wait_until

VIEW_OWN = ["pods", "leaks"]


def listing(fs):
    return sorted(os.listdir(fs.mountpoint))


@pytest.mark.parametrize("plugins", [
    (V2_PLUGIN,), (V1_PLUGIN,), (SANDBOX_PLUGIN,),
    (V2_PLUGIN, V1_PLUGIN), (V2_PLUGIN, SANDBOX_PLUGIN),
    (V2_PLUGIN, V1_PLUGIN, SANDBOX_PLUGIN),
], ids=lambda p: "+".join(x.split(".")[2] for x in p))
def test_tree_lists_the_plugin_dirs_there_are(node_mount, plugins):
    fs = node_mount(plugins=plugins)
    assert listing(fs) == sorted(list(plugins) + VIEW_OWN)
    for pl in NODE_PLUGINS:
        assert os.path.isdir(os.path.join(fs.mountpoint, pl)) is (pl in plugins)
    st = os.stat(fs.mountpoint)
    cs = os.stat(fs.cs)
    assert stat.S_IMODE(st.st_mode) == 0o555 and (st.st_uid, st.st_gid) == (cs.st_uid, cs.st_gid)
    assert stat.S_IMODE(os.stat(os.path.join(fs.mountpoint, "pods")).st_mode) == 0o555
    assert stat.S_IMODE(os.stat(os.path.join(fs.mountpoint, "leaks")).st_mode) == 0o400


def test_plugin_dir_made_after_the_mount(node_mount):
    fs = node_mount(plugins=(V2_PLUGIN,))
    assert V1_PLUGIN not in listing(fs)
    assert not os.path.exists(os.path.join(fs.mountpoint, V1_PLUGIN))
    os.mkdir(os.path.join(fs.cs, V1_PLUGIN))
    os.mkdir(os.path.join(fs.cr, V1_PLUGIN))
    assert wait_until(lambda: V1_PLUGIN in listing(fs), 2.0)
    assert wait_until(lambda: os.path.isdir(os.path.join(fs.mountpoint, V1_PLUGIN)), 2.0)
    # It is a store of its own: a bundle made through it is a v1 bundle.
    ns, bid = ident("ns"), ident("b")
    os.makedirs(os.path.join(fs.mountpoint, V1_PLUGIN, ns, bid))
    assert os.path.isdir(os.path.join(fs.cs, V1_PLUGIN, ns, bid))
    assert os.path.isdir(os.path.join(fs.cr, V1_PLUGIN, ns, bid))
    assert not os.path.lexists(os.path.join(fs.cs, V1_PLUGIN, ns, bid, "work"))  # v1: no link
    # And it goes when its directory goes.
    os.rmdir(os.path.join(fs.mountpoint, V1_PLUGIN, ns, bid))
    os.rmdir(os.path.join(fs.mountpoint, V1_PLUGIN, ns))
    os.rmdir(os.path.join(fs.cs, V1_PLUGIN))
    assert wait_until(lambda: V1_PLUGIN not in listing(fs), 2.0)
    assert wait_until(lambda: not os.path.exists(os.path.join(fs.mountpoint, V1_PLUGIN)), 2.0)


@pytest.mark.parametrize("plugin", NODE_PLUGINS)
def test_each_subtree_is_its_store(node_mount, plugin):
    """Writes through a subtree land in C_S/PLUGIN and C_R/PLUGIN, and
    shim-config's paths are containerd's own (bundle_root = C_S/PLUGIN)."""
    fs = node_mount(plugins=(plugin,))
    ns, bid = ident("ns"), ident("b")
    os.makedirs(fs.m(ns, bid))
    assert os.path.isdir(os.path.join(fs.cs, plugin, ns, bid))
    # v2's rules in both v2 plugins: the work link (7.1); none in v1.
    assert os.path.islink(os.path.join(fs.cs, plugin, ns, bid, "work")) is (plugin != V1_PLUGIN)
    assert os.path.isdir(os.path.join(fs.cr, plugin, ns, bid))
    assert ('"Path":"%s"' % os.path.join(fs.cs, plugin, ns, bid)).encode() in read_bytes(
        fs.m(ns, bid, "shim-config"))
    os.rmdir(fs.m(ns, bid))
    assert not os.path.exists(os.path.join(fs.cs, plugin, ns, bid))


def _changes(fs, pod_dir):
    m = fs.mountpoint
    leaks = os.path.join(m, "leaks")
    return {
        "mkdir MOUNT/x": lambda: os.mkdir(os.path.join(m, "x")),
        "create MOUNT/f": lambda: os.close(os.open(os.path.join(m, "f"), os.O_CREAT | os.O_WRONLY)),
        "symlink MOUNT/l": lambda: os.symlink("pods", os.path.join(m, "l")),
        "rmdir pods": lambda: os.rmdir(os.path.join(m, "pods")),
        "rename pods": lambda: os.rename(os.path.join(m, "pods"), os.path.join(m, "p2")),
        "rename a plugin dir": lambda: os.rename(os.path.join(m, V2_PLUGIN), os.path.join(m, "p")),
        "unlink leaks": lambda: os.unlink(leaks),
        "write leaks": lambda: os.close(os.open(leaks, os.O_WRONLY)),
        "truncate leaks": lambda: os.truncate(leaks, 0),
        "chmod leaks": lambda: os.chmod(leaks, 0o444),
        "chmod MOUNT": lambda: os.chmod(m, 0o755),
        "chown MOUNT": lambda: os.chown(m, 1, 1),
        "utime MOUNT": lambda: os.utime(m, (1, 1)),
        "setxattr MOUNT": lambda: os.setxattr(m, "user.x", b"1"),
        "mkdir pods/x": lambda: os.mkdir(os.path.join(m, "pods", "x")),
        "mkdir in a pod": lambda: os.mkdir(os.path.join(pod_dir, "x")),
        "unlink a pod's link": lambda: os.unlink(os.path.join(pod_dir, "sandbox")),
        "symlink in containers/": lambda: os.symlink("x", os.path.join(pod_dir, "containers",
                                                                        "y")),
        "rmdir containers/": lambda: os.rmdir(os.path.join(pod_dir, "containers")),
        "chmod a pod": lambda: os.chmod(pod_dir, 0o755),
    }


@pytest.mark.parametrize("ro", [True, False], ids=["ro", "rw"])
def test_view_nodes_are_read_only(node_mount, ro):
    from node_helpers import bundle_beside, cri
    fs = node_mount(plugins=(V2_PLUGIN,), ro=ro or None)
    bundle_beside(fs, V2_PLUGIN, "k8s.io", "sb1", cri("default", "web", "u1", "sandbox"))
    pod_dir = os.path.join(fs.mountpoint, "pods", "default_web_u1")
    assert wait_until(lambda: os.path.islink(os.path.join(pod_dir, "sandbox")))
    want = errno.EROFS if ro else errno.EPERM
    got = {what: errno_of(fn) for what, fn in _changes(fs, pod_dir).items()}
    assert got == {what: want for what in got}
    assert sorted(os.listdir(pod_dir)) == ["containers", "sandbox"]
    assert stat.S_IMODE(os.stat(fs.mountpoint).st_mode) == 0o555


def test_two_inotify_instances_whatever_the_bundles(node_mount):
    """The daemon's watcher and the pods index's own: their count does not
    grow with the bundles (nor do the descriptors)."""
    from node_helpers import bundle_beside
    fs = node_mount(plugins=(V2_PLUGIN, V1_PLUGIN))

    def links():
        return fd_links(fs.pid)

    os.listdir(os.path.join(fs.mountpoint, "pods"))
    base = links()
    for i in range(40):
        bundle_beside(fs, V2_PLUGIN, "k8s.io", f"b{i}")
    assert wait_until(lambda: len(os.listdir(os.path.join(fs.cs, V2_PLUGIN, "k8s.io"))) == 40)
    for name in os.listdir(os.path.join(fs.mountpoint, V2_PLUGIN, "k8s.io")):
        os.stat(os.path.join(fs.mountpoint, V2_PLUGIN, "k8s.io", name, "config.json"))
    os.listdir(os.path.join(fs.mountpoint, "pods"))
    # The index's thread opens a bundle for a moment while it handles its
    # event: what stays is what counts.
    assert wait_until(lambda: len(links()) <= len(base)), (base, links())
    assert sum(1 for ln in links() if ln == "anon_inode:inotify") == 2
