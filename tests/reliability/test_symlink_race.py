# SPDX-License-Identifier: Apache-2.0
"""Symlink races (SPEC 5.5): while the daemon reads and deletes bundles,
another process keeps swapping backing entries for symlinks to files and
directories outside the store. The daemon must never read, modify or delete
anything outside the store.

The symlink targets are relative and the mountpoint sits deeper than the state
root, so a target resolves to the outside file only from the backing store;
resolved from the mount side (by the kernel, for a caller) it names a path
that does not exist. Seeing an outside file's content through the mount
therefore means the daemon itself followed the symlink."""

import errno
import hashlib
import json
import os
import time

from bfstest import write_through as write_file

DURATION = float(os.environ.get("BUNDLEFS_SYMLINK_RACE_SECONDS", "6"))
NS = "sym"
IDS = ["b0", "b1"]


def _digest_tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
        for n in dirnames:
            out[os.path.relpath(os.path.join(dirpath, n), root) + "/"] = "dir"
    return out


def _reader(st, secrets, deadline, result_path):
    """Reads through the mount and deletes/recreates bundles; records any
    secret seen and the errnos met."""
    seen, errs, reads, deletes = [], {}, 0, 0

    def check(what, data):
        for s in secrets:
            if s in data:
                seen.append(f"{what}: {data[:200]!r}")

    def note(e):
        name = errno.errorcode.get(e.errno, str(e.errno))
        errs[name] = errs.get(name, 0) + 1

    while time.monotonic() < deadline:
        for bid in IDS:
            for rel in ("address", "config.json", "rootfs/dir/file", "rootfs/dir/sub/f",
                        "shim-config"):
                try:
                    with open(st.m(NS, bid, rel), "rb") as f:
                        data = f.read()
                    reads += 1
                    check(f"{bid}/{rel}", data)
                except OSError as e:
                    note(e)
            try:
                for n in os.listdir(st.m(NS, bid, "rootfs", "dir")):
                    check(f"{bid}/rootfs/dir listing", n.encode())
            except OSError as e:
                note(e)
            try:
                os.rmdir(st.m(NS, bid))
                deletes += 1
            except OSError as e:
                note(e)
            try:
                os.mkdir(st.m(NS, bid))
            except OSError as e:
                note(e)
            try:
                write_file(st.m(NS, bid, "config.json"), b'{"ociVersion":"1.0.2"}')
                os.makedirs(st.m(NS, bid, "rootfs", "dir", "sub"), exist_ok=True)
                write_file(st.m(NS, bid, "rootfs", "dir", "file"), b"inside")
            except OSError as e:
                note(e)
    with open(result_path, "w") as f:
        json.dump({"seen": seen, "errnos": errs, "reads": reads, "deletes": deletes}, f)


def _swapper(st, deadline, result_path):
    """Replaces backing entries by symlinks to outside files, and back."""
    swaps = 0
    targets = [
        (("address",), "../../../secret_address"),
        (("config.json",), "../../../secret_config.json"),
        (("rootfs", "dir"), "../../../../secretdir"),
    ]
    while time.monotonic() < deadline:
        for bid in IDS:
            for parts, target in targets:
                p = st.s(NS, bid, *parts)
                tmp = st.s(NS, bid, *parts[:-1], ".swap-" + parts[-1])
                bak = st.s(NS, bid, *parts[:-1], ".orig-" + parts[-1])
                try:
                    os.symlink(target, tmp)
                    if os.path.lexists(p):
                        os.rename(p, bak)
                    os.rename(tmp, p)
                    swaps += 1
                except OSError:
                    pass
                try:
                    if os.path.lexists(tmp):
                        os.unlink(tmp)
                except OSError:
                    pass
            # The work dir too: a delete must remove the link, not its target.
            w = st.w(NS, bid)
            try:
                if os.path.isdir(w) and not os.path.islink(w):
                    os.rename(w, st.w(NS, ".orig-" + bid))
                os.symlink("../../secretdir", w)
                swaps += 1
            except OSError:
                pass
            time.sleep(0.001)
            for parts, _ in targets:
                p = st.s(NS, bid, *parts)
                bak = st.s(NS, bid, *parts[:-1], ".orig-" + parts[-1])
                try:
                    if os.path.lexists(bak):
                        os.rename(bak, p)
                except OSError:
                    pass
            try:
                if os.path.islink(w):
                    os.unlink(w)
                if os.path.lexists(st.w(NS, ".orig-" + bid)):
                    os.rename(st.w(NS, ".orig-" + bid), w)
            except OSError:
                pass
    with open(result_path, "w") as f:
        json.dump({"swaps": swaps}, f)


def test_symlink_swaps_never_escape(new_bundlefs):
    st = new_bundlefs(mnt_depth=3)
    st.expect_log(r"^bundlefs: sym/[.\w-]+: ")   # rejected writes, failed deletes
    st.start()
    secrets = [b"SECRET-ADDRESS-41d0", b"SECRET-CONFIG-9a7e", b"SECRET-DIR-FILE-55c2",
               b"SECRET-DIR-SUB-2b19", b"secret-name-7f3c"]
    with open(os.path.join(st.base, "secret_address"), "wb") as f:
        f.write(b"unix:///" + secrets[0])
    with open(os.path.join(st.base, "secret_config.json"), "wb") as f:
        f.write(b'{"ociVersion":"' + secrets[1] + b'"}')
    sd = os.path.join(st.base, "secretdir")
    os.makedirs(os.path.join(sd, "sub"))
    with open(os.path.join(sd, "file"), "wb") as f:
        f.write(secrets[2])
    with open(os.path.join(sd, "sub", "f"), "wb") as f:
        f.write(secrets[3])
    with open(os.path.join(sd, secrets[4].decode()), "wb") as f:
        f.write(b"x")
    outside = {"secret_address": None, "secret_config.json": None}
    for n in outside:
        with open(os.path.join(st.base, n), "rb") as f:
            outside[n] = hashlib.sha256(f.read()).hexdigest()
    tree_before = _digest_tree(sd)

    os.mkdir(st.m(NS))
    for bid in IDS:
        os.mkdir(st.m(NS, bid))
    deadline = time.monotonic() + DURATION
    rres = os.path.join(st.base, "reader.json")
    sres = os.path.join(st.base, "swapper.json")
    pids = []
    for fn, args in ((_reader, (st, secrets, deadline, rres)),
                     (_swapper, (st, deadline, sres))):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fn(*args)
            except BaseException:
                code = 1
            os._exit(code)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    assert codes == [0, 0], f"reader/swapper exit codes {codes}"
    with open(rres) as f:
        r = json.load(f)
    with open(sres) as f:
        s = json.load(f)
    print(f"symlink race: {DURATION}s, {r['reads']} reads, {r['deletes']} deletes, "
          f"{s['swaps']} swaps, errnos seen {r['errnos']}")
    assert st.proc.poll() is None, "the daemon died"
    os.listdir(st.mnt)
    assert not r["seen"], "outside content read through the mount:\n" + "\n".join(r["seen"][:20])
    for n, digest in outside.items():
        with open(os.path.join(st.base, n), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, f"{n} was modified"
    assert _digest_tree(sd) == tree_before, "the outside directory was modified"
    assert r["reads"] > 0 and r["deletes"] > 0 and s["swaps"] > 0
