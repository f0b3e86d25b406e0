/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests on open files: open and create, read, write, flush, release,
 * fsync, fallocate, lseek. A passthrough handle holds the backing
 * descriptor, which stays usable once its names are gone (SPEC 4.6); an
 * overlay handle is core's ovl_file (overlay.h).
 *
 * O_DIRECT (SPEC 4.6) is the backing file's: an open that asks for it opens
 * the backing file with it (where the backing filesystem refuses it, the
 * open fails with its EINVAL). The kernel sends an O_DIRECT caller's reads
 * and writes past its page cache, with the caller's sizes and offsets, and
 * each request says whether the caller's file has O_DIRECT now (fi->flags:
 * fcntl may have changed it since the open); it is served by a descriptor
 * opened that way (file_fd), so it reaches the store unbuffered too, and a
 * misaligned one fails there with the backing filesystem's own EINVAL. The
 * daemon's buffers for such requests are aligned (libfuse's request
 * buffers are not), so that only the caller's sizes and offsets decide.
 * The handle is not direct_io: that would add nothing for O_DIRECT
 * requests and refuse a shared mapping of the file (ENODEV), which the
 * store allows.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creator.h"
#include "hold.h"
#include "lookup.h"
#include "resolve.h"
#include "ring.h"
#include "watch.h"

/* The alignment of the daemon's buffers for O_DIRECT requests: a page suits every device. */
#define DIO_ALIGN 4096

static inline struct handle *fh_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/*
 * Open n's backing file with flags, the one way (resolve.c): by its name,
 * checked to be n's inode, or through an open handle of the node when no
 * name is left. O_TRUNC is applied only after the check (and after the
 * backing filesystem accepted O_DIRECT, as an open of its own truncates
 * only then).
 */
