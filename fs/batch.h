/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The watcher's batch (watch.c): the inotify events of one wake-up, each
 * (watch, name) once with its masks or'ed, and the directories whose
 * attributes, and overlay files, the batch will invalidate, each once.
 * Used by the watcher's thread alone.
 */
#ifndef BUNDLEFS_BATCH_H
#define BUNDLEFS_BATCH_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/inotify.h>

#include "conf.h"
#include "prune.h"

/* One wake-up's events, each (wd, name) once with its masks or'ed. */
struct ev {
	int wd;
	uint32_t mask;
	char name[NAME_MAX + 1];
};

/*
 * A directory whose own inode the batch invalidates and, for a bundle, the
 * overlay kinds of it (bit k: the k-th kind) and of every bundle of its
 * namespace (sandbox).
 */
struct dirty {
	fuse_ino_t id;
	const struct bundle_conf *conf; /* the bundle's store, whose kinds the bits count */
	unsigned kinds, sandbox;
};

struct batch {
	struct ev *v;
	size_t n, cap;
	size_t *slot; /* index + 1 into v, open addressing; 2 * cap entries */
	struct dirty *d;
	size_t nd, dcap;
	/* Known nodes whose name was removed beside the mount (pruned). */
	struct prune_ids gone;
};

/* Add an event (merged with an earlier one of its watch and name); dropped on ENOMEM. */
void batch_add(struct batch *b, const struct inotify_event *ie);
/*
 * Record directory id of store conf as invalidated by the batch, with the
 * overlay kinds of it and of its namespace (struct dirty): 0, or -ENOMEM
 * when it could not be recorded (the caller invalidates at once).
 */
int batch_dirty(struct batch *b, fuse_ino_t id, const struct bundle_conf *conf, unsigned kinds,
		unsigned sandbox);
/* Empty the batch for the next wake-up, keeping its memory. */
void batch_clear(struct batch *b);
void batch_free(struct batch *b);

#endif
