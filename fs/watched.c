/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watches of nodes (node.h): which structural directory each inotify
 * watch is on, and what the watcher (watch.c) asks of the table. Part of
 * the node table: protected by table_lock (table.h). Which nodes are
 * watched, and when, is the watcher's to decide (node_watch_claim).
 */
#include "node.h"
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct node *find_wd(int wd)
{
	struct node *n;

	for (n = hash_bucket(&by_wd, hash_mix((uint64_t)wd)); n; n = n->wd_next)
		if (n->wd == wd)
			return n;
	return NULL;
}

bool node_watch_claim(struct node *n, unsigned which)
{
	bool claimed;

	pthread_mutex_lock(&table_lock);
	claimed = n->wd == WD_NONE && (((which & NODE_NAMESPACE) && table_is_ns(n)) ||
				       ((which & NODE_BUNDLE) && table_is_bundle(n)) ||
				       ((which & NODE_ROOT) && n->kind == NK_ROOT));
	if (claimed)
		n->wd = WD_PENDING;
	pthread_mutex_unlock(&table_lock);
	return claimed;
}

void node_set_wd(struct node *n, int wd)
{
	pthread_mutex_lock(&table_lock);
	n->wd = wd;
	if (wd > 0 && hash_add(&by_wd, n) < 0) {
		table_hooks.unwatch(wd, n->id, false);
		n->wd = WD_FAILED;
	}
	pthread_mutex_unlock(&table_lock);
}

size_t node_wds_gone(const int *wds, size_t n, fuse_ino_t *ids)
{
	size_t found = 0;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < n; i++) {
		struct node *w = find_wd(wds[i]);

		if (w) {
			hash_del(&by_wd, w);
			w->wd = WD_FAILED;
			table_hooks.unwatch(wds[i], w->id, true);
			ids[found++] = w->id;
		}
	}
	pthread_mutex_unlock(&table_lock);
	return found;
}

fuse_ino_t node_of_wd(int wd, bool *is_bundle, const struct bundle_conf **conf)
{
	fuse_ino_t id = 0;
	struct node *n;

	pthread_mutex_lock(&table_lock);
	n = find_wd(wd);
	if (n) {
		id = n->id;
		*is_bundle = table_is_bundle(n);
		*conf = n->conf;
	}
	pthread_mutex_unlock(&table_lock);
	return id;
}

bool node_child_watched(struct node *parent, const char *name)
{
	struct alias *a;
	bool ret;

	pthread_mutex_lock(&table_lock);
	a = table_find_name(parent, name, strlen(name));
	ret = a && a->node->wd != WD_NONE;
	pthread_mutex_unlock(&table_lock);
	return ret;
}

fuse_ino_t node_child_id(fuse_ino_t parent, const char *name, bool *overlay)
{
	fuse_ino_t id = 0;
	struct alias *a;
	struct node *p;

	pthread_mutex_lock(&table_lock);
	p = table_find_id(parent);
	a = p ? table_find_name(p, name, strlen(name)) : NULL;
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
	b = table_find_id(bundle);
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

/* Whether id is among v[0..n). */
static bool among(const fuse_ino_t *v, size_t n, fuse_ino_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

int node_subtrees(const fuse_ino_t *roots, size_t nroots, bool walk, fuse_ino_t **ids,
		  size_t *count)
{
	fuse_ino_t *v = malloc((nroots ? nroots : 1) * sizeof(*v));
	size_t at = 0, cap = nroots ? nroots : 1, from = 0;
	bool parents = false;
	struct node *n;
	int ret = 0;

	if (!v)
		return -ENOMEM;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < nroots; i++)
		if (roots[i] != FUSE_ROOT_ID && (n = table_find_id(roots[i])) &&
		    !among(v, at, roots[i])) {
			v[at++] = roots[i];
			parents |= n->refs > 0; /* children's names, or handles */
		}
	/*
	 * Level by level (a few: a bundle, rootfs, what is below it), each a
	 * walk of every name: only when a root may have children.
	 */
	for (int depth = 0; walk && parents && depth < 4 && from < at; depth++) {
		size_t level = at;

		for (size_t i = 0; by_name.b && i <= by_name.mask; i++)
			for (struct alias *a = by_name.b[i]; a; a = a->hash_next) {
				if (!among(v + from, level - from, a->parent->id) ||
				    among(v, at, a->node->id))
					continue;
				if (at == cap) {
					fuse_ino_t *bigger = realloc(v, cap * 2 * sizeof(*v));

					if (!bigger) {
						ret = -ENOMEM;
						goto out;
					}
					v = bigger;
					cap *= 2;
				}
				v[at++] = a->node->id;
			}
		from = level;
	}
out:
	pthread_mutex_unlock(&table_lock);
	if (ret < 0) {
		free(v);
		return ret;
	}
	/* Children before their parents. */
	for (size_t i = 0; i < at / 2; i++) {
		fuse_ino_t t = v[i];

		v[i] = v[at - 1 - i];
		v[at - 1 - i] = t;
	}
	*ids = v;
	*count = at;
	return 0;
}

/* Caller holds table_lock. */
static bool watch_later_locked(struct node *n)
{
	return n && (n->wd == WD_NONE || n->wd == WD_PENDING) && table_is_bundle(n);
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

int node_view_names(struct node_name **names, size_t *count)
{
	struct node_name *v = NULL;
	size_t at = 0, cap = 0;
	int ret = 0;

	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; by_name.b && i <= by_name.mask; i++)
		for (struct alias *a = by_name.b[i]; a; a = a->hash_next) {
			if (a->node->kind != NK_VIEW)
				continue;
			if (at == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				struct node_name *bigger = realloc(v, ncap * sizeof(*v));

				if (!bigger) {
					ret = -ENOMEM;
					goto out;
				}
				v = bigger;
				cap = ncap;
			}
			v[at].parent = a->parent->id;
			v[at].child = a->node->id;
			memcpy(v[at].name, a->name, a->len + 1);
			at++;
		}
out:
	pthread_mutex_unlock(&table_lock);
	if (ret < 0) {
		free(v);
		return ret;
	}
	*names = v;
	*count = at;
	return 0;
}
