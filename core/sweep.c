/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The start-up sweep (SPEC 5.4): what interrupted operations left in the
 * store; see sweep.h. Removal is tree_remove's, which never crosses a mount
 * point; the sweep itself stays on each root's mount.
 */
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"
#include "log.h"
#include "tree.h"

static bool is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/* Copy s into buf with everything but printable ASCII escaped: one log line. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	for (; *s && o + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\%03o", c);
	}
	buf[o] = '\0';
	return buf;
}

/* Remove one leftover; count it, or log why it stays. */
static void sweep_one(int dirfd, const char *root, const char *ns, const char *name, int *count)
{
	char pns[4 * NAME_MAX + 8], pname[4 * NAME_MAX + 8];
	int ret = tree_remove(dirfd, name);

	if (ret == 0) {
		(*count)++;
		return;
	}
	if (ret == -ENOENT)
		return;
	blog(BLOG_WARNING, "sweep: cannot remove leftover %s/%s%s%s: %s", root,
	     ns ? printable(ns, pns, sizeof(pns)) : "", ns ? "/" : "",
	     printable(name, pname, sizeof(pname)),
	     ret == -EBUSY ? "a mount point is at or below it" : strerror(-ret));
}

static bool is_tmp(const char *name)
{
	return !strncmp(name, TREE_TMP_PREFIX, strlen(TREE_TMP_PREFIX));
}

/* A directory named "." + identifier (not following a symlink). */
static bool is_hidden_bundle(int dirfd, const struct dirent *de)
{
	struct stat st;

	if (de->d_name[0] != '.' || !ident_valid_n(de->d_name + 1, strlen(de->d_name + 1)))
		return false;
	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Sweep one namespace directory rootfd/ns; stays on the root's mount. */
static void sweep_ns(int rootfd, const struct statx *ref, const char *root, const char *ns,
		     int *count)
{
	char pns[4 * NAME_MAX + 8];
	struct statx stx;
	struct dirent *de;
	DIR *d = NULL;
	int fd;

	printable(ns, pns, sizeof(pns));
	fd = openat(rootfd, ns, TREE_DIR_O_CLOEXEC);
	if (fd < 0)
		return; /* not a directory (a symlink...), or gone */
	if (tree_mount_of(fd, &stx) < 0 || tree_crosses(ref, &stx)) {
		blog(BLOG_DEBUG, "sweep: %s/%s not swept: another mount", root, pns);
		goto out;
	}
	d = fdopendir(fd);
	if (!d)
		goto out;
	fd = -1;
	/* Removing entries while reading is safe: each is seen at most once. */
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (is_dot(de->d_name))
			continue;
		if (is_tmp(de->d_name) || is_hidden_bundle(dirfd(d), de))
			sweep_one(dirfd(d), root, ns, de->d_name, count);
	}
	if (errno)
		blog(BLOG_WARNING, "sweep: cannot read %s/%s: %s", root, pns, strerror(errno));
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
}

/* Sweep one root: its namespaces, and with tmp_too its own temporary entries. */
static int sweep_root(int rootfd, const char *root, bool tmp_too, int *count)
{
	struct statx ref;
	struct dirent *de;
	DIR *d = NULL;
	int fd, ret;

	/* The root may be an O_PATH descriptor: read it through a fresh one. */
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = tree_mount_of(fd, &ref);
	if (ret < 0)
		goto out;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		goto out;
	}
	fd = -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (is_dot(de->d_name))
			continue;
		if (tmp_too && is_tmp(de->d_name))
			sweep_one(dirfd(d), root, NULL, de->d_name, count);
		else if (de->d_name[0] != '.' && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN))
			sweep_ns(dirfd(d), &ref, root, de->d_name, count);
	}
	ret = errno ? -errno : 0;
out:
	if (d)
		closedir(d);
	if (fd >= 0)
		close(fd);
	return ret;
}

int sweep_store(int state_fd, int work_fd)
{
	int count = 0;
	int ret;

	ret = sweep_root(state_fd, "state", true, &count);
	if (ret < 0) {
		blog(BLOG_ERR, "sweep: cannot read the state root: %s", strerror(-ret));
		return ret;
	}
	ret = sweep_root(work_fd, "work", false, &count);
	if (ret < 0) {
		blog(BLOG_ERR, "sweep: cannot read the work root: %s", strerror(-ret));
		return ret;
	}
	return count;
}
