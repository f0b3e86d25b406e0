"""A private containerd running its v1 (or v2) runtime state on a bundlefs mount.

Everything lives under one temporary directory T:

  T/root                                   containerd root
  T/root/io.containerd.runtime.v1.linux    v1 work root = bundlefs work=
  T/state                                  containerd state
  T/state/io.containerd.runtime.v1.linux   v1 state root = the bundlefs mountpoint
  T/bstate                                 bundlefs state= (the real bundles)
  T/runc                                   runc root (plugin runtime_root)
  T/opt, T/c.sock, T/c.sock.ttrpc          containerd's opt dir and sockets
  T/logs                                   daemon output

With runtime "v2" the plugin directories are io.containerd.runtime.v2.task
instead (T/runc is then unused: the v2 shim's runc root is runc's default,
/run/containerd/runc, so the tests use a namespace of their own).

The containerd is Debian's 1.6 (on PATH), or with containerd="2.1" the
containerd 2.1.5 that ../shared/containerd2/install.sh puts in
$BUNDLEFS_CONTAINERD2 (default /opt/containerd2/bin): its config is version 3,
its shim (containerd-shim-runc-v2 2.1.5) is found first on containerd's PATH.
With cri=True (2.1 only) its CRI plugin serves pods in the fixed namespace
k8s.io; the runc v2 shim then keeps runc's state below T/runc (the runtime's
`Root` option), so nothing of it is shared with another containerd.

Only the shim sockets (/run/containerd/s/) and ctr's FIFOs
(/run/containerd/fifo/) are outside T: containerd fixes those paths. Container
names are unique per run so they never collide with anything else there.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import bfstest
from bfstest import cmdline, listdir_sorted, mounts_below, sigkill
from gorender import computed_address

V1 = "io.containerd.runtime.v1.linux"
V2 = "io.containerd.runtime.v2.task"
V2_SHIM_RUNTIME = "io.containerd.runc.v2"
V2_RUNC_ROOT = "/run/containerd/runc"
V2_SHIM = "containerd-shim-runc-v2"
SOCKET_ROOT = "/run/containerd"
NAMESPACE = "bfs-e2e"
CMD_TIMEOUT = 30
READY_TIMEOUT = 20
REQUIRED_TOOLS = ("containerd", "ctr", "containerd-shim", V2_SHIM, "runc", "fusermount3")
CONTAINERD2_VERSION = "v2.1.5"
CONTAINERD2_TOOLS = ("containerd", "ctr", V2_SHIM, "crictl")
K8S_NAMESPACE = "k8s.io"


class SetupError(Exception):
    """The environment cannot run the test (a missing tool, a daemon that did not start)."""


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def busybox_binary():
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.access(p, os.X_OK):
            return p
    return None


def containerd2_dir():
    """Where containerd 2.1.5's binaries are: $BUNDLEFS_CONTAINERD2, else the
    default destination of ../shared/containerd2/install.sh."""
    return os.environ.get("BUNDLEFS_CONTAINERD2") or "/opt/containerd2/bin"


def containerd2_missing():
    """None when containerd 2.1.5 can run here, else why not (one line)."""
    d = containerd2_dir()
    missing = [t for t in CONTAINERD2_TOOLS if not os.access(os.path.join(d, t), os.X_OK)]
    if missing:
        shared = os.path.join(repo_root(), "..", "shared", "containerd2")
        where = ("../shared/containerd2 is not beside the repository" if not
                 os.path.isdir(shared) else "run scripts/deps.sh test to install them")
        return "%s lacks %s (%s)" % (d, ", ".join(missing), where)
    r = subprocess.run([os.path.join(d, "containerd"), "--version"], capture_output=True,
                       text=True, timeout=CMD_TIMEOUT)
    if CONTAINERD2_VERSION not in r.stdout:
        return "%s/containerd is not %s: %s" % (d, CONTAINERD2_VERSION, r.stdout.strip())
    return None


def check_prerequisites():
    """Return a list of problems that make the test impossible here."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (containerd, runc and mounts need it)")
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            problems.append("%s not found on PATH (apt-get install containerd runc fuse3)"
                            % tool)
    if busybox_binary() is None:
        problems.append("busybox not found (apt-get install busybox-static)")
    try:
        bfstest.bundlefs_bin()
    except RuntimeError as e:
        problems.append(str(e))
    if not os.path.exists("/dev/fuse"):
        problems.append("/dev/fuse is missing")
    return problems


