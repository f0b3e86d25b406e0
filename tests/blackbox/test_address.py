# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.3 (address: stored or computed) and 4.1 (st_size of the overlay files)."""

import errno
import os
import stat
import subprocess
import time

import pytest

from bfstest import errno_of, q, read_bytes
from gorender import DEFAULT_DAEMON_ADDRESS, computed_address, go_join, legacy_address


# ---------------------------------------------------------- the helper itself

def test_reference_vector():
    """The expectation helper reproduces containerd's documented example."""
    assert computed_address("/run/containerd", DEFAULT_DAEMON_ADDRESS, "default", "redis") == (
        "unix:///run/containerd/s/"
        "f6b99128c07bdbd0902363ba979c22f8ef053e683a7ce24dd016a1ab17092c33")
    assert go_join("/run/containerd/../containerd/./containerd.sock", "default", "x") == \
        "/run/containerd/containerd.sock/default/x"
    assert go_join("/../a.sock", "ns", "id") == "/a.sock/ns/id"
    assert go_join("../a.sock", "ns", "id") == "../a.sock/ns/id"
    assert go_join("", "") == "" and go_join("a/..") == "."


# -------------------------------------------------------------- computed

def test_computed_address_default_options(bfs):
    ns, bid = bfs.new_bundle()
    want = computed_address(bfs.socket_root, DEFAULT_DAEMON_ADDRESS, ns, bid).encode()
    assert read_bytes(bfs.m(ns, bid, "address")) == want
    assert not want.endswith(b"\n")
    r = bfs.sh(f"cat {q(ns)}/{q(bid)}/address")
    assert r.stdout == want
    assert len(want) == len("unix://" + bfs.socket_root + "/s/") + 64


@pytest.mark.parametrize("daemon_address,socket_root_suffix", [
    ("/run/containerd/containerd.sock/", ""),
    ("/run/containerd/../containerd/./containerd.sock", ""),
    ("/../a.sock", "/"),
    ("../a.sock", "//."),
    ("//var//run/x.sock/.", "/./"),
    ("/tmp/d/..", "/sub/.."),
])
def test_computed_address_custom_options(mount_bundlefs, tmp_path, daemon_address,
                                         socket_root_suffix):
    sr = str(tmp_path / "sr")
    os.makedirs(sr + "/sub", exist_ok=True)
    m = mount_bundlefs(daemon_address=daemon_address, socket_root=sr + socket_root_suffix)
    ns, bid = m.new_bundle()
    want = computed_address(sr + socket_root_suffix, daemon_address, ns, bid)
    assert read_bytes(m.m(ns, bid, "address")) == want.encode()
    assert want.startswith("unix://" + sr + "/s/")


def test_legacy_address_option(mount_bundlefs):
    m = mount_bundlefs(legacy_address=True)
    ns, bid = m.new_bundle()
    want = legacy_address(ns, bid).encode()
    assert want == f"/containerd-shim/{ns}/{bid}/shim.sock".encode()
    assert read_bytes(m.m(ns, bid, "address")) == want
    assert os.stat(m.m(ns, bid, "address")).st_size == len(want)
    # a stored address still wins
    _, b2 = m.new_bundle(ns)
    with open(m.s(ns, b2, "address"), "wb") as f:
        f.write(b"unix:///stored2")
    assert read_bytes(m.m(ns, b2, "address")) == b"unix:///stored2"


# ---------------------------------------------------------------- stored

@pytest.mark.parametrize("content", [
    b"unix:///run/containerd/s/abc",
    b"unix:///run/containerd/s/abc\n",
    b"\n\n  padded  \n",
    b"",
    bytes(range(256)),
    b"x" * 5000,
])
def test_stored_address_verbatim(bfs, content):
    ns, bid = bfs.new_bundle()
    with open(bfs.s(ns, bid, "address"), "wb") as f:
        f.write(content)
    assert read_bytes(bfs.m(ns, bid, "address")) == content
    assert os.stat(bfs.m(ns, bid, "address")).st_size == len(content)


