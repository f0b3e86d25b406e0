/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay files of a bundle (SPEC 4.1-4.5), described once as a table.
 *
 * Reads of computed content (address without a stored file, shim-config) are
 * served from a snapshot taken at open, so one open reads one consistent
 * value, and getattr reports exactly that many bytes. Every overlay file is
 * opened with direct_io: the kernel never serves them from its page cache.
 *
 * Writes are staged in a temporary file TREE_TMP_PREFIX* in S/<ns> (the same
 * file system as the bundle) and committed at flush (close(2)) by one
 * renameat over the stored file: a reader sees the whole old or the whole
 * new content, a crash before close leaves the stored file untouched, and
 * the sweep removes the staging files a crash leaves behind.
 */
#include "bfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "ropts.h"
#include "shimcfg.h"
#include "spec.h"

#define ADDRESS_MAX (64u * 1024)

enum ov_kind { OV_CONFIG, OV_ADDRESS, OV_SHIMCFG, OV_ROPTS };

typedef int (*ov_validate_fn)(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz);

struct overlay {
	const char *name;
	enum ov_kind kind;
	mode_t computed_mode; /* mode of computed content; 0: stored only */
	bool writable;	      /* staged writes, committed at close */
	bool may_unlink;
	size_t max;		 /* largest content accepted */
	ov_validate_fn validate; /* NULL: any bytes */
};

static int validate_config(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz)
{
	return spec_remapped_gid(buf, len, gid, why, whysz);
}

static int validate_ropts(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz)
{
	struct ropts ro;
	int ret;

	*gid = 0;
	ret = ropts_parse(buf, len, &ro, why, whysz);
	if (ret == 0)
		ropts_free(&ro);
	return ret;
}

static const struct overlay overlays[] = {
    {"config.json", OV_CONFIG, 0, true, false, SPEC_MAX_SIZE, validate_config},
    {"address", OV_ADDRESS, 0644, true, true, ADDRESS_MAX, NULL},
    {"shim-config", OV_SHIMCFG, 0444, false, false, 0, NULL},
    {"runc-options", OV_ROPTS, 0, true, true, ROPTS_MAX_SIZE, validate_ropts},
};

const struct overlay *overlay_find(const char *name)
{
	for (size_t i = 0; i < sizeof(overlays) / sizeof(overlays[0]); i++) {
		if (!strcmp(overlays[i].name, name))
			return &overlays[i];
	}
	return NULL;
}

bool overlay_is_virtual(const struct overlay *ov)
{
	return ov->computed_mode != 0;
}

bool overlay_may_rename_from(const struct overlay *ov)
{
	return ov->may_unlink;
}

bool overlay_may_setattr(const struct overlay *ov)
{
	return ov->kind != OV_SHIMCFG;
}

static int open_bundle(const char *ns, const char *id)
{
	char rel[2 * NAME_MAX + 2];

	snprintf(rel, sizeof(rel), "%s/%s", ns, id);
	return store_open_beneath(bfs.st.state_fd, rel, O_PATH | O_DIRECTORY, 0);
}

