/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bundlefs daemon: shared state and the split between the VFS handlers
 * (ops.c), the overlay files of a bundle (overlay.c) and start-up (main.c).
 */
#ifndef BUNDLEFS_BFS_H
#define BUNDLEFS_BFS_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "store.h"

/* Kernel cache lifetimes: short enough that changes made in the backing store
 * by other processes show within one second (SPEC 6). */
#define BFS_ENTRY_TIMEOUT 0.5
#define BFS_ATTR_TIMEOUT 0.5

/* Written once at start-up, read-only afterwards. */
struct bfs {
	struct store st;
	char *mountpoint;     /* absolute */
	char *daemon_address; /* daemon_address= */
	char *socket_root;    /* socket_root= */
	char *runtime_root;   /* runtime_root= */
	char *criu;	      /* criu= */
	char *bundle_root;    /* bundle_root=, default: the state dir */
	bool systemd_cgroup;
	bool legacy_address;
	bool ro;
	bool is_root; /* the daemon can give new entries the caller's owner */
	uid_t euid;   /* the owner new entries get without a chown */
	gid_t egid;
};

extern struct bfs bfs;

/* Where a path points, decided once per request from the path alone. */
enum loc_kind {
	LOC_ROOT,    /* "/" */
	LOC_NS,	     /* "/<ns>", visible or hidden */
	LOC_NSENTRY, /* "/<ns>/<x>" with <ns> visible: a bundle if <x> is a visible directory */
	LOC_INSIDE,  /* below a bundle, or anywhere below a hidden entry */
};

struct overlay;

struct loc {
	const char *rel; /* the path without its leading '/': "" for the root */
	enum loc_kind kind;
	int depth; /* number of components */
	char ns[NAME_MAX + 1];
	char id[NAME_MAX + 1];	  /* the second component, if any */
	const struct overlay *ov; /* the overlay file this path names, if any */
};

/* 0, or -ENAMETOOLONG for a component longer than NAME_MAX. */
int loc_parse(const char *path, struct loc *l);

/* Open file state. Passthrough handles only use fd. */
struct bfs_file {
	struct bfs_file *prev, *next; /* open handles, protected by the registry lock */
	const struct overlay *ov;     /* NULL: passthrough */
	int fd;			      /* backing file, or the staging file */
	/* Overlay read snapshot (address, shim-config): what this open reads. */
	char *snap;
	size_t snaplen;
	/* Staged writes (config.json, address, runc-options). protected by lock */
	pthread_mutex_t lock;
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	int nsfd;	  /* S/<ns>, where a writable handle stages, or -1 */
	char tmpname[64]; /* staging file in S/<ns>, "" when none */
	bool dirty;	  /* staged content differs from the stored file */
	bool written;	  /* written to (or ftruncated) since open or the last commit */
	bool toobig;	  /* a write went past the size limit: nothing is committed */
	bool writable;
	bool created; /* the overlay file did not exist when this handle made it */
	uid_t uid;    /* the opener, owner of what it stores */
	gid_t gid;
};

static inline struct bfs_file *bfs_fh(struct fuse_file_info *fi)
{
	return (struct bfs_file *)(uintptr_t)fi->fh;
}

/*
 * Every open handle is registered, so that handles the kernel never
 * released (a lazy unmount with files still open) are freed at exit.
 */
void bfs_file_register(struct bfs_file *fh);
void bfs_file_unregister(struct bfs_file *fh);
void bfs_file_release_all(void);

/* The caller of the current request, as owner of what it creates. */
void bfs_owner(struct store_owner *own);

/* overlay.c: the overlay files of a bundle (SPEC 4.2-4.5). */
const struct overlay *overlay_find(const char *name);
bool overlay_is_virtual(const struct overlay *ov); /* may exist without a backing file */
int overlay_getattr(const struct loc *l, struct stat *st, struct bfs_file *fh);
int overlay_open(const struct loc *l, struct fuse_file_info *fi, bool create, mode_t mode);
int overlay_read(struct bfs_file *fh, char *buf, size_t size, off_t off);
int overlay_write(struct bfs_file *fh, const char *buf, size_t size, off_t off);
int overlay_truncate(const struct loc *l, off_t size, struct bfs_file *fh);
int overlay_flush(struct bfs_file *fh, const char *path);
void overlay_release(struct bfs_file *fh);
int overlay_fsync(struct bfs_file *fh, int datasync);
int overlay_unlink(const struct loc *l);
/* rename of dirfd/name (in the same bundle) over the overlay file of l. */
int overlay_rename_onto(const struct loc *to, int from_dirfd, const char *from_name, int to_dirfd,
			unsigned int flags);
bool overlay_may_rename_from(const struct overlay *ov);
bool overlay_may_setattr(const struct overlay *ov);
/* true if the bundle holds a stored regular file for this overlay file. */
bool overlay_stored(const struct loc *l);
/* Whether the backing entry dirfd/name (of type d_type, DT_*) shows as its overlay file. */
bool overlay_listed(const struct overlay *ov, int dirfd, const char *name, unsigned char d_type);

/* ops.c */
extern const struct fuse_operations bfs_ops;

#endif