def test_symlink_address_counts_as_absent(bfs, tmp_path):
    ns, bid = bfs.new_bundle()
    target = tmp_path / "evil"
    target.write_bytes(b"unix:///evil")
    os.symlink(str(target), bfs.s(ns, bid, "address"))
    want = bfs.address(ns, bid).encode()
    assert read_bytes(bfs.m(ns, bid, "address")) == want
    st = os.stat(bfs.m(ns, bid, "address"))
    assert stat.S_ISREG(st.st_mode) and st.st_size == len(want)
    assert os.path.islink(bfs.s(ns, bid, "address"))
    assert target.read_bytes() == b"unix:///evil"


def test_directory_address_counts_as_absent(bfs):
    ns, bid = bfs.new_bundle()
    os.mkdir(bfs.s(ns, bid, "address"))
    want = bfs.address(ns, bid).encode()
    assert read_bytes(bfs.m(ns, bid, "address")) == want
    assert stat.S_ISREG(os.stat(bfs.m(ns, bid, "address")).st_mode)


def test_fifo_address_counts_as_absent(bfs):
    """A FIFO there is neither read nor waited on."""
    ns, bid = bfs.new_bundle()
    os.mkfifo(bfs.s(ns, bid, "address"))
    r = subprocess.run(["cat", bfs.m(ns, bid, "address")], capture_output=True, timeout=10)
    assert r.stdout == bfs.address(ns, bid).encode()


def test_write_address_with_shell(bfs):
    ns, bid = bfs.new_bundle()
    r = bfs.sh(f"printf 'unix:///x/y' > {q(ns)}/{q(bid)}/address")
    assert r.returncode == 0, r.stderr
    assert read_bytes(bfs.s(ns, bid, "address")) == b"unix:///x/y"
    assert read_bytes(bfs.m(ns, bid, "address")) == b"unix:///x/y"
    r = bfs.sh(f"echo -n abc > {q(ns)}/{q(bid)}/address")
    assert r.returncode == 0, r.stderr
    assert read_bytes(bfs.s(ns, bid, "address")) == b"abc"


def test_write_address_containerd_protocol(bfs):
    ns, bid = bfs.new_bundle()
    value = b"unix://" + bfs.socket_root.encode() + b"/s/" + b"ab" * 32
    tmp = bfs.m(ns, bid, ".address")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_SYNC, 0o666)
    assert os.write(fd, value) == len(value)
    os.close(fd)
    os.rename(tmp, bfs.m(ns, bid, "address"))
    assert read_bytes(bfs.s(ns, bid, "address")) == value
    assert not os.path.lexists(bfs.s(ns, bid, ".address"))
    assert not os.path.lexists(bfs.m(ns, bid, ".address"))
    assert read_bytes(bfs.m(ns, bid, "address")) == value
    assert os.stat(bfs.m(ns, bid, "address")).st_size == len(value)


def test_write_address_o_excl_on_existing_tmp(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.s(ns, bid, ".address"), "w") as f:
        f.write("left")
    assert errno_of(os.open, bfs.m(ns, bid, ".address"),
                    os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_SYNC, 0o666) == errno.EEXIST
    assert read_bytes(bfs.s(ns, bid, ".address")) == b"left"


def test_unlink_address_falls_back(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.m(ns, bid, "address"), "wb") as f:
        f.write(b"stored")
    assert read_bytes(bfs.m(ns, bid, "address")) == b"stored"
    os.unlink(bfs.m(ns, bid, "address"))
    assert not os.path.lexists(bfs.s(ns, bid, "address"))
    want = bfs.address(ns, bid).encode()
    assert read_bytes(bfs.m(ns, bid, "address")) == want
    assert os.stat(bfs.m(ns, bid, "address")).st_size == len(want)
    assert "address" in os.listdir(bfs.m(ns, bid))


def test_unlink_computed_address_changes_nothing(bfs):
    ns, bid = bfs.new_bundle()
    before = bfs.snapshot()
    e = errno_of(os.unlink, bfs.m(ns, bid, "address"))
    assert e in (errno.ENOENT, None)
    bfs.assert_unchanged(before)


# ------------------------------------------------------------- 4.1 st_size

