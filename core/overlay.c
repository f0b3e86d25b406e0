/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open overlay files (SPEC 4.1-4.5): snapshots of computed content, and
 * writes staged and committed; see overlay.h for the protocol.
 */
#include "overlay.h"
#include "ovlfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "tree.h"

/* S/<ns> as an O_PATH directory descriptor, or -errno. */
static int open_ns(const struct bundle_conf *c, const char *ns)
{
	return store_open_beneath(c->st.state_fd, ns, O_PATH | O_DIRECTORY, 0);
}

static struct ovl_file *file_new(const struct bundle_conf *c, const struct ovl *o, const char *ns,
				 const char *id)
{
	struct ovl_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->c = c;
	f->o = o;
	f->fd = -1;
	f->nsfd = -1;
	snprintf(f->ns, sizeof(f->ns), "%s", ns);
	snprintf(f->id, sizeof(f->id), "%s", id);
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* Remove the name of a named staging file; its descriptor stays usable. Caller holds lock. */
static void unname(struct ovl_file *f)
{
	if (f->tmpname[0]) {
		unlinkat(f->nsfd, f->tmpname, 0);
		f->tmpname[0] = '\0';
	}
}

static void file_free(struct ovl_file *f)
{
	unname(f);
	if (f->fd >= 0)
		close(f->fd);
	if (f->nsfd >= 0)
		close(f->nsfd);
	free(f->snap);
	pthread_mutex_destroy(&f->lock);
	free(f);
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

/*
 * Replace the handle's file with a new staging file in S/<ns> holding the
 * content of from_fd (if >= 0) or initial[0..len). An O_TMPFILE where the
 * file system has it, else a named TREE_TMP_PREFIX file. Caller holds lock.
 */
static int stage(struct ovl_file *f, int from_fd, const char *initial, size_t len)
{
	char name[sizeof(f->tmpname)] = "";
	bool linkable = true;
	int fd, ret = 0;

	fd = openat(f->nsfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
		linkable = false;
		fd = store_tmpfile(f->nsfd, name, sizeof(name), 0644);
		if (fd < 0)
			return fd;
	}
	if (from_fd >= 0)
		ret = copy_all(from_fd, fd, ovl_max(f->o));
	else if (initial && len && pwrite(fd, initial, len, 0) != (ssize_t)len)
		ret = -EIO;
	if (ret < 0) {
		if (name[0])
			unlinkat(f->nsfd, name, 0);
		close(fd);
		return ret;
	}
	unname(f);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->staged = true;
	f->linkable = linkable;
	memcpy(f->tmpname, name, sizeof(name));
	return 0;
}

/* Make sure the handle writes into a private staging file. Caller holds lock. */
static int ensure_staged(struct ovl_file *f)
{
	return f->staged ? 0 : stage(f, f->fd, NULL, 0);
}

/*
 * Link the open file fd as dirfd/name: by the descriptor itself where the
 * daemon may (CAP_DAC_READ_SEARCH), else through /proc/self/fd, which costs
 * a walk of procfs. 0 or -errno.
 */
static int link_fd(int fd, int dirfd, const char *name)
{
	static int by_fd = 1; /* 0 once the descriptor's own link was refused */
	char proc[64];

	if (__atomic_load_n(&by_fd, __ATOMIC_RELAXED)) {
		if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0)
			return 0;
		if (errno != ENOENT && errno != EPERM)
			return -errno;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
		return -errno;
	__atomic_store_n(&by_fd, 0, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Give the staging file a TREE_TMP_PREFIX name in S/<ns>, in f->tmpname.
 * Caller holds lock.
 */
static int name_staging(struct ovl_file *f)
{
	static unsigned long counter;
	int tries, ret;

	if (f->tmpname[0])
		return 0;
	if (!f->linkable) {
		/* Unlinked after a rejection, or linked once: a fresh copy. */
		ret = stage(f, f->fd, NULL, 0);
		if (ret < 0 || f->tmpname[0])
			return ret;
	}
	for (tries = 0; tries < 16; tries++) {
		unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

		snprintf(f->tmpname, sizeof(f->tmpname), "%sovl-%x-%lx", TREE_TMP_PREFIX,
			 (unsigned)getpid(), n);
		ret = link_fd(f->fd, f->nsfd, f->tmpname);
		if (ret == 0) {
			/* The kernel makes a linked O_TMPFILE unlinkable again. */
			f->linkable = false;
			return 0;
		}
		f->tmpname[0] = '\0';
		if (ret != -EEXIST)
			return ret;
	}
	return -EEXIST;
}

static void log_rejection(const struct ovl *o, const char *ns, const char *id, int ret,
			  const char *why)
{
	if (ret == -EINVAL)
		blog(BLOG_ERR, "%s/%s: %s rejected: %s", ns, id, ovl_name(o), why);
	else if (ret == -EFBIG)
		blog(BLOG_ERR, "%s/%s: %s rejected: larger than %zu bytes", ns, id, ovl_name(o),
		     ovl_max(o));
}

/*
 * Make the staged content the stored file. With log, a rejection is logged;
 * without, it is judged quietly. On any failure the stored file is as it was
 * and no name of the staging file is left in the store; the content stays in
 * f->fd for further writes. Caller holds lock.
 */
static int commit(struct ovl_file *f, bool log, unsigned int rename_flags)
{
	const struct bundle_conf *c = f->c;
	char why[256] = "", *buf = NULL;
	uint32_t gid = 0;
	int bfd = -1, ret;
	size_t len = 0;
	bool direct;

	if (f->toobig) {
		ret = -EFBIG;
		goto reject;
	}
	/* A never-linked O_TMPFILE is this handle's alone. */
	ret = f->staged && f->linkable ? store_read_private(f->fd, ovl_max(f->o), &buf, &len)
				       : store_read_fd(f->fd, ovl_max(f->o), &buf, &len);
	if (ret == 0)
		ret = ovl_validate(f->o, buf, len, &gid, why, sizeof(why));
	free(buf);
	if (ret == -EINVAL || ret == -EFBIG)
		goto reject;
	if (ret < 0)
		goto out;
	bfd = openat(f->nsfd, f->id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0) {
		ret = -errno;
		goto out;
	}
	/*
	 * A staging file never linked is linked in place once ready when no
	 * stored file is there: the name appears with the whole content, as a
	 * rename would make it, for one link instead of a link and a rename
	 * across directories. When one is there, a rename replaces it.
	 */
	direct = !f->tmpname[0] && f->linkable;
	if (!direct && (ret = name_staging(f)) < 0)
		goto out;
	/*
	 * Stored overlay files are 0644 (SPEC 4.2) and belong to their writer,
	 * unless the writer set the mode or the owner through this open.
	 */
	if ((!f->mode_set && fchmod(f->fd, 0644) < 0) ||
	    (!f->owner_set && c->is_root && (f->uid != c->euid || f->gid != c->egid) &&
	     fchown(f->fd, f->uid, f->gid) < 0)) {
		ret = -errno;
		goto out;
	}
	/* containerd sets the bundle's permissions before writing its spec (config.json's GID). */
	if (gid != 0) {
		ret = store_apply_remap(f->nsfd, f->id, gid);
		if (ret < 0) {
			blog(BLOG_ERR, "%s/%s: cannot apply remapped GID %u: %s", f->ns, f->id, gid,
			     strerror(-ret));
			goto out;
		}
	}
	if (direct) {
		ret = link_fd(f->fd, bfd, ovl_name(f->o));
		if (ret == 0) {
			f->linkable = false;
			goto stored;
		}
		if (ret != -EEXIST || (rename_flags & RENAME_NOREPLACE))
			goto out;
		ret = name_staging(f);
		if (ret < 0)
			goto out;
	}
	if (renameat2(f->nsfd, f->tmpname, bfd, ovl_name(f->o), rename_flags) < 0) {
		ret = -errno;
		goto out;
	}
stored:
	/* f->fd is now the stored file: the next write stages a copy. */
	f->tmpname[0] = '\0';
	f->staged = false;
	f->created = false;
	ret = 0;
	goto out;
reject:
	if (log)
		log_rejection(f->o, f->ns, f->id, ret, why);
out:
	if (ret < 0)
		unname(f);
	if (bfd >= 0)
		close(bfd);
	return ret;
}

/* Open for reading: a snapshot of computed content, or the stored file. */
static int open_read(struct ovl_file *f, int bfd)
{
	struct stat st;

	if (ovl_is_computed(f->o))
		return ovl_content(f->c, f->o, bfd, f->ns, f->id, &f->snap, &f->snaplen,
				   &f->snapst);
	f->fd = store_open_regular(bfd, ovl_name(f->o), &st);
	return f->fd < 0 ? f->fd : 0;
}

/*
 * Open for writing: a staging file in S/<ns> (held open as f->nsfd until
 * release), holding the current content unless O_TRUNC. released: the
 * opener released the name (ovl_open's OVL_OPEN_RELEASED) and makes the
 * file again: a stored file does not count (neither for O_EXCL nor as
 * content), and the new file is committed even if nothing is written.
 */
static int open_write(struct ovl_file *f, int bfd, int flags, bool create, bool released)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	bool stored;
	int ret = 0;

	f->writable = true;
	stored = !released && fstatat(bfd, ovl_name(f->o), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		 S_ISREG(st.st_mode);
	if (stored && (flags & O_CREAT) && (flags & O_EXCL))
		return -EEXIST;
	if (!stored && !released && !ovl_is_computed(f->o) && !create && !(flags & O_CREAT))
		return -ENOENT;
	f->created = !stored;
	f->nsfd = open_ns(f->c, f->ns);
	if (f->nsfd < 0)
		return f->nsfd;
	if (!released && !(flags & O_TRUNC) && (stored || ovl_is_computed(f->o))) {
		ret = ovl_content(f->c, f->o, bfd, f->ns, f->id, &buf, &len, &st);
		if (ret == -ENOENT && !ovl_is_computed(f->o)) /* gone meanwhile */
			ret = 0;
	}
	if (ret == 0) {
		pthread_mutex_lock(&f->lock);
		ret = stage(f, -1, buf, len);
		pthread_mutex_unlock(&f->lock);
	}
	free(buf);
	/* Truncating or creating changes the file even without a write. */
	f->dirty = released || (flags & O_TRUNC) || (f->created && !ovl_is_computed(f->o));
	return ret;
}

int ovl_open(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	     int flags, unsigned int how, uid_t uid, gid_t gid, struct ovl_file **out)
{
	bool write = (flags & O_ACCMODE) != O_RDONLY;
	bool released = how & OVL_OPEN_RELEASED;
	struct ovl_file *f;
	int bfd, ret;

	*out = NULL;
	if (write && !ovl_writable(o) && !(released && ovl_is_computed(o)))
		return -EACCES;
	bfd = store_open_bundle(&c->st, ns, id);
	if (bfd < 0)
		return bfd;
	f = file_new(c, o, ns, id);
	if (!f) {
		close(bfd);
		return -ENOMEM;
	}
	f->uid = uid;
	f->gid = gid;
	if (write && !ovl_writable(o)) {
		/* A computed file cannot be stored: it is back as it computes. */
		ret = open_read(f, bfd);
		f->writable = f->discard = true;
	} else {
		ret = write ? open_write(f, bfd, flags, how & OVL_OPEN_CREATE, released)
			    : open_read(f, bfd);
	}
	close(bfd);
	if (ret < 0) {
		file_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

bool ovl_writes(const struct ovl_file *f)
{
	return f->writable;
}

ssize_t ovl_read(struct ovl_file *f, char *buf, size_t size, off_t off)
{
	ssize_t n;

	if (off < 0)
		return -EINVAL;
	if (f->snap) {
		if ((size_t)off >= f->snaplen)
			return 0;
		if (size > f->snaplen - (size_t)off)
			size = f->snaplen - (size_t)off;
		memcpy(buf, f->snap + off, size);
		return (ssize_t)size;
	}
	pthread_mutex_lock(&f->lock);
	n = pread(f->fd, buf, size, off);
	if (n < 0)
		n = -errno;
	pthread_mutex_unlock(&f->lock);
	return n;
}

ssize_t ovl_write(struct ovl_file *f, const char *buf, size_t size, off_t off)
{
	ssize_t n;
	int ret;

	if (!f->writable)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (f->discard)
		return (ssize_t)size;
	pthread_mutex_lock(&f->lock);
	if ((size_t)off > ovl_max(f->o) || size > ovl_max(f->o) - (size_t)off) {
		/* What the caller meant to store cannot be stored: nothing will be. */
		f->toobig = f->dirty = true;
		n = -EFBIG;
		goto out;
	}
	/* After a commit the handle's file is the stored one: stage a copy first. */
	ret = ensure_staged(f);
	if (ret < 0) {
		n = ret;
		goto out;
	}
	n = pwrite(f->fd, buf, size, off);
	if (n < 0)
		n = -errno;
	else if (n > 0)
		f->dirty = f->written = true;
out:
	pthread_mutex_unlock(&f->lock);
	return n;
}

int ovl_fstat(struct ovl_file *f, struct stat *st)
{
	int ret = 0;

	if (f->snap) {
		*st = f->snapst;
		return 0;
	}
	pthread_mutex_lock(&f->lock);
	if (fstat(f->fd, st) < 0)
		ret = -errno;
	pthread_mutex_unlock(&f->lock);
	/* A nameless staging file stands for the one file it will replace. */
	if (ret == 0 && st->st_nlink == 0)
		st->st_nlink = 1;
	return ret;
}

int ovl_ftruncate(struct ovl_file *f, off_t size)
{
	int ret;

	if (!f->writable)
		return -EBADF;
	if (size < 0)
		return -EINVAL;
	if (f->discard)
		return 0;
	if ((size_t)size > ovl_max(f->o))
		return -EFBIG;
	pthread_mutex_lock(&f->lock);
	ret = ensure_staged(f);
	if (ret == 0 && ftruncate(f->fd, size) < 0)
		ret = -errno;
	if (ret == 0)
		f->dirty = f->written = true;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int ovl_flush(struct ovl_file *f)
{
	int ret = 0;

	if (!f->writable || f->discard)
		return 0;
	pthread_mutex_lock(&f->lock);
	/*
	 * A shell's "> file" opens with O_TRUNC and closes that descriptor
	 * (after dup2) before it writes. So a close with nothing written since
	 * open (a bare truncation or creation) is judged without a log line:
	 * invalid content fails this close and stays pending for release, the
	 * last close, which commits or logs the rejection; content that needs
	 * no validation is left to release, so readers never see the
	 * intermediate empty file.
	 */
	if (f->toobig) {
		/* Poisoned: every close fails; the first one after the write logs it. */
		ret = commit(f, f->dirty, 0);
		f->dirty = f->written = false;
	} else if (f->dirty && f->written) {
		f->dirty = f->written = false;
		ret = commit(f, true, 0);
	} else if (f->dirty && ovl_validated(f->o)) {
		ret = commit(f, false, 0);
		if (ret == 0)
			f->dirty = false;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

bool ovl_pending(struct ovl_file *f)
{
	bool pending;

	pthread_mutex_lock(&f->lock);
	pending = f->writable && f->dirty && !f->discard;
	pthread_mutex_unlock(&f->lock);
	return pending;
}

void ovl_release(struct ovl_file *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->writable && f->dirty && !f->discard) {
		f->dirty = false;
		commit(f, true, 0); /* no caller to tell: commit logs a rejection */
	}
	pthread_mutex_unlock(&f->lock);
	file_free(f);
}

int ovl_fsync(struct ovl_file *f, int datasync)
{
	int ret = 0;

	if (f->snap)
		return 0;
	pthread_mutex_lock(&f->lock);
	if ((datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		ret = -errno;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int ovl_truncate(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		 off_t size, uid_t uid, gid_t gid)
{
	struct ovl_file *f;
	int ret;

	if (!ovl_writable(o))
		return -EPERM;
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > ovl_max(o))
		return -EFBIG;
	ret = ovl_open(c, o, ns, id, O_RDWR, false, uid, gid, &f);
	if (ret < 0)
		return ret;
	ret = ovl_ftruncate(f, size);
	if (ret == 0)
		ret = ovl_flush(f);
	ovl_release(f);
	return ret;
}

int ovl_unlink(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id)
{
	int bfd, ret = 0;

	if (!ovl_may_unlink(o))
		return -EPERM;
	bfd = store_open_bundle(&c->st, ns, id);
	if (bfd < 0)
		return bfd;
	if (unlinkat(bfd, ovl_name(o), 0) < 0)
		ret = -errno;
	close(bfd);
	return ret;
}

int ovl_rename_onto(const struct bundle_conf *c, const struct ovl *o, const char *ns,
		    const char *id, int from_dirfd, const char *from_name, unsigned int flags)
{
	char why[256] = "";
	struct ovl_file *f = NULL;
	int src = -1, ret;
	struct stat st;

	if (!ovl_writable(o))
		return -EPERM;
	if (flags & ~(unsigned int)RENAME_NOREPLACE)
		return -EINVAL;
	ret = store_check_bundle(ns, id);
	if (ret < 0)
		return ret;
	src = store_open_regular(from_dirfd, from_name, &st);
	if (src == -ENOENT && fstatat(from_dirfd, from_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Present but not a regular file: never the content of an overlay file. */
		snprintf(why, sizeof(why), "%s is not a regular file", from_name);
		log_rejection(o, ns, id, -EINVAL, why);
		return -EINVAL;
	}
	if (src < 0)
		return src;
	if ((size_t)st.st_size > ovl_max(o)) {
		log_rejection(o, ns, id, -EFBIG, why);
		ret = -EFBIG;
		goto out;
	}
	f = file_new(c, o, ns, id);
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	/* The copy keeps what a rename keeps: the owner and the times. */
	f->writable = true;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->nsfd = open_ns(c, ns);
	if (f->nsfd < 0) {
		ret = f->nsfd;
		goto out;
	}
	pthread_mutex_lock(&f->lock);
	ret = stage(f, src, NULL, 0);
	if (ret == 0) {
		struct timespec times[2] = {st.st_atim, st.st_mtim};

		if (futimens(f->fd, times) < 0)
			ret = -errno;
	}
	if (ret == 0)
		ret = commit(f, true, flags);
	pthread_mutex_unlock(&f->lock);
	/*
	 * The stored file is the validated copy: the source's name goes, and
	 * whatever still reaches the source (an open descriptor, another hard
	 * link) reaches the source, never the stored file.
	 */
	if (ret == 0 && unlinkat(from_dirfd, from_name, 0) < 0 && errno != ENOENT)
		blog(BLOG_WARNING, "%s/%s: %s stored, but %s stays: %s", ns, id, ovl_name(o),
		     from_name, strerror(errno));
out:
	if (f)
		file_free(f);
	if (src >= 0)
		close(src);
	return ret;
}
