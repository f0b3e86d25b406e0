# SPDX-License-Identifier: Apache-2.0
"""Starting the node view (SPEC 8.1): what it refuses, with one line on
stderr and nothing mounted."""

import subprocess

import pytest

from bfstest import V2_PLUGIN, bundlefs_bin, is_served


def run(argv, timeout=20):
    return subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def node_dirs(tmp_path):
    cs, cr, mnt = tmp_path / "cs", tmp_path / "cr", tmp_path / "mnt"
    for d in (cs / V2_PLUGIN, cr / V2_PLUGIN, mnt):
        d.mkdir(parents=True)
    return cs, cr, mnt


@pytest.mark.parametrize("bad,why", [
    ("state=/tmp", "state="),
    ("work=/tmp", "work="),
    ("runtime=v2", "runtime="),
    ("bundle_root=/run/containerd/io.containerd.runtime.v2.task", "bundle_root="),
])
def test_node_refuses_the_options_of_one_store(node_dirs, bad, why):
    cs, cr, mnt = node_dirs
    r = run([bundlefs_bin(), str(cs), str(mnt), "-f", "-o",
             f"node,containerd_root={cr},{bad}"])
    assert r.returncode != 0
    err = r.stderr.decode()
    assert err.count("\n") == 1 and why in err and "node" in err
    assert not is_served(str(mnt))


@pytest.mark.parametrize("which,how", [
    ("cs", "missing"), ("cs", "file"), ("cr", "missing"), ("cr", "file"), ("cs", "inside"),
])
def test_node_refuses_a_bad_containerd_dir(node_dirs, tmp_path, which, how):
    cs, cr, mnt = node_dirs
    target = {"cs": cs, "cr": cr}[which]
    if how == "missing":
        target = tmp_path / "nowhere"
    elif how == "file":
        target = tmp_path / "a-file"
        target.write_text("")
    else:
        target = mnt / "below"
    args = {"cs": str(cs), "cr": str(cr)}
    args[which] = str(target)
    r = run([bundlefs_bin(), args["cs"], str(mnt), "-f", "-o",
             f"node,containerd_root={args['cr']}"])
    assert r.returncode != 0
    err = r.stderr.decode()
    assert err.count("\n") == 1, err
    assert str(target) in err and "containerd" in err
    assert not is_served(str(mnt))


def test_containerd_root_without_node_is_refused(node_dirs, tmp_path):
    cs, cr, mnt = node_dirs
    st, wk = tmp_path / "s", tmp_path / "w"
    st.mkdir()
    wk.mkdir()
    r = run([bundlefs_bin(), str(mnt), "-f", "-o",
             f"state={st},work={wk},containerd_root={cr}"])
    assert r.returncode != 0
    assert r.stderr.decode().count("\n") == 1 and b"node" in r.stderr
    assert not is_served(str(mnt))


def test_help_names_the_node_view():
    r = run([bundlefs_bin(), "--help"])
    assert r.returncode == 0
    assert b"-o node" in r.stdout and b"containerd_root=DIR" in r.stdout

