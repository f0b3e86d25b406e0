/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VFS operations onto the backing store.
 *
 * Every path is resolved below the state root's descriptor without following
 * symlinks (store_get_parent + *at(..., AT_SYMLINK_NOFOLLOW)); no descriptor
 * outlives the request except an open file's. The tree's special places are
 * decided by loc_parse from the path alone:
 *   depth 1: namespaces (mkdir/rmdir: 3.1), depth 2: bundles (3.2, 4.7),
 *   depth 3 in a bundle: the overlay files (overlay.c), anything else: the
 *   backing entry itself (4.6).
 */
#include "bfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "ident.h"
#include "log.h"

int loc_parse(const char *path, struct loc *l)
{
	const char *p, *slash;
	size_t n;

	memset(l, 0, sizeof(*l));
	l->rel = path[0] == '/' ? path + 1 : path;
	if (!*l->rel) {
		l->kind = LOC_ROOT;
		return 0;
	}
	for (p = l->rel; p; p = slash ? slash + 1 : NULL) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		if (l->depth == 0)
			memcpy(l->ns, p, n);
		else if (l->depth == 1)
			memcpy(l->id, p, n);
		l->depth++;
	}
	if (l->depth == 1) {
		l->kind = LOC_NS;
	} else if (l->ns[0] == '.') {
		l->kind = LOC_INSIDE; /* not a namespace: plain entries */
	} else if (l->depth == 2) {
		l->kind = LOC_NSENTRY;
	} else {
		l->kind = LOC_INSIDE;
		if (l->id[0] != '.' && l->depth == 3)
			l->ov = overlay_find(strrchr(l->rel, '/') + 1);
	}
	return 0;
}

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bfs_file *registry; /* protected by registry_lock */

void bfs_file_register(struct bfs_file *fh)
{
	pthread_mutex_lock(&registry_lock);
	fh->prev = NULL;
	fh->next = registry;
	if (registry)
		registry->prev = fh;
	registry = fh;
	pthread_mutex_unlock(&registry_lock);
}

void bfs_file_unregister(struct bfs_file *fh)
{
	pthread_mutex_lock(&registry_lock);
	if (fh->prev)
		fh->prev->next = fh->next;
	else if (registry == fh)
		registry = fh->next;
	if (fh->next)
		fh->next->prev = fh->prev;
	fh->prev = fh->next = NULL;
	pthread_mutex_unlock(&registry_lock);
}

static void pass_free(struct bfs_file *fh)
{
	bfs_file_unregister(fh);
	close(fh->fd);
	free(fh);
}

void bfs_file_release_all(void)
{
	/* After the loop has ended: no request runs any more. */
	while (registry) {
		struct bfs_file *fh = registry;

		if (fh->ov) {
			/* Never closed by its caller: as after a crash, nothing is stored. */
			fh->dirty = false;
			overlay_release(fh);
		} else {
			pass_free(fh);
		}
	}
}

/* Whether entries the daemon creates need a chown to belong to own. */
static bool owner_differs(const struct store_owner *own)
{
	return (own->uid != (uid_t)-1 && own->uid != bfs.euid) ||
	       (own->gid != (gid_t)-1 && own->gid != bfs.egid);
}

void bfs_owner(struct store_owner *own)
{
	struct fuse_context *ctx = fuse_get_context();

	own->uid = ctx->uid;
	own->gid = ctx->gid;
	own->chown = bfs.is_root && owner_differs(own);
}

/*
 * The owner a new entry in dirfd gets: the caller, except that in a setgid
 * directory the group stays the directory's, as the kernel gave it.
 */
static bool new_owner(int dirfd, struct store_owner *own)
{
	struct stat dir;

	bfs_owner(own);
	if (!own->chown)
		return false;
	if (fstat(dirfd, &dir) == 0 && (dir.st_mode & S_ISGID)) {
		own->gid = (gid_t)-1;
		own->chown = owner_differs(own);
	}
	return own->chown;
}

/*
 * Give a new entry the caller's owner (SPEC 4.6), or remove it again. A
 * chown clears the set-id bits of a regular file: they are put back, since
 * the caller asked for them at creation.
 */
