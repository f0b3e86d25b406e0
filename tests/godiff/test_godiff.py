# SPDX-License-Identifier: Apache-2.0
"""Differential test: bundlefs's core decoders against Go's encoding/json.

godiff.go decodes each input exactly as containerd does (remappedGID's struct
for SPEC 5.2, the runc v2 shim's annotation lookup for the group of SPEC 7.2,
bootstrap.json's address, the CRI pod annotations of SPEC 8.3); bfs_decode
(built by CMake, linked to core) answers the same inputs. Every input of the fuzz corpora and a few thousand generated
ones must get the same answer, and so must the bootstrap.json files that
godiff.go writes as containerd 2.3 does (SPEC 7.4). Go is required: without
it the test fails.
"""
import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
BUILD = Path(os.environ.get("BUNDLEFS_BUILD", TOP / "build"))
GENERATED = int(os.environ.get("BUNDLEFS_GODIFF_INPUTS", "4000"))


@pytest.fixture(scope="module")
def go_decoder():
    go = shutil.which("go")
    assert go, "go is not installed (Debian package golang-go): the differential test needs it"
    out = BUILD / "tests" / "godiff"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GO111MODULE="off", GOFLAGS="", GOCACHE=str(out / "go-cache"),
               GOPATH=str(out / "gopath"), CGO_ENABLED="0")
    binary = out / "godiff"
    subprocess.run([go, "build", "-o", str(binary), str(HERE / "godiff.go")], env=env,
                   check=True, cwd=HERE)
    return binary


@pytest.fixture(scope="module")
def c_decoder():
    binary = BUILD / "tests" / "godiff" / "bfs_decode"
    assert binary.exists(), f"{binary} missing: build with cmake first (BUNDLEFS_BUILD={BUILD})"
    return binary


def run(binary, inputs):
    data = b"".join(struct.pack(">I", len(i)) + i for i in inputs)
    res = subprocess.run([str(binary)], input=data, stdout=subprocess.PIPE, check=True,
                         timeout=600)
    lines = res.stdout.decode().split("\n")[:-1]
    assert len(lines) == len(inputs), f"{binary}: {len(lines)} answers for {len(inputs)} inputs"
    return lines


def compare(go, c, inputs):
    want, got = run(go, inputs), run(c, inputs)
    bad = [(i, w, g) for i, w, g in zip(inputs, want, got) if w != g]
    for i, w, g in bad[:20]:
        print(f"input {i!r}\n   go: {w}\n  bfs: {g}")
    assert not bad, f"{len(bad)} of {len(inputs)} inputs decoded differently from Go"


def test_fuzz_corpora(go_decoder, c_decoder):
    files = sorted(p for p in (TOP / "tests" / "fuzz" / "corpus").rglob("*") if p.is_file())
    assert files, "no fuzz corpus found"
    inputs = [p.read_bytes() for p in files]
    # Each seed also wrapped as the group annotation's value, and as a pod
    # container's name beside the other pod annotations.
    inputs += [b'{"annotations":{"io.containerd.runc.v2.group":' + i + b"}}" for i in inputs] + \
        [b'{"annotations":{"io.kubernetes.cri.container-name":' + i + b"," + POD + b"}}"
         for i in inputs]
    compare(go_decoder, c_decoder, inputs)


def test_bootstrap_json_of_containerd_2_3(go_decoder, c_decoder):
    """containerd 2.3 writes bootstrap.json as encoding/json marshals the
    protobuf-generated BootstrapResult: keys with empty values left out, and
    `capabilities` and `metadata` beside the address (SPEC 7.4). Both decoders
    read the address written, and none where it was left out."""
    out = subprocess.run([str(go_decoder), "bootstrap23"], stdout=subprocess.PIPE, check=True,
                         timeout=60).stdout.decode().splitlines()
    vectors = [bytes.fromhex(line.split("\t")[0]) for line in out]
    wants = ["0" if line.split("\t")[1] == "-" else "1:" + line.split("\t")[1] for line in out]
    assert len(vectors) >= 9 and b'"capabilities":[0]' in b"".join(vectors)
    assert b'"metadata":{' in b"".join(vectors) and b"{}" in vectors
    compare(go_decoder, c_decoder, vectors)
    got = [line.split(" B:")[1].split(" A:")[0] for line in run(c_decoder, vectors)]
    assert got == wants


# ---- generated inputs ----

NUMBERS = [b"0", b"1", b"1000", b"4294967295", b"4294967296", b"18446744073709551615",
           b"18446744073709551616", b"-0", b"-1", b"1.0", b"1e3", b"1E0", b"0.5", b"01",
           b"-", b"1.", b'"1000"', b"true", b"false", b"null", b"[]", b"{}", b"00",
           b"99999999999999999999999", b"4294967295.0", b"+1", b"0x10"]
GOOD_NUMBERS = [b"0", b"0", b"1", b"1000", b"4294967295", b"null", b"65536", b"100000"]
LINUX_KEYS = [b"linux", b"Linux", b"LINUX", b"lInUx", b"linu\\u0078", b"l\xc4\xb1nux", b"linux ",
              b"linu", b"\\u006cinux"]
