/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The least FUSE daemon over a bundle store: it does the store's work that
 * bench/run.sh's rows need, and nothing else. MOUNT/ns is the store's
 * namespace S/<ns>. A lookup there is one fstatat(2) of the name in it
 * (bench.c's cold stat), entries and attributes cached for a day. mkdir
 * makes S/<id> (0700), W/<id> (0711) and S/<id>/rootfs (0711) as newBundle
 * does, config.json is created, written and closed in place, and rmdir is
 * bundle.Delete: a look for the address, then each of S/<id> and W/<id>
 * renamed to .<id> and removed: the system calls of bench.c's direct cycle
 * (the C program), in its order. No atomic skeleton, no validation, no
 * watch, no check of what is mounted, no overlay file. bench/ceiling.sh
 * mounts it (with default_permissions, as bundlefs) beside bundlefs and the
 * null daemon: what it reaches is what the kernel's FUSE path allows a
 * daemon that does the store's work.
 *
 *   leastfs MOUNTPOINT --state=S_NS --work=W_NS [-f] [-s] [-o OPTS]
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

#define NS_INO 2
#define BUCKETS (1u << 18)
#define DAY 86400

/*
 * A looked-up or made entry of the namespace (a bundle) or of a bundle: kept
 * until its rmdir (forgets are ignored: a benchmark's store is bounded).
 */
struct node {
	fuse_ino_t ino;
	fuse_ino_t parent;
	struct node *by_ino, *by_name; /* hash chains */
	char name[];
};

static struct node *ino_hash[BUCKETS], *name_hash[BUCKETS];
static fuse_ino_t next_ino = NS_INO + 1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int sfd = -1, wfd = -1; /* S/<ns> and W/<ns> */

static unsigned int name_bucket(fuse_ino_t parent, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)parent;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h & (BUCKETS - 1);
}

/* Under lock: the node of ino, or NULL. */
static struct node *find_ino(fuse_ino_t ino)
{
	struct node *n = ino_hash[ino & (BUCKETS - 1)];

	while (n && n->ino != ino)
		n = n->by_ino;
	return n;
}

/* Under lock: the node named name in parent, or NULL. */
static struct node *find_name(fuse_ino_t parent, const char *name)
{
	struct node *n = name_hash[name_bucket(parent, name)];

	while (n && (n->parent != parent || strcmp(n->name, name)))
		n = n->by_name;
	return n;
}

/* The inode of name in parent, made if new; 0 when out of memory. */
static fuse_ino_t node_get(fuse_ino_t parent, const char *name)
{
	struct node *n;
	unsigned int b;
	fuse_ino_t ino;

	pthread_mutex_lock(&lock);
	n = find_name(parent, name);
	if (!n && (n = malloc(sizeof(*n) + strlen(name) + 1))) {
		n->ino = next_ino++;
		n->parent = parent;
		strcpy(n->name, name);
		b = name_bucket(parent, name);
		n->by_name = name_hash[b];
		name_hash[b] = n;
		n->by_ino = ino_hash[n->ino & (BUCKETS - 1)];
		ino_hash[n->ino & (BUCKETS - 1)] = n;
	}
	ino = n ? n->ino : 0;
	pthread_mutex_unlock(&lock);
	return ino;
}

/* Under lock: take name in parent out of both chains and free it. */
static void node_drop(fuse_ino_t parent, const char *name)
{
	struct node **p = &name_hash[name_bucket(parent, name)], *n;

	while (*p && ((*p)->parent != parent || strcmp((*p)->name, name)))
		p = &(*p)->by_name;
	if (!(n = *p))
		return;
	*p = n->by_name;
	for (p = &ino_hash[n->ino & (BUCKETS - 1)]; *p != n; p = &(*p)->by_ino)
		;
	*p = n->by_ino;
	free(n);
}

/* The node's path relative to S/<ns> into buf. */
static int node_path(fuse_ino_t ino, char *buf, size_t size)
{
	struct node *n, *b;
	int ret = -ENOENT;

	pthread_mutex_lock(&lock);
	n = find_ino(ino);
	if (n && n->parent == NS_INO)
		ret = snprintf(buf, size, "%s", n->name);
	else if (n && (b = find_ino(n->parent)))
		ret = snprintf(buf, size, "%s/%s", b->name, n->name);
	pthread_mutex_unlock(&lock);
	if (ret >= (int)size)
		ret = -ENAMETOOLONG;
	return ret < 0 ? ret : 0;
}

/* Path of name in parent, relative to S/<ns>, into buf. */
static int child_path(fuse_ino_t parent, const char *name, char *buf, size_t size)
{
	size_t len;
	int ret;

	if (parent == NS_INO) {
		ret = snprintf(buf, size, "%s", name);
		return ret < (int)size ? 0 : -ENAMETOOLONG;
	}
	ret = node_path(parent, buf, size);
	if (ret < 0)
		return ret;
	len = strlen(buf);
	ret = snprintf(buf + len, size - len, "/%s", name);
	return ret < (int)(size - len) ? 0 : -ENAMETOOLONG;
}

static int ino_stat(fuse_ino_t ino, struct stat *st)
{
	char path[PATH_MAX];
	int ret;

	if (ino == FUSE_ROOT_ID || ino == NS_INO) {
		if (fstat(sfd, st) < 0)
			return -errno;
	} else if ((ret = node_path(ino, path, sizeof(path))) < 0) {
		return ret;
	} else if (fstatat(sfd, path, st, AT_SYMLINK_NOFOLLOW) < 0) {
		return -errno;
	}
	st->st_ino = ino;
	return 0;
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino, struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.attr = *st;
	e.ino = e.attr.st_ino = ino;
	e.attr_timeout = e.entry_timeout = DAY;
	fuse_reply_entry(req, &e);
}

