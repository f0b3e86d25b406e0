/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node table: the daemon's picture of the inodes the kernel holds.
 *
 * Four hashes, all protected by one lock (table_lock), taken for a few
 * instructions and never held across a system call on the store or a reply
 * (inotify_rm_watch, which touches no store, is the one call made under it,
 * so that a watch and its node go together):
 *   by id:      the kernel's node id -> node
 *   by inode:   (st_dev, st_ino, kind) -> backing node, so every name of one
 *               file is one kernel inode (hard links stay coherent); a number
 *               the filesystem reused is not taken for its old inode
 *               (node_attach, node_name_going)
 *   by name:    (parent id, name) -> alias, the names the kernel has seen
 *   by wd:      inotify watch -> the structural directory it watches (watch.c)
 * A node lives while the kernel counts lookups of it, while a child's name
 * names it as parent, or while a handle is open on it.
 */
#include "daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct alias {
	struct node *node, *parent;
	struct alias *node_next; /* the node's other names */
	struct alias *hash_next; /* by (parent, name) */
	unsigned going;		 /* removals of this name on their way (node_name_going) */
	size_t len;
	char name[];
};

struct hash {
	void **b;
	size_t mask; /* buckets - 1 */
	size_t count;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hash by_id, by_ino, by_name, by_wd; /* protected by table_lock */
static fuse_ino_t next_id = FUSE_ROOT_ID + 1;	  /* protected by table_lock */
static struct node *root;
static struct handle *all_handles; /* protected by table_lock */
static struct node_hooks hooks;	   /* set by nodes_init */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t name_hash(fuse_ino_t parent, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	return mix(h);
}

static uint64_t ino_hash(dev_t dev, ino_t ino, enum node_kind kind)
{
	return mix((uint64_t)ino * 31 + (uint64_t)dev * 17 + (uint64_t)kind);
}

static uint64_t id_hash(fuse_ino_t id)
{
	return mix(id);
}

/* The next-pointer slot of an element, for each hash. */
static void **next_of(struct hash *h, void *e)
{
	if (h == &by_id)
		return (void **)&((struct node *)e)->id_next;
	if (h == &by_ino)
		return (void **)&((struct node *)e)->ino_next;
	if (h == &by_wd)
		return (void **)&((struct node *)e)->wd_next;
	return (void **)&((struct alias *)e)->hash_next;
}

static uint64_t key_of(struct hash *h, void *e)
{
	if (h == &by_id)
		return id_hash(((struct node *)e)->id);
	if (h == &by_ino) {
		struct node *n = e;

		return ino_hash(n->dev, n->ino, n->kind);
	}
	if (h == &by_wd)
		return mix((uint64_t)((struct node *)e)->wd);
	struct alias *a = e;

	return name_hash(a->parent->id, a->name, a->len);
}

static int hash_grow(struct hash *h)
{
	size_t nb = h->b ? (h->mask + 1) * 2 : 1024;
	void **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; h->b && i <= h->mask; i++) {
		void *e = h->b[i];

		while (e) {
			void *next = *next_of(h, e);
			size_t at = key_of(h, e) & (nb - 1);

			*next_of(h, e) = b[at];
			b[at] = e;
			e = next;
		}
	}
	free(h->b);
	h->b = b;
	h->mask = nb - 1;
	return 0;
}

static int hash_add(struct hash *h, void *e)
{
	size_t at;

	if ((!h->b || h->count > h->mask) && hash_grow(h) < 0 && !h->b)
		return -ENOMEM;
	at = key_of(h, e) & h->mask;
	*next_of(h, e) = h->b[at];
	h->b[at] = e;
	h->count++;
	return 0;
}

static void hash_del(struct hash *h, void *e)
{
	void **p = &h->b[key_of(h, e) & h->mask];

	while (*p && *p != e)
		p = next_of(h, *p);
	if (*p) {
		*p = *next_of(h, e);
		h->count--;
	}
}