GID_KEYS = [b"gidMappings", b"GIDMappings", b"gidmappings", b"GIDMAPPINGS", b"gidMapping\xc5\xbf",
            b"gidMappings\\u0000", b"gid_mappings", b"uidMappings"]
MAP_KEYS = {
    "c": [b"containerID", b"ContainerID", b"containerid", b"CONTAINERID", b"containerId"],
    "h": [b"hostID", b"HOSTID", b"hostid", b"hostId", b"ho\xc5\xbftID"],
    "s": [b"size", b"Size", b"SIZE", b"\xc5\xbfize", b"si\\u007ae"],
}
ANN_KEYS = [b"annotations", b"Annotations", b"ANNOTATIONS", b"annotation\xc5\xbf",
            b"annotation\\u017f", b"annotat\xc4\xb1ons", b"annotations\\u0000", b"annotation",
            b"\\u0061nnotations", b"annotation\xe2\x84\xaa"]
NAMES = [b"io.containerd.runc.v2.group", b"io.kubernetes.cri.sandbox-id",
         b"io.containerd.runc.v2.Group", b"io.containerd.runc.v2.group ",
         b"\\u0069o.containerd.runc.v2.group", b"io.kubernetes.cri.sandbox\\u002did", b"other",
         # the pod annotations of SPEC 8.3, and names that are almost them
         b"io.kubernetes.cri.sandbox-namespace", b"io.kubernetes.cri.sandbox-name",
         b"io.kubernetes.cri.sandbox-uid", b"io.kubernetes.cri.container-type",
         b"io.kubernetes.cri.container-name", b"io.kubernetes.cri.Container-name",
         b"io.kubernetes.cri.container\\u002dname", b"io.kubernetes.cri.sandbox-nam\\u0065",
         b"io.kubernetes.cri.sandbox-uid\\u0000", b"io.kubernetes.cri.sandbox-na\xc3\xa9"]
POD = (b'"io.kubernetes.cri.sandbox-namespace":"default","io.kubernetes.cri.sandbox-name":"web",'
       b'"io.kubernetes.cri.sandbox-uid":"0d1e","io.kubernetes.cri.container-type":"container"')
STRINGS = [b'""', b'"g1"', b'"sb1"', b'"a/../b"', b'"\\u0000"', b'"\xff\xfe"', b'"\xc3\xa9"',
           b'"\\ud83d\\ude00"', b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\ud800\\u0041"',
           b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xe2\x80\xa8"', b'"\\/\\b\\f\\n\\r\\t"',
           b'"\xc0\x80"', b'"\xe0\x80\xaf"']
WS = [b"", b" ", b"\n", b"\t", b"\r\n "]
BAD_WS = [b"\x0b", b"\xc2\xa0", b"\x0c"]


def ws(r):
    k = r.random()
    return r.choice(BAD_WS) if k < 0.003 else r.choice(WS) if k < 0.3 else b""


def junk(r, depth=0):
    """An arbitrary (usually valid) JSON value, for unknown keys and wrong types."""
    k = r.random()
    if depth > 3 or k < 0.35:
        return r.choice(NUMBERS + STRINGS)
    if k < 0.45:
        d = r.randint(1, 40) if r.random() < 0.9 else r.choice([9999, 10000, 10001])
        return b"[" * d + b"]" * d
    if k < 0.8:
        return b"[" + b",".join(junk(r, depth + 1) for _ in range(r.randint(0, 3))) + b"]"
    return b"{" + b",".join(b'"' + r.choice(NAMES + LINUX_KEYS) + b'":' + junk(r, depth + 1)
                            for _ in range(r.randint(0, 3))) + b"}"


def obj(r, members):
    return b"{" + ws(r) + b",".join(ws(r) + b'"' + k + b'"' + ws(r) + b":" + ws(r) + v + ws(r)
                                    for k, v in members) + b"}"


def mapping(r):
    if r.random() < 0.04:
        return r.choice([b"null", b"1", b'"m"', b"[]", junk(r)])
    members = []
    fields = list("ch") if r.random() < 0.6 else []
    fields += [r.choice("chsx") for _ in range(r.randint(0, 3))]
    r.shuffle(fields)
    for f in fields:
        key = r.choice(MAP_KEYS[f]) if f != "x" else r.choice([b"x", b"id", b"containerID2"])
        k = r.random()
        val = r.choice(GOOD_NUMBERS) if k < 0.75 else r.choice(NUMBERS) if k < 0.95 else junk(r)
        members.append((key, val))
    return obj(r, members)


def linux(r):
    if r.random() < 0.05:
        return r.choice([b"null", b"[]", b'"x"', b"1", junk(r)])
    members = []
    for _ in range(r.randint(0, 3)):
        if r.random() < 0.8:
            if r.random() < 0.1:
                val = r.choice([b"null", b"{}", b'"x"', b"1"])
            else:
                val = b"[" + b",".join(mapping(r) for _ in range(r.randint(0, 6))) + b"]"
            members.append((r.choice(GID_KEYS), val))
        else:
            members.append((r.choice([b"uidMappings", b"namespaces"]), junk(r)))
    return obj(r, members)


