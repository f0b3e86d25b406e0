/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests on names and attributes: lookup and forget, getattr and setattr,
 * the tree's mkdir/rmdir (SPEC 3), passthrough creation, unlink, rename and
 * link (4.6), extended attributes, statfs.
 *
 * Every handler replies exactly once, after dropping the table lock; no
 * handler calls a notify function (the kernel's own bookkeeping of the
 * replies keeps its caches right for changes made through the mount; the
 * watcher's thread invalidates what changes beside it, watch.c). Every
 * lifetime a reply carries comes from watch_*_timeout.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bundle.h"
#include "bundledir.h"
#include "log.h"
#include "watch.h"

static void reply_result(fuse_req_t req, int ret)
{
	fuse_reply_err(req, ret < 0 ? -ret : 0);
}

/* Whether entries the daemon creates in c's store need a chown to belong to own. */
static bool owner_differs(const struct bundle_conf *c, const struct store_owner *own)
{
	return (own->uid != (uid_t)-1 && own->uid != c->euid) ||
	       (own->gid != (gid_t)-1 && own->gid != c->egid);
}

void req_owner(fuse_req_t req, const struct bundle_conf *c, struct store_owner *own)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	own->uid = ctx->uid;
	own->gid = ctx->gid;
	own->chown = c->is_root && owner_differs(c, own);
}

/*
 * The owner a new entry in dirfd gets: the caller, except that in a setgid
 * directory the group stays the directory's, as the kernel gave it.
 */
static bool new_owner(fuse_req_t req, const struct bundle_conf *c, int dirfd,
		      struct store_owner *own)
{
	struct stat dir;

	req_owner(req, c, own);
	if (!own->chown)
		return false;
	if (fstat(dirfd, &dir) == 0 && (dir.st_mode & S_ISGID)) {
		own->gid = (gid_t)-1;
		own->chown = owner_differs(c, own);
	}
	return own->chown;
}

/*
 * Give a new entry the caller's owner (SPEC 4.6), or remove it again. A
 * chown clears the set-id bits of a regular file: they are put back, since
 * the caller asked for them at creation.
 */
int own_new(fuse_req_t req, const struct bundle_conf *c, int dirfd, const char *name, bool is_dir,
	    mode_t mode)
{
	struct store_owner own;
	int err;

	if (!new_owner(req, c, dirfd, &own))
		return 0;
	if (fchownat(dirfd, name, own.uid, own.gid, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (is_dir || !(mode & (S_ISUID | S_ISGID)) ||
	     fchmodat(dirfd, name, mode & 07777, AT_SYMLINK_NOFOLLOW) == 0))
		return 0;
	err = -errno;
	unlinkat(dirfd, name, is_dir ? AT_REMOVEDIR : 0);
	return err;
}

int own_new_fd(fuse_req_t req, const struct bundle_conf *c, int dirfd, int fd, mode_t mode)
{
	struct store_owner own;

	if (!new_owner(req, c, dirfd, &own))
		return 0;
	if (fchown(fd, own.uid, own.gid) < 0 ||
	    ((mode & (S_ISUID | S_ISGID)) && fchmod(fd, mode & 07777) < 0))
		return -errno;
	return 0;
}

mode_t create_mode(fuse_req_t req, int dirfd, mode_t mode)
{
	char proc[64];

	if (!bfs.apply_umask)
		return mode;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dirfd);
	if (getxattr(proc, "system.posix_acl_default", NULL, 0) > 0)
		return mode;
	return mode & ~(fuse_req_ctx(req)->umask & 0777);
}

void fill_entry(struct fuse_entry_param *e, struct node *parent, struct node *n,
		const struct stat *st, unsigned epoch)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->id;
	e->attr = *st;
	e->entry_timeout = watch_entry_timeout(parent, n, epoch);
	e->attr_timeout = watch_attr_timeout(n, st, epoch);
}

