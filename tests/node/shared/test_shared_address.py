# SPDX-License-Identifier: Apache-2.0
"""tests/blackbox/test_address.py against a subtree of the node view (conftest.py)."""

from test_address import *  # noqa: F401,F403
