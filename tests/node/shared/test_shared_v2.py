# SPDX-License-Identifier: Apache-2.0
"""tests/blackbox/test_v2.py against a subtree of the node view (conftest.py)."""

from test_v2 import *  # noqa: F401,F403
