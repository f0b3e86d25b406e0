# SPDX-License-Identifier: Apache-2.0
"""Crash safety (SPEC 5.4): writers create, rewrite and delete bundles through
the mount while the daemon is killed with SIGKILL at random moments; after
each restart on the same (stale) mountpoint the store holds only whole
bundles, no leftovers, and everything a completed call reported as done.
The storm runs on a v1 and on a runtime=v2 mount (SPEC 7.1: a v2 bundle is
whole with its work link too); the v2 writers also store `address`."""

import errno
import os
import random
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bfstest import mode_of, mounts_below, ring_offered
from bfstest import read_bytes as read_file
from gorender import go_join
from relhelpers import address_version, config_tag, config_version, leftovers

HERE = Path(__file__).resolve().parent
CYCLES = int(os.environ.get("BUNDLEFS_CRASH_CYCLES", "15"))
# The v2 run repeats what v1 covers but for the v2 skeleton: fewer cycles.
CYCLES_V2 = int(os.environ.get("BUNDLEFS_CRASH_CYCLES_V2", "8"))
WRITERS = 3
POOL = 10
# What a call in flight sees when the daemon dies under it.
CRASH_ERRNOS = {errno.ENOTCONN, errno.ECONNABORTED}
# Seconds between the crash and the restart. 0, as a supervisor restarting at
# once would; a larger value lets the kernel's attribute cache of the stale
# mount expire first (for telling failures apart while investigating).
RESTART_DELAY = float(os.environ.get("BUNDLEFS_CRASH_RESTART_DELAY", "0"))

ABSENT, NO_CONFIG = None, ""


def crash_errnos():
    """CRASH_ERRNOS, and over FUSE over io_uring (fs/ring.h; the fuse module's
    enable_uring set) ECANCELED: the kernel's answer for a request it had
    handed to a thread of the killed daemon (its task is dead)."""
    return CRASH_ERRNOS | ({errno.ECANCELED} if ring_offered() else set())


def v2_problems(st, ns, name, tags):
    """How the v2 parts of visible bundle `name` are not whole: its work link
    (SPEC 7.1), and its address, if stored, being no version written."""
    bad = []
    link = st.s(ns, name, "work")
    if not os.path.islink(link):
        bad.append(f"{name}: no work link")
    elif os.readlink(link) != go_join(st.work, ns, name):
        bad.append(f"{name}: work -> {os.readlink(link)}, not W/{ns}/{name}")
    addr = st.s(ns, name, "address")
    if os.path.lexists(addr):
        data = read_file(addr) if stat.S_ISREG(os.lstat(addr).st_mode) else None
        if data not in {address_version(name, t) for t in tags.get(name, ())}:
            bad.append(f"{name}: address {data!r} is no version written (torn?)")
    return bad


def actual_state(st, ns, v2_tags=None):
    """{id: ABSENT | NO_CONFIG | tag} from the backing store, and a list of
    every way a visible bundle is not whole; with v2_tags (the tags written
    so far per id) the v2 parts are checked too."""
    bad = []
    states = {}
    for name in sorted(os.listdir(st.s(ns))):
        p = st.s(ns, name)
        lst = os.lstat(p)
        if name.startswith("."):
            continue            # reported by leftovers()
        if not stat.S_ISDIR(lst.st_mode):
            bad.append(f"{name}: not a directory in S/{ns}")
            continue
        if mode_of(p) != 0o700:
            bad.append(f"{name}: S/{ns}/{name} mode {mode_of(p):o}, not 700")
        if not os.path.isdir(st.s(ns, name, "rootfs")) or os.path.islink(
                st.s(ns, name, "rootfs")):
            bad.append(f"{name}: no rootfs/ directory")
        elif mode_of(st.s(ns, name, "rootfs")) != 0o711:
            bad.append(f"{name}: rootfs mode {mode_of(st.s(ns, name, 'rootfs')):o}, not 711")
        wp = st.w(ns, name)
        if not os.path.isdir(wp) or os.path.islink(wp):
            bad.append(f"{name}: no work directory W/{ns}/{name}")
        elif mode_of(wp) != 0o711:
            bad.append(f"{name}: W/{ns}/{name} mode {mode_of(wp):o}, not 711")
        if v2_tags is not None:
            bad += v2_problems(st, ns, name, v2_tags)
        cfg = st.s(ns, name, "config.json")
        if not os.path.lexists(cfg):
            states[name] = NO_CONFIG
            continue
        if not stat.S_ISREG(os.lstat(cfg).st_mode):
            bad.append(f"{name}: config.json is not a regular file")
            continue
        if mode_of(cfg) != 0o644:
            bad.append(f"{name}: config.json mode {mode_of(cfg):o}, not 644")
        data = read_file(cfg)
        t = config_tag(data)
        if t is None or t[0] != name or data != config_version(name, t[1]):
            bad.append(f"{name}: config.json ({len(data)} bytes) is no version written "
                       f"(torn or mixed; starts {data[:80]!r})")
            continue
        states[name] = t[1]
    return states, bad


def replay(model, logs):
    """Apply the writers' logs to model {id: set of acceptable states}; return
    (operations completed, the tags written per id, operations in flight)."""
    done = 0
    tags = {}
    inflight = 0
    for path in logs:
        pending = {}
        with open(path) as f:
            lines = [ln.split() for ln in f if ln.strip()]
        for fields in lines:
            kind, op, bid, tag = fields[:4]
            if kind == "B":
                pending[bid] = (op, tag)
                tags.setdefault(bid, set()).add(tag)
            elif kind == "D":
                pending.pop(bid, None)
                model[bid] = {ABSENT} if op == "delete" else {tag}
                done += 1
        for bid, (op, tag) in pending.items():
            inflight += 1
            before = model.get(bid, {ABSENT})
            after = {"create": {NO_CONFIG, tag}, "write": {tag}, "delete": {ABSENT}}[op]
            model[bid] = before | after
    return done, tags, inflight


