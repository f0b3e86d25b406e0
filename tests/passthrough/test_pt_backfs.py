# SPDX-License-Identifier: Apache-2.0
"""The backing filesystem's own limits show through the mount (SPEC 4.6): a
write that a full filesystem takes only in part is short for the caller
too. Each experiment runs on a filesystem mounted in the store for it, once
through the mount and once on that filesystem directly, and the caller must
get the same results."""

import hashlib
import os

from pt_helpers import TwinOn, outcome, read

CHUNK = 64 * 1024


def test_short_write_on_a_full_filesystem(bfs):
    """A write larger than the room left: as many bytes as the filesystem
    took, not the size asked for; the next write fails with ENOSPC."""
    data = bytes(range(256)) * (3 * CHUNK // 256)

    def exp(root):
        path = os.path.join(root, "big")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            got = {"write": outcome(os.write, fd, data)}
            got["fstat"] = os.fstat(fd).st_size
            got["again"] = outcome(os.write, fd, b"more")
        finally:
            os.close(fd)
        got["stat"] = os.stat(path).st_size
        got["content"] = hashlib.sha256(read(path)).hexdigest()
        os.unlink(path)
        return got

    with TwinOn(bfs, "tmpfs", "size=%d" % CHUNK) as t:
        got = t.run(exp)
    assert got["mount"] == got["store"], got
    assert got["store"]["write"][0] == "ok" and 0 < got["store"]["write"][1] < len(data), got
