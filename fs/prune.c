/* SPDX-License-Identifier: Apache-2.0 */
/* Pruning the kernel's dentries of names removed beside the mount; see prune.h. */
#include "prune.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "node.h"
#include "resolve.h"

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

/*
 * prune_later's nodes: young since the last check, old before it (checked
 * next). Appended without looking for duplicates (a request thread must not
 * scan), up to LATER_MAX each; the check sorts them.
 */
#define LATER_MAX 16384
static pthread_mutex_t later_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prune_ids later_young, later_old; /* by later_lock */
static atomic_bool later_waiting;
static struct timespec later_last; /* the watcher's */
static int later_fd = -1;	   /* the watcher's eventfd: woken when the first node waits */

void prune_later_wakes(int fd)
{
	later_fd = fd;
}

void prune_later(const struct node *n)
{
	struct prune_ids *l = &later_young;
	bool wake = false;

	/* Backing entries only: namespaces stay, overlay names go with their bundle. */
	if (n->kind != NK_NSENTRY && n->kind != NK_INSIDE)
		return;
	pthread_mutex_lock(&later_lock);
	if (l->n == l->cap && l->cap < LATER_MAX) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		fuse_ino_t *v = realloc(l->v, cap * sizeof(*v));

		if (v) {
			l->v = v;
			l->cap = cap;
		}
	}
	if (l->n < l->cap) {
		l->v[l->n++] = n->id;
		wake = !atomic_exchange(&later_waiting, true);
	}
	pthread_mutex_unlock(&later_lock);
	if (wake && later_fd >= 0) {
		uint64_t one = 1;

		if (write(later_fd, &one, sizeof(one)) < 0)
			blog(BLOG_DEBUG, "waking the watcher: %s", strerror(errno));
	}
}

static int cmp_id(const void *a, const void *b)
{
	fuse_ino_t x = *(const fuse_ino_t *)a, y = *(const fuse_ino_t *)b;

	return x < y ? -1 : x > y;
}

void prune_check_later(struct fuse_session *se, struct prune_retry *r, const atomic_bool *stopping)
{
	struct prune_ids check, gone = {0};

	if (!atomic_load(&later_waiting) || since(&later_last) < 1.0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &later_last);
	pthread_mutex_lock(&later_lock);
	check = later_old;
	later_old = later_young;
	later_young = (struct prune_ids){0};
	atomic_store(&later_waiting, later_old.n > 0);
	pthread_mutex_unlock(&later_lock);

	if (check.n)
		qsort(check.v, check.n, sizeof(*check.v), cmp_id);
	for (size_t i = 0; i < check.n && !atomic_load(stopping); i++) {
		struct node *n;

		if ((i && check.v[i] == check.v[i - 1]) || !(n = node_hold(check.v[i])))
			continue;
		if (!resolve_still_named(n))
			prune_ids_add(&gone, n->id);
		node_unhold(n);
	}
	free(check.v);
	if (gone.n)
		blog(BLOG_DEBUG, "%zu nodes whose names went beside the mount: pruned", gone.n);
	prune_gone(se, r, &gone, stopping);
	free(gone.v);
}

bool prune_waiting(const struct prune_retry *r)
{
	return r->ids.n > 0 || atomic_load(&later_waiting);
}

void prune_retry_free(struct prune_retry *r)
{
	pthread_mutex_lock(&later_lock);
	free(later_young.v);
	free(later_old.v);
	later_young = later_old = (struct prune_ids){0};
	atomic_store(&later_waiting, false);
	pthread_mutex_unlock(&later_lock);
	free(r->ids.v);
	r->ids.v = NULL;
	r->ids.n = r->ids.cap = 0;
}