/* The attributes of an overlay node's file now. */
static int overlay_stat(struct node *n, const struct ovl *ov, struct stat *st)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	int ret = node_bundle_names(n, ns, id);

	return ret < 0 ? ret : ovl_stat(n->conf, ov, ns, id, st);
}

/*
 * A v2 bundle's `work` link (SPEC 7.2): made at creation, never followed,
 * never removed or renamed through the mount.
 */
static bool is_work_link(struct node *parent, const char *name)
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

	if (!is_work_link(parent, name))
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

int lookup_entry(fuse_req_t req, struct node *parent, int dirfd, const char *name,
		 struct fuse_entry_param *e)
{
	unsigned epoch = watch_epoch();
	const struct ovl *ov;
	enum node_kind kind = node_child_kind(parent, name, &ov);
	struct stat st, again;
	int ret, dfd = dirfd, hidden;
	bool created, watched;
	struct node *n;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	hidden = kind == NK_INSIDE ? work_hidden(req, parent, dirfd, name) : 0;
	if (hidden == 1)
		return -ENOENT;
	if (kind == NK_OVERLAY) {
		ret = overlay_stat(parent, ov, &st);
	} else {
		if (dirfd < 0 && (dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL)) < 0)
			return dfd;
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
	 * A namespace or a bundle that got its watch now, after the stat: read
	 * its attributes again, so that a change in between is not cached long
	 * unreported. The lookup counted keeps n until the kernel has the reply.
	 */
	watched = watch_attached(n, dfd, name, created);
	if (watched && fstatat(dfd, name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
	    again.st_ino == st.st_ino && again.st_dev == st.st_dev)
		st = again;
	fill_entry(e, parent, n, &st, epoch);
	if (hidden)
		e->entry_timeout = 0; /* shown to this process only: never cached */
out:
	if (dfd >= 0 && dfd != dirfd)
		close(dfd);
	return ret;
}

/*
 * Whether name in parent is one of a bundle's own names that req's process
 * released with an unlink (hold.c): an overlay file or the v2 work link.
 */
static bool released(fuse_req_t req, struct node *parent, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct ovl *ov;

	if (node_child_kind(parent, name, &ov) != NK_OVERLAY && !is_work_link(parent, name))
		return false;
	return node_bundle_names(parent, ns, id) == 0 && hold_has(req, HOLD_RELEASED, ns, id, name);
}

/* Likewise, and the hold ends: req's process makes that name again. */
static bool take_released(fuse_req_t req, struct node *parent, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];

	return node_bundle_names(parent, ns, id) == 0 &&
	       hold_take(req, HOLD_RELEASED, ns, id, name);
}