static int own_new(int dirfd, const char *name, bool is_dir, mode_t mode)
{
	struct store_owner own;
	int err;

	if (!new_owner(dirfd, &own))
		return 0;
	if (fchownat(dirfd, name, own.uid, own.gid, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (is_dir || !(mode & (S_ISUID | S_ISGID)) ||
	     fchmodat(dirfd, name, mode & 07777, AT_SYMLINK_NOFOLLOW) == 0))
		return 0;
	err = -errno;
	unlinkat(dirfd, name, is_dir ? AT_REMOVEDIR : 0);
	return err;
}

/* The parent directory of a path's last component, opened for *at() calls. */
struct at {
	int fd;
	const char *base;
	bool is_root;
};

static int at_get(const struct loc *l, struct at *at)
{
	at->fd = store_get_parent(bfs.st.state_fd, l->rel, &at->base, &at->is_root);
	return at->fd < 0 ? at->fd : 0;
}

static void at_put(struct at *at)
{
	store_put_parent(at->fd, at->is_root);
}

/* Both parents of a two-path operation (rename, link): 0 or -errno. */
static int at_get2(const struct loc *a, const struct loc *b, struct at *ata, struct at *atb)
{
	int ret = at_get(a, ata);

	if (ret < 0)
		return ret;
	ret = at_get(b, atb);
	if (ret < 0)
		at_put(ata);
	return ret;
}

/*
 * Evaluate `expr` with `at` bound to the parent directory of the entry l
 * names (at.fd, at.base). AT_SYS takes a system call (-1 and errno on
 * failure), AT_RET an expression worth 0 or -errno. Both give 0 or -errno;
 * errno is read before the descriptor is closed.
 */
#define AT_RET(l, expr)                                                                            \
	({                                                                                         \
		struct at at;                                                                      \
		int _r = at_get(l, &at);                                                           \
		if (_r == 0) {                                                                     \
			_r = (expr);                                                               \
			at_put(&at);                                                               \
		}                                                                                  \
		_r;                                                                                \
	})
#define AT_SYS(l, call) AT_RET(l, (call) < 0 ? -errno : 0)

#define PARSE(path, l)                                                                             \
	do {                                                                                       \
		int _r = loc_parse(path, &(l));                                                    \
		if (_r < 0)                                                                        \
			return _r;                                                                 \
	} while (0)

/* A change where only mkdir/rmdir/rename have meaning (SPEC 3): refuse. */
static bool structural(const struct loc *l)
{
	return l->kind != LOC_INSIDE;
}

static int bfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct bfs_file *fh = fi ? bfs_fh(fi) : NULL;
	struct loc l;

	PARSE(path, l);
	if (l.ov)
		return overlay_getattr(&l, st, fh);
	if (fh)
		return fstat(fh->fd, st) < 0 ? -errno : 0;
	if (l.kind == LOC_ROOT)
		return fstat(bfs.st.state_fd, st) < 0 ? -errno : 0;
	return AT_SYS(&l, fstatat(at.fd, at.base, st, AT_SYMLINK_NOFOLLOW));
}

static int bfs_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = 0;
	struct loc l;
	int ret;

	PARSE(path, l);
	if (l.kind == LOC_ROOT || size == 0)
		return -EINVAL;
	ret = AT_SYS(&l, n = readlinkat(at.fd, at.base, buf, size - 1));
	if (ret == 0)
		buf[n] = '\0';
	return ret;
}

static int bfs_mkdir(const char *path, mode_t mode)
{
	struct store_owner own;
	struct loc l;

	PARSE(path, l);
	if (bfs.ro)
		return -EROFS;
	bfs_owner(&own);
	switch (l.kind) {
	case LOC_ROOT:
		return -EEXIST;
	case LOC_NS:
		if (ident_validate(l.ns) < 0)
			return -EINVAL;
		return store_ns_create(&bfs.st, l.ns, &own);
	case LOC_NSENTRY:
		if (ident_validate(l.id) < 0)
			return -EINVAL;
		return store_bundle_create(&bfs.st, l.ns, l.id, &own);
	default:
		break;
	}
	if (l.ov)
		return -EEXIST;
	return AT_RET(&l, mkdirat(at.fd, at.base, mode) < 0 ? -errno
							    : own_new(at.fd, at.base, true, mode));
}

