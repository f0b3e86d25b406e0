// SPDX-License-Identifier: Apache-2.0
/*
 * The pods index (pods.h): the listings, a snapshot taken under the read
 * lock, and the names of the links, worked out from the few claimants of
 * one pod at each listing.
 */
#include "podsint.h"

#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct names_walk {
	struct pods_names *out;
	bool nomem;
};

static void name_one(const void *node, VISIT which, void *arg)
{
	const struct pod *pod = *(struct pod *const *)node;
	struct names_walk *w = arg;

	if ((which != postorder && which != leaf) || w->nomem)
		return;
	w->out->v[w->out->n] = strdup(pod->name);
	if (!w->out->v[w->out->n])
		w->nomem = true;
	else
		w->out->n++;
}

void pods_names_free(struct pods_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

int pods_list(struct pods *p, struct pods_names *out)
{
	struct names_walk w = {.out = out};

	out->n = 0;
	pthread_rwlock_rdlock(&p->lock);
	out->v = malloc((p->npods ? p->npods : 1) * sizeof(*out->v));
	if (out->v)
		twalk_r(p->pods, name_one, &w);
	out->gen = p->list_gen;
	pthread_rwlock_unlock(&p->lock);
	if (!out->v || w.nomem) {
		pods_names_free(out);
		return -ENOMEM;
	}
	return 0;
}

/* A claimant of a link name, and the entry it makes. */
struct cand {
	const char *claimed; /* the name claimed: "sandbox" or the container's */
	const struct pbundle *b;
	size_t order; /* its place in the order of (claimed, id, plugin, ns) */
	bool bare;
	char *name; /* the entry's name */
};

static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int c = strcmp(a->claimed, b->claimed);

	if (c == 0)
		c = strcmp(a->b->id, b->b->id);
	if (c == 0)
		c = strcmp(a->b->plugin, b->b->plugin);
	return c ? c : strcmp(a->b->ns, b->b->ns);
}

/* By entry name; the bare one first, then the first claimant. */
static int entry_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	if (a->bare != b->bare)
		return a->bare ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

void pods_links_free(struct pods_links *links)
{
	for (size_t i = 0; i < links->n; i++) {
		free(links->v[i].name);
		free(links->v[i].target);
	}
	free(links->v);
	links->v = NULL;
	links->n = 0;
}

/* The links of one directory of pod (pods.h). Caller holds lock. */
static int build_links(const struct pod *pod, enum pods_dir dir, struct pods_links *out)
{
	enum pods_kind kind = dir == PODS_DIR_POD ? PODS_SANDBOX_KIND : PODS_CONTAINER_KIND;
	const char *up = dir == PODS_DIR_POD ? "../../" : "../../../";
	struct cand *c;
	size_t n = 0, k = 0;
	int ret = 0;

	out->v = NULL;
	out->n = 0;
	out->gen = pod->gen;
	c = calloc(pod->n ? pod->n : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < pod->n; i++) {
		const struct pbundle *b = pod->m[i];

		if (b->claim.kind != kind)
			continue;
		c[n].claimed = kind == PODS_SANDBOX_KIND ? PODS_SANDBOX : b->claim.name;
		c[n++].b = b;
	}
	qsort(c, n, sizeof(*c), cand_cmp);
	/* Name the entries: bare when alone, else <name>.<id> once per id. */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !strcmp(c[j].claimed, c[i].claimed); j++)
			;
		for (size_t m = i; m < j; m++) {
			c[m].order = m;
			if (m > i && !strcmp(c[m].b->id, c[m - 1].b->id))
				continue; /* the same name and id: listed once */
			c[m].bare = j - i == 1;
			if (c[m].bare)
				c[m].name = strdup(c[m].claimed);
			else if (asprintf(&c[m].name, "%s.%s", c[m].claimed, c[m].b->id) < 0)
				c[m].name = NULL;
			if (!c[m].name) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	/* Entries by name; of the same name, the first after entry_cmp. */
	for (size_t i = 0; i < n; i++)
		if (c[i].name)
			c[k++] = c[i];
	n = k;
	qsort(c, n, sizeof(*c), entry_cmp);
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pbundle *b = c[i].b;
		struct pods_link *l = &out->v[out->n];

		if (out->n > 0 && !strcmp(c[i].name, out->v[out->n - 1].name))
			continue; /* entry_cmp put the one to list first */
		if (asprintf(&l->target, "%s%s/%s/%s", up, b->plugin, b->ns, b->id) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		l->name = c[i].name;
		c[i].name = NULL;
		out->n++;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
	if (ret < 0)
		pods_links_free(out);
	return ret;
}

int pods_links(struct pods *p, const char *pod, enum pods_dir dir, struct pods_links *out)
{
	struct pod *x;
	int ret;

	out->v = NULL;
	out->n = 0;
	out->gen = 0;
	pthread_rwlock_rdlock(&p->lock);
	x = pidx_pod_find(p, pod);
	ret = x ? build_links(x, dir, out) : -ENOENT;
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

int pods_readlink(struct pods *p, const char *pod, enum pods_dir dir, const char *name,
		  char **target)
{
	struct pods_links links;
	int ret = pods_links(p, pod, dir, &links);

	*target = NULL;
	if (ret < 0)
		return ret;
	ret = -ENOENT;
	for (size_t i = 0; i < links.n; i++) {
		if (!strcmp(links.v[i].name, name)) {
			*target = links.v[i].target;
			links.v[i].target = NULL;
			ret = 0;
			break;
		}
	}
	pods_links_free(&links);
	return ret;
}
