/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The FUSE ceiling for stat(2) of bundles: a daemon that answers and does
 * nothing else. MOUNT/ns/b0000000 ... b<COUNT-1> (bench.c's names) are
 * empty directories of mode 0755, their entries and attributes cached for
 * a day; everything else is ENOENT. No store is read, nothing is kept per
 * inode. bench/ceiling.sh mounts it (with default_permissions, as
 * bundlefs) beside bundlefs and the store itself: what this daemon reaches
 * is what the kernel's FUSE path allows any daemon.
 *
 *   nullfs MOUNTPOINT [-f] [-s] [-o default_permissions] [--count=N]
 */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve.h"

#define NS_INO 2
#define FIRST_INO 3

static unsigned int count = 5000;

static void fill(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
}

/* b%07u below COUNT: its inode; 0 otherwise. */
static fuse_ino_t bundle_ino(const char *name)
{
	unsigned int i = 0;

	if (name[0] != 'b' || strlen(name) != 8)
		return 0;
	for (const char *p = name + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		i = i * 10 + (unsigned int)(*p - '0');
	}
	return i < count ? FIRST_INO + i : 0;
}

static void nl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.attr_timeout = e.entry_timeout = 86400;
	if (parent == FUSE_ROOT_ID && !strcmp(name, "ns"))
		e.ino = NS_INO;
	else if (parent == NS_INO)
		e.ino = bundle_ino(name);
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void nl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill(ino, &st);
	fuse_reply_attr(req, &st, 86400);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = nl_lookup,
    .getattr = nl_getattr,
    .forget = serve_forget,
};

static const struct fuse_opt opts[] = {
    {"--count=%u", 0, 0},
    FUSE_OPT_END,
};

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts o;
	int ret;

	if (fuse_parse_cmdline(&args, &o) != 0 || fuse_opt_parse(&args, &count, opts, NULL) != 0)
		return 1;
	if (!o.mountpoint) {
		fprintf(stderr, "usage: nullfs MOUNTPOINT [-f] [-s] [-o OPTS] [--count=N]\n");
		return 1;
	}
	ret = serve(&args, &ops, sizeof(ops), &o);
	free(o.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