static int bfs_rmdir(const char *path)
{
	struct store_delete_ctx ctx = {bfs.socket_root, bfs.mountpoint};
	struct loc l;

	PARSE(path, l);
	if (bfs.ro)
		return -EROFS;
	if (l.kind == LOC_ROOT)
		return -EBUSY;
	if (l.kind == LOC_NS && l.ns[0] != '.')
		return store_ns_remove(&bfs.st, l.ns);
	if (l.kind == LOC_NSENTRY)
		return store_bundle_delete(&bfs.st, l.ns, l.id, &ctx);
	if (l.ov)
		return -ENOTDIR;
	return AT_SYS(&l, unlinkat(at.fd, at.base, AT_REMOVEDIR));
}

static int bfs_unlink(const char *path)
{
	struct loc l;

	PARSE(path, l);
	if (bfs.ro)
		return -EROFS;
	if (l.kind == LOC_ROOT)
		return -EISDIR;
	if (l.ov)
		return overlay_unlink(&l);
	return AT_SYS(&l, unlinkat(at.fd, at.base, 0));
}

/* New entries other than directories live inside bundles (and hidden trees). */
static int may_create(const struct loc *l)
{
	if (bfs.ro)
		return -EROFS;
	if (structural(l) || l->ov)
		return -EPERM;
	return 0;
}

static int bfs_symlink(const char *target, const char *path)
{
	struct loc l;
	int ret;

	PARSE(path, l);
	ret = may_create(&l);
	if (ret < 0)
		return ret;
	return AT_RET(
	    &l, symlinkat(target, at.fd, at.base) < 0 ? -errno : own_new(at.fd, at.base, false, 0));
}

static int bfs_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct loc l;
	int ret;

	PARSE(path, l);
	ret = may_create(&l);
	if (ret < 0)
		return ret;
	/* FIFOs, sockets and plain files; device nodes have no place in a bundle. */
	if (!S_ISFIFO(mode) && !S_ISREG(mode) && !S_ISSOCK(mode))
		return -EPERM;
	return AT_RET(&l, mknodat(at.fd, at.base, mode, rdev) < 0
			      ? -errno
			      : own_new(at.fd, at.base, false, mode));
}

/* Renames within one bundle, and the bundle -> hidden name of atomic deletes. */
static int rename_allowed(const struct loc *from, const struct loc *to)
{
	if (from->kind == LOC_NSENTRY || to->kind == LOC_NSENTRY) {
		if (from->kind == LOC_NSENTRY && to->kind == LOC_NSENTRY &&
		    !strcmp(from->ns, to->ns) && to->id[0] == '.')
			return 0;
		return -EPERM;
	}
	if (structural(from) || structural(to))
		return -EPERM;
	if (strcmp(from->ns, to->ns) || strcmp(from->id, to->id))
		return -EXDEV;
	if (from->ov && !overlay_may_rename_from(from->ov))
		return -EPERM;
	return 0;
}

static int bfs_rename(const char *from, const char *to, unsigned int flags)
{
	struct at af, at;
	struct loc lf, lt;
	int ret;

	PARSE(from, lf);
	PARSE(to, lt);
	if (bfs.ro)
		return -EROFS;
	ret = rename_allowed(&lf, &lt);
	if (ret < 0)
		return ret;
	if (flags & RENAME_EXCHANGE && (lf.ov || lt.ov))
		return -EPERM;
	if (lf.kind == LOC_NSENTRY)
		return store_bundle_hide(&bfs.st, lf.ns, lf.id, lt.id, flags);
	ret = at_get2(&lf, &lt, &af, &at);
	if (ret < 0)
		return ret;
	if (lt.ov)
		ret = overlay_rename_onto(&lt, af.fd, af.base, at.fd, flags);
	else if (renameat2(af.fd, af.base, at.fd, at.base, flags) < 0)
		ret = -errno;
	at_put(&at);
	at_put(&af);
	return ret;
}

static int bfs_link(const char *from, const char *to)
{
	struct at af, at;
	struct loc lf, lt;
	int ret;

	PARSE(from, lf);
	PARSE(to, lt);
	ret = may_create(&lt);
	if (ret < 0)
		return ret;
	if (structural(&lf) || lf.ov)
		return -EPERM;
	if (strcmp(lf.ns, lt.ns) || strcmp(lf.id, lt.id))
		return -EXDEV;
	ret = at_get2(&lf, &lt, &af, &at);
	if (ret < 0)
		return ret;
	ret = linkat(af.fd, af.base, at.fd, at.base, 0) < 0 ? -errno : 0;
	at_put(&at);
	at_put(&af);
	return ret;
}

