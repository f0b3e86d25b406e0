# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.4 (shim-config, computed, read-only) and 4.5 (runc-options, validated)."""

import errno
import json
import os
import re

import pytest

from bfstest import errno_of, q, read_bytes, wait_until, write_through
from gorender import go_join, shim_config_text

NODE_CRIU = "/usr/local/sbin/criu"
NODE_RR = "/run/node-runc"
NODE_BR = "/srv/b&r<o>ot/"    # exercises Go's HTML-safe escaping and Join's Clean


@pytest.fixture(scope="module")
def opts_mount(module_mount):
    return module_mount(criu=NODE_CRIU, runtime_root=NODE_RR, systemd_cgroup=True,
                        bundle_root=NODE_BR)


def expect(m, ns, bid, criu="", rr="", sd=False, bundle_root=None):
    return shim_config_text(go_join(bundle_root if bundle_root is not None else m.state, ns, bid),
                            ns, go_join(m.work, ns, bid), criu, rr, sd)


def assert_unchanged(m, before):
    m.assert_unchanged(before)


def ropts_re(ns, bid):
    return rf"^bundlefs: {re.escape(ns)}/{re.escape(bid)}: .*runc-options"


# ------------------------------------------------------------------ 4.4

def test_default_options(bfs):
    ns, bid = bfs.new_bundle()
    got = read_bytes(bfs.m(ns, bid, "shim-config"))
    assert got == expect(bfs, ns, bid)
    obj = json.loads(got)
    assert list(obj) == ["Path", "Namespace", "WorkDir", "Criu", "RuntimeRoot", "SystemdCgroup"]
    assert obj["SystemdCgroup"] is False
    assert got.endswith(b"}\n") and got.count(b"\n") == 1


def test_node_options(opts_mount):
    m = opts_mount
    ns, bid = m.new_bundle()
    got = read_bytes(m.m(ns, bid, "shim-config"))
    assert got == expect(m, ns, bid, NODE_CRIU, NODE_RR, True, NODE_BR)
    assert b'"Path":"/srv/b\\u0026r\\u003co\\u003eot/' in got


@pytest.mark.parametrize("option,value,field,fval", [
    ("criu", "/opt/criu", "Criu", "/opt/criu"),
    ("runtime_root", "/run/rr", "RuntimeRoot", "/run/rr"),
    ("systemd_cgroup", True, "SystemdCgroup", True),
    ("bundle_root", "/run/containerd/io.containerd.runtime.v1.linux", "Path", None),
])
def test_single_node_option(mount_bundlefs, option, value, field, fval):
    m = mount_bundlefs(**{option: value})
    ns, bid = m.new_bundle()
    kw = {"criu": "", "rr": "", "sd": False, "bundle_root": None}
    if option == "criu":
        kw["criu"] = value
    elif option == "runtime_root":
        kw["rr"] = value
    elif option == "systemd_cgroup":
        kw["sd"] = True
    else:
        kw["bundle_root"] = value
        fval = value + "/" + ns + "/" + bid
    got = read_bytes(m.m(ns, bid, "shim-config"))
    assert got == expect(m, ns, bid, **kw)
    assert json.loads(got)[field] == fval


# (runc-options text, expected Criu, RuntimeRoot, SystemdCgroup) on the options mount
ROPTS_CASES = {
    "empty_object": ("{}", "", NODE_RR, False),
    "criu_only": ('{"criu_path":"/c"}', "/c", NODE_RR, False),
    "systemd_true": ('{"systemd_cgroup":true}', "", NODE_RR, True),
    "runtime_root_empty": ('{"runtime_root":"","criu_path":"/c","systemd_cgroup":false}',
                           "/c", NODE_RR, False),
    "runtime_root_set": ('{"runtime_root":"/own/root","systemd_cgroup":true}', "", "/own/root",
                         True),
    "unknown_keys": ('{"runtime":"crun","other":[1,{"a":null}],"criu_path":"/k"}', "/k", NODE_RR,
                     False),
    "nulls_are_zero": ('{"criu_path":null,"runtime_root":null,"systemd_cgroup":null}', "",
                       NODE_RR, False),
    "escaped": ('{"criu_path":"/a\\"b<c>&\\n"}', '/a"b<c>&\n', NODE_RR, False),
}


