/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the runtime-v2 bundle semantics (SPEC 7): the group rule
 * (spec_group), addresses (v2_address, with the vectors of
 * reference/CONTAINERD-V2.md), options.json, the v2 shim-config, and
 * bundle_create / bundle_delete on real directories. Runs
 * as root in a private mount namespace (bind mounts are part of what is
 * tested), under umask 0.
 */
#include "addr.h"
#include "bundle.h"
#include "shimcfg.h"
#include "spec.h"
#include "store.h"
#include "tree.h"
#include "v2.h"

#include "log.h"
#include "check.h"
#include "fsfixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#define HEX_C1 "d25aa4ef11a84e954e74a5bcff06557d0b6ea8d0c00243896f29826694bbd888"
#define HEX_SB1 "c8b3756a389f9a824c34560159e9b9b56e7772ccd268a813a0c4f36ea276c49e"
/* Join(/run/containerd/containerd.sock, default, c1, debug): CONTAINERD-V2.md */
#define HEX_C1_DEBUG "3c26dcd5c4a5937250e0cb81a75fbad35bcc7a20d35d1a0f3a4da34928b0ae5a"

static struct store st;
/* The store as v2 bundles' (bundle.h). */
static struct bundle_conf v2;

static void quiet_sink(enum blog_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

static int mode_of(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) < 0 ? -1 : (int)(sb.st_mode & 07777);
}

static bool is_dir_mode(const char *path, int mode)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode) && (int)(sb.st_mode & 07777) == mode;
}

static bool owner_is(const char *path, uid_t uid, gid_t gid)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && sb.st_uid == uid && sb.st_gid == gid;
}

static bool link_is(const char *path, const char *want)
{
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return !strcmp(buf, want);
}

/* ---- the group (SPEC 7.2) ---- */

struct group_case {
	const char *json; /* NULL: no config.json */
	const char *want;
};

#define G "\"io.containerd.runc.v2.group\""
#define SB "\"io.kubernetes.cri.sandbox-id\""

static const struct group_case group_cases[] = {
    {NULL, "c1"},
    {"", "c1"},
    {"{}", "c1"},
    {"{\"annotations\":{" G ":\"g1\"}}", "g1"},
    {"{\"annotations\":{" SB ":\"sb1\"}}", "sb1"},
    {"{\"annotations\":{" SB ":\"sb1\"," G ":\"g1\"}}", "g1"},
    {"{\"annotations\":{" G ":\"g1\"," SB ":\"sb1\"}}", "g1"},
    {"{\"annotations\":{" G ":\"\"," SB ":\"sb1\"}}", ""},
    {"{\"annotations\":{" SB ":\"\"}}", ""},
    {"{\"annotations\":{" G ":null," SB ":\"sb1\"}}", ""},
    {"{\"annotations\":{\"other\":\"x\"}}", "c1"},
    /* names are exact */
    {"{\"annotations\":{\"IO.containerd.runc.v2.group\":\"g1\"}}", "c1"},
    {"{\"annotations\":{\"\\u0069o.containerd.runc.v2.group\":\"g1\"}}", "g1"},
    /* non-string values: Unmarshal fails, the id */
    {"{\"annotations\":{" G ":1}}", "c1"},
    {"{\"annotations\":{" G ":true}}", "c1"},
    {"{\"annotations\":{" G ":{}}}", "c1"},
    {"{\"annotations\":{" G ":[\"g\"]}}", "c1"},
    {"{\"annotations\":{\"other\":2," G ":\"g1\"}}", "c1"},
    {"{\"annotations\":\"g1\"}", "c1"},
    {"{\"annotations\":[]}", "c1"},
    {"{\"annotations\":1}", "c1"},
    /* the annotations key folds; a type error elsewhere does not matter */
    {"{\"Annotations\":{" G ":\"g1\"}}", "g1"},
    {"{\"ANNOTATIONS\":{" G ":\"g1\"}}", "g1"},
    {"{\"annotation\\u017f\":{" G ":\"g1\"}}", "g1"},
    {"{\"annotation\xc5\xbf\":{" G ":\"g1\"}}", "g1"},
    {"{\"annotations \":{" G ":\"g1\"}}", "c1"},
    {"{\"linux\":\"not an object\",\"annotations\":{" G ":\"g1\"}}", "g1"},
    /* duplicates: the maps merge, a null empties, the last value wins */
    {"{\"annotations\":{" SB ":\"sb1\"},\"annotations\":{\"x\":\"y\"}}", "sb1"},
    {"{\"annotations\":{" SB ":\"sb1\"},\"Annotations\":{" G ":\"g1\"}}", "g1"},
    {"{\"annotations\":{" G ":\"g1\"},\"annotations\":null}", "c1"},
    {"{\"annotations\":{" G ":\"g1\"},\"annotations\":null,\"annotations\":{" SB ":\"s\"}}", "s"},
    {"{\"annotations\":{" G ":\"g1\"," G ":\"g2\"}}", "g2"},
    {"{\"annotations\":{" G ":\"g1\"},\"annotations\":{" G ":\"g3\"}}", "g3"},
    {"{\"annotations\":{" G ":\"g1\"},\"annotations\":{" G ":1}}", "c1"},
    /* invalid JSON or not an object */
    {"{\"annotations\":{" G ":\"g1\"}", "c1"},
    {"{\"annotations\":{" G ":\"g1\"}} x", "c1"},
    {"{\"annotations\":{" G ":\"g1\",}}", "c1"},
    {"null", "c1"},
    {"[]", "c1"},
    {"\"x\"", "c1"},
    {" {\"annotations\" : { " G " : \"g1\" } } \n", "g1"},
    /* the value is unquoted as Go does */
    {"{\"annotations\":{" G ":\"a\\/b\\u00e9\"}}", "a/b\xc3\xa9"},
    {"{\"annotations\":{" G ":\"\\ud83d\\ude00\"}}", "\xf0\x9f\x98\x80"},
    {"{\"annotations\":{" G ":\"\\ud800x\"}}", "\xef\xbf\xbdx"},
    {"{\"annotations\":{" G ":\"\xff\"}}", "\xef\xbf\xbd"},
};

