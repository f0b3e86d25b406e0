#!/usr/bin/env python3
"""Build a minimal OCI image archive holding a static busybox.

The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...)
packed into one tar, the format `ctr images import` reads. It has a single
uncompressed layer with bin/busybox and a symlink per applet, so the image
needs no registry and nothing but the busybox-static package.

Usage: mkimage.py OUTPUT.tar IMAGE_NAME [BUSYBOX_PATH]
"""

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile

DEFAULT_BUSYBOX = "/bin/busybox"

# Go's GOARCH names for the machines bundlefs is tested on.
_GOARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def _goarch():
    machine = platform.machine()
    return _GOARCH.get(machine, machine)


def _applets(busybox):
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True)
    return sorted({a for a in out.stdout.split() if a and "/" not in a and a != "busybox"})


def _tar_add_bytes(tar, name, data, mode=0o644, mtime=0):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _tar_add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info)


def _tar_add_symlink(tar, name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info)


def build_layer(busybox):
    """Return the bytes of an uncompressed layer tar: bin/busybox + applet links."""
    with open(busybox, "rb") as f:
        binary = f.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "dev", "etc", "proc", "sys", "tmp"):
            _tar_add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        _tar_add_bytes(tar, "bin/busybox", binary, mode=0o755)
        for applet in _applets(busybox):
            _tar_add_symlink(tar, "bin/" + applet, "busybox")
    return buf.getvalue()


def _blob(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build_archive(output, image_name, busybox=DEFAULT_BUSYBOX, cmd=None):
    """Write an OCI layout tar to OUTPUT; return the manifest digest. cmd: the
    image's command (default ["sh"]; a pod's pause image needs one that lasts)."""
    layer = build_layer(busybox)
    config = json.dumps({
        "architecture": _goarch(),
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin"],
            "Cmd": cmd or ["sh"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [_blob(layer)]},
        "history": [{"created_by": "bundlefs test image builder"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _blob(config),
            "size": len(config),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": _blob(layer),
            "size": len(layer),
        }],
    }, sort_keys=True).encode()
    ref = image_name.rsplit(":", 1)[1] if ":" in image_name.rsplit("/", 1)[-1] else "latest"
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": _blob(manifest),
            "size": len(manifest),
            "platform": {"architecture": _goarch(), "os": "linux"},
            "annotations": {
                "io.containerd.image.name": image_name,
                "org.opencontainers.image.ref.name": ref,
            },
        }],
    }, sort_keys=True).encode()
    layout = json.dumps({"imageLayoutVersion": "1.0.0"}).encode()

    tmp = output + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_add_bytes(tar, "oci-layout", layout)
        _tar_add_bytes(tar, "index.json", index)
        _tar_add_dir(tar, "blobs")
        _tar_add_dir(tar, "blobs/sha256")
        for data in (layer, config, manifest):
            _tar_add_bytes(tar, "blobs/sha256/" + _blob(data).split(":", 1)[1], data)
    os.replace(tmp, output)
    return _blob(manifest)


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write(__doc__)
        return 2
    busybox = argv[3] if len(argv) == 4 else DEFAULT_BUSYBOX
    print(build_archive(argv[1], argv[2], busybox))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
