# SPDX-License-Identifier: Apache-2.0
"""Helpers of the bundlefs reliability tests (SPEC 4.7, 5.3, 5.4, 5.5): what
the start-up sweep must remove, and the versions of config.json and address
the crash-storm writers write. The daemons (a store served by several in
turn: fs.start(), fs.kill9(), fs.start() again) and their checks are every
suite's: tests/common/bfstest.py, the `new_bundlefs` fixture of tests/conftest.py.
"""

import hashlib
import json
import os
import re
import stat

# The ids the identifier rule accepts (SPEC 5.1).
IDENT_RE = re.compile(rb"^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$")
TMP_PREFIX = b".bundlefs-"


def leftovers(state, work):
    """Hidden leftovers the start-up sweep must remove (SPEC 5.4): directories
    .<identifier> directly in S/<ns> and W/<ns>, and .bundlefs-* entries at any
    depth of S or W."""
    found = []
    for root in (os.fsencode(state), os.fsencode(work)):
        for ns in os.listdir(root):
            p = os.path.join(root, ns)
            if not ns.startswith(b".") and stat.S_ISDIR(os.lstat(p).st_mode):
                for name in os.listdir(p):
                    q = os.path.join(p, name)
                    if (name.startswith(b".") and IDENT_RE.match(name[1:])
                            and stat.S_ISDIR(os.lstat(q).st_mode)):
                        found.append(q)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for name in dirnames + filenames:
                if name.startswith(TMP_PREFIX):
                    found.append(os.path.join(dirpath, name))
    return sorted(set(found))


# ------------------------------------------------------------ crash storm

def config_version(bid, tag):
    """The config.json the crash-storm writers write as version `tag` of bundle
    `bid`: valid for SPEC 5.2, distinct per version, and 1 KiB..400 KiB long so
    that one write spans several FUSE write requests (a torn file is visible)."""
    h = int(hashlib.sha256(f"{bid}/{tag}".encode()).hexdigest()[:8], 16)
    pad = "%s-%s|" % (bid, tag)
    pad = (pad * (1 + (1024 + h % (400 * 1024)) // len(pad)))
    doc = {"ociVersion": "1.0.2", "bundlefsTest": {"id": bid, "tag": tag},
           "linux": {"gidMappings": [{"containerID": 1, "hostID": 1000 + h % 1000,
                                      "size": 1}]},
           "pad": pad}
    return json.dumps(doc).encode()


def config_tag(data):
    """(id, tag) named inside a crash-storm config.json, or None."""
    try:
        t = json.loads(data)["bundlefsTest"]
        return t["id"], t["tag"]
    except (ValueError, KeyError, TypeError):
        return None


def address_version(bid, tag):
    """The address the crash-storm writers store as version `tag` of bundle
    `bid` (a v2 shim's format: no newline)."""
    return ("unix:///run/containerd/s/" + hashlib.sha256(f"{bid}/{tag}".encode()).hexdigest()
            ).encode()
