/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gopath.h"
#include "log.h"
#include "tree.h"

/* 1: openat2 works, 0: untested, -1: fall back to the O_NOFOLLOW walk. */
static int openat2_state;

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (unsigned long long)flags,
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	do {
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN);
	return fd < 0 ? -errno : (int)fd;
}

/*
 * The fallback: one O_NOFOLLOW step per component. FUSE paths never contain
 * "." or ".." components, and we refuse them so the walk cannot escape.
 */
static int walk_nofollow(int rootfd, const char *rel, int flags, mode_t mode)
{
	char *copy, *comp, *save = NULL;
	int fd = -1, next, ret;

	copy = strdup(rel);
	if (!copy)
		return -ENOMEM;
	fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	comp = strtok_r(copy, "/", &save);
	while (comp) {
		char *rest = strtok_r(NULL, "/", &save);

		if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
			ret = -EINVAL;
			goto out;
		}
		if (rest)
			next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		else
			next = openat(fd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		if (next < 0) {
			ret = -errno;
			goto out;
		}
		close(fd);
		fd = next;
		comp = rest;
	}
	ret = fd;
	fd = -1;
	if (!*rel) {
		/* The root itself, reopened with the caller's flags. */
		close(ret);
		ret = openat(rootfd, ".", flags | O_CLOEXEC, mode);
		if (ret < 0)
			ret = -errno;
	}
out:
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

int store_open_beneath(int rootfd, const char *rel, int flags, mode_t mode)
{
	int ret;

	flags |= O_CLOEXEC;
	if (__atomic_load_n(&openat2_state, __ATOMIC_RELAXED) >= 0) {
		ret = sys_openat2(rootfd, *rel ? rel : ".", flags | O_NOFOLLOW, mode);
		if (ret != -ENOSYS) {
			__atomic_store_n(&openat2_state, 1, __ATOMIC_RELAXED);
			return ret;
		}
		blog(BLOG_WARNING, "openat2 is unavailable; resolving paths with O_NOFOLLOW walks");
		__atomic_store_n(&openat2_state, -1, __ATOMIC_RELAXED);
	}
	return walk_nofollow(rootfd, rel, flags, mode);
}

static char *absolute_clean(const char *path)
{
	char cwd[4096];
	const char *elem[2];

	if (path[0] == '/')
		return gopath_clean(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	elem[0] = cwd;
	elem[1] = path;
	return gopath_join(elem, 2);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path), *p;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(copy, mode) < 0 && errno != EEXIST) {
				ret = -errno;
				break;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	free(copy);
	return ret;
}

static int open_root(const char *path, bool create, int *fd)
{
	int ret;

	if (create) {
		ret = mkdir_p(path, 0711);
		if (ret < 0)
			return ret;
	}
	*fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

int store_open(struct store *st, const char *state, const char *work, unsigned flags)
{
	bool create = flags & STORE_CREATE;

	int ret;

	memset(st, 0, sizeof(*st));
	st->state_fd = st->work_fd = -1;
	st->state_path = absolute_clean(state);
	st->work_path = absolute_clean(work);
	if (!st->state_path || !st->work_path) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = open_root(st->state_path, create, &st->state_fd);
	if (ret < 0)
		goto fail;
	ret = open_root(st->work_path, create, &st->work_fd);
	if (ret == -ENOENT && (flags & STORE_WORK_OPTIONAL))
		ret = 0;
	if (ret < 0)
		goto fail;
	return 0;
fail:
	store_close(st);
	return ret;
}

void store_close(struct store *st)
{
	if (st->state_fd >= 0)
		close(st->state_fd);
	if (st->work_fd >= 0)
		close(st->work_fd);
	free(st->state_path);
	free(st->work_path);
	st->state_fd = st->work_fd = -1;
	st->state_path = st->work_path = NULL;
}

void store_tmp_name(char *name, size_t namesz)
{
	static unsigned long counter;
	static pid_t pid;
	unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

	/* The daemon does not fork after start-up: the pid is read once. */
	if (!__atomic_load_n(&pid, __ATOMIC_RELAXED))
		__atomic_store_n(&pid, getpid(), __ATOMIC_RELAXED);
	snprintf(name, namesz, "%s%x-%lx", TREE_TMP_PREFIX, (unsigned)pid, n);
}

int store_tmpfile(int dirfd, char *name, size_t namesz, mode_t mode)
{
	int tries, fd;

	for (tries = 0; tries < 16; tries++) {
		store_tmp_name(name, namesz);
		fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int store_check_bundle(const char *ns, const char *id)
{
	if (strlen(ns) > NAME_MAX || strlen(id) > NAME_MAX)
		return -ENAMETOOLONG;
	if (!*ns || !*id || strchr(ns, '/') || strchr(id, '/'))
		return -EINVAL;
	return 0;
}

int store_open_bundle(const struct store *st, const char *ns, const char *id)
{
	char rel[2 * NAME_MAX + 2];
	int ret = store_check_bundle(ns, id);

	if (ret < 0)
		return ret;
	snprintf(rel, sizeof(rel), "%s/%s", ns, id);
	return store_open_beneath(st->state_fd, rel, O_PATH | O_DIRECTORY, 0);
}

int store_open_regular(int dirfd, const char *name, struct stat *st)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return (errno == ELOOP || errno == ENXIO) ? -ENOENT : -errno;
	if (fstat(fd, st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

static int read_whole(int fd, size_t max, bool short_is_end, char **buf, size_t *len)
{
	size_t cap = 4096, got = 0;
	char *data = NULL;
	ssize_t n;

	for (;;) {
		char *bigger = realloc(data, cap + 1);

		if (!bigger) {
			free(data);
			return -ENOMEM;
		}
		data = bigger;
		n = pread(fd, data + got, cap - got, (off_t)got);
		if (n < 0) {
			free(data);
			return -errno;
		}
		got += (size_t)n;
		if (got > max) {
			free(data);
			return -EFBIG;
		}
		if (n == 0 || (short_is_end && got < cap))
			break;
		if (got == cap)
			cap *= 2;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;
	return 0;
}

int store_read_fd(int fd, size_t max, char **buf, size_t *len)
{
	return read_whole(fd, max, false, buf, len);
}

int store_read_private(int fd, size_t max, char **buf, size_t *len)
{
	return read_whole(fd, max, true, buf, len);
}

int store_read_regular(int dirfd, const char *name, size_t max, char **buf, size_t *len)
{
	struct stat stbuf;
	int fd, ret;

	fd = store_open_beneath(dirfd, name, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return (fd == -ELOOP || fd == -ENXIO) ? -ENOENT : fd;
	if (fstat(fd, &stbuf) < 0)
		ret = -errno;
	else if (!S_ISREG(stbuf.st_mode))
		ret = -ENOENT;
	else if ((size_t)stbuf.st_size > max)
		ret = -EFBIG;
	else /* the size may change while it is read: to EOF, bounded by max */
		ret = store_read_fd(fd, max, buf, len);
	close(fd);
	return ret;
}

int store_apply_remap(int dirfd, const char *name, uint32_t gid)
{
	int fd, ret = 0;

	if (gid == 0)
		return 0;
	/* Through a descriptor of the directory itself: never a symlink's target. */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchown(fd, (uid_t)-1, (gid_t)gid) < 0 || fchmod(fd, 0710) < 0)
		ret = -errno;
	close(fd);
	return ret;
}
