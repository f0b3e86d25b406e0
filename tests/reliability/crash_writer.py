# SPDX-License-Identifier: Apache-2.0
"""A crash-storm writer: creates, rewrites and deletes bundles through a
bundlefs mount until a call fails (the daemon was killed), logging each
operation before it starts ("B op id tag") and after it completed ("D op id
tag"), each line flushed to disk before the next call; a failed call is
logged as "F op id tag errno step" and ends the writer. With ADDRESS given, every
write also stores the bundle's `address` after its config.json.

usage: crash_writer.py MNT NS PREFIX POOL CYCLE SEED LOG [ADDRESS]
"""

import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "common")]

from bfstest import write_through as write_file  # noqa: E402
from relhelpers import address_version, config_version  # noqa: E402


def main():
    mnt, ns, prefix, pool, cycle, seed, logpath = sys.argv[1:8]
    with_address = sys.argv[8:9] == ["address"]
    rnd = random.Random(int(seed))
    ids = [f"{prefix}-{k}" for k in range(int(pool))]
    log = open(logpath, "a", buffering=1)

    def note(line):
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())

    seq = 0
    while True:
        bid = rnd.choice(ids)
        path = os.path.join(mnt, ns, bid)
        seq += 1
        tag = f"{cycle}.{seq}"
        step = "lookup"
        try:
            exists = os.path.isdir(path)
            has_config = exists and os.path.exists(os.path.join(path, "config.json"))
            if not exists:
                op = "create"
            elif not has_config or rnd.random() < 0.65:
                op = "write"
            else:
                op = "delete"
            note(f"B {op} {bid} {tag}")
            if op == "delete":
                step = "rmdir"
                os.rmdir(path)
            else:
                if op == "create":
                    step = "mkdir"
                    os.mkdir(path, 0o700)
                step = "open"
                fd = os.open(os.path.join(path, "config.json"),
                             os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
                try:
                    step = "write"
                    view = memoryview(config_version(bid, tag))
                    while view:
                        view = view[os.write(fd, view[:256 * 1024]):]
                finally:
                    step = "close"
                    os.close(fd)
                if with_address:
                    err, where = write_file(os.path.join(path, "address"),
                                            address_version(bid, tag))
                    if err is not None:
                        step = "address-" + where
                        raise OSError(err, os.strerror(err))
            note(f"D {op} {bid} {tag}")
        except OSError as e:
            note(f"F {op if step != 'lookup' else 'lookup'} {bid} {tag} {e.errno} {step}")
            return 0


if __name__ == "__main__":
    sys.exit(main())
