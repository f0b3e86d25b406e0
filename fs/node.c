/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node table: the daemon's picture of the inodes the kernel holds, its
 * nodes and their names (node.h). handle.c adds the handles open on nodes,
 * watched.c the watches; table.h is what they share.
 *
 * Four hashes, all protected by one lock (table_lock), taken for a few
 * instructions and never held across a system call on the store or a reply
 * (inotify_rm_watch, which touches no store, is the one call made under it,
 * through the unwatch hook, so that a watch and its node go together):
 *   by id:      the kernel's node id -> node
 *   by inode:   (st_dev, st_ino, kind) -> backing node, so every name of one
 *               file is one kernel inode (hard links stay coherent); a number
 *               the filesystem reused is not taken for its old inode
 *               (node_attach, node_name_going)
 *   by name:    (parent id, name) -> alias, the names the kernel has seen
 *   by wd:      inotify watch -> the structural directory it watches (watched.c)
 * A node lives while the kernel counts lookups of it, while a child's name
 * names it as parent, or while a handle is open on it.
 */
#include "node.h"
#include "table.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t id_key(const void *e)
{
	return hash_mix(((const struct node *)e)->id);
}

static uint64_t ino_hash(dev_t dev, ino_t ino, enum node_kind kind)
{
	return hash_mix((uint64_t)ino * 31 + (uint64_t)dev * 17 + (uint64_t)kind);
}

static uint64_t ino_key(const void *e)
{
	const struct node *n = e;

	return ino_hash(n->dev, n->ino, n->kind);
}

static uint64_t name_key(const void *e)
{
	const struct alias *a = e;

	return hash_name(a->parent->id, a->name, a->len);
}

static uint64_t wd_key(const void *e)
{
	return hash_mix((uint64_t)((const struct node *)e)->wd);
}

pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
/* A 128-byte block of the allocator per node (node.h): one per inode the kernel holds. */
_Static_assert(sizeof(struct node) <= 120, "struct node outgrew its allocator block");

static struct hash by_id = HASH_INIT(struct node, id_next, id_key);    /* by table_lock */
static struct hash by_ino = HASH_INIT(struct node, ino_next, ino_key); /* by table_lock */
struct hash by_name = HASH_INIT(struct alias, hash_next, name_key);
struct hash by_wd = HASH_INIT(struct node, wd_next, wd_key); /* by table_lock */
static fuse_ino_t next_id = FUSE_ROOT_ID + 1;		     /* by table_lock */
/* The most nodes since the heap was last trimmed, and whether it is due (node_trim). */
static size_t trim_mark; /* by table_lock */
static atomic_bool trim_due;
struct node *table_root;
struct node_hooks table_hooks; /* set by nodes_init */

struct node *table_find_id(fuse_ino_t id)
{
	struct node *n;

	for (n = hash_bucket(&by_id, hash_mix(id)); n; n = n->id_next)
		if (n->id == id)
			return n;
	return NULL;
}

struct alias *table_find_name(struct node *parent, const char *name, size_t len)
{
	struct alias *a;

	for (a = hash_bucket(&by_name, hash_name(parent->id, name, len)); a; a = a->hash_next)
		if (a->parent == parent && a->len == len && !memcmp(a->name, name, len))
			return a;
	return NULL;
}

static struct node *find_ino(dev_t dev, ino_t ino, enum node_kind kind)
{
	struct node *n;

	for (n = hash_bucket(&by_ino, ino_hash(dev, ino, kind)); n; n = n->ino_next)
		if (n->ino == ino && n->dev == dev && n->kind == kind)
			return n;
	return NULL;
}

/* Tables smaller than this are not worth a trim of the heap. */
#define TRIM_MIN 4096

