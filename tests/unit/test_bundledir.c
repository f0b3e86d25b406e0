/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/bundledir.c (SPEC 3.2, 4.1-4.3, 7.2): whether a bundle is complete, the
 * v2 work link and when it is hidden, a bundle's listing, and what unlink does to a bundle's
 * own names. Bundles are made by bundle_create on a private store; results are checked against
 * the store on disk.
 */
#include "bundledir.h"

#include "bundle.h"
#include "check.h"
#include "fsfixture.h"
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NS "ns"
#define VALID "{\"ociVersion\":\"1.0.2\"}"

static struct store st;
static struct bundle_conf v1, v2;

static void bundle(const struct bundle_conf *c, const char *id)
{
	must(bundle_create(c, NS, id, NULL), id);
}

/* The bundle directory NS/id, opened for reading (a listing needs that). */
static int open_dir(const char *id)
{
	int fd = open(P("state/" NS "/%s", id), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	must(fd, id);
	return fd;
}

/* The listing of NS/id as "name:ino?,..." in its order, ino? "0" for an entry with none. */
static char *listing(const struct bundle_conf *c, const char *id)
{
	struct bundle_entry *l;
	size_t n, len = 1;
	char *out;
	int fd = open_dir(id), ret = bundle_list(c, fd, &l, &n);

	close(fd);
	if (ret < 0)
		return strdup("?");
	for (size_t i = 0; i < n; i++)
		len += strlen(l[i].name) + 4;
	out = calloc(1, len);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, l[i].name);
		if (l[i].ino == 0)
			strcat(out, ":0");
	}
	bundle_list_free(l, n);
	return out;
}

/* Whether the listing is want ("a,b:0,c") up to order: the same entries, each once. */
static bool lists(const struct bundle_conf *c, const char *id, const char *want)
{
	char *got = listing(c, id), *copy = strdup(want), *save = NULL;
	size_t names = 0, found = 0, commas = 0;
	bool ok;

	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		size_t wl = strlen(w);
		char *at = strstr(got, w);

		/* A whole entry: between commas or the ends. */
		while (at && ((at != got && at[-1] != ',') || (at[wl] != ',' && at[wl] != '\0')))
			at = strstr(at + 1, w);
		names++;
		found += at != NULL;
	}
	for (const char *p = got; *p; p++)
		commas += *p == ',';
	ok = names == found && names == (got[0] ? commas + 1 : 0);
	if (!ok)
		fprintf(stderr, "  listing of %s: %s, want %s\n", id, got, want);
	free(got);
	free(copy);
	return ok;
}

static void test_complete(void)
{
	int fd;

	bundle(&v1, "c1");
	fd = open_dir("c1");
	CHECK(!bundle_complete(fd), "no config.json: not complete");
	put(P("state/" NS "/c1/config.json"), VALID);
	CHECK(bundle_complete(fd), "a regular config.json: complete");
	must(unlink(P("state/" NS "/c1/config.json")), "unlink");
	must(symlink(P("state/" NS "/c1/rootfs"), P("state/" NS "/c1/config.json")), "symlink");
	CHECK(!bundle_complete(fd), "a symlink is no config.json");
	must(unlink(P("state/" NS "/c1/config.json")), "unlink");
	mkd(P("state/" NS "/c1/config.json"), 0755);
	CHECK(!bundle_complete(fd), "a directory is no config.json");
	close(fd);
}

static void test_work_link(void)
{
	int fd;

	CHECK(bundle_is_work_link(&v2, "work") && !bundle_is_work_link(&v1, "work") &&
		  !bundle_is_work_link(&v2, "work2") && !bundle_is_work_link(&v2, "rootfs"),
	      "the work link is v2's `work`");
	bundle(&v2, "w1");
	fd = open_dir("w1");
	CHECK(bundle_has_work_link(fd) == 1, "v2 bundles are made with their work link");
	CHECK(bundle_work_hidden(&v2, fd, "work") && !bundle_work_hidden(&v2, fd, "rootfs"),
	      "hidden while the bundle is not complete");
	put(P("state/" NS "/w1/config.json"), VALID);
	CHECK(!bundle_work_hidden(&v2, fd, "work"), "shown once it is");
	close(fd);

	bundle(&v1, "w2");
	fd = open_dir("w2");
	CHECK(bundle_has_work_link(fd) == 0 && !bundle_work_hidden(&v1, fd, "work"),
	      "v1: no work link, nothing hidden");
	mkd(P("state/" NS "/w2/work"), 0755);
	CHECK(bundle_has_work_link(fd) == 0, "a directory called work is no work link");
	close(fd);
}

