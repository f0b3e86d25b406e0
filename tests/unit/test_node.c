/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the daemon's node table (fs/node.c, with fs/resolve.c reaching the store for
 * it): lookup and forget counting, hard links as one node, renames, an inode number reused
 * while the name of its old inode is being removed, names gone stale, and the one way to a
 * node's backing entry (which errors forget a name, handles, retired nodes, the root). The table is
 * driven the way the handlers drive it (names.c: a store call, then the table), on a real store in
 * a private base/state; the table's hooks are resolve.c's still_named and no watcher. A reused
 * number is made by handing node_attach the attributes the removed entry had, which is what a
 * lookup sees when the filesystem gives that number to the next entry made.
 */
#include "node.h"
#include "resolve.h"

#include "check.h"
#include "fsfixture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static struct node *root;
/* The store the table's nodes belong to, and node_attach's report of a node made. */
static struct bundle_conf conf;
static bool made;

/* The watcher's part of the table's hooks: no watch is ever added here. */
static void unwatch(int wd, fuse_ino_t id, bool gone)
{
	(void)wd;
	(void)id;
	(void)gone;
}

/* The attributes of state/<rel>, as a lookup reads them. */
static struct stat st_of(const char *rel)
{
	struct stat st;

	must(lstat(P("state/%s", rel), &st), rel);
	return st;
}

/* A lookup of name in parent, found at state/<rel>: the store read, then node_attach. */
static struct node *lookup(struct node *parent, const char *rel, const char *name)
{
	struct stat st = st_of(rel);

	return node_attach(parent, name, NK_INSIDE, &st, NULL, &made);
}

/* Whether n's path (from its first name) is want; want NULL: n has no path. */
static bool path_is(struct node *n, const char *want)
{
	char *path = NULL;
	size_t len;
	int ret = node_path(n, &path, &len);
	bool ok = want ? ret == 0 && !strcmp(path, want) : ret == -ENOENT;

	if (!ok)
		fprintf(stderr, "  path: %d %s, want %s\n", ret, ret == 0 ? path : "-",
			want ? want : "none");
	free(path);
	return ok;
}

static bool known(fuse_ino_t id)
{
	return node_find(id) != NULL;
}

static void test_counting(void)
{
	struct node *d, *f;
	fuse_ino_t did, fid;

	mkd(P("state/cnt"), 0755);
	put(P("state/cnt/f"), "x");
	d = lookup(root, "cnt", "cnt");
	CHECK(d && d->id != FUSE_ROOT_ID, "a directory gets a node");
	if (!d)
		return;
	CHECK(lookup(root, "cnt", "cnt") == d, "looked up again: the same node");
	CHECK(d->nlookup == 2, "two lookups counted: %lu", (unsigned long)d->nlookup);
	f = lookup(d, "cnt/f", "f");
	CHECK(f && f != d && path_is(f, "cnt/f"), "a file in it");
	if (!f)
		return;
	did = d->id;
	fid = f->id;
	node_forget(did, 1);
	CHECK(known(did), "one lookup forgotten of two: still known");
	node_forget(did, 1);
	CHECK(known(did), "all lookups forgotten, a child's name still holds it");
	node_forget(fid, 5);
	CHECK(!known(fid) && !known(did), "the child forgotten (past its count): both go");
	node_forget(FUSE_ROOT_ID, 1);
	CHECK(known(FUSE_ROOT_ID), "the root stays");
	d = lookup(root, "cnt", "cnt");
	CHECK(d && d->id != did && d->nlookup == 1, "looked up after it went: a new id");
	if (d)
		node_forget(d->id, 1);
}

