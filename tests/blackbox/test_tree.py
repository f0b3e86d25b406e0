# SPDX-License-Identifier: Apache-2.0
"""SPEC 3, 3.1, 3.2, 5.1: namespaces and bundles through mkdir, rmdir, rename, readdir."""

import errno
import os
import stat

import pytest

from bfstest import errno_of, ident, mode_of, q

VALID_IDS = ["a", "Z", "0", "a.b", "a-b", "a_b", "A.b-c_d", "a1.b2.c3", "x" * 76,
             "default", "k8s.io", "moby"]

INVALID_IDS = {
    "dash_first": "-a",
    "dash_last": "a-",
    "dot_last": "a.",
    "double_dot": "a..b",
    "double_underscore": "a__b",
    "double_dash": "default--default",
    "mixed_separators": "a.-b",
    "77_chars": "x" * 77,
    "space": "a b",
    "non_ascii": "\u00e4",
    "non_ascii_inner": "a\u00e4b",
    "hidden": ".a",
    "dot_dash": ".-",
    "underscore_only": "_",
    "colon": "a:b",
    "plus": "a+b",
    "at": "a@b",
    "tab": "a\tb",
    "newline": "a\nb",
    "backslash": "a\\b",
    "tasteful": "but__only_tasteful_underscores",
    "dot_first_word": "-foo.boo",
    "trailing_dash_word": "foo.boo-",
}


def _created_nothing(bfs, before):
    bfs.assert_unchanged(before)


# ------------------------------------------------------------------ 3.1

@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_namespace_mkdir_creates_state_and_work_0711(bfs, umask):
    """The modes are containerd's whatever the caller's mode and umask (mkdir -m
    would chmod afterwards, which is not part of the mkdir)."""
    ns = ident("ns")
    r = bfs.sh(f"umask {umask:03o}; mkdir {q(ns)}")
    assert r.returncode == 0, r.stderr
    for p in (bfs.s(ns), bfs.w(ns)):
        st = os.lstat(p)
        assert stat.S_ISDIR(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o711, (p, oct(st.st_mode))
    assert os.listdir(bfs.s(ns)) == [] and os.listdir(bfs.w(ns)) == []
    assert ns in os.listdir(bfs.mnt)


@pytest.mark.parametrize("mode", [0o777, 0o755, 0o700, 0o000, 0o1777])
def test_mkdir_mode_argument_ignored(bfs, mode):
    ns = ident("ns")
    os.mkdir(bfs.m(ns), mode)
    assert mode_of(bfs.s(ns)) == 0o711 and mode_of(bfs.w(ns)) == 0o711
    bid = ident("b")
    os.mkdir(bfs.m(ns, bid), mode)
    assert mode_of(bfs.s(ns, bid)) == 0o700
    assert mode_of(bfs.w(ns, bid)) == 0o711
    assert mode_of(bfs.s(ns, bid, "rootfs")) == 0o711


@pytest.mark.parametrize("name", VALID_IDS)
def test_namespace_mkdir_valid_identifiers(bfs, name):
    if os.path.exists(bfs.s(name)):
        pytest.fail(f"{name} exists before the test")
    os.mkdir(bfs.m(name))
    assert os.path.isdir(bfs.s(name)) and os.path.isdir(bfs.w(name))
    os.rmdir(bfs.m(name))
    assert not os.path.exists(bfs.s(name)) and not os.path.exists(bfs.w(name))


@pytest.mark.parametrize("case", sorted(INVALID_IDS))
def test_namespace_mkdir_invalid_identifier_einval(bfs, case):
    name = INVALID_IDS[case]
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(name)) == errno.EINVAL
    _created_nothing(bfs, before)
    assert bfs.alive()


def test_namespace_mkdir_existing_eexist(bfs):
    ns = bfs.new_ns()
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(ns)) == errno.EEXIST
    _created_nothing(bfs, before)


def test_namespace_existing_only_in_store_eexist(bfs):
    ns = ident("ns")
    os.mkdir(bfs.s(ns), 0o755)
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(ns)) == errno.EEXIST
    _created_nothing(bfs, before)


def test_namespace_rmdir_removes_both(bfs):
    ns = bfs.new_ns()
    r = bfs.sh(f"rmdir {q(ns)}")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(bfs.s(ns))
    assert not os.path.exists(bfs.w(ns))
    assert ns not in os.listdir(bfs.mnt)


