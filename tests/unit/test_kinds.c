/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/kinds.c's record of what each overlay kind is computed from (ovl_reads),
 * the list a watcher of the store relies on to invalidate computed files. Each stored file a
 * bundle may hold is written, alone, into a fresh bundle: every kind whose content changed must
 * name it (its own bundle's, OVL_FROM_BUNDLE). A pod's container reads its sandbox's bundle:
 * a file written there that changes the container's content must be OVL_FROM_SANDBOX. Runs on
 * a private store, as root (test_overlay.c's fixture).
 */
#include "kinds.h"

#include "check.h"
#include "fsfixture.h"
#include "status.h"
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS "ns"

static struct store st;

/* Each stored file a bundle may hold, with content that a kind reading it would show. */
static const struct {
	const char *name, *content;
} files[] = {
    {"config.json", "{\"annotations\":{\"io.containerd.runc.v2.group\":\"grp\"}}"},
    {"address", "unix:///run/containerd/s/0123456789abcdef"},
    {"bootstrap.json", "{\"version\":2,\"address\":\"unix:///run/containerd/s/boot\"}"},
    {"options.json", "{\"root\":\"/run/r\",\"binary_name\":\"runc2\",\"systemd_cgroup\":true}"},
    {"runc-options",
     "{\"runtime\":\"r\",\"runtime_root\":\"/rr\",\"criu_path\":\"/c\",\"systemd_cgroup\":true}"},
    {"sandbox", "sb"},
    {"shim-binary-path", "/usr/bin/containerd-shim-runc-v2"},
    {"shim.pid", "4242"},
    {"init.pid", "4343"},
    {"log.json", "{}"},
    {"other", "x"},
};

#define NFILES (sizeof(files) / sizeof(files[0]))
#define MAXKINDS 8

/* What every kind of c reads in bundle ns/id now: the result and the bytes. */
struct seen {
	int ret[MAXKINDS];
	char *buf[MAXKINDS];
	size_t len[MAXKINDS];
};

static void look(const struct bundle_conf *c, const char *id, struct seen *s)
{
	int bfd = store_open_bundle(&c->st, NS, id);
	struct stat sb;

	must(bfd, id);
	memset(s, 0, sizeof(*s));
	for (size_t k = 0; k < MAXKINDS && ovl_at(c, k); k++)
		s->ret[k] = ovl_content(c, ovl_at(c, k), bfd, NS, id, &s->buf[k], &s->len[k], &sb);
	close(bfd);
}

static bool same(const struct seen *a, const struct seen *b, size_t k)
{
	if (a->ret[k] != b->ret[k])
		return false;
	return a->ret[k] < 0 ||
	       (a->len[k] == b->len[k] && !memcmp(a->buf[k], b->buf[k], a->len[k]));
}

static void forget(struct seen *s)
{
	for (size_t k = 0; k < MAXKINDS; k++)
		if (s->ret[k] == 0)
			free(s->buf[k]);
}

static void bundle(const char *id)
{
	mkd(P("state/" NS "/%s", id), 0700);
	mkd(P("state/" NS "/%s/rootfs", id), 0711);
}

/* Every kind that a file changes in its own bundle names that file. */
static void test_own(const struct bundle_conf *c, const char *rt)
{
	for (size_t f = 0; f < NFILES; f++) {
		struct seen before, after;
		char id[64];

		snprintf(id, sizeof(id), "%s-own-%zu", rt, f);
		bundle(id);
		look(c, id, &before);
		put(P("state/" NS "/%s/%s", id, files[f].name), files[f].content);
		look(c, id, &after);
		for (size_t k = 0; ovl_at(c, k); k++) {
			const struct ovl *o = ovl_at(c, k);

			CHECK(same(&before, &after, k) ||
				  (ovl_reads(o, files[f].name) & OVL_FROM_BUNDLE),
			      "%s %s changes with %s, which it does not list", rt, ovl_name(o),
			      files[f].name);
		}
		forget(&before);
		forget(&after);
	}
}

/* Every kind of a pod's container that a file of its sandbox's bundle changes names that file. */
static void test_sandbox(const struct bundle_conf *c, const char *rt)
{
	bool seen_binary = false;

	for (size_t f = 0; f < NFILES; f++) {
		struct seen before, after;
		char ctr[64], sb[64];

		snprintf(ctr, sizeof(ctr), "%s-ctr-%zu", rt, f);
		snprintf(sb, sizeof(sb), "%s-sb-%zu", rt, f);
		bundle(ctr);
		bundle(sb);
		put(P("state/" NS "/%s/sandbox", ctr), sb);
		look(c, ctr, &before);
		put(P("state/" NS "/%s/%s", sb, files[f].name), files[f].content);
		look(c, ctr, &after);
		for (size_t k = 0; ovl_at(c, k); k++) {
			const struct ovl *o = ovl_at(c, k);
			bool changed = !same(&before, &after, k);

			CHECK(!changed || (ovl_reads(o, files[f].name) & OVL_FROM_SANDBOX),
			      "%s %s changes with the sandbox's %s, which it does not list", rt,
			      ovl_name(o), files[f].name);
			if (changed && !strcmp(files[f].name, "shim-binary-path"))
				seen_binary = true;
		}
		forget(&before);
		forget(&after);
	}
	if (c->runtime == RUNTIME_V2)
		CHECK(seen_binary, "v2 shim-config does not take the sandbox's shim-binary-path");
}

/* The lists themselves, for what the content alone cannot show (where runc keeps its state). */
static void test_lists(const struct bundle_conf *v1, const struct bundle_conf *v2)
{
	CHECK(ovl_reads(ovl_find(v2, "shim-config"), "sandbox") == OVL_FROM_BUNDLE,
	      "v2 shim-config reads sandbox");
	CHECK(ovl_reads(ovl_find(v2, "shim-config"), "shim-binary-path") ==
		  (OVL_FROM_BUNDLE | OVL_FROM_SANDBOX),
	      "v2 shim-config reads its own and its sandbox's shim-binary-path");
	CHECK(ovl_reads(ovl_find(v1, "status"), "runc-options") == OVL_FROM_BUNDLE &&
		  ovl_reads(ovl_find(v2, "status"), "options.json") == OVL_FROM_BUNDLE,
	      "status reads where runc keeps its state");
	CHECK(ovl_reads(ovl_find(v1, "shim-config"), "sandbox") == 0 &&
		  ovl_reads(ovl_find(v1, "shim-config"), "options.json") == 0,
	      "v1 shim-config reads no v2 file");
	CHECK(ovl_reads(ovl_find(v1, "config.json"), "config.json") == OVL_FROM_BUNDLE &&
		  ovl_reads(ovl_find(v1, "config.json"), "address") == 0,
	      "a stored kind reads its own file");
	for (size_t k = 0; ovl_at(v2, k); k++)
		CHECK(ovl_reads(ovl_at(v2, k), "rootfs") == 0 &&
			  ovl_reads(ovl_at(v2, k), "work") == 0,
		      "%s reads rootfs or work", ovl_name(ovl_at(v2, k)));
}

/*
 * What leaks asks of a bundle (SPEC 8.4): the status input renders exactly
 * the bundle's status file, with the address `address` reads; its stale
 * is the status file's; the debug socket is v2's only.
 */
static void test_status_input(const struct bundle_conf *c, const char *rt)
{
	const char *ids[] = {"plain", "stored", "options"};
	char id[64];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct status_input in;
		char *text = NULL, *status = NULL, *addr = NULL;
		size_t tlen, slen, alen;
		struct stat sb;
		bool stale;
		int bfd;

		snprintf(id, sizeof(id), "%s-in-%s", rt, ids[i]);
		bundle(id);
		put(P("state/" NS "/%s/config.json", id), "{}");
		if (i == 1)
			put(P("state/" NS "/%s/address", id), "unix:///run/containerd/s/stored");
		if (i == 2) {
			put(P("state/" NS "/%s/options.json", id), "{\"root\":\"/elsewhere\"}");
			put(P("state/" NS "/%s/runc-options", id), "{\"runtime_root\":\"/rr\"}");
		}
		bfd = store_open_bundle(&c->st, NS, id);
		must(bfd, id);
		CHECK(ovl_status_input(c, bfd, NS, id, &in) == 0, "%s status input", id);
		CHECK(status_render(&in, &text, &tlen) == 0 &&
			  ovl_content(c, ovl_find(c, "status"), bfd, NS, id, &status, &slen, &sb) ==
			      0 &&
			  tlen == slen && !memcmp(text, status, slen),
		      "%s: the input renders the status file", id);
		CHECK(ovl_content(c, ovl_find(c, "address"), bfd, NS, id, &addr, &alen, &sb) == 0 &&
			  alen == in.address_len && !memcmp(addr, in.address, alen),
		      "%s: the input's address is what address reads", id);
		CHECK(status_stale(&in, &stale) == 0 &&
			  strstr(status, stale ? "\"stale\":true" : "\"stale\":false"),
		      "%s: status_stale agrees with %s", id, status);
		if (i == 2)
			CHECK(in.runc_state && strstr(in.runc_state, c->runtime == RUNTIME_V2
									 ? "/elsewhere/"
									 : "/rr/") == in.runc_state,
			      "%s: runc's state by the runtime's rule: %s", id, in.runc_state);
		ovl_status_input_free(&in);
		CHECK(!in.address && !in.runc_state, "ovl_status_input_free");
		free(text);
		free(status);
		free(addr);
		addr = NULL;
		if (c->runtime == RUNTIME_V2)
			CHECK(ovl_debug_address(c, bfd, NS, id, &addr, &alen) == 0 &&
				  strstr(addr, "unix://") == addr && alen == strlen(addr),
			      "%s: a v2 shim's debug socket", id);
		else
			CHECK(ovl_debug_address(c, bfd, NS, id, &addr, &alen) == -ENOENT,
			      "%s: a v1 shim has no debug socket", id);
		free(addr);
		close(bfd);
	}
}

int main(void)
{
	struct bundle_conf v1, v2;

	if (fx_store_base(&st, "test_kinds", count_sink) < 0)
		return 1;
	mkd(P("state/" NS), 0711);
	v1 = fx_conf(&st, RUNTIME_V1);
	v2 = v1;
	v2.runtime = RUNTIME_V2;
	test_own(&v1, "v1");
	test_own(&v2, "v2");
	test_sandbox(&v1, "v1");
	test_sandbox(&v2, "v2");
	test_lists(&v1, &v2);
	test_status_input(&v1, "v1");
	test_status_input(&v2, "v2");
	return fx_store_end(&st);
}
