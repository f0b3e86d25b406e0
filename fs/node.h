/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node table: the daemon's picture of the inodes the kernel holds
 * (node.c: nodes and their names; handle.c: handles open on them;
 * watched.c: their watches). Every function takes the table lock itself
 * and returns with it dropped: callers never hold it. Lock order and
 * lifetimes: docs/DESIGN.md.
 */
#ifndef BUNDLEFS_NODE_H
#define BUNDLEFS_NODE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conf.h"
#include "overlay.h"

/*
 * Where a node sits in the tree, decided when the kernel first looks it up,
 * from its parent's kind and its own name (SPEC 3).
 */
/* One byte (packed): it is in every node (struct node). */
enum __attribute__((packed)) node_kind {
	NK_ROOT,    /* a store's root S: MOUNT itself, or a plugin directory of the node view */
	NK_NS,	    /* depth 1: a namespace, or a hidden entry beside them */
	NK_NSENTRY, /* depth 2 in a visible namespace: a bundle if a visible directory */
	NK_INSIDE,  /* below a bundle, or anywhere below a hidden entry: passthrough */
	NK_OVERLAY, /* an overlay file of a bundle (SPEC 4.1-4.5), a name, not an inode */
	/* The node view (SPEC 8, view.h): */
	NK_VIEWROOT, /* MOUNT itself, whose store is containerd's state and root */
	NK_VIEW,     /* pods/ and everything below it, leaks: names, not inodes */
};

struct handle;
struct alias;

/*
 * One node per kernel inode. A backing node stands for one inode of the
 * store (st_dev, st_ino, and its kind), whatever names it has, so that hard
 * links are one file to the kernel too; an overlay node stands for a name
 * of a bundle. No descriptor is held per node: requests reach the backing
 * entry by a name (resolve.c), or through a handle open on the node.
 */
struct node {
	fuse_ino_t id;
	/*
	 * The configuration of the store it belongs to (S, W, runtime, options):
	 * its parent's; the root's is the mount's store.
	 */
	const struct bundle_conf *conf;
	dev_t dev;
	ino_t ino;
	const struct ovl *ov; /* NK_OVERLAY: which overlay file */
	/* All fields above are set when the node is made and never change. */
	/* The fields below are protected by the table lock (node.c). */
	uint64_t nlookup;	/* the kernel's lookup count */
	unsigned long refs;	/* names of children naming it as parent, open handles */
	struct alias *aliases;	/* its names: (parent, name); none once unlinked */
	struct handle *handles; /* handles open on it */
	uint64_t content;	/* NK_OVERLAY: node_content_open's digest (0: none) */
	struct node *id_next, *ino_next, *wd_next;
	int wd; /* its inotify watch (> 0), or one of enum node_wd */
	/*
	 * Packed into the last 8 bytes, so that a node takes a 128-byte block
	 * of the allocator (there is one per inode the kernel holds). kind and
	 * type are set when the node is made and never change; the two bits,
	 * in a byte of their own, are protected by the table lock.
	 */
	uint16_t type; /* S_IFMT of the backing entry */
	enum node_kind kind;
	bool ino_hashed : 1; /* found by inode (not once its number is reused) */
	bool retired : 1;    /* no name of the kernel's leads to it any more: -ESTALE */
};

/* node->wd besides a watch descriptor. */
enum node_wd {
	WD_NONE = 0,	 /* not a watched directory, or not tried yet */
	WD_PENDING = -1, /* being added by the thread that made the node */
	WD_FAILED = -2,	 /* could not be watched, or the watch went: short lifetimes */
};

/* Open files and directories: fi->fh. */
enum handle_kind { H_FILE, H_OVERLAY, H_DIR, H_VIEW };

struct handle {
	enum handle_kind kind;
	int fd;		      /* H_FILE, H_DIR: the backing descriptor */
	struct ovl_file *ovf; /* H_OVERLAY */
	struct node *node;    /* the node it is open on (a reference) */
	struct handle *next;  /* on node->handles (not H_DIR); protected by the table lock */
	unsigned long pins;   /* uses by requests without fi; protected by the table lock */
	bool released;	      /* protected by the table lock */
	struct handle *all_prev, *all_next; /* every handle; protected by the table lock */
	/* H_DIR */
	struct dir_state *dir;
	/* H_VIEW: the node view's listing or text, one malloc'd block (view.h) */
	void *view;
	/*
	 * H_FILE: whether fd has O_DIRECT (the open asked for it); fd_other is
	 * the backing file opened the other way, once a request comes from a
	 * caller that turned O_DIRECT on or off with fcntl (-1 until then; set
	 * once, atomically; closed with the handle).
	 */
	bool direct;
	int fd_other;
	/* H_OVERLAY opened with the kernel's cache: its content's digest (else 0). */
	uint64_t digest;
};

/*
 * What the node table asks of the rest of the daemon, given at nodes_init so
 * that node.c calls no other file of it.
 */
