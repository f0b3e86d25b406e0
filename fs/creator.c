/* SPDX-License-Identifier: Apache-2.0 */
/* The owner and mode of what a request creates; see creator.h. */
#include "creator.h"

#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon.h"

/* Whether entries the daemon creates in c's store need a chown to belong to own. */
static bool owner_differs(const struct bundle_conf *c, const struct store_owner *own)
{
	return (own->uid != (uid_t)-1 && own->uid != c->euid) ||
	       (own->gid != (gid_t)-1 && own->gid != c->egid);
}

void creator_owner(fuse_req_t req, const struct bundle_conf *c, struct store_owner *own)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	own->uid = ctx->uid;
	own->gid = ctx->gid;
	own->chown = c->is_root && owner_differs(c, own);
}

/*
 * The owner a new entry in dirfd gets: the caller, except that in a setgid
 * directory the group stays the directory's, as the kernel gave it.
 */
static bool new_owner(fuse_req_t req, const struct bundle_conf *c, int dirfd,
		      struct store_owner *own)
{
	struct stat dir;

	creator_owner(req, c, own);
	if (!own->chown)
		return false;
	if (fstat(dirfd, &dir) == 0 && (dir.st_mode & S_ISGID)) {
		own->gid = (gid_t)-1;
		own->chown = owner_differs(c, own);
	}
	return own->chown;
}

/*
 * Give a new entry the caller's owner (SPEC 4.6), or remove it again. A
 * chown clears the set-id bits of a regular file: they are put back, since
 * the caller asked for them at creation.
 */
int creator_own(fuse_req_t req, const struct bundle_conf *c, int dirfd, const char *name,
		bool is_dir, mode_t mode)
{
	struct store_owner own;
	int err;

	if (!new_owner(req, c, dirfd, &own))
		return 0;
	if (fchownat(dirfd, name, own.uid, own.gid, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (is_dir || !(mode & (S_ISUID | S_ISGID)) ||
	     fchmodat(dirfd, name, mode & 07777, AT_SYMLINK_NOFOLLOW) == 0))
		return 0;
	err = -errno;
	unlinkat(dirfd, name, is_dir ? AT_REMOVEDIR : 0);
	return err;
}

int creator_own_fd(fuse_req_t req, const struct bundle_conf *c, int dirfd, int fd, mode_t mode)
{
	struct store_owner own;

	if (!new_owner(req, c, dirfd, &own))
		return 0;
	if (fchown(fd, own.uid, own.gid) < 0 ||
	    ((mode & (S_ISUID | S_ISGID)) && fchmod(fd, mode & 07777) < 0))
		return -errno;
	return 0;
}

mode_t creator_mode(fuse_req_t req, int dirfd, mode_t mode)
{
	char proc[64];

	if (!bfs.apply_umask)
		return mode;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	if (getxattr(proc, "system.posix_acl_default", NULL, 0) > 0)
		return mode;
	return mode & ~(fuse_req_ctx(req)->umask & 0777);
}
