# SPDX-License-Identifier: Apache-2.0
"""tests/blackbox/test_config_json.py against a subtree of the node view (conftest.py)."""

from test_config_json import *  # noqa: F401,F403