struct node_hooks {
	/*
	 * Whether one of n's names that no request is removing still leads to
	 * n's inode (resolve_still_named). Called without the table lock.
	 */
	bool (*still_named)(struct node *n);
	/*
	 * Watch wd of node id goes with its node, or went (gone: the kernel
	 * removed it) (watch_forget). Called with the table lock held: it must
	 * not call back into the table.
	 */
	void (*unwatch)(int wd, fuse_ino_t id, bool gone);
};

/* node.c: the nodes and their names. Every function takes the table lock itself. */
/*
 * The root node, of kind (NK_ROOT, or NK_VIEWROOT for the node view) and
 * attributes root, in the store conf, the hooks copied.
 */
int nodes_init(const struct stat *root, const struct bundle_conf *conf,
	       const struct node_hooks *hooks, enum node_kind kind);
/* After the loop (one thread left): every node; handles_free_all first. */
void nodes_free_all(void);
struct node *node_find(fuse_ino_t id);
/* node_find with a reference, for a thread that no request of the kernel's keeps it for. */
struct node *node_hold(fuse_ino_t id);
void node_unhold(struct node *n);
/* The kind a child name of parent gets; *ov set for NK_OVERLAY. */
enum node_kind node_child_kind(struct node *parent, const char *name, const struct ovl **ov);
/*
 * Find or make the node for the entry name of parent with attributes st
 * (backing) or for overlay ov, record the name, count one lookup; *created
 * says the node was made now. NULL on ENOMEM. A node found by st's inode
 * number under other names only is the entry's if one of those names, not
 * being removed, still leads to that inode (the still_named hook): else the
 * number was reused and the entry gets a node of its own.
 */
struct node *node_attach(struct node *parent, const char *name, enum node_kind kind,
			 const struct stat *st, const struct ovl *ov, bool *created);
/*
 * node_attach with the store a node it makes belongs to (a plugin directory
 * of the node view is the root of a store of its own). NK_VIEW nodes are
 * names, as overlay nodes are: the one known by that name with the type of
 * st is taken, whatever st's inode.
 */
struct node *node_attach_conf(struct node *parent, const char *name, enum node_kind kind,
			      const struct stat *st, const struct ovl *ov,
			      const struct bundle_conf *conf, bool *created);
void node_forget(fuse_ino_t id, uint64_t nlookup);
/*
 * When the table has shrunk to half its size since the last time, give the
 * heap's free memory back to the system (malloc_trim). Called without the
 * table lock, after forgets.
 */
void node_trim(void);
/*
 * A request is about to remove parent/name (unlink, rmdir, a rename over
 * it), which may free its inode's number: until node_name_gone (removed)
 * or node_name_kept (the removal failed), no entry is given the node by
 * that number through this name.
 */
void node_name_going(struct node *parent, const char *name);
void node_name_kept(struct node *parent, const char *name);
/* A name is gone (unlink, rmdir, or found stale). */
void node_name_gone(struct node *parent, const char *name);
/* The id of the parent of n's first name, 0 when it has none. */
fuse_ino_t node_parent_id(struct node *n);
/*
 * The file named name in parent was stored as a copy under an overlay name
 * (SPEC 4.2): the kernel still has its inode under that name and perhaps
 * under others. Its node loses every name and is found by inode no more;
 * requests by name answer -ESTALE, so the kernel looks each name up again.
 */
void node_name_retire(struct node *parent, const char *name);
/* n is reached through its open handles only: no name is left and it is not retired. */
bool node_by_handle(struct node *n);
/* Forget n's first name (found stale); -ENOENT when no other name is left. */
int node_drop_first_name(struct node *n);
/* rename(2) succeeded: move (or with exchange, swap) the names. */
void node_renamed(struct node *p1, const char *n1, struct node *p2, const char *n2, bool exchange);
/*
 * The path of n below the store's root ("" for the root), from its first
 * name, malloc'd. -ENOENT when n or an ancestor has no name left; -ESTALE
 * when n is retired.
 */
int node_path(struct node *n, char **path, size_t *len);
/*
 * The same for n's i-th name that no request is removing: -ENOENT when n has
 * no such name, -ESTALE when an ancestor of it has no name left.
 */
int node_live_name_path(struct node *n, unsigned i, char **path, size_t *len, char **base);
/* The name of a namespace node, and for a node at depth 2 its ns and id. */
int node_bundle_names(struct node *n, char *ns, char *id);
bool node_is_bundle(struct node *n);
/* The depth-2 ancestor (or n itself) that a passthrough rename must stay in. */
struct node *node_bundle_of(struct node *n);
/*
 * Whether regular file n has a name directly in a bundle directory: its
 * first such name into name (NAME_MAX + 1 bytes), the bundle's id into
 * *dir and store into *conf (a file that address or shim-config may be
 * computed from: watch_written).
 */
bool node_bundle_file(struct node *n, fuse_ino_t *dir, const struct bundle_conf **conf, char *name);
/*
 * handle.c: handles open on nodes. A new handle (fd -1, nothing open), or
 * NULL on ENOMEM.
 */
