/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reach a node's backing entry, the one way (SPEC 4.6, 5.5). The
 * root is S. A node with a name is reached by it, checked to be its inode:
 * a name that now names another inode or none (ENOENT, ENOTDIR, ELOOP on
 * the way, another inode at the name) is forgotten and the next one tried,
 * -ESTALE when none is left; any other -errno is returned, names untouched.
 * A node with no name left is reached through a handle open on it, unless
 * it is retired (-ESTALE). Nothing is followed.
 */
#ifndef BUNDLEFS_RESOLVE_H
#define BUNDLEFS_RESOLVE_H

#include <stdbool.h>
#include <sys/stat.h>

#include "node.h"

/*
 * n's entry opened with flags (O_PATH, O_PATH|O_DIRECTORY, O_RDONLY|
 * O_DIRECTORY, an open's access mode...; O_NOFOLLOW and O_CLOEXEC added),
 * its attributes in *st (may be NULL): the descriptor, or -errno.
 */
int resolve_open(struct node *n, int flags, struct stat *st);
/* n's attributes only (st may be NULL). 0 or -errno, by the same rules. */
int resolve_stat(struct node *n, struct stat *st);
/*
 * Whether one of n's names that no request is removing still leads to n's
 * inode (node_attach's check of a reused inode number); no name is dropped.
 */
bool resolve_still_named(struct node *n);

#endif