static int open_backing(struct node *n, int flags)
{
	int fd = resolve_open(n, flags & ~(O_TRUNC | O_CREAT | O_EXCL | O_NOCTTY), NULL);
	int err;

	if (fd >= 0 && (flags & O_TRUNC) && ftruncate(fd, 0) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Open overlay file ov of the bundle of bundle_or_self. create: a FUSE
 * create, which makes the file again when the caller's process released
 * its name (hold.c).
 */
static int overlay_open(fuse_req_t req, struct node *bundle_or_self, const struct ovl *ov,
			struct fuse_file_info *fi, bool create, struct ovl_file **f)
{
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int ret = node_bundle_names(bundle_or_self, ns, id);
	unsigned int how = 0;

	if (ret < 0)
		return ret;
	if ((fi->flags & O_ACCMODE) != O_RDONLY && bfs.ro)
		return -EROFS;
	if (create)
		how = OVL_OPEN_CREATE |
		      (hold_take(req, HOLD_RELEASED, ns, id, ovl_name(ov)) ? OVL_OPEN_RELEASED : 0);
	ret = ovl_open(bundle_or_self->conf, ov, ns, id, fi->flags, how, ctx->uid, ctx->gid, f);
	if (ret < 0)
		return ret;
	/* Staged and per-open content: never from the page cache (see overlay_cache). */
	fi->direct_io = 1;
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
	return 0;
}

/* The largest content kept in the kernel's page cache (address, shim-config are far smaller). */
#define CACHE_MAX (64 * 1024)

/* FNV-1a of buf[0..len), never 0. */
static uint64_t digest(const char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ len;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

/*
 * A read-only open of address or shim-config (ovl_cacheable; SPEC 4.1) of
 * node n, handle h: read through the kernel's page cache, whose pages are
 * kept from one open to the next while the content is the same. The open
 * took its snapshot (overlay.h); when that differs from what the kernel's
 * pages hold (node_content_open), the open drops them (no keep_cache) and
 * the cached attributes, whose size may be the old one. So a change through
 * the mount is seen by the next open; the watcher also drops the pages (and
 * attributes) of a change beside the mount when it happens (watch.c), for
 * the files open then. The attribute notification takes no page lock: safe
 * in a request handler (file.c's overlay_committed).
 */
static void overlay_cache(struct node *n, struct handle *h, struct fuse_file_info *fi)
{
	struct stat st;
	ssize_t len;
	char *buf;

	if ((fi->flags & (O_ACCMODE | O_TRUNC)) != O_RDONLY || !ovl_cacheable(n->ov))
		return;
	if (ovl_fstat(h->ovf, &st) < 0 || st.st_size > CACHE_MAX ||
	    !(buf = malloc((size_t)st.st_size + 1)))
		return;
	/* One byte more than its size: a snapshot that is longer is not taken for it. */
	len = ovl_read(h->ovf, buf, (size_t)st.st_size + 1, 0);
	if (len >= 0 && len == st.st_size) {
		h->digest = digest(buf, (size_t)len);
		fi->direct_io = 0;
		fi->keep_cache = node_content_open(n, h->digest);
		if (!fi->keep_cache && bfs.se)
			fuse_lowlevel_notify_inval_inode(bfs.se, n->id, -1, 0);
	}
	free(buf);
}

/*
 * H_FILE handle h takes the backing descriptor fd an open made (or its
 * -errno, returned): O_DIRECT as the open asked, and nothing to do at close,
 * which spares the kernel the FLUSH.
 */
static int handle_backing(struct handle *h, struct fuse_file_info *fi, int fd)
{
	h->fd = fd;
	h->direct = fi->flags & O_DIRECT;
	fi->noflush = 1;
	return fd;
}

void bfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h;
	int ret;
	struct node *n = node_or_reply(req, ino);

	if (!n)
		return;

	if (n->kind != NK_OVERLAY && bfs.ro &&
	    ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
		fuse_reply_err(req, EROFS);
		return;
	}
	h = handle_new(n->kind == NK_OVERLAY ? H_OVERLAY : H_FILE);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (n->kind == NK_OVERLAY) {
		ret = overlay_open(req, n, n->ov, fi, false, &h->ovf);
		if (ret == 0)
			overlay_cache(n, h, fi);
	} else {
		ret = handle_backing(h, fi, open_backing(n, fi->flags));
	}
	if (ret < 0) {
		free(h);
		fuse_reply_err(req, -ret);
		return;
	}
	node_handle_add(n, h);
	if (h->kind == H_FILE && (fi->flags & O_TRUNC))
		watch_written(n);
	fi->fh = (uintptr_t)h;
	/* An opener interrupted meanwhile gets no file: no release will come. */
	if (fuse_reply_open(req, fi) == -ENOENT && node_handle_release(h))
		handle_free(h);
}

/*
 * Create parent/name with O_CREAT semantics; the new file is owned by the
 * caller. Where the backing filesystem refuses O_DIRECT the call fails with
 * its EINVAL and changes nothing: a file it made is removed again (an
 * open(2) on the store itself leaves it, empty, which the kernel's cached
 * negative entry would hide), an existing one is not truncated.
 */
static int create_backing(fuse_req_t req, struct node *parent, const char *name, mode_t mode,
			  int flags, struct stat *st)
{
	int dfd, fd, ret;

	flags &= ~O_NOCTTY;
	dfd = resolve_open(parent, O_PATH | O_DIRECTORY, NULL);
	if (dfd < 0)
		return dfd;
	mode = creator_mode(req, dfd, mode);
	/* Only a file this call makes gets the caller as owner. */
	fd = openat(dfd, name, (flags & ~O_DIRECT) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    mode);
	if (fd >= 0) {
		ret = creator_own_fd(req, parent->conf, dfd, fd, mode);
		if (ret < 0) {
			close(fd);
			unlinkat(dfd, name, 0);
			fd = ret;
		} else if ((flags & O_DIRECT) &&
			   fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_DIRECT) < 0) {
			ret = -errno;
			close(fd);
			unlinkat(dfd, name, 0);
			fd = ret;
		}
	} else if (errno == EEXIST && !(flags & O_EXCL)) {
		fd = openat(dfd, name, (flags & ~O_CREAT) | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	} else {
		fd = -errno;
	}
	close(dfd);
	if (fd >= 0 && fstat(fd, st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

void bfs_create(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode,
		struct fuse_file_info *fi)
{
	unsigned epoch = watch_epoch();
	struct fuse_entry_param e;
	const struct ovl *ov;
	enum node_kind kind;
	bool created;
	struct handle *h;
	struct node *n;
	struct stat st;
	int ret;
	struct node *parent = node_or_reply(req, pino);

	if (!parent || refused_ro(req))
		return;
	if (strlen(name) > NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	kind = node_child_kind(parent, name, &ov);
	if (kind != NK_INSIDE && kind != NK_OVERLAY) {
		fuse_reply_err(req, EPERM);
		return;
	}
	h = handle_new(kind == NK_OVERLAY ? H_OVERLAY : H_FILE);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (kind == NK_OVERLAY) {
		ret = overlay_open(req, parent, ov, fi, true, &h->ovf);
		if (ret == 0 && (ret = ovl_fstat(h->ovf, &st)) < 0)
			ovl_release(h->ovf);
	} else {
		ret =
		    handle_backing(h, fi, create_backing(req, parent, name, mode, fi->flags, &st));
	}
	if (ret < 0) {
		free(h);
		fuse_reply_err(req, -ret);
		return;
	}
	n = node_attach(parent, name, kind, &st, ov, &created);
	if (!n) {
		handle_free(h);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	node_handle_add(n, h);
	if (kind == NK_INSIDE)
		watch_changed(parent, name);
	lookup_fill(&e, parent, n, &st, epoch);
	/*
	 * An overlay file's attributes are asked for at each use, but the open
	 * that made it checks its permission at once (may_open): the ones just
	 * read serve that, not a GETATTR. Every commit drops them (overlay_committed).
	 */
	if (kind == NK_OVERLAY && e.attr_timeout == 0)
		e.attr_timeout = BFS_CREATED_ATTR_TIMEOUT;
	fi->fh = (uintptr_t)h;
	ring_note_file(e.ino);
	fuse_reply_create(req, &e, fi);
}

/*
 * The descriptor of H_FILE handle h for a request whose caller's file has
 * flags now: h->fd, or, when the caller turned O_DIRECT on or off since the
 * open (fcntl; GNU dd does so for a short last block), the backing file
 * opened that way, once, through h->fd (the very inode). -errno when the
 * backing filesystem refuses O_DIRECT.
 */
static int file_fd(struct handle *h, int flags)
{
	int fd, fl, none = -1;
	bool direct = flags & O_DIRECT;
	char proc[64];

	if (direct == h->direct)
		return h->fd;
	fd = __atomic_load_n(&h->fd_other, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	fl = fcntl(h->fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fl &= O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC | O_NOATIME;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", h->fd);
	fd = open(proc, fl | (direct ? O_DIRECT : 0) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A request that raced this one may have opened it first: use that one. */
	if (!__atomic_compare_exchange_n(&h->fd_other, &none, fd, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		close(fd);
		fd = none;
	}
	return fd;
}

/* A read for an O_DIRECT caller: into an aligned buffer of the daemon's, then replied. */
static void read_direct(fuse_req_t req, int fd, size_t size, off_t off)
{
	void *buf;
	ssize_t n;

	if (posix_memalign(&buf, DIO_ALIGN, size ? size : 1) != 0) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pread(fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void bfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	ssize_t n;
	char *buf;
	int fd;

	(void)ino;
	if (h->kind == H_FILE) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		fd = file_fd(h, fi->flags);
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
		if (fi->flags & O_DIRECT) {
			read_direct(req, fd, size, off);
			return;
		}
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = off;
		/* A request of the ring is answered in its entry: no splice to /dev/fuse. */
		fuse_reply_data(req, &bv,
				ring_serving() ? FUSE_BUF_NO_SPLICE : FUSE_BUF_SPLICE_MOVE);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = ovl_read(h->ovf, buf, size, off);
	/* Into the kernel's pages: the next open drops them if that is old content. */
	if (n >= 0 && h->digest)
		node_content_read(h->node, h->digest);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/*
 * Write to a backing descriptor: what pwrite wrote, or -errno. For an
 * O_DIRECT caller from an aligned copy when buf (inside libfuse's request
 * buffer) is not aligned.
 */
static ssize_t write_backing(int fd, const char *buf, size_t size, off_t off, bool direct)
{
	void *copy = NULL;
	ssize_t n;

	if (direct && ((uintptr_t)buf & (DIO_ALIGN - 1))) {
		if (posix_memalign(&copy, DIO_ALIGN, size ? size : 1) != 0)
			return -ENOMEM;
		memcpy(copy, buf, size);
		buf = copy;
	}
	n = pwrite(fd, buf, size, off);
	if (n < 0)
		n = -errno;
	free(copy);
	return n;
}

void bfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	ssize_t n;
	int fd;

	(void)ino;
	if (h->kind == H_FILE) {
		fd = file_fd(h, fi->flags);
		n = fd < 0 ? fd : write_backing(fd, buf, size, off, fi->flags & O_DIRECT);
		if (n > 0)
			watch_written(h->node);
	} else {
		n = ovl_write(h->ovf, buf, size, off);
	}
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/*
 * A commit of an overlay file changed its bundle directory (mtime, and for
 * config.json perhaps its group and mode: SPEC 4.2) behind the kernel's
 * back: drop the directory's cached attributes. Attributes only (a negative
 * offset): no page of the directory is touched, so this cannot wait on a
 * request about it; flush and release are not among the requests
 * fuse_lowlevel.h names as deadlocking for the directory either.
 */
static fuse_ino_t overlay_dir(struct handle *h)
{
	/* The handle's own mode: a FLUSH carries no open flags (fi->flags is 0). */
	if (h->kind != H_OVERLAY || !ovl_writes(h->ovf))
		return 0;
	return node_parent_id(h->node);
}

/*
 * ... and of the file itself (cached briefly after its create: bfs_create),
 * and of the address and shim-config computed from it (watch_changed).
 */
static void overlay_committed(fuse_ino_t dir, fuse_ino_t file, const struct bundle_conf *c,
			      const struct ovl *ov)
{
	if (dir && bfs.se) {
		fuse_lowlevel_notify_inval_inode(bfs.se, dir, -1, 0);
		fuse_lowlevel_notify_inval_inode(bfs.se, file, -1, 0);
		watch_changed_id(dir, c, ovl_name(ov));
	}
}

void bfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	int ret = 0;

	(void)ino;
	if (h->kind == H_OVERLAY) {
		ret = ovl_flush(h->ovf);
		if (ret == 0)
			overlay_committed(overlay_dir(h), h->node->id, h->node->conf, h->node->ov);
	}
	fuse_reply_err(req, -ret);
}

void bfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	fuse_ino_t dir = overlay_dir(h), file = h->node->id;
	/* Its store and kind outlive the node (conf.h, kinds.h). */
	const struct bundle_conf *c = h->node->conf;
	const struct ovl *ov = h->node->ov;

	(void)ino;
	/* Nothing to tell the kernel when flush committed it all. */
	if (dir && !ovl_pending(h->ovf))
		dir = 0;
	/* The last close commits what flush left pending. */
	if (node_handle_release(h))
		handle_free(h);
	overlay_committed(dir, file, c, ov);
	fuse_reply_err(req, 0);
}

void bfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	int ret;

	(void)ino;
	if (h->kind == H_OVERLAY)
		ret = ovl_fsync(h->ovf, datasync);
	else
		ret = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno : 0;
	fuse_reply_err(req, -ret);
}

void bfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		   struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	if (h->kind != H_FILE) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (fallocate(h->fd, mode, off, len) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	watch_written(h->node);
	fuse_reply_err(req, 0);
}

void bfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	struct stat st;
	off_t res;
	int ret;

	(void)ino;
	if (h->kind == H_FILE) {
		res = lseek(h->fd, off, whence);
		if (res < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_lseek(req, res);
		return;
	}
	/* Overlay content has no holes: data up to its size. */
	ret = ovl_fstat(h->ovf, &st);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (off < 0 || off >= st.st_size)
		fuse_reply_err(req, ENXIO);
	else
		fuse_reply_lseek(req, whence == SEEK_DATA ? off : st.st_size);
}
