/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Removing trees and finding mount points in them, safely (SPEC 4.7, 5.4,
 * 5.5).
 *
 * Everything here works relative to directory descriptors, never follows a
 * symlink (a symlink is an entry to unlink, nothing more) and never crosses
 * a mount point. The number of descriptors held is bounded whatever the
 * depth or width of the tree.
 */
#ifndef BUNDLEFS_TREE_H
#define BUNDLEFS_TREE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* The prefix of bundlefs's own temporary entries in the backing store. */
#define TREE_TMP_PREFIX ".bundlefs-"

/*
 * Remove dirfd/name and everything below it. name is a single path element.
 * A non-directory is unlinked. A directory is emptied depth first and
 * removed; an empty one is removed at once. If any directory in the tree is
 * a mount point (a mount root, or a different st_dev with something in it),
 * that subtree is left alone and -EBUSY is returned after removing what can
 * be removed. Entries vanishing concurrently (ENOENT) are not errors.
 * Returns 0, -ENOENT if dirfd/name does not exist, or the first other -errno
 * met.
 */
int tree_remove(int dirfd, const char *name);

/*
 * 1 if something at or below dirfd/name is a mount point, by walking the tree
 * (statx STATX_ATTR_MOUNT_ROOT and st_dev) without following symlinks;
 * 0 if not; -errno on failure (-ENOENT if dirfd/name is missing).
 * Complements mounts_below (mounts.h) for mounts made in other mount
 * namespaces.
 */
int tree_walk_has_mounts(int dirfd, const char *name);

/*
 * The flags every directory of a walk is opened with: never through a
 * symlink, close-on-exec (scripts/check-source.sh checks that this says
 * O_CLOEXEC).
 */
#define TREE_DIR_O_CLOEXEC (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* Where the directory fd is: its device, mount and mount-root flag. 0 or -errno. */
int tree_mount_of(int fd, struct statx *stx);

/* true if stx is not on the same mount as ref (another device or mount, or a mount root). */
bool tree_crosses(const struct statx *ref, const struct statx *stx);

#endif