static struct node *find_id(fuse_ino_t id)
{
	struct node *n;

	if (!by_id.b)
		return NULL;
	for (n = by_id.b[id_hash(id) & by_id.mask]; n; n = n->id_next)
		if (n->id == id)
			return n;
	return NULL;
}

static struct alias *find_name(struct node *parent, const char *name, size_t len)
{
	struct alias *a;

	if (!by_name.b)
		return NULL;
	for (a = by_name.b[name_hash(parent->id, name, len) & by_name.mask]; a; a = a->hash_next)
		if (a->parent == parent && a->len == len && !memcmp(a->name, name, len))
			return a;
	return NULL;
}

static struct node *find_wd(int wd)
{
	struct node *n;

	if (!by_wd.b)
		return NULL;
	for (n = by_wd.b[mix((uint64_t)wd) & by_wd.mask]; n; n = n->wd_next)
		if (n->wd == wd)
			return n;
	return NULL;
}

static struct node *find_ino(dev_t dev, ino_t ino, enum node_kind kind)
{
	struct node *n;

	if (!by_ino.b)
		return NULL;
	for (n = by_ino.b[ino_hash(dev, ino, kind) & by_ino.mask]; n; n = n->ino_next)
		if (n->ino == ino && n->dev == dev && n->kind == kind)
			return n;
	return NULL;
}

static void node_put(struct node *n);

/* Free n once nothing holds it. Caller holds table_lock. */
static void maybe_free(struct node *n)
{
	if (n == root || n->nlookup || n->refs || n->handles)
		return;
	while (n->aliases) {
		struct alias *a = n->aliases;

		n->aliases = a->node_next;
		hash_del(&by_name, a);
		node_put(a->parent);
		free(a);
	}
	hash_del(&by_id, n);
	if (n->ino_hashed)
		hash_del(&by_ino, n);
	if (n->wd > 0) {
		hash_del(&by_wd, n);
		hooks.unwatch(n->wd, false);
	}
	free(n);
}

static void node_put(struct node *n)
{
	n->refs--;
	maybe_free(n);
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
	node_put(a->parent);
	free(a);
	maybe_free(n);
}

/* Record parent/name as a name of n. Caller holds table_lock. */
static int alias_add(struct node *n, struct node *parent, const char *name, size_t len)
{
	struct alias *a = find_name(parent, name, len);

	if (a && a->node == n)
		return 0;
	if (a) /* the name now belongs to another inode */
		alias_remove(a);
	/* A directory has one name: the old one went with a rename beside the mount. */
	if (S_ISDIR(n->type) || n->kind == NK_OVERLAY)
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

int nodes_init(const struct stat *st, const struct bundle_conf *conf, const struct node_hooks *h)
{
	hooks = *h;
	root = calloc(1, sizeof(*root));
	if (!root)
		return -ENOMEM;
	root->conf = conf;
	root->id = FUSE_ROOT_ID;
	root->kind = NK_ROOT;
	root->type = S_IFDIR;
	root->dev = st->st_dev;
	root->ino = st->st_ino;
	root->nlookup = 1;
	if (hash_add(&by_id, root) < 0 || hash_add(&by_ino, root) < 0)
		return -ENOMEM;
	root->ino_hashed = true;
	return 0;
}

void nodes_free_all(void)
{
	pthread_mutex_lock(&table_lock);
	/* After the loop: handles the kernel never released (a lazy unmount). */
	while (all_handles) {
		struct handle *h = all_handles;

		all_handles = h->all_next;
		handle_free(h);
	}
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
	free(by_id.b);
	free(by_ino.b);
	free(by_name.b);
	free(by_wd.b);
	memset(&by_wd, 0, sizeof(by_wd));
	memset(&by_id, 0, sizeof(by_id));
	memset(&by_ino, 0, sizeof(by_ino));
	memset(&by_name, 0, sizeof(by_name));
	root = NULL;
	pthread_mutex_unlock(&table_lock);
}

struct node *node_find(fuse_ino_t id)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = find_id(id);
	pthread_mutex_unlock(&table_lock);
	return n;
}

