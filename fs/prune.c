/* SPDX-License-Identifier: Apache-2.0 */
/* Pruning the kernel's dentries of names removed beside the mount; see prune.h. */
#include "prune.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "log.h"
#include "node.h"

#define FUSE_NOTIFY_PRUNE_CODE 9
#define PRUNE_CHUNK 256
#define PRUNE_TRIES 10

static atomic_bool prune_ok = true;

void prune_ids_add(struct prune_ids *l, fuse_ino_t id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == id)
			return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		fuse_ino_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return; /* left to memory pressure, as before */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = id;
}

/* Send one prune of ids[0..n); false when the kernel has none. */
static bool send_prune(struct fuse_session *se, const fuse_ino_t *ids, size_t n)
{
	struct {
		uint32_t len;
		int32_t error;
		uint64_t unique;
	} oh;
	struct {
		uint32_t count, padding;
		uint64_t spare;
	} po = {.count = (uint32_t)n};
	struct iovec iov[3] = {
	    {&oh, sizeof(oh)}, {&po, sizeof(po)}, {(void *)ids, n * sizeof(*ids)}};

	oh.len = (uint32_t)(sizeof(oh) + sizeof(po) + n * sizeof(*ids));
	oh.error = FUSE_NOTIFY_PRUNE_CODE;
	oh.unique = 0;
	if (writev(fuse_session_fd(se), iov, 3) < 0 &&
	    (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
		blog(BLOG_DEBUG, "the kernel cannot prune entries (FUSE_NOTIFY_PRUNE): %s",
		     strerror(errno));
		return false;
	}
	return true;
}

/*
 * Prune the nodes roots[0..n), with walk after what the table knows below
 * them, children first (a walk of the whole table: once a second at most).
 */
static void prune(struct fuse_session *se, const fuse_ino_t *roots, size_t n, bool walk,
		  const atomic_bool *stopping)
{
	fuse_ino_t *ids;
	size_t count;

	if (!n || !atomic_load(&prune_ok) || node_subtrees(roots, n, walk, &ids, &count) < 0)
		return;
	for (size_t at = 0; at < count && !atomic_load(stopping); at += PRUNE_CHUNK)
		if (!send_prune(se, ids + at,
				count - at < PRUNE_CHUNK ? count - at : PRUNE_CHUNK)) {
			atomic_store(&prune_ok, false);
			break;
		}
	free(ids);
}

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

void prune_gone(struct fuse_session *se, struct prune_retry *r, struct prune_ids *gone,
		const atomic_bool *stopping)
{
	if (!gone->n)
		return;
	prune(se, gone->v, gone->n, false, stopping); /* those without children go at once */
	/* The second counts from the first name waiting, not the last one. */
	if (!r->ids.n)
		clock_gettime(CLOCK_MONOTONIC, &r->last);
	for (size_t i = 0; i < gone->n; i++)
		prune_ids_add(&r->ids, gone->v[i]);
	r->tries = PRUNE_TRIES;
	gone->n = 0;
}

void prune_again(struct fuse_session *se, struct prune_retry *r, const atomic_bool *stopping)
{
	size_t kept = 0;

	if (!r->ids.n || since(&r->last) < 1.0)
		return;
	if (!r->tries-- || !atomic_load(&prune_ok)) {
		r->ids.n = 0;
		return;
	}
	for (size_t i = 0; i < r->ids.n; i++)
		if (node_find(r->ids.v[i]))
			r->ids.v[kept++] = r->ids.v[i];
	r->ids.n = kept;
	prune(se, r->ids.v, r->ids.n, true, stopping);
	clock_gettime(CLOCK_MONOTONIC, &r->last);
}

bool prune_waiting(const struct prune_retry *r)
{
	return r->ids.n > 0;
}

void prune_retry_free(struct prune_retry *r)
{
	free(r->ids.v);
	r->ids.v = NULL;
	r->ids.n = r->ids.cap = 0;
}
