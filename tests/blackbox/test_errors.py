# SPDX-License-Identifier: Apache-2.0
"""SPEC 5.3: every failure is an errno to the caller, bad input changes nothing on the
backing store, and the daemon keeps serving afterwards."""

import errno
import os
import re

from bfstest import errno_of, write_through


def test_bad_input_battery_then_still_serving(bfs):
    ns, bid = bfs.new_bundle()
    with open(bfs.m(ns, bid, "config.json"), "w") as f:
        f.write("{}")
    with open(bfs.m(ns, bid, "t"), "w") as f:
        f.write("[")
    bfs.expect_log(rf"^bundlefs: {re.escape(ns)}/{re.escape(bid)}: ")
    before = bfs.snapshot()
    cfg = bfs.m(ns, bid, "config.json")
    results = {
        "mkdir_bad_ns": errno_of(os.mkdir, bfs.m("a..b")),
        "mkdir_bad_id": errno_of(os.mkdir, bfs.m(ns, "-x")),
        "mkdir_existing": errno_of(os.mkdir, bfs.m(ns, bid)),
        "rmdir_ns_busy": errno_of(os.rmdir, bfs.m(ns)),
        "rename_ns": errno_of(os.rename, bfs.m(ns), bfs.m(ns + "x")),
        "rename_bundle": errno_of(os.rename, bfs.m(ns, bid), bfs.m(ns, bid + "x")),
        "write_bad_config": write_through(cfg, b"{,}")[0],
        "rename_bad_config": errno_of(os.rename, bfs.m(ns, bid, "t"), cfg),
        "write_bad_ropts": write_through(bfs.m(ns, bid, "runc-options"), b"[]")[0],
        "write_shim_config": errno_of(os.open, bfs.m(ns, bid, "shim-config"), os.O_WRONLY),
    }
    want = {
        "mkdir_bad_ns": {errno.EINVAL}, "mkdir_bad_id": {errno.EINVAL},
        "mkdir_existing": {errno.EEXIST}, "rmdir_ns_busy": {errno.ENOTEMPTY},
        "rename_ns": {errno.EPERM}, "rename_bundle": {errno.EPERM},
        "write_bad_config": {errno.EINVAL},
        "rename_bad_config": {errno.EINVAL}, "write_bad_ropts": {errno.EINVAL},
        "write_shim_config": {errno.EPERM, errno.EACCES},
    }
    wrong = {k: (errno.errorcode.get(v, v), sorted(errno.errorcode[x] for x in want[k]))
             for k, v in results.items() if v not in want[k]}
    assert not wrong, wrong
    bfs.assert_unchanged(before)
    # still serving
    assert bfs.alive()
    assert os.stat(bfs.m(ns, bid)).st_ino
    assert sorted(os.listdir(bfs.m(ns, bid))) == ["address", "config.json", "rootfs",
                                                  "shim-config", "status", "t"]
    assert open(bfs.m(ns, bid, "config.json")).read() == "{}"
    ns2, bid2 = bfs.new_bundle()
    assert os.path.isdir(bfs.s(ns2, bid2, "rootfs"))


def test_lookups_of_missing_entries_enoent(bfs):
    ns, bid = bfs.new_bundle()
    for p in (bfs.m("nonexistent"), bfs.m(ns, "nonexistent"), bfs.m(ns, bid, "nonexistent"),
              bfs.m(ns, bid, "config.json"), bfs.m(ns, bid, "runc-options")):
        assert errno_of(os.stat, p) == errno.ENOENT, p
    assert errno_of(os.rmdir, bfs.m(ns, "nonexistent")) == errno.ENOENT
    assert errno_of(os.rmdir, bfs.m("nonexistent")) == errno.ENOENT
    assert bfs.alive()
