# SPDX-License-Identifier: Apache-2.0
"""The README's "Debugging a node" one-liners, run as written against a node
view (only /mnt/node is replaced by the test's mountpoint), on a node made
to hold what they look for: a pod with a live and a stale container, a
stale sandbox, a socket a process listens on that no bundle names, and a
shim whose bundle directory was removed."""

import os
import re
import shutil
import subprocess

import pytest

from bfstest import REPO, V2_PLUGIN
from node_helpers import FakeShim, bundle_beside, cri, left_socket

POD = "default_web_u1"


def tour_script():
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- node-tour:[^>]*-->\n```sh\n(.*?)```", text, re.S)
    assert m, "README.md has no node-tour block"
    return m.group(1)


@pytest.fixture
def shims():
    made = []
    yield lambda *a: made.append(FakeShim(*a)) or made[-1]
    for s in made:
        s.stop()


def test_readme_node_tour_runs_as_written(node_mount, shims, tmp_path):
    fs = node_mount()
    k8s = os.path.join(fs.cs, V2_PLUGIN, "k8s.io")
    bundle_beside(fs, V2_PLUGIN, "k8s.io", "s1", cri("default", "web", "u1", "sandbox"))
    live = bundle_beside(fs, V2_PLUGIN, "k8s.io", "c1",
                         cri("default", "web", "u1", "container", "app"))
    shims(live, fs.address("k8s.io", "c1")[len("unix://"):])
    bundle_beside(fs, V2_PLUGIN, "k8s.io", "c2", cri("default", "web", "u1", "container", "log"))
    lost = os.path.join(fs.socket_root, "s", "lost")
    listener = left_socket(lost, listen=True)
    gone = bundle_beside(fs, V2_PLUGIN, "k8s.io", "gone", complete=False)
    orphan = shims(gone)
    shutil.rmtree(gone)
    shutil.rmtree(os.path.join(fs.cr, V2_PLUGIN, "k8s.io", "gone"))
    assert sorted(os.listdir(k8s)) == ["c1", "c2", "s1"]
    script = tour_script()
    assert "/mnt/node/pods" in script and "/mnt/node/leaks" in script
    top = fs.mountpoint
    try:
        for attempt in range(2):
            r = subprocess.run(["sh", "-ec", script.replace("/mnt/node", top)],
                               env=dict(os.environ, id="c1"), capture_output=True, text=True)
            assert r.returncode == 0, (attempt, r.stdout, r.stderr)
            lines = r.stdout.splitlines()
            want = [
                f"{top}/pods/{POD}/containers/app",
                f"{top}/pods/{POD}/containers/app true",
                f"{top}/pods/{POD}/containers/log false",
                f"{V2_PLUGIN}/k8s.io/c2",
                f"{V2_PLUGIN}/k8s.io/s1",
                lost,
                f"{orphan.pid} {gone} (deleted)",
            ]
            # Other shims of the host are orphans of this view too: left out.
            mine = [ln for ln in lines
                    if not re.fullmatch(r"\d+ .*", ln) or ln.startswith(f"{orphan.pid} ")]
            assert mine == want, (attempt, lines)
    finally:
        listener.close()
