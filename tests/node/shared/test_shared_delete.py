# SPDX-License-Identifier: Apache-2.0
"""tests/blackbox/test_delete.py against a subtree of the node view (conftest.py)."""

from test_delete import *  # noqa: F401,F403