/* Free n once nothing holds it. Caller holds table_lock. */
static void maybe_free(struct node *n)
{
	if (n == table_root || n->nlookup || n->refs || n->handles)
		return;
	while (n->aliases) {
		struct alias *a = n->aliases;

		n->aliases = a->node_next;
		hash_del(&by_name, a);
		table_put(a->parent);
		free(a);
	}
	hash_del(&by_id, n);
	/* Half of the table went since its peak: the allocator may give it back. */
	if (by_id.count > trim_mark)
		trim_mark = by_id.count;
	if (trim_mark >= TRIM_MIN && by_id.count <= trim_mark / 2) {
		trim_mark = by_id.count;
		atomic_store(&trim_due, true);
	}
	if (n->ino_hashed)
		hash_del(&by_ino, n);
	if (n->wd > 0) {
		hash_del(&by_wd, n);
		table_hooks.unwatch(n->wd, n->id, false);
	}
	free(n);
}

void table_put(struct node *n)
{
	n->refs--;
	maybe_free(n);
}

struct node *node_hold(fuse_ino_t id)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_id(id);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&table_lock);
	return n;
}

void node_unhold(struct node *n)
{
	pthread_mutex_lock(&table_lock);
	table_put(n);
	pthread_mutex_unlock(&table_lock);
}

/* Nodes found by their name, not by an inode: overlay files, the node view's own. */
static bool by_name_only(enum node_kind kind)
{
	return kind == NK_OVERLAY || kind == NK_VIEW;
}

/* Unhook alias a from its node and the name hash. Caller holds table_lock. */
static void alias_remove(struct alias *a)
{
	struct node *n = a->node;
	struct alias **p = &n->aliases;

	while (*p && *p != a)
		p = &(*p)->node_next;
	if (*p)
		*p = a->node_next;
	hash_del(&by_name, a);
	table_put(a->parent);
	free(a);
	maybe_free(n);
}

/* Record parent/name as a name of n. Caller holds table_lock. */
static int alias_add(struct node *n, struct node *parent, const char *name, size_t len)
{
	struct alias *a = table_find_name(parent, name, len);

	if (a && a->node == n)
		return 0;
	if (a) /* the name now belongs to another inode */
		alias_remove(a);
	/* A directory has one name: the old one went with a rename beside the mount. */
	if (S_ISDIR(n->type) || by_name_only(n->kind))
		while (n->aliases) {
			n->refs++; /* keep n while its last name goes */
			alias_remove(n->aliases);
			n->refs--;
		}
	a = malloc(sizeof(*a) + len + 1);
	if (!a)
		return -ENOMEM;
	a->node = n;
	a->parent = parent;
	a->going = 0;
	a->len = len;
	memcpy(a->name, name, len);
	a->name[len] = '\0';
	if (hash_add(&by_name, a) < 0) {
		free(a);
		return -ENOMEM;
	}
	parent->refs++;
	a->node_next = n->aliases;
	n->aliases = a;
	return 0;
}

int nodes_init(const struct stat *st, const struct bundle_conf *conf, const struct node_hooks *h,
	       enum node_kind kind)
{
	table_hooks = *h;
	table_root = calloc(1, sizeof(*table_root));
	if (!table_root)
		return -ENOMEM;
	table_root->conf = conf;
	table_root->id = FUSE_ROOT_ID;
	table_root->kind = kind;
	table_root->type = S_IFDIR;
	table_root->dev = st->st_dev;
	table_root->ino = st->st_ino;
	table_root->nlookup = 1;
	if (hash_add(&by_id, table_root) < 0 || hash_add(&by_ino, table_root) < 0)
		return -ENOMEM;
	table_root->ino_hashed = true;
	return 0;
}

void nodes_free_all(void)
{
	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; by_name.b && i <= by_name.mask; i++)
		for (struct alias *a = by_name.b[i], *next; a; a = next) {
			next = a->hash_next;
			free(a);
		}
	for (size_t i = 0; by_id.b && i <= by_id.mask; i++)
		for (struct node *n = by_id.b[i], *next; n; n = next) {
			next = n->id_next;
			free(n);
		}
	hash_clear(&by_id);
	hash_clear(&by_ino);
	hash_clear(&by_name);
	hash_clear(&by_wd);
	table_root = NULL;
	pthread_mutex_unlock(&table_lock);
}

