# SPDX-License-Identifier: Apache-2.0
"""Helpers of the bundlefs black-box tests: the renderings bundlefs defines
itself (status, SPEC 4.9), a valid spec, the log line of a rejected write,
and set-ups that several test modules share. The daemon, its fixtures and
the renderings of containerd's Go code are common to every suite
(tests/common/bfstest.py, tests/common/gorender.py, tests/conftest.py)."""

import contextlib
import errno
import json
import os
import re
import subprocess

from bfstest import REPO, errno_of
from gorender import go_json_string


def project_version():
    text = (REPO / "CMakeLists.txt").read_text()
    m = re.search(r"project\(\s*bundlefs\s+VERSION\s+([0-9.]+)", text)
    return m.group(1)


# ------------------------------------------------------------------- status

def _json_scalar(v):
    if v is None:
        return "null"
    if v is True or v is False:
        return "true" if v else "false"
    return str(int(v))


def status_text(complete, address, listening, shim_pid, init_pid, running, old=False):
    """status as SPEC 4.9 describes it: one compact JSON object, keys in the
    spec's order, then one newline. listening and the pids may be None (null);
    stale is derived here: neither the shim listens nor init runs, and the
    bundle is complete or `old` (its directory last modified over 10 s ago)."""
    stale = (complete or old) and listening is not True and not running
    return ("{"
            f'"complete":{_json_scalar(complete)},'
            f'"shim":{{"address":{go_json_string(address)},'
            f'"listening":{_json_scalar(listening)},"pid":{_json_scalar(shim_pid)}}},'
            f'"init":{{"pid":{_json_scalar(init_pid)},"running":{_json_scalar(running)}}},'
            f'"stale":{_json_scalar(stale)}'
            "}\n").encode()


# ------------------------------------------------------------- config.json

# A valid spec (SPEC 5.2), as the shim tools write one.
VALID_SPEC = json.dumps({"ociVersion": "1.0.2", "process": {"args": ["sh"], "cwd": "/"},
                         "root": {"path": "rootfs"}}, indent=1) + "\n"


def rejected_re(ns, bid):
    """The log line of a rejected config.json write in bundle ns/bid (SPEC 5.3)."""
    return rf"^bundlefs: {re.escape(ns)}/{re.escape(bid)}: config\.json rejected: \S"


# ------------------------------------------------------------------ set-ups

def bundle_and_mount_source(m, tmp_path):
    """A new bundle on mount m whose rmdir is expected to be logged as not
    deleted, and tmp_path/src holding container-file ("must survive") to
    bind-mount into it: (ns, bid, src)."""
    ns, bid = m.new_bundle()
    m.expect_log(rf"^bundlefs: {ns}/{bid}: not deleted: ")
    src = tmp_path / "src"
    src.mkdir()
    (src / "container-file").write_text("must survive")
    return ns, bid, src


@contextlib.contextmanager
def rmdir_busy_while_mounted(m, ns, bid, src, target):
    """Bind-mount src (holding container-file, "must survive") on target, made if
    missing; rmdir of the bundle through mount m must then fail with EBUSY and
    change nothing. The body runs with the mount in place; it is unmounted after."""
    os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", "--bind", str(src), target], check=True)
    try:
        before = m.snapshot()
        assert errno_of(os.rmdir, m.m(ns, bid)) == errno.EBUSY
        m.assert_unchanged(before)
        assert (src / "container-file").read_text() == "must survive"
        yield
    finally:
        subprocess.run(["umount", target], check=True)
