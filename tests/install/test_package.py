# SPDX-License-Identifier: Apache-2.0
"""The Debian package: cpack -G DEB, apt-get install ./bundlefs_*.deb,
mount through the helper, apt-get remove and purge leave nothing behind."""
import os
import subprocess
from pathlib import Path

import pytest

from bfstest import REPO
from install_helpers import INSTALLED, require_real, run, umount_and_wait

DEPENDS = {"fuse3", "libfuse3-3", "libjson-c5", "libssl3", "liburing2", "libc6"}


@pytest.fixture(scope="module")
def deb(build_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    run(["cpack", "-G", "DEB", "-B", out, "--config", build_dir / "CPackConfig.cmake"])
    debs = list(out.glob("bundlefs_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def test_control_fields(deb):
    assert field(deb, "Package") == "bundlefs"
    deps = {d.strip().split()[0] for d in field(deb, "Depends").split(",")}
    assert deps == DEPENDS
    assert field(deb, "Architecture") == run(["dpkg", "--print-architecture"]).stdout.strip()
    assert field(deb, "Maintainer")


def test_contents(deb):
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    files = {}
    for line in listing:
        parts = line.split()
        if parts[0].startswith("-"):
            files[parts[5].removeprefix("./usr/")] = parts[0]
    assert set(files) == set(INSTALLED)
    for rel, mode in INSTALLED.items():
        assert files[rel] == ("-rwxr-xr-x" if mode == 0o755 else "-rw-r--r--"), rel


def test_maintainer_scripts_executable(deb, tmp_path):
    run(["dpkg-deb", "-e", deb, tmp_path / "ctl"])
    for script in ("postinst", "prerm", "postrm"):
        assert os.stat(tmp_path / "ctl" / script).st_mode & 0o777 == 0o755


def test_prerm_stops_every_unit():
    """Removal stops and disables each mount unit the package ships."""
    prerm = (REPO / "packaging" / "debian" / "prerm").read_text()
    units = [Path(rel).name for rel in INSTALLED if rel.startswith("lib/systemd/system/")]
    assert len(units) == 3  # the node view, the v1 and the v2 views
    for unit in units:
        assert unit in prerm, unit


def dpkg_status(pkg):
    r = run(["dpkg-query", "-W", "-f", "${Status}", pkg], check=False)
    return r.stdout if r.returncode == 0 else None


def test_install_mount_remove_purge(deb, store):
    require_real()
    assert dpkg_status("bundlefs") in (None, "unknown ok not-installed"), \
        "bundlefs is already installed as a package"
    apt_env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run(["apt-get", "install", "-y", "--no-install-recommends", str(deb)], env=apt_env)
        assert dpkg_status("bundlefs") == "install ok installed"
        owned = run(["dpkg", "-L", "bundlefs"]).stdout.splitlines()
        owned_files = sorted(p for p in owned if not os.path.isdir(p))
        assert owned_files == sorted(f"/usr/{rel}" for rel in INSTALLED)
        for p in owned_files:
            assert os.path.exists(p), p

        # The helper from the package, found by mount(8) in /sbin.
        run(["mount", "-t", "bundlefs", store.state, store.mnt, "-o",
             f"ro,work={store.work},nofail,x-systemd.after=containerd.service"])
        store.check_visible()
        store.check_ro()
        umount_and_wait(store.mnt)
        run(["man", "-w", "mount.bundlefs"])

        run(["apt-get", "remove", "-y", "bundlefs"], env=apt_env)
        for p in owned_files:
            assert not os.path.lexists(p), f"{p} left after apt-get remove"
        assert not Path("/usr/share/doc/bundlefs").exists()
        run(["apt-get", "purge", "-y", "bundlefs"], env=apt_env)
        assert dpkg_status("bundlefs") in (None, "unknown ok not-installed")
        assert not Path("/var/lib/dpkg/info/bundlefs.list").exists()
        for p in owned_files:
            assert not os.path.lexists(p)
    finally:
        subprocess.run(["apt-get", "purge", "-y", "bundlefs"], env=apt_env,
                       capture_output=True)