bool overlay_stored(const struct loc *l)
{
	struct stat st;
	int bfd = open_bundle(l->ns, l->id);
	bool ret;

	if (bfd < 0)
		return false;
	ret = fstatat(bfd, l->ov->name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	close(bfd);
	return ret;
}

bool overlay_listed(const struct overlay *ov, int dirfd, const char *name, unsigned char d_type)
{
	struct stat st;

	/* Computed files are always listed (once); stored ones only as regular files. */
	if (overlay_is_virtual(ov))
		return true;
	if (d_type != DT_UNKNOWN)
		return d_type == DT_REG;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static char *computed_address(const char *ns, const char *id)
{
	if (bfs.legacy_address)
		return addr_legacy(ns, id);
	return addr_computed(bfs.socket_root, bfs.daemon_address, ns, id);
}

static char *render_shim_config(int bfd, const char *ns, const char *id, size_t *len)
{
	struct shimcfg_node node = {
	    .bundle_root = bfs.bundle_root,
	    .work_root = bfs.st.work_path,
	    .criu = bfs.criu,
	    .runtime_root = bfs.runtime_root,
	    .systemd_cgroup = bfs.systemd_cgroup,
	};
	struct ropts ro, *rop = NULL;
	char *text = NULL, *out;
	size_t tlen;

	/* Only a regular runc-options counts; an invalid one counts as none. */
	if (store_read_regular(bfd, "runc-options", ROPTS_MAX_SIZE, &text, &tlen) == 0) {
		if (ropts_parse(text, tlen, &ro, NULL, 0) == 0)
			rop = &ro;
		free(text);
	}
	out = shimcfg_render(&node, ns, id, rop, len);
	if (rop)
		ropts_free(rop);
	return out;
}

/*
 * The content a read returns now: stored bytes, or the computed value.
 * -ENOENT for a stored-only file that is not there.
 */
static int current_content(const struct overlay *ov, int bfd, const char *ns, const char *id,
			   char **buf, size_t *len)
{
	int ret;

	switch (ov->kind) {
	case OV_SHIMCFG:
		*buf = render_shim_config(bfd, ns, id, len);
		return *buf ? 0 : -ENOMEM;
	case OV_ADDRESS:
		ret = store_read_regular(bfd, ov->name, ov->max, buf, len);
		if (ret != -ENOENT)
			return ret;
		*buf = computed_address(ns, id);
		if (!*buf)
			return -ENOMEM;
		*len = strlen(*buf);
		return 0;
	default:
		return store_read_regular(bfd, ov->name, ov->max, buf, len);
	}
}

/* A computed file's attributes, derived from its bundle directory. */
static void computed_stat(const struct overlay *ov, const struct stat *dir, size_t len,
			  struct stat *st)
{
	*st = *dir;
	st->st_mode = S_IFREG | ov->computed_mode;
	st->st_nlink = 1;
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	/* Stable per bundle and kind, apart from real inode numbers in practice. */
	st->st_ino = dir->st_ino ^ ((ino_t)(ov->kind + 1) << 56);
}

int overlay_getattr(const struct loc *l, struct stat *st, struct bfs_file *fh)
{
	const struct overlay *ov = l->ov;
	struct stat dir;
	char *buf = NULL;
	size_t len;
	int bfd, ret;

	if (fh && fh->ov) {
		if (fh->snap) {
			if (fstat(fh->fd, &dir) < 0)
				return -errno;
			computed_stat(ov, &dir, fh->snaplen, st);
			return 0;
		}
		return fstat(fh->fd, st) < 0 ? -errno : 0;
	}
	bfd = open_bundle(l->ns, l->id);
	if (bfd < 0)
		return bfd;
	if (ov->kind != OV_SHIMCFG) {
		/* Only a regular file counts as stored; anything else is never followed. */
		if (fstatat(bfd, ov->name, st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st->st_mode)) {
			ret = 0;
			goto out;
		}
		if (!overlay_is_virtual(ov)) {
			ret = -ENOENT;
			goto out;
		}
	}
	/* No stored file (just checked): the computed value. */
	if (ov->kind == OV_ADDRESS) {
		buf = computed_address(l->ns, l->id);
		ret = buf ? 0 : -ENOMEM;
		len = buf ? strlen(buf) : 0;
	} else {
		ret = current_content(ov, bfd, l->ns, l->id, &buf, &len);
	}
	if (ret == 0)
		ret = fstat(bfd, &dir) < 0 ? -errno : 0;
	if (ret == 0)
		computed_stat(ov, &dir, len, st);
out:
	free(buf);
	close(bfd);
	return ret;
}

static struct bfs_file *file_new(const struct overlay *ov, const struct loc *l)
{
	struct bfs_file *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return NULL;
	fh->ov = ov;
	fh->fd = -1;
	fh->nsfd = -1;
	pthread_mutex_init(&fh->lock, NULL);
	bfs_file_register(fh);
	memcpy(fh->ns, l->ns, sizeof(fh->ns));
	memcpy(fh->id, l->id, sizeof(fh->id));
	return fh;
}

static void file_free(struct bfs_file *fh)
{
	bfs_file_unregister(fh);
	if (fh->fd >= 0)
		close(fh->fd);
	if (fh->nsfd >= 0)
		close(fh->nsfd);
	free(fh->snap);
	pthread_mutex_destroy(&fh->lock);
	free(fh);
}

static int copy_all(int from, int to, size_t max)
{
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = sendfile(to, from, &off, 1u << 20);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((size_t)off > max)
			return -EFBIG;
	}
}

/* A new staging file in S/<ns> holding initial (may be NULL). Caller holds lock. */
static int stage(struct bfs_file *fh, int from_fd, const char *initial, size_t len)
{
	int fd, ret = 0;

	fd = store_tmpfile(fh->nsfd, fh->tmpname, sizeof(fh->tmpname), 0644);
	if (fd < 0)
		return fd;
	if (from_fd >= 0)
		ret = copy_all(from_fd, fd, fh->ov->max);
	else if (initial && len && pwrite(fd, initial, len, 0) != (ssize_t)len)
		ret = -EIO;
	if (ret < 0) {
		close(fd);
		unlinkat(fh->nsfd, fh->tmpname, 0);
		fh->tmpname[0] = '\0';
		return ret;
	}
	if (fh->fd >= 0)
		close(fh->fd);
	fh->fd = fd;
	return 0;
}

/* Remove the staging file's name; fh->fd stays usable. Caller holds lock. */
static void unstage(struct bfs_file *fh)
{
	unlinkat(fh->nsfd, fh->tmpname, 0);
	fh->tmpname[0] = '\0';
}

/* Open for reading: a snapshot of computed content, or the stored file. */
static int open_read(struct bfs_file *fh, const struct loc *l)
{
	int bfd = open_bundle(l->ns, l->id), ret;

	if (bfd < 0)
		return bfd;
	if (!overlay_is_virtual(fh->ov)) {
		fh->fd = openat(bfd, fh->ov->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ret = fh->fd < 0 ? -errno : 0;
		close(bfd);
		return ret;
	}
	ret = current_content(fh->ov, bfd, l->ns, l->id, &fh->snap, &fh->snaplen);
	if (ret < 0) {
		close(bfd);
		return ret;
	}
	fh->fd = bfd; /* the directory stands in for the file in fgetattr */
	return 0;
}

/*
 * Open for writing: a staging file in S/<ns> (held open as fh->nsfd until
 * release), holding the current content unless O_TRUNC.
 */
static int open_write(struct bfs_file *fh, const struct loc *l, int flags, bool create)
{
	struct fuse_context *ctx = fuse_get_context();
	char *buf = NULL;
	size_t len = 0;
	int bfd, ret = 0;

	fh->writable = true;
	fh->uid = ctx->uid;
	fh->gid = ctx->gid;
	fh->nsfd = store_open_beneath(bfs.st.state_fd, l->ns, O_PATH | O_DIRECTORY, 0);
	if (fh->nsfd < 0)
		return fh->nsfd;
	if (flags & O_TRUNC) {
		fh->created = create;
	} else {
		bfd = openat(fh->nsfd, l->id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		ret = bfd < 0 ? -errno : current_content(fh->ov, bfd, l->ns, l->id, &buf, &len);
		if (bfd >= 0)
			close(bfd);
		if (ret == -ENOENT && bfd >= 0 && (create || (flags & O_CREAT))) {
			fh->created = true;
			ret = 0;
		}
	}
	if (ret == 0) {
		pthread_mutex_lock(&fh->lock);
		ret = stage(fh, -1, buf, len);
		pthread_mutex_unlock(&fh->lock);
	}
	free(buf);
	/* Truncating or creating changes the file even without a write. */
	fh->dirty = (flags & O_TRUNC) || fh->created;
	return ret;
}

int overlay_open(const struct loc *l, struct fuse_file_info *fi, bool create, mode_t mode)
{
	const struct overlay *ov = l->ov;
	int acc = fi->flags & O_ACCMODE;
	struct bfs_file *fh;
	int ret;

	(void)mode; /* stored overlay files are always 0644 (SPEC 4.2) */
	if (acc != O_RDONLY && !ov->writable)
		return -EACCES;
	if (acc != O_RDONLY && bfs.ro)
		return -EROFS;
	fh = file_new(ov, l);
	if (!fh)
		return -ENOMEM;
	ret = acc == O_RDONLY ? open_read(fh, l) : open_write(fh, l, fi->flags, create);
	if (ret < 0) {
		file_free(fh);
		return ret;
	}
	fi->direct_io = 1;
	/* Only staged writes have anything to do at close. */
	fi->noflush = !fh->writable;
	fi->fh = (uintptr_t)fh;
	return 0;
}

int overlay_read(struct bfs_file *fh, char *buf, size_t size, off_t off)
{
	ssize_t n;

	if (fh->snap) {
		if ((size_t)off >= fh->snaplen)
			return 0;
		if (size > fh->snaplen - (size_t)off)
			size = fh->snaplen - (size_t)off;
		memcpy(buf, fh->snap + off, size);
		return (int)size;
	}
	n = pread(fh->fd, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

int overlay_write(struct bfs_file *fh, const char *buf, size_t size, off_t off)
{
	ssize_t n;
	int ret = 0;

	if (!fh->writable)
		return -EBADF;
	if ((size_t)off + size > fh->ov->max) {
		/* What the caller meant to store cannot be stored: nothing will be. */
		pthread_mutex_lock(&fh->lock);
		fh->toobig = true;
		pthread_mutex_unlock(&fh->lock);
		return -EFBIG;
	}
	pthread_mutex_lock(&fh->lock);
	/* After a commit the handle's file is the live one: stage a copy first. */
	if (!fh->tmpname[0])
		ret = stage(fh, fh->fd, NULL, 0);
	if (ret == 0) {
		n = pwrite(fh->fd, buf, size, off);
		ret = n < 0 ? -errno : (int)n;
		if (n > 0)
			fh->dirty = fh->written = true;
	}
	pthread_mutex_unlock(&fh->lock);
	return ret;
}

/* The whole content of fd, at most max bytes (-EFBIG past it). */
static int read_fd(int fd, size_t max, char **buf, size_t *len)
{
	size_t cap = 65536, got = 0;
	char *data = NULL;
	ssize_t n;

	/* Specs are small: one pread usually reads it all, without an fstat. */
	for (;;) {
		char *bigger = realloc(data, cap + 1);

		if (!bigger) {
			free(data);
			return -ENOMEM;
		}
		data = bigger;
		n = pread(fd, data + got, cap - got, (off_t)got);
		if (n < 0) {
			free(data);
			return -errno;
		}
		got += (size_t)n;
		if (got > max) {
			free(data);
			return -EFBIG;
		}
		if (n == 0 || got < cap)
			break;
		cap *= 2;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;
	return 0;
}

/* Validate content; with ns == NULL, without a log line. */
static int check_content(const struct overlay *ov, const char *ns, const char *id, const char *buf,
			 size_t len, uint32_t *gid)
{
	char why[256] = "";
	int ret;

	*gid = 0;
	if (!ov->validate)
		return 0;
	ret = ov->validate(buf, len, gid, why, sizeof(why));
	if (!ns) /* judged quietly */
		return ret;
	if (ret == -EINVAL)
		blog(BLOG_ERR, "%s/%s: %s rejected: %s", ns, id, ov->name, why);
	else if (ret == -EFBIG)
		blog(BLOG_ERR, "%s/%s: %s rejected: larger than %zu bytes", ns, id, ov->name,
		     ov->max);
	return ret;
}

/* Make the staged content the stored file. Caller holds fh->lock. */
static int commit(struct bfs_file *fh, bool log)
{
	int nsfd, bfd = -1, ret;
	char *buf = NULL;
	size_t len = 0;
	uint32_t gid;

	if (fh->toobig) {
		if (log)
			blog(BLOG_ERR, "%s/%s: %s rejected: larger than %zu bytes", fh->ns, fh->id,
			     fh->ov->name, fh->ov->max);
		ret = -EFBIG;
		goto out;
	}
	ret = read_fd(fh->fd, fh->ov->max, &buf, &len);
	if (ret == 0)
		ret = check_content(fh->ov, log ? fh->ns : NULL, fh->id, buf, len, &gid);
	if (ret < 0)
		goto out;
	nsfd = fh->nsfd;
	bfd = openat(nsfd, fh->id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0) {
		ret = -errno;
		goto out;
	}
	/* Staging files are made 0644 (SPEC 4.2); they belong to their writer. */
	if (bfs.is_root && (fh->uid != bfs.euid || fh->gid != bfs.egid) &&
	    fchown(fh->fd, fh->uid, fh->gid) < 0) {
		ret = -errno;
		goto out;
	}
	/* containerd sets the bundle's permissions before writing its spec. */
	if (fh->ov->kind == OV_CONFIG) {
		ret = store_apply_remap(nsfd, fh->id, gid);
		if (ret < 0) {
			blog(BLOG_ERR, "%s/%s: cannot apply remapped GID %u: %s", fh->ns, fh->id,
			     gid, strerror(-ret));
			goto out;
		}
	}
	if (renameat(nsfd, fh->tmpname, bfd, fh->ov->name) < 0) {
		ret = -errno;
		goto out;
	}
	fh->tmpname[0] = '\0';
	fh->created = false;
	ret = 0;
out:
	/*
	 * A rejected write leaves nothing behind once close returns: the staging
	 * file goes now (its descriptor keeps the content for further writes,
	 * which stage a new copy). A quiet check keeps it for release.
	 */
	if (ret < 0 && log && fh->tmpname[0])
		unstage(fh);
	if (bfd >= 0)
		close(bfd);
	free(buf);
	return ret;
}

int overlay_flush(struct bfs_file *fh, const char *path)
{
	bool forget;
	int ret = 0;

	if (!fh->writable)
		return 0;
	pthread_mutex_lock(&fh->lock);
	/*
	 * A shell's "> file" opens with O_TRUNC and closes that descriptor
	 * (after dup2) before it writes. So a close with nothing written since
	 * open (a bare truncation or creation) is judged without a log line:
	 * invalid content fails this close and stays pending for release, the
	 * last close, which commits or logs the rejection; content that needs
	 * no validation is left to release, so readers never see the
	 * intermediate empty file.
	 */
	if (fh->dirty && fh->written) {
		fh->dirty = fh->written = false;
		ret = commit(fh, true);
	} else if (fh->dirty && fh->ov->validate) {
		ret = commit(fh, false);
		if (ret == 0)
			fh->dirty = false;
	}
	forget = ret < 0 && fh->created;
	pthread_mutex_unlock(&fh->lock);
	/* A file this handle created and could not store does not exist: make the
	 * kernel forget the entry it made at create. */
	if (forget && path) {
		struct fuse_context *ctx = fuse_get_context();

		if (ctx && ctx->fuse)
			fuse_invalidate_path(ctx->fuse, path);
	}
	return ret;
}

void overlay_release(struct bfs_file *fh)
{
	pthread_mutex_lock(&fh->lock);
	if (fh->writable && fh->dirty) {
		fh->dirty = false;
		commit(fh, true); /* no caller to tell: commit logs a rejection */
	}
	if (fh->tmpname[0])
		unstage(fh);
	pthread_mutex_unlock(&fh->lock);
	file_free(fh);
}

int overlay_fsync(struct bfs_file *fh, int datasync)
{
	if (fh->snap)
		return 0;
	if ((datasync ? fdatasync(fh->fd) : fsync(fh->fd)) < 0)
		return -errno;
	return 0;
}

int overlay_truncate(const struct loc *l, off_t size, struct bfs_file *fh)
{
	struct fuse_file_info fi = {.flags = O_RDWR};
	int ret;

	if (!l->ov->writable)
		return -EPERM;
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > l->ov->max)
		return -EFBIG;
	if (fh && fh->writable) {
		pthread_mutex_lock(&fh->lock);
		ret = fh->tmpname[0] ? 0 : stage(fh, fh->fd, NULL, 0);
		if (ret == 0 && ftruncate(fh->fd, size) < 0)
			ret = -errno;
		if (ret == 0)
			fh->dirty = fh->written = true;
		pthread_mutex_unlock(&fh->lock);
		return ret;
	}
	/* truncate(2) by path: the same staged write, committed at once. */
	ret = overlay_open(l, &fi, false, 0);
	if (ret < 0)
		return ret;
	fh = bfs_fh(&fi);
	pthread_mutex_lock(&fh->lock);
	if (ftruncate(fh->fd, size) < 0)
		ret = -errno;
	fh->dirty = fh->written = true;
	pthread_mutex_unlock(&fh->lock);
	if (ret == 0)
		ret = overlay_flush(fh, NULL);
	overlay_release(fh);
	return ret;
}

int overlay_unlink(const struct loc *l)
{
	int bfd, ret = 0;

	if (!l->ov->may_unlink)
		return -EPERM;
	bfd = open_bundle(l->ns, l->id);
	if (bfd < 0)
		return bfd;
	if (unlinkat(bfd, l->ov->name, 0) < 0)
		ret = -errno;
	close(bfd);
	return ret;
}

int overlay_rename_onto(const struct loc *to, int from_dirfd, const char *from_name, int to_dirfd,
			unsigned int flags)
{
	const struct overlay *ov = to->ov;
	char *buf = NULL;
	uint32_t gid = 0;
	size_t len;
	int ret;

	if (!ov->writable)
		return -EPERM;
	if (ov->validate) {
		ret = store_read_regular(from_dirfd, from_name, ov->max, &buf, &len);
		if (ret == -ENOENT) {
			struct stat st;

			/* Present but not a regular file: never a valid spec. */
			if (fstatat(from_dirfd, from_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				blog(BLOG_ERR, "%s/%s: %s rejected: not a regular file", to->ns,
				     to->id, ov->name);
				ret = -EINVAL;
			}
		}
		if (ret == -EFBIG)
			blog(BLOG_ERR, "%s/%s: %s rejected: larger than %zu bytes", to->ns, to->id,
			     ov->name, ov->max);
		if (ret == 0)
			ret = check_content(ov, to->ns, to->id, buf, len, &gid);
		free(buf);
		if (ret < 0)
			return ret;
		if (fchmodat(from_dirfd, from_name, 0644, 0) < 0)
			return -errno;
	}
	if (ov->kind == OV_CONFIG && gid) {
		int nsfd = store_open_beneath(bfs.st.state_fd, to->ns, O_PATH | O_DIRECTORY, 0);

		if (nsfd < 0)
			return nsfd;
		ret = store_apply_remap(nsfd, to->id, gid);
		close(nsfd);
		if (ret < 0)
			return ret;
	}
	if (renameat2(from_dirfd, from_name, to_dirfd, ov->name, flags) < 0)
		return -errno;
	return 0;
}
