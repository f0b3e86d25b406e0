/* SPDX-License-Identifier: Apache-2.0 */
/* An intrusive chained hash; see hash.h. */
#include "hash.h"

#include <errno.h>
#include <stdlib.h>

static void **next_of(const struct hash *h, const void *e)
{
	return (void **)((char *)e + h->next_off);
}

uint64_t hash_mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

uint64_t hash_name(uint64_t seed, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ULL;
	return hash_mix(h);
}

/* The smallest bucket array: never shrunk below it. */
#define MIN_BUCKETS 1024

/* Refile every element into nb buckets (a power of two). */
static int resize(struct hash *h, size_t nb)
{
	void **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; h->b && i <= h->mask; i++) {
		void *e = h->b[i];

		while (e) {
			void *next = *next_of(h, e);
			size_t at = h->key(e) & (nb - 1);

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

static int grow(struct hash *h)
{
	return resize(h, h->b ? (h->mask + 1) * 2 : MIN_BUCKETS);
}

int hash_add(struct hash *h, void *e)
{
	size_t at;

	/* A failed growth is no failure while there are buckets. */
	if ((!h->b || h->count >= 2 * (h->mask + 1)) && grow(h) < 0 && !h->b)
		return -ENOMEM;
	at = h->key(e) & h->mask;
	*next_of(h, e) = h->b[at];
	h->b[at] = e;
	h->count++;
	return 0;
}

void hash_del(struct hash *h, void *e)
{
	void **p;

	if (!h->b)
		return;
	p = &h->b[h->key(e) & h->mask];
	while (*p && *p != e)
		p = next_of(h, *p);
	if (*p) {
		*p = *next_of(h, e);
		h->count--;
		/* Half as many elements as buckets: halved (a failure keeps the larger array). */
		if (h->mask + 1 > MIN_BUCKETS && h->count < (h->mask + 1) / 2)
			resize(h, (h->mask + 1) / 2);
	}
}

void *hash_bucket(const struct hash *h, uint64_t key)
{
	return h->b ? h->b[key & h->mask] : NULL;
}

void hash_clear(struct hash *h)
{
	free(h->b);
	h->b = NULL;
	h->mask = 0;
	h->count = 0;
}