static void test_group(void)
{
	char *g;
	size_t n;
	int ret;

	for (size_t i = 0; i < sizeof(group_cases) / sizeof(group_cases[0]); i++) {
		const struct group_case *c = &group_cases[i];

		ret = spec_group(c->json, c->json ? strlen(c->json) : 0, "c1", &g, &n);
		CHECK(ret == 0 && n == strlen(c->want) && !memcmp(g, c->want, n),
		      "group of %s: %d '%s', want '%s'", c->json ? c->json : "(none)", ret,
		      ret == 0 ? g : "", c->want);
		if (ret == 0)
			free(g);
	}
	/* a NUL byte in the value is kept, with its length */
	ret = spec_group("{\"annotations\":{" G ":\"a\\u0000b\"}}",
			 strlen("{\"annotations\":{" G ":\"a\\u0000b\"}}"), "c1", &g, &n);
	CHECK(ret == 0 && n == 3 && !memcmp(g, "a\0b", 3), "group with NUL: %d %zu", ret, n);
	if (ret == 0)
		free(g);
}

/* ---- spec_decode_fields ---- */

static void test_fields(void)
{
	struct spec_field f[] = {
	    {.upper = "ADDRESS", .kind = SPEC_FIELD_STRING},
	    {.upper = "SYSTEMD_CGROUP", .kind = SPEC_FIELD_BOOL},
	};
	const char *ok = "{\"version\":3,\"Address\":\"a1\",\"address\":\"a2\",\"systemd_cgroup\":"
			 "true,\"systemd_cgroup\":null}";

	CHECK(spec_decode_fields(ok, strlen(ok), f, 2) == 0, "fields: decode");
	CHECK(f[0].set && f[0].slen == 2 && !strcmp(f[0].s, "a2"), "fields: last string wins");
	CHECK(f[1].set && f[1].b, "fields: null leaves the bool");
	spec_fields_free(f, 2);
	CHECK(spec_decode_fields("{\"address\":1}", 13, f, 2) == -EINVAL && !f[0].s,
	      "fields: a number for a string");
	CHECK(spec_decode_fields("{\"systemd_cgroup\":\"true\"}", 25, f, 2) == -EINVAL,
	      "fields: a string for a bool");
	CHECK(spec_decode_fields("null", 4, f, 2) == -EINVAL, "fields: null top level");
	CHECK(spec_decode_fields("[]", 2, f, 2) == -EINVAL, "fields: array top level");
	CHECK(spec_decode_fields("{", 1, f, 2) == -EINVAL, "fields: invalid");
	CHECK(spec_decode_fields("{\"x\":[1,{}]}", 12, f, 2) == 0 && !f[0].set && !f[1].set,
	      "fields: unknown keys");
	spec_fields_free(f, 2);
}

/* ---- bundles on disk: address, options.json, shim-config ---- */

/* state_fd is set to the fixture's S in main. */
static struct v2_node node = {
    .socket_root = "/run/containerd",
    .daemon_address = "/run/containerd/containerd.sock",
    .bundle_root = "/run/containerd/io.containerd.runtime.v2.task",
    .work_root = "/var/lib/containerd/io.containerd.runtime.v2.task",
    .state_fd = -1,
};