static void bfs_lookup(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	unsigned epoch = watch_epoch();
	struct fuse_entry_param e;
	const struct ovl *ov;
	int ret;
	NODE_OR_STALE(req, pino, parent);

	if (released(req, parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	ret = lookup_entry(req, parent, -1, name, &e);
	/* Overlay files and a hidden work link may appear at any moment: not cached. */
	if (ret == -ENOENT && node_child_kind(parent, name, &ov) != NK_OVERLAY &&
	    !is_work_link(parent, name)) {
		/* A negative entry, cached as long as a positive one. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = watch_negative_timeout(parent, name, epoch);
		fuse_reply_entry(req, &e);
		return;
	}
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

/* Reply the entry parent/name just made by this request. */
static void reply_new_entry(fuse_req_t req, struct node *parent, const char *name)
{
	struct fuse_entry_param e;
	int ret = lookup_entry(req, parent, -1, name, &e);

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_entry(req, &e);
}

static void bfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	node_forget(ino, nlookup);
	fuse_reply_none(req);
}

static void bfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		node_forget(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/*
 * The attributes of n now: by its name (open_backing's rule), or through an
 * open handle when no name is left.
 */
int node_stat(struct node *n, struct stat *st)
{
	struct handle *h;
	int ret;

	if (n->kind == NK_OVERLAY) {
		ret = overlay_stat(n, n->ov, st);
		/* Created by an open that has not stored it yet: what that open sees. */
		if (ret == -ENOENT && (h = node_handle_pin(n, H_OVERLAY))) {
			ret = ovl_fstat(h->ovf, st);
			handle_unpin(h);
		}
		return ret;
	}
	return resolve_stat(n, st);
}

static void bfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	unsigned epoch = watch_epoch();
	struct stat st;
	int ret;
	NODE_OR_STALE(req, ino, n);

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

/*
 * A writable open of overlay node n, pinned, or NULL: what a chmod, chown,
 * utimens or extended attribute of n applies to while a writer has the file
 * open (cp -p, tar and mv set them between their writes and the close), so
 * that the commit stores them with the content.
 */
static struct handle *overlay_writer(struct node *n)
{
	struct handle *pin = node_handle_pin(n, H_OVERLAY);

	if (pin && !ovl_writes(pin->ovf)) {
		handle_unpin(pin);
		pin = NULL;
	}
	return pin;
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
		writer = overlay_writer(n);
	ret = ovl_setattr(n->conf, n->ov, ns, id, own, writer ? writer->ovf : NULL, a, ctx->uid,
			  ctx->gid);
	if (writer)
		handle_unpin(writer);
	return ret;
}

static void bfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct handle *h = fi ? (struct handle *)(uintptr_t)fi->fh : NULL;
	unsigned epoch = watch_epoch();
	bool is_path = false;
	struct attr_set a;
	struct stat st;
	int fd, ret;
	NODE_OR_STALE(req, ino, n);

	REFUSE_IF_RO(req);
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
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, watch_attr_timeout(n, &st, epoch));
}

static void bfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t len;
	int fd;
	NODE_OR_STALE(req, ino, n);

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

/*
 * Make an entry in parent's directory with call (which sees dfd, and m, the
 * mode to make it with), own it, reply it.
 */
#define MAKE_ENTRY(req, parent, name, is_dir, mode, call)                                          \
	do {                                                                                       \
		int dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL), r;                     \
		mode_t m;                                                                          \
		if (dfd < 0) {                                                                     \
			fuse_reply_err(req, -dfd);                                                 \
			return;                                                                    \
		}                                                                                  \
		m = create_mode(req, dfd, mode);                                                   \
		r = (call) < 0 ? -errno : own_new(req, parent->conf, dfd, name, is_dir, m);        \
		close(dfd);                                                                        \
		if (r < 0)                                                                         \
			fuse_reply_err(req, -r);                                                   \
		else                                                                               \
			reply_new_entry(req, parent, name);                                        \
	} while (0)

static void bfs_mknod(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode, dev_t rdev)
{
	int ret;
	NODE_OR_STALE(req, pino, parent);

	ret = may_create(parent, name);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	MAKE_ENTRY(req, parent, name, false, mode, mknodat(dfd, name, m, rdev));
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
	fill_entry(&e, parent, n, &st, epoch);
	e.entry_timeout = 0;
	fuse_reply_entry(req, &e);
}

static void bfs_symlink(fuse_req_t req, const char *target, fuse_ino_t pino, const char *name)
{
	int ret;
	NODE_OR_STALE(req, pino, parent);

	ret = may_create(parent, name);
	if (ret == 0 && is_work_link(parent, name)) {
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
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	MAKE_ENTRY(req, parent, name, false, 0, symlinkat(target, dfd, name));
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

static void bfs_mkdir(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode)
{
	char ns[NAME_MAX + 1];
	struct store_owner own;
	const struct ovl *ov;
	enum node_kind kind;
	int ret;
	NODE_OR_STALE(req, pino, parent);

	REFUSE_IF_RO(req);
	kind = node_child_kind(parent, name, &ov);
	req_owner(req, parent->conf, &own);
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
		MAKE_ENTRY(req, parent, name, true, mode, mkdirat(dfd, name, m));
		return;
	}
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, parent, name);
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

static void bfs_unlink(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct ovl *ov;
	int ret;
	NODE_OR_STALE(req, pino, parent);

	REFUSE_IF_RO(req);
	node_name_going(parent, name);
	if (node_child_kind(parent, name, &ov) == NK_OVERLAY || is_work_link(parent, name)) {
		ret = node_bundle_names(parent, ns, id);
		if (ret == 0)
			ret = unlink_own(req, parent, ns, id, name, ov);
		/* A released name (1) is still there for everyone else: its node stays. */
		if (ret == 0)
			node_name_gone(parent, name);
		else
			node_name_kept(parent, name);
		reply_result(req, ret < 0 ? ret : 0);
		return;
	}
	ret = unlink_in(parent, name, 0);
	if (ret == 0)
		node_name_gone(parent, name);
	else
		node_name_kept(parent, name);
	reply_result(req, ret);
}

static void bfs_rmdir(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	char ns[NAME_MAX + 1];
	const struct ovl *ov;
	int ret;
	NODE_OR_STALE(req, pino, parent);

	REFUSE_IF_RO(req);
	node_name_going(parent, name);
	switch (node_child_kind(parent, name, &ov)) {
	case NK_NS:
		ret = name[0] == '.' ? unlink_in(parent, name, AT_REMOVEDIR)
				     : bundle_ns_remove(parent->conf, name);
		break;
	case NK_NSENTRY:
		ret = ns_name(parent, ns);
		if (ret == 0)
			ret = bundle_delete(parent->conf, ns, name, bfs.mountpoint);
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
	if (ret == 0)
		node_name_gone(parent, name);
	else
		node_name_kept(parent, name);
	reply_result(req, ret);
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
	if (is_work_link(p1, n1) || is_work_link(p2, n2))
		return -EPERM;
	if (node_bundle_of(p1) != node_bundle_of(p2) || !node_bundle_of(p1))
		return -EXDEV;
	if (o1 && !ovl_may_unlink(o1))
		return -EPERM;
	if ((flags & RENAME_EXCHANGE) && (o1 || o2))
		return -EPERM;
	return 0;
}

static void bfs_rename(fuse_req_t req, fuse_ino_t pino1, const char *n1, fuse_ino_t pino2,
		       const char *n2, unsigned int flags)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct ovl *o1, *o2;
	enum node_kind k1, k2;
	int ret, d1 = -1, d2 = -1;
	NODE_OR_STALE(req, pino1, p1);
	NODE_OR_STALE(req, pino2, p2);

	REFUSE_IF_RO(req);
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
	reply_result(req, ret);
}

static void bfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t pino, const char *name)
{
	char proc[64];
	int ret, fd, dfd;
	NODE_OR_STALE(req, ino, n);
	NODE_OR_STALE(req, pino, parent);

	ret = may_create(parent, name);
	if (ret == 0 && n->kind != NK_INSIDE)
		ret = -EPERM;
	if (ret == 0 && (node_bundle_of(n) != node_bundle_of(parent) || !node_bundle_of(n)))
		ret = -EXDEV;
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fd = resolve_open(n, O_PATH, NULL);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL);
	if (dfd < 0) {
		close(fd);
		fuse_reply_err(req, -dfd);
		return;
	}
	/* Link the very inode n is, not whatever its name holds now. */
	if (n->conf->is_root) {
		ret = linkat(fd, "", dfd, name, AT_EMPTY_PATH) < 0 ? -errno : 0;
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ret = linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
	}
	close(fd);
	close(dfd);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		reply_new_entry(req, parent, name);
}