static bool hidden(const char *name)
{
	return name[0] == '.';
}

/* Caller holds table_lock. */
static const char *first_name(struct node *n)
{
	return n->aliases ? n->aliases->name : NULL;
}

static bool is_bundle_locked(struct node *n)
{
	const char *name = first_name(n);

	return n->kind == NK_NSENTRY && S_ISDIR(n->type) && name && !hidden(name);
}

/* A visible namespace directory. Caller holds table_lock. */
static bool is_ns_locked(struct node *n)
{
	const char *name = first_name(n);

	return n->kind == NK_NS && S_ISDIR(n->type) && name && !hidden(name);
}

bool node_is_bundle(struct node *n)
{
	bool ret;

	pthread_mutex_lock(&table_lock);
	ret = is_bundle_locked(n);
	pthread_mutex_unlock(&table_lock);
	return ret;
}

enum node_kind node_child_kind(struct node *parent, const char *name, const struct ovl **ov)
{
	enum node_kind kind = NK_INSIDE;
	const char *pname;

	*ov = NULL;
	pthread_mutex_lock(&table_lock);
	switch (parent->kind) {
	case NK_ROOT:
		kind = NK_NS;
		break;
	case NK_NS:
		pname = first_name(parent);
		kind = pname && !hidden(pname) && S_ISDIR(parent->type) ? NK_NSENTRY : NK_INSIDE;
		break;
	case NK_NSENTRY:
		if (is_bundle_locked(parent) && (*ov = ovl_find(parent->conf, name)))
			kind = NK_OVERLAY;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&table_lock);
	return kind;
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
static struct alias *live_name(struct node *n, unsigned i)
{
	for (struct alias *a = n->aliases; a; a = a->node_next)
		if (!a->going && i-- == 0)
			return a;
	return NULL;
}

struct node *node_attach(struct node *parent, const char *name, enum node_kind kind,
			 const struct stat *st, const struct ovl *ov, bool *created)
{
	size_t len = strlen(name);
	struct node *n = NULL, *checked = NULL;
	bool still = false;
	struct alias *a;

	*created = false;
	pthread_mutex_lock(&table_lock);
	if (kind == NK_OVERLAY) {
		a = find_name(parent, name, len);
		if (a && a->node->kind == NK_OVERLAY && a->node->ov == ov)
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
			if (!live_name(n, 0) || (n == checked && !still)) {
				unhash_ino(n);
				n = NULL;
			} else if (n != checked) {
				if (checked)
					node_put(checked);
				checked = n;
				n->refs++;
				pthread_mutex_unlock(&table_lock);
				still = hooks.still_named(n);
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
		n->conf = parent->conf;
		n->kind = kind;
		n->ov = ov;
		if (kind == NK_OVERLAY) {
			n->type = S_IFREG;
		} else {
			n->type = st->st_mode & S_IFMT;
			n->dev = st->st_dev;
			n->ino = st->st_ino;
		}
		if (hash_add(&by_id, n) < 0 || (kind != NK_OVERLAY && hash_add(&by_ino, n) < 0)) {
			hash_del(&by_id, n);
			free(n);
			n = NULL;
			goto out;
		}
		n->ino_hashed = kind != NK_OVERLAY;
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
		node_put(checked);
	pthread_mutex_unlock(&table_lock);
	return n;
}

bool node_watch_claim(struct node *n, unsigned which)
{
	bool claimed;

	pthread_mutex_lock(&table_lock);
	claimed = n->wd == WD_NONE && (((which & NODE_NAMESPACE) && is_ns_locked(n)) ||
				       ((which & NODE_BUNDLE) && is_bundle_locked(n)));
	if (claimed)
		n->wd = WD_PENDING;
	pthread_mutex_unlock(&table_lock);
	return claimed;
}

void node_forget(fuse_ino_t id, uint64_t nlookup)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = find_id(id);
	if (n && n != root) {
		n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
		maybe_free(n);
	}
	pthread_mutex_unlock(&table_lock);
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
	a = find_name(parent, name, strlen(name));
	if (a)
		a->going++;
	pthread_mutex_unlock(&table_lock);
}

void node_name_kept(struct node *parent, const char *name)
{
	struct alias *a;

	pthread_mutex_lock(&table_lock);
	a = find_name(parent, name, strlen(name));
	if (a && a->going)
		a->going--;
	pthread_mutex_unlock(&table_lock);
}

void node_name_gone(struct node *parent, const char *name)
{
	struct alias *a;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	a = find_name(parent, name, strlen(name));
	if (a) {
		n = a->node;
		n->refs++;
		alias_remove(a);
		unhash_if_nameless(n);
		node_put(n);
	}
	pthread_mutex_unlock(&table_lock);
}

void node_name_retire(struct node *parent, const char *name)
{
	struct alias *a;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	a = find_name(parent, name, strlen(name));
	if (a) {
		n = a->node;
		n->refs++;
		n->retired = true;
		while (n->aliases)
			alias_remove(n->aliases);
		unhash_if_nameless(n);
		node_put(n);
	}
	pthread_mutex_unlock(&table_lock);
}

bool node_by_handle(struct node *n)
{
	bool ret;

	pthread_mutex_lock(&table_lock);
	ret = n != root && !n->aliases && !n->retired;
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
	node_put(n);
	pthread_mutex_unlock(&table_lock);
	return ret;
}

void node_renamed(struct node *p1, const char *n1, struct node *p2, const char *n2, bool exchange)
{
	struct alias *a, *b;
	struct node *na, *nb = NULL;

	pthread_mutex_lock(&table_lock);
	a = find_name(p1, n1, strlen(n1));
	b = find_name(p2, n2, strlen(n2));
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
		node_put(na);
	if (nb)
		node_put(nb);
	pthread_mutex_unlock(&table_lock);
}

/*
 * The names from the root down to n, joined with '/'. Caller holds
 * table_lock. -ENOENT if a node on the way has no name.
 */
static int path_locked(struct node *n, char **path, size_t *len)
{
	size_t total = 0, at;
	struct node *p;
	char *buf;

	for (p = n; p != root; p = p->aliases->parent) {
		if (!p->aliases)
			return -ENOENT;
		total += p->aliases->len + 1;
	}
	buf = malloc(total + 1);
	if (!buf)
		return -ENOMEM;
	at = total;
	buf[at] = '\0';
	for (p = n; p != root; p = p->aliases->parent) {
		struct alias *a = p->aliases;

		at -= a->len;
		memcpy(buf + at, a->name, a->len);
		if (at)
			buf[--at] = '/';
	}
	/* The leading slot of the first component's separator is unused. */
	if (total) {
		memmove(buf, buf + 1, total);
		total--;
	}
	*path = buf;
	*len = total;
	return 0;
}

int node_path(struct node *n, char **path, size_t *len)
{
	int ret;

	pthread_mutex_lock(&table_lock);
	ret = n->retired && !n->aliases ? -ESTALE : path_locked(n, path, len);
	pthread_mutex_unlock(&table_lock);
	return ret;
}

/* The path of a's parent, and a's name in *base (malloc'd). Caller holds table_lock. */
static int alias_path_locked(struct alias *a, char **path, size_t *len, char **base)
{
	int ret;

	*base = strdup(a->name);
	ret = *base ? path_locked(a->parent, path, len) : -ENOMEM;
	if (ret < 0) {
		free(*base);
		*base = NULL;
	}
	return ret;
}

int node_live_name_path(struct node *n, unsigned i, char **path, size_t *len, char **base)
{
	struct alias *a;
	int ret = -ENOENT;

	pthread_mutex_lock(&table_lock);
	a = live_name(n, i);
	if (a) {
		ret = alias_path_locked(a, path, len, base);
		if (ret == -ENOENT)
			ret = -ESTALE; /* an ancestor has no name left */
	}
	pthread_mutex_unlock(&table_lock);
	return ret;
}

int node_bundle_names(struct node *n, char *ns, char *id)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&table_lock);
	if (n->kind == NK_OVERLAY && n->aliases)
		n = n->aliases->parent;
	if (n->kind == NK_NSENTRY && n->aliases && n->aliases->parent->aliases) {
		memcpy(id, n->aliases->name, n->aliases->len + 1);
		memcpy(ns, n->aliases->parent->aliases->name, n->aliases->parent->aliases->len + 1);
		ret = 0;
	}
	pthread_mutex_unlock(&table_lock);
	return ret;
}

