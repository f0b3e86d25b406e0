# SPDX-License-Identifier: Apache-2.0
"""pods/ (SPEC 8.3 and docs/SPEC.md's decisions): pods by kubelet's name,
from bundles' CRI annotations, and following the bundles."""

import json
import os

import pytest

from bfstest import SANDBOX_PLUGIN, V1_PLUGIN, V2_PLUGIN
from node_helpers import (CNAME_KEY, NAME_KEY, NS_KEY, TYPE_KEY, UID_KEY, bundle_beside, cri,
                          pods, put_beside, remove_beside, wait_until)

ALL = (V2_PLUGIN, V1_PLUGIN, SANDBOX_PLUGIN)
POD = "default_web_u1"


def sb(plugin, ns, bid):
    return f"../../{plugin}/{ns}/{bid}"


def ct(plugin, ns, bid):
    return f"../../../{plugin}/{ns}/{bid}"


def test_a_pod_with_its_sandbox_and_containers(node_mount):
    def prepare(fs):
        bundle_beside(fs, SANDBOX_PLUGIN, "k8s.io", "s1", cri("default", "web", "u1", "sandbox"))
        bundle_beside(fs, V2_PLUGIN, "k8s.io", "c1", cri("default", "web", "u1", "container", "app"))
        bundle_beside(fs, V2_PLUGIN, "k8s.io", "c2", cri("default", "web", "u1", "container", "log"))
        bundle_beside(fs, V1_PLUGIN, "moby", "c3", cri("kube-system", "dns", "u2", "container", "d"))
    fs = node_mount(plugins=ALL, prepare=prepare)
    assert pods(fs.mountpoint) == {
        POD: {"links": {"sandbox": sb(SANDBOX_PLUGIN, "k8s.io", "s1")},
              "containers": {"app": ct(V2_PLUGIN, "k8s.io", "c1"),
                             "log": ct(V2_PLUGIN, "k8s.io", "c2")}},
        "kube-system_dns_u2": {"links": {}, "containers": {"d": ct(V1_PLUGIN, "moby", "c3")}},
    }
    # The links resolve through the mount, to the bundles' own status.
    app = os.path.join(fs.mountpoint, "pods", POD, "containers", "app")
    assert os.path.samefile(app, os.path.join(fs.mountpoint, V2_PLUGIN, "k8s.io", "c1"))
    assert json.load(open(os.path.join(app, "status")))["complete"] is True
    assert sorted(os.listdir(os.path.join(fs.mountpoint, "pods"))) == sorted(pods(fs.mountpoint))


CORNERS = {
    # name: (annotations or raw text, claims?)
    "missing uid": ({NS_KEY: "default", NAME_KEY: "web", TYPE_KEY: "sandbox"}, False),
    "missing type": ({NS_KEY: "default", NAME_KEY: "web", UID_KEY: "u1"}, False),
    "container without name": (cri("default", "web", "u1", "container"), False),
    "other type": (cri("default", "web", "u1", "podsandbox"), False),
    "non-string value": ('{"ociVersion":"1.1.0","annotations":{"%s":"default","%s":"web",'
                         '"%s":7,"%s":"sandbox"}}' % (NS_KEY, NAME_KEY, UID_KEY, TYPE_KEY), False),
    "name with a slash": (cri("default", "we/b", "u1", "sandbox"), False),
    "container named ..": (cri("default", "web", "u1", "container", ".."), False),
    "empty pod name parts": (cri("", "", "", "sandbox"), True),  # "__" is a name
    # Go's decoder: a repeated "annotations" key (folded) decodes into the same
    # map, keeping what the first put there; the last value of a name wins.
    "repeated annotations key": ('{"annotations":{"x":"y"},"Annotations":{"%s":"default",'
                                 '"%s":"web","%s":"u1","%s":"sandbox"}}'
                                 % (NS_KEY, NAME_KEY, UID_KEY, TYPE_KEY), True),
    "repeated annotations key, last empty": ('{"annotations":{"%s":"default","%s":"web",'
                                             '"%s":"u1","%s":"sandbox"},"annotations":{}}'
                                             % (NS_KEY, NAME_KEY, UID_KEY, TYPE_KEY), True),
    "repeated annotation, last not a string": ('{"annotations":{"%s":"default","%s":"web",'
                                               '"%s":"u1","%s":"sandbox"},"ANNOTATIONS":{"%s":1}}'
                                               % (NS_KEY, NAME_KEY, UID_KEY, TYPE_KEY, UID_KEY),
                                               False),
    "null container name": ('{"annotations":{"%s":"default","%s":"web","%s":"u1","%s":'
                            '"container","%s":null}}'
                            % (NS_KEY, NAME_KEY, UID_KEY, TYPE_KEY, CNAME_KEY), False),
}