/* Attribute changes of overlay files reach only what is stored. */
static int setattr_check(const struct loc *l)
{
	if (bfs.ro)
		return -EROFS;
	if (!l->ov)
		return 0;
	if (!overlay_may_setattr(l->ov))
		return -EPERM;
	/* A computed value has no attributes of its own to change. */
	if (overlay_is_virtual(l->ov) && !overlay_stored(l))
		return -EPERM;
	return 0;
}

/* One attribute change: chmod, chown or utimens. */
struct attr_change {
	enum { ATTR_MODE, ATTR_OWNER, ATTR_TIMES } what;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const struct timespec *tv;
};

/*
 * Apply c to dirfd/name without following a symlink, or with name "" to the
 * file dirfd itself (an open file, or the state root for times).
 */
static int attr_apply(int dirfd, const char *name, const struct attr_change *c)
{
	int flags = *name ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH, r;

	switch (c->what) {
	case ATTR_MODE:
		/* glibc implements AT_SYMLINK_NOFOLLOW through an O_PATH descriptor. */
		r = *name ? fchmodat(dirfd, name, c->mode, flags) : fchmod(dirfd, c->mode);
		break;
	case ATTR_OWNER:
		r = fchownat(dirfd, name, c->uid, c->gid, flags);
		break;
	default:
		r = utimensat(dirfd, name, c->tv, flags);
		break;
	}
	return r < 0 ? -errno : 0;
}

static int set_attr(const char *path, struct fuse_file_info *fi, const struct attr_change *c)
{
	struct loc l;
	int ret;

	PARSE(path, l);
	ret = setattr_check(&l);
	if (ret < 0)
		return ret;
	if (fi && !bfs_fh(fi)->ov)
		return attr_apply(bfs_fh(fi)->fd, "", c);
	if (l.kind == LOC_ROOT)
		return c->what == ATTR_TIMES ? attr_apply(bfs.st.state_fd, "", c) : -EPERM;
	return AT_RET(&l, attr_apply(at.fd, at.base, c));
}

static int bfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct attr_change c = {.what = ATTR_MODE, .mode = mode};

	return set_attr(path, fi, &c);
}

static int bfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct attr_change c = {.what = ATTR_OWNER, .uid = uid, .gid = gid};

	return set_attr(path, fi, &c);
}

static int bfs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct attr_change c = {.what = ATTR_TIMES, .tv = tv};

	return set_attr(path, fi, &c);
}

static int bfs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct bfs_file *fh = fi ? bfs_fh(fi) : NULL;
	struct loc l;
	int fd, ret;

	PARSE(path, l);
	if (bfs.ro)
		return -EROFS;
	if (l.ov)
		return overlay_truncate(&l, size, fh);
	if (fh)
		return ftruncate(fh->fd, size) < 0 ? -errno : 0;
	if (l.kind == LOC_ROOT)
		return -EISDIR;
	fd = store_open_beneath(bfs.st.state_fd, l.rel, O_WRONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return fd;
	ret = ftruncate(fd, size) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int pass_open(const struct loc *l, struct fuse_file_info *fi, bool create, mode_t mode)
{
	struct bfs_file *fh;
	struct at at;
	int fd, flags;

	if (bfs.ro && ((fi->flags & O_ACCMODE) != O_RDONLY || create || (fi->flags & O_TRUNC)))
		return -EROFS;
	if (create) {
		int ret = may_create(l);

		if (ret < 0)
			return ret;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	flags = fi->flags & ~(O_NOCTTY | O_DIRECT);
	if (!create)
		flags &= ~(O_CREAT | O_EXCL);
	fd = at_get(l, &at);
	if (fd < 0) {
		free(fh);
		return fd;
	}
	fd = openat(at.fd, at.base, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		fd = -errno;
	} else if (create) {
		struct store_owner own;

		if (new_owner(at.fd, &own) &&
		    (fchown(fd, own.uid, own.gid) < 0 ||
		     ((mode & (S_ISUID | S_ISGID)) && fchmod(fd, mode & 07777) < 0))) {
			int err = -errno;

			close(fd);
			unlinkat(at.fd, at.base, 0);
			fd = err;
		}
	}
	at_put(&at);
	if (fd < 0) {
		free(fh);
		return fd;
	}
	fh->fd = fd;
	bfs_file_register(fh);
	fi->fh = (uintptr_t)fh;
	/*
	 * Each name of a hard-linked file is its own inode to the kernel, whose
	 * cached size may lag a write made through another name: read such
	 * files past the page cache, so no byte is ever missing.
	 */
	{
		struct stat st;

		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1)
			fi->direct_io = 1;
	}
	/* Nothing to do at close for a backing file: spare the kernel the FLUSH. */
	fi->noflush = 1;
	return 0;
}

static int bfs_open(const char *path, struct fuse_file_info *fi)
{
	struct loc l;

	PARSE(path, l);
	if (l.ov)
		return overlay_open(&l, fi, false, 0);
	if (l.kind == LOC_ROOT)
		return -EISDIR;
	/* Files beside namespaces and bundles (leftovers) are entries like any other. */
	return pass_open(&l, fi, false, 0);
}

static int bfs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct loc l;

	PARSE(path, l);
	if (l.ov) {
		if (bfs.ro)
			return -EROFS;
		return overlay_open(&l, fi, true, mode);
	}
	return pass_open(&l, fi, true, mode);
}

