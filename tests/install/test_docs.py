# SPDX-License-Identifier: Apache-2.0
"""The systemd unit and the manual pages."""
import configparser
import re
import shutil
from pathlib import Path

import pytest

from bfstest import REPO
from install_helpers import run

UNITS = REPO / "mount-helper" / "systemd"
# Each unit: its file, the containerd plugin directory it shows, its mountpoint.
UNIT_CASES = {
    "v1": (UNITS / "run-bundlefs.mount", "io.containerd.runtime.v1.linux", "/run/bundlefs"),
    "v2": (UNITS / "run-bundlefs_v2.mount", "io.containerd.runtime.v2.task",
           "/run/bundlefs_v2"),
}
MANPAGES = [REPO / "docs" / "man" / p for p in ("bundlefs.8", "mount.bundlefs.8")]


def systemd_escape_path(path):
    return run(["systemd-escape", "-p", path]).stdout.strip()


NODE_UNIT = UNITS / "mnt-node.mount"


def test_units_are_the_known_ones():
    """Every unit in the tree is checked below (and installed: test_install)."""
    assert sorted(p.name for p in UNITS.iterdir()) == \
        sorted([c[0].name for c in UNIT_CASES.values()] + [NODE_UNIT.name])


def test_node_unit_verify(tmp_path):
    """The node view's unit (SPEC 8): mount -t bundlefs /run/containerd
    /mnt/node -o node,ro, after containerd, nofail; systemd-analyze verify."""
    unit = tmp_path / NODE_UNIT.name
    shutil.copy(NODE_UNIT, unit)
    r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(unit)
    m = cp["Mount"]
    assert (m["Type"], m["What"], m["Where"]) == ("bundlefs", "/run/containerd", "/mnt/node")
    assert m["Options"].split(",") == ["node", "ro", "nofail"]
    assert "containerd.service" in cp["Unit"]["After"].split()
    assert cp["Install"]["WantedBy"] == "multi-user.target"
    assert systemd_escape_path(m["Where"]) + ".mount" == NODE_UNIT.name
    # The check can fail: a Where= that does not match the name.
    unit.write_text(NODE_UNIT.read_text().replace("Where=/mnt/node\n", "Where=/mnt/other\n"))
    r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
    assert r.returncode != 0


@pytest.mark.parametrize("case", UNIT_CASES)
def test_unit_verify(tmp_path, case):
    """systemd-analyze verify when available (it runs without a running
    systemd); otherwise parse the unit and check its essential settings."""
    src, plugin, where = UNIT_CASES[case]
    unit = tmp_path / src.name
    shutil.copy(src, unit)
    if shutil.which("systemd-analyze"):
        r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(unit)
    m = cp["Mount"]
    assert m["Type"] == "bundlefs"
    assert m["What"] == f"/run/containerd/{plugin}"
    assert m["Where"] == where
    opts = m["Options"].split(",")
    assert "ro" in opts
    assert f"work=/var/lib/containerd/{plugin}" in opts
    runtime = [o for o in opts if o.startswith("runtime=")]
    assert runtime in ([], [f"runtime={case}"]), runtime
    if case == "v2":
        assert not {"runtime_root", "criu", "systemd_cgroup", "legacy_address"} & \
            {o.split("=")[0] for o in opts}, "v1-only options are refused with v2"
    assert "containerd.service" in cp["Unit"]["After"].split()
    conds = [l.split("=", 1)[1] for l in src.read_text().splitlines()
             if l.startswith("ConditionPathIsDirectory=")]
    assert sorted(conds) == sorted([m["What"], f"/var/lib/containerd/{plugin}"])
    assert cp["Install"]["WantedBy"] == "multi-user.target"
    # The name systemd gives a mount unit at Where= (escaping by hand when
    # systemd-escape is missing: "/" -> "-", other specials -> \xNN).
    if shutil.which("systemd-escape"):
        assert systemd_escape_path(m["Where"]) + ".mount" == src.name
    assert escape_path_by_hand(m["Where"]) + ".mount" == src.name


def escape_path_by_hand(path):
    """systemd-escape --path for the simple paths the units use."""
    out = []
    for i, ch in enumerate(path.strip("/")):
        if ch == "/":
            out.append("-")
        elif ch.isascii() and (ch.isalnum() or ch in ":_" or (ch == "." and i)):
            out.append(ch)
        else:
            out.append("\\x%02x" % ord(ch))
    return "".join(out)