static void test_hard_links(void)
{
	struct node *a, *b, *c, *e;

	put(P("state/h1"), "one file");
	must(link(P("state/h1"), P("state/h2")), "link");
	a = lookup(root, "h1", "h1");
	b = lookup(root, "h2", "h2");
	CHECK(a && a == b, "two names of one inode: one node");
	if (!a || a != b)
		return;
	CHECK(a->nlookup == 2, "both lookups counted");
	/* unlink h2 as the handler does it */
	node_name_going(root, "h2");
	must(unlink(P("state/h2")), "unlink");
	node_name_gone(root, "h2");
	CHECK(path_is(a, "h1"), "the other name remains");
	CHECK(lookup(root, "h1", "h1") == a, "and still finds it by inode");
	node_forget(a->id, 3);

	/* A link made beside the mount while the name first seen is gone too. */
	put(P("state/h3"), "another");
	c = lookup(root, "h3", "h3");
	must(link(P("state/h3"), P("state/h4")), "link");
	must(unlink(P("state/h3")), "unlink");
	e = lookup(root, "h4", "h4");
	CHECK(c && e && e != c, "no known name leads to it: not taken for the old node");
	CHECK(e && lookup(root, "h4", "h4") == e, "the new node is the one found by inode");
	if (c)
		node_forget(c->id, 1);
	if (e)
		node_forget(e->id, 2);
	must(unlink(P("state/h1")), "unlink");
	must(unlink(P("state/h4")), "unlink");
}

static void test_rename(void)
{
	struct node *d1, *d2, *x, *s, *t, *u, *e, *e2;
	struct stat tst;
	fuse_ino_t tid;

	mkd(P("state/r1"), 0755);
	mkd(P("state/r2"), 0755);
	put(P("state/r1/x"), "moved");
	d1 = lookup(root, "r1", "r1");
	d2 = lookup(root, "r2", "r2");
	x = lookup(d1, "r1/x", "x");
	if (!d1 || !d2 || !x) {
		CHECK(false, "lookups");
		return;
	}
	node_name_going(d2, "y");
	must(rename(P("state/r1/x"), P("state/r2/y")), "rename");
	node_renamed(d1, "x", d2, "y", false);
	CHECK(path_is(x, "r2/y"), "renamed through the mount: the node moves");
	CHECK(lookup(d2, "r2/y", "y") == x, "and is found under the new name");
	node_forget(x->id, 2);

	/* Over an existing target: the replaced inode's number is free. */
	put(P("state/r2/s"), "new");
	put(P("state/r2/t"), "old");
	s = lookup(d2, "r2/s", "s");
	t = lookup(d2, "r2/t", "t");
	if (!s || !t || s == t) {
		CHECK(false, "lookups");
		return;
	}
	tst = st_of("r2/t");
	node_name_going(d2, "t");
	must(rename(P("state/r2/s"), P("state/r2/t")), "rename");
	node_renamed(d2, "s", d2, "t", false);
	CHECK(path_is(s, "r2/t") && path_is(t, NULL), "the source has the name, the target none");
	CHECK(known(t->id), "the target stays while the kernel counts it");
	u = node_attach(d2, "u", NK_INSIDE, &tst, NULL, &made);
	CHECK(u && u != t, "a new file under the replaced inode's number: a node of its own");
	tid = t->id;
	node_forget(s->id, 1);
	node_forget(tid, 1);
	CHECK(!known(tid), "then it goes");
	if (u)
		node_forget(u->id, 1);
	must(unlink(P("state/r2/t")), "unlink");

	/*
	 * A directory renamed beside the mount: its inode number alone cannot tell it from a
	 * new directory that reused a removed one's; it is a new node, the old one is stale.
	 */
	mkd(P("state/r1/e"), 0755);
	e = lookup(d1, "r1/e", "e");
	must(rename(P("state/r1/e"), P("state/r2/e2")), "rename");
	e2 = lookup(d2, "r2/e2", "e2");
	CHECK(e && e2 && e2 != e, "renamed beside the mount: a node of its own");
	CHECK(e && resolve_stat(e, NULL) == -ESTALE, "the old one is stale");
	if (e)
		node_forget(e->id, 1);
	if (e2)
		node_forget(e2->id, 1);
	node_forget(d1->id, 1);
	node_forget(d2->id, 1);
	rmrf(P("state/r1"));
	rmrf(P("state/r2"));
}

/*
 * The interleaving of two requests: A removes a name; the filesystem frees its inode's number
 * and hands it to B's new entry; B's lookup reaches the table before A's removal is recorded.
 */
