# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.2 and 5.2: config.json written with ordinary tools, atomic at close or
rename, validated as containerd's remappedGID does, and the bundle directory's
permissions applied."""

import errno
import json
import os
import re
import stat
import threading

import pytest

from bfs_helpers import VALID_SPEC as SPEC
from bfs_helpers import rejected_re
from bfstest import mode_of, q, read_bytes, write_through

SPEC2 = json.dumps({"ociVersion": "1.0.2", "hostname": "second"}) + "\n"


def assert_unchanged(m, before):
    m.assert_unchanged(before)


def cfg(bfs, ns, bid):
    return bfs.m(ns, bid, "config.json")


# ------------------------------------------------------------- writing tools

def test_write_with_cp(bfs, tmp_path):
    ns, bid = bfs.new_bundle()
    src = tmp_path / "spec.json"
    src.write_text(SPEC)
    r = bfs.sh(f"cp {q(src)} {q(ns)}/{q(bid)}/config.json")
    assert r.returncode == 0, r.stderr
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC.encode()
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()
    assert "config.json" in os.listdir(bfs.m(ns, bid))


def test_write_with_echo_redirect(bfs):
    ns, bid = bfs.new_bundle()
    r = bfs.sh(f"echo '{{\"ociVersion\":\"1.0.2\"}}' > {q(ns)}/{q(bid)}/config.json")
    assert r.returncode == 0, r.stderr
    assert read_bytes(bfs.s(ns, bid, "config.json")) == b'{"ociVersion":"1.0.2"}\n'


def test_shell_redirect_of_valid_content_logs_nothing(mount_bundlefs):
    """sh opens the file with O_TRUNC, dup2()s it onto stdout and closes the first
    descriptor before anything is written: that intermediate close must not count as a
    rejected write (the per-test log check fails on any 'rejected' line)."""
    m = mount_bundlefs()
    ns, bid = m.new_bundle()
    r = m.sh(f"echo '{{}}' > {q(ns)}/{q(bid)}/config.json")
    assert r.returncode == 0, r.stderr
    assert read_bytes(m.s(ns, bid, "config.json")) == b"{}\n"


def test_write_with_tee(bfs):
    ns, bid = bfs.new_bundle()
    r = bfs.sh(f"printf '%s' {q(SPEC)} | tee {q(ns)}/{q(bid)}/config.json >/dev/null")
    assert r.returncode == 0, r.stderr
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC.encode()


def test_write_with_python_open(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC.encode()


def test_rewrite_with_python_open(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC2)
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC2.encode()
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC2.encode()


def test_write_with_sed_in_place(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    r = bfs.sh(f"sed -i 's/1.0.2/1.1.0/' {q(ns)}/{q(bid)}/config.json")
    assert r.returncode == 0, r.stderr
    want = SPEC.replace("1.0.2", "1.1.0").encode()
    assert read_bytes(bfs.s(ns, bid, "config.json")) == want
    assert read_bytes(cfg(bfs, ns, bid)) == want
    assert sorted(os.listdir(bfs.s(ns, bid))) == ["config.json", "rootfs"]


def test_write_with_jq_tmp_and_mv(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    r = bfs.sh(f"cd {q(ns)}/{q(bid)} && jq -c '.hostname=\"h\"' config.json > tmp.json "
               "&& mv tmp.json config.json")
    assert r.returncode == 0, r.stderr
    got = json.loads(read_bytes(bfs.s(ns, bid, "config.json")))
    assert got["hostname"] == "h" and got["ociVersion"] == "1.0.2"
    assert not os.path.lexists(bfs.s(ns, bid, "tmp.json"))
    assert mode_of(bfs.s(ns, bid, "config.json")) == 0o644


def test_write_with_containerd_writefile_protocol(bfs):
    """A temporary file in the bundle renamed over config.json (first write)."""
    ns, bid = bfs.new_bundle()
    tmp = bfs.m(ns, bid, ".config.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.write(fd, SPEC.encode())
    os.close(fd)
    os.rename(tmp, cfg(bfs, ns, bid))
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC.encode()
    assert not os.path.lexists(bfs.s(ns, bid, ".config.json.tmp"))


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o000])
def test_stored_mode_0644_regardless_of_umask(bfs, umask):
    ns, bid = bfs.new_bundle()
    r = bfs.sh(f"umask {umask:03o}; echo '{{}}' > {q(ns)}/{q(bid)}/config.json")
    assert r.returncode == 0, r.stderr
    st = os.lstat(bfs.s(ns, bid, "config.json"))
    assert stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o644


def test_stored_mode_0644_after_rename_of_0600_temp(bfs):
    ns, bid = bfs.new_bundle()
    r = bfs.sh(f"cd {q(ns)}/{q(bid)} && umask 077 && echo '{{}}' > t.json && mv t.json config.json")
    assert r.returncode == 0, r.stderr
    assert mode_of(bfs.s(ns, bid, "config.json")) == 0o644


# ---------------------------------------------------------------- atomicity

def test_old_content_until_close(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    fd = os.open(cfg(bfs, ns, bid), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, SPEC2.encode())
        assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC.encode()
        assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()
    finally:
        os.close(fd)
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC2.encode()
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC2.encode()


def test_absent_until_close(bfs):
    ns, bid = bfs.new_bundle()
    fd = os.open(cfg(bfs, ns, bid), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.write(fd, SPEC.encode())
        assert not os.path.lexists(bfs.s(ns, bid, "config.json"))
    finally:
        os.close(fd)
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC.encode()


def test_concurrent_reader_sees_whole_files(bfs):
    ns, bid = bfs.new_bundle()
    a = (json.dumps({"ociVersion": "a", "pad": "A" * 70000}) + "\n").encode()
    b = (json.dumps({"ociVersion": "b", "pad": "B" * 30000, "x": [1] * 5000}) + "\n").encode()
    path = cfg(bfs, ns, bid)
    with open(path, "wb") as f:
        f.write(a)
    stop = threading.Event()
    bad = []
    reads = [0]

    def reader(p):
        while not stop.is_set():
            try:
                data = read_bytes(p)
            except OSError as e:
                bad.append(f"{p}: {e}")
                return
            reads[0] += 1
            if data not in (a, b):
                bad.append(f"{p}: torn read of {len(data)} bytes")
                return

    threads = [threading.Thread(target=reader, args=(p,))
               for p in (path, bfs.s(ns, bid, "config.json"))]
    for t in threads:
        t.start()
    try:
        for i in range(150):
            data = b if i % 2 == 0 else a
            if i % 3 == 0:
                with open(path, "wb") as f:       # O_TRUNC, several writes, close
                    for k in range(0, len(data), 4096):
                        f.write(data[k:k + 4096])
                        f.flush()
            else:
                assert write_through(path, data) == (None, None)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not bad, bad
    assert reads[0] > 0


# ------------------------------------------------------------ invalid content

def test_invalid_python_close_einval_absent_stays_absent(bfs):
    ns, bid = bfs.new_bundle()
    bfs.expect_log(rejected_re(ns, bid))
    before = bfs.snapshot()
    f = open(cfg(bfs, ns, bid), "wb")
    f.write(b"{")
    with pytest.raises(OSError) as ei:
        f.close()
    assert ei.value.errno == errno.EINVAL
    assert_unchanged(bfs, before)
    assert not os.path.exists(cfg(bfs, ns, bid))
    assert bfs.wait_log(rejected_re(ns, bid)), bfs.log_text()


def test_invalid_close_einval_previous_unchanged(bfs):
    ns, bid = bfs.new_bundle()
    bfs.expect_log(rejected_re(ns, bid))
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    before = bfs.snapshot()
    fd = os.open(cfg(bfs, ns, bid), os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b'{"linux":[]}')
    with pytest.raises(OSError) as ei:
        os.close(fd)
    assert ei.value.errno == errno.EINVAL
    assert_unchanged(bfs, before)
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()
    assert bfs.wait_log(rejected_re(ns, bid)), bfs.log_text()


@pytest.mark.parametrize("tool", ["echo", "cp", "tee", "truncate_only"])
def test_invalid_with_shell_tools_fails(bfs, tool, tmp_path):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    target = f"{q(ns)}/{q(bid)}/config.json"
    script = {
        "echo": f"/bin/echo '{{' > {target}",
        "cp": f"cp {q(bad)} {target}",
        "tee": f"tee {target} < {q(bad)} > /dev/null",
        "truncate_only": f"truncate -s 0 {target} && cat {target} > /dev/null",
    }[tool]
    bfs.expect_log(rejected_re(ns, bid))
    before = bfs.snapshot()
    r = bfs.sh(script)
    if tool == "truncate_only":
        # A bare truncate is a write of empty content: invalid; the file stays.
        pass
    else:
        assert r.returncode != 0, (script, r.stdout, r.stderr)
    assert_unchanged(bfs, before)
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()


def test_invalid_rename_over_config_einval(bfs):
    ns, bid = bfs.new_bundle()
    bfs.expect_log(rejected_re(ns, bid))
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    with open(bfs.m(ns, bid, "tmp.json"), "w") as f:
        f.write('{"linux":{"gidMappings":[{"hostID":"1"}]}}')
    before = bfs.snapshot()
    assert_errno = None
    try:
        os.rename(bfs.m(ns, bid, "tmp.json"), cfg(bfs, ns, bid))
    except OSError as e:
        assert_errno = e.errno
    assert assert_errno == errno.EINVAL
    assert_unchanged(bfs, before)
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()
    assert bfs.wait_log(rejected_re(ns, bid)), bfs.log_text()


def test_invalid_mv_over_absent_config(bfs):
    ns, bid = bfs.new_bundle()
    bfs.expect_log(rejected_re(ns, bid))
    bfs.sh(f"echo '[1,2]' > {q(ns)}/{q(bid)}/t.json", check=True)
    before = bfs.snapshot()
    r = bfs.sh(f"mv {q(ns)}/{q(bid)}/t.json {q(ns)}/{q(bid)}/config.json")
    assert r.returncode != 0
    assert_unchanged(bfs, before)
    assert not os.path.exists(cfg(bfs, ns, bid))
    assert bfs.wait_log(rejected_re(ns, bid)), bfs.log_text()


def test_sed_producing_invalid_content_fails(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    bfs.expect_log(rejected_re(ns, bid))
    before_cfg = read_bytes(bfs.s(ns, bid, "config.json"))
    r = bfs.sh(f"sed -i 's/{{/[/' {q(ns)}/{q(bid)}/config.json")
    assert r.returncode != 0
    assert read_bytes(bfs.s(ns, bid, "config.json")) == before_cfg
    assert mode_of(bfs.s(ns, bid, "config.json")) == 0o644


MIB16 = 16 * 1024 * 1024


def _padded(size):
    head, tail = b'{"pad":"', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_over_16mib_efbig(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    bfs.expect_log(rf"{re.escape(ns)}/{re.escape(bid)}: config\.json")
    before = read_bytes(bfs.s(ns, bid, "config.json"))
    e, _step = write_through(cfg(bfs, ns, bid), _padded(MIB16 + 1))
    assert e == errno.EFBIG
    assert read_bytes(bfs.s(ns, bid, "config.json")) == before
    assert read_bytes(cfg(bfs, ns, bid)) == before
    os.rmdir(bfs.m(ns, bid))


def test_exactly_16mib_accepted(bfs):
    ns, bid = bfs.new_bundle()
    data = _padded(MIB16)
    assert write_through(cfg(bfs, ns, bid), data) == (None, None)
    assert os.path.getsize(bfs.s(ns, bid, "config.json")) == MIB16
    assert read_bytes(bfs.s(ns, bid, "config.json")) == data
    os.rmdir(bfs.m(ns, bid))


# --------------------------------------------------------------- unlink

def test_unlink_config_changes_nothing(bfs):
    """unlink(2) of config.json releases the name to the unlinking process
    (test_tools.py has the rest): the store keeps the spec, and once that
    process is gone every process sees it as before."""
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    before = bfs.snapshot()
    r = bfs.sh(f"rm {q(ns)}/{q(bid)}/config.json")
    assert r.returncode == 0, r.stderr
    assert_unchanged(bfs, before)
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()


# ------------------------------------------------------- remapped GID (4.2)

def gid_spec(*mappings):
    return json.dumps({"ociVersion": "1.0.2", "linux": {"gidMappings": [
        {"containerID": c, "hostID": h, "size": s} for c, h, s in mappings]}})


def test_remapped_gid_applied(bfs):
    ns, bid = bfs.new_bundle()
    # A first spec without remapping (creating config.json changes the
    # directory in the kernel's own view), then the kernel holds the
    # bundle's attributes before the remapping write...
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    assert os.stat(bfs.m(ns, bid)).st_gid == 0
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(gid_spec((0, 1234, 65536)))
    st = os.lstat(bfs.s(ns, bid))
    assert st.st_gid == 1234
    assert stat.S_IMODE(st.st_mode) == 0o710
    assert st.st_uid == 0
    # the work dir and rootfs are not touched
    assert mode_of(bfs.w(ns, bid)) == 0o711 and os.lstat(bfs.w(ns, bid)).st_gid == 0
    assert mode_of(bfs.s(ns, bid, "rootfs")) == 0o711
    # ...and the mount reports the change at once, not after a cache window
    st2 = os.stat(bfs.m(ns, bid))
    assert st2.st_gid == 1234 and stat.S_IMODE(st2.st_mode) == 0o710


def test_remapped_gid_seen_after_a_close_that_is_not_the_last(mount_bundlefs):
    """The commit happens at close(2) (FUSE's FLUSH), and that is when the
    kernel's cached attributes of the bundle directory are dropped: not at
    the last close (RELEASE, which the kernel sends after close returns, and
    not at all while a duplicate descriptor is open), and not by the
    watcher (none here: watch_limit=0, where attributes are cached for
    half a second)."""
    m = mount_bundlefs(watch_limit="0")
    m.expect_log(r"^bundlefs: inotify watch limit reached")
    ns, bid = m.new_bundle()
    with open(cfg(m, ns, bid), "w") as f:
        f.write(SPEC)
    assert os.stat(m.m(ns, bid)).st_gid == 0
    fd = os.open(cfg(m, ns, bid), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, gid_spec((0, 1234, 65536)).encode())
        dup = os.dup(fd)
        os.close(fd)
        fd = dup
        assert os.lstat(m.s(ns, bid)).st_gid == 1234
        st = os.stat(m.m(ns, bid))
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 0o710)
    finally:
        os.close(fd)


def test_remapped_gid_via_rename(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.m(ns, bid, "t.json"), "w") as f:
        f.write(gid_spec((1, 100, 1), (0, 2345, 1)))
    assert os.stat(bfs.m(ns, bid)).st_gid == 0
    os.rename(bfs.m(ns, bid, "t.json"), cfg(bfs, ns, bid))
    st = os.lstat(bfs.s(ns, bid))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (2345, 0o710)
    st = os.stat(bfs.m(ns, bid))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (2345, 0o710)


@pytest.mark.parametrize("content", [
    gid_spec((0, 0, 65536)),
    gid_spec(),
    '{"ociVersion":"1.0.2"}',
    gid_spec((1, 1234, 1)),
])
def test_no_remap_leaves_dir_as_is(bfs, content):
    ns, bid = bfs.new_bundle()
    os.chmod(bfs.s(ns, bid), 0o750)  # whatever it is, it stays
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(content)
    st = os.lstat(bfs.s(ns, bid))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0o750)


def test_later_write_without_remap_keeps_previous_permissions(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(gid_spec((0, 3456, 1)))
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    st = os.lstat(bfs.s(ns, bid))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (3456, 0o710)


def test_rejected_write_does_not_remap(bfs):
    ns, bid = bfs.new_bundle()
    bfs.expect_log(rejected_re(ns, bid))
    before = bfs.snapshot()
    e, step = write_through(cfg(bfs, ns, bid), gid_spec((0, 4567, 1)) + " x")
    assert (e, step) == (errno.EINVAL, "close")
    assert_unchanged(bfs, before)


# --------------------------------------------------------------- 5.2 table

def deep(n, inner="[]"):
    """n nested arrays (depth n) around nothing."""
    return "[" * n + "]" * n


ACCEPT = {
    # name: (text, remapped gid or 0)
    "empty_object": ("{}", 0),
    "oci_spec": (SPEC, 0),
    "surrounding_whitespace": (" \n\t\r{}\n\t ", 0),
    "linux_null": ('{"linux":null}', 0),
    "linux_empty": ('{"linux":{}}', 0),
    "gidmappings_null": ('{"linux":{"gidMappings":null}}', 0),
    "gidmappings_empty": ('{"linux":{"gidMappings":[]}}', 0),
    "mapping_null": ('{"linux":{"gidMappings":[null]}}', 0),
    "remap": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1301,"size":65536}]}}', 1301),
    "upper_keys": ('{"LINUX":{"GIDMAPPINGS":[{"CONTAINERID":0,"HOSTID":1302,"SIZE":1}]}}', 1302),
    "go_keys": ('{"Linux":{"GIDMappings":[{"ContainerID":0,"HostID":1303,"Size":1}]}}', 1303),
    "mixed_case_keys": ('{"lInUx":{"GidMaPpInGs":[{"cOnTaInErId":0,"hOsTiD":1304}]}}', 1304),
    "first_cid0_wins": ('{"linux":{"gidMappings":[{"containerID":1,"hostID":9,"size":1},'
                        '{"containerID":0,"hostID":1305,"size":1},'
                        '{"containerID":0,"hostID":1399,"size":1}]}}', 1305),
    "no_cid0": ('{"linux":{"gidMappings":[{"containerID":1,"hostID":1306}]}}', 0),
    "cid_absent_is_zero": ('{"linux":{"gidMappings":[{"hostID":1307}]}}', 1307),
    "cid_null_is_zero": ('{"linux":{"gidMappings":[{"containerID":null,"hostID":1308}]}}',
                         1308),
    "host_null_is_zero": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":null}]}}', 0),
    "host_zero": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":0}]}}', 0),
    "max_size": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1309,'
                 '"size":4294967295}]}}', 1309),
    "unknown_keys_any_value": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1310,'
                               '"extra":[1,{"x":null},"s",true]}],"uidMappings":"x"},'
                               '"x":1e400,"y":-0.5e-3,"z":18446744073709551616}', 1310),
    "unknown_gid_mappings_spelling": ('{"linux":{"gid_mappings":[{"hostID":9}]}}', 0),
    "dup_linux_later_null": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1311}]},'
                             '"linux":null}', 0),
    "dup_linux_null_then_object": ('{"linux":null,"linux":{"gidMappings":'
                                   '[{"containerID":0,"hostID":1312}]}}', 1312),
    "dup_gidmappings_later_null": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":9}],'
                                   '"gidMappings":null}}', 0),
    "dup_hostid_later_wins": ('{"linux":{"gidMappings":[{"hostID":1,"hostID":1313}]}}', 1313),
    "dup_linux_object_merges": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1314}]},'
                                '"linux":{}}', 1314),
    "dup_array_reuses_element": ('{"linux":{"gidMappings":[{"containerID":5,"hostID":1315}]},'
                                 '"linux":{"gidMappings":[{"containerID":0}]}}', 1315),
    "dup_case_variants": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1}]},'
                          '"LINUX":{"GIDMAPPINGS":[{"HOSTID":1316}]}}', 1316),
    "escaped_key": ('{"li\\u006eux":{"gidMappings":[{"containerID":0,"hostID":1317}]}}', 1317),
    "long_s_folds_to_s": ('{"linux":{"gidMappings\u017f":[]},'
                          '"linux":{"gidMapping\u017f":[{"containerID":0,"hostID":1318}]}}',
                          1318),
    "string_escapes": ('{"x":"\\u00e9\\n\\"\\\\\\/\\b\\f\\r\\t\\ud83d\\ude00","y":"\u00e9"}', 0),
    "invalid_utf8_in_string": (b'{"x":"\xff\xfe"}', 0),
    "deep_10000_unknown": ('{"x":' + deep(9999) + "}", 0),
    "deep_objects": ('{"a":' * 5000 + "{}" + "}" * 5000, 0),
    "deep_in_mapping": ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1319,"x":'
                        + deep(9990) + "}]}}", 1319),
    "numbers_in_unknown": ('{"a":0,"b":-0,"c":1.5e+10,"d":1E-2,"e":123456789012345678901234}',
                           0),
}

REJECT = {
    "empty": "",
    "only_whitespace": " \n ",
    "null": "null",
    "null_whitespace": "  null\n",
    "array": "[]",
    "array_of_object": "[{}]",
    "number": "1",
    "string": '"x"',
    "true": "true",
    "unterminated": "{",
    "extra_close": "{}}",
    "two_values": "{} {}",
    "trailing_garbage": "{}x",
    "trailing_nul": "{}\0",
    "trailing_comma": '{"a":1,}',
    "trailing_comma_array": '{"a":[1,]}',
    "nan": '{"a":NaN}',
    "infinity": '{"a":Infinity}',
    "minus_infinity": '{"a":-Infinity}',
    "single_quoted_key": "{'a':1}",
    "single_quoted_value": "{\"a\":'x'}",
    "one_dot": '{"a":1.}',
    "leading_zero": '{"a":01}',
    "plus_sign": '{"a":+1}',
    "hex": '{"a":0x10}',
    "raw_control_char": '{"a":"\x01"}',
    "raw_tab_in_string": '{"a":"\t"}',
    "raw_newline_in_string": '{"a":"\n"}',
    "bad_escape": '{"a":"\\x41"}',
    "short_unicode_escape": '{"a":"\\u12"}',
    "block_comment": "{/* c */}",
    "line_comment": "{}\n// c\n",
    "bom": "\ufeff{}",
    "unquoted_key": "{a:1}",
    "missing_colon": '{"a" 1}',
    "linux_array": '{"linux":[]}',
    "linux_number": '{"linux":1}',
    "linux_string": '{"linux":"x"}',
    "linux_true": '{"linux":true}',
    "gidmappings_object": '{"linux":{"gidMappings":{}}}',
    "gidmappings_number": '{"linux":{"gidMappings":1}}',
    "gidmappings_string": '{"linux":{"gidMappings":"x"}}',
    "mapping_number": '{"linux":{"gidMappings":[1]}}',
    "mapping_array": '{"linux":{"gidMappings":[[]]}}',
    "mapping_string": '{"linux":{"gidMappings":["x"]}}',
    "mapping_bool": '{"linux":{"gidMappings":[false]}}',
    "later_bad_mapping": '{"linux":{"gidMappings":[{"containerID":0,"hostID":1},{"hostID":"x"}]}}',
    "dup_linux_later_bad": '{"linux":{"gidMappings":[{"containerID":0,"hostID":1}]},"linux":[]}',
    "case_variant_bad": '{"LiNuX":7}',
    "deep_unterminated": '{"x":' + "[" * 5000,
}

BAD_NUMBERS = ["1.0", "1e3", "1E3", "-1", "-0", "0.0", '"1000"', "true", "false", "[]", "{}",
               "4294967296", "18446744073709551616", "99999999999999999999", "0.5"]
for _field in ("containerID", "hostID", "size"):
    for _num in BAD_NUMBERS:
        REJECT[f"{_field}_{_num}"] = ('{"linux":{"gidMappings":[{"containerID":0,"hostID":1,'
                                      '"size":1,"%s":%s}]}}' % (_field, _num))


@pytest.mark.parametrize("case", sorted(ACCEPT))
def test_spec_table_accepted(bfs, case):
    text, gid = ACCEPT[case]
    data = text if isinstance(text, bytes) else text.encode()
    ns, bid = bfs.new_bundle()
    assert write_through(cfg(bfs, ns, bid), data) == (None, None)
    assert read_bytes(bfs.s(ns, bid, "config.json")) == data
    assert read_bytes(cfg(bfs, ns, bid)) == data
    st = os.lstat(bfs.s(ns, bid))
    if gid:
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (gid, 0o710)
    else:
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0o700)


@pytest.mark.parametrize("case", sorted(REJECT))
def test_spec_table_rejected(bfs, case):
    data = REJECT[case].encode()
    ns, bid = bfs.new_bundle()
    bfs.expect_log(rejected_re(ns, bid))
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    before = bfs.snapshot()
    assert write_through(cfg(bfs, ns, bid), data) == (errno.EINVAL, "close")
    assert_unchanged(bfs, before)
    assert read_bytes(cfg(bfs, ns, bid)) == SPEC.encode()
    assert bfs.wait_log(rejected_re(ns, bid)), bfs.log_text()


def test_hostid_4294967295_is_valid(bfs):
    """hostID 4294967295 is accepted: containerd's Chown(-1, 4294967295) leaves the group
    (it is the 'no change' value) and the Chmod makes it 0710."""
    ns, bid = bfs.new_bundle()
    data = b'{"linux":{"gidMappings":[{"containerID":0,"hostID":4294967295}]}}'
    assert write_through(cfg(bfs, ns, bid), data) == (None, None)
    st = os.lstat(bfs.s(ns, bid))
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0o710)


def test_rewrite_restores_mode_0644(bfs):
    ns, bid = bfs.new_bundle()
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC)
    os.chmod(bfs.s(ns, bid, "config.json"), 0o600)
    with open(cfg(bfs, ns, bid), "w") as f:
        f.write(SPEC2)
    assert mode_of(bfs.s(ns, bid, "config.json")) == 0o644
    assert read_bytes(bfs.s(ns, bid, "config.json")) == SPEC2.encode()


