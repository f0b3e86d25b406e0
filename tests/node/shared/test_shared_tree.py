# SPDX-License-Identifier: Apache-2.0
"""tests/blackbox/test_tree.py against a subtree of the node view (conftest.py)."""

from test_tree import *  # noqa: F401,F403
