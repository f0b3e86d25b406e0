/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The requests that change names: the tree's mkdir and rmdir (SPEC 3),
 * passthrough mknod, symlink and link (4.6), unlink (with the names of a
 * bundle that are released instead: hold.c) and rename. The store calls
 * come first, the node table records what they did after (node.h).
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "bundledir.h"
#include "creator.h"
#include "hold.h"
#include "lookup.h"
#include "resolve.h"
#include "view.h"
#include "watch.h"

/* New entries other than directories live inside bundles (and hidden trees). */
static int may_create(struct node *parent, const char *name)
{
	const struct ovl *ov;

	if (bfs.ro)
		return -EROFS;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	return node_child_kind(parent, name, &ov) == NK_INSIDE ? 0 : -EPERM;
}

/* What make_entry makes. */
enum new_entry { NEW_NODE, NEW_DIR, NEW_SYMLINK };

/*
 * Make name in parent's directory: a node (mknod, of mode and rdev), a
 * directory (of mode) or a symlink to target, with the caller's umask as
 * creator_mode applies it and the caller as owner. 0 or -errno; what could
 * not be given its owner is removed again.
 */
static int make_entry(fuse_req_t req, struct node *parent, const char *name, enum new_entry what,
		      mode_t mode, dev_t rdev, const char *target)
{
	int dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL), ret;
	mode_t m;

	if (dfd < 0)
		return dfd;
	m = creator_mode(req, dfd, mode);
	if (what == NEW_DIR)
		ret = mkdirat(dfd, name, m);
	else if (what == NEW_SYMLINK)
		ret = symlinkat(target, dfd, name);
	else
		ret = mknodat(dfd, name, m, rdev);
	ret = ret < 0 ? -errno : creator_own(req, parent->conf, dfd, name, what == NEW_DIR, m);
	close(dfd);
	return ret;
}

/* Reply a request that made parent/name: its error (ret < 0), else the new entry. */
static void reply_made(fuse_req_t req, struct node *parent, const char *name, int ret)
{
	struct fuse_entry_param e;

	if (ret == 0)
		watch_changed(parent, name);
	if (ret == 0)
		ret = lookup_made(req, parent, name, &e);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

/*
 * Whether name in parent is one of a bundle's own names that req's process
 * released with an unlink (hold.c); if so the hold ends: the process makes
 * that name again.
 */
static bool take_released(fuse_req_t req, struct node *parent, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];

	return node_bundle_names(parent, ns, id) == 0 &&
	       hold_take(req, HOLD_RELEASED, ns, id, name);
}

void bfs_mknod(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode, dev_t rdev)
{
	int ret;
	struct node *parent = node_or_reply(req, pino);

	if (!parent)
		return;

	ret = may_create(parent, name);
	if (ret == 0)
		ret = make_entry(req, parent, name, NEW_NODE, mode, rdev, NULL);
	reply_made(req, parent, name, ret);
}

/*
 * Whether the bundle parent has its work link in the store (a symlink): 1,
 * 0, -errno. The kernel sends symlink(2) onto `work` only while the link
 * is not shown (or released to the caller), and then it succeeds whatever
 * its target, changing nothing (SPEC 7.2): containerd's NewBundle makes the
 * link itself with the very target, a restored copy of a bundle carries
 * the old bundle's.
 */
static int has_work_link(struct node *parent)
{
	int dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL);
	int ret;

	if (dfd < 0)
		return dfd;
	ret = bundle_has_work_link(dfd);
	close(dfd);
	return ret;
}

/* The entry of the work link a symlink(2) onto it found: not cached (it may be hidden). */
static void reply_work_link(fuse_req_t req, struct node *parent)
{
	unsigned epoch = watch_epoch();
	struct fuse_entry_param e;
	struct node *n = NULL;
	bool created;
	struct stat st;
	int dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL), ret;

	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	ret = fstatat(dfd, "work", &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	close(dfd);
	if (ret == 0 && !(n = node_attach(parent, "work", NK_INSIDE, &st, NULL, &created)))
		ret = -ENOMEM;
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	lookup_fill(&e, parent, n, &st, epoch);
	e.entry_timeout = 0;
	fuse_reply_entry(req, &e);
}

void bfs_symlink(fuse_req_t req, const char *target, fuse_ino_t pino, const char *name)
{
	int ret;
	struct node *parent = node_or_reply(req, pino);

	if (!parent)
		return;

	ret = may_create(parent, name);
	if (ret == 0 && lookup_is_work_link(parent, name)) {
		take_released(req, parent, name); /* made again by its releaser */
		ret = has_work_link(parent);
		if (ret > 0) {
			char ns[NAME_MAX + 1], id[NAME_MAX + 1];

			/* Made, as far as the caller knows: it sees the link from now on. */
			if (node_bundle_names(parent, ns, id) == 0)
				hold_add(req, HOLD_SHOWN, ns, id, name);
			reply_work_link(req, parent);
			return;
		}
	}
	if (ret == 0)
		ret = make_entry(req, parent, name, NEW_SYMLINK, 0, 0, target);
	reply_made(req, parent, name, ret);
}