def test_namespace_rmdir_with_bundle_enotempty(bfs):
    ns, bid = bfs.new_bundle()
    before = bfs.snapshot()
    assert errno_of(os.rmdir, bfs.m(ns)) == errno.ENOTEMPTY
    _created_nothing(bfs, before)
    assert os.path.isdir(bfs.m(ns, bid))


def test_namespace_rmdir_with_store_made_bundle_enotempty(bfs):
    ns = bfs.new_ns()
    os.mkdir(bfs.s(ns, "handmade"))
    before = bfs.snapshot()
    assert errno_of(os.rmdir, bfs.m(ns)) == errno.ENOTEMPTY
    _created_nothing(bfs, before)


def test_namespace_rmdir_removes_hidden_leftovers(bfs):
    ns = bfs.new_ns()
    for root in (bfs.s, bfs.w):
        os.makedirs(root(ns, ".old", "rootfs", "deep"))
        with open(root(ns, ".old", "rootfs", "deep", "f"), "w") as f:
            f.write("x")
    os.rmdir(bfs.m(ns))
    assert not os.path.exists(bfs.s(ns))
    assert not os.path.exists(bfs.w(ns))


def test_namespace_rmdir_after_bundle_deleted(bfs):
    ns, bid = bfs.new_bundle()
    os.rmdir(bfs.m(ns, bid))
    os.rmdir(bfs.m(ns))
    assert not os.path.exists(bfs.s(ns)) and not os.path.exists(bfs.w(ns))


# ------------------------------------------------------------------ 3.2

@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
def test_bundle_mkdir_skeleton(bfs, umask):
    ns = bfs.new_ns()
    bid = ident("b")
    r = bfs.sh(f"umask {umask:03o}; mkdir {q(ns)}/{q(bid)}")
    assert r.returncode == 0, r.stderr
    assert mode_of(bfs.s(ns)) == 0o711
    assert mode_of(bfs.s(ns, bid)) == 0o700
    assert mode_of(bfs.w(ns, bid)) == 0o711
    assert mode_of(bfs.s(ns, bid, "rootfs")) == 0o711
    assert os.path.isdir(bfs.s(ns, bid, "rootfs"))
    assert os.listdir(bfs.s(ns, bid)) == ["rootfs"]
    assert os.listdir(bfs.s(ns, bid, "rootfs")) == []
    assert os.listdir(bfs.w(ns, bid)) == []
    assert not os.path.lexists(bfs.s(ns, bid, "config.json"))


def test_incomplete_bundle_listing(bfs):
    ns, bid = bfs.new_bundle()
    assert sorted(os.listdir(bfs.m(ns, bid))) == ["address", "rootfs", "shim-config", "status"]
    assert not os.path.exists(bfs.m(ns, bid, "config.json"))
    assert errno_of(os.stat, bfs.m(ns, bid, "config.json")) == errno.ENOENT
    assert os.path.isdir(bfs.m(ns, bid, "rootfs"))
    for f in ("address", "shim-config", "status"):
        assert stat.S_ISREG(os.stat(bfs.m(ns, bid, f)).st_mode)
    r = bfs.sh(f"ls {q(ns)}/{q(bid)}")
    assert r.stdout.decode().split() == ["address", "rootfs", "shim-config", "status"]
    # the bundle itself is listed in its namespace
    assert bid in os.listdir(bfs.m(ns))


def test_bundle_mkdir_in_store_only_namespace_creates_work_ns(bfs):
    """S/ns made by hand, no W/ns: the mkdir creates W/ns/id (MkdirAll, 0711)."""
    ns = ident("ns")
    os.mkdir(bfs.s(ns), 0o711)
    bid = ident("b")
    os.mkdir(bfs.m(ns, bid))
    assert mode_of(bfs.w(ns)) == 0o711
    assert mode_of(bfs.w(ns, bid)) == 0o711
    assert mode_of(bfs.s(ns, bid)) == 0o700


