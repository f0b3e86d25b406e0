# SPDX-License-Identifier: Apache-2.0
"""The systemd unit and the manual pages."""
import configparser
import re
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run

UNIT = REPO / "mount-helper" / "systemd" / "run-bundlefs.mount"
MANPAGES = [REPO / "docs" / "man" / p for p in ("bundlefs.8", "mount.bundlefs.8")]


def systemd_escape_path(path):
    return run(["systemd-escape", "-p", path]).stdout.strip()


def test_unit_verify(tmp_path):
    """systemd-analyze verify when available (it runs without a running
    systemd); otherwise parse the unit and check its essential settings."""
    unit = tmp_path / UNIT.name
    shutil.copy(UNIT, unit)
    if shutil.which("systemd-analyze"):
        r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(unit)
    m = cp["Mount"]
    assert m["Type"] == "bundlefs"
    assert m["What"] == "/run/containerd/io.containerd.runtime.v1.linux"
    opts = m["Options"].split(",")
    assert "ro" in opts
    assert "work=/var/lib/containerd/io.containerd.runtime.v1.linux" in opts
    assert "containerd.service" in cp["Unit"]["After"].split()
    assert cp["Install"]["WantedBy"] == "multi-user.target"
    if shutil.which("systemd-escape"):
        assert systemd_escape_path(m["Where"]) + ".mount" == UNIT.name


def test_unit_verify_catches_errors(tmp_path):
    """The check above can fail: a Where= that does not match the name."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("Where=/run/bundlefs", "Where=/run/other"))
    r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
    assert r.returncode != 0


# Messages about the local manual database, not about the page.
ENVIRONMENT = re.compile(r"outdated mandoc\.db|referenced manual not found")


@pytest.mark.parametrize("page", MANPAGES, ids=lambda p: p.name)
def test_manpage_mandoc_lint(page):
    r = run(["mandoc", "-T", "lint", "-W", "style", page], check=False)
    msgs = [l for l in (r.stdout + r.stderr).splitlines() if not ENVIRONMENT.search(l)]
    assert msgs == []


@pytest.mark.parametrize("page", MANPAGES, ids=lambda p: p.name)
def test_manpage_groff(page):
    r = run(["groff", "-ww", "-z", "-mandoc", page], check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_bundlefs_page_documents_every_option():
    text = MANPAGES[0].read_text()
    for opt in ("state", "work", "daemon_address", "socket_root", "runtime_root", "criu",
                "bundle_root"):
        assert f".It Cm {opt} Ns = Ns" in text, opt
    for flag in ("ro", "systemd_cgroup", "legacy_address"):
        assert f".It Cm {flag}\n" in text, flag
    for name in ("config.json", "address", "shim-config", "runc-options", "rootfs/"):
        assert name in text
    assert ".Sh FILES" in text and ".Sh THE TREE" in text


FSTAB_GENERATOR = Path("/lib/systemd/system-generators/systemd-fstab-generator")


def test_documented_fstab_line(tmp_path):
    """The fstab line of docs/INSTALL.md gives a mount after containerd that
    is not ordered before local-fs.target (containerd is after it)."""
    lines = [l for l in (REPO / "docs" / "INSTALL.md").read_text().splitlines()
             if l.startswith("/run/containerd/io.containerd.runtime.v1.linux /mnt/bundles ")]
    assert len(lines) == 1
    fields = lines[0].split()
    assert fields[2] == "bundlefs"
    opts = fields[3].split(",")
    assert "ro" in opts and "nofail" in opts
    assert "x-systemd.after=containerd.service" in opts
    assert "work=/var/lib/containerd/io.containerd.runtime.v1.linux" in opts
    if not FSTAB_GENERATOR.exists():
        return
    (tmp_path / "fstab").write_text(lines[0] + "\n")
    out = [tmp_path / d for d in ("normal", "early", "late")]
    for d in out:
        d.mkdir()
    env = {"SYSTEMD_FSTAB": str(tmp_path / "fstab"), "SYSTEMD_PROC_CMDLINE": "",
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    run([FSTAB_GENERATOR, *out], env=env)
    unit = out[0] / "mnt-bundles.mount"
    text = unit.read_text()
    assert "After=containerd.service" in text.splitlines()
    assert "Before=local-fs.target" not in text
    assert "Type=bundlefs" in text.splitlines()
    if shutil.which("systemd-analyze"):
        r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
        assert r.returncode == 0 and r.stderr == "", r.stderr
