// SPDX-License-Identifier: Apache-2.0
/*
 * The pods index (pods.h): an entry per complete bundle with the identity of
 * the config.json it was decoded from and what that claims, and an entry per
 * pod with its claimants. Both are glibc search trees (tsearch), so pods
 * come out in byte order and a bundle is found in O(log n). Link names are
 * worked out at each listing from the few claimants of one pod (podlinks.c).
 * This file holds the trees and the claims installed in them; config.json
 * is read in podread.c, rescans are podscan.c's.
 */
#include "podsint.h"

#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

/* ---- the trees ---- */

static int bundle_cmp(const void *x, const void *y)
{
	const struct pbundle *a = x, *b = y;
	int c = strcmp(a->plugin, b->plugin);

	if (c == 0)
		c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->id, b->id);
}

static int pod_cmp(const void *x, const void *y)
{
	return strcmp(((const struct pod *)x)->name, ((const struct pod *)y)->name);
}

/* Find a pod by name. Caller holds lock or update. */
struct pod *pidx_pod_find(const struct pods *p, const char *name)
{
	struct pod key = {.name = name};
	void *node = tfind(&key, &p->pods, pod_cmp);

	return node ? *(struct pod **)node : NULL;
}

struct pbundle *pidx_bundle_find(const struct pods *p, const char *plugin, const char *ns,
				 const char *id)
{
	struct pbundle key = {.plugin = plugin, .ns = ns, .id = id};
	void *node = tfind(&key, &p->bundles, bundle_cmp);

	return node ? *(struct pbundle **)node : NULL;
}

static void pod_free(void *x)
{
	struct pod *pod = x;

	free(pod->m);
	free(pod);
}

static void bundle_free(void *x)
{
	struct pbundle *b = x;

	pods_claim_free(&b->claim);
	free(b);
}

/* Take b out of its pod; the pod goes when it was the last. Caller holds both locks. */
static void detach(struct pods *p, struct pbundle *b)
{
	struct pod *pod = b->pod;

	if (!pod)
		return;
	for (size_t i = 0; i < pod->n; i++) {
		if (pod->m[i] == b) {
			pod->m[i] = pod->m[--pod->n];
			break;
		}
	}
	pod->gen = p->gen;
	b->pod = NULL;
	if (pod->n == 0) {
		tdelete(pod, &p->pods, pod_cmp);
		pod_free(pod);
		p->npods--;
		p->list_gen = p->gen;
	}
}

/*
 * Give b the claim c (taken over: c is emptied). A pod c names that does not
 * exist yet is made. Caller holds update; takes lock. Nothing changes on
 * -ENOMEM. Returns whether a listing changed.
 */