@pytest.mark.parametrize("case", sorted(ROPTS_CASES))
def test_runc_options_feed_shim_config(opts_mount, case):
    m = opts_mount
    text, criu, rr, sd = ROPTS_CASES[case]
    ns, bid = m.new_bundle()
    assert write_through(m.m(ns, bid, "runc-options"), text) == (None, None)
    assert read_bytes(m.s(ns, bid, "runc-options")) == text.encode()
    got = read_bytes(m.m(ns, bid, "shim-config"))
    assert got == expect(m, ns, bid, criu, rr, sd, NODE_BR)
    assert os.stat(m.m(ns, bid, "shim-config")).st_size == len(got)


def test_runc_options_stored_in_backing_store_directly(opts_mount):
    m = opts_mount
    ns, bid = m.new_bundle()
    with open(m.s(ns, bid, "runc-options"), "w") as f:
        f.write('{"criu_path":"/direct","runtime_root":"/rr2"}')
    got = read_bytes(m.m(ns, bid, "shim-config"))
    assert got == expect(m, ns, bid, "/direct", "/rr2", False, NODE_BR)


def test_runc_options_symlink_never_followed(opts_mount, tmp_path):
    m = opts_mount
    ns, bid = m.new_bundle()
    target = tmp_path / "evil.json"
    target.write_text('{"criu_path":"/evil","systemd_cgroup":false,"runtime_root":"/evil"}')
    os.symlink(str(target), m.s(ns, bid, "runc-options"))
    got = read_bytes(m.m(ns, bid, "shim-config"))
    assert got == expect(m, ns, bid, NODE_CRIU, NODE_RR, True, NODE_BR)


def test_runc_options_unlink(opts_mount):
    m = opts_mount
    ns, bid = m.new_bundle()
    with open(m.m(ns, bid, "runc-options"), "w") as f:
        f.write('{"criu_path":"/c"}')
    assert read_bytes(m.m(ns, bid, "shim-config")) == expect(m, ns, bid, "/c", NODE_RR, False,
                                                              NODE_BR)
    r = m.sh(f"rm {q(ns)}/{q(bid)}/runc-options")
    assert r.returncode == 0, r.stderr
    assert not os.path.lexists(m.s(ns, bid, "runc-options"))
    assert not os.path.exists(m.m(ns, bid, "runc-options"))
    assert read_bytes(m.m(ns, bid, "shim-config")) == expect(m, ns, bid, NODE_CRIU, NODE_RR,
                                                              True, NODE_BR)


def test_runc_options_written_with_rename(opts_mount):
    m = opts_mount
    ns, bid = m.new_bundle()
    m.sh(f"cd {q(ns)}/{q(bid)} && echo '{{\"systemd_cgroup\":true}}' > t && mv t runc-options",
         check=True)
    assert read_bytes(m.s(ns, bid, "runc-options")) == b'{"systemd_cgroup":true}\n'
    assert not os.path.lexists(m.s(ns, bid, "t"))


