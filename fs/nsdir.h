/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Descriptors of namespace directories, kept for the lookups in them
 * (nsdir.c): a cold lookup of a bundle then opens nothing.
 */
#ifndef BUNDLEFS_NSDIR_H
#define BUNDLEFS_NSDIR_H

#include "node.h"

/*
 * An O_PATH descriptor of directory node n for a lookup in it, as
 * resolve_open(n, O_PATH | O_DIRECTORY) gives (-errno the same way). For a
 * watched namespace it is the kept one (*slot >= 0), else the caller's own
 * (*slot -1). Either way give it back with nsdir_close.
 */
int nsdir_open(struct node *n, int *slot);
void nsdir_close(int fd, int slot);
/*
 * What names the directory of the descriptor lent as slot, for as long as
 * it is lent: never the same for two descriptors kept, one after the other
 * or at once; 0 for slot -1 (a descriptor of the caller's own).
 */
unsigned long nsdir_key(int slot);
/*
 * The attributes of namespace n through its kept descriptor: 0, -errno, or
 * 1 when none is kept (the caller resolves n itself).
 */
int nsdir_stat(struct node *n, struct stat *st);
/*
 * The watcher saw a name event naming node id (or an event on directory id
 * itself) that may change what a name leads to, or id's watch went: when id
 * is a kept namespace, or the directory above one, every kept descriptor
 * goes. Takes no table lock (the table calls it with its own held).
 */
void nsdir_event(fuse_ino_t id);
/* Every kept descriptor goes (events lost; the watcher stopped; exit). */
void nsdir_drop_all(void);

#endif