@pytest.mark.parametrize("case", sorted(CORNERS))
def test_annotation_corner_cases(node_mount, case):
    what, claims = CORNERS[case]

    def prepare(fs):
        if isinstance(what, str):
            bundle_beside(fs, V2_PLUGIN, "k8s.io", "b1", raw=what)
        else:
            bundle_beside(fs, V2_PLUGIN, "k8s.io", "b1", what)
    fs = node_mount(prepare=prepare)
    got = pods(fs.mountpoint)
    if not claims:
        assert got == {}
    else:
        assert len(got) == 1 and list(got.values())[0]["links"] == {
            "sandbox": sb(V2_PLUGIN, "k8s.io", "b1")}


def test_two_bundles_claiming_one_name(node_mount):
    def prepare(fs):
        for bid in ("s1", "s2"):
            bundle_beside(fs, V2_PLUGIN, "k8s.io", bid, cri("default", "web", "u1", "sandbox"))
        for bid in ("c1", "c2"):
            bundle_beside(fs, V2_PLUGIN, "k8s.io", bid,
                          cri("default", "web", "u1", "container", "app"))
        # The same id in two plugins claiming one name: listed once, the runtime's.
        for pl in (V2_PLUGIN, SANDBOX_PLUGIN):
            bundle_beside(fs, pl, "k8s.io", "c9", cri("default", "web", "u1", "container", "x"))
    fs = node_mount(plugins=(V2_PLUGIN, SANDBOX_PLUGIN), prepare=prepare)
    assert pods(fs.mountpoint) == {POD: {
        "links": {"sandbox.s1": sb(V2_PLUGIN, "k8s.io", "s1"),
                  "sandbox.s2": sb(V2_PLUGIN, "k8s.io", "s2")},
        "containers": {"app.c1": ct(V2_PLUGIN, "k8s.io", "c1"),
                       "app.c2": ct(V2_PLUGIN, "k8s.io", "c2"),
                       "x.c9": ct(V2_PLUGIN, "k8s.io", "c9")}}}
    # One claimant goes: the other takes the bare name.
    remove_beside(fs, V2_PLUGIN, "k8s.io", "s2")
    assert wait_until(lambda: pods(fs.mountpoint)[POD]["links"] == {
        "sandbox": sb(V2_PLUGIN, "k8s.io", "s1")})


def test_a_pod_without_its_sandbox_bundle(node_mount):
    def prepare(fs):
        bundle_beside(fs, V2_PLUGIN, "k8s.io", "c1", cri("default", "web", "u1", "container", "a"))
    fs = node_mount(prepare=prepare)
    assert pods(fs.mountpoint) == {POD: {"links": {},
                                         "containers": {"a": ct(V2_PLUGIN, "k8s.io", "c1")}}}
    assert sorted(os.listdir(os.path.join(fs.mountpoint, "pods", POD))) == ["containers"]