/* A bundle directory state/<ns>/<id> for the read-side tests, and its descriptor. */
static int plain_bundle(const char *ns, const char *id)
{
	int fd;

	mkd(P("state/%s", ns), 0711);
	mkd(P("state/%s/%s", ns, id), 0700);
	fd = open(P("state/%s/%s", ns, id), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(fd, "open bundle");
	return fd;
}

static bool address_is(int bfd, const char *ns, const char *id, const char *want, size_t wlen)
{
	char *a;
	size_t n;
	int ret = v2_address(bfd, &node, ns, id, &a, &n);
	bool ok = ret == 0 && n == wlen && !memcmp(a, want, n);

	if (!ok)
		fprintf(stderr, "address of %s/%s: %d '%s', want '%s'\n", ns, id, ret,
			ret == 0 ? a : "", want);
	if (ret == 0)
		free(a);
	return ok;
}

#define ADDR(hex) "unix:///run/containerd/s/" hex
#define AS(s) s, strlen(s)

/* containerd 2.3's bootstrap.json, as tests/godiff's godiff.go writes them; NULL: no address. */
static const struct {
	const char *json, *address;
} bootstrap23[] = {
    {"{\"version\":3,\"address\":\"unix:///run/containerd/s/"
     "e4255c28c795a692f252b1e1601b5fa0bf42d291df05cb500608f316d4f8ba3b\",\"protocol\":"
     "\"ttrpc\"}",
     "unix:///run/containerd/s/e4255c28c795a692f252b1e1601b5fa0bf42d291df05cb500608f316d4f8ba3b"},
    {"{\"version\":3,\"address\":\"unix:///run/containerd/s/abc\",\"protocol\":\"ttrpc\","
     "\"capabilities\":[0],\"metadata\":{\"k\":\"v\"}}",
     "unix:///run/containerd/s/abc"},
    {"{\"version\":3,\"address\":\"unix:///run/containerd/s/this\",\"protocol\":\"ttrpc\","
     "\"metadata\":{\"a\":\"1\",\"address\":\"unix:///not/this\",\"z\":\"\"}}",
     "unix:///run/containerd/s/this"},
    {"{\"version\":3,\"protocol\":\"ttrpc\"}", NULL},
    {"{}", NULL},
    {"{\"address\":\"unix:///run/containerd/s/v0\",\"protocol\":\"ttrpc\"}",
     "unix:///run/containerd/s/v0"},
    {"{\"version\":3,\"address\":\"vsock://3:1024\",\"protocol\":\"grpc\",\"capabilities\":"
     "[0,7]}",
     "vsock://3:1024"},
    {"{\"version\":2,\"address\":\"unix:///run/containerd/s/a\\u0026b\\u003cc\\u003e\","
     "\"protocol\":\"ttrpc\",\"metadata\":{\"\\u0000\":\"\\ufffd\",\"\\u003c\\u0026\\u003e\":"
     "\"\\u2028\\\"\\\\\"}}",
     "unix:///run/containerd/s/a&b<c>"},
    {"{\"version\":3,\"address\":\"unix:///run/containerd/s/caps\"}",
     "unix:///run/containerd/s/caps"},
};

static void test_address(void)
{
	int bfd = plain_bundle("default", "c1");
	int sfd = plain_bundle("k8s.io", "ctr");
	size_t n;
	char *a, *b;

	/* computed: the vectors, and a group */
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))), "computed default/c1");
	put(P("state/k8s.io/ctr/config.json"), "{\"annotations\":{" SB ":\"sb1\"}}");
	CHECK(address_is(sfd, "k8s.io", "ctr", AS(ADDR(HEX_SB1))), "computed k8s.io/sb1 group");
	a = addr_computed("/run/containerd", "/run/containerd/containerd.sock", "k8s.io", "sb1");
	CHECK(a && !strcmp(a, ADDR(HEX_SB1)), "addr_computed vector sb1");
	free(a);
	put(P("state/default/c1/config.json"), "{\"annotations\":{" G ":\"sb1\"}}");
	b = addr_computed(node.socket_root, node.daemon_address, "default", "sb1");
	CHECK(b && v2_address(bfd, &node, "default", "c1", &a, &n) == 0 && !strcmp(a, b),
	      "the group, not the id, is hashed");
	free(b);
	free(a);
	put(P("state/default/c1/config.json"), "{\"annotations\":{\"x\":\"y\"}}");

	/* bootstrap.json */
	put(P("state/default/c1/bootstrap.json"),
	    "{\"version\":3,\"address\":\"unix:///run/containerd/s/boot\",\"protocol\":\"ttrpc\"}");
	CHECK(address_is(bfd, "default", "c1", AS("unix:///run/containerd/s/boot")),
	      "bootstrap.json address");
	put(P("state/default/c1/bootstrap.json"), "[\"unix:///x\"]");
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))), "bootstrap.json not an object");
	put(P("state/default/c1/bootstrap.json"), "{\"address\":42}");
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))), "bootstrap.json address number");
	put(P("state/default/c1/bootstrap.json"), "{\"address\":null}");
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))), "bootstrap.json address null");
	put(P("state/default/c1/bootstrap.json"), "{\"address\":\"a\"");
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))), "bootstrap.json invalid");
	must(unlink(P("state/default/c1/bootstrap.json")), "rm bootstrap");
	put(P("outside-boot"), "{\"address\":\"unix:///outside\"}");
	must(symlink(P("outside-boot"), P("state/default/c1/bootstrap.json")), "symlink bootstrap");
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))),
	      "bootstrap.json symlink followed");
	must(unlink(P("state/default/c1/bootstrap.json")), "rm bootstrap link");
	mkd(P("state/default/c1/bootstrap.json"), 0755);
	CHECK(address_is(bfd, "default", "c1", AS(ADDR(HEX_C1))), "bootstrap.json directory");
	must(rmdir(P("state/default/c1/bootstrap.json")), "rmdir bootstrap");

	/*
	 * containerd 2.3: json.Marshal of the protobuf-generated BootstrapResult
	 * (api/runtime/bootstrap/v1), every key with an empty value left out,
	 * capabilities and metadata beside the address (tests/godiff makes these).
	 */
	for (size_t i = 0; i < sizeof(bootstrap23) / sizeof(bootstrap23[0]); i++) {
		const char *want = bootstrap23[i].address ? bootstrap23[i].address : ADDR(HEX_C1);

		put(P("state/default/c1/bootstrap.json"), bootstrap23[i].json);
		CHECK(address_is(bfd, "default", "c1", AS(want)), "2.3 bootstrap.json %s",
		      bootstrap23[i].json);
	}
	must(unlink(P("state/default/c1/bootstrap.json")), "rm bootstrap");

	/* a stored address wins, verbatim; a symlink there is not one */
	put(P("state/default/c1/bootstrap.json"), "{\"address\":\"unix:///boot\"}");
	putn(P("state/default/c1/address"), "unix:///stored\n\0x", 17);
	CHECK(address_is(bfd, "default", "c1", "unix:///stored\n\0x", 17), "stored address");
	must(unlink(P("state/default/c1/address")), "rm address");
	put(P("outside-addr"), "unix:///outside");
	must(symlink(P("outside-addr"), P("state/default/c1/address")), "symlink address");
	CHECK(address_is(bfd, "default", "c1", AS("unix:///boot")), "address symlink followed");
	must(unlink(P("state/default/c1/address")), "rm address link");
	must(unlink(P("state/default/c1/bootstrap.json")), "rm bootstrap");

	/* the shim's debug socket: the group's, whatever address is stored */
	put(P("state/default/c1/address"), "unix:///stored");
	CHECK(v2_debug_address(bfd, &node, "default", "c1", &a, &n) == 0 &&
		  !strcmp(a, ADDR(HEX_C1_DEBUG)) && n == strlen(a),
	      "debug address default/c1");
	free(a);
	must(unlink(P("state/default/c1/address")), "rm address");
	b = addr_computed(node.socket_root, node.daemon_address, "k8s.io", "sb1/debug");
	CHECK(b && v2_debug_address(sfd, &node, "k8s.io", "ctr", &a, &n) == 0 && !strcmp(a, b),
	      "debug address of the group sb1");
	free(a);
	free(b);
	put(P("state/k8s.io/ctr/config.json"), "{\"annotations\":{" SB ":\"\"}}");
	b = addr_computed(node.socket_root, node.daemon_address, "k8s.io", "debug");
	CHECK(b && v2_debug_address(sfd, &node, "k8s.io", "ctr", &a, &n) == 0 && !strcmp(a, b),
	      "an empty group: Join leaves it out");
	free(a);
	free(b);
	close(bfd);
	close(sfd);
}