static int bfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct bfs_file *fh = bfs_fh(fi);
	ssize_t n;

	(void)path;
	if (fh->ov)
		return overlay_read(fh, buf, size, off);
	n = pread(fh->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int bfs_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct bfs_file *fh = bfs_fh(fi);
	ssize_t n;

	(void)path;
	if (fh->ov)
		return overlay_write(fh, buf, size, off);
	n = pwrite(fh->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int bfs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return fstatvfs(bfs.st.state_fd, sv) < 0 ? -errno : 0;
}

static int bfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct bfs_file *fh = bfs_fh(fi);

	return fh->ov ? overlay_flush(fh, path) : 0;
}

static int bfs_release(const char *path, struct fuse_file_info *fi)
{
	struct bfs_file *fh = bfs_fh(fi);

	(void)path;
	if (fh->ov) {
		overlay_release(fh);
		return 0;
	}
	pass_free(fh);
	return 0;
}

static int bfs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct bfs_file *fh = bfs_fh(fi);

	(void)path;
	if (fh->ov)
		return overlay_fsync(fh, datasync);
	return (datasync ? fdatasync(fh->fd) : fsync(fh->fd)) < 0 ? -errno : 0;
}

/*
 * Files here are always ready, as on the backing file system. Implemented so
 * that the poll handle the library allocates for a waiting caller is freed.
 */
static int bfs_poll(const char *path, struct fuse_file_info *fi, struct fuse_pollhandle *ph,
		    unsigned *reventsp)
{
	(void)path;
	(void)fi;
	if (ph)
		fuse_pollhandle_destroy(ph);
	*reventsp = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
	return 0;
}

/*
 * An open directory: its descriptor and the entries read from it that have
 * not gone out yet (a READDIR reply is full before a getdents64 chunk is).
 */
struct bfs_dir {
	int fd;
	off_t next; /* the offset the kernel asks for to get ents[at] */
	size_t len; /* bytes of dirent64 records in ents */
	size_t at;  /* the first record not yet sent */
	char ents[8192];
};

static inline struct bfs_dir *bfs_dir(struct fuse_file_info *fi)
{
	return (struct bfs_dir *)(uintptr_t)fi->fh;
}

static int bfs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct bfs_dir *d;
	struct loc l;
	int fd;

	PARSE(path, l);
	if (l.ov)
		return -ENOTDIR;
	fd = store_open_beneath(bfs.st.state_fd, l.rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	d = malloc(sizeof(*d));
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	d->fd = fd;
	d->next = 0;
	d->len = d->at = 0;
	fi->fh = (uintptr_t)d;
	return 0;
}

/*
 * A namespace or the root may hold 100,000 entries: list them with the
 * directory's own offsets (getdents64's d_off). Each request continues from
 * the records left over from the last one; only a request for another
 * offset (a seekdir, a rewind) moves the descriptor, so ext4 never rebuilds
 * its hash-order cursor in a plain listing. With plus (READDIRPLUS, which
 * the kernel asks for when a listing is followed by lookups, as in ls -l),
 * entries carry their attributes and need no LOOKUP of their own.
 */
