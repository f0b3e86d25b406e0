// SPDX-License-Identifier: Apache-2.0
/* Listing the directories of a store's level; see dirlist.h. */
#include "dirlist.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

bool dirlist_maybe_dir(const struct dirent *de)
{
	return de->d_name[0] != '.' && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN);
}

DIR *dirlist_open(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int err = errno;

		close(fd);
		errno = err;
	}
	return d;
}

int dirlist_next_dir(DIR *d, bool (*fatal)(int err), struct dirent **de, int *fd)
{
	for (;;) {
		errno = 0;
		*de = readdir(d);
		if (!*de)
			return errno ? -errno : 0;
		if (!dirlist_maybe_dir(*de))
			continue;
		*fd =
		    openat(dirfd(d), (*de)->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fd >= 0)
			return 1;
		if (fatal(errno))
			return -errno;
	}
}