def test_pods_follow_bundles_beside_the_mount(node_mount):
    """Made, completed, rewritten, removed beside the mount: pods/ follows
    (each polled with a deadline; 4.8 gives 100 ms, the bound is generous)."""
    fs = node_mount(plugins=(V2_PLUGIN, SANDBOX_PLUGIN))
    top = fs.mountpoint
    assert pods(top) == {}
    d = bundle_beside(fs, SANDBOX_PLUGIN, "k8s.io", "s1", complete=False)
    # Incomplete: not in pods/ (a looked-up name is cached as absent briefly).
    assert not os.path.exists(os.path.join(top, "pods", POD))
    put_beside(os.path.join(d, "config.json"),
               json.dumps({"annotations": cri("default", "web", "u1", "sandbox")}))
    assert wait_until(lambda: os.path.islink(os.path.join(top, "pods", POD, "sandbox")))
    c = bundle_beside(fs, V2_PLUGIN, "k8s.io", "c1", cri("default", "web", "u1", "container", "a"))
    assert wait_until(lambda: os.listdir(os.path.join(top, "pods", POD, "containers")) == ["a"])
    # Rewritten in place (a complete bundle has no watch: the listing's rescan sees it).
    put_beside(os.path.join(c, "config.json"),
               json.dumps({"annotations": cri("default", "web", "u1", "container", "b")}))
    assert wait_until(lambda: os.listdir(os.path.join(top, "pods", POD, "containers")) == ["b"])
    remove_beside(fs, V2_PLUGIN, "k8s.io", "c1")
    assert wait_until(lambda: os.listdir(os.path.join(top, "pods", POD, "containers")) == [])
    remove_beside(fs, SANDBOX_PLUGIN, "k8s.io", "s1")
    assert wait_until(lambda: os.listdir(os.path.join(top, "pods")) == [])
    assert wait_until(lambda: not os.path.exists(os.path.join(top, "pods", POD)))


def test_rewrite_beside_shows_in_a_listing_below_pods(node_mount):
    """A config.json rewritten in place beside the mount, in a bundle that
    was complete when the mount started (the index follows no event of it),
    shows within a second in a listing of pods/<pod>/containers/ alone: any
    listing below pods/ rescans an index older than a second (SPEC 4.8)."""
    def prepare(fs):
        bundle_beside(fs, V2_PLUGIN, "k8s.io", "c1", cri("default", "web", "u1", "container", "a"))
    fs = node_mount(prepare=prepare)
    containers = os.path.join(fs.mountpoint, "pods", POD, "containers")
    assert os.listdir(containers) == ["a"]
    put_beside(os.path.join(fs.cs, V2_PLUGIN, "k8s.io", "c1", "config.json"),
               json.dumps({"annotations": cri("default", "web", "u1", "container", "b")}))
    assert wait_until(lambda: os.listdir(containers) == ["b"], timeout=5.0)


def test_pods_follow_changes_through_the_mount(node_mount):
    fs = node_mount(plugins=(V2_PLUGIN,))
    top = fs.mountpoint
    b = os.path.join(top, V2_PLUGIN, "k8s.io", "c1")
    os.makedirs(b)
    with open(os.path.join(b, "config.json"), "w") as f:
        f.write(json.dumps({"ociVersion": "1.1.0",
                            "annotations": cri("default", "web", "u1", "container", "a")}))
    assert wait_until(lambda: os.listdir(os.path.join(top, "pods")) == [POD])
    assert os.readlink(os.path.join(top, "pods", POD, "containers", "a")) == ct(
        V2_PLUGIN, "k8s.io", "c1")
    os.rmdir(b)
    assert wait_until(lambda: os.listdir(os.path.join(top, "pods")) == [])
    assert wait_until(lambda: not os.path.lexists(os.path.join(top, "pods", POD)))


def test_plugin_dir_made_after_the_mount_feeds_pods(node_mount):
    fs = node_mount(plugins=(V2_PLUGIN,))
    os.mkdir(os.path.join(fs.cs, V1_PLUGIN))
    bundle_beside(fs, V1_PLUGIN, "moby", "c1", cri("default", "web", "u1", "container", "a"))
    assert wait_until(lambda: pods(fs.mountpoint).get(POD, {}).get("containers") == {
        "a": ct(V1_PLUGIN, "moby", "c1")})
