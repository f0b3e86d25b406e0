/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bundlefs daemon on libfuse's low-level API: the mount's state
 * (daemon.c holds it, start.c sets it) and the request handlers of the
 * operations table (ops.c), one file per request family. The node table is
 * node.h, reaching a node's backing entry resolve.h, the watcher watch.h,
 * names one process sees differently hold.h. Lock order and lifetimes:
 * docs/DESIGN.md.
 */
#ifndef BUNDLEFS_DAEMON_H
#define BUNDLEFS_DAEMON_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conf.h"
#include "node.h"

/*
 * Kernel cache lifetimes (SPEC 4.8). Entries and attributes that no watch
 * covers (everything below a bundle's own entries, and everything when the
 * watcher is off): short enough that changes made beside the mount show
 * within one second. What a watch covers is cached for BFS_WATCHED_TIMEOUT
 * (watch.h). Computed and overlay files: never cached, so what stat reports
 * is what a read returns at that moment (SPEC 4.1).
 */
#define BFS_ENTRY_TIMEOUT 0.5
#define BFS_ATTR_TIMEOUT 0.5
/* An overlay file's attributes in the reply to the create that made it (file.c). */
#define BFS_CREATED_ATTR_TIMEOUT 0.001

/* Written once at start-up, read-only afterwards (apply_umask: in init, before any request). */
struct bfs {
	struct bundle_conf conf; /* the store the mount serves (conf.h) */
	char *mountpoint;	 /* absolute */
	bool ro;
	struct fuse_session *se;
	/* The kernel sends modes without the caller's umask (POSIX ACLs on): apply it here. */
	bool apply_umask;
};

extern struct bfs bfs;

/* What every handler shares (daemon.c). */
/* The node ino names, or NULL after replying ESTALE (an id the table has forgotten). */
struct node *node_or_reply(fuse_req_t req, fuse_ino_t ino);
/* On a read-only mount every change fails with EROFS (SPEC 2): true after replying so. */
bool refused_ro(fuse_req_t req);
/* Reply ret: 0, or -errno as the error. */
void reply_result(fuse_req_t req, int ret);

/* The operations of the mount (ops.c), for fuse_session_new; the node view's are view.h's. */
extern const struct fuse_lowlevel_ops bfs_ll_ops;
/* The session's init and destroy (ops.c), for both tables. */
void bfs_init(void *userdata, struct fuse_conn_info *conn);
void bfs_destroy(void *userdata);

/*
 * The handlers, named after their operation, one file per request family.
 * Every handler replies exactly once, with no lock held.
 */
/* lookup.c: lookup and attributes */
void bfs_lookup(fuse_req_t req, fuse_ino_t pino, const char *name);
void bfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void bfs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void bfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi);
void bfs_readlink(fuse_req_t req, fuse_ino_t ino);
void bfs_statfs(fuse_req_t req, fuse_ino_t ino);
/* names.c: requests that change names */
void bfs_mknod(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode, dev_t rdev);
void bfs_mkdir(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode);
void bfs_symlink(fuse_req_t req, const char *target, fuse_ino_t pino, const char *name);
void bfs_unlink(fuse_req_t req, fuse_ino_t pino, const char *name);
void bfs_rmdir(fuse_req_t req, fuse_ino_t pino, const char *name);
void bfs_rename(fuse_req_t req, fuse_ino_t pino1, const char *n1, fuse_ino_t pino2, const char *n2,
		unsigned int flags);
void bfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t pino, const char *name);
/* xattr.c: extended attributes */
void bfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void bfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void bfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		  int flags);
void bfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* file.c: open files */
void bfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfs_create(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode,
		struct fuse_file_info *fi);
void bfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void bfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	       struct fuse_file_info *fi);
void bfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void bfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		   struct fuse_file_info *fi);
void bfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
/* dir.c: directories */
void bfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void bfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void bfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void bfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

#endif
