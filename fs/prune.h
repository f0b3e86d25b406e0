/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dropping the kernel's unused dentries of names removed beside the mount
 * (FUSE_NOTIFY_PRUNE, protocol 7.45; libfuse 3.14 has no call for it):
 * the kernel holds such a dentry, and the daemon its node, until memory
 * pressure reclaims it, since no entry is ever invalidated (watch.c). A prune
 * takes no directory lock and waits on nothing the daemon answers (the
 * kernel's d_prune_aliases of each node's inode, under its superblock's
 * lock only); the kernel then sends FORGET for what it dropped. A dentry
 * with children in the kernel's cache, or in use (a process in the
 * directory, a lookup in flight), stays: once a second the nodes left are
 * pruned again with the names the table knows below them, children first
 * (one walk of the table for all of them, not one per event),
 * PRUNE_TRIES times. A kernel without it answers EINVAL once: from then on
 * nothing is sent.
 */
#ifndef BUNDLEFS_PRUNE_H
#define BUNDLEFS_PRUNE_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct node;

/* Node ids, each once. */
struct prune_ids {
	fuse_ino_t *v;
	size_t n, cap;
};

/* Add id unless it is there (on ENOMEM it is left to memory pressure). */
void prune_ids_add(struct prune_ids *l, fuse_ino_t id);

/* Pruned before and perhaps still held: pruned again once a second. */
struct prune_retry {
	struct prune_ids ids;
	unsigned tries;
	struct timespec last;
};

/*
 * The names of one batch of events gone (gone, emptied): pruned now
 * through session se, and kept in r for the retries. stopping: the
 * watcher's flag, which ends a long prune.
 */
void prune_gone(struct fuse_session *se, struct prune_retry *r, struct prune_ids *gone,
		const atomic_bool *stopping);
/* A second after the last prune: the nodes of r still in the table, once more. */
void prune_again(struct fuse_session *se, struct prune_retry *r, const atomic_bool *stopping);
/*
 * Node n may be held by the kernel under a name that is gone, with no
 * prune sent for it: a reply naming it crossed a batch of events (its facts
 * were read before the batch, so a removal of the name may have come before
 * the node was in the table: a READDIRPLUS or LOOKUP racing a delete), or a
 * request found that its last name no longer leads to its inode (resolve.c).
 * The kernel would keep the dentry, and the daemon the node, until memory
 * pressure. Such nodes are checked a second or two later, once the reply
 * is in the kernel, and those no name leads to any more are pruned (with
 * what the table knows below them) as removed names are. Backing entries
 * only (namespaces stay; overlay names go with their bundle). Called from
 * request threads, without the table lock.
 */
void prune_later(const struct node *n);
/*
 * The watcher's eventfd, written when a node starts waiting, so that the
 * watcher wakes once a second from then on (set before the threads start;
 * -1: checks wait for the watcher's next wake-up).
 */
void prune_later_wakes(int fd);
/* Once a second at most: check the nodes prune_later recorded a second before or more. */
void prune_check_later(struct fuse_session *se, struct prune_retry *r, const atomic_bool *stopping);
/*
 * Whether r has nodes waiting for a retry, or nodes wait for their check
 * (the watcher then wakes once a second).
 */
bool prune_waiting(const struct prune_retry *r);
void prune_retry_free(struct prune_retry *r);

#endif
