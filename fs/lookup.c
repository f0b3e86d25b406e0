/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lookup and attributes: lookup and forget, getattr, setattr, readlink and
 * statfs, and the entries every request that makes a name replies
 * (lookup.h).
 *
 * No handler calls a notify function (the kernel's own bookkeeping of the
 * replies keeps its caches right for changes made through the mount; the
 * watcher's thread invalidates what changes beside it, watch.c). Every
 * lifetime a reply carries comes from watch_*_timeout.
 */
#include "lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bundledir.h"
#include "daemon.h"
#include "hold.h"
#include "log.h"
#include "nsdir.h"
#include "prune.h"
#include "resolve.h"
#include "ring.h"
#include "watch.h"

void lookup_fill(struct fuse_entry_param *e, struct node *parent, struct node *n,
		 const struct stat *st, unsigned epoch)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->id;
	e->attr = *st;
	e->entry_timeout = watch_entry_timeout(parent, n, epoch);
	e->attr_timeout = watch_attr_timeout(n, st, epoch);
	/* A released overlay name is absent to one process only: never cached then. */
	if (n->kind == NK_OVERLAY && !hold_none_released())
		e->entry_timeout = 0;
	/*
	 * Facts read before a batch of events: a removal of this name may have
	 * come before the node was in the table, with nothing to prune then.
	 */
	if (epoch != watch_epoch())
		prune_later(n);
}

/*
 * The attributes of an overlay node's file now, n its bundle; with bundle,
 * as ovl_stat_in (bundle->st_ino 0 when not known).
 */
static int overlay_stat(struct node *n, const struct ovl *ov, struct stat *st, struct stat *bundle)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	int ret = node_bundle_names(n, ns, id);

	if (bundle)
		bundle->st_ino = 0;
	return ret < 0 ? ret : ovl_stat_in(n->conf, ov, ns, id, st, bundle);
}

bool lookup_is_work_link(struct node *parent, const char *name)
{
	return bundle_is_work_link(parent->conf, name) && node_is_bundle(parent);
}

/*
 * The VFS answers symlink(2) onto a name that a LOOKUP finds with EEXIST and
 * never sends the request, yet containerd's v2 NewBundle makes the work link
 * itself after its mkdir, before it writes config.json. So until the bundle
 * is complete its work link, whole in the store, does not show through the
 * mount: a symlink(2) onto it then reaches the daemon and succeeds
 * unchanged (SPEC 7.2), and from then on the link shows to the process that
 * made it (a HOLD_SHOWN of hold.c). From config.json on, it shows to all.
 */
/* 1: hidden; 2: hidden but shown to req's process; 0: shown to all. */
static int work_hidden(fuse_req_t req, struct node *parent, int dirfd, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	bool hide;
	int fd;

	if (!lookup_is_work_link(parent, name))
		return 0;
	if (dirfd >= 0) {
		hide = bundle_work_hidden(parent->conf, dirfd, name);
	} else {
		fd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL);
		if (fd < 0)
			return 0;
		hide = bundle_work_hidden(parent->conf, fd, name);
		close(fd);
	}
	/* Shown to the process whose symlink(2) onto it succeeded (hold.c). */
	if (hide && req && node_bundle_names(parent, ns, id) == 0 &&
	    hold_has(req, HOLD_SHOWN, ns, id, name))
		return 2;
	return hide;
}

/*
 * lookup_entry, and with first the bundle watched from this lookup on
 * (lookup_made: without, a bundle just made through the mount keeps the
 * short lifetimes until used again).
 */