static void bfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_find(ino);
	struct statvfs sv;

	/* The store of the node asked about; an id forgotten already: the mount's. */
	if (fstatvfs((n ? n->conf : &bfs.conf)->st.state_fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/*
 * Extended attributes of an overlay file (SPEC 4.1): those of the file an
 * open writer will store, else of the stored file; a computed value has
 * none (reads find none, a change is EPERM as its chmod is). op as
 * ovl_fxattr; the result likewise.
 */
static int overlay_xattr(struct node *n, enum attr_xop op, const char *name, void *value,
			 size_t size, int flags)
{
	char ns[NAME_MAX + 1] = "", id[NAME_MAX + 1] = "";
	struct handle *writer = overlay_writer(n);
	int ret = node_bundle_names(n, ns, id);

	/* A writer serves it even when the name is gone. */
	if (ret == 0 || writer)
		ret = ovl_xattr(n->conf, n->ov, ns, id, writer ? writer->ovf : NULL, op, name,
				value, size, flags);
	if (writer)
		handle_unpin(writer);
	return ret;
}

/*
 * The extended attribute call op on node n: an overlay file's as core
 * decides, else the backing entry's, reached the one way (resolve.c).
 */
static int node_xattr(struct node *n, enum attr_xop op, const char *name, void *value, size_t size,
		      int flags)
{
	int fd, ret;

	if (n->kind == NK_OVERLAY)
		return overlay_xattr(n, op, name, value, size, flags);
	fd = resolve_open(n, O_PATH, NULL);
	if (fd < 0)
		return fd;
	ret = attr_xattr(fd, op, name, value, size, flags);
	close(fd);
	return ret;
}

/* getxattr (name) or listxattr (name NULL): a size query when size is 0. */
static void xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = NULL;
	int len;
	NODE_OR_STALE(req, ino, n);

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	len = node_xattr(n, name ? ATTR_XGET : ATTR_XLIST, name, buf, size, 0);
	if (len < 0)
		fuse_reply_err(req, -len);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)len);
	else
		fuse_reply_xattr(req, (size_t)len);
	free(buf);
}

