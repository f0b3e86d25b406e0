"""Fixtures: a private containerd whose v1 state directory is a bundlefs mount
(or its v2 one, for a test module that sets RUNTIME = "v2" and NAMESPACE).

A module's CONTAINERDS lists the containerds its tests run against, each
once, in order: "1.6" (Debian's, the default) and "2.1" (containerd 2.1.5
from ../shared/containerd2, installed by scripts/deps.sh test); CRI = True
enables 2.1's CRI plugin. When containerd 2.1.5 is not installed, its tests
are skipped and the run says so in one line at its end."""

import os
import subprocess

import pytest

import ctrd_helpers as h
import mkimage

_NODES = []
_NOT_RUN = {}  # why containerd 2.1.5's tests did not run -> how many


def pytest_generate_tests(metafunc):
    if "containerd" in metafunc.fixturenames:
        versions = getattr(metafunc.module, "CONTAINERDS", ["1.6"])
        metafunc.parametrize("containerd", versions, indirect=True, scope="module")


def pytest_collection_modifyitems(config, items):
    why = None
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is None or spec.params.get("containerd") != "2.1":
            continue
        if why is None:
            why = h.containerd2_missing() or ""
        if why:
            item.add_marker(pytest.mark.skip(reason="containerd 2.1.5 is not installed"))
            _NOT_RUN[why] = _NOT_RUN.get(why, 0) + 1


def pytest_terminal_summary(terminalreporter):
    for why, n in _NOT_RUN.items():
        terminalreporter.write_line("containerd 2.1.5: %d tests not run: %s" % (n, why))


@pytest.fixture(scope="module")
def containerd(request):
    """The containerd version a module's node runs ("1.6" or "2.1")."""
    return getattr(request, "param", "1.6")


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
def node(request, containerd):
    problems = h.check_prerequisites()
    if containerd == "2.1" and h.containerd2_missing():
        problems.append(h.containerd2_missing())
    if problems:
        pytest.fail("containerd end-to-end test cannot run:\n  " + "\n  ".join(problems),
                    pytrace=False)
    n = h.Node(runtime=getattr(request.module, "RUNTIME", "v1"),
               namespace=getattr(request.module, "NAMESPACE", h.NAMESPACE),
               containerd=containerd, cri=getattr(request.module, "CRI", False))
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


@pytest.fixture(scope="module")
def pause_image(node):
    """The pod sandbox ("pause") image of a CRI node: busybox waiting for ever,
    imported locally under the name the node's config pins."""
    archive = os.path.join(node.tmp, "pause.tar")
    mkimage.build_archive(archive, node.pause_image, h.busybox_binary(),
                          cmd=["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"])
    node.images.add(node.pause_image)
    node.ctr("images", "import", archive)
    return node.pause_image


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
    yield fs.mnt
    problems = fs.stop()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