def unique_name(tag):
    """A containerd identifier that no earlier run used."""
    return "bfs-%s-%s" % (tag, uuid.uuid4().hex[:12])


def shim_address(daemon_address, namespace, cid):
    """The shim address containerd computes, below its fixed socket root."""
    return computed_address(SOCKET_ROOT, daemon_address, namespace, cid)


# ---------------------------------------------------------------- /proc helpers

def processes():
    """{pid: argv} of every live process."""
    result = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            argv = cmdline(int(entry))
            if argv:
                result[int(entry)] = argv
    return result


def parse_shim_flags(argv):
    """containerd-shim's Go flags as a dict; bool flags map to True."""
    bool_flags = {"systemd-cgroup", "debug"}
    flags, i = {}, 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            break
        name = arg.lstrip("-")
        if "=" in name:
            name, value = name.split("=", 1)
            flags[name] = (value == "true") if name in bool_flags else value
        elif name in bool_flags:
            flags[name] = True
        else:
            i += 1
            flags[name] = argv[i]
        i += 1
    return flags


def listening_unix_sockets(pid):
    """Paths of the listening unix sockets that process pid holds open."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    paths = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            # Num RefCount Protocol Flags Type St Inode [Path]; flag 0x10000 = listening
            if len(fields) >= 8 and int(fields[3], 16) & 0x10000 and int(fields[6]) in inodes:
                paths.add(fields[7])
    return paths


def ss_listeners():
    """{path: {pid, ...}} of the listening unix sockets bound at a path, as
    `ss -xlp` shows them (the holders of each)."""
    r = subprocess.run(["ss", "-xlpH"], capture_output=True, text=True, timeout=CMD_TIMEOUT,
                       check=True)
    found = {}
    for line in r.stdout.splitlines():
        # Netid State Recv-Q Send-Q Local-Address Port Peer-Address Port Process
        fields = line.split()
        if len(fields) >= 5 and fields[1] == "LISTEN" and fields[4].startswith("/"):
            pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
            found.setdefault(fields[4], set()).update(pids)
    return found


def read_text(path):
    with open(path) as f:
        return f.read()


def wait_for(predicate, timeout, what, alive=None):
    """Poll predicate until true; fail early when alive() says a daemon died."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if alive is not None:
            problem = alive()
            if problem:
                raise SetupError("%s: %s" % (what, problem))
        if time.monotonic() > deadline:
            raise SetupError("timed out waiting for %s" % what)
        time.sleep(0.05)


# ---------------------------------------------------------------- daemons

