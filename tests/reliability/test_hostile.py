# SPDX-License-Identifier: Apache-2.0
"""Hostile input (SPEC 5.1, 5.2, 5.3, 4.3, 4.7, 5.5): every bad input is
answered with its errno, the daemon keeps serving, and the backing store is
left exactly as it was."""

import errno
import os
import socket
import subprocess

import gorender
from bfstest import diff_snapshots, errno_of
from bfstest import read_bytes as read_file
from bfstest import write_through as write_file

MIB16 = 16 * 1024 * 1024
DAEMON_ADDRESS = "/run/containerd/containerd.sock"


def computed_address(socket_root, ns, bid):
    return gorender.computed_address(socket_root, DAEMON_ADDRESS, ns, bid)


def serving(st):
    """The daemon still answers: a listing and a computed file."""
    os.listdir(st.mnt)
    return st.proc.poll() is None


# ------------------------------------------------------------------ names

BAD_NAMES = [
    (b"a\nb", errno.EINVAL),
    (b"\n", errno.EINVAL),
    (b"x" * 256, errno.ENAMETOOLONG),
    (b"x" * 300, errno.ENAMETOOLONG),
    (b"x" * 255, errno.EINVAL),
    (b"a" * 77, errno.EINVAL),
    (b"a." + b"b" * 75, errno.EINVAL),
    (b".", errno.EEXIST),
    (b"..", errno.EEXIST),
    (b"-", errno.EINVAL),
    (b"-rf", errno.EINVAL),
    (b"--help", errno.EINVAL),
    (b"a-", errno.EINVAL),
    (b"a..b", errno.EINVAL),
    (b"a__b", errno.EINVAL),
    (b"_a", errno.EINVAL),
    (b".hidden", errno.EINVAL),
    (b".bundlefs-x", errno.EINVAL),
    (b"a b", errno.EINVAL),
    (b"a\tb", errno.EINVAL),
    (b"a\x01b", errno.EINVAL),
    (b"a\x7fb", errno.EINVAL),
    (b"\xff\xfe", errno.EINVAL),
    (b"ab\xc0\xaf", errno.EINVAL),
    (b"caf\xc3\xa9", errno.EINVAL),
    (b"a:b", errno.EINVAL),
    (b"a\\b", errno.EINVAL),
    (b"*", errno.EINVAL),
]


def test_hostile_names(new_bundlefs):
    st = new_bundlefs()
    st.start()
    os.mkdir(st.m("ns1"))
    mnt = os.fsencode(st.mnt)
    failures, tried = [], 0
    for name, want in BAD_NAMES:
        for parent in (mnt, os.path.join(mnt, b"ns1")):
            tried += 1
            before = st.snapshot()
            got = errno_of(os.mkdir, os.path.join(parent, name))
            if got != want:
                failures.append(f"mkdir {parent[len(mnt):] + b'/' + name!r}: "
                                f"{errno.errorcode.get(got, got)}, expected "
                                f"{errno.errorcode[want]}")
            if name not in (b".", b".."):
                got = errno_of(os.rmdir, os.path.join(parent, name))
                want_rm = errno.ENAMETOOLONG if len(name) > 255 else errno.ENOENT
                if got != want_rm:
                    failures.append(f"rmdir {parent[len(mnt):] + b'/' + name!r}: "
                                    f"{errno.errorcode.get(got, got)}, expected "
                                    f"{errno.errorcode[want_rm]}")
            after = st.settled_snapshot(before)
            if after != before:
                failures.append(f"{name!r} in {parent!r} changed the store:\n"
                                + diff_snapshots(before, after))
            assert serving(st)
    # The limits themselves are accepted (SPEC 5.1: at most 76 characters).
    for ok in (b"a" * 76, b"a." + b"b" * 74, b"A-b_c.9"):
        for parent in (mnt, os.path.join(mnt, b"ns1")):
            tried += 1
            got = errno_of(os.mkdir, os.path.join(parent, ok))
            if got is not None:
                failures.append(f"mkdir {ok!r} in {parent!r}: {errno.errorcode.get(got, got)}")
    print(f"hostile names: {tried} tried")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------- config.json

