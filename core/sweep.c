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

/* What one directory's entries are swept for. */
struct sweep {
	const char *root;	 /* "state" or "work", for the log */
	const char *ns;		 /* the namespace being read, NULL for the root */
	const struct statx *ref; /* the root's mount: the sweep stays on it */
	bool tmp_too;		 /* the root: its own temporary entries too */
	int *count;
};

static void sweep_ns(int rootfd, const struct sweep *w, const char *ns);

/* One entry of the directory w reads, in it (dirfd). */
static void sweep_entry(int dirfd, const struct dirent *de, const struct sweep *w)
{
	if (w->ns) {
		if (is_tmp(de->d_name) || is_hidden_bundle(dirfd, de))
			sweep_one(dirfd, w->root, w->ns, de->d_name, w->count);
	} else if (w->tmp_too && is_tmp(de->d_name)) {
		sweep_one(dirfd, w->root, NULL, de->d_name, w->count);
	} else if (de->d_name[0] != '.' && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
		sweep_ns(dirfd, w, de->d_name);
	}
}

/*
 * Read the directory open on fd (consumed) and sweep each entry. Removing
 * entries while reading is safe: each is seen at most once. 0, or the
 * -errno of a failed read.
 */
static int sweep_dir(int fd, const struct sweep *w)
{
	struct dirent *de;
	DIR *d = fdopendir(fd);

	if (!d) {
		close(fd);
		return -errno;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			break;
		if (!is_dot(de->d_name))
			sweep_entry(dirfd(d), de, w);
	}
	fd = errno ? -errno : 0;
	closedir(d);
	return fd;
}

/* Sweep one namespace directory rootfd/ns; stays on the root's mount. */
static void sweep_ns(int rootfd, const struct sweep *w, const char *ns)
{
	struct sweep in = *w;
	char pns[4 * NAME_MAX + 8];
	struct statx stx;
	int fd, ret;

	printable(ns, pns, sizeof(pns));
	fd = openat(rootfd, ns, TREE_DIR_O_CLOEXEC);
	if (fd < 0)
		return; /* not a directory (a symlink...), or gone */
	if (tree_mount_of(fd, &stx) < 0 || tree_crosses(w->ref, &stx)) {
		blog(BLOG_DEBUG, "sweep: %s/%s not swept: another mount", w->root, pns);
		close(fd);
		return;
	}
	in.ns = ns;
	ret = sweep_dir(fd, &in);
	if (ret < 0)
		blog(BLOG_WARNING, "sweep: cannot read %s/%s: %s", w->root, pns, strerror(-ret));
}

/* Sweep one root: its namespaces, and with tmp_too its own temporary entries. */
static int sweep_root(int rootfd, const char *root, bool tmp_too, int *count)
{
	struct sweep w = {.root = root, .tmp_too = tmp_too, .count = count};
	struct statx ref;
	int fd, ret;

	/* The root may be an O_PATH descriptor: read it through a fresh one. */
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = tree_mount_of(fd, &ref);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	w.ref = &ref;
	return sweep_dir(fd, &w);
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
	if (work_fd < 0)
		return count; /* a store served without its work root (store.h) */
	ret = sweep_root(work_fd, "work", false, &count);
	if (ret < 0) {
		blog(BLOG_ERR, "sweep: cannot read the work root: %s", strerror(-ret));
		return ret;
	}
	return count;
}
