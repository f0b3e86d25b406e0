/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mount points below a path (SPEC 4.7, 5.4): whether a bundle or a work
 * directory about to be removed has a file system mounted inside it, as
 * this process's mount namespace sees it. tree_walk_has_mounts (tree.h)
 * complements it for mounts made in other namespaces.
 */
#ifndef BUNDLEFS_MOUNTS_H
#define BUNDLEFS_MOUNTS_H

#include <stddef.h>

/*
 * 1 if a mount point lies at or below any of the n absolute, clean paths
 * (from /proc/self/mountinfo, with its octal escapes decoded), 0 if none,
 * -errno if mountinfo cannot be read. A path equal to "/" matches every mount.
 * The table is read once and again only when the kernel reports a mount or
 * unmount (POLLPRI on the open file), which costs one descriptor for the
 * process's life. Thread-safe: the table is protected by its own lock, held
 * while it is re-read, never with another.
 */
int mounts_below(const char *const *paths, size_t n);

#endif
