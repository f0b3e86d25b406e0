"""Fixtures: a private containerd whose v1 state directory is a bundlefs mount
(or its v2 one, for a test module that sets RUNTIME = "v2" and NAMESPACE)."""

import os
import subprocess

import pytest

import ctrd_helpers as h
import mkimage

_NODES = []


def pytest_runtest_makereport(item, call):
    """Attach the daemons' logs to a failing test's report."""
    if call.excinfo is None or not _NODES:
        return
    node = _NODES[-1]
    item.add_report_section(call.when, "containerd log", node.tail(node.containerd_log))
    if node.fs is not None:
        item.add_report_section(call.when, "bundlefs log", node.tail(node.fs.log_path, 200))
    for fs in node.extra_fs:
        item.add_report_section(call.when, "bundlefs (ro) log", node.tail(fs.log_path, 60))


@pytest.fixture(scope="module")
def node(request):
    problems = h.check_prerequisites()
    if problems:
        pytest.fail("containerd end-to-end test cannot run:\n  " + "\n  ".join(problems),
                    pytrace=False)
    n = h.Node(runtime=getattr(request.module, "RUNTIME", "v1"),
               namespace=getattr(request.module, "NAMESPACE", h.NAMESPACE))
    _NODES.append(n)

    def finish():
        _NODES.remove(n)
        leftover = n.cleanup()
        if leftover:
            pytest.fail("cleanup found:\n  " + "\n  ".join(leftover), pytrace=False)

    request.addfinalizer(finish)
    try:
        n.mount_bundlefs()
        n.start_containerd()
    except h.SetupError as e:
        pytest.fail(str(e), pytrace=False)
    return n


@pytest.fixture(scope="module")
def rootfs(node):
    """A plain directory (not on the mount) holding bin/busybox and its applet links."""
    path = os.path.join(node.tmp, "rootfs")
    os.makedirs(os.path.join(path, "bin"))
    for d in ("dev", "proc", "sys", "tmp"):
        os.makedirs(os.path.join(path, d))
    busybox = h.busybox_binary()
    subprocess.run(["cp", busybox, os.path.join(path, "bin", "busybox")], check=True)
    for applet in subprocess.run([busybox, "--list"], check=True, capture_output=True,
                                 text=True).stdout.split():
        if applet != "busybox" and "/" not in applet:
            os.symlink("busybox", os.path.join(path, "bin", applet))
    return path


@pytest.fixture(scope="module")
def image(node):
    """The busybox OCI image, built here and imported into the private containerd."""
    name = "docker.io/library/%s:test" % h.unique_name("img")
    archive = os.path.join(node.tmp, "image.tar")
    mkimage.build_archive(archive, name, h.busybox_binary())
    node.images.add(name)
    node.ctr("images", "import", archive)
    return name


@pytest.fixture(autouse=True)
def reap_containers(node):
    """Delete what a test left running, so that one failure does not leak into the next."""
    yield
    for name in sorted(node.containers):
        node.remove_container(name)


@pytest.fixture
def inspector(node):
    """A read-only bundlefs over the same backing store, unmounted after the test."""
    fs = node.mount_inspector(os.path.join(node.tmp, "inspect-%d" % len(node.extra_fs)))
    yield fs.mountpoint
    problems = fs.stop()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
