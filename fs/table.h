/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node table's internals, shared by the files that make it up: node.c
 * (nodes and their names), nodepath.c (what the names say), handle.c
 * (handles open on nodes) and watched.c (the watches of nodes). Everything else uses node.h.
 * Everything here is protected by table_lock, and every function here is called with it held.
 */
#ifndef BUNDLEFS_TABLE_H
#define BUNDLEFS_TABLE_H

#include <pthread.h>

#include "hash.h"
#include "node.h"

/* One name of a node: (parent, name). */
struct alias {
	struct node *node, *parent;
	struct alias *node_next; /* the node's other names */
	struct alias *hash_next; /* by (parent, name) */
	unsigned going;		 /* removals of this name on their way (node_name_going) */
	uint32_t len;
	char name[];
};

extern pthread_mutex_t table_lock;
/* The root node: S, never freed. */
extern struct node *table_root;
/* (parent id, name) -> alias: the names the kernel has seen. */
extern struct hash by_name;
/* inotify watch -> the directory node it watches (watched.c's; freed with the node). */
extern struct hash by_wd;
/* The hooks nodes_init was given. */
extern struct node_hooks table_hooks;

struct node *table_find_id(fuse_ino_t id);
struct alias *table_find_name(struct node *parent, const char *name, size_t len);
/* n's i-th name that no request is removing, or NULL. */
struct alias *table_live_name(struct node *n, unsigned i);
/* A reference to n is dropped: n is freed once nothing holds it. */
void table_put(struct node *n);
/* n is a bundle (a visible directory at depth 2), or a visible namespace. */
bool table_is_bundle(struct node *n);
bool table_is_ns(struct node *n);

#endif
