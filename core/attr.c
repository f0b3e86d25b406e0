/* SPDX-License-Identifier: Apache-2.0 */
/* Applying a change of attributes to a backing entry; see attr.h. */
#include "attr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

int attr_apply(int fd, bool is_path, mode_t type, const struct attr_set *a)
{
	char proc[64];
	int wfd, ret;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (a->what & ATTR_SIZE) {
		if (S_ISDIR(type))
			return -EISDIR;
		if (!S_ISREG(type))
			return -EINVAL;
		wfd = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (wfd < 0)
			return -errno;
		ret = ftruncate(wfd, a->size) < 0 ? -errno : 0;
		close(wfd);
		if (ret < 0)
			return ret;
	}
	if ((a->what & (ATTR_UID | ATTR_GID)) &&
	    (is_path ? fchownat(fd, "", a->uid, a->gid, AT_EMPTY_PATH)
		     : fchown(fd, a->uid, a->gid)) < 0)
		return -errno;
	if (a->what & ATTR_MODE) {
		if (S_ISLNK(type))
			return -EOPNOTSUPP;
		if ((is_path ? chmod(proc, a->mode & 07777) : fchmod(fd, a->mode & 07777)) < 0)
			return -errno;
	}
	if ((a->what & ATTR_TIMES) &&
	    (is_path ? utimensat(fd, "", a->times, AT_EMPTY_PATH) : futimens(fd, a->times)) < 0)
		return -errno;
	return 0;
}

int attr_xattr(int fd, enum attr_xop op, const char *name, void *value, size_t size, int flags)
{
	char proc[64];
	ssize_t ret;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	switch (op) {
	case ATTR_XGET:
		ret = getxattr(proc, name, value, size);
		break;
	case ATTR_XLIST:
		ret = listxattr(proc, value, size);
		break;
	case ATTR_XSET:
		ret = setxattr(proc, name, value, size, flags);
		break;
	default:
		ret = removexattr(proc, name);
		break;
	}
	return ret < 0 ? -errno : (int)ret;
}