def test_bundle_mkdir_reuses_work_dir(bfs):
    ns = bfs.new_ns()
    bid = ident("b")
    os.makedirs(bfs.w(ns, bid, "sub"))
    with open(bfs.w(ns, bid, "keep"), "w") as f:
        f.write("kept")
    os.mkdir(bfs.m(ns, bid))
    assert open(bfs.w(ns, bid, "keep")).read() == "kept"
    assert os.path.isdir(bfs.w(ns, bid, "sub"))
    assert os.path.isdir(bfs.s(ns, bid, "rootfs"))


def test_bundle_mkdir_existing_eexist(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.s(ns, bid, "marker"), "w") as f:
        f.write("m")
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(ns, bid)) == errno.EEXIST
    _created_nothing(bfs, before)


def test_bundle_mkdir_existing_in_store_only_eexist(bfs):
    ns = bfs.new_ns()
    bid = ident("b")
    os.mkdir(bfs.s(ns, bid), 0o755)
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(ns, bid)) == errno.EEXIST
    _created_nothing(bfs, before)


@pytest.mark.parametrize("name", VALID_IDS)
def test_bundle_mkdir_valid_identifiers(bfs, name):
    ns = bfs.new_ns()
    os.mkdir(bfs.m(ns, name))
    assert os.path.isdir(bfs.s(ns, name, "rootfs")) and os.path.isdir(bfs.w(ns, name))


@pytest.mark.parametrize("case", sorted(INVALID_IDS))
def test_bundle_mkdir_invalid_identifier_einval(bfs, case):
    ns = bfs.new_ns()
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(ns, INVALID_IDS[case])) == errno.EINVAL
    _created_nothing(bfs, before)


def test_bundle_mkdir_failure_rolls_back(bfs):
    """W/ns/id is a regular file: the work dir cannot be made, the mkdir fails and
    removes S/ns/id it had created; the file in the work root is untouched."""
    ns = bfs.new_ns()
    bid = ident("b")
    with open(bfs.w(ns, bid), "w") as f:
        f.write("in the way")
    bfs.expect_log(rf"{ns}/{bid}")
    before = bfs.snapshot()
    e = errno_of(os.mkdir, bfs.m(ns, bid))
    assert e is not None and e != errno.EIO
    _created_nothing(bfs, before)
    assert bid not in os.listdir(bfs.m(ns))


@pytest.mark.parametrize("what", ["symlink", "file"])
def test_bundle_mkdir_work_namespace_not_a_directory(bfs, tmp_path, what):
    """W/ns is a symlink (to a directory outside the store) or a regular
    file: the bundle cannot be made, ENOTDIR, and nothing is made, neither
    in the store nor where the symlink points."""
    ns = ident("ns")
    os.mkdir(bfs.s(ns), 0o711)
    outside = tmp_path / "outside"
    outside.mkdir()
    if what == "symlink":
        os.symlink(str(outside), bfs.w(ns))
    else:
        with open(bfs.w(ns), "w") as f:
            f.write("in the way")
    bfs.expect_log(rf"{ns}/")
    before = bfs.snapshot()
    assert errno_of(os.mkdir, bfs.m(ns, ident("b"))) == errno.ENOTDIR
    _created_nothing(bfs, before)
    assert os.listdir(outside) == [] and os.listdir(bfs.m(ns)) == []


def test_store_made_directories_are_bundles(bfs):
    ns = ident("ns")
    os.makedirs(bfs.s(ns, "handmade"))
    names = sorted(os.listdir(bfs.m(ns, "handmade")))
    assert names == ["address", "shim-config", "status"]
    assert open(bfs.m(ns, "handmade", "address")).read() == bfs.address(ns, "handmade")
    assert open(bfs.m(ns, "handmade", "shim-config")).read().startswith('{"Path":')


def test_store_made_bundle_with_non_identifier_name(bfs):
    """Names are not re-validated for directories found on disk."""
    ns = ident("ns")
    name = "Not An..Identifier"
    os.makedirs(bfs.s(ns, name))
    assert "address" in os.listdir(bfs.m(ns, name))
    assert open(bfs.m(ns, name, "address")).read() == bfs.address(ns, name)


