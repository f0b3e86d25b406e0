"""A Kubernetes pod through containerd 2.1.5's CRI plugin, on bundlefs (SPEC 7.2, 7.4, 4.9).

containerd 2.1.5 (private root/state/sockets, CRI plugin on, NRI off) keeps
its io.containerd.runtime.v2.task state on a bundlefs runtime=v2 mount; a pod
made with crictl (host network, the locally imported pause image that the
config pins as the sandbox image) runs two containers, all three served by
one shim (CRI's default podsandbox mode). A second, read-only bundlefs over
the same store shows them: the address of each is the socket the one shim
listens on, shim-config names the pod's sandbox and the shim's binary, and
status names the shim. The pod then survives a containerd restart, and
crictl stopp/rmp leave nothing in either root.
"""

import json
import os
import signal
import time

import pytest

import ctrd_helpers as h

RUNTIME = "v2"
CONTAINERDS = ["2.1"]
CRI = True


def _wait(pred, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pod(node, pause_image, image):
    """A host-network pod with two containers: (sandbox id, [container ids])."""
    sandbox, config = node.run_pod(h.unique_name("pod"))
    cids = [node.start_in_pod(sandbox, config, "c%d" % i, image, ["sleep", "600"])
            for i in (1, 2)]
    return sandbox, cids


def _ro(inspector, bid):
    return os.path.join(inspector, h.K8S_NAMESPACE, bid)


def _read_json(path):
    return json.loads(h.read_text(path))


def _pod_shim(node, sandbox):
    """The socket path and pid of the one shim serving the pod, as ss -xlp shows it."""
    boot = _read_json(os.path.join(node.backing_bundle(sandbox), "bootstrap.json"))
    sock = boot["address"][len("unix://"):]
    holders = h.ss_listeners().get(sock, set())
    assert len(holders) == 1, "ss -xlp: %s is held by %r" % (sock, holders)
    return sock, holders.pop()


def test_pod_bundles_as_containerd_2_writes_them(node, pod):
    sandbox, cids = pod
    assert sorted(os.listdir(os.path.join(node.bstate, h.K8S_NAMESPACE))) == sorted(
        [sandbox] + cids)
    shim_binary = os.path.join(node.bin, h.V2_SHIM)
    boot = h.read_text(os.path.join(node.backing_bundle(sandbox), "bootstrap.json"))
    assert h.read_text(os.path.join(node.backing_bundle(sandbox), "shim-binary-path")) == \
        shim_binary
    assert not os.path.lexists(os.path.join(node.backing_bundle(sandbox), "sandbox"))
    for cid in cids:
        back = node.backing_bundle(cid)
        # SPEC 7.4: the sandbox named, its bootstrap.json copied, no shim-binary-path.
        assert h.read_text(os.path.join(back, "sandbox")) == sandbox
        assert h.read_text(os.path.join(back, "bootstrap.json")) == boot
        assert not os.path.lexists(os.path.join(back, "shim-binary-path"))
        assert not os.path.lexists(os.path.join(back, "address"))
        spec = _read_json(os.path.join(back, "config.json"))
        assert spec["annotations"]["io.kubernetes.cri.sandbox-id"] == sandbox
    assert json.loads(boot)["version"] == 3 and json.loads(boot)["protocol"] == "ttrpc"


def test_one_shim_serves_the_pod(node, pod, inspector):
    sandbox, cids = pod
    sock, shim = _pod_shim(node, sandbox)
    assert [p for p, argv in node.shims().items() if "start" not in argv] == [shim]
    assert os.readlink("/proc/%d/exe" % shim) == os.path.join(node.bin, h.V2_SHIM)
    assert os.readlink("/proc/%d/cwd" % shim) == node.bundle(sandbox)
    tasks = {}
    for line in node.ctr("task", "ls").stdout.splitlines()[1:]:
        fields = line.split()
        tasks[fields[0]] = int(fields[1])
    for bid in [sandbox] + cids:
        ro = _ro(inspector, bid)
        address = h.read_text(os.path.join(ro, "address"))
        assert address == "unix://" + sock, bid
        cfg = _read_json(os.path.join(ro, "shim-config"))
        assert cfg["Group"] == sandbox and cfg["Address"] == address
        assert cfg["Sandbox"] == ("" if bid == sandbox else sandbox), cfg
        assert cfg["Binary"] == os.path.join(node.bin, h.V2_SHIM), cfg
        assert cfg["RuncRoot"] == node.runc_root_of()
        assert cfg["Path"] == node.bundle(bid) and cfg["WorkDir"] == node.work_dir(bid)
        assert os.path.isfile(os.path.join(cfg["RuncRoot"], bid, "state.json"))
        assert _read_json(os.path.join(ro, "status")) == {
            "complete": True,
            "shim": {"address": address, "listening": True, "pid": shim},
            "init": {"pid": tasks[bid], "running": True},
            "stale": False}, bid


def test_node_view_names_the_pod(node, pod):
    """SPEC 8: one read-only node view over containerd's state and root shows
    the pod by kubelet's name, its sandbox and containers by theirs, their
    status through the links, and no leak of theirs."""
    sandbox, cids = pod
    meta = json.loads(node.crictl("inspectp", sandbox).stdout)["status"]["metadata"]
    pod_dir = "%s_%s_%s" % (meta["namespace"], meta["name"], meta["uid"])
    fs = node.mount_node_view(os.path.join(node.tmp, "node-view"))
    mnt = fs.mountpoint
    try:
        assert h.V2 in os.listdir(mnt)
        top = os.path.join(mnt, "pods", pod_dir)
        _wait(lambda: os.path.isdir(top), "pods/" + pod_dir)
        assert os.readlink(os.path.join(top, "sandbox")) == "../../%s/%s/%s" % (
            h.V2, h.K8S_NAMESPACE, sandbox)
        names = {}
        for cid in cids:
            cmeta = json.loads(node.crictl("inspect", cid).stdout)["status"]["metadata"]
            names[cmeta["name"]] = "../../../%s/%s/%s" % (h.V2, h.K8S_NAMESPACE, cid)
        conts = os.path.join(top, "containers")
        assert {n: os.readlink(os.path.join(conts, n)) for n in os.listdir(conts)} == names
        for n in names:
            st = _read_json(os.path.join(conts, n, "status"))
            assert st["shim"]["listening"] is True and st["init"]["running"] is True
            assert st["stale"] is False
        ours = [f for f in (json.loads(ln) for ln in
                            h.read_text(os.path.join(mnt, "leaks")).splitlines())
                if f["kind"] in ("bundle", "workdir")]
        assert ours == []
    finally:
        problems = fs.stop()
    assert problems == []


def test_restart_with_pod_running_reconnects(node, pod, inspector):
    sandbox, cids = pod
    _sock, shim = _pod_shim(node, sandbox)
    before = {bid: h.read_text(os.path.join(_ro(inspector, bid), "status"))
              for bid in [sandbox] + cids}
    node.kill_containerd(signal.SIGKILL)
    assert os.path.exists("/proc/%d" % shim), "the shim died with containerd"
    node.start_containerd()
    _wait(lambda: sorted(node.crictl("ps", "-q", "--state", "Running").stdout.split()) ==
          sorted(cids), "the pod's containers to be listed running")
    assert node.crictl("pods", "-q", "--state", "Ready").stdout.split() == [sandbox]
    for cid in cids:
        r = node.crictl("exec", cid, "sh", "-c", "echo exec:$((1+1))")
        assert r.stdout.splitlines() == ["exec:2"]
    assert _pod_shim(node, sandbox)[1] == shim
    for bid, text in before.items():
        assert h.read_text(os.path.join(_ro(inspector, bid), "status")) == text


def test_stopp_rmp_leave_both_roots_empty(node, pod, inspector):
    sandbox, cids = pod
    sock, shim = _pod_shim(node, sandbox)
    node.crictl("stopp", sandbox)
    assert node.crictl("ps", "-q", "--state", "Running").stdout.split() == []
    node.crictl("rmp", sandbox)
    node.pods.discard(sandbox)
    for d in (os.path.join(node.bstate, h.K8S_NAMESPACE),
              os.path.join(node.work, h.K8S_NAMESPACE),
              os.path.join(node.mnt, h.K8S_NAMESPACE),
              os.path.join(inspector, h.K8S_NAMESPACE)):
        assert os.listdir(d) == [], "%s is not empty" % d
    _wait(lambda: not os.path.exists("/proc/%d" % shim) or
          h.read_text("/proc/%d/stat" % shim).rsplit(")", 1)[1].split()[0] in "ZX",
          "the pod's shim to exit")
    assert not os.path.lexists(sock), "the shim left its socket"
    assert node.shims() == {}
    assert os.listdir(node.runc_root_of()) == []


def test_store_empty_after_deletes(node):
    node.assert_store_empty()