class Node:
    """The private containerd, its bundlefs mount and the containers it ran."""

    def __init__(self, runtime="v1", namespace=NAMESPACE, containerd="1.6", cri=False):
        assert containerd in ("1.6", "2.1") and not (cri and containerd != "2.1")
        assert runtime == "v2" or containerd == "1.6", "containerd 2.x has no runtime v1"
        self.runtime = runtime
        self.containerd_version = containerd
        self.cri = cri
        self.namespace = K8S_NAMESPACE if cri else namespace
        self.bin = containerd2_dir() if containerd == "2.1" else None
        plugin = V2 if runtime == "v2" else V1
        self.tmp = tempfile.mkdtemp(prefix="bundlefs-ctrd.")
        os.chmod(self.tmp, 0o711)
        t = self.tmp
        self.root = os.path.join(t, "root")
        self.state = os.path.join(t, "state")
        self.work = os.path.join(self.root, plugin)
        self.mnt = os.path.join(self.state, plugin)
        self.bstate = os.path.join(t, "bstate")
        self.runc_root = os.path.join(t, "runc")
        self.opt = os.path.join(t, "opt")
        self.logs = os.path.join(t, "logs")
        self.address = os.path.join(t, "c.sock")
        self.ttrpc_address = self.address + ".ttrpc"
        self.config = os.path.join(t, "config.toml")
        self.pod_logs = os.path.join(t, "pod-logs")
        for d in (self.root, self.state, self.work, self.mnt, self.bstate, self.runc_root,
                  self.opt, self.logs):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o711)
        self.containerd = None
        self.containerd_log = os.path.join(self.logs, "containerd.log")
        self.fs = None
        self.extra_fs = []
        self.containers = set()
        self.names = set()  # every container name used, for FIFO clean-up
        self.images = set()
        self.pods = set()
        self._write_config()

    def tool(self, name):
        """The path of containerd's own tool name (containerd, ctr, crictl, the shim)."""
        return os.path.join(self.bin, name) if self.bin else name

    def runc_root_of(self, namespace=None):
        """runc's root for this node's containers (the directory of <id>/state.json)."""
        ns = namespace or self.namespace
        if self.runtime != "v2":
            return os.path.join(self.runc_root, ns)
        return os.path.join(self.runc_root if self.cri else V2_RUNC_ROOT, ns)

    # -- configuration

    def _write_config(self):
        if self.containerd_version == "2.1":
            return self._write_config_2()
        text = self._config_head(2, ["io.containerd.grpc.v1.cri"]) + """
[plugins."{v1}"]
  shim = "containerd-shim"
  runtime = "runc"
  runtime_root = "{runc}"
  no_shim = false
  shim_debug = false
""".format(v1=V1, runc=self.runc_root)
        with open(self.config, "w") as f:
            f.write(text)

    def _config_head(self, version, disabled):
        """What every config of the node begins with: its directories, sockets
        and opt dir, and the plugins it does without."""
        return """version = {version}
root = "{root}"
state = "{state}"
disabled_plugins = [{disabled}]

[grpc]
  address = "{address}"

[ttrpc]
  address = "{ttrpc}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
""".format(version=version, root=self.root, state=self.state, address=self.address,
           ttrpc=self.ttrpc_address, opt=self.opt,
           disabled=", ".join('"%s"' % p for p in disabled))

    def _write_config_2(self):
        """containerd 2.x's config (version 3). With cri: the CRI plugin with a
        local pause image pinned as the sandbox image, host-network pods only
        (no CNI), restrict_oom_score_adj (this machine may lack
        CAP_SYS_RESOURCE), NRI off, and runc's root in T/runc."""
        disabled = ["io.containerd.nri.v1.nri"]
        if not self.cri:
            disabled += ["io.containerd.grpc.v1.cri"]
        text = self._config_head(3, disabled)
        if self.cri:
            self.pause_image = "localhost/bfs-pause:%s" % uuid.uuid4().hex[:12]
            text += """
[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "{pause}"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "{shim_runtime}"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  Root = "{runc}"
""".format(pause=self.pause_image, shim_runtime=V2_SHIM_RUNTIME, runc=self.runc_root)
        with open(self.config, "w") as f:
            f.write(text)

    def fs_options(self, readonly=False):
        """bundlefs options matching this containerd's configuration (state=
        and work= name the node's bstate and work directories)."""
        opts = {"ro": readonly}
        # bstate's name does not say the runtime: name it.
        if self.runtime == "v2":
            opts["runtime"] = "v2"
        else:
            opts.update(runtime="v1", runtime_root=self.runc_root)
        opts.update(daemon_address=self.address, bundle_root=self.mnt)
        return opts

    # -- bundlefs

    def _bundlefs(self, mountpoint, readonly, log_name):
        """A bundlefs over the node's backing store on mountpoint, started: no
        socket_root= (containerd's own), the log in T/logs/<log_name>.log."""
        fs = bfstest.BundleFS(self.fs_options(readonly), log_name=log_name, report_users=True,
                              dirs={"base": self.logs, "state": self.bstate, "work": self.work,
                                    "mnt": mountpoint, "socket_root": None})
        # containerd, not the test, decides what the daemon is asked: its log
        # lines are not declared; a sanitizer report still fails the test.
        fs.expect_log(r".")
        try:
            fs.start()
        except RuntimeError as e:
            raise SetupError(str(e))
        return fs

    def mount_bundlefs(self):
        self.fs = self._bundlefs(self.mnt, False, "bundlefs")

    def mount_inspector(self, mountpoint):
        """A second, read-only bundlefs over the same backing store."""
        os.makedirs(mountpoint, exist_ok=True)
        fs = self._bundlefs(mountpoint, True, "bundlefs-ro-%d" % len(self.extra_fs))
        self.extra_fs.append(fs)
        return fs

    def mount_node_view(self, mountpoint):
        """A read-only node view (-o node, SPEC 8) over this containerd's state
        and root, with its daemon address and the shims' socket root
        (/run/containerd: containerd's own, shared with the host)."""
        os.makedirs(mountpoint, exist_ok=True)
        fs = bfstest.BundleFS({"ro": True, "daemon_address": self.address,
                               "socket_root": "/run/containerd"},
                              node=V2 if self.runtime == "v2" else V1,
                              log_name="bundlefs-node-%d" % len(self.extra_fs),
                              report_users=True,
                              dirs={"base": self.logs, "cs": self.state, "cr": self.root,
                                    "mnt": mountpoint})
        fs.expect_log(r".")
        try:
            fs.start()
        except RuntimeError as e:
            raise SetupError(str(e))
        self.extra_fs.append(fs)
        return fs

    # -- containerd

    def start_containerd(self):
        log = open(self.containerd_log, "ab")
        try:
            env = dict(os.environ)
            if self.bin:
                # containerd finds its shim on PATH: 2.1.5's, not Debian's.
                env["PATH"] = self.bin + ":" + env.get("PATH", "")
            self.containerd = subprocess.Popen(
                [self.tool("containerd"), "--config", self.config], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, close_fds=True, env=env)
        finally:
            log.close()

        def alive():
            if self.containerd.poll() is not None:
                return "containerd exited with status %d:\n%s" % (
                    self.containerd.returncode, self.tail(self.containerd_log))
            return None

        def ready():
            if not os.path.exists(self.address):
                return False
            r = subprocess.run([self.tool("ctr"), "--address", self.address, "--timeout", "2s",
                                "version"], capture_output=True, timeout=CMD_TIMEOUT)
            return r.returncode == 0

        wait_for(ready, READY_TIMEOUT, "containerd on " + self.address, alive)

    def kill_containerd(self, sig=signal.SIGKILL):
        if self.containerd is None:
            return
        if self.containerd.poll() is None:
            self.containerd.send_signal(sig)
            try:
                self.containerd.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.containerd.kill()
                self.containerd.wait()
        self.containerd = None

    def tail(self, path, lines=40):
        """The last lines of a daemon log, without containerd's plugin-loading chatter."""
        try:
            text = read_text(path).splitlines()
        except OSError:
            return "(no log)"
        noise = ("loading plugin", "skip loading plugin", "failed to load plugin",
                 "could not use snapshotter")
        return "\n".join([l for l in text if not any(n in l for n in noise)][-lines:])

    def ctr(self, *args, check=True, timeout=CMD_TIMEOUT):
        argv = [self.tool("ctr"), "--address", self.address, "--namespace", self.namespace] + \
            list(args)
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s timed out after %ds\nbundlefs log:\n%s" % (
                " ".join(argv), timeout, self.tail(self.fs.log_path) if self.fs else ""))
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d)\nstdout: %s\nstderr: %s" % (
                " ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def tasks(self):
        """{id: (pid, status)} from `ctr task ls`."""
        out = self.ctr("task", "ls").stdout.splitlines()
        result = {}
        for line in out[1:]:
            fields = line.split()
            if len(fields) >= 3:
                result[fields[0]] = (int(fields[1]), fields[2])
        return result

    def run(self, name, *args):
        """`ctr run` with the node's runtime; remembers the container for cleanup."""
        self.containers.add(name)
        self.names.add(name)
        return self.ctr("run", "--runtime", V2_SHIM_RUNTIME if self.runtime == "v2" else V1,
                        *args)

    # -- CRI (containerd 2.x with cri=True)

    def crictl(self, *args, check=True, timeout=CMD_TIMEOUT):
        endpoint = "unix://" + self.address
        argv = [self.tool("crictl"), "--runtime-endpoint", endpoint, "--image-endpoint",
                endpoint, "--timeout", "%ds" % timeout] + list(args)
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout + 10)
        if check and r.returncode != 0:
            raise AssertionError("%s failed (%d)\nstdout: %s\nstderr: %s" % (
                " ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def write_json(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(data, f)
        return path

    def pod_config(self, name):
        """A host-network pod (no CNI needed) without a hostname (runc refuses one
        without a UTS namespace of its own)."""
        return {"metadata": {"name": name, "namespace": "bfs-e2e",
                             "uid": uuid.uuid4().hex, "attempt": 0},
                "log_directory": os.path.join(self.pod_logs, name),
                "linux": {"security_context": {"namespace_options": {"network": 2}}}}

    def run_pod(self, name):
        """crictl runp: the pod sandbox's id."""
        config = self.write_json("pod-%s.json" % name, self.pod_config(name))
        pod = self.crictl("runp", config).stdout.strip()
        self.pods.add(pod)
        return pod, config

    def start_in_pod(self, pod, pod_config, name, image, command):
        """crictl create + start of a container in pod: its id."""
        config = self.write_json("ctr-%s.json" % name, {
            "metadata": {"name": name}, "image": {"image": image}, "command": command,
            "log_path": name + ".log", "linux": {}})
        cid = self.crictl("create", pod, config, pod_config).stdout.strip()
        self.crictl("start", cid)
        return cid

    def remove_pod(self, pod):
        """crictl stopp + rmp (each may already be done)."""
        self.crictl("stopp", pod, check=False)
        r = self.crictl("rmp", "--force", pod, check=False)
        if r.returncode == 0 or "not found" in r.stderr:
            self.pods.discard(pod)
        return r

    def remove_container(self, name):
        """kill, delete the task, delete the container (each may already be gone)."""
        self.ctr("task", "kill", "-s", "KILL", name, check=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            status = self.tasks().get(name)
            if status is None or status[1] == "STOPPED":
                break
            time.sleep(0.05)
        self.ctr("task", "delete", name, check=False)
        r = self.ctr("container", "delete", name, check=False)
        if r.returncode == 0 or "not found" in r.stderr:
            self.containers.discard(name)
        return r

    # -- paths of one container

    def bundle(self, name):
        return os.path.join(self.mnt, self.namespace, name)

    def backing_bundle(self, name):
        return os.path.join(self.bstate, self.namespace, name)

    def work_dir(self, name):
        return os.path.join(self.work, self.namespace, name)

    def leftovers(self, name, group=None):
        """Everything that still exists for a deleted container (a v2 one of
        shim group `group`: its socket is the group's)."""
        found = []
        for base in (os.path.join(self.bstate, self.namespace),
                     os.path.join(self.work, self.namespace)):
            for entry in (name, "." + name):
                p = os.path.join(base, entry)
                if os.path.lexists(p):
                    found.append(p)
        if os.path.lexists(self.bundle(name)):
            found.append(self.bundle(name))
        sock = shim_address(self.address, self.namespace, group or name)[len("unix://"):]
        if os.path.lexists(sock):
            found.append(sock)
        return found

    def remove_and_check(self, name, group=None):
        """remove_container, then assert it is gone with nothing left behind."""
        self.remove_container(name)
        assert name not in self.containers, "container %s could not be deleted" % name
        assert self.leftovers(name, group) == [], "deleting %s left these behind" % name

    def assert_store_empty(self):
        """Every container of the namespace deleted: nothing of them anywhere."""
        assert self.containers == set(), "containers left: %r" % self.containers
        for d in (os.path.join(self.bstate, self.namespace),
                  os.path.join(self.work, self.namespace),
                  os.path.join(self.mnt, self.namespace)):
            assert os.listdir(d) == [], "%s is not empty" % d
        assert self.shims() == {}

    def shims(self):
        """{pid: argv} of containerd-shim processes that belong to this node."""
        return {pid: argv for pid, argv in processes().items()
                if os.path.basename(argv[0]) in ("containerd-shim", V2_SHIM) and
                any(self.tmp + "/" in a or a == self.address for a in argv)}

    def shim_of(self, name):
        """The shim serving container name: v1's has -workdir W/<ns>/<id>; v2's
        server has the -id of the first container of its group."""
        if self.runtime == "v2":
            want = ("id", name)
        else:
            want = ("workdir", self.work_dir(name))
        found = [pid for pid, argv in self.shims().items()
                 if parse_shim_flags(argv).get(want[0]) == want[1] and "start" not in argv]
        assert len(found) == 1, "expected one shim with -%s %s, found %r" % (want + (found,))
        return found[0]

    # -- cleanup

    def cleanup(self):
        """Undo everything, on every path; returns a list of problems.

        Each step runs whatever the previous ones did, so that a dead bundlefs
        or a hung containerd still ends with no process, mount or directory left.
        """
        problems = []

        def attempt(what, fn, *args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # keep cleaning up whatever went wrong
                problems.append("%s: %s" % (what, e))
                return None

        if self.containerd is not None and self.containerd.poll() is None:
            for pod in sorted(self.pods):
                attempt("removing pod " + pod, self.remove_pod, pod)
            for name in sorted(self.containers):
                attempt("removing container " + name, self.remove_container, name)
            for image in sorted(self.images):
                attempt("removing image " + image, self.ctr, "images", "rm", image)
        attempt("stopping containerd", self.kill_containerd, signal.SIGTERM)

        # Shims and container processes that outlived containerd.
        for pid in self.shims():
            problems.append("containerd-shim %d was still running" % pid)
            sigkill(pid)
        runc_roots = [os.path.join(self.runc_root, ns) for ns in listdir_sorted(self.runc_root)]
        if self.runtime == "v2" and not self.cri:
            runc_roots = [os.path.join(V2_RUNC_ROOT, self.namespace)]
        for root in runc_roots:
            for cid in listdir_sorted(root):
                problems.append("runc container %s/%s was still there" % (root, cid))
                attempt("runc delete " + cid, subprocess.run,
                        ["runc", "--root", root, "delete", "--force", cid],
                        capture_output=True, timeout=CMD_TIMEOUT)
            if self.runtime == "v2" and not self.cri and os.path.isdir(root) and \
                    not listdir_sorted(root):
                attempt("removing " + root, os.rmdir, root)
        for name in self.containers:
            sock = shim_address(self.address, self.namespace, name)[len("unix://"):]
            if os.path.lexists(sock):
                attempt("removing " + sock, os.unlink, sock)
        _remove_cgroup_parents(self.namespace)
        attempt("removing ctr FIFOs", _remove_fifo_dirs, self.names)

        # Mounts: container rootfs overlays first, then the bundlefs mounts.
        def stop(fs):
            return ["bundlefs on %s: %s" % (fs.mnt, p) for p in fs.stop()]

        for fs in self.extra_fs:
            for mnt in mounts_below(fs.mnt):
                if mnt != fs.mnt:
                    attempt("unmounting " + mnt, bfstest.detach, mnt)
            problems += attempt("stopping bundlefs on " + fs.mnt, stop, fs) or []
        for mnt in mounts_below(self.mnt):
            if mnt != self.mnt:
                problems.append("%s was still mounted" % mnt)
                attempt("unmounting " + mnt, bfstest.detach, mnt)
        if self.fs is not None:
            problems += attempt("stopping bundlefs on " + self.mnt, stop, self.fs) or []
        for mnt in mounts_below(self.tmp):
            problems.append("%s was still mounted" % mnt)
            attempt("unmounting " + mnt, bfstest.detach, mnt)
        if mounts_below(self.tmp):
            problems.append("mounts left under %s; not removing it" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


def _remove_fifo_dirs(names):
    """ctr leaves <socket root>/fifo/<n>/<id>-std{in,out,err} behind when a task dies with
    its bundle unreachable; remove the directories that hold only FIFOs of our containers."""
    base = os.path.join(SOCKET_ROOT, "fifo")
    for d in listdir_sorted(base):
        path = os.path.join(base, d)
        entries = listdir_sorted(path)
        if entries and all(e.rsplit("-", 1)[0] in names for e in entries):
            for e in entries:
                os.unlink(os.path.join(path, e))
            os.rmdir(path)


def _remove_cgroup_parents(namespace):
    """runc leaves the empty /<namespace> cgroup parent behind; remove ours if empty."""
    for base in ("/sys/fs/cgroup",) + tuple(os.path.join("/sys/fs/cgroup", c)
                                            for c in listdir_sorted("/sys/fs/cgroup")):
        try:
            os.rmdir(os.path.join(base, namespace))
        except OSError:
            pass
