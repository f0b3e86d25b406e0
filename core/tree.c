/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Removing trees and finding mount points in them, safely (SPEC 4.7, 5.4,
 * 5.5).
 *
 * One iterative depth-first engine serves tree_remove and
 * tree_walk_has_mounts. It keeps a stack of frames, one per directory on
 * the current path; only the deepest TREE_OPEN_MAX frames hold an open
 * directory stream, so the descriptors held are bounded whatever the depth.
 * A frame pushed out of that window is re-opened later through ".." of its
 * child (O_NOFOLLOW|O_DIRECTORY) and must still be the directory it was
 * (st_dev, st_ino): if not, the tree moved under us and the engine stops
 * with -ESTALE rather than go on in the wrong place.
 *
 * Invariants of the engine:
 *  - frames [low, depth) have an open stream, frames [0, low) do not;
 *  - every directory on the stack was opened with O_NOFOLLOW from its parent
 *    and checked to be on the same mount as the top (not a mount root, same
 *    st_dev, same mount id), so nothing below a mount point is ever read
 *    or removed;
 *  - a symlink is an entry like any other: unlinked, never opened.
 */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Open directory streams held by one walk (each is one descriptor). */
#define TREE_OPEN_MAX 32

#define TREE_STATX_MASK (STATX_TYPE | STATX_INO | STATX_MNT_ID)

/* Bytes of directory entries read at a time by one stream. */
#define TREE_DIR_BUF 32768

