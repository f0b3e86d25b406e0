/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The entries a request replies (lookup.c): what a name of a node leads to,
 * with the lifetimes the watcher gives it (watch.h).
 */
#ifndef BUNDLEFS_LOOKUP_H
#define BUNDLEFS_LOOKUP_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <sys/stat.h>

#include "node.h"

/*
 * Fill e for a lookup of parent/name, with dirfd parent's directory if the
 * caller has it open (else -1); 0 or -errno. Counts one lookup on success.
 * req: the request whose process looks (what it was shown: hold.c), or NULL.
 */
int lookup_entry(fuse_req_t req, struct node *parent, int dirfd, const char *name,
		 struct fuse_entry_param *e);
/*
 * The same for an entry the request req just made (mkdir, mknod, symlink):
 * a bundle made gets its watch only when used again, so that one made and
 * removed at once costs none.
 */
int lookup_made(fuse_req_t req, struct node *parent, const char *name, struct fuse_entry_param *e);
/*
 * Fill e for node n named in parent with attributes st, with the lifetimes
 * watch.h gives them (epoch: watch_epoch() before st was read).
 */
void lookup_fill(struct fuse_entry_param *e, struct node *parent, struct node *n,
		 const struct stat *st, unsigned epoch);
/*
 * Whether name in parent is a v2 bundle's work link (SPEC 7.2): made at
 * creation, never followed, never removed or renamed through the mount.
 */
bool lookup_is_work_link(struct node *parent, const char *name);

#endif
