# SPDX-License-Identifier: Apache-2.0
"""tests/blackbox/test_shim_config.py against a subtree of the node view (conftest.py)."""

import pytest

import test_shim_config
from test_shim_config import *  # noqa: F401,F403
from test_shim_config import NODE_CRIU, NODE_RR


@pytest.fixture(scope="module", autouse=True)
def containerd_bundle_root():
    """The node view refuses bundle_root= (SPEC 8.1): its subtrees' Path is
    the real C_S/PLUGIN, the state dir, which is what the shared tests expect
    of a mount without bundle_root=. For this module's tests only."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(test_shim_config, "NODE_BR", None)
        yield


@pytest.fixture(scope="module")
def opts_mount(module_mount, containerd_bundle_root):
    """The shared module's mount without bundle_root=."""
    return module_mount(criu=NODE_CRIU, runtime_root=NODE_RR, systemd_cgroup=True)
