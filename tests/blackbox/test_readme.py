# SPDX-License-Identifier: Apache-2.0
"""The README's tour and mount.sh's suggestion, run as written against a fresh
mount of the default runtime (v2): only the mountpoint /mnt/bundlefs is
replaced by the test's own. Each runs twice, as a user who comes back does."""

import json
import os
import re
import subprocess

from bfs_helpers import REPO


def tour_script():
    """The shell block that follows the README's tour marker."""
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- tour:[^>]*-->\n```sh\n(.*?)```", text, re.S)
    assert m, "README.md has no tour block"
    return m.group(1)


def run(script, mnt):
    return subprocess.run(["sh", "-ec", script.replace("/mnt/bundlefs", mnt)],
                          capture_output=True, text=True)


def test_readme_tour_runs_as_written(mount_bundlefs):
    m = mount_bundlefs(runtime=None)  # the default runtime, as mount.sh mounts it
    script = tour_script()
    assert "/mnt/bundlefs/default/web" in script
    for attempt in range(2):
        r = run(script, m.mnt)
        assert r.returncode == 0, (attempt, r.stdout, r.stderr)
        lines = r.stdout.splitlines()
        # readlink's line, then address (no newline: it runs into shim-config), then status.
        assert lines[0] == m.w("default", "web"), lines
        assert lines[1].startswith("unix://") and '{"Path":' in lines[1], lines
        shim = json.loads(lines[1][lines[1].index("{"):])
        assert shim["Group"] == "web" and shim["ID"] == "web"
        status = json.loads(lines[2])
        assert status["complete"] is True and status["stale"] is True
        assert not os.path.lexists(m.s("default", "web"))


def test_mount_sh_suggestion_runs_twice(mount_bundlefs):
    m = mount_bundlefs(runtime=None)  # the default runtime, as mount.sh mounts it
    text = (REPO / "scripts" / "mount.sh").read_text()
    found = re.search(r'echo "Try: +(.*)"', text)
    assert found, "mount.sh suggests no command"
    cmd = found.group(1).replace("$mnt", m.mnt)
    for attempt in range(2):
        r = subprocess.run(["sh", "-ec", cmd], capture_output=True, text=True)
        assert r.returncode == 0, (attempt, r.stderr)
        assert r.stdout.startswith("unix://"), r.stdout