def writer_errors(logs):
    out = []
    for path in logs:
        with open(path) as f:
            for ln in f:
                fields = ln.split()
                if fields and fields[0] == "F":
                    out.append((fields[1], fields[2], int(fields[4]), fields[5]))
    return out


@pytest.mark.parametrize("runtime", ["v1", "v2"])
def test_crash_storm(new_bundlefs, runtime):
    v2 = runtime == "v2"
    opts = {"runtime": "v2"} if v2 else None
    cycles = CYCLES_V2 if v2 else CYCLES
    st = new_bundlefs()
    st.expect_log(r"^bundlefs: removed \d+ leftovers of interrupted operations$")
    st.start(opts)
    ns = "storm"
    os.mkdir(st.m(ns))
    rnd = random.Random(int(os.environ.get("BUNDLEFS_CRASH_SEED", "5404")))
    model = {}
    figures = {"cycles": 0, "ops_done": 0, "inflight": 0, "bundles_seen": 0,
               "no_config": 0}
    failures = []
    all_tags = {}
    started = time.monotonic()
    for cycle in range(cycles):
        logs = []
        procs = []
        for w in range(WRITERS):
            lp = os.path.join(st.base, f"writer.{cycle}.{w}.log")
            logs.append(lp)
            procs.append(subprocess.Popen(
                [sys.executable, str(HERE / "crash_writer.py"), st.mnt, ns, f"w{w}",
                 str(POOL), str(cycle), str(rnd.randrange(1 << 30)), lp]
                + (["address"] if v2 else [])))
        time.sleep(rnd.uniform(0.4, 1.6))
        old_pid = st.pid
        st.kill9()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                failures.append(f"cycle {cycle}: a writer hung after the daemon died")
        # Mount again on the stale mountpoint; no clean-up by hand.
        time.sleep(RESTART_DELAY)
        st.start(opts)
        pids = (f"(killed daemon {old_pid:x}, new daemon {st.pid:x}, whose log "
                f"says {st.log_text()!r})")
        layers = len(mounts_below(st.mnt))
        if layers != 1:
            failures.append(f"cycle {cycle}: {layers} mounts stacked on the mountpoint "
                            f"after the restart (the stale one was not replaced) {pids}")
        figures["cycles"] += 1
        done, tags, inflight = replay(model, logs)
        for bid, ts in tags.items():
            all_tags.setdefault(bid, set()).update(ts)
        figures["ops_done"] += done
        figures["inflight"] += inflight
        for op, bid, err, step in writer_errors(logs):
            if err not in crash_errnos():
                failures.append(f"cycle {cycle}: {op} {bid} failed at {step} with "
                                f"{errno.errorcode.get(err, err)}")
        left = leftovers(st.state, st.work)
        if left:
            failures.append(f"cycle {cycle}: leftovers after the sweep: {left} {pids}")
        states, bad = actual_state(st, ns, all_tags if v2 else None)
        failures += [f"cycle {cycle}: {b}" for b in bad]
        figures["bundles_seen"] += len(states)
        figures["no_config"] += sum(1 for v in states.values() if v == NO_CONFIG)
        for bid in sorted(set(model) | set(states)):
            have = states.get(bid, ABSENT)
            allowed = model.get(bid, {ABSENT})
            if have not in allowed:
                failures.append(f"cycle {cycle}: {bid} is {have!r}, expected one of "
                                f"{sorted(map(repr, allowed))}")
            model[bid] = {have}
        # The mount agrees with the store it was started on.
        listed = sorted(n for n in os.listdir(st.m(ns)) if not n.startswith("."))
        if listed != sorted(states):
            failures.append(f"cycle {cycle}: mount lists {listed}, store has {sorted(states)}")
        for bid, tag in states.items():
            if tag != NO_CONFIG and read_file(st.m(ns, bid, "config.json")) != \
                    config_version(bid, tag):
                failures.append(f"cycle {cycle}: {bid}/config.json differs through the mount")
        if failures:
            break
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(f"crash storm: {figures}")
    assert not failures, "\n".join(failures[:40])
    assert figures["ops_done"] > cycles, f"the writers did too little: {figures}"


def test_remount_right_after_kill(new_bundlefs):
    """SPEC 5.4: after a crash, mounting again on the same mountpoint works
    without clean-up, also within the kernel's attribute timeout of the dead
    mount (its root's attributes still cached: stat() of the mountpoint
    succeeds although the mount is stale), and replaces the stale mount
    rather than stacking on it."""
    st = new_bundlefs()
    st.start()
    os.mkdir(st.m("ns1"))
    problems = []
    for i in range(5):
        os.stat(st.mnt)             # the root's attributes are now cached
        os.listdir(st.m("ns1"))
        st.kill9()
        try:
            st.start()
        except RuntimeError as e:
            problems.append(f"restart {i}: {e}")
            break
        layers = len(mounts_below(st.mnt))
        if layers != 1:
            problems.append(f"restart {i}: {layers} mounts stacked on the mountpoint")
        if sorted(os.listdir(st.mnt)) != ["ns1"]:
            problems.append(f"restart {i}: the mount lists {os.listdir(st.mnt)}")
    assert not problems, "\n".join(problems)