def sizes_agree(path, cwd):
    data = read_bytes(path)
    st = os.stat(path)
    wc = subprocess.run(["sh", "-c", f"wc -c < {q(path)}"], capture_output=True, cwd=cwd)
    fd = os.open(path, os.O_RDONLY)
    try:
        fst = os.fstat(fd).st_size
        exact = os.read(fd, fst)       # a reader that trusts st_size
        more = os.read(fd, 65536)
    finally:
        os.close(fd)
    cat = subprocess.run(["cat", path], capture_output=True).stdout
    assert st.st_size == len(data) == int(wc.stdout) == fst == len(cat)
    assert exact == data == cat and more == b""
    return data


@pytest.mark.parametrize("name", ["address", "shim-config"])
def test_st_size_matches_content(bfs, name):
    ns, bid = bfs.new_bundle()
    sizes_agree(bfs.m(ns, bid, name), bfs.mnt)


def test_st_size_follows_writes_through_mount(bfs):
    ns, bid = bfs.new_bundle()
    p = bfs.m(ns, bid, "address")
    for value in (b"x" * 10, b"y" * 300, b"z", b"w" * 120):
        with open(p, "wb") as f:
            f.write(value)
        assert sizes_agree(p, bfs.mnt) == value
        r = bfs.sh(f"cp {q(p)} /dev/stdout")
        assert r.stdout == value
    os.unlink(p)
    assert sizes_agree(p, bfs.mnt) == bfs.address(ns, bid).encode()


def test_st_size_follows_store_changes(bfs):
    ns, bid = bfs.new_bundle()
    p = bfs.m(ns, bid, "address")
    computed = sizes_agree(p, bfs.mnt)
    with open(bfs.s(ns, bid, "address"), "wb") as f:
        f.write(b"short")
    time.sleep(1.1)
    assert sizes_agree(p, bfs.mnt) == b"short"
    with open(bfs.s(ns, bid, "address"), "wb") as f:
        f.write(b"a much longer stored address than before " * 4)
    time.sleep(1.1)
    assert sizes_agree(p, bfs.mnt) == b"a much longer stored address than before " * 4
    # same size, different bytes: never served stale from the page cache
    with open(bfs.s(ns, bid, "address"), "wb") as f:
        f.write(b"b much longer stored address than before " * 4)
    time.sleep(1.1)
    assert sizes_agree(p, bfs.mnt) == b"b much longer stored address than before " * 4
    os.unlink(bfs.s(ns, bid, "address"))
    time.sleep(1.1)
    assert sizes_agree(p, bfs.mnt) == computed


def test_st_size_shim_config_follows_runc_options(bfs):
    ns, bid = bfs.new_bundle()
    p = bfs.m(ns, bid, "shim-config")
    first = sizes_agree(p, bfs.mnt)
    with open(bfs.m(ns, bid, "runc-options"), "w") as f:
        f.write('{"criu_path":"/a/rather/long/path/to/criu/binary","systemd_cgroup":true}')
    second = sizes_agree(p, bfs.mnt)
    assert len(second) > len(first)
    assert b'"Criu":"/a/rather/long/path/to/criu/binary"' in second


def test_write_address_over_symlink_never_writes_target(bfs, tmp_path):
    """Writing address where the store holds a symlink never writes through it."""
    ns, bid = bfs.new_bundle()
    target = tmp_path / "target"
    target.write_bytes(b"outside")
    os.symlink(str(target), bfs.s(ns, bid, "address"))
    bfs.expect_log(rf"^bundlefs: {ns}/{bid}: ")
    e, _ = (None, None)
    try:
        with open(bfs.m(ns, bid, "address"), "wb") as f:
            f.write(b"unix:///new")
    except OSError as err:
        e = err.errno
    assert target.read_bytes() == b"outside"
    if e is None:
        assert read_bytes(bfs.s(ns, bid, "address")) == b"unix:///new"
        assert not os.path.islink(bfs.s(ns, bid, "address"))


def test_unlink_address_symlink_keeps_target(bfs, tmp_path):
    ns, bid = bfs.new_bundle()
    target = tmp_path / "target"
    target.write_bytes(b"outside")
    os.symlink(str(target), bfs.s(ns, bid, "address"))
    errno_of(os.unlink, bfs.m(ns, bid, "address"))
    assert target.read_bytes() == b"outside"
    assert read_bytes(bfs.m(ns, bid, "address")) == bfs.address(ns, bid).encode()
