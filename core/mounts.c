/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mount points of this process's mount namespace, from a cached
 * /proc/self/mountinfo; see mounts.h.
 */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mountpoint.h"

/* true if mount point mp is path or below it (path boundary aware). */
static bool path_contains(const char *path, const char *mp)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 1 && path[0] == '/')
		return true;
	return !strncmp(mp, path, n) && (mp[n] == '\0' || mp[n] == '/');
}

/*
 * The mount points of /proc/self/mountinfo, parsed once and again only after
 * the kernel reports a change: a mount or unmount marks the open file with
 * POLLPRI. A node with hundreds of containers has a large mount table, and a
 * delete must not pay for reading it each time. protected by mounts_lock
 */
static pthread_mutex_t mounts_lock = PTHREAD_MUTEX_INITIALIZER;
static int mounts_fd = -1;
static char *mounts_text; /* the mount points, each NUL-terminated */
static size_t mounts_len;

static int mounts_reload(void)
{
	size_t cap = mounts_len ? mounts_len * 2 + 4096 : 16384, got = 0, out = 0;
	char *buf = NULL, *text, *line, *next;
	ssize_t r;

	if (lseek(mounts_fd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		char *bigger = realloc(buf, cap + 1);

		if (!bigger) {
			free(buf);
			return -ENOMEM;
		}
		buf = bigger;
		r = read(mounts_fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got == cap)
			cap *= 2;
	}
	buf[got] = '\0';
	/* Keep the mount point of each line, unescaped, in place. */
	text = buf;
	for (line = buf; line && *line; line = next) {
		struct mountinfo_line ml;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (mountinfo_parse(line, &ml) < 0)
			continue;
		memmove(text + out, ml.mountpoint, strlen(ml.mountpoint) + 1);
		out += strlen(ml.mountpoint) + 1;
	}
	free(mounts_text);
	mounts_text = buf;
	mounts_len = out;
	return 0;
}

int mounts_below(const char *const *paths, size_t n)
{
	struct pollfd pfd;
	bool stale = false;
	int ret = 0;

	pthread_mutex_lock(&mounts_lock);
	if (mounts_fd < 0) {
		mounts_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
		if (mounts_fd < 0) {
			ret = -errno;
			goto out;
		}
		stale = true;
	} else {
		pfd.fd = mounts_fd;
		pfd.events = POLLPRI;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 0)
			stale = true; /* changed (or poll failed: read again to be sure) */
	}
	if (stale) {
		ret = mounts_reload();
		if (ret < 0)
			goto out;
	}
	for (size_t off = 0; off < mounts_len && !ret; off += strlen(mounts_text + off) + 1)
		for (size_t i = 0; i < n; i++)
			if (paths[i] && path_contains(paths[i], mounts_text + off)) {
				ret = 1;
				break;
			}
out:
	pthread_mutex_unlock(&mounts_lock);
	return ret;
}