static void test_options(void)
{
	int bfd = plain_bundle("opt", "b");
	struct v2_options o;

	CHECK(v2_options_read(bfd, &o) == 0 && !o.present && !o.root && !o.binary_name &&
		  !o.systemd_cgroup,
	      "options.json absent");
	v2_options_free(&o);
	put(P("state/opt/b/options.json"), "{}");
	CHECK(v2_options_read(bfd, &o) == 0 && o.present && !o.root && !o.binary_name &&
		  !o.systemd_cgroup,
	      "options.json {}");
	v2_options_free(&o);
	put(P("state/opt/b/options.json"),
	    "{\"binary_name\":\"/usr/sbin/runc\",\"root\":\"/X\",\"systemd_cgroup\":true,"
	    "\"no_pivot_root\":true}");
	CHECK(v2_options_read(bfd, &o) == 0 && o.present && o.root && !strcmp(o.root, "/X") &&
		  o.binary_name && !strcmp(o.binary_name, "/usr/sbin/runc") && o.systemd_cgroup,
	      "options.json values");
	v2_options_free(&o);
	put(P("state/opt/b/options.json"), "{\"root\":1}");
	CHECK(v2_options_read(bfd, &o) == 0 && !o.present && !o.root, "options.json root number");
	v2_options_free(&o);
	put(P("state/opt/b/options.json"), "\"x\"");
	CHECK(v2_options_read(bfd, &o) == 0 && !o.present, "options.json not an object");
	v2_options_free(&o);
	must(unlink(P("state/opt/b/options.json")), "rm options");
	put(P("outside-opts"), "{\"root\":\"/evil\"}");
	must(symlink(P("outside-opts"), P("state/opt/b/options.json")), "symlink options");
	CHECK(v2_options_read(bfd, &o) == 0 && !o.present, "options.json symlink followed");
	v2_options_free(&o);
	must(unlink(P("state/opt/b/options.json")), "rm options link");
	close(bfd);
}