static void test_reused_while_removed(void)
{
	struct node *a, *b, *f, *g, *k, *k2;
	struct stat ast, fst;
	fuse_ino_t aid;

	mkd(P("state/A"), 0755);
	a = lookup(root, "A", "A");
	if (!a) {
		CHECK(false, "lookup");
		return;
	}
	aid = a->id;
	ast = st_of("A");
	node_name_going(root, "A"); /* A: rmdir */
	must(rmdir(P("state/A")), "rmdir");
	mkd(P("state/B"), 0755); /* B: mkdir, given A's number */
	b = node_attach(root, "B", NK_INSIDE, &ast, NULL, &made);
	CHECK(b && b != a, "B's new directory is not the one being removed");
	CHECK(b && path_is(b, "B") && path_is(a, "A"), "each keeps its own name meanwhile");
	node_name_gone(root, "A"); /* A's rmdir recorded */
	CHECK(path_is(a, NULL) && known(aid), "the removed one has no name, the kernel holds it");
	CHECK(b && node_attach(root, "B", NK_INSIDE, &ast, NULL, &made) == b,
	      "B is found again by that number");
	node_forget(aid, 1);
	CHECK(!known(aid), "forgotten, the removed one goes");
	if (b)
		node_forget(b->id, 2);
	must(rmdir(P("state/B")), "rmdir");

	/* The same for a file, and its unlink. */
	put(P("state/F"), "f");
	f = lookup(root, "F", "F");
	fst = st_of("F");
	node_name_going(root, "F");
	must(unlink(P("state/F")), "unlink");
	g = node_attach(root, "G", NK_INSIDE, &fst, NULL, &made);
	CHECK(f && g && g != f, "a file made under a number being freed: a node of its own");
	node_name_gone(root, "F");
	if (f)
		node_forget(f->id, 1);
	if (g)
		node_forget(g->id, 1);

	/* Removed beside the mount: no mark, the old name leads nowhere. */
	put(P("state/C"), "c");
	f = lookup(root, "C", "C");
	fst = st_of("C");
	must(unlink(P("state/C")), "unlink");
	g = node_attach(root, "D", NK_INSIDE, &fst, NULL, &made);
	CHECK(f && g && g != f, "removed beside the mount: the number's new entry is new");
	if (f)
		node_forget(f->id, 1);
	if (g)
		node_forget(g->id, 1);

	/* A removal that failed gives the name back: a second name finds the node again. */
	put(P("state/K"), "k");
	k = lookup(root, "K", "K");
	node_name_going(root, "K");
	node_name_kept(root, "K");
	must(link(P("state/K"), P("state/K2")), "link");
	k2 = lookup(root, "K2", "K2");
	CHECK(k && k2 == k, "kept: still the node of its inode");
	if (k)
		node_forget(k->id, 2);
	must(unlink(P("state/K")), "unlink");
	must(unlink(P("state/K2")), "unlink");
}

static void test_stale_names(void)
{
	struct node *n, *d;
	struct stat st;

	put(P("state/s1"), "kept");
	must(link(P("state/s1"), P("state/s2")), "link");
	n = lookup(root, "s1", "s1");
	if (!n || lookup(root, "s2", "s2") != n) {
		CHECK(false, "lookups");
		return;
	}
	CHECK(path_is(n, "s2"), "the name seen last comes first");
	/* s2 replaced beside the mount, the way a shim writes a file */
	put(P("state/tmp"), "other");
	must(rename(P("state/tmp"), P("state/s2")), "rename");
	CHECK(resolve_stat(n, &st) == 0 && st.st_ino == n->ino,
	      "its inode is reached by the name that still holds it");
	CHECK(path_is(n, "s1"), "the stale name is forgotten");
	must(unlink(P("state/s1")), "unlink");
	CHECK(resolve_stat(n, &st) == -ESTALE && path_is(n, NULL),
	      "no name leads to it: stale, and nameless");
	node_forget(n->id, 2);
	must(unlink(P("state/s2")), "unlink");

	mkd(P("state/sd"), 0755);
	d = lookup(root, "sd", "sd");
	must(rename(P("state/sd"), P("state/sd2")), "rename");
	CHECK(d && resolve_open(d, O_PATH | O_DIRECTORY, NULL) == -ESTALE,
	      "a directory whose path is gone: stale");
	if (d)
		node_forget(d->id, 1);
	must(rmdir(P("state/sd2")), "rmdir");
}

/* A handle open on n with the backing descriptor fd, as an open through the mount makes one. */
static struct handle *open_handle(struct node *n, int fd)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		must(-ENOMEM, "handle");
	h->kind = H_FILE;
	h->fd = fd;
	h->fd_other = -1;
	node_handle_add(n, h);
	return h;
}

static void close_handle(struct handle *h)
{
	if (node_handle_release(h))
		handle_free(h);
}