def nest(depth, opener="[", closer="]"):
    """An object whose deepest value sits at nesting depth `depth`
    (the object itself is depth 1)."""
    return b'{"a":' + opener.encode() * (depth - 1) + closer.encode() * (depth - 1) + b"}"


def nest_obj(depth):
    """`depth` nested objects."""
    return b'{"a":' * depth + b"1" + b"}" * depth


def gm(mapping_text):
    return b'{"linux":{"gidMappings":[' + mapping_text + b"]}}"


INVALID_CONFIGS = [
    ("empty", b""),
    ("white space only", b" \n\t"),
    ("binary garbage", bytes(range(256)) * 64),
    ("NUL bytes", b"\0" * 100),
    ("top-level null", b"null"),
    ("top-level null padded", b" null \n"),
    ("top-level array", b"[]"),
    ("top-level string", b'"x"'),
    ("top-level number", b"1"),
    ("top-level true", b"true"),
    ("two values", b"{} {}"),
    ("trailing garbage", b'{"a":1}x'),
    ("trailing invalid UTF-8", b'{"a":1}\xff'),
    ("byte order mark", b"\xef\xbb\xbf{}"),
    ("form feed after", b"{}\f"),
    ("vertical tab after", b"{}\v"),
    ("line comment", b'{"a":1} // c'),
    ("block comment", b'{/* c */"a":1}'),
    ("trailing comma object", b'{"a":1,}'),
    ("trailing comma array", b'{"a":[1,]}'),
    ("NaN", b'{"a":NaN}'),
    ("Infinity", b'{"a":Infinity}'),
    ("-Infinity", b'{"a":-Infinity}'),
    ("single quotes value", b"{\"a\":'x'}"),
    ("single quotes key", b"{'a':1}"),
    ("unquoted key", b"{a:1}"),
    ("1.", b'{"a":1.}'),
    (".5", b'{"a":.5}'),
    ("leading zero", b'{"a":01}'),
    ("plus sign", b'{"a":+1}'),
    ("hex", b'{"a":0x10}'),
    ("raw control char in string", b'{"a":"x\x01y"}'),
    ("raw newline in string", b'{"a":"x\ny"}'),
    ("raw tab in string", b'{"a":"x\ty"}'),
    ("bad escape", b'{"a":"\\x41"}'),
    ("short unicode escape", b'{"a":"\\u12"}'),
    ("unterminated string", b'{"a":"x}'),
    ("unterminated object", b'{"a":1'),
    ("missing colon", b'{"a" 1}'),
    ("True", b'{"a":True}'),
    ("nul literal", b'{"a":nul}'),
    ("depth 10001 arrays", nest(10001)),
    ("depth 10001 objects", nest_obj(10001)),
    ("depth 10001 under linux", b'{"linux":{"x":' + b"[" * 9999 + b"]" * 9999 + b"}}"),
    ("linux array", b'{"linux":[]}'),
    ("linux string", b'{"linux":"x"}'),
    ("linux number", b'{"linux":1}'),
    ("linux true", b'{"linux":true}'),
    ("LINUX array", b'{"LINUX":[]}'),
    ("escaped key linux", b'{"\\u006cinux":1}'),
    ("linux bad then good", b'{"linux":1,"linux":{}}'),
    ("gidMappings object", b'{"linux":{"gidMappings":{}}}'),
    ("gidMappings string", b'{"linux":{"gidMappings":"x"}}'),
    ("gidMappings number", b'{"linux":{"gidMappings":1}}'),
    ("gidmappings true", b'{"linux":{"gidmappings":true}}'),
    ("GIDMAPPINGS object", b'{"Linux":{"GIDMAPPINGS":{}}}'),
    ("gidMappings with long s (Go folds U+017F to s)",
     '{"linux":{"gidMapping\u017f":1}}'.encode()),
    ("mapping number", gm(b"1")),
    ("mapping string", gm(b'"x"')),
    ("mapping array", gm(b"[]")),
    ("mapping true", gm(b"true")),
    ("containerID 1.0", gm(b'{"containerID":1.0}')),
    ("containerID 1e3", gm(b'{"containerID":1e3}')),
    ("containerID 0e0", gm(b'{"containerID":0e0}')),
    ("containerID -1", gm(b'{"containerID":-1}')),
    ("containerID -0", gm(b'{"containerID":-0}')),
    ("containerID string", gm(b'{"containerID":"1000"}')),
    ("containerID true", gm(b'{"containerID":true}')),
    ("containerID 4294967296", gm(b'{"containerID":4294967296}')),
    ("containerID 1e400", gm(b'{"containerID":1e400}')),
    ("containerID 99999999999999999999", gm(b'{"containerID":99999999999999999999}')),
    ("containerID 18446744073709551616", gm(b'{"containerID":18446744073709551616}')),
    ("hostID -1", gm(b'{"containerID":0,"hostID":-1}')),
    ("hostID 1e400", gm(b'{"hostID":1e400}')),
    ("HOSTID 4294967296", gm(b'{"HOSTID":4294967296}')),
    ("size 1.5", gm(b'{"size":1.5}')),
    ("size object", gm(b'{"size":{}}')),
    ("containerid array", gm(b'{"containerid":[]}')),
    ("second mapping bad", gm(b'{"containerID":0,"hostID":5},{"size":-1}')),
    ("good then bad duplicate", gm(b'{"hostID":5,"hostID":"5"}')),
]