static int lookup_at(fuse_req_t req, struct node *parent, int dirfd, const char *name,
		     struct fuse_entry_param *e, bool first)
{
	unsigned epoch = watch_epoch();
	const struct ovl *ov;
	enum node_kind kind = node_child_kind(parent, name, &ov);
	struct stat st, again, bundle;
	int ret, dfd = dirfd, hidden, ahead = 0, slot = -1;
	bool created, watched;
	struct node *n;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	hidden = kind == NK_INSIDE ? work_hidden(req, parent, dirfd, name) : 0;
	if (hidden == 1)
		return -ENOENT;
	if (kind == NK_OVERLAY) {
		ret = overlay_stat(parent, ov, &st, &bundle);
		/*
		 * The bundle itself is gone beside the mount: ESTALE, as for any
		 * name below it (resolve.c), so that the kernel looks the bundle
		 * up again instead of keeping a negative entry in it, which would
		 * keep the bundle's dentry (and node) until memory pressure. The
		 * directory looked in being the node's own settles it at once.
		 */
		if (ret == -ENOENT &&
		    !(bundle.st_ino == parent->ino && bundle.st_dev == parent->dev)) {
			int reached = resolve_stat(parent, NULL);

			if (reached == -ESTALE || reached == -ENOENT)
				ret = -ESTALE;
		}
	} else {
		/*
		 * The parent has no name left (gone beside the mount): ESTALE, not
		 * ENOENT, whose negative entry would keep the parent's dentry.
		 */
		if (dirfd < 0 && (dfd = nsdir_open(parent, &slot)) < 0)
			return dfd == -ENOENT ? -ESTALE : dfd;
		/* A namespace or a bundle new to the table: watched before it is read. */
		if (first)
			ahead = watch_ahead(parent, kind, dfd, nsdir_key(slot), name);
		if (ahead == -ENOENT)
			ret = -ENOENT; /* the watch found no such name */
		else
			ret = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	}
	if (ret < 0)
		goto out;
	n = node_attach(parent, name, kind, &st, ov, &created);
	if (!n) {
		ret = -ENOMEM;
		goto out;
	}
	/*
	 * A namespace or a bundle that got its watch now, after the stat (its
	 * watch could not be added ahead): read its attributes again, so that a
	 * change in between is not cached long unreported. The lookup counted
	 * keeps n until the kernel has the reply.
	 */
	watched = watch_attached(n, dfd, nsdir_key(slot), name, first || !created, ahead);
	ahead = 0;
	if (watched && fstatat(dfd, name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
	    again.st_ino == st.st_ino && again.st_dev == st.st_dev)
		st = again;
	lookup_fill(e, parent, n, &st, epoch);
	if (hidden)
		e->entry_timeout = 0; /* shown to this process only: never cached */
out:
	if (ahead > 0)
		watch_unused(ahead); /* the lookup failed: nothing to attach it to */
	if (dfd >= 0 && dfd != dirfd)
		nsdir_close(dfd, slot);
	return ret;
}

int lookup_entry(fuse_req_t req, struct node *parent, int dirfd, const char *name,
		 struct fuse_entry_param *e)
{
	return lookup_at(req, parent, dirfd, name, e, true);
}

int lookup_made(fuse_req_t req, struct node *parent, const char *name, struct fuse_entry_param *e)
{
	return lookup_at(req, parent, -1, name, e, false);
}

/*
 * Whether name in parent is one of a bundle's own names that req's process
 * released with an unlink (hold.c): an overlay file or the v2 work link.
 */
static bool released(fuse_req_t req, struct node *parent, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct ovl *ov;

	if (node_child_kind(parent, name, &ov) != NK_OVERLAY && !lookup_is_work_link(parent, name))
		return false;
	return node_bundle_names(parent, ns, id) == 0 && hold_has(req, HOLD_RELEASED, ns, id, name);
}

void bfs_lookup(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	unsigned epoch = watch_epoch();
	struct fuse_entry_param e;
	const struct ovl *ov;
	int ret;
	struct node *parent = node_or_reply(req, pino);

	if (!parent)
		return;

	if (released(req, parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ret = lookup_entry(req, parent, -1, name, &e);
	/* Overlay files and a hidden work link may appear at any moment: not cached. */
	if (ret == -ENOENT && node_child_kind(parent, name, &ov) != NK_OVERLAY &&
	    !lookup_is_work_link(parent, name)) {
		/* A negative entry, cached as long as a positive one. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = watch_negative_timeout(parent, name, epoch);
		fuse_reply_entry(req, &e);
		return;
	}
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (S_ISREG(e.attr.st_mode))
		ring_note_file(e.ino);
	fuse_reply_entry(req, &e);
}

void bfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(ino, nlookup);
	fuse_reply_none(req);
	watch_pace();
	node_trim();
}

void bfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		/* With -d: libfuse's trace names no node of a BATCH_FORGET. */
		blog(BLOG_DEBUG, "   BATCH_FORGET nodeid: %" PRIu64 ", nlookup: %" PRIu64,
		     (uint64_t)forgets[i].ino, (uint64_t)forgets[i].nlookup);
		node_forget(forgets[i].ino, forgets[i].nlookup);
		if (i % 256 == 255)
			watch_pace();
	}
	fuse_reply_none(req);
	watch_pace();
	node_trim();
}

/*
 * The attributes of n now: by its name (open_backing's rule), or through an
 * open handle when no name is left.
 */
static int node_stat(struct node *n, struct stat *st)
{
	struct handle *h;
	int ret;

	if (n->kind == NK_OVERLAY) {
		ret = overlay_stat(n, n->ov, st, NULL);
		/* Created by an open that has not stored it yet: what that open sees. */
		if (ret == -ENOENT && (h = node_handle_pin(n, H_OVERLAY))) {
			ret = ovl_fstat(h->ovf, st);
			handle_unpin(h);
		}
		return ret;
	}
	/* A watched namespace's kept descriptor (nsdir.c), else by its path. */
	if (n->kind == NK_NS && (ret = nsdir_stat(n, st)) <= 0)
		return ret;
	return resolve_stat(n, st);
}

void bfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	unsigned epoch = watch_epoch();
	struct stat st;
	int ret;
	struct node *n = node_or_reply(req, ino);

	if (!n)
		return;

	/* Watched from now on if it is a bundle, before its attributes are read. */
	watch_touch(n);
	epoch = watch_epoch();
	if (h && h->kind == H_OVERLAY)
		ret = ovl_fstat(h->ovf, &st);
	else if (h && h->kind == H_FILE)
		ret = fstat(h->fd, &st) < 0 ? -errno : 0;
	else
		ret = node_stat(n, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, watch_attr_timeout(n, &st, epoch));
}

/* The change a FUSE setattr asks for, as core takes it. */
static void attr_of(const struct stat *attr, int to_set, struct attr_set *a)
{
	memset(a, 0, sizeof(*a));
	a->uid = (uid_t)-1;
	a->gid = (gid_t)-1;
	a->times[0].tv_nsec = a->times[1].tv_nsec = UTIME_OMIT;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		a->what |= ATTR_SIZE;
		a->size = attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		a->what |= ATTR_MODE;
		a->mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		a->what |= ATTR_UID;
		a->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		a->what |= ATTR_GID;
		a->gid = attr->st_gid;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))
		a->what |= ATTR_TIMES;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		a->times[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		a->times[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		a->times[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		a->times[1] = attr->st_mtim;
}

/* setattr of overlay node n, with h the request's open file (or NULL): core decides the target. */
static int overlay_setattr(fuse_req_t req, struct node *n, struct handle *h,
			   const struct attr_set *a)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct ovl_file *own = h && h->kind == H_OVERLAY ? h->ovf : NULL;
	struct handle *writer = NULL;
	int ret = node_bundle_names(n, ns, id);

	if (ret < 0)
		return ret;
	if ((a->what & ~(unsigned)ATTR_SIZE) && !(own && ovl_writes(own)))
		writer = handle_pin_writer(n);
	ret = ovl_setattr(n->conf, n->ov, ns, id, own, writer ? writer->ovf : NULL, a, ctx->uid,
			  ctx->gid);
	if (writer)
		handle_unpin(writer);
	return ret;
}

void bfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi)
{
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	unsigned epoch = watch_epoch();
	bool is_path = false;
	struct attr_set a;
	struct stat st;
	int fd, ret;
	struct node *n = node_or_reply(req, ino);

	if (!n || refused_ro(req))
		return;
	attr_of(attr, to_set, &a);
	if (n->kind == NK_OVERLAY) {
		ret = overlay_setattr(req, n, h, &a);
		if (ret == 0)
			ret =
			    h && h->kind == H_OVERLAY ? ovl_fstat(h->ovf, &st) : node_stat(n, &st);
		goto reply;
	}
	if (h && h->kind == H_FILE) {
		fd = h->fd;
	} else {
		fd = resolve_open(n, O_PATH, NULL);
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
		is_path = true;
	}
	/* A truncation through an open descriptor uses it when it may write. */
	if (h && h->kind == H_FILE && (a.what & ATTR_SIZE)) {
		ret = ftruncate(fd, a.size) < 0 ? -errno : 0;
		a.what &= ~(unsigned)ATTR_SIZE;
		if (ret < 0)
			goto out;
	}
	ret = attr_apply(fd, is_path, n->type, &a);
	if (ret == 0)
		ret = fstat(fd, &st) < 0 ? -errno : 0;
out:
	if (is_path)
		close(fd);
reply:
	if (ret == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		watch_written(n);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, watch_attr_timeout(n, &st, epoch));
}

void bfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t len;
	int fd;
	struct node *n = node_or_reply(req, ino);

	if (!n)
		return;

	if (!S_ISLNK(n->type)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = resolve_open(n, O_PATH, NULL);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	len = readlinkat(fd, "", buf, sizeof(buf) - 1);
	if (len < 0) {
		fuse_reply_err(req, errno);
	} else {
		buf[len] = '\0';
		fuse_reply_readlink(req, buf);
	}
	close(fd);
}

void bfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_find(ino);
	struct statvfs sv;

	/* The store of the node asked about; an id forgotten already: the mount's. */
	if (fstatvfs((n ? n->conf : &bfs.conf)->st.state_fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}