static void bfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	xattr_read(req, ino, name, size);
}

static void bfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_read(req, ino, NULL, size);
}

/* setxattr (value non-NULL) or removexattr of name. */
static void xattr_change(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	NODE_OR_STALE(req, ino, n);

	REFUSE_IF_RO(req);
	reply_result(
	    req, node_xattr(n, value ? ATTR_XSET : ATTR_XREMOVE, name, (void *)value, size, flags));
}

static void bfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	/* A value of no bytes is still a value. */
	xattr_change(req, ino, name, value ? value : "", size, flags);
}

static void bfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	xattr_change(req, ino, name, NULL, 0, 0);
}

const struct fuse_lowlevel_ops bfs_ll_ops = {
    .init = bfs_init,
    .destroy = bfs_destroy,
    .lookup = bfs_lookup,
    .forget = bfs_forget,
    .forget_multi = bfs_forget_multi,
    .getattr = bfs_getattr,
    .setattr = bfs_setattr,
    .readlink = bfs_readlink,
    .mknod = bfs_mknod,
    .mkdir = bfs_mkdir,
    .unlink = bfs_unlink,
    .rmdir = bfs_rmdir,
    .symlink = bfs_symlink,
    .rename = bfs_rename,
    .link = bfs_link,
    .open = bfs_open,
    .read = bfs_read,
    .write = bfs_write,
    .flush = bfs_flush,
    .release = bfs_release,
    .fsync = bfs_fsync,
    .opendir = bfs_opendir,
    .readdir = bfs_readdir,
    .readdirplus = bfs_readdirplus,
    .releasedir = bfs_releasedir,
    .fsyncdir = bfs_fsyncdir,
    .statfs = bfs_statfs,
    .setxattr = bfs_setxattr,
    .getxattr = bfs_getxattr,
    .listxattr = bfs_listxattr,
    .removexattr = bfs_removexattr,
    .create = bfs_create,
    .fallocate = bfs_fallocate,
    .lseek = bfs_lseek,
};
