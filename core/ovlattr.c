/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attributes and extended attributes of overlay files (SPEC 4.1, 4.2):
 * through an open writer, on the file it will store, and of the stored
 * file; see overlay.h.
 */
#include "overlay.h"
#include "ovlfile.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store.h"

/* The handle's file for a change of its attributes: -EBADF unless it writes. */
static int attr_target(struct ovl_file *f)
{
	if (!f->writable)
		return -EBADF;
	return f->discard ? 0 : 1;
}

/* The stored regular file of f's kind, opened for reading (never followed), or -errno. */
static int open_stored(struct ovl_file *f)
{
	struct stat st;
	int bfd = store_open_bundle(&f->c->st, f->ns, f->id), fd;

	if (bfd < 0)
		return bfd;
	fd = store_open_regular(bfd, ovl_name(f->o), &st);
	close(bfd);
	return fd;
}

struct attr_change {
	enum { CH_MODE, CH_OWNER, CH_TIMES, CH_XSET, CH_XREMOVE } what;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const struct timespec *times;
	const char *name;
	const void *value;
	size_t size;
	int flags;
};

static int change_fd(int fd, const struct attr_change *ch)
{
	int ret;

	switch (ch->what) {
	case CH_MODE:
		ret = fchmod(fd, ch->mode & 07777);
		break;
	case CH_OWNER:
		ret = fchown(fd, ch->uid, ch->gid);
		break;
	case CH_TIMES:
		ret = futimens(fd, ch->times);
		break;
	case CH_XSET:
		ret = fsetxattr(fd, ch->name, ch->value, ch->size, ch->flags);
		break;
	default:
		ret = fremovexattr(fd, ch->name);
		break;
	}
	return ret < 0 ? -errno : 0;
}

/*
 * Apply a change to the file the handle will store and, while that is a
 * staging file, to the stored file as well: a chmod or a touch through an
 * open that writes nothing commits nothing, and the stored file shows it at
 * once either way. Caller holds lock.
 */
static int change(struct ovl_file *f, const struct attr_change *ch)
{
	int ret = change_fd(f->fd, ch), fd;

	if (ret < 0 || !f->staged)
		return ret;
	fd = open_stored(f);
	if (fd >= 0) {
		ret = change_fd(fd, ch);
		close(fd);
	}
	/* An attribute removed from the new file that the old one never had. */
	return ret == -ENODATA ? 0 : ret;
}

