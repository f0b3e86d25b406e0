# SPDX-License-Identifier: Apache-2.0
"""The shared tests against the node view (SPEC 8.2).

Every mount the shared fixtures make here (bfs, mount_bundlefs,
module_mount, new_bundlefs) is a node view (-o node), and the BundleFS it
gives is one plugin directory of it: fs.mnt is MOUNTPOINT/PLUGIN, fs.state
and fs.work are C_S/PLUGIN and C_R/PLUGIN. So a test written for a
single-runtime mount, imported into a module here (test_shared_*.py), runs
unchanged against a subtree of the node view: SPEC 8.2 says each subtree is
exactly that mount. A v1 mount is the v1 plugin's subtree; a v2 one is the
v2 runtime's, then the sandbox controller's (the module-scoped parameter).
The shared tests' helpers (tests/blackbox) are on sys.path for the modules
imported from there.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "blackbox"))

import bfstest  # noqa: E402


@pytest.fixture(scope="module", params=[bfstest.V2_PLUGIN, bfstest.SANDBOX_PLUGIN],
                ids=["v2task", "sandbox"])
def node_v2_plugin(request):
    """The plugin directory whose subtree a v2 mount of this module is."""
    return request.param


@pytest.fixture(scope="module")
def bundlefs_kwargs(node_v2_plugin):
    def kwargs(opts):
        runtime = opts.get("runtime", "v1")
        return {"node": bfstest.V1_PLUGIN if runtime == "v1" else node_v2_plugin}
    return kwargs


# Shared tests that are about something the node view decides otherwise, by
# SPEC 8 (each is covered for the node view in test_node_*.py where it
# applies): node id (substring) -> why.
NOT_FOR_THE_NODE_VIEW = {
    "test_shared_shim_config.py::test_node_options[":
        "bundle_root= is refused with node (8.1); test_node_tree checks Path is C_S/PLUGIN",
    "test_shared_shim_config.py::test_single_node_option[v2task-bundle_root":
        "bundle_root= is refused with node (8.1)",
    "test_shared_shim_config.py::test_single_node_option[sandbox-bundle_root":
        "bundle_root= is refused with node (8.1)",
    "test_shared_v2.py::test_shim_config_options_of_mount[":
        "bundle_root= is refused with node (8.1)",
    "test_shared_v2.py::test_runtime_decided_by_state_dir_name[":
        "the plugin directory, not a state dir's name, decides the runtime (8.2)",
    "test_shared_status.py::test_ro_mount_reads_the_same[":
        "a second mount of the same store: a node view's stores are its plugin dirs",
    "test_shared_freshness.py::test_one_inotify_and_one_eventfd[":
        "pods/ has an inotify instance of its own; test_node_tree counts them",
}


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        (drop if any(k in item.nodeid for k in NOT_FOR_THE_NODE_VIEW) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