static bool shimcfg_is(int bfd, const char *ns, const char *id, const char *want)
{
	char *text;
	size_t n;
	int ret = v2_shimcfg(bfd, &node, ns, id, &text, &n);
	bool ok = ret == 0 && n == strlen(want) && !strcmp(text, want);

	if (!ok)
		fprintf(stderr, "shim-config: %d\n got %s\nwant %s", ret, ret == 0 ? text : "",
			want);
	if (ret == 0)
		free(text);
	return ok;
}

#define SR "/run/containerd/io.containerd.runtime.v2.task"
#define WR "/var/lib/containerd/io.containerd.runtime.v2.task"

static void test_shimcfg(void)
{
	int bfd = plain_bundle("default", "c1");
	struct shimcfg_node sn = {.bundle_root = "/b", .work_root = "/w"};
	struct shimcfg_v2_bundle b = {
	    .ns = "n<s>",
	    .id = "i&d",
	    .group = "g\"\\\n\x01\xff\xe2\x80\xa8\0",
	    .group_len = 10,
	    .address = "a",
	    .address_len = 1,
	};
	char *text;

	CHECK(
	    shimcfg_is(bfd, "default", "c1",
		       "{\"Path\":\"" SR "/default/c1\",\"Namespace\":\"default\",\"ID\":\"c1\","
		       "\"Group\":\"c1\",\"WorkDir\":\"" WR "/default/c1\",\"Address\":\"" ADDR(
			   HEX_C1) "\",\"Sandbox\":\"\",\"Binary\":\"\",\"RuncRoot\":\"/run/"
				   "containerd/runc/"
				   "default\",\"RuncBinary\":\"runc\",\"SystemdCgroup\":false}\n"),
	    "shim-config defaults");
	put(P("state/default/c1/shim-binary-path"), "/usr/bin/containerd-shim-runc-v2");
	put(P("state/default/c1/options.json"),
	    "{\"binary_name\":\"/usr/sbin/runc\",\"root\":\"/X/\",\"systemd_cgroup\":true}");
	put(P("state/default/c1/config.json"), "{\"annotations\":{" G ":\"grp\"}}");
	put(P("state/default/c1/address"), "unix:///stored");
	CHECK(shimcfg_is(bfd, "default", "c1",
			 "{\"Path\":\"" SR "/default/c1\",\"Namespace\":\"default\",\"ID\":\"c1\","
			 "\"Group\":\"grp\",\"WorkDir\":\"" WR "/default/c1\",\"Address\":"
			 "\"unix:///stored\",\"Sandbox\":\"\",\"Binary\":\"/usr/bin/"
			 "containerd-shim-runc-v2\","
			 "\"RuncRoot\":\"/X/default\",\"RuncBinary\":\"/usr/sbin/runc\","
			 "\"SystemdCgroup\":true}\n"),
	      "shim-config with options.json and shim-binary-path");
	put(P("state/default/c1/options.json"), "{\"binary_name\":\"\",\"root\":\"\"}");
	must(unlink(P("state/default/c1/address")), "rm address");
	must(unlink(P("state/default/c1/shim-binary-path")), "rm sbp");
	must(symlink("/etc/hostname", P("state/default/c1/shim-binary-path")), "sbp link");
	CHECK(shimcfg_is(
		  bfd, "default", "c1",
		  "{\"Path\":\"" SR "/default/c1\",\"Namespace\":\"default\",\"ID\":\"c1\","
		  "\"Group\":\"grp\",\"WorkDir\":\"" WR "/default/c1\",\"Address\":"
		  "\"unix:///run/containerd/s/"
		  "376c6348c8b2da0092c578f382cde531d1a5008428a4224c41b83f848672c2a0\","
		  "\"Sandbox\":\"\",\"Binary\":\"\",\"RuncRoot\":\"/run/containerd/runc/default\","
		  "\"RuncBinary\":\"runc\",\"SystemdCgroup\":false}\n"),
	      "shim-config: empty options, a symlinked shim-binary-path, the group's address");
	close(bfd);

	/* escaping as json.Marshal, NUL bytes included */
	text = shimcfg_render_v2(&sn, &b, NULL);
	CHECK(text &&
		  !strcmp(text, "{\"Path\":\"/b/n\\u003cs\\u003e/i\\u0026d\",\"Namespace\":"
				"\"n\\u003cs\\u003e\",\"ID\":\"i\\u0026d\",\"Group\":"
				"\"g\\\"\\\\\\n\\u0001\\ufffd\\u2028\\u0000\",\"WorkDir\":\"/w/"
				"n\\u003cs\\u003e/i\\u0026d\",\"Address\":\"a\",\"Sandbox\":\"\","
				"\"Binary\":\"\","
				"\"RuncRoot\":\"/run/containerd/runc/n\\u003cs\\u003e\","
				"\"RuncBinary\":\"runc\",\"SystemdCgroup\":false}\n"),
	      "shim-config escaping: %s", text ? text : "(null)");
	free(text);
}

