/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node view's own state (view.h), shared by its files: viewstore.c
 * (the plugins and their stores), viewtree.c (MOUNT, pods/ and leaks as
 * requests see them), viewops.c (the operations table), viewindex.c (the
 * pods index following the stores, and the kernel's caches following the
 * index) and viewleaks.c (rendering leaks). Private to them.
 *
 * Locks, all leaves, none held while another is taken: stores_lock
 * (viewstore.c) over each plugin's current store and the list of stores;
 * the pods index's own (never called with the table lock held: it reads
 * files); sync_lock (viewindex.c) over what the kernel was last told of
 * pods/; the leaks queue's (viewleaks.c).
 */
#ifndef BUNDLEFS_VIEWINT_H
#define BUNDLEFS_VIEWINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "daemon.h"
#include "pods.h"
#include "view.h"

/* containerd's plugins whose directories hold bundles (SPEC 8.2), in MOUNT's order. */
#define VIEW_SB_PLUGIN "io.containerd.sandbox.controller.v1.shim"
#define VIEW_NPLUGINS 3

struct view_store;

struct view_plugin {
	const char *name;	      /* its directory in C_S and C_R */
	enum bundle_runtime runtime;  /* the rules of its bundles */
	char *state_path, *work_path; /* Join(C_S, name), Join(C_R, name) */
	char *mount;		      /* Join(MOUNT, name) */
	struct view_store *current;   /* its store, NULL until opened; by stores_lock */
};

/*
 * The store of a plugin directory, as it was when opened; a new one is
 * opened when the directory is made again. Kept until view_free: nodes of
 * the old directory may still point to it.
 */
struct view_store {
	struct bundle_conf conf; /* first: a node's conf is one of these */
	struct view_plugin *plugin;
	dev_t dev; /* the directory S */
	ino_t ino;
	struct view_store *next; /* every store opened; by stores_lock */
};

struct view {
	bool on;
	struct view_plugin plugins[VIEW_NPLUGINS];
	struct conf_options opts; /* what the plugin stores are opened with */
	struct pods *pods;
	struct timespec started; /* the times of the view's own directories */
	/* Set at start-up, read-only afterwards. */
	struct fuse_session *se;
};

extern struct view view;

/* viewstore.c */
/* The plugin whose directory is name, or NULL. */
struct view_plugin *view_plugin_named(const char *name);
/* The plugin a store of the view belongs to (conf: a node's), or NULL (MOUNT's). */
struct view_plugin *view_plugin_of(const struct bundle_conf *conf);
/*
 * The store of plugin pl whose directory C_S/PLUGIN has attributes st (the
 * current one, or one opened now). NULL when it cannot be opened (logged).
 */
const struct bundle_conf *view_store_for(struct view_plugin *pl, const struct stat *st);
/*
 * The store of pl's directory as it is now (its attributes in *st when st
 * is given): -ENOENT when C_S/PLUGIN is no directory, -errno.
 */
int view_store_now(struct view_plugin *pl, const struct bundle_conf **conf, struct stat *st);
int view_stores_init(void);
void view_stores_free(void);

/* viewtree.c: the requests about the view's own nodes. */
void vt_lookup(fuse_req_t req, struct node *parent, const char *name);
void vt_getattr(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void vt_readlink(fuse_req_t req, struct node *n);
void vt_opendir(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void vt_readdir(fuse_req_t req, struct node *n, size_t size, off_t off, struct fuse_file_info *fi,
		bool plus);
void vt_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void vt_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void vt_release(fuse_req_t req, struct fuse_file_info *fi);
/* The attributes of n as the view shows them; 0, -ESTALE when it is gone. */
int vt_stat(struct node *n, struct stat *st);

/* viewindex.c */
int view_index_init(void);
int view_index_start(void);
void view_index_stop(void);
void view_index_free(void);
/* Whether the index follows the stores by their events: view nodes may be cached long. */
bool view_index_live(void);
/*
 * Handle the events queued on the index's instance now, then view_sync: a
 * change whose call returned (through the mount or beside it) is in the
 * index. For a request about pods/, before it answers.
 */
void view_index_drain(void);
/* Rescan every plugin when the last rescan is older than a second (a listing in pods/). */
void view_index_rescan_stale(void);
/*
 * Tell the kernel what changed in the index since last time: the
 * attributes of the view's nodes whose listing or target changed.
 * Attributes only, of nodes without pages: never blocks (fuse_lowlevel.h),
 * so a handler may call it. No lock held.
 */
void view_sync(void);

/* viewleaks.c */
int view_leaks_start(void);
void view_leaks_stop(void);
/* Render leaks for an open of node n; the reply comes from the renderer's thread. */
void view_leaks_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);

/* The text a H_VIEW handle holds (leaks, or a listing's names). */
struct view_text {
	size_t len;
	char text[];
};

#endif