static void test_list(void)
{
	bundle(&v2, "l1");
	CHECK(lists(&v2, "l1", ".,..,rootfs,address:0,shim-config:0,status:0"),
	      "v2, incomplete: no work link, the computed files");
	put(P("state/" NS "/l1/config.json"), VALID);
	put(P("state/" NS "/l1/address"), "unix:///x");
	put(P("state/" NS "/l1/log.json"), "{}");
	CHECK(lists(&v2, "l1",
		    ".,..,rootfs,work,config.json,address,log.json,shim-config:0,status:0"),
	      "v2, complete: the work link, a stored address listed once with its inode");
	CHECK(lists(&v1, "l1",
		    ".,..,rootfs,work,config.json,address,log.json,shim-config:0,status:0"),
	      "the same directory as a v1 bundle: work is a plain entry");

	bundle(&v1, "l2");
	mkd(P("state/" NS "/l2/address"), 0755);
	must(symlink("rootfs", P("state/" NS "/l2/config.json")), "symlink");
	put(P("state/" NS "/l2/runc-options"), "{}");
	CHECK(lists(&v1, "l2", ".,..,rootfs,runc-options,address,shim-config:0,status:0"),
	      "a stored-only kind shows only as a regular file; a computed one whatever is there");
	must(unlink(P("state/" NS "/l2/runc-options")), "unlink");
	must(symlink("rootfs", P("state/" NS "/l2/runc-options")), "symlink");
	CHECK(lists(&v1, "l2", ".,..,rootfs,address,shim-config:0,status:0"),
	      "a symlinked runc-options is not listed");
	CHECK(lists(&v2, "l2", ".,..,rootfs,runc-options,address,shim-config:0,status:0"),
	      "runc-options is a plain entry of a v2 bundle");
}

static void test_unlink_own(void)
{
	bundle(&v1, "u1");
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "address")) == 1,
	      "a computed address with nothing stored is released");
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "config.json")) == -ENOENT,
	      "no config.json to release");
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "runc-options")) == -ENOENT,
	      "no runc-options to remove");
	put(P("state/" NS "/u1/address"), "unix:///x");
	put(P("state/" NS "/u1/runc-options"), "{}");
	put(P("state/" NS "/u1/config.json"), VALID);
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "address")) == 0 &&
		  !exists(P("state/" NS "/u1/address")),
	      "a stored address is removed");
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "runc-options")) == 0 &&
		  !exists(P("state/" NS "/u1/runc-options")),
	      "a stored runc-options is removed");
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "config.json")) == 1 &&
		  exists(P("state/" NS "/u1/config.json")),
	      "config.json is released, and stays");
	CHECK(bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "shim-config")) == 1 &&
		  bundle_unlink_own(&v1, NS, "u1", ovl_find(&v1, "status")) == 1,
	      "computed-only files are released");
	bundle(&v2, "u2");
	CHECK(bundle_unlink_own(&v2, NS, "u2", NULL) == 1 && exists(P("state/" NS "/u2/work")),
	      "the work link is released, and stays");
}

int main(void)
{
	if (fx_store_base(&st, "test_bundledir", count_sink) < 0)
		return 1;
	v1 = fx_conf(&st, RUNTIME_V1);
	v2 = v1;
	v2.runtime = RUNTIME_V2;
	test_complete();
	test_work_link();
	test_list();
	test_unlink_own();
	return fx_store_end(&st);
}
