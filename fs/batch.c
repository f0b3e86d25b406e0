/* SPDX-License-Identifier: Apache-2.0 */
/* One wake-up's inotify events, gathered for the watcher; see batch.h. */
#include "batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

static uint64_t ev_hash(int wd, const char *name)
{
	return hash_name((unsigned)wd, name, strlen(name));
}

static int batch_grow(struct batch *b)
{
	size_t cap = b->cap ? b->cap * 2 : 256;
	struct ev *v = realloc(b->v, cap * sizeof(*v));
	size_t *slot;

	if (!v)
		return -ENOMEM;
	b->v = v;
	slot = calloc(2 * cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		size_t at = ev_hash(v[i].wd, v[i].name) & (2 * cap - 1);

		while (slot[at])
			at = (at + 1) & (2 * cap - 1);
		slot[at] = i + 1;
	}
	free(b->slot);
	b->slot = slot;
	b->cap = cap;
	return 0;
}

void batch_add(struct batch *b, const struct inotify_event *ie)
{
	const char *name = ie->len ? ie->name : "";
	size_t at;

	if (strlen(name) > NAME_MAX)
		return;
	if (b->n == b->cap && batch_grow(b) < 0)
		return;
	at = ev_hash(ie->wd, name) & (2 * b->cap - 1);
	for (; b->slot[at]; at = (at + 1) & (2 * b->cap - 1)) {
		struct ev *e = &b->v[b->slot[at] - 1];

		if (e->wd == ie->wd && !strcmp(e->name, name)) {
			e->mask |= ie->mask;
			return;
		}
	}
	b->v[b->n].wd = ie->wd;
	b->v[b->n].mask = ie->mask;
	strcpy(b->v[b->n].name, name);
	b->slot[at] = ++b->n;
}

int batch_dirty(struct batch *b, fuse_ino_t id, const struct bundle_conf *conf, unsigned kinds,
		unsigned sandbox)
{
	for (size_t i = 0; i < b->nd; i++)
		if (b->d[i].id == id) {
			b->d[i].kinds |= kinds;
			b->d[i].sandbox |= sandbox;
			return 0;
		}
	if (b->nd == b->dcap) {
		size_t cap = b->dcap ? b->dcap * 2 : 16;
		struct dirty *d = realloc(b->d, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		b->d = d;
		b->dcap = cap;
	}
	b->d[b->nd].id = id;
	b->d[b->nd].conf = conf;
	b->d[b->nd].kinds = kinds;
	b->d[b->nd].sandbox = sandbox;
	b->nd++;
	return 0;
}

void batch_clear(struct batch *b)
{
	b->n = 0;
	b->nd = 0;
	if (b->slot)
		memset(b->slot, 0, 2 * b->cap * sizeof(*b->slot));
}

void batch_free(struct batch *b)
{
	free(b->v);
	free(b->slot);
	free(b->d);
	free(b->gone.v);
}
