/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Directories: opendir, readdir and readdirplus, releasedir, fsyncdir.
 * Plain directories list with the backing directory's own offsets; a
 * bundle's listing is core's (bundle_list: its computed files added, a
 * hidden work link left out).
 */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundledir.h"
#include "lookup.h"
#include "resolve.h"
#include "watch.h"

/*
 * An open directory. Plain directories are read in the backing directory's
 * own order and offsets (getdents64's d_off), continuing from the records a
 * full reply left over. A bundle's listing is made once, at offset 0, with
 * its computed files added, and served by index.
 */
struct dir_state {
	off_t next; /* the offset the kernel asks for to get ents[at] */
	size_t len; /* bytes of dirent64 records in ents */
	size_t at;  /* the first record not yet sent */
	char ents[8192];
	bool bundle;
	struct bundle_entry *list; /* a bundle's listing (bundledir.h) */
	size_t nlist;
};

static void dir_list_free(struct dir_state *d)
{
	bundle_list_free(d->list, d->nlist);
	d->list = NULL;
	d->nlist = 0;
}

void bfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h;
	int fd;
	struct node *n = node_or_reply(req, ino);

	if (!n)
		return;

	if (n->kind == NK_OVERLAY) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* A bundle listed is watched from now on, so that its listing may be kept. */
	watch_touch(n);
	fd = resolve_open(n, O_RDONLY | O_DIRECTORY, NULL);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	h = handle_new(H_DIR);
	if (h)
		h->dir = calloc(1, sizeof(*h->dir));
	if (!h || !h->dir) {
		free(h);
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->fd = fd;
	h->dir->bundle = node_is_bundle(n);
	node_handle_add(n, h);
	fi->fh = (uintptr_t)h;
	/*
	 * A watched directory's listing may be kept by the kernel: every change
	 * beside the mount invalidates the directory's pages and attributes
	 * (watch.c), every change through it bumps the kernel's own version,
	 * and a listing from offset 0 rechecks the mtime first.
	 */
	{
		struct watch_state w;

		node_watch_state(n, &w);
		if (w.self) {
			fi->cache_readdir = 1;
			fi->keep_cache = 1;
		}
	}
	fuse_reply_open(req, fi);
}

/* Add one entry to the reply; false when it does not fit (nothing is counted then). */
static bool add_entry(fuse_req_t req, struct node *dir, int dirfd, char *buf, size_t size,
		      size_t *used, const char *name, ino_t ino, unsigned char type, off_t next,
		      bool plus)
{
	struct fuse_entry_param e;
	size_t need;

	if (!plus) {
		struct stat st = {.st_ino = ino, .st_mode = (mode_t)DTTOIF(type)};

		need = fuse_add_direntry(req, buf + *used, size - *used, name, &st, next);
		if (need > size - *used)
			return false;
		*used += need;
		return true;
	}
	memset(&e, 0, sizeof(e));
	if (strcmp(name, ".") && strcmp(name, "..")) {
		/* An entry that vanished since getdents is listed without attributes. */
		if (lookup_entry(NULL, dir, dirfd, name, &e) < 0)
			memset(&e, 0, sizeof(e));
	}
	if (!e.ino) {
		e.attr.st_ino = ino;
		e.attr.st_mode = (mode_t)DTTOIF(type);
	}
	need = fuse_add_direntry_plus(req, buf + *used, size - *used, name, &e, next);
	if (need > size - *used) {
		if (e.ino)
			node_forget(e.ino, 1);
		return false;
	}
	*used += need;
	return true;
}

static int readdir_stream(fuse_req_t req, struct node *dir, struct handle *h, char *buf,
			  size_t size, size_t *used, off_t off, bool plus)
{
	struct dir_state *d = h->dir;

	if (off != d->next || d->at > d->len) {
		if (lseek(h->fd, off, SEEK_SET) < 0)
			return -errno;
		d->next = off;
		d->len = d->at = 0;
	}
	for (;;) {
		if (d->at == d->len) {
			ssize_t n = getdents64(h->fd, d->ents, sizeof(d->ents));

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

		if (!add_entry(req, dir, h->fd, buf, size, used, de->d_name, de->d_ino, de->d_type,
			       de->d_off, plus))
			return 0; /* the reply is full: this record goes out next time */
		d->at += de->d_reclen;
		d->next = de->d_off;
	}
}

static int readdir_bundle(fuse_req_t req, struct node *dir, struct handle *h, char *buf,
			  size_t size, size_t *used, off_t off, bool plus)
{
	struct dir_state *d = h->dir;
	int ret;

	if (off == 0 || !d->list) {
		dir_list_free(d);
		ret = bundle_list(dir->conf, h->fd, &d->list, &d->nlist);
		if (ret < 0)
			return ret;
	}
	for (size_t i = (size_t)off; i < d->nlist; i++)
		if (!add_entry(req, dir, h->fd, buf, size, used, d->list[i].name, d->list[i].ino,
			       d->list[i].type, (off_t)i + 1, plus))
			break;
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct handle *h = handle_of(fi);
	size_t used = 0;
	char *buf;
	int ret;
	struct node *n = node_or_reply(req, ino);

	if (!n)
		return;

	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (h->dir->bundle)
		ret = readdir_bundle(req, n, h, buf, size, &used, off, plus);
	else
		ret = readdir_stream(req, n, h, buf, size, &used, off, plus);
	/* Entries already in the reply were counted as lookups: send them. */
	if (ret < 0 && used == 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void bfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void bfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void bfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	dir_list_free(h->dir);
	if (node_handle_release(h))
		handle_free(h);
	fuse_reply_err(req, 0);
}

void bfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	(void)ino;
	fuse_reply_err(req, (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? errno : 0);
}