int pidx_install(struct pods *p, struct pbundle *b, struct pods_claim *c)
{
	struct pod *pod = NULL, **slot;
	bool made = false;
	int ret = 0;

	if (pidx_claim_eq(&b->claim, c)) {
		pods_claim_free(c);
		return 0;
	}
	pthread_rwlock_wrlock(&p->lock);
	if (c->kind != PODS_NONE) {
		size_t len = strlen(c->pod);

		pod = b->pod && !strcmp(b->pod->name, c->pod) ? b->pod : pidx_pod_find(p, c->pod);
		if (!pod) {
			pod = calloc(1, sizeof(*pod) + len + 1);
			if (!pod)
				goto nomem;
			memcpy(pod->buf, c->pod, len + 1);
			pod->name = pod->buf;
			slot = tsearch(pod, &p->pods, pod_cmp);
			if (!slot) {
				free(pod);
				goto nomem;
			}
			made = true;
			p->npods++;
		}
		if (pod != b->pod && pod->n == pod->cap) {
			size_t ncap = pod->cap ? pod->cap * 2 : 4;
			struct pbundle **m = realloc(pod->m, ncap * sizeof(*m));

			if (!m) {
				if (made) {
					tdelete(pod, &p->pods, pod_cmp);
					pod_free(pod);
					p->npods--;
				}
				goto nomem;
			}
			pod->m = m;
			pod->cap = ncap;
		}
	}
	p->gen++;
	if (made)
		p->list_gen = p->gen;
	if (pod != b->pod) {
		detach(p, b);
		if (pod) {
			pod->m[pod->n++] = b;
			b->pod = pod;
		}
	}
	if (pod)
		pod->gen = p->gen;
	pods_claim_free(&b->claim);
	b->claim = *c;
	c->pod = c->name = NULL;
	c->kind = PODS_NONE;
	ret = 1;
	goto out;
nomem:
	ret = -ENOMEM;
out:
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

/* The entry of (plugin, ns, id), made (claiming nothing) when missing. Caller holds update. */
int pidx_bundle_get(struct pods *p, const char *plugin, const char *ns, const char *id,
		    struct pbundle **out)
{
	size_t lp = strlen(plugin), ln = strlen(ns), li = strlen(id);
	struct pbundle *b = pidx_bundle_find(p, plugin, ns, id);
	void *slot;

	if (b) {
		*out = b;
		return 0;
	}
	b = calloc(1, sizeof(*b) + lp + ln + li + 3);
	if (!b)
		return -ENOMEM;
	memcpy(b->key, plugin, lp + 1);
	memcpy(b->key + lp + 1, ns, ln + 1);
	memcpy(b->key + lp + ln + 2, id, li + 1);
	b->plugin = b->key;
	b->ns = b->key + lp + 1;
	b->id = b->key + lp + ln + 2;
	pthread_rwlock_wrlock(&p->lock);
	slot = tsearch(b, &p->bundles, bundle_cmp);
	if (slot)
		p->nbundles++;
	pthread_rwlock_unlock(&p->lock);
	if (!slot) {
		free(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

/* Forget b. Caller holds update and lock (for writing). */
void pidx_bundle_drop(struct pods *p, struct pbundle *b)
{
	if (b->pod)
		p->gen++;
	detach(p, b);
	tdelete(b, &p->bundles, bundle_cmp);
	p->nbundles--;
	bundle_free(b);
}

int pods_new(struct pods **out)
{
	struct pods *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	if (pthread_mutex_init(&p->update, NULL)) {
		free(p);
		return -ENOMEM;
	}
	if (pthread_rwlock_init(&p->lock, NULL)) {
		pthread_mutex_destroy(&p->update);
		free(p);
		return -ENOMEM;
	}
	p->gen = p->list_gen = 1;
	*out = p;
	return 0;
}

void pods_free(struct pods *p)
{
	if (!p)
		return;
	tdestroy(p->bundles, bundle_free);
	tdestroy(p->pods, pod_free);
	pthread_rwlock_destroy(&p->lock);
	pthread_mutex_destroy(&p->update);
	free(p);
}

/* Directory names: not empty, no '/' (a link's target is made of them). */
bool pidx_key_ok(const char *plugin, const char *ns, const char *id)
{
	return plugin && ns && id && plugin[0] && ns[0] && id[0] && !strchr(plugin, '/') &&
	       !strchr(ns, '/') && !strchr(id, '/');
}

int pods_set(struct pods *p, const char *plugin, const char *ns, const char *id,
	     const struct pods_claim *c)
{
	struct pods_claim copy;
	struct pbundle *b;
	int ret;

	if (!pidx_key_ok(plugin, ns, id))
		return -EINVAL;
	ret = pidx_claim_copy(c, &copy);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&p->update);
	ret = pidx_bundle_get(p, plugin, ns, id, &b);
	if (ret == 0) {
		ret = pidx_install(p, b, &copy);
		b->has_ident = false;
	}
	pthread_mutex_unlock(&p->update);
	pods_claim_free(&copy);
	return ret < 0 ? ret : 0;
}

/* ---- queries ---- */

uint64_t pods_generation(struct pods *p)
{
	uint64_t gen;

	pthread_rwlock_rdlock(&p->lock);
	gen = p->gen;
	pthread_rwlock_unlock(&p->lock);
	return gen;
}

int pods_stat(struct pods *p, const char *pod, uint64_t *gen)
{
	int ret = 0;

	pthread_rwlock_rdlock(&p->lock);
	if (!pod) {
		if (gen)
			*gen = p->list_gen;
	} else {
		struct pod *x = pidx_pod_find(p, pod);

		if (!x)
			ret = -ENOENT;
		else if (gen)
			*gen = x->gen;
	}
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

void pods_get_stats(struct pods *p, struct pods_stats *st)
{
	pthread_rwlock_rdlock(&p->lock);
	st->bundles = p->nbundles;
	st->pods = p->npods;
	st->reads = p->reads;
	pthread_rwlock_unlock(&p->lock);
}
