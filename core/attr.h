/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A change of attributes (setattr: truncate, chown, chmod, utimens) as one
 * value, and applying it to a backing entry through a descriptor, so that
 * nothing but that inode changes whatever its names now hold (SPEC 4.6).
 */
#ifndef BUNDLEFS_ATTR_H
#define BUNDLEFS_ATTR_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* What a change sets (or'ed into attr_set.what). */
enum {
	ATTR_SIZE = 1,
	ATTR_MODE = 2,
	ATTR_UID = 4,
	ATTR_GID = 8,
	ATTR_TIMES = 16, /* times[0] (access) and/or times[1] (modification) */
};

struct attr_set {
	unsigned what;
	off_t size;
	mode_t mode; /* the permission bits (07777) */
	uid_t uid;   /* (uid_t)-1 unless ATTR_UID */
	gid_t gid;   /* (gid_t)-1 unless ATTR_GID */
	/* As futimens(2) takes them: UTIME_OMIT leaves one, UTIME_NOW sets it to now. */
	struct timespec times[2];
};

/* An extended attribute call. */
enum attr_xop { ATTR_XGET, ATTR_XLIST, ATTR_XSET, ATTR_XREMOVE };

/*
 * The call op (getxattr, listxattr, setxattr, removexattr) on the entry fd
 * is (a descriptor of a file, directory or symlink; O_PATH is enough),
 * through its magic link /proc/self/fd/<fd>, which names that very inode
 * whatever its names hold now: the byte count of a read, 0 for a change, or
 * -errno.
 */
int attr_xattr(int fd, enum attr_xop op, const char *name, void *value, size_t size, int flags);

/*
 * Apply a to the entry of type type (S_IFMT) that fd is: an open descriptor
 * (is_path false), or an O_PATH descriptor of the entry itself (is_path),
 * reached through /proc/self/fd. In order: the size (-EISDIR for a
 * directory, -EINVAL for another non-regular file), the owner, the mode
 * (-EOPNOTSUPP for a symlink), the times. 0, or the first -errno (what came
 * before it stays applied).
 */
int attr_apply(int fd, bool is_path, mode_t type, const struct attr_set *a);

#endif