/* The name of the namespace node ns_node (a child of the root). */
static int ns_name(struct node *ns_node, char *ns)
{
	char *path;
	size_t len;
	int ret = node_path(ns_node, &path, &len);

	if (ret < 0)
		return ret;
	if (len > NAME_MAX || memchr(path, '/', len)) {
		free(path);
		return -ESTALE;
	}
	memcpy(ns, path, len + 1);
	free(path);
	return 0;
}

void bfs_mkdir(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode)
{
	char ns[NAME_MAX + 1];
	struct store_owner own;
	const struct ovl *ov;
	enum node_kind kind;
	int ret;
	struct node *parent = node_or_reply(req, pino);

	if (!parent || refused_ro(req))
		return;
	kind = node_child_kind(parent, name, &ov);
	creator_owner(req, parent->conf, &own);
	switch (kind) {
	case NK_NS:
		ret = bundle_ns_create(parent->conf, name, &own);
		break;
	case NK_NSENTRY:
		ret = ns_name(parent, ns);
		if (ret == 0)
			ret = bundle_create(parent->conf, ns, name, &own);
		break;
	case NK_OVERLAY:
		ret = -EEXIST;
		break;
	default:
		if (strlen(name) > NAME_MAX) {
			ret = -ENAMETOOLONG;
			break;
		}
		ret = make_entry(req, parent, name, NEW_DIR, mode, 0, NULL);
		break;
	}
	reply_made(req, parent, name, ret);
}

/*
 * The parent of the name an unlink or rmdir removes, the name marked going
 * (node_name_going) until name_removed; NULL after replying ESTALE or EROFS.
 */
static struct node *removal_parent(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	struct node *parent = node_or_reply(req, pino);

	if (!parent || refused_ro(req))
		return NULL;
	node_name_going(parent, name);
	return parent;
}

/*
 * The removal of parent/name that node_name_going announced ended with ret:
 * the table forgets the name (0), or keeps it (a failure, or a name
 * released to the caller: 1). Returns ret.
 */
static int name_removed(struct node *parent, const char *name, int ret)
{
	if (ret == 0)
		node_name_gone(parent, name);
	else
		node_name_kept(parent, name);
	return ret;
}

/* unlinkat(parent's directory, name, flags). */
static int unlink_in(struct node *parent, const char *name, int flags)
{
	int dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL), ret;

	if (dfd < 0)
		return dfd;
	ret = unlinkat(dfd, name, flags) < 0 ? -errno : 0;
	close(dfd);
	return ret;
}

/*
 * unlink of a bundle's own name (SPEC 4.2, 4.3, 7.2), ov NULL for the work
 * link: removed from the store (0), or released to the caller's process
 * (1: hold.c), as core decides; -errno. A name the process released already
 * is absent for it.
 */
static int unlink_own(fuse_req_t req, struct node *parent, const char *ns, const char *id,
		      const char *name, const struct ovl *ov)
{
	int ret;

	if (hold_has(req, HOLD_RELEASED, ns, id, name))
		return -ENOENT;
	ret = bundle_unlink_own(parent->conf, ns, id, ov);
	if (ret != 1)
		return ret;
	ret = hold_add(req, HOLD_RELEASED, ns, id, name);
	return ret < 0 ? ret : 1;
}

void bfs_unlink(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct ovl *ov;
	int ret;
	struct node *parent = removal_parent(req, pino, name);

	if (!parent)
		return;
	if (node_child_kind(parent, name, &ov) == NK_OVERLAY || lookup_is_work_link(parent, name)) {
		ret = node_bundle_names(parent, ns, id);
		/* A released name (1) is still there for everyone else: its node stays. */
		if (ret == 0)
			ret = unlink_own(req, parent, ns, id, name, ov);
	} else {
		ret = unlink_in(parent, name, 0);
	}
	ret = name_removed(parent, name, ret);
	if (ret >= 0)
		watch_changed(parent, name);
	reply_result(req, ret < 0 ? ret : 0);
}

void bfs_rmdir(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	char ns[NAME_MAX + 1];
	const struct ovl *ov;
	int ret;
	struct node *parent = removal_parent(req, pino, name);

	if (!parent)
		return;
	switch (node_child_kind(parent, name, &ov)) {
	case NK_NS:
		ret = name[0] == '.' ? unlink_in(parent, name, AT_REMOVEDIR)
				     : bundle_ns_remove(parent->conf, name);
		break;
	case NK_NSENTRY:
		ret = ns_name(parent, ns);
		if (ret == 0)
			ret = bundle_delete(parent->conf, ns, name, view_mountpoint(parent->conf));
		if (ret == 0)
			hold_forget_bundle(ns, name);
		break;
	case NK_OVERLAY:
		ret = -ENOTDIR;
		break;
	default:
		ret = unlink_in(parent, name, AT_REMOVEDIR);
		break;
	}
	reply_result(req, name_removed(parent, name, ret));
}