/* One fstatat(2) of the name in the store. */
static void lf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	fuse_ino_t ino;
	int ret;

	if (parent == FUSE_ROOT_ID) {
		if (strcmp(name, "ns") || fstat(sfd, &st) < 0)
			fuse_reply_err(req, strcmp(name, "ns") ? ENOENT : errno);
		else
			reply_entry(req, NS_INO, &st);
		return;
	}
	if ((ret = child_path(parent, name, path, sizeof(path))) < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (fstatat(sfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	ino = node_get(parent, name);
	if (!ino)
		fuse_reply_err(req, ENOMEM);
	else
		reply_entry(req, ino, &st);
}

static void lf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret;

	(void)fi;
	ret = ino_stat(ino, &st);
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, DAY);
}

static void lf_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct stat st;
	fuse_ino_t ino;
	int bfd, ret;

	(void)mode;
	if (parent != NS_INO) {
		fuse_reply_err(req, EPERM);
		return;
	}
	/* newBundle: S/<id> 0700, W/<id> 0711, S/<id>/rootfs 0711. */
	if (mkdirat(sfd, name, 0700) < 0 || mkdirat(wfd, name, 0711) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	bfd = openat(sfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	ret = mkdirat(bfd, "rootfs", 0711) < 0 ? errno : 0;
	close(bfd);
	if (ret) {
		fuse_reply_err(req, ret);
		return;
	}
	ino = node_get(NS_INO, name);
	if (!ino)
		fuse_reply_err(req, ENOMEM);
	else if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		fuse_reply_err(req, errno);
	else
		reply_entry(req, ino, &st);
}

static void lf_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	char path[PATH_MAX];
	fuse_ino_t ino;
	int fd, ret;

	(void)mode;
	if ((ret = child_path(parent, name, path, sizeof(path))) < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fd = openat(sfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	memset(&e, 0, sizeof(e));
	ino = node_get(parent, name);
	if (!ino || fstat(fd, &e.attr) < 0) {
		close(fd);
		fuse_reply_err(req, ino ? errno : ENOMEM);
		return;
	}
	e.ino = e.attr.st_ino = ino;
	e.attr_timeout = e.entry_timeout = DAY;
	fi->fh = (uint64_t)fd;
	fuse_reply_create(req, &e, fi);
}

static void lf_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t n = pwrite((int)fi->fh, buf, size, off);

	(void)ino;
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void lf_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void lf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, close((int)fi->fh) < 0 ? errno : 0);
}

/* os.RemoveAll of a small tree, as bench.c's remove_all. */
static int remove_all(int parent, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (ret == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = remove_all(dirfd(d), de->d_name);
	closedir(d);
	if (ret == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0)
		ret = -errno;
	return ret;
}

static int atomic_delete(int nsfd, const char *id)
{
	char hidden[80];

	snprintf(hidden, sizeof(hidden), ".%s", id);
	if (renameat(nsfd, id, nsfd, hidden) < 0)
		return -errno;
	return remove_all(nsfd, hidden);
}

static void lf_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	char path[160], buf[256];
	struct node *n;
	int fd, ret, ret2;

	if (parent != NS_INO || strlen(name) > 64) {
		fuse_reply_err(req, parent != NS_INO ? EPERM : ENAMETOOLONG);
		return;
	}
	/* Delete: loadAddress (absent here), then both atomic deletes. */
	snprintf(path, sizeof(path), "%s/address", name);
	fd = openat(sfd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf)) < 0)
			fprintf(stderr, "leastfs: read %s: %m\n", path);
		close(fd);
	}
	ret = atomic_delete(sfd, name);
	ret2 = atomic_delete(wfd, name);
	if (ret == 0) {
		/* What the cycle and the stat rows look up in a bundle, then it. */
		pthread_mutex_lock(&lock);
		if ((n = find_name(NS_INO, name))) {
			node_drop(n->ino, "config.json");
			node_drop(n->ino, "rootfs");
			node_drop(n->ino, "address");
			node_drop(NS_INO, name);
		}
		pthread_mutex_unlock(&lock);
	}
	fuse_reply_err(req, -(ret ? ret : ret2));
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = lf_lookup,
    .forget = serve_forget,
    .getattr = lf_getattr,
    .mkdir = lf_mkdir,
    .rmdir = lf_rmdir,
    .create = lf_create,
    .write = lf_write,
    .flush = lf_flush,
    .release = lf_release,
};

struct lf_opts {
	char *state, *work;
};

static const struct fuse_opt opts[] = {
    {"--state=%s", offsetof(struct lf_opts, state), 0},
    {"--work=%s", offsetof(struct lf_opts, work), 0},
    FUSE_OPT_END,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts o;
	struct lf_opts c = {NULL, NULL};
	int ret = 1;

	if (fuse_parse_cmdline(&args, &o) != 0 || fuse_opt_parse(&args, &c, opts, NULL) != 0)
		return 1;
	if (!o.mountpoint || !c.state || !c.work) {
		fprintf(stderr, "usage: leastfs MOUNTPOINT --state=S_NS --work=W_NS [-f] [-s] "
				"[-o OPTS]\n");
		goto out;
	}
	sfd = open(c.state, O_PATH | O_DIRECTORY | O_CLOEXEC);
	wfd = open(c.work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || wfd < 0) {
		fprintf(stderr, "leastfs: %s: %m\n", sfd < 0 ? c.state : c.work);
		goto out;
	}
	ret = serve(&args, &ops, sizeof(ops), &o);
out:
	free(o.mountpoint);
	free(c.state);
	free(c.work);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
