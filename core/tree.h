/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Removing trees and finding mount points, safely (SPEC 4.7, 5.4, 5.5).
 *
 * Everything here works relative to directory descriptors, never follows a
 * symlink (a symlink is an entry to unlink, nothing more) and never crosses
 * a mount point. The number of descriptors held is bounded whatever the
 * depth or width of the tree.
 */
#ifndef BUNDLEFS_TREE_H
#define BUNDLEFS_TREE_H

#include <stddef.h>

/* The prefix of bundlefs's own temporary entries in the backing store. */
#define TREE_TMP_PREFIX ".bundlefs-"

/*
 * Remove dirfd/name and everything below it. name is a single path element.
 * A non-directory is unlinked. A directory is emptied depth first and
 * removed. If any directory in the tree is a mount point (a mount root, or a
 * different st_dev), that subtree is left alone and -EBUSY is returned after
 * removing what can be removed. Entries vanishing concurrently (ENOENT) are
 * not errors. Returns 0, -ENOENT if dirfd/name does not exist, or the first
 * other -errno met.
 */
int tree_remove(int dirfd, const char *name);

/*
 * 1 if a mount point lies at or below any of the n absolute, clean paths
 * (from /proc/self/mountinfo, with its octal escapes decoded), 0 if none,
 * -errno if mountinfo cannot be read. A path equal to "/" matches every mount.
 * The table is read once and again only when the kernel reports a mount or
 * unmount (POLLPRI on the open file), which costs one descriptor for the
 * process's life. Thread-safe.
 */
int tree_has_mounts(const char *const *paths, size_t n);

/*
 * 1 if something at or below dirfd/name is a mount point, by walking the tree
 * (statx STATX_ATTR_MOUNT_ROOT and st_dev) without following symlinks;
 * 0 if not; -errno on failure (-ENOENT if dirfd/name is missing).
 * Complements tree_has_mounts for mounts made in other mount namespaces.
 */
int tree_walk_has_mounts(int dirfd, const char *name);

/*
 * The start-up sweep (SPEC 5.4) on a read-write store. Removes, never crossing
 * a mount point and never touching a visible entry:
 *  - entries named TREE_TMP_PREFIX* directly in the state root,
 *  - in every S/<ns> and W/<ns> (ns a directory not beginning with '.'):
 *    directories named "." + identifier, and entries named TREE_TMP_PREFIX*.
 * Logs one line per entry it could not remove. Returns the number of entries
 * removed, or -errno if a root cannot be read.
 */
int tree_sweep(int state_fd, int work_fd);

#endif