/* A string key of the bundle's shim-config (static buffer), or "ERR"/"MISSING". */
static const char *cfg_string(int bfd, const char *ns, const char *id, const char *key)
{
	static char buf[4096];
	struct json_object *root, *v;
	char *text;
	size_t n;

	if (v2_shimcfg(bfd, &node, ns, id, &text, &n) < 0)
		return "ERR";
	root = json_tokener_parse(text);
	free(text);
	if (root == NULL)
		return "ERR";
	if (!json_object_object_get_ex(root, key, &v) || !json_object_is_type(v, json_type_string))
		snprintf(buf, sizeof(buf), "MISSING");
	else
		snprintf(buf, sizeof(buf), "%s", json_object_get_string(v));
	json_object_put(root);
	return buf;
}

#define SBP "/opt/cd2/bin/containerd-shim-runc-v2"

/*
 * A pod as containerd 2.x lays it out (SPEC 7.2, 7.4): the sandbox's bundle
 * holds the shim-binary-path of the shim it started; each container holds
 * `sandbox` naming it, and no shim-binary-path.
 */
static void test_sandbox(void)
{
	int sb = plain_bundle("k8s.io", "sb0");
	int c1 = plain_bundle("k8s.io", "ctr1");
	char *v = NULL;
	size_t n = 0;

	put(P("state/k8s.io/sb0/shim-binary-path"), SBP);
	put(P("state/k8s.io/ctr1/sandbox"), "sb0");
	CHECK(v2_sandbox(c1, &v, &n) == 0 && n == 3 && !strcmp(v, "sb0"), "v2_sandbox");
	free(v);
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), "sb0"), "container's Sandbox");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), SBP),
	      "container's Binary from its sandbox: %s",
	      cfg_string(c1, "k8s.io", "ctr1", "Binary"));
	CHECK(!strcmp(cfg_string(sb, "k8s.io", "sb0", "Sandbox"), "") &&
		  !strcmp(cfg_string(sb, "k8s.io", "sb0", "Binary"), SBP),
	      "the sandbox itself");
	{
		/* Sandbox sits between Address and Binary. */
		char *text;
		size_t tn;

		CHECK(
		    v2_shimcfg(c1, &node, "k8s.io", "ctr1", &text, &tn) == 0 &&
			strstr(text, "\",\"Sandbox\":\"sb0\",\"Binary\":\"" SBP "\",\"RuncRoot\""),
		    "key order");
		free(text);
	}

	/* The container's own shim-binary-path wins. */
	put(P("state/k8s.io/ctr1/shim-binary-path"), "/own");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), "/own"), "own Binary wins");
	must(unlink(P("state/k8s.io/ctr1/shim-binary-path")), "rm own sbp");

	/* Without the node's state root there is no sandbox bundle to read. */
	node.state_fd = -1;
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), "") &&
		  !strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), "sb0"),
	      "no state_fd");
	node.state_fd = st.state_fd;
	v2 = (struct bundle_conf){.st = st, .runtime = RUNTIME_V2};

	/* The sandbox's shim-binary-path must be a regular file, reached without a symlink. */
	must(unlink(P("state/k8s.io/sb0/shim-binary-path")), "rm sbp");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), ""), "sandbox has none");
	put(P("outside-sbp"), "/evil");
	must(symlink(P("outside-sbp"), P("state/k8s.io/sb0/shim-binary-path")), "sbp link");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), ""), "sandbox's link followed");
	must(unlink(P("state/k8s.io/sb0/shim-binary-path")), "rm sbp link");
	mkd(P("elsewhere-sb"), 0700);
	put(P("elsewhere-sb/shim-binary-path"), "/evil");
	must(symlink(P("elsewhere-sb"), P("state/k8s.io/sbl")), "sandbox bundle link");
	put(P("state/k8s.io/ctr1/sandbox"), "sbl");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), "sbl") &&
		  !strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), ""),
	      "symlinked sandbox bundle followed");
	put(P("state/k8s.io/ctr1/sandbox"), "gone");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), "gone") &&
		  !strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), ""),
	      "sandbox without a bundle");

	/* sandbox must hold an identifier, verbatim, in a regular file. */
	put(P("state/k8s.io/sb0/shim-binary-path"), SBP);
	{
		static const char *const bad[] = {
		    "",
		    "sb0\n",
		    " sb0",
		    "..",
		    ".",
		    "../sb0",
		    "sb0/x",
		    "a..b",
		    "-sb0",
		    "0123456789012345678901234567890123456789012345678901234567890123456789012345"
		    "6",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			put(P("state/k8s.io/ctr1/sandbox"), bad[i]);
			CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), "") &&
				  !strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), ""),
			      "sandbox '%s' is no identifier", bad[i]);
		}
	}
	putn(P("state/k8s.io/ctr1/sandbox"), "sb0\0", 4);
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), ""), "sandbox with a NUL");
	put(P("state/k8s.io/ctr1/sandbox"),
	    "a123456789012345678901234567890123456789012345678901234567890123456789012345");
	CHECK(strlen(cfg_string(c1, "k8s.io", "ctr1", "Sandbox")) == 76, "76 bytes: an identifier");
	must(unlink(P("state/k8s.io/ctr1/sandbox")), "rm sandbox");
	put(P("outside-sandbox"), "sb0");
	must(symlink(P("outside-sandbox"), P("state/k8s.io/ctr1/sandbox")), "sandbox link");
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), "") &&
		  !strcmp(cfg_string(c1, "k8s.io", "ctr1", "Binary"), ""),
	      "symlinked sandbox followed");
	must(unlink(P("state/k8s.io/ctr1/sandbox")), "rm sandbox link");
	mkd(P("state/k8s.io/ctr1/sandbox"), 0700);
	CHECK(!strcmp(cfg_string(c1, "k8s.io", "ctr1", "Sandbox"), ""), "sandbox directory");
	must(rmdir(P("state/k8s.io/ctr1/sandbox")), "rmdir sandbox");
	close(sb);
	close(c1);
}