def test_runc_options_atomic_until_close(opts_mount):
    m = opts_mount
    ns, bid = m.new_bundle()
    with open(m.m(ns, bid, "runc-options"), "w") as f:
        f.write('{"criu_path":"/old"}')
    fd = os.open(m.m(ns, bid, "runc-options"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b'{"criu_path":"/new"}')
        assert read_bytes(m.s(ns, bid, "runc-options")) == b'{"criu_path":"/old"}'
    finally:
        os.close(fd)
    assert read_bytes(m.s(ns, bid, "runc-options")) == b'{"criu_path":"/new"}'


ROPTS_INVALID = {
    "array": "[]",
    "null": "null",
    "number": "1",
    "string": '"x"',
    "empty": "",
    "truncated": '{"criu_path":"/c"',
    "trailing_comma": '{"criu_path":"/c",}',
    "single_quotes": "{'criu_path':'/c'}",
    "nan": '{"x":NaN}',
    "trailing_garbage": "{} x",
    "systemd_string": '{"systemd_cgroup":"true"}',
    "systemd_number": '{"systemd_cgroup":1}',
    "criu_number": '{"criu_path":1}',
    "criu_bool": '{"criu_path":true}',
    "runtime_bool": '{"runtime":true}',
    "runtime_root_array": '{"runtime_root":[]}',
    "runtime_root_object": '{"runtime_root":{}}',
    "raw_control": '{"criu_path":"a\x01b"}',
}


@pytest.mark.parametrize("case", sorted(ROPTS_INVALID))
def test_runc_options_invalid_einval(opts_mount, case):
    m = opts_mount
    ns, bid = m.new_bundle()
    m.expect_log(ropts_re(ns, bid))
    before = m.snapshot()
    assert write_through(m.m(ns, bid, "runc-options"), ROPTS_INVALID[case]) == \
        (errno.EINVAL, "close")
    assert_unchanged(m, before)
    assert wait_until(lambda: not os.path.exists(m.m(ns, bid, "runc-options")))
    assert read_bytes(m.m(ns, bid, "shim-config")) == expect(m, ns, bid, NODE_CRIU, NODE_RR,
                                                              True, NODE_BR)
    assert m.wait_log(ropts_re(ns, bid)), m.log_text()


def test_runc_options_invalid_keeps_previous(opts_mount):
    m = opts_mount
    ns, bid = m.new_bundle()
    with open(m.m(ns, bid, "runc-options"), "w") as f:
        f.write('{"criu_path":"/prev"}')
    m.expect_log(ropts_re(ns, bid))
    before = m.snapshot()
    assert write_through(m.m(ns, bid, "runc-options"), '{"criu_path":7}') == \
        (errno.EINVAL, "close")
    with open(m.m(ns, bid, "t"), "w") as f:
        f.write("[]")
    assert errno_of(os.rename, m.m(ns, bid, "t"), m.m(ns, bid, "runc-options")) == errno.EINVAL
    os.unlink(m.m(ns, bid, "t"))
    assert_unchanged(m, before)
    assert read_bytes(m.m(ns, bid, "runc-options")) == b'{"criu_path":"/prev"}'


# ------------------------------------------------------- read-only shim-config

def _ro_ops(p):
    return {
        "open_wronly": lambda: os.close(os.open(p, os.O_WRONLY)),
        "open_rdwr": lambda: os.close(os.open(p, os.O_RDWR)),
        "open_trunc": lambda: os.close(os.open(p, os.O_WRONLY | os.O_TRUNC)),
        "open_append": lambda: os.close(os.open(p, os.O_WRONLY | os.O_APPEND)),
        "truncate": lambda: os.truncate(p, 0),
        "truncate_grow": lambda: os.truncate(p, 10000),
    }


@pytest.mark.parametrize("op", sorted(_ro_ops("x")))
def test_shim_config_read_only(bfs, op):
    ns, bid = bfs.new_bundle()
    p = bfs.m(ns, bid, "shim-config")
    want = read_bytes(p)
    before = bfs.snapshot()
    e = errno_of(_ro_ops(p)[op])
    assert e in (errno.EPERM, errno.EACCES)
    assert_unchanged(bfs, before)
    assert read_bytes(p) == want
    assert not os.path.lexists(bfs.s(ns, bid, "shim-config"))


@pytest.mark.parametrize("script", [
    "echo x > {p}", "echo x >> {p}", ": > {p}", "truncate -s 0 {p}",
    "cp /etc/hostname {p}", "rm -f {p}",
])
def test_shim_config_read_only_shell(bfs, script):
    """Every change fails, but rm, which releases the name to its own
    process and changes nothing (SPEC 4.2, test_tools.py)."""
    ns, bid = bfs.new_bundle()
    p = bfs.m(ns, bid, "shim-config")
    want = read_bytes(p)
    before = bfs.snapshot()
    r = bfs.sh(script.format(p=q(p)))
    assert (r.returncode == 0) == script.startswith("rm "), r.stderr
    assert_unchanged(bfs, before)
    assert read_bytes(p) == want


def test_shim_config_rename_over_refused(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.m(ns, bid, "t"), "w") as f:
        f.write("{}")
    before = bfs.snapshot()
    assert errno_of(os.rename, bfs.m(ns, bid, "t"), bfs.m(ns, bid, "shim-config")) in \
        (errno.EPERM, errno.EACCES)
    assert_unchanged(bfs, before)