/*
 * The one way to a node's backing entry (resolve.c): the root is S; a name is trusted only as
 * far as it leads to the node's inode; an error that says nothing of the name leaves it; a node
 * unlinked while open is reached through its handle, a retired one is stale.
 */
static void test_reach(void)
{
	struct rlimit lim, low;
	struct handle *h;
	struct node *n;
	struct stat st;
	char buf[8];
	int fd;

	fd = resolve_open(root, O_RDONLY | O_DIRECTORY, &st);
	CHECK(fd >= 0 && st.st_ino == root->ino, "the root is S: %d", fd);
	if (fd >= 0)
		close(fd);
	CHECK(resolve_stat(root, &st) == 0 && st.st_ino == root->ino, "the root's attributes");

	/* Out of descriptors: the caller's error, and the name stays. */
	put(P("state/m1"), "m");
	n = lookup(root, "m1", "m1");
	must(getrlimit(RLIMIT_NOFILE, &lim), "getrlimit");
	low = lim;
	low.rlim_cur = 3;
	must(setrlimit(RLIMIT_NOFILE, &low), "setrlimit");
	fd = n ? resolve_stat(n, &st) : 0;
	must(setrlimit(RLIMIT_NOFILE, &lim), "setrlimit");
	CHECK(n && fd == -EMFILE && path_is(n, "m1"), "EMFILE leaves the name: %d", fd);
	if (n)
		node_forget(n->id, 1);

	/* A symlink now where a directory was: ELOOP on the way, the name is forgotten. */
	mkd(P("state/lp"), 0755);
	n = lookup(root, "lp", "lp");
	must(rmdir(P("state/lp")), "rmdir");
	must(symlink("m1", P("state/lp")), "symlink");
	CHECK(n && resolve_open(n, O_PATH | O_DIRECTORY, NULL) == -ESTALE && path_is(n, NULL),
	      "a symlink in its place: stale, and nameless");
	if (n)
		node_forget(n->id, 1);
	must(unlink(P("state/lp")), "unlink");

	/* Unlinked through the mount while open: its handle reaches it. */
	n = lookup(root, "m1", "m1");
	if (!n) {
		CHECK(false, "lookup m1");
		return;
	}
	fd = open(P("state/m1"), O_RDONLY | O_CLOEXEC);
	must(fd, "m1");
	h = open_handle(n, fd);
	node_name_going(root, "m1");
	must(unlink(P("state/m1")), "unlink");
	node_name_gone(root, "m1");
	CHECK(resolve_stat(n, &st) == 0 && st.st_ino == n->ino && st.st_nlink == 0,
	      "unlinked while open: its attributes through the handle");
	fd = resolve_open(n, O_RDONLY, NULL);
	CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == 1 && buf[0] == 'm',
	      "and a descriptor of the very inode: %d", fd);
	if (fd >= 0)
		close(fd);
	close_handle(h);
	CHECK(resolve_stat(n, &st) == -ENOENT, "no name and no handle: deleted");
	node_forget(n->id, 1);

	/* Retired (stored as a copy under an overlay name): stale, even with a handle. */
	put(P("state/r1"), "r");
	n = lookup(root, "r1", "r1");
	if (!n) {
		CHECK(false, "lookup r1");
		return;
	}
	fd = open(P("state/r1"), O_RDONLY | O_CLOEXEC);
	must(fd, "r1");
	h = open_handle(n, fd);
	node_name_retire(root, "r1");
	CHECK(resolve_stat(n, &st) == -ESTALE && resolve_open(n, O_RDONLY, NULL) == -ESTALE,
	      "a retired node is stale");
	close_handle(h);
	node_forget(n->id, 1);
	must(unlink(P("state/r1")), "unlink");
}

int main(void)
{
	struct stat st;

	if (fx_store_base(&conf.st, "test_node", count_sink) < 0)
		return 2;
	st = st_of("");
	must(
	    nodes_init(&st, &conf,
		       &(struct node_hooks){.still_named = resolve_still_named, .unwatch = unwatch},
		       NK_ROOT),
	    "nodes_init");
	root = node_find(FUSE_ROOT_ID);
	test_counting();
	test_hard_links();
	test_rename();
	test_reused_while_removed();
	test_stale_names();
	test_reach();
	handles_free_all();
	nodes_free_all();
	return fx_store_end(&conf.st);
}