/* Does the directory hold an entry named TREE_TMP_PREFIX...? */
static bool has_tmp(const char *dir)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while ((de = readdir(d)))
		found |= !strncmp(de->d_name, TREE_TMP_PREFIX, strlen(TREE_TMP_PREFIX));
	closedir(d);
	return found;
}

/* ---- bundle_create / bundle_delete (SPEC 7.1, 7.3) ---- */

static void test_create(void)
{
	struct store_owner own = {.uid = 1234, .gid = 5678, .chown = true};
	char want[4096];
	int ret;

	ret = bundle_create(&v2, "cr", "b1", &own);
	CHECK(ret == 0, "create cr/b1: %d", ret);
	CHECK(is_dir_mode(P("state/cr"), 0711) && is_dir_mode(P("work/cr"), 0711),
	      "namespace modes");
	CHECK(is_dir_mode(P("state/cr/b1"), 0700), "bundle mode %o", mode_of(P("state/cr/b1")));
	CHECK(is_dir_mode(P("state/cr/b1/rootfs"), 0711), "rootfs mode");
	CHECK(is_dir_mode(P("work/cr/b1"), 0711), "work dir mode");
	snprintf(want, sizeof(want), "%s/work/cr/b1", base);
	CHECK(link_is(P("state/cr/b1/work"), want), "work link target");
	CHECK(owner_is(P("state/cr/b1"), 1234, 5678) &&
		  owner_is(P("state/cr/b1/rootfs"), 1234, 5678) &&
		  owner_is(P("state/cr/b1/work"), 1234, 5678) &&
		  owner_is(P("work/cr/b1"), 1234, 5678),
	      "owners");
	CHECK(bundle_create(&v2, "cr", "b1", &own) == -EEXIST, "second create: EEXIST");
	CHECK(is_dir_mode(P("work/cr/b1"), 0711), "EEXIST kept the work dir");

	/* A leftover work dir is removed first. */
	mkd(P("work/cr/b2"), 0755);
	mkd(P("work/cr/b2/sub"), 0755);
	put(P("work/cr/b2/sub/old"), "old");
	ret = bundle_create(&v2, "cr", "b2", NULL);
	CHECK(ret == 0, "create over a leftover work dir: %d", ret);
	CHECK(is_dir_mode(P("work/cr/b2"), 0711) && !exists(P("work/cr/b2/sub")),
	      "leftover work dir not replaced");

	/* ... unless a mount is under it: EBUSY, nothing created, nothing removed. */
	mkd(P("bindsrc"), 0755);
	put(P("bindsrc/precious"), "p");
	mkd(P("work/cr/b3"), 0755);
	mkd(P("work/cr/b3/m"), 0755);
	put(P("work/cr/b3/keep"), "k");
	must(mount(P("bindsrc"), P("work/cr/b3/m"), NULL, MS_BIND, NULL), "bind work");
	ret = bundle_create(&v2, "cr", "b3", NULL);
	CHECK(ret == -EBUSY, "create over a mounted leftover: %d", ret);
	CHECK(!exists(P("state/cr/b3")) && exists(P("work/cr/b3/keep")) &&
		  exists(P("work/cr/b3/m/precious")),
	      "EBUSY changed something");
	must(umount2(P("work/cr/b3/m"), 0), "umount");
	rmrf(P("work/cr/b3"));
	/* In a new namespace, EBUSY leaves no namespace behind either. */
	mkd(P("work/cr2"), 0711);
	mkd(P("work/cr2/b"), 0755);
	must(mount(P("bindsrc"), P("work/cr2/b"), NULL, MS_BIND, NULL), "bind work2");
	CHECK(bundle_create(&v2, "cr2", "b", NULL) == -EBUSY && !exists(P("state/cr2")),
	      "EBUSY left S/cr2");
	must(umount2(P("work/cr2/b"), 0), "umount2");
	rmrf(P("work/cr2"));
	CHECK(!has_tmp(P("state/cr")) && !has_tmp(P("state")) && !has_tmp(P("work/cr")),
	      "a temporary entry was left behind");
}