def test_hidden_depth2_dirs_listed_not_bundles(bfs):
    ns, bid = bfs.new_bundle()
    os.makedirs(bfs.s(ns, ".gone", "rootfs"))
    with open(bfs.s(ns, ".gone", "f"), "w") as f:
        f.write("leftover")
    assert ".gone" in os.listdir(bfs.m(ns))
    assert sorted(os.listdir(bfs.m(ns, ".gone"))) == ["f", "rootfs"]
    assert not os.path.exists(bfs.m(ns, ".gone", "address"))
    assert not os.path.exists(bfs.m(ns, ".gone", "shim-config"))
    assert open(bfs.m(ns, ".gone", "f")).read() == "leftover"
    # ls hides it by its own convention, ls -a shows it
    assert ".gone" not in bfs.sh(f"ls {q(ns)}").stdout.decode().split()
    assert ".gone" in bfs.sh(f"ls -a {q(ns)}").stdout.decode().split()


def test_hidden_depth1_entries_listed(bfs):
    name = "." + ident("h")
    os.mkdir(bfs.s(name))
    assert name in os.listdir(bfs.mnt)


# ---------------------------------------------------------------- rename

def test_rename_bundle_to_hidden_name_same_ns(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.s(ns, bid, "rootfs", "f"), "w") as f:
        f.write("x")
    os.rename(bfs.m(ns, bid), bfs.m(ns, "." + bid))
    assert not os.path.exists(bfs.s(ns, bid))
    assert open(bfs.s(ns, "." + bid, "rootfs", "f")).read() == "x"
    assert bid not in os.listdir(bfs.m(ns))
    assert "." + bid in os.listdir(bfs.m(ns))
    assert os.path.isdir(bfs.w(ns, bid)), "the work dir is not part of the rename"
    # and the hidden tree can then be removed (containerd's atomicDelete)
    os.rmdir(bfs.m(ns, "." + bid))
    assert not os.path.exists(bfs.s(ns, "." + bid))


def test_rename_bundle_with_mv_to_hidden(bfs):
    ns, bid = bfs.new_bundle()
    r = bfs.sh(f"mv {q(ns)}/{q(bid)} {q(ns)}/.{q(bid)}-x")
    assert r.returncode == 0, r.stderr
    assert os.path.isdir(bfs.s(ns, "." + bid + "-x", "rootfs"))


BAD_RENAMES = {
    "bundle_to_visible_name": lambda ns, bid, ns2: ((ns, bid), (ns, bid + "x")),
    "bundle_to_other_ns_hidden": lambda ns, bid, ns2: ((ns, bid), (ns2, "." + bid)),
    "bundle_to_other_ns_visible": lambda ns, bid, ns2: ((ns, bid), (ns2, bid)),
    "bundle_to_depth1": lambda ns, bid, ns2: ((ns, bid), ("." + bid,)),
    "bundle_into_other_bundle": lambda ns, bid, ns2: ((ns, bid), (ns2, "other", "." + bid)),
    "namespace_to_visible": lambda ns, bid, ns2: ((ns,), (ns + "x",)),
    "namespace_to_hidden": lambda ns, bid, ns2: ((ns,), ("." + ns,)),
    "namespace_into_namespace": lambda ns, bid, ns2: ((ns,), (ns2, "." + ns)),
}


@pytest.mark.parametrize("case", sorted(BAD_RENAMES))
def test_rename_rules_eperm(bfs, case):
    ns, bid = bfs.new_bundle()
    ns2, other = bfs.new_bundle()
    os.mkdir(bfs.m(ns2, "other"))
    src, dst = BAD_RENAMES[case](ns, bid, ns2)
    before = bfs.snapshot()
    assert errno_of(os.rename, bfs.m(*src), bfs.m(*dst)) == errno.EPERM
    bfs.assert_unchanged(before)


def test_rename_bundle_onto_existing_bundle_eperm(bfs):
    ns, a = bfs.new_bundle()
    _, b = bfs.new_bundle(ns)
    before = bfs.snapshot()
    assert errno_of(os.rename, bfs.m(ns, a), bfs.m(ns, b)) == errno.EPERM
    bfs.assert_unchanged(before)


def test_rename_out_of_bundle_to_depth2_refused(bfs):
    """Moving a bundle's content out to depth 2 is not a rename within the bundle."""
    ns, bid = bfs.new_bundle()
    before = bfs.snapshot()
    e = errno_of(os.rename, bfs.m(ns, bid, "rootfs"), bfs.m(ns, ".r"))
    assert e in (errno.EPERM, errno.EXDEV)
    bfs.assert_unchanged(before)
