/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The owner and mode of what a request creates (SPEC 4.6): the caller's
 * owner where the daemon can give it (root), the group of a setgid
 * directory, and the caller's umask unless a default ACL applies.
 */
#ifndef BUNDLEFS_CREATOR_H
#define BUNDLEFS_CREATOR_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <sys/types.h>

#include "conf.h"
#include "store.h"

/* The caller of req, as owner of what it creates in c's store. */
void creator_owner(fuse_req_t req, const struct bundle_conf *c, struct store_owner *own);
/*
 * Give the new entry dirfd/name in c's store the caller's owner (a chown
 * clears the set-id bits of a regular file: mode's are put back), or
 * remove it again: 0 or -errno.
 */
int creator_own(fuse_req_t req, const struct bundle_conf *c, int dirfd, const char *name,
		bool is_dir, mode_t mode);
/* The same for the new file open as fd in dirfd (not removed on failure). */
int creator_own_fd(fuse_req_t req, const struct bundle_conf *c, int dirfd, int fd, mode_t mode);
/*
 * The mode a new entry in dirfd is made with: the caller's umask applies
 * unless the directory has a default ACL, which the backing filesystem
 * applies instead (as the kernel does on a local filesystem).
 */
mode_t creator_mode(fuse_req_t req, int dirfd, mode_t mode);

#endif
