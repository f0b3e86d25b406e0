# SPDX-License-Identifier: Apache-2.0
"""What containerd's Go code computes, re-derived for the tests' expectations.

Go's path/filepath (Join, Clean), the shim address of SPEC 4.3, and the
encoding/json renderings of the shim configurations (SPEC 4.4, 7.2) are
written here from the containerd sources they describe, independently of the
daemon's C code, so that a test compares the daemon against an expectation it
did not produce itself.
"""

import hashlib

# containerd's default gRPC address: an input of the computed shim address.
DEFAULT_DAEMON_ADDRESS = "/run/containerd/containerd.sock"


# -------------------------------------------------------- Go's path/filepath

def go_clean(p):
    """Go's filepath.Clean (Unix)."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    out = []
    for el in p.split("/"):
        if el in ("", "."):
            continue
        if el == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(el)
    res = "/".join(out)
    if rooted:
        res = "/" + res
    return res or "."


def go_join(*elems):
    """Go's filepath.Join: skip empty elements, join with '/', Clean; all empty: ""."""
    parts = [e for e in elems if e != ""]
    if not parts:
        return ""
    return go_clean("/".join(parts))


def computed_address(socket_root, daemon_address, ns, bid):
    """The shim address containerd computes: unix://<socket_root>/s/<sha256 of
    Join(daemon_address, ns, bid)> (SPEC 4.3)."""
    digest = hashlib.sha256(go_join(daemon_address, ns, bid).encode()).hexdigest()
    return "unix://" + go_join(socket_root, "s") + "/" + digest


def legacy_address(ns, bid):
    """The v1 shim's legacy abstract address (SPEC 4.3, legacy_address)."""
    return go_join("/", "containerd-shim", ns, bid, "shim.sock")


# ------------------------------------------------------- Go's encoding/json

def go_json_string(s):
    """A string as Go's json.Marshal writes it (HTML-safe escaping)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def shim_config_text(path, ns, workdir, criu, runtime_root, systemd_cgroup):
    """The v1 shim.Config as json.Marshal writes it, plus one newline (SPEC 4.4)."""
    return ("{"
            f'"Path":{go_json_string(path)},'
            f'"Namespace":{go_json_string(ns)},'
            f'"WorkDir":{go_json_string(workdir)},'
            f'"Criu":{go_json_string(criu)},'
            f'"RuntimeRoot":{go_json_string(runtime_root)},'
            f'"SystemdCgroup":{"true" if systemd_cgroup else "false"}'
            "}\n").encode()


def shim_config_v2_text(path, ns, bid, group, workdir, address, binary, runc_root,
                        runc_binary, systemd_cgroup, sandbox=""):
    """The v2 shim-config (SPEC 7.2) as json.Marshal writes it, plus one newline."""
    fields = [("Path", path), ("Namespace", ns), ("ID", bid), ("Group", group),
              ("WorkDir", workdir), ("Address", address), ("Sandbox", sandbox),
              ("Binary", binary),
              ("RuncRoot", runc_root), ("RuncBinary", runc_binary)]
    body = ",".join(f'"{k}":{go_json_string(v)}' for k, v in fields)
    return ("{" + body + f',"SystemdCgroup":{"true" if systemd_cgroup else "false"}'
            + "}\n").encode()