struct node *node_bundle_of(struct node *n)
{
	struct node *p = n;

	pthread_mutex_lock(&table_lock);
	/* Walk up to the node whose parent's parent is the root (depth 2). */
	while (p && p != root && p->aliases) {
		struct node *up = p->aliases->parent;

		if (up != root && up->aliases && up->aliases->parent == root)
			break;
		if (up == root) {
			p = NULL; /* depth 1: no bundle */
			break;
		}
		p = up;
	}
	if (p && (p == root || !p->aliases))
		p = NULL;
	pthread_mutex_unlock(&table_lock);
	return p;
}

void node_handle_add(struct node *n, struct handle *h)
{
	pthread_mutex_lock(&table_lock);
	h->node = n;
	n->refs++;
	h->next = n->handles;
	n->handles = h;
	h->all_prev = NULL;
	h->all_next = all_handles;
	if (all_handles)
		all_handles->all_prev = h;
	all_handles = h;
	pthread_mutex_unlock(&table_lock);
}

bool node_handle_release(struct handle *h)
{
	struct node *n = h->node;
	struct handle **p;
	bool free_now;

	pthread_mutex_lock(&table_lock);
	for (p = &n->handles; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	if (h->all_prev)
		h->all_prev->all_next = h->all_next;
	else if (all_handles == h)
		all_handles = h->all_next;
	if (h->all_next)
		h->all_next->all_prev = h->all_prev;
	h->released = true;
	free_now = h->pins == 0;
	node_put(n);
	pthread_mutex_unlock(&table_lock);
	return free_now;
}

struct handle *node_handle_pin(struct node *n, enum handle_kind kind)
{
	struct handle *h;

	pthread_mutex_lock(&table_lock);
	/* H_FILE: any handle with a backing descriptor (an open file or directory). */
	for (h = n->handles; h && h->kind != kind && !(kind == H_FILE && h->kind == H_DIR);
	     h = h->next)
		;
	if (h)
		h->pins++;
	pthread_mutex_unlock(&table_lock);
	return h;
}

void handle_free(struct handle *h)
{
	if (h->kind == H_OVERLAY)
		ovl_release(h->ovf);
	else if (h->fd >= 0)
		close(h->fd);
	if (h->fd_other >= 0)
		close(h->fd_other);
	free(h->dir);
	free(h);
}

void handle_unpin(struct handle *h)
{
	bool free_now;

	pthread_mutex_lock(&table_lock);
	free_now = --h->pins == 0 && h->released;
	pthread_mutex_unlock(&table_lock);
	if (free_now)
		handle_free(h);
}

void node_set_wd(struct node *n, int wd)
{
	pthread_mutex_lock(&table_lock);
	n->wd = wd;
	if (wd > 0 && hash_add(&by_wd, n) < 0) {
		hooks.unwatch(wd, false);
		n->wd = WD_FAILED;
	}
	pthread_mutex_unlock(&table_lock);
}

void node_wd_gone(int wd)
{
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = find_wd(wd);
	if (n) {
		hash_del(&by_wd, n);
		n->wd = WD_FAILED;
		hooks.unwatch(wd, true);
	}
	pthread_mutex_unlock(&table_lock);
}

fuse_ino_t node_of_wd(int wd, bool *is_bundle, const struct bundle_conf **conf)
{
	fuse_ino_t id = 0;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = find_wd(wd);
	if (n) {
		id = n->id;
		*is_bundle = is_bundle_locked(n);
		*conf = n->conf;
	}
	pthread_mutex_unlock(&table_lock);
	return id;
}

fuse_ino_t node_child_id(fuse_ino_t parent, const char *name, bool *overlay)
{
	fuse_ino_t id = 0;
	struct alias *a;
	struct node *p;

	pthread_mutex_lock(&table_lock);
	p = find_id(parent);
	a = p ? find_name(p, name, strlen(name)) : NULL;
	if (a) {
		id = a->node->id;
		*overlay = a->node->kind == NK_OVERLAY;
	}
	pthread_mutex_unlock(&table_lock);
	return id;
}

int node_namespace_overlays(fuse_ino_t bundle, const char *name, fuse_ino_t **ids, size_t *n)
{
	fuse_ino_t *v = NULL;
	struct node *b, *ns;
	size_t at = 0, cap = 0;
	int ret = 0;

	pthread_mutex_lock(&table_lock);
	b = find_id(bundle);
	ns = b && b->aliases ? b->aliases->parent : NULL;
	for (size_t i = 0; ns && by_name.b && i <= by_name.mask; i++)
		for (struct alias *a = by_name.b[i]; a; a = a->hash_next) {
			struct alias *up = a->parent->aliases;

			if (a->node->kind != NK_OVERLAY || !up || up->parent != ns ||
			    strcmp(a->name, name))
				continue;
			if (at == cap) {
				fuse_ino_t *bigger = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

				if (!bigger) {
					ret = -ENOMEM;
					goto out;
				}
				v = bigger;
				cap = cap ? cap * 2 : 16;
			}
			v[at++] = a->node->id;
		}
out:
	pthread_mutex_unlock(&table_lock);
	if (ret < 0) {
		free(v);
		return ret;
	}
	*ids = v;
	*n = at;
	return 0;
}

/* Caller holds table_lock. */
static bool watch_later_locked(struct node *n)
{
	return n && (n->wd == WD_NONE || n->wd == WD_PENDING) && is_bundle_locked(n);
}

void node_watch_state(struct node *n, struct watch_state *w)
{
	struct node *up;

	pthread_mutex_lock(&table_lock);
	up = n->aliases ? n->aliases->parent : NULL;
	w->self = n->wd > 0;
	w->parent = up && up->wd > 0;
	w->self_later = watch_later_locked(n);
	w->parent_later = watch_later_locked(up);
	pthread_mutex_unlock(&table_lock);
}

int node_watched_names(struct node_name **names, size_t *count)
{
	struct node_name *v;
	size_t at = 0;
	int ret = 0;

	pthread_mutex_lock(&table_lock);
	v = malloc((by_wd.count + by_name.count + 1) * sizeof(*v));
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; by_wd.b && i <= by_wd.mask; i++)
		for (struct node *n = by_wd.b[i]; n; n = n->wd_next) {
			v[at].parent = n->id;
			v[at].child = 0;
			v[at].name[0] = '\0';
			at++;
		}
	for (size_t i = 0; by_name.b && i <= by_name.mask; i++)
		for (struct alias *a = by_name.b[i]; a; a = a->hash_next) {
			if (a->parent->wd <= 0)
				continue;
			v[at].parent = a->parent->id;
			v[at].child = a->node->id;
			memcpy(v[at].name, a->name, a->len + 1);
			at++;
		}
	*names = v;
	*count = at;
out:
	pthread_mutex_unlock(&table_lock);
	return ret;
}
