# SPDX-License-Identifier: Apache-2.0
"""The node view's own tests (SPEC 8): `node_mount` starts a node view.

node_mount(plugins=(V2_PLUGIN,), prepare=None, **opts) -> a started
bfstest.BundleFS of the node view: fs.mountpoint is MOUNT, fs.cs and fs.cr
are containerd's state and root (C_S, C_R), fs.socket_root holds s/, and
fs.mnt, fs.state and fs.work are the first plugin's subtree. The plugin
directories named are made in C_S and C_R before the start; prepare(fs) runs
after that. Stopped and checked like every BundleFS (tests/README.md).

shared/ runs the single-runtime tests against a subtree (its own conftest).
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bfstest  # noqa: E402


@pytest.fixture
def node_mount(new_bundlefs):
    def start(plugins=(bfstest.V2_PLUGIN,), prepare=None, **opts):
        fs = new_bundlefs(node=plugins[0])
        for pl in plugins[1:]:
            os.makedirs(os.path.join(fs.cs, pl), exist_ok=True)
            os.makedirs(os.path.join(fs.cr, pl), exist_ok=True)
        if prepare is not None:
            prepare(fs)
        fs.opts = dict(opts)
        return fs.start()
    return start
