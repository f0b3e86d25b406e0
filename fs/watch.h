/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Following changes made beside the mount (SPEC 4.8). One inotify instance
 * and one eventfd for the daemon's life; a watch on each structural
 * directory the kernel holds a node for (the root S, the namespaces, the
 * bundles), added when the node is made and removed when it is freed, so
 * that the watches never outnumber the nodes. A thread of its own turns
 * events into the kernel's invalidations; with it, the entries and
 * attributes that the watches cover are cached long (BFS_WATCHED_TIMEOUT),
 * everything else keeps the short lifetimes of daemon.h.
 */
#ifndef BUNDLEFS_WATCH_H
#define BUNDLEFS_WATCH_H

#include <stdbool.h>
#include <sys/stat.h>

#include "node.h"

struct fuse_session;

/* The long lifetime of what a watch covers: changes are invalidated as they happen. */
#define BFS_WATCHED_TIMEOUT 30.0
/*
 * A bundle gets its watch at its first lookup, or, made through the mount,
 * when it is used again (watch_touch); until then (or when its watch
 * failed) it and its entries are cached this long, so that changes beside
 * the mount still show within 100 ms (SPEC 4.8).
 */
#define BFS_UNWATCHED_BUNDLE_TIMEOUT 0.1
/*
 * Woken by a first event, the watcher lets the rest of a burst arrive for
 * this long (nanoseconds) before it drains and acts: one wake-up and one
 * invalidation per directory for the several events of one operation
 * (containerd's, or the daemon's own), at 2 ms of the 100 ms SPEC 4.8 allows.
 */
#define BFS_WATCH_SETTLE_NS 2000000L

/*
 * Open the inotify instance and the eventfd; add at most limit watches
 * (limit < 0: no cap but the system's). Without inotify (EMFILE, ENOSYS)
 * the daemon runs with the short lifetimes everywhere: logged, returns 0.
 */
int watch_init(long limit);
/* The thread: after the session is mounted (and after daemonizing). */
int watch_start(struct fuse_session *se);
/*
 * Stop and join the thread, before the session is destroyed. -ETIMEDOUT
 * when it stays blocked in the kernel (an invalidation waiting on a request
 * the stopped loop never answers): the session must then be left alone.
 */
int watch_stop(void);
void watch_close(void);

/*
 * Before a lookup reads the attributes of name in the open directory dirfd
 * (a child of parent, of kind; key: dirfd's nsdir_key, 0 for the caller's
 * own descriptor): when it may be a namespace or a bundle whose node has no
 * watch yet, its watch is added now, by name, so that no change after the
 * read goes unreported; the watch descriptor, or 0 when none was added, or
 * -ENOENT when name was found absent (its lookup is then done). The caller
 * hands a descriptor to watch_attached.
 */
int watch_ahead(struct node *parent, enum node_kind kind, int dirfd, unsigned long key,
		const char *name);
/*
 * A lookup attached node n as name in the open directory dirfd (-1: not
 * open; key as for watch_ahead), with ahead the watch watch_ahead added (0:
 * none). A namespace is watched while the kernel holds it, from its first
 * lookup; a bundle too when bundle is set (a lookup: every later stat,
 * listing and path walk through it is then the kernel's alone until
 * something changes), else once it is used again (watch_touch: a bundle
 * just made through the mount costs no watch). n takes the watch ahead, or
 * it is removed again. True when a watch was added now, after the caller
 * read n's attributes (it reads them again). Called without the table
 * lock; short lifetimes for n's children when the watch fails (the limit:
 * logged once).
 */
bool watch_attached(struct node *n, int dirfd, unsigned long key, const char *name, bool bundle,
		    int ahead);
/* A watch watch_ahead added that no node takes: removed. */
void watch_unused(int wd);
/*
 * A request through the mount changed the entry name of dir (made, removed,
 * renamed, committed): when dir is a bundle, the cached attributes of its
 * address and shim-config computed from name are dropped, before the reply,
 * since the kernel keeps them (and their names) long. Called without the
 * table lock.
 */
void watch_changed(struct node *dir, const char *name);
/* The same by the directory's id, in the store c (a node that may be gone by now). */
void watch_changed_id(fuse_ino_t dir, const struct bundle_conf *c, const char *name);
/*
 * The data or size of file n changed through the mount (a write, a
 * truncation, fallocate): when it is a file of a bundle that address or
 * shim-config is computed from (v2's bootstrap.json, options.json),
 * watch_changed for it, before the reply. Cheap for any other file.
 */
void watch_written(struct node *n);
/* A bundle used again (its attributes asked for, opened): watched from now on. */
void watch_touch(struct node *n);
/*
 * A store's root other than MOUNT (a plugin directory of the node view),
 * looked up: watched while the kernel holds it, as MOUNT is for the mount's life.
 */
void watch_store_root(struct node *n);
/*
 * Watch wd of node id goes: removed here, or with gone already removed by
 * the kernel (IN_IGNORED) and only counted out; a descriptor kept for id
 * (nsdir.h) goes with it. The node table's unwatch hook (called with the
 * table lock held; it touches no store and no table).
 */
void watch_forget(int wd, fuse_ino_t id, bool gone);
/*
 * Called by forgets between nodes, without the table lock: when the
 * watches removed have queued more IN_IGNORED than the watcher has read
 * (half the kernel's queue), wait until it has read most of them, at most
 * 100 ms, so that the queue never overflows (which would invalidate
 * everything cached).
 */
void watch_pace(void);

/*
 * Lifetimes. epoch is watch_epoch() read before the backing entry was
 * looked at: a reply whose facts may predate lost events (a queue
 * overflow) gets the short lifetime.
 */
unsigned watch_epoch(void);
/* Whether the watcher follows the store now: what a watch covers is then told of. */
bool watch_following(void);
/* Of n's name in parent (n an overlay node: 0). */
double watch_entry_timeout(struct node *parent, struct node *n, unsigned epoch);
/* Of the absence of name in parent. */
double watch_negative_timeout(struct node *parent, const char *name, unsigned epoch);
/* Of n's attributes st. */
double watch_attr_timeout(struct node *n, const struct stat *st, unsigned epoch);

#endif
