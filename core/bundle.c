/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The life of namespaces and bundles in the store (SPEC 3, 4.7, 5.4, 7.1,
 * 7.3); see bundle.h.
 */
#include "bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "gopath.h"
#include "ident.h"
#include "log.h"
#include "mounts.h"
#include "tree.h"

/* How often bundle creation retries when a concurrent namespace rmdir removes
 * a parent between our steps (MkdirAll's intent: the bundle gets made). */
#define CREATE_RETRIES 4

static int chown_new(int dirfd, const char *name, const struct store_owner *own)
{
	if (!own || !own->chown)
		return 0;
	if (fchownat(dirfd, name, own->uid, own->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* mkdirat that treats an existing directory as success; *created tells which. */
static int ensure_dir(int dirfd, const char *name, mode_t mode, const struct store_owner *own,
		      bool *created)
{
	struct stat stbuf;

	if (created)
		*created = false;
	if (mkdirat(dirfd, name, mode) == 0) {
		if (created)
			*created = true;
		return chown_new(dirfd, name, own);
	}
	if (errno != EEXIST)
		return -errno;
	if (fstatat(dirfd, name, &stbuf, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISDIR(stbuf.st_mode) ? 0 : -ENOTDIR;
}

/*
 * rootfd/ns (S/<ns> or W/<ns>) as an O_PATH descriptor, made first if
 * absent (*created tells). Usually there: one open. Anything but a
 * directory there is -ENOTDIR, a symlink included (never followed).
 */
static int open_ns_dir(int rootfd, const char *ns, const struct store_owner *own, bool *created)
{
	int fd, ret;

	*created = false;
	fd = store_open_beneath(rootfd, ns, O_PATH | O_DIRECTORY, 0);
	if (fd != -ENOENT)
		return fd;
	ret = ensure_dir(rootfd, ns, 0711, own, created);
	if (ret < 0)
		return ret;
	return store_open_beneath(rootfd, ns, O_PATH | O_DIRECTORY, 0);
}

int bundle_ns_create(const struct bundle_conf *c, const char *ns, const struct store_owner *own)
{
	const struct store *st = &c->st;
	int ret;

	if (ident_validate(ns) < 0)
		return -EINVAL;
	if (st->work_fd < 0)
		return -ENOENT; /* no work root to make W/<ns> in */
	if (mkdirat(st->state_fd, ns, 0711) < 0)
		return -errno;
	ret = chown_new(st->state_fd, ns, own);
	if (ret == 0)
		ret = ensure_dir(st->work_fd, ns, 0711, own, NULL);
	if (ret < 0) {
		unlinkat(st->state_fd, ns, AT_REMOVEDIR);
		blog(BLOG_ERR, "%s: cannot create namespace: %s", ns, strerror(-ret));
	}
	return ret;
}

/*
 * Remove the hidden entries of root/ns; -ENOTEMPTY (and nothing removed) if
 * a visible entry is there and visible_blocks is set.
 */
static int clear_hidden(int rootfd, const char *ns, bool visible_blocks, bool *has_visible)
{
	struct dirent *de;
	DIR *dir;
	int fd, dfd, ret = 0;

	*has_visible = false;
	fd = store_open_beneath(rootfd, ns, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		if (de->d_name[0] != '.')
			*has_visible = true;
	}
	if (*has_visible && visible_blocks) {
		ret = -ENOTEMPTY;
		goto out;
	}
	rewinddir(dir);
	dfd = dirfd(dir);
	while ((de = readdir(dir))) {
		int r;

		if (de->d_name[0] != '.' || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = tree_remove(dfd, de->d_name);
		if (r < 0 && r != -ENOENT && ret == 0)
			ret = r;
	}
out:
	closedir(dir);
	return ret;
}

int bundle_ns_remove(const struct bundle_conf *c, const char *ns)
{
	const struct store *st = &c->st;
	bool visible;
	int ret;

	ret = clear_hidden(st->state_fd, ns, true, &visible);
	if (ret < 0)
		return ret;
	if (unlinkat(st->state_fd, ns, AT_REMOVEDIR) < 0)
		return -errno;
	if (st->work_fd < 0)
		return 0; /* no work root: no W/<ns> */
	ret = clear_hidden(st->work_fd, ns, false, &visible);
	if (ret == -ENOENT)
		return 0;
	if (ret == 0 && unlinkat(st->work_fd, ns, AT_REMOVEDIR) < 0)
		ret = -errno;
	if (ret < 0)
		blog(BLOG_WARNING, "%s: namespace removed; work directory kept: %s", ns,
		     visible ? "it holds work directories" : strerror(-ret));
	return 0;
}

/*
 * Build <nsfd>/.bundlefs-XXX/rootfs (and, for v2, the symlink work ->
 * work_link), the caller moves it into place in the same directory (no ".."
 * to rewrite, unlike a move between directories). A namespace rmdir may
 * remove it meanwhile, as a hidden entry: the caller sees ENOENT and starts
 * again.
 */
static int build_skeleton(int nsfd, char *tmp, size_t tmpsz, const char *work_link,
			  const struct store_owner *own)
{
	int fd, tries, ret;

	for (tries = 0; tries < 16; tries++) {
		store_tmp_name(tmp, tmpsz);
		if (mkdirat(nsfd, tmp, 0700) == 0)
			break;
		if (errno != EEXIST)
			return -errno;
	}
	if (tries == 16)
		return -EEXIST;
	fd = openat(nsfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = chown_new(nsfd, tmp, own);
	if (ret == 0 && mkdirat(fd, "rootfs", 0711) < 0)
		ret = -errno;
	if (ret == 0)
		ret = chown_new(fd, "rootfs", own);
	if (ret == 0 && work_link && symlinkat(work_link, fd, "work") < 0)
		ret = -errno;
	if (ret == 0 && work_link)
		ret = chown_new(fd, "work", own);
	close(fd);
	if (ret == 0)
		return 0;
fail:
	tree_remove(nsfd, tmp);
	return ret;
}

/*
 * v2's W/<ns>/<id>: a leftover one is removed first (NewBundle's RemoveAll),
 * but never across a mount point: with a mount below it, -EBUSY before
 * anything of it is removed.
 */
static int remove_leftover_work(const struct store *st, int wnsfd, const char *ns, const char *id)
{
	const char *elem[] = {st->work_path, ns, id};
	const char *paths[1];
	char *path;
	int ret;

	ret = tree_walk_has_mounts(wnsfd, id);
	if (ret == -ENOENT)
		return 0;
	if (ret == 0) {
		path = gopath_join(elem, 3);
		if (!path)
			return -ENOMEM;
		paths[0] = path;
		ret = mounts_below(paths, 1);
		free(path);
	}
	if (ret > 0) {
		blog(BLOG_ERR,
		     "%s/%s: leftover work directory kept: a file system is mounted inside it", ns,
		     id);
		return -EBUSY;
	}
	if (ret < 0)
		return ret;
	ret = tree_remove(wnsfd, id);
	return ret == -ENOENT ? 0 : ret;
}

/*
 * One attempt at a bundle. work_link NULL: v1 (W/<ns>/<id> reused if
 * present); else v2, whose leftover work dir is removed first and whose
 * skeleton holds the symlink work -> work_link.
 */
static int create_once(const struct store *st, const char *ns, const char *id,
		       const char *work_link, const struct store_owner *own)
{
	bool work_created = false, sns_created = false, wns_created = false;
	int snsfd = -1, wnsfd = -1, ret;
	char tmp[64] = "";
	struct stat stbuf;

	snsfd = open_ns_dir(st->state_fd, ns, own, &sns_created);
	if (snsfd < 0)
		return snsfd;
	/* EEXIST before anything is made: an existing bundle keeps its work dir. */
	if (fstatat(snsfd, id, &stbuf, AT_SYMLINK_NOFOLLOW) == 0) {
		ret = -EEXIST;
		goto out;
	}
	wnsfd = open_ns_dir(st->work_fd, ns, own, &wns_created);
	if (wnsfd < 0) {
		ret = wnsfd;
		goto out;
	}
	if (work_link) {
		ret = remove_leftover_work(st, wnsfd, ns, id);
		if (ret < 0)
			goto out;
	}
	ret = ensure_dir(wnsfd, id, 0711, own, &work_created);
	if (ret < 0)
		goto out;
	ret = build_skeleton(snsfd, tmp, sizeof(tmp), work_link, own);
	if (ret < 0) {
		tmp[0] = '\0';
		goto out;
	}
	if (renameat2(snsfd, tmp, snsfd, id, RENAME_NOREPLACE) < 0) {
		ret = -errno;
		goto out;
	}
	tmp[0] = '\0';
	ret = 0;
out:
	if (tmp[0])
		tree_remove(snsfd, tmp);
	/*
	 * On EEXIST the work dir belongs to the bundle that won the race (it
	 * may have reused the one we made), so it stays. Otherwise undo ours.
	 */
	if (ret < 0 && ret != -EEXIST && work_created)
		unlinkat(wnsfd, id, AT_REMOVEDIR);
	if (wnsfd >= 0)
		close(wnsfd);
	if (snsfd >= 0)
		close(snsfd);
	/* Namespace directories this call made go too (only while empty). */
	if (ret < 0 && wns_created)
		unlinkat(st->work_fd, ns, AT_REMOVEDIR);
	if (ret < 0 && sns_created)
		unlinkat(st->state_fd, ns, AT_REMOVEDIR);
	return ret;
}

static int create_bundle(const struct store *st, const char *ns, const char *id,
			 const char *work_link, const struct store_owner *own)
{
	int tries, ret = -ENOENT;

	/* ENOENT means a namespace rmdir removed S/<ns> or W/<ns> under us. */
	for (tries = 0; tries < CREATE_RETRIES && ret == -ENOENT; tries++)
		ret = create_once(st, ns, id, work_link, own);
	if (ret < 0 && ret != -EEXIST)
		blog(BLOG_ERR, "%s/%s: cannot create bundle: %s", ns, id, strerror(-ret));
	return ret;
}

int bundle_create(const struct bundle_conf *c, const char *ns, const char *id,
		  const struct store_owner *own)
{
	const char *elem[] = {c->st.work_path, ns, id};
	char *work_link = NULL;
	int ret;

	if (ident_validate(id) < 0)
		return -EINVAL;
	if (c->st.work_fd < 0) {
		blog(BLOG_ERR, "%s/%s: cannot create bundle: the work root %s is missing", ns, id,
		     c->st.work_path);
		return -ENOENT;
	}
	/* v2: the symlink work -> Join(W, ns, id) (SPEC 7.1). */
	if (c->runtime == RUNTIME_V2 && !(work_link = gopath_join(elem, 3)))
		return -ENOMEM;
	ret = create_bundle(&c->st, ns, id, work_link, own);
	free(work_link);
	return ret;
}

/* RemoveSocket, restricted to a unix socket directly in <socket_root>/s/. */
static void remove_socket(int nsfd, const char *id, const char *socket_root)
{
	char name[256], rel[NAME_MAX + 16], *sdir_elem[2], *sdir = NULL, *address = NULL;
	struct stat stbuf;
	size_t len;
	int sfd;

	snprintf(rel, sizeof(rel), "%s/address", id);
	if (store_read_regular(nsfd, rel, 4096, &address, &len) < 0)
		return;
	if (addr_socket_name(address, len, socket_root, name, sizeof(name)) < 0)
		goto out;
	sdir_elem[0] = (char *)socket_root;
	sdir_elem[1] = "s";
	sdir = gopath_join((const char *const *)sdir_elem, 2);
	if (!sdir)
		goto out;
	sfd = open(sdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		goto out;
	if (fstatat(sfd, name, &stbuf, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(stbuf.st_mode))
		unlinkat(sfd, name, 0);
	close(sfd);
out:
	free(sdir);
	free(address);
}

/*
 * atomicDelete: rename dirfd/name to a hidden name, then remove the hidden
 * tree. ".<name>" first, as containerd does; if a stale one is in the way, a
 * private temporary name instead, which the sweep also knows.
 */
static int atomic_delete(int dirfd, const char *name)
{
	char hidden[300];
	int ret;

	snprintf(hidden, sizeof(hidden), ".%s", name);
	if (renameat2(dirfd, name, dirfd, hidden, RENAME_NOREPLACE) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY)
			return -errno;
		for (int tries = 0;; tries++) {
			store_tmp_name(hidden, sizeof(hidden));
			if (renameat2(dirfd, name, dirfd, hidden, RENAME_NOREPLACE) == 0)
				break;
			if ((errno != EEXIST && errno != ENOTEMPTY) || tries == 16)
				return -errno;
		}
	}
	ret = tree_remove(dirfd, hidden);
	return ret == -ENOENT ? 0 : ret;
}

int bundle_hide(const struct bundle_conf *c, const char *ns, const char *from, const char *to,
		unsigned int flags)
{
	const struct store *st = &c->st;
	char aside[64];
	int nsfd, ret = 0, tries;

	nsfd = store_open_beneath(st->state_fd, ns, O_PATH | O_DIRECTORY, 0);
	if (nsfd < 0)
		return nsfd;
	for (tries = 0; tries < 4; tries++) {
		if (renameat2(nsfd, from, nsfd, to, flags) == 0) {
			ret = 0;
			break;
		}
		ret = -errno;
		if ((ret != -ENOTEMPTY && ret != -EEXIST) || (flags & RENAME_NOREPLACE))
			break;
		/* The stale tree goes out of the way under a private name first. */
		store_tmp_name(aside, sizeof(aside));
		if (renameat2(nsfd, to, nsfd, aside, RENAME_NOREPLACE) < 0) {
			ret = -errno;
			break;
		}
		tree_remove(nsfd, aside);
	}
	close(nsfd);
	return ret;
}

static int busy_check(const struct store *st, const char *ns, const char *name,
		      const char *mountpoint, bool hidden)
{
	const char *roots[3], *elem[3];
	char *paths[3] = {NULL, NULL, NULL};
	size_t n = 0, i;
	int ret;

	roots[n++] = st->state_path;
	if (!hidden)
		roots[n++] = st->work_path;
	if (mountpoint)
		roots[n++] = mountpoint;
	for (i = 0; i < n; i++) {
		elem[0] = roots[i];
		elem[1] = ns;
		elem[2] = name;
		paths[i] = gopath_join(elem, 3);
		if (!paths[i]) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = mounts_below((const char *const *)paths, n);
	if (ret > 0)
		ret = -EBUSY;
out:
	for (i = 0; i < 3; i++)
		free(paths[i]);
	return ret;
}

/*
 * Delete a bundle (SPEC 4.7, 7.3); with socket_root, the v1 step that
 * removes the shim socket a stored address names. The work dir removed is always
 * the computed W/<ns>/<name>, never what a bundle's work link points to.
 */
static int delete_bundle(const struct store *st, const char *ns, const char *name,
			 const char *socket_root, const char *mountpoint)
{
	bool hidden = name[0] == '.';
	int snsfd = -1, wnsfd = -1, ret, ret2;
	struct stat stbuf;

	snsfd = store_open_beneath(st->state_fd, ns, O_PATH | O_DIRECTORY, 0);
	if (snsfd < 0)
		return snsfd;
	if (fstatat(snsfd, name, &stbuf, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISDIR(stbuf.st_mode)) {
		ret = -ENOTDIR;
		goto out;
	}
	ret = busy_check(st, ns, name, mountpoint, hidden);
	if (ret < 0) {
		if (ret == -EBUSY)
			blog(BLOG_ERR, "%s/%s: not deleted: a file system is mounted inside it", ns,
			     name);
		goto out;
	}
	if (socket_root && !hidden)
		remove_socket(snsfd, name, socket_root);
	ret = atomic_delete(snsfd, name);
	if (ret == -ENOENT)
		goto out; /* a concurrent rmdir won */
	if (hidden)
		goto out;
	wnsfd = st->work_fd < 0 ? -ENOENT
				: store_open_beneath(st->work_fd, ns, O_PATH | O_DIRECTORY, 0);
	ret2 = wnsfd < 0 ? wnsfd : atomic_delete(wnsfd, name);
	if (ret2 == -ENOENT)
		ret2 = 0;
	if (ret2 < 0)
		blog(BLOG_ERR, "%s/%s: cannot remove work directory: %s", ns, name,
		     strerror(-ret2));
	if (ret == 0)
		ret = ret2;
	else
		blog(BLOG_ERR, "%s/%s: cannot remove bundle directory: %s", ns, name,
		     strerror(-ret));
out:
	if (wnsfd >= 0)
		close(wnsfd);
	close(snsfd);
	return ret;
}

int bundle_delete(const struct bundle_conf *c, const char *ns, const char *name,
		  const char *mountpoint)
{
	/* A v2 shim may serve other bundles of its group: its socket stays (SPEC 7.3). */
	return delete_bundle(&c->st, ns, name, c->runtime == RUNTIME_V1 ? c->socket_root : NULL,
			     mountpoint);
}
