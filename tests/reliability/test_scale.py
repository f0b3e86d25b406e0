# SPDX-License-Identifier: Apache-2.0
"""Descriptors do not grow with the number of bundles (SPEC 5.5): 100,000
bundles created directly in the backing store are served by a daemon started
under a 1024-descriptor limit; each is stat-able and its address readable
through the mount, and the daemon holds few descriptors all along, each
opened O_CLOEXEC."""

import hashlib
import os
import threading
import time

BUNDLES = int(os.environ.get("BUNDLEFS_SCALE_BUNDLES", "100000"))
READERS = 2
FD_LIMIT = 64
DAEMON_ADDRESS = "/run/containerd/containerd.sock"


def _addr(socket_root, ns, bid):
    d = hashlib.sha256(f"{DAEMON_ADDRESS}/{ns}/{bid}".encode()).hexdigest()
    return f"unix://{socket_root}/s/{d}".encode()


def _non_cloexec(pid):
    """The daemon's descriptors above 2 opened without O_CLOEXEC."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        if int(fd) <= 2:
            continue
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = int(next(ln for ln in f if ln.startswith("flags:")).split()[1], 8)
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except (OSError, StopIteration):
            continue
        if not flags & 0o2000000:
            out.append(f"{fd} -> {target}")
    return out


def test_100k_bundles_under_1024_descriptors(new_bundlefs):
    # tmpfs when there is one: creating and removing 300,000 directories on a
    # disk takes longer than the test itself.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    st = new_bundlefs(tmp_root=shm)
    ns = "scale"
    t0 = time.monotonic()
    os.mkdir(st.s(ns), 0o711)
    os.mkdir(st.w(ns), 0o711)
    sns, wns = st.s(ns), st.w(ns)
    for i in range(BUNDLES):
        b = f"b{i}"
        os.mkdir(f"{sns}/{b}", 0o700)
        os.mkdir(f"{sns}/{b}/rootfs", 0o711)
        os.mkdir(f"{wns}/{b}", 0o711)
    made = time.monotonic() - t0

    d = st.start(nofile=1024)
    with open(f"/proc/{d.pid}/limits") as f:
        lim = next(ln for ln in f if ln.startswith("Max open files")).split()
    assert lim[3] == "1024", f"daemon's descriptor limit: {lim}"
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            n = d.fd_count()
            if n is not None:
                samples.append(n)
            time.sleep(0.02)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t1 = time.monotonic()
    listed = os.listdir(st.m(ns))
    pids = []
    for r in range(READERS):
        pid = os.fork()
        if pid == 0:
            bad = 0
            try:
                for i in range(r, BUNDLES, READERS):
                    b = f"b{i}"
                    try:
                        os.stat(f"{st.mnt}/{ns}/{b}")
                        with open(f"{st.mnt}/{ns}/{b}/address", "rb") as f:
                            if f.read() != _addr(st.socket_root, ns, b):
                                bad += 1
                    except OSError:
                        bad += 1
            finally:
                os._exit(min(bad, 255))
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids]
    served = time.monotonic() - t1
    cloexec_problems = _non_cloexec(d.pid)
    time.sleep(0.2)
    stop.set()
    th.join()
    after = d.fd_count()
    print(f"scale: {BUNDLES} bundles made in {made:.1f}s ({BUNDLES / made:.0f}/s), "
          f"served (list + stat + read address) in {served:.1f}s "
          f"({BUNDLES / served:.0f}/s); daemon fds max {max(samples)} "
          f"over {len(samples)} samples, {after} after")
    assert len(listed) == BUNDLES, f"listing shows {len(listed)} of {BUNDLES}"
    assert codes == [0] * READERS, f"bundles not served right (per reader, capped): {codes}"
    assert d.proc.poll() is None, "the daemon died"
    assert max(samples) < FD_LIMIT, f"the daemon held up to {max(samples)} descriptors"
    assert after is not None and after < FD_LIMIT
    assert not cloexec_problems, f"descriptors without O_CLOEXEC: {cloexec_problems}"
