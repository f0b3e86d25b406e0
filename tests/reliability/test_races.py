# SPDX-License-Identifier: Apache-2.0
"""Races between processes through one mount (SPEC 3.1, 3.2, 4.7, 5.4):
EEXIST and ENOENT stay exact, and no interleaving leaves a partial bundle or
a bundle in a namespace without its directories."""

import errno
import os
import stat

from bfstest import mode_of
from relhelpers import leftovers

TRIALS = int(os.environ.get("BUNDLEFS_RACE_TRIALS", "50"))
RACERS = 6


def race(actions):
    """Run each action (a callable raising OSError) in its own process, all
    released at once; return their errnos (0 for success) in order."""
    go_r, go_w = os.pipe()
    pids = []
    for act in actions:
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(go_w)
                os.read(go_r, 1)
                act()
            except OSError as e:
                code = e.errno
            except BaseException:
                code = 255
            os._exit(code)
        pids.append(pid)
    os.close(go_r)
    os.write(go_w, b"x" * len(actions))
    os.close(go_w)
    return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]


def bundle_whole(st, ns, bid):
    """Why S/ns/bid is not a whole bundle (SPEC 3.2), or []."""
    bad = []
    for path, mode in ((st.s(ns), 0o711), (st.w(ns), 0o711), (st.s(ns, bid), 0o700),
                       (st.s(ns, bid, "rootfs"), 0o711), (st.w(ns, bid), 0o711)):
        try:
            lst = os.lstat(path)
        except FileNotFoundError:
            bad.append(f"{path} is missing")
            continue
        if not stat.S_ISDIR(lst.st_mode):
            bad.append(f"{path} is not a directory")
        elif mode_of(path) != mode:
            bad.append(f"{path} has mode {mode_of(path):o}, not {mode:o}")
    return bad


def test_mkdir_same_id(new_bundlefs):
    st = new_bundlefs()
    st.start()
    os.mkdir(st.m("mk"))
    failures, counts = [], {}
    for t in range(TRIALS):
        bid = f"b{t}"
        res = race([lambda: os.mkdir(st.m("mk", bid))] * RACERS)
        key = tuple(sorted(res))
        counts[key] = counts.get(key, 0) + 1
        if sorted(res) != [0] + [errno.EEXIST] * (RACERS - 1):
            failures.append(f"trial {t}: results {res}")
        failures += [f"trial {t}: {b}" for b in bundle_whole(st, "mk", bid)]
    left = leftovers(st.state, st.work)
    print(f"mkdir race: {TRIALS} trials x {RACERS} processes: {counts}")
    assert not failures, "\n".join(failures[:30])
    assert not left, f"leftovers: {left}"
    assert sorted(os.listdir(st.m("mk"))) == sorted(f"b{t}" for t in range(TRIALS))


def test_rmdir_same_bundle(new_bundlefs):
    st = new_bundlefs()
    st.start()
    os.mkdir(st.m("rm"))
    failures, counts = [], {}
    for t in range(TRIALS):
        bid = f"b{t}"
        os.mkdir(st.m("rm", bid))
        with open(st.m("rm", bid, "config.json"), "w") as f:
            f.write('{"ociVersion":"1.0.2"}')
        os.mkdir(st.m("rm", bid, "rootfs", "etc"))
        with open(st.m("rm", bid, "rootfs", "etc", "hostname"), "w") as f:
            f.write("x" * 5000)
        res = race([lambda: os.rmdir(st.m("rm", bid))] * RACERS)
        key = tuple(sorted(res))
        counts[key] = counts.get(key, 0) + 1
        if sorted(res) != [0] + [errno.ENOENT] * (RACERS - 1):
            failures.append(f"trial {t}: results {res}")
        for p in (st.s("rm", bid), st.w("rm", bid), st.m("rm", bid)):
            if os.path.lexists(p):
                failures.append(f"trial {t}: {p} still exists")
    left = leftovers(st.state, st.work)
    print(f"rmdir race: {TRIALS} trials x {RACERS} processes: {counts}")
    assert not failures, "\n".join(failures[:30])
    assert not left, f"leftovers: {left}"
    assert os.listdir(st.m("rm")) == []


def test_namespace_rmdir_vs_bundle_mkdir(new_bundlefs):
    st = new_bundlefs()
    st.start()
    failures, counts = [], {"rmdir won": 0, "bundles won": 0}
    for t in range(TRIALS):
        ns = f"ns{t}"
        os.mkdir(st.m(ns))
        ids = [f"b{k}" for k in range(RACERS - 1)]
        # The rmdir goes in the middle so that it starts between the mkdirs.
        acts = [(lambda b=b: os.mkdir(st.m(ns, b))) for b in ids]
        mid = len(acts) // 2
        acts.insert(mid, lambda: os.rmdir(st.m(ns)))
        res = race(acts)
        rm = res.pop(mid)
        made = [b for b, r in zip(ids, res) if r == 0]
        if rm not in (0, errno.ENOTEMPTY):
            failures.append(f"trial {t}: rmdir {ns}: {errno.errorcode.get(rm, rm)}")
        for b, r in zip(ids, res):
            if r not in (0, errno.ENOENT):
                failures.append(f"trial {t}: mkdir {ns}/{b}: {errno.errorcode.get(r, r)}")
        if rm == 0:
            counts["rmdir won"] += 1
            if made:
                failures.append(f"trial {t}: rmdir {ns} succeeded and so did mkdir of {made}")
        elif not made:
            failures.append(f"trial {t}: rmdir {ns}: ENOTEMPTY, yet no mkdir succeeded")
        else:
            counts["bundles won"] += 1
        s_ns, w_ns = os.path.isdir(st.s(ns)), os.path.isdir(st.w(ns))
        if s_ns != w_ns:
            failures.append(f"trial {t}: S/{ns} exists: {s_ns}, W/{ns} exists: {w_ns}")
        visible = sorted(n for n in os.listdir(st.s(ns)) if not n.startswith(".")) \
            if s_ns else []
        if visible != sorted(made):
            failures.append(f"trial {t}: S/{ns} holds {visible}, mkdir succeeded for {made}")
        for b in visible:
            failures += [f"trial {t}: {x}" for x in bundle_whole(st, ns, b)]
    left = leftovers(st.state, st.work)
    print(f"namespace rmdir vs bundle mkdir: {TRIALS} trials, {counts}")
    assert not failures, "\n".join(failures[:30])
    assert not left, f"leftovers: {left}"