struct handle *handle_new(enum handle_kind kind);
/* h is open on n: it holds a reference to n until node_handle_release. */
void node_handle_add(struct node *n, struct handle *h);
/* Remove h from its node; true when h can be freed now (no pins). */
bool node_handle_release(struct handle *h);
/*
 * A handle open on n, pinned, or NULL: with H_FILE one with a backing
 * descriptor (H_FILE or H_DIR), with H_OVERLAY an overlay handle.
 */
struct handle *node_handle_pin(struct node *n, enum handle_kind kind);
/*
 * A writable open of overlay node n, pinned, or NULL: what a chmod, chown,
 * utimens or extended attribute of n applies to while a writer has the file
 * open (cp -p, tar and mv set them between their writes and the close), so
 * that the commit stores them with the content.
 */
struct handle *handle_pin_writer(struct node *n);
void handle_unpin(struct handle *h);
/* A pin on h, which a request holds through fi (handle_unpin drops it). */
void handle_hold(struct handle *h);
/*
 * The kernel's pages of overlay node n: an open of it with content of
 * digest d (never 0) may keep them (true) when d is what they hold, that is
 * what the last such open saw, with no read of other content since; d is
 * recorded. node_content_read: a read of n served content of digest d,
 * which the pages now hold if it differs (a handle opened before a change):
 * the next open drops them.
 */
bool node_content_open(struct node *n, uint64_t d);
void node_content_read(struct node *n, uint64_t d);
/* Close and free a handle nothing uses any more. */
void handle_free(struct handle *h);
/* After the loop: close the handles the kernel never released (a lazy unmount). */
void handles_free_all(void);
/* The handle of an open file or directory: fi->fh. */
static inline struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

/* watched.c: the watches of nodes, for the watcher (watch.c). */
/* What node_watch_claim may claim (or'ed). */
enum { NODE_NAMESPACE = 1, NODE_BUNDLE = 2, NODE_ROOT = 4 };
/*
 * n is a visible namespace, a bundle or a store's root (as which asks) without a watch: its
 * watch is marked pending (WD_PENDING) and true returned; the caller adds it
 * and records it with node_set_wd (watch.c decides when).
 */
bool node_watch_claim(struct node *n, unsigned which);
/* Watches (watch.c): n's watch is wd (> 0) or WD_FAILED. */
void node_set_wd(struct node *n, int wd);
/*
 * The kernel removed watches wds[0..n) (IN_IGNORED): their nodes are no
 * longer watched. One lock for them all: a forget of many nodes removes
 * their watches under the table lock, and the watcher must keep up with
 * the IN_IGNORED each removal queues. The ids of the nodes that still had
 * one of them (the kernel removed it, not a forget) go to ids (n entries);
 * returns how many.
 */
size_t node_wds_gone(const int *wds, size_t n, fuse_ino_t *ids);
/* The node id watched by wd (0: none), whether it is a bundle, and its store. */
fuse_ino_t node_of_wd(int wd, bool *is_bundle, const struct bundle_conf **conf);
/* Whether the node known by name in parent has its watch, or had one tried (not WD_NONE). */
bool node_child_watched(struct node *parent, const char *name);
/* The id of the node known by name in parent (0: none), and whether it is an overlay node. */
fuse_ino_t node_child_id(fuse_ino_t parent, const char *name, bool *overlay);
/*
 * The ids of the overlay nodes called name of every bundle of the namespace
 * that holds bundle (its own included): *ids malloc'd, *n of them. -ENOMEM.
 */
int node_namespace_overlays(fuse_ino_t bundle, const char *name, fuse_ino_t **ids, size_t *n);
/*
 * What watches cover n, read under one lock: n itself is watched (self),
 * the directory holding n's first name is (parent), and whether either is a
 * bundle not watched yet (self_later, parent_later: watch_touch will watch it).
 */
struct watch_state {
	bool self, parent, self_later, parent_later;
};
void node_watch_state(struct node *n, struct watch_state *w);
/*
 * The nodes roots[0..nroots) that the table still has (never the root) and,
 * with walk, the nodes named below them, a few levels deep, children before
 * their parents: *ids malloc'd, *count of them. -ENOMEM. Finding the
 * children walks every name the table knows (with the table lock held),
 * once per level, when a root has any.
 */
int node_subtrees(const fuse_ino_t *roots, size_t nroots, bool walk, fuse_ino_t **ids,
		  size_t *count);
/* A name (or, with name "", a watched directory itself) the watcher knows of. */
struct node_name {
	fuse_ino_t parent; /* the directory; with name "", the watched node itself */
	fuse_ino_t child;  /* the node of the name, 0 for a watched directory */
	char name[NAME_MAX + 1];
};
/* Every watched directory and every known name in one (after lost events); malloc'd. */
int node_watched_names(struct node_name **names, size_t *count);
/* Every name of an NK_VIEW node, for the node view's invalidations; malloc'd. */
int node_view_names(struct node_name **names, size_t *count);

#endif