VALID_CONFIGS = [
    ("empty object", b"{}"),
    ("white space around", b" \t\r\n{}\n\r\t "),
    ("depth 10000 arrays", nest(10000)),
    ("depth 10000 objects", nest_obj(10000)),
    ("depth 10000 under linux", b'{"linux":{"x":' + b"[" * 9998 + b"]" * 9998 + b"}}"),
    ("unknown key 1e400", b'{"x":1e400}'),
    ("unknown key huge integer", b'{"x":99999999999999999999}'),
    ("unknown key -0 and 1E+2", b'{"x":[-0,1E+2,0.5e-3]}'),
    ("unknown keys anything", b'{"process":{"args":["sh"]},"x":[null,true,{"y":[]}]}'),
    ("unknown linux key with bad mapping", b'{"linux":{"uidMappings":[{"containerID":1e400}]}}'),
    ("invalid UTF-8 in string", b'{"x":"\xff\xfe\xc0\xaf"}'),
    ("invalid UTF-8 in key", b'{"\xff":1}'),
    ("lone surrogate escape", b'{"x":"\\ud800"}'),
    ("escaped NUL", b'{"x":"\\u0000"}'),
    ("raw DEL in string", b'{"x":"\x7f"}'),
    ("linux null", b'{"linux":null}'),
    ("gidMappings null", b'{"linux":{"gidMappings":null}}'),
    ("gidMappings empty", b'{"linux":{"gidMappings":[]}}'),
    ("mapping null", gm(b"null")),
    ("numbers null", gm(b'{"containerID":null,"hostID":null,"size":null}')),
    ("limits", gm(b'{"containerID":4294967295,"hostID":0,"size":4294967295}')),
    ("good then null duplicate", gm(b'{"hostID":5,"hostID":null}')),
    ("later linux wins", b'{"linux":{"gidMappings":[{"containerID":0,"hostID":7}]},"linux":null}'),
    ("16 MiB exactly", b"{}" + b" " * (MIB16 - 2)),
]


