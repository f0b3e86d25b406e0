/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reaching a node's backing entry. A node has no descriptor of its own: its
 * path below S is rebuilt from the node table and opened with
 * store_open_beneath (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or an
 * O_NOFOLLOW walk), so nothing is ever followed. A path the kernel accepts
 * relative to a deep working directory may be longer than PATH_MAX from the
 * root: such paths are opened in pieces, each shorter than PATH_MAX, each
 * relative to the directory the previous piece reached.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int resolve_dir(const char *path, size_t len)
{
	int fd = -1, next;
	char *piece;

	if (len < PATH_MAX)
		return store_open_beneath(bfs.conf.st.state_fd, path, O_PATH | O_DIRECTORY, 0);
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
		next = store_open_beneath(fd < 0 ? bfs.conf.st.state_fd : fd, piece,
					  O_PATH | O_DIRECTORY, 0);
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

int resolve_node_dir(struct node *n)
{
	char *path;
	size_t len;
	int ret;

	if (n->id == FUSE_ROOT_ID)
		return store_open_beneath(bfs.conf.st.state_fd, "", O_PATH | O_DIRECTORY, 0);
	ret = node_path(n, &path, &len);
	if (ret < 0)
		return ret;
	ret = resolve_dir(path, len);
	free(path);
	/* Its names lead nowhere now: changed beside the mount. */
	return ret == -ENOENT || ret == -ENOTDIR || ret == -ELOOP ? -ESTALE : ret;
}

int resolve_parent(struct node *n, char **base)
{
	char *path;
	size_t len;
	int ret;

	ret = node_parent_path(n, &path, &len, base);
	if (ret < 0)
		return ret;
	ret = resolve_dir(path, len);
	free(path);
	if (ret == -ENOENT || ret == -ENOTDIR || ret == -ELOOP)
		ret = -ESTALE;
	if (ret < 0) {
		free(*base);
		*base = NULL;
	}
	return ret;
}

int resolve_self(struct node *n, struct stat *st, bool want_fd)
{
	struct stat tmp;
	char *base;
	int dfd, fd;

	if (!st)
		st = &tmp;
	if (n->id == FUSE_ROOT_ID) {
		fd = store_open_beneath(bfs.conf.st.state_fd, "", O_PATH | O_DIRECTORY, 0);
		if (fd >= 0 && fstat(fd, st) < 0) {
			close(fd);
			return -errno;
		}
		if (fd >= 0 && !want_fd) {
			close(fd);
			fd = 0;
		}
		return fd;
	}
	/* A name may be stale (changed beside the mount): try each until one is n's. */
	for (;;) {
		dfd = resolve_parent(n, &base);
		if (dfd < 0)
			return dfd;
		if (want_fd) {
			fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, st) < 0) {
				close(fd);
				fd = -1;
			}
		} else {
			fd = fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -1;
		}
		close(dfd);
		free(base);
		if (fd >= 0 && st->st_ino == n->ino && st->st_dev == n->dev)
			return fd;
		if (fd > 0)
			close(fd);
		/* Not n's inode any more: forget that name and try the next one. */
		if (node_drop_first_name(n) < 0)
			return -ESTALE;
	}
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
		dfd = resolve_dir(path, len);
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
