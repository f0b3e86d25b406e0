# SPDX-License-Identifier: Apache-2.0
"""SPEC 4.1, 4.2: a rejected config.json write leaves nothing behind once its
close(2) has failed, so the user's next write, made at once, succeeds; the
kernel never reports the rejected file in between."""

import errno
import os

import pytest

from bfs_helpers import VALID_SPEC, rejected_re
from bfstest import q, read_bytes


def _staging_files(m, ns, bid):
    return [os.path.join(d, n) for d in (m.s(ns), m.s(ns, bid)) for n in os.listdir(d)
            if n.startswith(".bundlefs-")]


@pytest.mark.parametrize("earlier", [False, True], ids=["absent", "previous"])
def test_cp_bad_then_good_at_once(bfs, tmp_path, earlier):
    ns, bid = bfs.new_bundle()
    cfg = bfs.m(ns, bid, "config.json")
    if earlier:
        with open(cfg, "w") as f:
            f.write(VALID_SPEC)
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text("{ not json")
    good.write_text(VALID_SPEC.replace('"sh"', '"true"'))
    bfs.expect_log(rejected_re(ns, bid))
    target = f"{q(ns)}/{q(bid)}/config.json"
    r = bfs.sh(f"cp {q(bad)} {target}")
    assert r.returncode != 0 and b"Invalid argument" in r.stderr, r
    # No sleep: the rejected file is gone (or the previous one back) at once.
    if earlier:
        assert read_bytes(cfg) == VALID_SPEC.encode()
    else:
        with pytest.raises(FileNotFoundError):
            os.stat(cfg)
        assert not os.path.lexists(bfs.s(ns, bid, "config.json"))
    assert _staging_files(bfs, ns, bid) == []
    r = bfs.sh(f"cp {q(good)} {target}")
    assert r.returncode == 0, r
    assert read_bytes(cfg) == good.read_bytes() == read_bytes(bfs.s(ns, bid, "config.json"))
    assert os.stat(cfg).st_size == len(good.read_bytes())


def _empty_truncating_close_fails(bfs, ns, bid, cfg):
    """open(O_WRONLY|O_CREAT|O_TRUNC), nothing written: the close fails with
    EINVAL, is logged as a rejection and leaves no staging file."""
    bfs.expect_log(rejected_re(ns, bid))
    fd = os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with pytest.raises(OSError) as ei:
        os.close(fd)
    assert ei.value.errno == errno.EINVAL
    assert _staging_files(bfs, ns, bid) == []


def test_empty_truncating_open_fails_at_close_and_leaves_nothing(bfs):
    """`: > config.json`: open(O_WRONLY|O_CREAT|O_TRUNC), nothing written, close."""
    ns, bid = bfs.new_bundle()
    cfg = bfs.m(ns, bid, "config.json")
    _empty_truncating_close_fails(bfs, ns, bid, cfg)
    assert not os.path.lexists(bfs.s(ns, bid, "config.json"))
    with pytest.raises(FileNotFoundError):
        os.stat(cfg)
    # The shell's form (sh does not report close errors), then a good write at once.
    bfs.sh(f": > {q(ns)}/{q(bid)}/config.json")
    assert _staging_files(bfs, ns, bid) == []
    with open(cfg, "w") as f:
        f.write(VALID_SPEC)
    assert read_bytes(bfs.s(ns, bid, "config.json")) == VALID_SPEC.encode()


def test_empty_truncating_open_keeps_previous(bfs):
    ns, bid = bfs.new_bundle()
    cfg = bfs.m(ns, bid, "config.json")
    with open(cfg, "w") as f:
        f.write(VALID_SPEC)
    _empty_truncating_close_fails(bfs, ns, bid, cfg)
    assert read_bytes(cfg) == VALID_SPEC.encode()
    assert os.stat(cfg).st_size == len(VALID_SPEC.encode())
