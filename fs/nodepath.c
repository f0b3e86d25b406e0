/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a node's names say (node.h): where it sits in the tree (its kind, a
 * namespace, a bundle), its path below the store's root, and the bundle it
 * is in. Part of the node table: read under table_lock (table.h).
 */
#include "node.h"
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool hidden(const char *name)
{
	return name[0] == '.';
}

/* Caller holds table_lock. */
static const char *first_name(struct node *n)
{
	return n->aliases ? n->aliases->name : NULL;
}

bool table_is_bundle(struct node *n)
{
	const char *name = first_name(n);

	return n->kind == NK_NSENTRY && S_ISDIR(n->type) && name && !hidden(name);
}

bool table_is_ns(struct node *n)
{
	const char *name = first_name(n);

	return n->kind == NK_NS && S_ISDIR(n->type) && name && !hidden(name);
}

bool node_is_bundle(struct node *n)
{
	bool ret;

	pthread_mutex_lock(&table_lock);
	ret = table_is_bundle(n);
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
		if (table_is_bundle(parent) && (*ov = ovl_find(parent->conf, name)))
			kind = NK_OVERLAY;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&table_lock);
	return kind;
}

/*
 * Where paths begin: a store's root (MOUNT, or a plugin directory of the
 * node view), or MOUNT of the node view for its own nodes.
 */
static bool path_root(const struct node *n)
{
	return n->kind == NK_ROOT || n->kind == NK_VIEWROOT;
}

/*
 * The names from n's path root (path_root) down to n, joined with '/'.
 * Caller holds table_lock. -ENOENT if a node on the way has no name.
 */
static int path_locked(struct node *n, char **path, size_t *len)
{
	size_t total = 0, at;
	struct node *p;
	char *buf;

	for (p = n; !path_root(p); p = p->aliases->parent) {
		if (!p->aliases)
			return -ENOENT;
		total += p->aliases->len + 1;
	}
	buf = malloc(total + 1);
	if (!buf)
		return -ENOMEM;
	at = total;
	buf[at] = '\0';
	for (p = n; !path_root(p); p = p->aliases->parent) {
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
	a = table_live_name(n, i);
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
	/* Walk up to the node whose parent's parent is its store's root (depth 2). */
	while (p && !path_root(p) && p->aliases) {
		struct node *up = p->aliases->parent;

		if (!path_root(up) && up->aliases && path_root(up->aliases->parent))
			break;
		if (path_root(up)) {
			p = NULL; /* depth 1: no bundle */
			break;
		}
		p = up;
	}
	if (p && (path_root(p) || !p->aliases || p->kind == NK_VIEW))
		p = NULL;
	pthread_mutex_unlock(&table_lock);
	return p;
}

bool node_bundle_file(struct node *n, fuse_ino_t *dir, const struct bundle_conf **conf, char *name)
{
	bool found = false;

	/* kind and type are set when the node is made, never after: no lock for them. */
	if (n->kind != NK_INSIDE || !S_ISREG(n->type))
		return false;
	pthread_mutex_lock(&table_lock);
	for (struct alias *a = n->aliases; a && !found; a = a->node_next) {
		if (a->len > NAME_MAX || !table_is_bundle(a->parent))
			continue;
		*dir = a->parent->id;
		*conf = a->parent->conf;
		memcpy(name, a->name, a->len + 1);
		found = true;
	}
	pthread_mutex_unlock(&table_lock);
	return found;
}