struct node *node_find(fuse_ino_t id)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_id(id);
	pthread_mutex_unlock(&table_lock);
	return n;
}

/* n is found by inode no more; it stays for the kernel's references. Caller holds table_lock. */
static void unhash_ino(struct node *n)
{
	if (n->ino_hashed) {
		hash_del(&by_ino, n);
		n->ino_hashed = false;
	}
}

/* Whether parent/name is one of n's names. Caller holds table_lock. */
static bool named_as(struct node *n, struct node *parent, const char *name, size_t len)
{
	for (struct alias *a = n->aliases; a; a = a->node_next)
		if (a->parent == parent && a->len == len && !memcmp(a->name, name, len))
			return true;
	return false;
}

/* n's i-th name that no request is removing, or NULL. Caller holds table_lock. */
struct alias *table_live_name(struct node *n, unsigned i)
{
	for (struct alias *a = n->aliases; a; a = a->node_next)
		if (!a->going && i-- == 0)
			return a;
	return NULL;
}

struct node *node_attach(struct node *parent, const char *name, enum node_kind kind,
			 const struct stat *st, const struct ovl *ov, bool *created)
{
	return node_attach_conf(parent, name, kind, st, ov, parent->conf, created);
}

struct node *node_attach_conf(struct node *parent, const char *name, enum node_kind kind,
			      const struct stat *st, const struct ovl *ov,
			      const struct bundle_conf *conf, bool *created)
{
	size_t len = strlen(name);
	struct node *n = NULL, *checked = NULL;
	bool still = false;
	struct alias *a;

	*created = false;
	pthread_mutex_lock(&table_lock);
	if (by_name_only(kind)) {
		a = table_find_name(parent, name, len);
		if (a && a->node->kind == kind && a->node->ov == ov &&
		    (kind == NK_OVERLAY || a->node->type == (st->st_mode & S_IFMT)))
			n = a->node;
	} else {
	again:
		n = find_ino(st->st_dev, st->st_ino, kind);
		/*
		 * The same inode number with another type: the old inode is gone
		 * and its number reused.
		 */
		if (n && (n->type != (st->st_mode & S_IFMT))) {
			unhash_ino(n);
			n = NULL;
		}
		/*
		 * Found by its number under another name: the same inode by a
		 * second name (a hard link), or a new entry under the number of
		 * one just removed, by a request whose reply is still on its way
		 * (its names are marked going) or beside the mount. It is n only
		 * if one of n's names that no request is removing still leads to
		 * n's inode. That check reads the store, so it is made without
		 * the lock (n held), and the table looked at again.
		 */
		if (n && !named_as(n, parent, name, len)) {
			if (!table_live_name(n, 0) || (n == checked && !still)) {
				unhash_ino(n);
				n = NULL;
			} else if (n != checked) {
				if (checked)
					table_put(checked);
				checked = n;
				n->refs++;
				pthread_mutex_unlock(&table_lock);
				still = table_hooks.still_named(n);
				pthread_mutex_lock(&table_lock);
				goto again;
			}
		}
	}
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n)
			goto out;
		n->id = next_id++;
		n->conf = conf;
		n->kind = kind;
		n->ov = ov;
		if (kind == NK_OVERLAY) {
			n->type = S_IFREG;
		} else {
			n->type = st->st_mode & S_IFMT;
			n->dev = kind == NK_VIEW ? 0 : st->st_dev;
			n->ino = kind == NK_VIEW ? 0 : st->st_ino;
		}
		if (hash_add(&by_id, n) < 0 || (!by_name_only(kind) && hash_add(&by_ino, n) < 0)) {
			hash_del(&by_id, n);
			free(n);
			n = NULL;
			goto out;
		}
		n->ino_hashed = !by_name_only(kind);
		*created = true;
	}
	n->nlookup++;
	if (alias_add(n, parent, name, len) < 0) {
		n->nlookup--;
		maybe_free(n);
		n = NULL;
		goto out;
	}