static void test_delete(void)
{
	int ret;

	/* The work link points elsewhere: that directory is untouched. */
	must(bundle_create(&v2, "de", "b1", NULL), "create de/b1");
	mkd(P("elsewhere"), 0755);
	put(P("elsewhere/keep"), "k");
	must(unlink(P("state/de/b1/work")), "rm work link");
	must(symlink(P("elsewhere"), P("state/de/b1/work")), "work link elsewhere");
	put(P("work/de/b1/w"), "w");
	ret = bundle_delete(&v2, "de", "b1", NULL);
	CHECK(ret == 0, "delete de/b1: %d", ret);
	CHECK(!exists(P("state/de/b1")) && !exists(P("work/de/b1")), "de/b1 not deleted");
	CHECK(exists(P("elsewhere/keep")), "delete followed the work link");

	/* A mount under rootfs: EBUSY and nothing changed. */
	must(bundle_create(&v2, "de", "b2", NULL), "create de/b2");
	put(P("state/de/b2/config.json"), "{}");
	must(mount(P("bindsrc"), P("state/de/b2/rootfs"), NULL, MS_BIND, NULL), "bind rootfs");
	ret = bundle_delete(&v2, "de", "b2", NULL);
	CHECK(ret == -EBUSY, "delete with a mounted rootfs: %d", ret);
	CHECK(exists(P("state/de/b2/config.json")) && exists(P("state/de/b2/work")) &&
		  is_dir_mode(P("work/de/b2"), 0711) && exists(P("bindsrc/precious")),
	      "EBUSY changed something");
	must(umount2(P("state/de/b2/rootfs"), 0), "umount rootfs");

	/* A stale .<id> in S and in W never blocks. */
	mkd(P("state/de/.b2"), 0700);
	put(P("state/de/.b2/stale"), "s");
	mkd(P("work/de/.b2"), 0700);
	ret = bundle_delete(&v2, "de", "b2", NULL);
	CHECK(ret == 0, "delete with stale .b2: %d", ret);
	CHECK(!exists(P("state/de/b2")) && !exists(P("work/de/b2")), "de/b2 not deleted");

	/* A missing work dir is not an error; a missing bundle is ENOENT. */
	must(bundle_create(&v2, "de", "b3", NULL), "create de/b3");
	must(rmdir(P("work/de/b3")), "rm work dir");
	CHECK(bundle_delete(&v2, "de", "b3", NULL) == 0 && !exists(P("state/de/b3")),
	      "delete without a work dir");
	CHECK(bundle_delete(&v2, "de", "b3", NULL) == -ENOENT, "delete of a gone bundle");
}

int main(void)
{
	if (fx_store_base(&st, "test_v2", quiet_sink) < 0)
		return 1;
	node.state_fd = st.state_fd;
	test_group();
	test_fields();
	test_address();
	test_options();
	test_shimcfg();
	test_sandbox();
	test_create();
	test_delete();

	return fx_store_end(&st);
}