static int readdir_offsets(struct bfs_dir *d, void *buf, fuse_fill_dir_t filler, off_t off,
			   bool plus)
{
	if (off != d->next || d->at > d->len) {
		if (lseek(d->fd, off, SEEK_SET) < 0)
			return -errno;
		d->next = off;
		d->len = d->at = 0;
	}
	for (;;) {
		if (d->at == d->len) {
			ssize_t n = getdents64(d->fd, d->ents, sizeof(d->ents));

			if (n < 0) {
				d->at = d->len + 1; /* unknown position: seek next time */
				return -errno;
			}
			d->len = (size_t)n;
			d->at = 0;
			if (n == 0)
				return 0;
		}
		struct dirent64 *de = (struct dirent64 *)(d->ents + d->at);
		struct stat st = {.st_ino = de->d_ino, .st_mode = (mode_t)DTTOIF(de->d_type)};
		enum fuse_fill_dir_flags fill = 0;

		if (plus && fstatat(d->fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			fill = FUSE_FILL_DIR_PLUS;
		if (filler(buf, de->d_name, &st, de->d_off, fill))
			return 0; /* the reply is full: this record goes out next time */
		d->at += de->d_reclen;
		d->next = de->d_off;
	}
}

static int readdir_bundle(int fd, void *buf, fuse_fill_dir_t filler)
{
	bool have_address = false, have_shimcfg = false;
	char dents[32768];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while ((n = getdents64(fd, dents, sizeof(dents))) > 0) {
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *de = (struct dirent64 *)(dents + pos);
			struct stat st = {.st_ino = de->d_ino,
					  .st_mode = (mode_t)DTTOIF(de->d_type)};
			const struct overlay *ov = overlay_find(de->d_name);

			pos += de->d_reclen;
			if (ov && !overlay_listed(ov, fd, de->d_name, de->d_type))
				continue;
			if (!strcmp(de->d_name, "address"))
				have_address = true;
			else if (!strcmp(de->d_name, "shim-config"))
				have_shimcfg = true;
			if (filler(buf, de->d_name, &st, 0, 0))
				return 0;
		}
	}
	if (n < 0)
		return -errno;
	if (!have_address)
		filler(buf, "address", NULL, 0, 0);
	if (!have_shimcfg)
		filler(buf, "shim-config", NULL, 0, 0);
	return 0;
}

static int bfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct loc l;

	PARSE(path, l);
	if (l.kind == LOC_NSENTRY && l.id[0] != '.') {
		bfs_dir(fi)->at = bfs_dir(fi)->len + 1; /* moved: seek next time */
		return readdir_bundle(bfs_dir(fi)->fd, buf, filler);
	}
	/*
	 * The kernel asks for the first page of every listing as READDIRPLUS,
	 * and for later pages only once lookups followed (ls -l): attributes
	 * go out for those, so that a plain listing stays cheap.
	 */
	return readdir_offsets(bfs_dir(fi), buf, filler, off,
			       (flags & FUSE_READDIR_PLUS) && off != 0);
}

static int bfs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct bfs_dir *d = bfs_dir(fi);

	(void)path;
	close(d->fd);
	free(d);
	return 0;
}

static void bfs_destroy(void *private_data)
{
	(void)private_data;
	bfs_file_release_all();
}

static void *bfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->entry_timeout = BFS_ENTRY_TIMEOUT;
	cfg->attr_timeout = BFS_ATTR_TIMEOUT;
	cfg->negative_timeout = BFS_ENTRY_TIMEOUT;
	/* Paths are needed in flush (to forget a file that could not be stored). */
	cfg->nullpath_ok = 0;
	/* Deleted-but-open files stay readable through their descriptor. */
	cfg->hard_remove = 1;
	return NULL;
}

const struct fuse_operations bfs_ops = {
    .init = bfs_init,
    .destroy = bfs_destroy,
    .getattr = bfs_getattr,
    .readlink = bfs_readlink,
    .mknod = bfs_mknod,
    .mkdir = bfs_mkdir,
    .unlink = bfs_unlink,
    .rmdir = bfs_rmdir,
    .symlink = bfs_symlink,
    .rename = bfs_rename,
    .link = bfs_link,
    .chmod = bfs_chmod,
    .chown = bfs_chown,
    .truncate = bfs_truncate,
    .open = bfs_open,
    .read = bfs_read,
    .write = bfs_write,
    .statfs = bfs_statfs,
    .flush = bfs_flush,
    .release = bfs_release,
    .fsync = bfs_fsync,
    .opendir = bfs_opendir,
    .readdir = bfs_readdir,
    .releasedir = bfs_releasedir,
    .create = bfs_create,
    .utimens = bfs_utimens,
    .poll = bfs_poll,
};