out:
	if (checked)
		table_put(checked);
	pthread_mutex_unlock(&table_lock);
	return n;
}

void node_forget(fuse_ino_t id, uint64_t nlookup)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = table_find_id(id);
	if (n && n != table_root) {
		n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
		maybe_free(n);
	}
	pthread_mutex_unlock(&table_lock);
}

void node_trim(void)
{
	if (atomic_exchange(&trim_due, false))
		malloc_trim(0);
}

/*
 * n's last known name is gone: its inode is dead to the kernel (a removed
 * directory refuses every lookup in it) or stale, and the filesystem may
 * give its number to a new file. n stays for the kernel's references but
 * is found by inode no more, so the new file gets a node (and a kernel
 * inode) of its own. Caller holds table_lock and a reference to n.
 */
static void unhash_if_nameless(struct node *n)
{
	if (!n->aliases)
		unhash_ino(n);
}

void node_name_going(struct node *parent, const char *name)
{
	struct alias *a;

	pthread_mutex_lock(&table_lock);
	a = table_find_name(parent, name, strlen(name));
	if (a)
		a->going++;
	pthread_mutex_unlock(&table_lock);
}

void node_name_kept(struct node *parent, const char *name)
{
	struct alias *a;

	pthread_mutex_lock(&table_lock);
	a = table_find_name(parent, name, strlen(name));
	if (a && a->going)
		a->going--;
	pthread_mutex_unlock(&table_lock);
}

/* parent/name's node loses that name, or with retire every name and is retired. */
static void drop_names(struct node *parent, const char *name, bool retire)
{
	struct alias *a;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	a = table_find_name(parent, name, strlen(name));
	if (a) {
		n = a->node;
		n->refs++;
		n->retired |= retire;
		if (!retire)
			alias_remove(a);
		while (retire && n->aliases)
			alias_remove(n->aliases);
		unhash_if_nameless(n);
		table_put(n);
	}
	pthread_mutex_unlock(&table_lock);
}

void node_name_gone(struct node *parent, const char *name)
{
	drop_names(parent, name, false);
}

void node_name_retire(struct node *parent, const char *name)
{
	drop_names(parent, name, true);
}

bool node_by_handle(struct node *n)
{
	bool ret;

	pthread_mutex_lock(&table_lock);
	ret = n != table_root && !n->aliases && !n->retired;
	pthread_mutex_unlock(&table_lock);
	return ret;
}

fuse_ino_t node_parent_id(struct node *n)
{
	fuse_ino_t id = 0;

	pthread_mutex_lock(&table_lock);
	if (n->aliases)
		id = n->aliases->parent->id;
	pthread_mutex_unlock(&table_lock);
	return id;
}

int node_drop_first_name(struct node *n)
{
	int ret;

	pthread_mutex_lock(&table_lock);
	n->refs++;
	if (n->aliases)
		alias_remove(n->aliases);
	ret = n->aliases ? 0 : -ENOENT;
	unhash_if_nameless(n);
	table_put(n);
	pthread_mutex_unlock(&table_lock);
	return ret;
}

void node_renamed(struct node *p1, const char *n1, struct node *p2, const char *n2, bool exchange)
{
	struct alias *a, *b;
	struct node *na, *nb = NULL;

	pthread_mutex_lock(&table_lock);
	a = table_find_name(p1, n1, strlen(n1));
	b = table_find_name(p2, n2, strlen(n2));
	na = a ? a->node : NULL;
	if (na)
		na->refs++;
	if (b) {
		nb = b->node;
		nb->refs++;
		alias_remove(b);
	}
	if (a)
		alias_remove(a);
	/* Without a known node the kernel finds the new name by a lookup. */
	if (na)
		alias_add(na, p2, n2, strlen(n2));
	if (nb && exchange)
		alias_add(nb, p1, n1, strlen(n1));
	if (nb)
		unhash_if_nameless(nb); /* replaced by the rename */
	if (na)
		table_put(na);
	if (nb)
		table_put(nb);
	pthread_mutex_unlock(&table_lock);
}