/* One record of getdents64(2). */
struct tree_dirent {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * A directory stream over getdents64(2) on a descriptor the engine opened
 * itself with O_DIRECTORY: what readdir(3) gives, without fdopendir(3)'s
 * three checks of a descriptor whose kind and flags are already known.
 * pos is the offset after the last entry returned (telldir).
 */
struct tree_dir {
	int fd;
	size_t next, len;
	long pos;
	char buf[TREE_DIR_BUF] __attribute__((aligned(8)));
};

struct tree_frame {
	struct tree_dir *dir; /* NULL while the frame is outside the window */
	long pos;	      /* telldir() when the stream was closed (remove) */
	dev_t dev;	      /* identity checked when re-opened through ".." */
	ino_t ino;
	char *name;  /* name in the parent frame (frame 0: in the caller's dirfd) */
	char **skip; /* children left in place; consulted on re-scans only */
	size_t nskip;
	size_t askip;
	bool rescan;	     /* re-opened: entries seen before may come again */
	bool full_pass_owed; /* positioned by seekdir: one pass from the start is owed */
	bool failed;	     /* something below stays: do not try to rmdir this one */
};

struct tree_walk {
	bool remove; /* tree_remove, else tree_walk_has_mounts */
	int dirfd;   /* the caller's directory holding frame 0 */
	struct tree_frame *f;
	size_t depth;
	size_t cap;
	size_t low;	  /* lowest frame with an open stream */
	struct statx ref; /* the top: every directory must be on its mount */
	int err;	  /* remove: first error met */
	int found;	  /* walk: a mount point was found */
};

/* A stream over fd (an O_DIRECTORY descriptor, consumed only on success). */
static struct tree_dir *tree_dir_open(int fd)
{
	struct tree_dir *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	d->fd = fd;
	d->next = d->len = 0;
	d->pos = 0;
	return d;
}

static void tree_dir_close(struct tree_dir *d)
{
	close(d->fd);
	free(d);
}

/* The next entry, or NULL at the end (errno 0) or on an error (errno set). */
static const struct tree_dirent *tree_dir_read(struct tree_dir *d)
{
	const struct tree_dirent *de;
	ssize_t n;

	if (d->next >= d->len) {
		n = getdents64(d->fd, d->buf, sizeof(d->buf));
		if (n <= 0)
			return NULL; /* errno is 0 at the end: callers clear it first */
		d->len = (size_t)n;
		d->next = 0;
	}
	de = (const struct tree_dirent *)(d->buf + d->next);
	d->next += de->d_reclen;
	d->pos = (long)de->d_off;
	return de;
}

/* Go to pos (0: the start), as seekdir(3) and rewinddir(3). */
static void tree_dir_seek(struct tree_dir *d, long pos)
{
	if (lseek(d->fd, (off_t)pos, SEEK_SET) == (off_t)pos)
		d->pos = pos;
	d->next = d->len = 0;
}

static int tree_statx(int dirfd, const char *name, int flags, struct statx *stx)
{
	if (statx(dirfd, name, flags | AT_NO_AUTOMOUNT, TREE_STATX_MASK, stx) < 0)
		return -errno;
	return 0;
}

static bool tree_is_mount_root(const struct statx *stx)
{
	return (stx->stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx->stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int tree_mount_of(int fd, struct statx *stx)
{
	return tree_statx(fd, "", AT_EMPTY_PATH, stx);
}

bool tree_crosses(const struct statx *ref, const struct statx *stx)
{
	if (tree_is_mount_root(stx))
		return true;
	if (stx->stx_dev_major != ref->stx_dev_major || stx->stx_dev_minor != ref->stx_dev_minor)
		return true;
	if ((stx->stx_mask & STATX_MNT_ID) && (ref->stx_mask & STATX_MNT_ID) &&
	    stx->stx_mnt_id != ref->stx_mnt_id)
		return true;
	return false;
}

/* A single path element that names an entry (not "", ".", ".." or a path). */
static bool tree_name_ok(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static bool tree_is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

static void tree_record(struct tree_walk *w, int err)
{
	if (!w->err)
		w->err = err;
}

static int tree_skip_add(struct tree_frame *fr, const char *name)
{
	char *copy;

	if (fr->nskip == fr->askip) {
		size_t n = fr->askip ? fr->askip * 2 : 8;
		char **s = realloc(fr->skip, n * sizeof(*s));

		if (!s)
			return -ENOMEM;
		fr->skip = s;
		fr->askip = n;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	fr->skip[fr->nskip++] = copy;
	return 0;
}

static bool tree_skip_has(const struct tree_frame *fr, const char *name)
{
	for (size_t i = 0; i < fr->nskip; i++)
		if (!strcmp(fr->skip[i], name))
			return true;
	return false;
}

/*
 * A child of fr stays in place: remember the first error, keep fr itself
 * (it cannot become empty) and never retry the child on a re-scan. Returns
 * -ENOMEM only if the child could not be remembered (the walk must stop, or
 * a re-scan could meet it forever).
 */
static int tree_child_failed(struct tree_walk *w, struct tree_frame *fr, const char *name, int err)
{
	tree_record(w, err);
	fr->failed = true;
	return tree_skip_add(fr, name);
}

static void tree_frame_free(struct tree_frame *fr)
{
	if (fr->dir)
		tree_dir_close(fr->dir);
	for (size_t i = 0; i < fr->nskip; i++)
		free(fr->skip[i]);
	free(fr->skip);
	free(fr->name);
	memset(fr, 0, sizeof(*fr));
}

static void tree_walk_free(struct tree_walk *w)
{
	while (w->depth)
		tree_frame_free(&w->f[--w->depth]);
	free(w->f);
	w->f = NULL;
	w->cap = 0;
}

/*
 * Push the directory open on fd (consumed) as a new deepest frame named name;
 * known: its statx when the caller has it. Returns -EBUSY if it is on
 * another mount (it is then not entered).
 */
static int tree_push(struct tree_walk *w, int fd, const char *name, const struct statx *known)
{
	struct tree_frame *fr;
	struct statx stx;
	int ret;

	if (known)
		stx = *known;
	else if ((ret = tree_statx(fd, "", AT_EMPTY_PATH, &stx)) < 0)
		goto out;
	if (w->depth && tree_crosses(&w->ref, &stx)) {
		ret = -EBUSY;
		goto out;
	}
	if (w->depth == w->cap) {
		size_t n = w->cap ? w->cap * 2 : 64;
		struct tree_frame *f = realloc(w->f, n * sizeof(*f));

		if (!f) {
			ret = -ENOMEM;
			goto out;
		}
		w->f = f;
		w->cap = n;
	}
	/* Keep the window: the shallowest open stream gives way to the new one. */
	if (w->depth - w->low >= TREE_OPEN_MAX) {
		struct tree_frame *old = &w->f[w->low];

		old->pos = old->dir->pos;
		tree_dir_close(old->dir);
		old->dir = NULL;
		w->low++;
	}
	fr = &w->f[w->depth];
	memset(fr, 0, sizeof(*fr));
	fr->dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	fr->ino = stx.stx_ino;
	fr->name = strdup(name);
	if (!fr->name) {
		ret = -ENOMEM;
		goto out;
	}
	fr->dir = tree_dir_open(fd);
	if (!fr->dir) {
		ret = -ENOMEM;
		free(fr->name);
		fr->name = NULL;
		goto out;
	}
	fd = -1;
	w->depth++;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Open frame idx again from the caller's dirfd, name by name, checking the
 * identity of every directory on the way (a concurrent remover took the
 * child whose ".." would have led there). Returns a descriptor or -errno.
 */
static int tree_open_by_names(struct tree_walk *w, size_t idx)
{
	struct stat st;
	int fd = -1, nfd, ret;

	for (size_t i = 0; i <= idx; i++) {
		nfd = openat(i ? fd : w->dirfd, w->f[i].name, TREE_DIR_O_CLOEXEC);
		if (nfd < 0) {
			ret = -errno;
			goto fail;
		}
		if (fd >= 0)
			close(fd);
		fd = nfd;
		if (fstat(fd, &st) < 0) {
			ret = -errno;
			goto fail;
		}
		if (st.st_dev != w->f[i].dev || st.st_ino != w->f[i].ino) {
			ret = -ESTALE;
			goto fail;
		}
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Re-open the parent of the deepest frame through its "..", check that it
 * is still the directory it was, and put its stream back where it was.
 */
static int tree_reopen_parent(struct tree_walk *w)
{
	struct tree_frame *c = &w->f[w->depth - 1];
	struct tree_frame *p = &w->f[w->depth - 2];
	struct stat st;
	const struct tree_dirent *de;
	int fd, ret;

	fd = openat(c->dir->fd, "..", TREE_DIR_O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		/* c was removed by someone else: its ".." leads nowhere now. */
		fd = tree_open_by_names(w, w->depth - 2);
		if (fd < 0)
			return fd;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (st.st_dev != p->dev || st.st_ino != p->ino) {
		ret = -ESTALE;
		goto out;
	}
	p->dir = tree_dir_open(fd);
	if (!p->dir) {
		ret = -ENOMEM;
		goto out;
	}
	fd = -1;
	w->low = w->depth - 2;
	if (w->remove) {
		/*
		 * Entries before the saved position are gone or in the skip list.
		 * A filesystem whose offsets do not survive re-opening could make
		 * seekdir skip live entries: one more pass from the start before
		 * the rmdir catches those, so correctness never rests on seekdir.
		 */
		tree_dir_seek(p->dir, p->pos);
		p->rescan = true;
		p->full_pass_owed = true;
		ret = 0;
		goto out;
	}
	/* Nothing was removed: resume right after the child, found by name. */
	for (;;) {
		errno = 0;
		de = tree_dir_read(p->dir);
		if (!de) {
			ret = errno ? -errno : -ESTALE;
			goto out;
		}
		if (!strcmp(de->d_name, c->name))
			break;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The deepest frame is done: leave it, and in remove mode remove it. */
static int tree_pop(struct tree_walk *w)
{
	struct tree_frame *c = &w->f[w->depth - 1];
	struct tree_frame *p;
	int ret;

	if (w->depth == 1) {
		tree_dir_close(c->dir);
		c->dir = NULL;
		if (w->remove && !c->failed && unlinkat(w->dirfd, c->name, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT)
			tree_record(w, -errno);
		tree_frame_free(c);
		w->depth--;
		return 0;
	}
	p = &w->f[w->depth - 2];
	if (!p->dir) {
		ret = tree_reopen_parent(w);
		if (ret < 0)
			return ret;
	}
	tree_dir_close(c->dir);
	c->dir = NULL;
	ret = 0;
	if (w->remove) {
		if (c->failed)
			ret = tree_child_failed(w, p, c->name, 0);
		else if (unlinkat(p->dir->fd, c->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			ret = tree_child_failed(w, p, c->name, -errno);
	}
	tree_frame_free(c);
	w->depth--;
	return ret;
}

/* Remove one entry of the deepest frame: unlink it, or enter it. */
static int tree_remove_entry(struct tree_walk *w, struct tree_frame *fr,
			     const struct tree_dirent *de)
{
	int dfd = fr->dir->fd;
	int fd, ret;

	/* An empty directory needs no walk (tree_remove). */
	if (de->d_type == DT_DIR &&
	    (unlinkat(dfd, de->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT))
		return 0;
	if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) {
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR)
			return tree_child_failed(w, fr, de->d_name, -errno);
		/* d_type was stale: it is a directory now. */
	}
	fd = openat(dfd, de->d_name, TREE_DIR_O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ELOOP)
			return tree_child_failed(w, fr, de->d_name, -errno);
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			return 0;
		return tree_child_failed(w, fr, de->d_name, -errno);
	}
	ret = tree_push(w, fd, de->d_name, NULL);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0)
		return tree_child_failed(w, fr, de->d_name, ret);
	return 0;
}

/* Look at one entry of the deepest frame for a mount point; enter directories. */
static int tree_walk_entry(struct tree_walk *w, struct tree_frame *fr, const struct tree_dirent *de)
{
	int dfd = fr->dir->fd;
	struct statx stx;
	int fd, ret;

	if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
		fd = openat(dfd, de->d_name, TREE_DIR_O_CLOEXEC);
		if (fd >= 0) {
			ret = tree_push(w, fd, de->d_name, NULL);
			if (ret == -EBUSY) {
				w->found = 1;
				return 0;
			}
			return ret;
		}
		if (errno == ENOENT)
			return 0;
		if (errno != ENOTDIR && errno != ELOOP)
			return -errno;
	}
	/* A file, a symlink...: a mount point only if something is mounted on it. */
	ret = tree_statx(dfd, de->d_name, AT_SYMLINK_NOFOLLOW, &stx);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (tree_crosses(&w->ref, &stx))
		w->found = 1;
	return 0;
}

/* Run the engine from its top frame until the stack is empty. */
static int tree_run(struct tree_walk *w)
{
	struct tree_frame *fr;
	const struct tree_dirent *de;
	int ret = 0;

	while (w->depth && !w->found) {
		fr = &w->f[w->depth - 1];
		errno = 0;
		de = tree_dir_read(fr->dir);
		if (!de) {
			if (errno) {
				if (!w->remove) {
					ret = -errno;
					break;
				}
				tree_record(w, -errno);
				fr->failed = true;
			} else if (fr->full_pass_owed) {
				fr->full_pass_owed = false;
				tree_dir_seek(fr->dir, 0);
				continue;
			}
			ret = tree_pop(w);
			if (ret < 0)
				break;
			continue;
		}
		if (tree_is_dot(de->d_name))
			continue;
		if (fr->rescan && tree_skip_has(fr, de->d_name))
			continue;
		ret = w->remove ? tree_remove_entry(w, fr, de) : tree_walk_entry(w, fr, de);
		if (ret < 0)
			break;
	}
	return ret;
}

/*
 * Open dirfd/name as the top of a walk. Returns 1 with the top pushed, 0 if
 * it is not a directory (*stx then describes it, unfollowed), or -errno;
 * -EBUSY if it is a directory on another mount than dirfd.
 */
static int tree_open_top(struct tree_walk *w, int dirfd, const char *name, struct statx *stx)
{
	struct statx parent;
	int fd, ret;

	if (!tree_name_ok(name))
		return -EINVAL;
	w->dirfd = dirfd;
	ret = tree_statx(dirfd, "", AT_EMPTY_PATH, &parent);
	if (ret < 0)
		return ret;
	fd = openat(dirfd, name, TREE_DIR_O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOTDIR && errno != ELOOP)
			return -errno;
		ret = tree_statx(dirfd, name, AT_SYMLINK_NOFOLLOW, stx);
		if (ret < 0)
			return ret;
		w->ref = parent;
		return 0;
	}
	ret = tree_statx(fd, "", AT_EMPTY_PATH, stx);
	if (ret < 0)
		goto out;
	if (tree_crosses(&parent, stx)) {
		ret = -EBUSY;
		goto out;
	}
	w->ref = *stx;
	ret = tree_push(w, fd, name, stx);
	fd = -1;
	if (ret == 0)
		ret = 1;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int tree_remove(int dirfd, const char *name)
{
	struct tree_walk w = {.remove = true};
	struct statx stx;
	int ret;

	/*
	 * An empty directory first: the rmdir(2) the walk would end with, and
	 * all it could do. The kernel refuses a mount point (EBUSY) and a
	 * symlink (ENOTDIR), and a directory that is not empty; every failure
	 * leaves the walk below to decide, as if it had not been tried.
	 */
	if (!tree_name_ok(name))
		return -EINVAL;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0)
		return 0;
	if (errno == ENOENT)
		return -ENOENT;
	ret = tree_open_top(&w, dirfd, name, &stx);
	if (ret < 0)
		goto out;
	if (ret == 0) {
		ret = unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
		goto out;
	}
	ret = tree_run(&w);
	if (ret == 0)
		ret = w.err;
	else if (w.err)
		ret = w.err;
out:
	tree_walk_free(&w);
	return ret;
}

int tree_walk_has_mounts(int dirfd, const char *name)
{
	struct tree_walk w = {.remove = false};
	struct statx stx;
	int ret;

	ret = tree_open_top(&w, dirfd, name, &stx);
	if (ret == -EBUSY) {
		ret = 1;
		goto out;
	}
	if (ret < 0)
		goto out;
	if (ret == 0) {
		ret = tree_crosses(&w.ref, &stx) ? 1 : 0;
		goto out;
	}
	ret = tree_run(&w);
	if (ret == 0)
		ret = w.found;
out:
	tree_walk_free(&w);
	return ret;
}