def test_hostile_config_json(new_bundlefs):
    st = new_bundlefs()
    st.expect_log(r"^bundlefs: hostile/b: config\.json rejected: ")
    st.start()
    os.mkdir(st.m("hostile"))
    os.mkdir(st.m("hostile", "b"))
    cfg = st.m("hostile", "b", "config.json")
    prev = b'{"ociVersion":"1.0.2"}'
    assert write_file(cfg, prev) == (None, None)
    failures, tried = [], 0
    for what, data in INVALID_CONFIGS:
        tried += 1
        before = st.snapshot()
        err, step = write_file(cfg, data)
        if err != errno.EINVAL:
            failures.append(f"{what}: {errno.errorcode.get(err, err)} at {step}, "
                            "expected EINVAL at close")
        after = st.settled_snapshot(before)
        if after != before:
            failures.append(f"{what}: the store changed:\n" + diff_snapshots(before, after))
            write_file(cfg, prev)
        if read_file(cfg) != prev:
            failures.append(f"{what}: config.json reads differently afterwards")
        assert serving(st), f"daemon gone after {what}"
    # Over 16 MiB: EFBIG (at a write or at close), nothing changed.
    for what, data in (("16 MiB + 1 byte", b"{}" + b" " * (MIB16 - 1)),
                       ("17 MiB of garbage", b"\x00" * (MIB16 + 1024 * 1024))):
        tried += 1
        before = st.snapshot()
        err, step = write_file(cfg, data)
        if err != errno.EFBIG:
            failures.append(f"{what}: {errno.errorcode.get(err, err)} at {step}, "
                            "expected EFBIG")
        after = st.settled_snapshot(before)
        if after != before:
            failures.append(f"{what}: the store changed:\n" + diff_snapshots(before, after))
        assert serving(st)
    for what, data in VALID_CONFIGS:
        tried += 1
        err, step = write_file(cfg, data)
        if err is not None:
            failures.append(f"{what}: {errno.errorcode.get(err, err)} at {step}, expected success")
        elif read_file(st.s("hostile", "b", "config.json")) != data:
            failures.append(f"{what}: stored config.json differs from what was written")
        assert serving(st)
    print(f"hostile config.json: {tried} inputs tried")
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------- address

def test_address_symlink_to_secret(new_bundlefs):
    st = new_bundlefs()
    st.start()
    os.mkdir(st.m("ns1"))
    os.mkdir(st.m("ns1", "b"))
    secret = os.path.join(st.base, "secret")
    with open(secret, "wb") as f:
        f.write(b"unix:///SECRET-ADDRESS-do-not-reveal")
    want = computed_address(st.socket_root, "ns1", "b").encode()
    failures = []
    for kind in ("absolute symlink", "relative symlink", "directory", "fifo"):
        p = st.s("ns1", "b", "address")
        if kind == "absolute symlink":
            os.symlink(secret, p)
        elif kind == "relative symlink":
            os.symlink("../../../secret", p)
        elif kind == "directory":
            os.mkdir(p)
        else:
            os.mkfifo(p)
        before = st.snapshot()
        got = read_file(st.m("ns1", "b", "address"))
        size = os.stat(st.m("ns1", "b", "address")).st_size
        if got != want:
            failures.append(f"address as {kind}: read {got!r}, expected {want!r}")
        if size != len(got):
            failures.append(f"address as {kind}: st_size {size}, read {len(got)} bytes")
        if st.settled_snapshot(before) != before:
            failures.append(f"address as {kind}: reading changed the store")
        if os.path.isdir(p) and not os.path.islink(p):
            os.rmdir(p)
        else:
            os.unlink(p)
    assert read_file(secret) == b"unix:///SECRET-ADDRESS-do-not-reveal"
    assert not failures, "\n".join(failures)


def _unix_socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()


