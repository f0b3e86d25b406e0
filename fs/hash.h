/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An intrusive chained hash: each element carries its own next pointer, at
 * next_off in it, and is filed under key(element). The buckets double when
 * the elements outnumber them twice (chains of two on average, at most: one
 * pointer per element for the buckets of the three tables of a node) and
 * halve when there are half as many elements as buckets (not below 1,024),
 * so that a table emptied again gives its memory back.
 * hash_del may refile every element: no caller deletes while it walks the
 * buckets. Not thread-safe: the owner's lock protects
 * it (the node table's: node.c).
 */
#ifndef BUNDLEFS_HASH_H
#define BUNDLEFS_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash {
	void **b;     /* the buckets, NULL until the first element */
	size_t mask;  /* buckets - 1 */
	size_t count; /* elements */
	size_t next_off;
	uint64_t (*key)(const void *e);
};

/* An empty hash of elements of type whose next pointer is member, filed under keyfn. */
#define HASH_INIT(type, member, keyfn)                                                             \
	{                                                                                          \
		.next_off = offsetof(type, member), .key = (keyfn)                                 \
	}

/* A 64-bit finalizer: spreads the bits of h over the buckets. */
uint64_t hash_mix(uint64_t h);
/* FNV-1a of name[0..len) from seed, mixed. */
uint64_t hash_name(uint64_t seed, const char *name, size_t len);

/* File e; -ENOMEM when it cannot (e is not filed then). */
int hash_add(struct hash *h, void *e);
/* Take e out, if it is filed. */
void hash_del(struct hash *h, void *e);
/* The first element of key's bucket (NULL: none); the rest follow by their next pointers. */
void *hash_bucket(const struct hash *h, uint64_t key);
/* The buckets freed (not the elements): empty again. */
void hash_clear(struct hash *h);

#endif