/*
 * Renames within one bundle, and a bundle to a hidden name in its namespace
 * (containerd's atomic delete); everything else of the tree is fixed.
 */
static int rename_check(struct node *p1, const char *n1, enum node_kind k1, const struct ovl *o1,
			struct node *p2, const char *n2, enum node_kind k2, const struct ovl *o2,
			unsigned int flags)
{
	if (k1 == NK_NSENTRY || k2 == NK_NSENTRY)
		return k1 == k2 && p1 == p2 && n2[0] == '.' ? 0 : -EPERM;
	if (k1 == NK_NS || k2 == NK_NS)
		return -EPERM;
	if (lookup_is_work_link(p1, n1) || lookup_is_work_link(p2, n2))
		return -EPERM;
	if (node_bundle_of(p1) != node_bundle_of(p2) || !node_bundle_of(p1))
		return -EXDEV;
	if (o1 && !ovl_may_unlink(o1))
		return -EPERM;
	if ((flags & RENAME_EXCHANGE) && (o1 || o2))
		return -EPERM;
	return 0;
}

void bfs_rename(fuse_req_t req, fuse_ino_t pino1, const char *n1, fuse_ino_t pino2, const char *n2,
		unsigned int flags)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct ovl *o1, *o2;
	enum node_kind k1, k2;
	int ret, d1 = -1, d2 = -1;
	struct node *p1 = node_or_reply(req, pino1);
	struct node *p2 = p1 ? node_or_reply(req, pino2) : NULL;

	if (!p2 || refused_ro(req))
		return;
	/* A rename over n2 may free the number of the inode it names. */
	if (!(flags & RENAME_EXCHANGE))
		node_name_going(p2, n2);
	k1 = node_child_kind(p1, n1, &o1);
	k2 = node_child_kind(p2, n2, &o2);
	ret = rename_check(p1, n1, k1, o1, p2, n2, k2, o2, flags);
	if (ret < 0)
		goto out;
	if (k1 == NK_NSENTRY) {
		ret = ns_name(p1, ns);
		if (ret == 0)
			ret = bundle_hide(p1->conf, ns, n1, n2, flags);
		if (ret == 0)
			hold_forget_bundle(ns, n1);
		goto out;
	}
	d1 = resolve_open(p1, O_PATH | O_DIRECTORY, NULL);
	d2 = d1 < 0 ? -1 : resolve_open(p2, O_PATH | O_DIRECTORY, NULL);
	if (d1 < 0 || d2 < 0) {
		ret = d1 < 0 ? d1 : d2;
		goto out;
	}
	if (o2) {
		ret = node_bundle_names(p2, ns, id);
		/* Released by this process: the rename makes it again. */
		if (ret == 0)
			hold_take(req, HOLD_RELEASED, ns, id, n2);
		if (ret == 0)
			ret = ovl_rename_onto(p2->conf, o2, ns, id, d1, n1, flags);
	} else {
		ret = renameat2(d1, n1, d2, n2, flags) < 0 ? -errno : 0;
	}
out:
	if (d1 >= 0)
		close(d1);
	if (d2 >= 0)
		close(d2);
	if (ret == 0 && o2) {
		/* Stored as a copy: the source's inode is not it; the overlay node stays. */
		node_name_retire(p1, n1);
		node_name_kept(p2, n2);
	} else if (ret == 0)
		node_renamed(p1, n1, p2, n2, flags & RENAME_EXCHANGE);
	else if (!(flags & RENAME_EXCHANGE))
		node_name_kept(p2, n2);
	if (ret == 0) {
		watch_changed(p1, n1);
		watch_changed(p2, n2);
	}
	reply_result(req, ret);
}

void bfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t pino, const char *name)
{
	char proc[64];
	int ret, fd = -1, dfd = -1;
	struct node *n = node_or_reply(req, ino);
	struct node *parent = n ? node_or_reply(req, pino) : NULL;

	if (!parent)
		return;
	ret = may_create(parent, name);
	if (ret == 0 && n->kind != NK_INSIDE)
		ret = -EPERM;
	if (ret == 0 && (node_bundle_of(n) != node_bundle_of(parent) || !node_bundle_of(n)))
		ret = -EXDEV;
	if (ret == 0)
		ret = fd = resolve_open(n, O_PATH, NULL);
	if (ret >= 0)
		ret = dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL);
	/* Link the very inode n is, not whatever its name holds now. */
	if (ret >= 0 && n->conf->is_root) {
		ret = linkat(fd, "", dfd, name, AT_EMPTY_PATH) < 0 ? -errno : 0;
	} else if (ret >= 0) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ret = linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
	}
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	reply_made(req, parent, name, ret);
}