def test_stored_address_targets_not_removed(new_bundlefs):
    """rmdir removes the shim socket a stored address names only if it is a
    unix socket in <socket_root>/s/, never another kind of file, never
    through a symlink, never outside s/ (SPEC 4.7 step 2)."""
    st = new_bundlefs()
    st.start()
    os.mkdir(st.m("ns1"))
    sdir = os.path.join(st.socket_root, "s")
    outside = os.path.join(st.base, "outside")
    os.mkdir(outside)
    with open(os.path.join(sdir, "regular"), "w") as f:
        f.write("keep me")
    os.mkdir(os.path.join(sdir, "dir"))
    with open(os.path.join(sdir, "dir", "f"), "w") as f:
        f.write("keep me too")
    _unix_socket(os.path.join(outside, "victim.sock"))
    os.symlink(os.path.join(outside, "victim.sock"), os.path.join(sdir, "link"))
    os.symlink(outside, os.path.join(sdir, "linkdir"))
    os.mkfifo(os.path.join(sdir, "fifo"))
    cases = {
        "regular": sdir + "/regular",
        "dir": sdir + "/dir",
        "dirslash": sdir + "/dir/",
        "link": sdir + "/link",
        "linkdir": sdir + "/linkdir/victim.sock",
        "fifo": sdir + "/fifo",
        "dotdot": sdir + "/../../outside/victim.sock",
        "outside": outside + "/victim.sock",
    }
    failures = []
    for bid, target in cases.items():
        os.mkdir(st.m("ns1", bid))
        assert write_file(st.m("ns1", bid, "address"), "unix://" + target) == (None, None)
        before = {k: v for k, v in st.snapshot().items() if k[0] == 2}
        got = errno_of(os.rmdir, st.m("ns1", bid))
        if got is not None:
            failures.append(f"rmdir with address {target}: {errno.errorcode.get(got, got)}")
        after = {k: v for k, v in st.snapshot().items() if k[0] == 2}
        if after != before:
            failures.append(f"address {target}: socket_root changed:\n"
                            + diff_snapshots(before, after))
        if not os.path.exists(os.path.join(outside, "victim.sock")):
            failures.append(f"address {target}: the socket outside s/ was removed")
            _unix_socket(os.path.join(outside, "victim.sock"))
    # The control: a real socket in s/ named by the stored address goes.
    os.mkdir(st.m("ns1", "real"))
    _unix_socket(os.path.join(sdir, "shim.sock"))
    assert write_file(st.m("ns1", "real", "address"), "unix://" + sdir + "/shim.sock") \
        == (None, None)
    os.rmdir(st.m("ns1", "real"))
    if os.path.lexists(os.path.join(sdir, "shim.sock")):
        failures.append("the shim socket a stored address names was not removed")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------- mounts

def _bind(src, dst):
    subprocess.run(["mount", "--bind", src, dst], check=True)


def _umount(dst):
    subprocess.run(["umount", dst], check=True)


def test_rmdir_refuses_bundle_with_mount_inside(new_bundlefs):
    st = new_bundlefs()
    st.expect_log(r"^bundlefs: ns1/b\d: not deleted: a file system is mounted inside it$")
    st.start()
    os.mkdir(st.m("ns1"))
    src = os.path.join(st.base, "bindsrc")
    os.mkdir(src)
    with open(os.path.join(src, "precious"), "w") as f:
        f.write("container data")
    places = {
        "b1": lambda: st.s("ns1", "b1", "rootfs"),
        "b2": lambda: st.s("ns1", "b2", "rootfs", "sub", "deeper"),
        "b3": lambda: st.w("ns1", "b3", "sub"),
        "b4": lambda: st.m("ns1", "b4", "rootfs"),
        "b5": lambda: st.m("ns1", "b5", "rootfs", "sub"),
    }
    failures = []
    for bid, where in places.items():
        os.mkdir(st.m("ns1", bid))
        assert write_file(st.m("ns1", bid, "config.json"), "{}") == (None, None)
        dst = where()
        os.makedirs(dst, exist_ok=True)
        _bind(src, dst)
        try:
            before = st.snapshot()
            got = errno_of(os.rmdir, st.m("ns1", bid))
            if got != errno.EBUSY:
                failures.append(f"rmdir {bid} (mount at {dst}): "
                                f"{errno.errorcode.get(got, got)}, expected EBUSY")
            after = st.settled_snapshot(before)
            if after != before:
                failures.append(f"{bid}: the store changed:\n" + diff_snapshots(before, after))
            if read_file(os.path.join(dst, "precious")) != b"container data":
                failures.append(f"{bid}: mounted content damaged")
            assert serving(st)
        finally:
            _umount(dst)
        got = errno_of(os.rmdir, st.m("ns1", bid))
        if got is not None:
            failures.append(f"rmdir {bid} after the unmount: {errno.errorcode.get(got, got)}")
        if os.path.lexists(st.s("ns1", bid)) or os.path.lexists(st.w("ns1", bid)):
            failures.append(f"{bid}: still in the store after rmdir")
        if read_file(os.path.join(src, "precious")) != b"container data":
            failures.append(f"{bid}: the bind source was damaged")
    assert not failures, "\n".join(failures)
