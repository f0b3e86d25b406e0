# SPDX-License-Identifier: Apache-2.0
"""What the node view's tests share: CRI specs, bundles made beside the
mount, pods/ and leaks as data, and stand-in shim processes."""

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import bfstest

NS_KEY = "io.kubernetes.cri.sandbox-namespace"
NAME_KEY = "io.kubernetes.cri.sandbox-name"
UID_KEY = "io.kubernetes.cri.sandbox-uid"
TYPE_KEY = "io.kubernetes.cri.container-type"
CNAME_KEY = "io.kubernetes.cri.container-name"


def cri(pod_ns, pod_name, uid, ctype, cname=None):
    """The CRI annotations of a sandbox (ctype "sandbox") or a container."""
    a = {NS_KEY: pod_ns, NAME_KEY: pod_name, UID_KEY: uid, TYPE_KEY: ctype}
    if cname is not None:
        a[CNAME_KEY] = cname
    return a


def spec_text(annotations=None, raw=None):
    """A config.json: valid OCI-ish JSON with these annotations, or the raw text."""
    if raw is not None:
        return raw
    doc = {"ociVersion": "1.1.0", "process": {"args": ["/pause"], "cwd": "/"},
           "root": {"path": "rootfs"}}
    if annotations is not None:
        doc["annotations"] = annotations
    return json.dumps(doc)


def put_beside(path, text):
    """Write a file in the store as containerd does: a temporary file renamed."""
    tmp = path + ".tmp-beside"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def bundle_beside(fs, plugin, ns, bid, annotations=None, raw=None, complete=True):
    """S/<ns>/<id> of plugin made in the store, with config.json if complete."""
    d = os.path.join(fs.cs, plugin, ns, bid)
    os.makedirs(d)
    os.makedirs(os.path.join(fs.cr, plugin, ns, bid), exist_ok=True)
    if complete:
        put_beside(os.path.join(d, "config.json"), spec_text(annotations, raw))
    return d


def remove_beside(fs, plugin, ns, bid):
    shutil.rmtree(os.path.join(fs.cs, plugin, ns, bid))
    shutil.rmtree(os.path.join(fs.cr, plugin, ns, bid), ignore_errors=True)


def pods(mnt):
    """pods/ as data: {pod: {"links": {name: target}, "containers": {name: target}}}."""
    out = {}
    top = os.path.join(mnt, "pods")
    for pod in os.listdir(top):
        pd = os.path.join(top, pod)
        links = {n: os.readlink(os.path.join(pd, n)) for n in os.listdir(pd) if n != "containers"}
        cd = os.path.join(pd, "containers")
        conts = {n: os.readlink(os.path.join(cd, n)) for n in os.listdir(cd)}
        out[pod] = {"links": links, "containers": conts}
    return out


def leaks_text(mnt):
    with open(os.path.join(mnt, "leaks"), "rb") as f:
        return f.read()


def leaks(mnt):
    return [json.loads(ln) for ln in leaks_text(mnt).decode().splitlines()]


def foreign_shims(own_pids):
    """Running containerd-shim* processes on this host that are not own_pids:
    every node view reports them (their cwd is no bundle of a test's view)."""
    found = set()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in own_pids:
            continue
        try:
            exe = os.readlink(f"/proc/{d}/exe")
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if os.path.basename(exe).startswith("containerd-shim") and state != "Z":
            found.add(int(d))
    return found


def ours(findings, fs, own_pids=()):
    """The findings about this test's node: paths below its directories,
    shims among own_pids (other engineers' shims may run on the host)."""
    keep = []
    for f in findings:
        if f["kind"] == "shim":
            if f["pid"] in own_pids:
                keep.append(f)
        elif f["path"].startswith(fs.base) or not f["path"].startswith("/"):
            keep.append(f)
    return keep


class FakeShim:
    """A process whose executable is named containerd-shim-fake (a copy of
    this Python), running in cwd, listening on the unix socket at path (if
    given) until killed."""

    _exe = None

    @classmethod
    def exe(cls):
        if cls._exe is None:
            d = tempfile.mkdtemp(prefix="bfs-shim-")
            atexit.register(shutil.rmtree, d, True)
            cls._exe = os.path.join(d, "containerd-shim-fake")
            shutil.copy(sys.executable, cls._exe)
        return cls._exe

    def __init__(self, cwd, path=None):
        # It accepts and closes every connection, as a shim serves its clients:
        # a backlog left full would make connects fail.
        script = ("import socket,sys,time\n"
                  "s = None\n"
                  "if len(sys.argv) > 1:\n"
                  "    s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(64)\n"
                  "print('ready', flush=True)\n"
                  "while True:\n"
                  "    if s is None: time.sleep(60)\n"
                  "    else: s.accept()[0].close()\n")
        self.proc = subprocess.Popen([self.exe(), "-c", script] + ([path] if path else []),
                                     cwd=cwd, stdout=subprocess.PIPE)
        assert self.proc.stdout.readline() == b"ready\n"
        self.pid = self.proc.pid

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.kill9()
        self.proc.stdout.close()


def left_socket(path, listen=False):
    """A unix socket file at path: closed (a leftover), or listening (returned;
    it accepts nothing, so each test connects to it a few times at most)."""
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    if listen:
        s.listen(64)
        return s
    s.close()
    return None


def wait_until(pred, timeout=5.0):
    return bfstest.wait_until(pred, timeout)