def annotations(r):
    if r.random() < 0.08:
        return r.choice([b"null", b"[]", b'"x"', b"1", b"true", junk(r)])
    members = []
    for _ in range(r.randint(0, 4)):
        if r.random() < 0.97:
            val = r.choice(STRINGS) if r.random() < 0.93 else r.choice([b"null", b"1", b"{}", b"[]",
                                                                        b"true"])
        else:
            val = junk(r)
        members.append((r.choice(NAMES), val))
    return obj(r, members)


def remap(r):
    """A mapping of container GID 0 most of the time: the GID bundlefs applies."""
    maps = [obj(r, [(r.choice(MAP_KEYS["c"]), r.choice([b"0", b"0", b"1", b"null"])),
                    (r.choice(MAP_KEYS["h"]), r.choice(GOOD_NUMBERS + NUMBERS[:6])),
                    (b"size", b"1")]) for _ in range(r.randint(1, 3))]
    return (r.choice(LINUX_KEYS[:5]), obj(r, [(r.choice(GID_KEYS[:4]), b"[" + b",".join(maps) + b"]")]))


def document(r):
    members = [remap(r)] if r.random() < 0.25 else []
    for _ in range(r.randint(0, 4)):
        k = r.random()
        if k < 0.35:
            members.append((r.choice(LINUX_KEYS), linux(r)))
        elif k < 0.7:
            members.append((r.choice(ANN_KEYS), annotations(r)))
        elif k < 0.8:
            members.append((r.choice([b"address", b"Address", b"ADDRESS", b"addre\xc5\xbfs"]),
                            r.choice(STRINGS + [b"null", b"1", b"{}"])))
        elif k < 0.85:
            # containerd 2.3's other bootstrap.json keys, an address among them.
            members.append((r.choice([b"metadata", b"capabilities", b"version", b"protocol"]),
                            r.choice([b"[0]", b"[0,7]", b"3", b'"ttrpc"',
                                      obj(r, [(b"address", r.choice(STRINGS))]), junk(r)])))
        else:
            # Unknown keys: any value at all, and no type error whatever it is.
            members.append((r.choice([b"ociVersion", b"process", b"root", b"hooks"]), junk(r)))
    doc = ws(r) + obj(r, members) + ws(r)
    k = r.random()
    if k < 0.05:
        doc = r.choice([b"null", b" null ", b"[]", b'"x"', b"1", b"", b"  "]) if r.random() < 0.5 \
            else b"[" + doc + b"]"
    elif k < 0.12:
        doc += r.choice([b"x", b"{}", b",", b"null", b"//", b"\x00"])
    elif k < 0.25 and doc:
        b = bytearray(doc)
        for _ in range(r.randint(1, 3)):
            op = r.random()
            pos = r.randrange(len(b)) if b else 0
            if op < 0.3 and b:
                del b[pos]
            elif op < 0.6:
                b.insert(pos, r.choice(b'{}[]",:\\ 0\x80\xff'))
            elif b:
                b[pos] = r.randrange(256)
        doc = bytes(b)
    elif k < 0.3:
        doc = doc[:r.randrange(len(doc) + 1)]
    return doc


def test_generated(go_decoder, c_decoder):
    r = random.Random(int(os.environ.get("BUNDLEFS_GODIFF_SEED", "7")))
    inputs = [document(r) for _ in range(GENERATED)]
    compare(go_decoder, c_decoder, inputs)


POD_NAMES = NAMES[7:12]


def pod_annotations(r):
    """An annotations object of a CRI spec: mostly the pod names, some of them
    twice, with strings, nulls and now and then another type."""
    members = [(n, r.choice(STRINGS)) for n in POD_NAMES if r.random() < 0.85]
    for _ in range(r.randint(0, 3)):
        k = r.random()
        val = r.choice(STRINGS) if k < 0.8 else b"null" if k < 0.93 else \
            r.choice([b"1", b"true", b"{}", b'["x"]'])
        members.append((r.choice(NAMES), val))
    r.shuffle(members)
    return obj(r, members)


def pod_document(r):
    members = [(b"ociVersion", b'"1.1.0"')]
    for _ in range(r.randint(1, 3)):
        k = r.random()
        members.append((r.choice(ANN_KEYS[:5]), pod_annotations(r)) if k < 0.85 else
                       (r.choice(ANN_KEYS), r.choice([b"null", b"{}", b"[]", b'"x"'])))
    return ws(r) + obj(r, members) + ws(r)


def test_generated_pods(go_decoder, c_decoder):
    """SPEC 8.3's pod annotations: repeated annotations keys and names, null
    and non-string values, names that are almost the pod names."""
    r = random.Random(int(os.environ.get("BUNDLEFS_GODIFF_SEED", "7")))
    inputs = [pod_document(r) for _ in range(GENERATED // 2)]
    compare(go_decoder, c_decoder, inputs)
