# SPDX-License-Identifier: Apache-2.0
"""Long paths through the passthrough (SPEC 4.6): below a directory chain whose
path from the mount root is longer than PATH_MAX, a process whose working
directory is deep inside it uses relative paths up to PATH_MAX - 1 bytes, and
gets what the same chain in a plain directory of the backing store gives."""

import os
import shutil

from bfstest import read_bytes as read
from pt_helpers import outcome, stat_view, write

PATH_MAX = 4096
NAME = "d" * 250                  # one component of the chain
LEVELS = 20                       # 20 * 251 bytes: past PATH_MAX from any root


def relpath_of(length, tail_char):
    """A relative path of exactly length bytes: NAME components and one last
    component of tail_char."""
    k = (length - 1) // (len(NAME) + 1)
    while length - k * (len(NAME) + 1) > 255:
        k += 1
    last = length - k * (len(NAME) + 1)
    return "/".join([NAME] * k + [tail_char * last])


REL = relpath_of(PATH_MAX - 1, "f")
REL2 = relpath_of(PATH_MAX - 1, "g")
TOO_LONG = relpath_of(PATH_MAX, "f")


def _long_experiment(root):
    """Build the chain step by step from root, work below it, take it down
    step by step; the working directory is restored in every case."""
    old = os.getcwd()
    got = {}
    try:
        os.chdir(root)
        for _ in range(LEVELS):
            os.mkdir(NAME, 0o755)
            os.chdir(NAME)
        got["stat ."] = stat_view(os.stat("."))[:2]
        parent = os.path.dirname(REL)
        parts = parent.split("/")
        for i in range(1, len(parts) + 1):
            got[f"mkdir {i}"] = outcome(os.mkdir, "/".join(parts[:i]), 0o750)
        got["create"] = outcome(write, REL, b"deep data", 0o640)
        got["stat"] = outcome(lambda: stat_view(os.stat(REL)))
        got["read"] = outcome(read, REL)
        got["append"] = outcome(write, REL, b"+more", 0o640,
                                os.O_WRONLY | os.O_APPEND)
        got["chmod"] = outcome(os.chmod, REL, 0o600)
        got["utime"] = outcome(os.utime, REL, ns=(10**9, 2 * 10**9))
        got["stat2"] = outcome(lambda: stat_view(os.stat(REL), times=True))
        got["symlink"] = outcome(os.symlink, "x" * 200, REL2)
        got["readlink"] = outcome(os.readlink, REL2)
        got["unlink link"] = outcome(os.unlink, REL2)
        got["link"] = outcome(os.link, REL, REL2)
        got["nlink"] = outcome(lambda: os.stat(REL).st_nlink)
        got["unlink link2"] = outcome(os.unlink, REL2)
        got["rename"] = outcome(os.rename, REL, REL2)
        got["old name"] = outcome(os.stat, REL)
        got["listdir"] = outcome(lambda: sorted(os.listdir(parent)))
        got["read2"] = outcome(read, REL2)
        got["too long"] = outcome(os.stat, TOO_LONG)
        got["too long create"] = outcome(write, TOO_LONG, b"x")
        got["unlink"] = outcome(os.unlink, REL2)
        for i in range(len(parts), 0, -1):
            got[f"rmdir {i}"] = outcome(os.rmdir, "/".join(parts[:i]))
        for _ in range(LEVELS):
            os.chdir("..")
            os.rmdir(NAME)
    finally:
        os.chdir(old)
    return got


def _remove_chain(root):
    """shutil.rmtree works relative to descriptors, so a chain deeper than
    PATH_MAX goes too."""
    top = os.path.join(root, NAME)
    if os.path.lexists(top):
        shutil.rmtree(top)


def test_paths_longer_than_path_max(twin):
    assert len(REL) == PATH_MAX - 1 and len(TOO_LONG) == PATH_MAX
    try:
        got = twin.assert_same(_long_experiment)
    finally:
        _remove_chain(twin.s)
        _remove_chain(twin.o)
    assert got["read2"] == ("ok", b"deep data+more") and got["nlink"] == ("ok", 2)
    assert got["too long"] == ("err", "ENAMETOOLONG")
    twin.assert_daemon_alive()


def test_deep_cwd_relative_short_names(twin):
    """Short relative names from a working directory deeper than PATH_MAX."""
    def exp(root):
        old = os.getcwd()
        try:
            os.chdir(root)
            for _ in range(LEVELS):
                os.mkdir(NAME)
                os.chdir(NAME)
            got = [outcome(write, "f", b"x"), outcome(lambda: stat_view(os.stat("f"))),
                   outcome(os.rename, "f", "g"), outcome(os.listdir, "."),
                   outcome(os.mkdir, "sub"), outcome(write, "sub/h", b"y"),
                   outcome(read, "../" + NAME + "/sub/h"), outcome(os.unlink, "sub/h"),
                   outcome(os.rmdir, "sub"), outcome(os.unlink, "g")]
            for _ in range(LEVELS):
                os.chdir("..")
                os.rmdir(NAME)
            return got
        finally:
            os.chdir(old)

    try:
        got = twin.assert_same(exp)
    finally:
        _remove_chain(twin.s)
        _remove_chain(twin.o)
    assert got[0] == ("ok", None) and got[6] == ("ok", b"y")
