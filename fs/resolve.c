/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reaching a node's backing entry: one way for files, directories and
 * O_PATH, the root included (resolve_open, resolve_stat).
 *
 * A node has no descriptor of its own (nsdir.c keeps a few namespaces' for
 * lookups). The root is S itself. A node with a name is reached by it: its
 * path below S, rebuilt from the node table, is opened with
 * store_open_beneath (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or an
 * O_NOFOLLOW walk), so nothing is ever followed,
 * and what it opens must be the node's inode. A name that now names another
 * inode or none (the open fails with ENOENT, ENOTDIR or ELOOP on the way, or
 * finds another inode) was changed beside the mount: it is forgotten and the
 * node's next name is tried; when none is left the request fails with
 * ESTALE, and the kernel looks the name up again. Any other failure (EACCES,
 * EMFILE, ENOMEM...) is the caller's, names untouched. A node with no name
 * left that is not retired (unlinked while open) is reached through a handle
 * open on it, the very inode; a retired one answers ESTALE.
 *
 * A path the kernel accepts relative to a deep working directory may be
 * longer than PATH_MAX from the root: such paths are opened in pieces, each
 * shorter than PATH_MAX, each relative to the directory the previous piece
 * reached.
 */
#include "resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prune.h"

/* path (len bytes, "" for S) below S, the last piece opened with flags. */
static int open_path(const struct store *s, const char *path, size_t len, int flags)
{
	int fd = -1, next;
	char *piece;

	if (len < PATH_MAX)
		return store_open_beneath(s->state_fd, path, flags, 0);
	piece = malloc(PATH_MAX);
	if (!piece)
		return -ENOMEM;
	while (len) {
		size_t n = len < PATH_MAX - 1 ? len : PATH_MAX - 1;

		/* Cut at a separator, so that every piece is whole names. */
		if (n < len) {
			while (n && path[n] != '/')
				n--;
			if (!n) {
				next = -ENAMETOOLONG;
				goto fail;
			}
		}
		memcpy(piece, path, n);
		piece[n] = '\0';
		next = store_open_beneath(fd < 0 ? s->state_fd : fd, piece,
					  n == len ? flags : O_PATH | O_DIRECTORY, 0);
		if (next < 0)
			goto fail;
		if (fd >= 0)
			close(fd);
		fd = next;
		path += n;
		len -= n;
		if (len && *path == '/') {
			path++;
			len--;
		}
	}
	free(piece);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(piece);
	return next;
}

/* The open file fd reopened with flags through its magic link: the same inode. */
static int reopen(int fd, int flags)
{
	char proc[64];
	int ret;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ret = open(proc, flags | O_CLOEXEC);
	return ret < 0 ? -errno : ret;
}

/*
 * Whether store root n, whose descriptor st_fd has attributes st, is still
 * its directory. A root with a name (a plugin directory of the node view) is
 * reached through its store's descriptor, which outlives the directory: it
 * is n only while that name in the parent's store leads to the very
 * directory, and the directory is not removed (a removed one's number may
 * be given to the next one made). 0 or -ESTALE.
 */
static int root_still_there(struct node *n, const struct stat *st)
{
	struct node *parent;
	struct stat at;
	char *path, *base;
	size_t len;
	fuse_ino_t pid = node_parent_id(n);
	int ret;

	if (!pid)
		return 0; /* MOUNT itself */
	if (st->st_nlink == 0)
		return -ESTALE;
	/* The parent is MOUNT, the node view's root: never freed. */
	parent = node_find(pid);
	ret = parent ? node_live_name_path(n, 0, &path, &len, &base) : -ESTALE;
	if (ret < 0)
		return -ESTALE;
	ret = fstatat(parent->conf->st.state_fd, base, &at, AT_SYMLINK_NOFOLLOW) == 0 &&
		      at.st_dev == st->st_dev && at.st_ino == st->st_ino
		  ? 0
		  : -ESTALE;
	free(path);
	free(base);
	return ret;
}

/* n's own entry: with want_fd a descriptor opened with flags, else 0; *st its attributes. */
static int reach(struct node *n, int flags, bool want_fd, struct stat *st)
{
	const struct store *s = &n->conf->st;
	struct handle *pin;
	char *path;
	size_t len;
	int fd, ret;

	if (n->kind == NK_ROOT || n->kind == NK_VIEWROOT) {
		fd = want_fd ? store_open_beneath(s->state_fd, "", flags, 0) : s->state_fd;
		if (fd < 0)
			return fd;
		ret = fstat(fd, st) < 0 ? -errno : n->kind == NK_ROOT ? root_still_there(n, st) : 0;
		if (ret < 0) {
			if (want_fd)
				close(fd);
			return ret;
		}
		return want_fd ? fd : 0;
	}
	pin = node_by_handle(n) ? node_handle_pin(n, H_FILE) : NULL;
	if (pin) {
		fd = want_fd ? reopen(pin->fd, flags) : pin->fd;
		ret = fd < 0 ? fd : fstat(fd, st) < 0 ? -errno : want_fd ? fd : 0;
		if (ret < 0 && want_fd && fd >= 0)
			close(fd);
		handle_unpin(pin);
		return ret;
	}
	for (;;) {
		ret = node_path(n, &path, &len);
		if (ret < 0)
			return ret;
		fd = open_path(s, path, len, want_fd ? flags : O_PATH);
		free(path);
		if (fd >= 0) {
			ret = fstat(fd, st) < 0 ? -errno : 0;
			if (ret == 0 && st->st_ino == n->ino && st->st_dev == n->dev) {
				if (want_fd)
					return fd;
				close(fd);
				return 0;
			}
			close(fd);
			if (ret < 0)
				return ret;
		} else if (fd != -ENOENT && fd != -ENOTDIR && fd != -ELOOP) {
			return fd;
		}
		/*
		 * This name now names another inode or none: forget it, try the
		 * next. With none left, the kernel's dentries of n are pruned a
		 * second later (prune.h), so that the node goes with them.
		 */
		if (node_drop_first_name(n) < 0) {
			prune_later(n);
			return -ESTALE;
		}
	}
}

int resolve_open(struct node *n, int flags, struct stat *st)
{
	struct stat tmp;

	return reach(n, flags, true, st ? st : &tmp);
}

int resolve_stat(struct node *n, struct stat *st)
{
	struct stat tmp;

	return reach(n, 0, false, st ? st : &tmp);
}

bool resolve_still_named(struct node *n)
{
	bool same = false;
	struct stat st;
	char *path, *base;
	size_t len;
	int ret, dfd;

	for (unsigned i = 0; !same; i++) {
		ret = node_live_name_path(n, i, &path, &len, &base);
		if (ret == -ESTALE)
			continue; /* that name's way up is gone: try the next */
		if (ret < 0)
			break;
		dfd = open_path(&n->conf->st, path, len, O_PATH | O_DIRECTORY);
		free(path);
		if (dfd >= 0) {
			same = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			       st.st_ino == n->ino && st.st_dev == n->dev;
			close(dfd);
		}
		free(base);
	}
	return same;
}