@pytest.mark.parametrize("case", UNIT_CASES)
def test_unit_verify_catches_errors(tmp_path, case):
    """The check above can fail: a Where= that does not match the name."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    src, _, where = UNIT_CASES[case]
    unit = tmp_path / src.name
    unit.write_text(src.read_text().replace(f"Where={where}\n", "Where=/run/other\n"))
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


# Options that `bundlefs --help` lists and the documentation does not
# describe yet. The test fails once one is documented, so that it leaves here.
def help_options(help_text):
    """The options of --help's own list: {name: whether it takes =VALUE},
    and the command-line flags (-f, -d...) of its FUSE list."""
    ours = help_text.split("bundlefs options:\n", 1)[1]
    ours, fuse = ours.split("FUSE options:\n", 1)
    options = {}
    for line in ours.splitlines():
        if not line.startswith("    -o "):
            continue                      # a continuation, or the default store's notes
        # "-o NAME", "-o NAME=VALUE" or "-o dev, -o suid", then the description
        items = re.match(r"-o [^\s,]+(, -o [^\s,]+)*", line.strip()).group(0)
        for item in items.split(", "):
            name, eq, _ = item[len("-o "):].partition("=")
            options[name] = bool(eq)
    flags = set(re.findall(r"^ +(-\w)\b", fuse, re.M))
    return options, flags


def manpage_options(text):
    """The OPTIONS section of a manual page: {name: takes =VALUE} of its
    `.It Cm` items, and the flags of its `.It Fl` items."""
    section = text.split("\n.Sh OPTIONS\n", 1)[1].split("\n.Sh ", 1)[0]
    options, flags = {}, set()
    for line in section.splitlines():
        if line.startswith(".It Cm "):
            for item in line[len(".It "):].split(" , "):
                m = re.match(r"Cm (\w+)( Ns = Ns)?", item)
                options[m.group(1)] = m.group(2) is not None
        elif line.startswith(".It Fl "):
            flags.add("-" + line.split()[2])
    return options, flags


def readme_options(text):
    """The README's options table: {name: takes =VALUE} of the options named
    in its first column."""
    lines = text.splitlines()
    start = lines.index("| option | default | meaning |")
    options = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        for name, value in re.findall(r"`(\w+)(=[^`]*)?`", line.split("|")[1]):
            options[name] = bool(value)
    return options


def test_bundlefs_page_documents_every_option(daemon_bin, helper_bin):
    """Every option `bundlefs --help` lists, and only those, is described in
    bundlefs(8) as taking a value or not, as in --help, and named in the
    README's options table; the flags of --help and of bundlefs(8) are the
    same, and mount.bundlefs(8) describes every flag of the helper's usage."""
    out = run([daemon_bin, "--help"])
    listed, help_flags = help_options(out.stdout + out.stderr)
    assert {"state", "work", "runtime", "ro", "dev"} <= set(listed), listed
    text = MANPAGES[0].read_text()
    documented, man_flags = manpage_options(text)
    assert set(listed) - set(documented) == set()
    assert set(documented) - set(listed) == set()
    assert {k: listed[k] for k in documented} == documented
    assert man_flags == help_flags
    readme = readme_options((REPO / "README.md").read_text())
    assert set(listed) - set(readme) == set()
    assert {k: readme[k] for k in set(listed) & set(readme)} == \
        {k: listed[k] for k in set(listed) & set(readme)}
    usage = run([helper_bin, "--help"]).stdout.splitlines()[0]
    helper_flags = {"-" + c for c in re.search(r"\[-(\w+)\]", usage).group(1)} | {"-o"}
    assert helper_flags <= manpage_options(MANPAGES[1].read_text())[1]

    for name in ("config.json", "address", "shim-config", "runc-options", "status",
                 "rootfs/", "bootstrap.json", "options.json", "shim-binary-path"):
        assert name in text, name
    for unit in UNIT_CASES.values():
        assert unit[0].name in text, unit[0].name
    assert ".Sh FILES" in text and ".Sh THE TREE" in text


FSTAB_GENERATOR = Path("/lib/systemd/system-generators/systemd-fstab-generator")


# The fstab lines documented for each runtime: plugin directory, mountpoint.
FSTAB_CASES = {
    "v1": ("io.containerd.runtime.v1.linux", "/mnt/bundles"),
    "v2": ("io.containerd.runtime.v2.task", "/mnt/bundles-v2"),
}


@pytest.mark.parametrize("doc", ["docs/INSTALL.md", "README.md"])
@pytest.mark.parametrize("case", FSTAB_CASES)
def test_documented_fstab_line(tmp_path, case, doc):
    """The fstab line of docs/INSTALL.md (and the README) for each runtime
    gives a mount after containerd that is not ordered before
    local-fs.target (containerd is after it)."""
    plugin, where = FSTAB_CASES[case]
    lines = [l for l in (REPO / doc).read_text().splitlines()
             if l.startswith(f"/run/containerd/{plugin} {where} ")]
    assert len(lines) == 1
    fields = lines[0].split()
    assert fields[2] == "bundlefs"
    opts = fields[3].split(",")
    assert "ro" in opts and "nofail" in opts
    assert "x-systemd.after=containerd.service" in opts
    assert f"work=/var/lib/containerd/{plugin}" in opts
    assert [o for o in opts if o.startswith("runtime=")] in ([], [f"runtime={case}"])
    if not FSTAB_GENERATOR.exists():
        return
    (tmp_path / "fstab").write_text(lines[0] + "\n")
    out = [tmp_path / d for d in ("normal", "early", "late")]
    for d in out:
        d.mkdir()
    env = {"SYSTEMD_FSTAB": str(tmp_path / "fstab"), "SYSTEMD_PROC_CMDLINE": "",
           "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    run([FSTAB_GENERATOR, *out], env=env)
    unit = out[0] / (escape_path_by_hand(where) + ".mount")
    text = unit.read_text()
    assert "After=containerd.service" in text.splitlines()
    assert "Before=local-fs.target" not in text
    assert "Type=bundlefs" in text.splitlines()
    if shutil.which("systemd-analyze"):
        r = run(["systemd-analyze", "verify", "--man=no", unit], check=False)
        assert r.returncode == 0 and r.stderr == "", r.stderr