static int apply(struct ovl_file *f, const struct attr_change *ch)
{
	int ret = attr_target(f), fd;

	if (ret <= 0)
		return ret;
	pthread_mutex_lock(&f->lock);
	/*
	 * Nothing to commit and nothing stored (`touch` of a computed address):
	 * the computed value has no attributes of its own to change (SPEC 4.1).
	 */
	if (f->staged && !f->dirty) {
		fd = open_stored(f);
		if (fd < 0) {
			pthread_mutex_unlock(&f->lock);
			return fd == -ENOENT ? -EPERM : fd;
		}
		close(fd);
	}
	ret = change(f, ch);
	if (ret == 0 && ch->what == CH_OWNER) {
		struct stat st;

		/* What commit would otherwise give: the writer's owner, where not chosen. */
		if (fstat(f->fd, &st) == 0) {
			f->uid = st.st_uid;
			f->gid = st.st_gid;
		}
		f->owner_set = true;
	}
	/* An access ACL carries the mode bits (a trivial one is only a mode). */
	if (ret == 0 && (ch->what == CH_MODE ||
			 (ch->what == CH_XSET && !strcmp(ch->name, "system.posix_acl_access"))))
		f->mode_set = true;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/*
 * chmod, chown and utimens through an open writable handle, applied to the
 * file it will store (or has stored): a mode or owner chosen this way is
 * kept by the commit instead of 0644 and the writer. Times are the file's
 * own, and a rename keeps them. uid/gid (uid_t)-1/(gid_t)-1 leave that one;
 * times as futimens(2). A handle that drops its writes: 0, nothing to
 * change. -EBADF for a read-only open.
 */
static int ovl_fchmod(struct ovl_file *f, mode_t mode)
{
	struct attr_change ch = {.what = CH_MODE, .mode = mode};

	return apply(f, &ch);
}

static int ovl_fchown(struct ovl_file *f, uid_t uid, gid_t gid)
{
	struct attr_change ch = {.what = CH_OWNER, .uid = uid, .gid = gid};

	return apply(f, &ch);
}

static int ovl_futimens(struct ovl_file *f, const struct timespec times[2])
{
	struct attr_change ch = {.what = CH_TIMES, .times = times};

	return apply(f, &ch);
}

/*
 * Extended attributes through an open writable handle, on the file it will
 * store: as fgetxattr/flistxattr (a byte count), fsetxattr, fremovexattr
 * (0), or -errno. A handle that drops its writes keeps none: -ENODATA, 0
 * bytes, -EOPNOTSUPP. -EBADF for a read-only open.
 */
static int ovl_fxattr(struct ovl_file *f, enum attr_xop op, const char *name, void *value,
		      size_t size, int flags)
{
	struct attr_change ch = {.name = name, .value = value, .size = size, .flags = flags};
	ssize_t ret;
	int fd;

	if (!f->writable)
		return -EBADF;
	if (f->discard) {
		/* A computed file keeps no extended attributes. */
		if (op == ATTR_XGET)
			return -ENODATA;
		if (op == ATTR_XLIST)
			return 0;
		return -EOPNOTSUPP;
	}
	if (op == ATTR_XSET || op == ATTR_XREMOVE) {
		ch.what = op == ATTR_XSET ? CH_XSET : CH_XREMOVE;
		return apply(f, &ch);
	}
	/* What the file shows now: the stored one while it is there. */
	pthread_mutex_lock(&f->lock);
	fd = f->staged ? open_stored(f) : -ENOENT;
	if (op == ATTR_XGET)
		ret = fgetxattr(fd >= 0 ? fd : f->fd, name, value, size);
	else
		ret = flistxattr(fd >= 0 ? fd : f->fd, value, size);
	if (ret < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&f->lock);
	return (int)ret;
}

/*
 * An O_PATH descriptor of o's stored regular file in S/<ns>/<id>, reached
 * without following a symlink: -ENOENT when there is none (or the kind is
 * computed only), -errno.
 */
static int stored_fd(const struct bundle_conf *c, const struct ovl *o, const char *ns,
		     const char *id)
{
	struct stat st;
	int bfd, fd;

	if (!ovl_storable(o))
		return -ENOENT;
	bfd = store_open_bundle(&c->st, ns, id);
	if (bfd < 0)
		return bfd;
	fd = openat(bfd, ovl_name(o), O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fd = fd < 0 ? -errno : fd;
	close(bfd);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -ENOENT;
	}
	return fd;
}

/* The parts of a other than ATTR_SIZE through f: owner, mode, times in that order. */
static int ovl_fsetattr(struct ovl_file *f, const struct attr_set *a)
{
	int ret = 0;

	if (a->what & (ATTR_UID | ATTR_GID))
		ret = ovl_fchown(f, a->uid, a->gid);
	if (ret == 0 && (a->what & ATTR_MODE))
		ret = ovl_fchmod(f, a->mode);
	if (ret == 0 && (a->what & ATTR_TIMES))
		ret = ovl_futimens(f, a->times);
	return ret;
}

int ovl_setattr(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		struct ovl_file *own, struct ovl_file *writer, const struct attr_set *a, uid_t uid,
		gid_t gid)
{
	struct attr_set rest = *a;
	int ret, fd;

	if (a->what & ATTR_SIZE) {
		ret = own ? ovl_ftruncate(own, a->size)
			  : ovl_truncate(c, o, ns, id, a->size, uid, gid);
		if (ret < 0)
			return ret;
		rest.what &= ~(unsigned)ATTR_SIZE;
	}
	if (!rest.what)
		return 0;
	if (own && ovl_writes(own))
		return ovl_fsetattr(own, &rest);
	if (writer)
		return ovl_fsetattr(writer, &rest);
	fd = stored_fd(c, o, ns, id);
	if (fd < 0)
		return fd == -ENOENT ? -EPERM : fd;
	ret = attr_apply(fd, true, S_IFREG, &rest);
	close(fd);
	return ret;
}

int ovl_xattr(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	      struct ovl_file *writer, enum attr_xop op, const char *name, void *value, size_t size,
	      int flags)
{
	int ret, fd;

	if (writer)
		return ovl_fxattr(writer, op, name, value, size, flags);
	fd = stored_fd(c, o, ns, id);
	if (fd == -ENOENT)
		return op == ATTR_XGET ? -ENODATA : op == ATTR_XLIST ? 0 : -EPERM;
	if (fd < 0)
		return fd;
	ret = attr_xattr(fd, op, name, value, size, flags);
	close(fd);
	return ret;
}
