/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Descriptors of namespace directories, kept for the lookups in them.
 *
 * A lookup of a name in a namespace reads it in the namespace's directory,
 * which resolve_open reaches by its path below S and checks to be the
 * node's inode: openat2, fstat and close around every cold lookup of a
 * bundle, about a tenth of the daemon's time for it. A namespace has few
 * names above it and changes rarely, and while it and the directory above
 * it are watched, any change to what its name leads to is an event: so the
 * descriptor of a watched namespace, once opened and checked, is kept
 * (at most NSDIR_SLOTS of them) and lent to lookups. The watcher drops every
 * kept descriptor when an event may have moved a name (nsdir_event): a name
 * removed or renamed, in the directory above a kept namespace or of the
 * namespace itself; and so does the node table when the watch of either
 * goes (the kernel forgot the node, or the directory went). Until that
 * batch is acted on (BFS_WATCH_SETTLE_NS and the batch's work), a lookup
 * reads the directory the namespace was, as any lookup racing a rename
 * does; the kernel keeps nothing long from it, since the batch that drops
 * the descriptor invalidates the namespace's attributes and the next path
 * walk through it checks its name again.
 *
 * Only lookups (lookup.c's lookup_at) and the attributes of the namespace
 * itself (a GETATTR: nsdir_stat) borrow them; every change to the store
 * resolves its own path. A descriptor is lent with a count, and
 * closed once dropped and given back. Nothing is kept while the watcher is
 * not following the store (watch_following). The lock is a leaf, held for
 * a look at the slots only, never across a system call; the table's lock
 * may be held around it (the unwatch hook), never taken inside it.
 */
#include "nsdir.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolve.h"
#include "watch.h"

#define NSDIR_SLOTS 16

struct nsdir_slot {
	fuse_ino_t id, parent; /* the namespace's node and the directory above it */
	dev_t dev;
	ino_t ino;
	int fd;		    /* -1: free */
	unsigned users;	    /* lookups that borrowed fd */
	bool dropped;	    /* closed when the last user gives it back */
	unsigned long used; /* for eviction: the least recently lent goes first */
	unsigned long key;  /* nsdir_key: set when fd is kept */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct nsdir_slot slots[NSDIR_SLOTS] = {[0 ... NSDIR_SLOTS - 1] = {.fd = -1}};
static unsigned long clock_; /* by lock */
static unsigned long gen;    /* by lock: moves with every drop */
static unsigned long keys;   /* by lock: the last key given */

static bool keepable(struct node *n)
{
	struct watch_state w;

	if (n->kind != NK_NS || !watch_following())
		return false;
	node_watch_state(n, &w);
	return w.self && w.parent;
}

/* Free slot i (by lock); its descriptor is returned to be closed after unlocking. */
static int slot_free(struct nsdir_slot *s)
{
	int fd = s->fd;

	*s = (struct nsdir_slot){.fd = -1};
	return fd;
}

/* A slot for a new descriptor (by lock): a free one, else the least recently lent unused one. */
static struct nsdir_slot *slot_take(int *evicted)
{
	struct nsdir_slot *best = NULL;

	*evicted = -1;
	for (size_t i = 0; i < NSDIR_SLOTS; i++) {
		struct nsdir_slot *s = &slots[i];

		if (s->fd < 0)
			return s;
		if (!s->users && !s->dropped && (!best || s->used < best->used))
			best = s;
	}
	if (best)
		*evicted = slot_free(best);
	return best;
}

/* The slot kept for n, lent (by lock), or -1. */
static int lend(struct node *n)
{
	for (size_t i = 0; i < NSDIR_SLOTS; i++) {
		struct nsdir_slot *s = &slots[i];

		if (s->fd >= 0 && !s->dropped && s->id == n->id && s->ino == n->ino &&
		    s->dev == n->dev) {
			s->users++;
			s->used = ++clock_;
			return (int)i;
		}
	}
	return -1;
}

/* The descriptor kept for n, lent (*slot), or -1; *g the drops' count then. */
static int borrow(struct node *n, int *slot, unsigned long *g)
{
	int fd;

	pthread_mutex_lock(&lock);
	*slot = lend(n);
	fd = *slot >= 0 ? slots[*slot].fd : -1;
	*g = gen;
	pthread_mutex_unlock(&lock);
	return fd;
}

int nsdir_stat(struct node *n, struct stat *st)
{
	unsigned long g;
	int slot, fd, ret;

	if (!keepable(n) || (fd = borrow(n, &slot, &g)) < 0)
		return 1;
	ret = fstat(fd, st) < 0 ? -errno : 0;
	nsdir_close(fd, slot);
	return ret;
}

int nsdir_open(struct node *n, int *slot)
{
	int fd, evicted = -1;
	fuse_ino_t parent;
	unsigned long g;
	struct stat st;

	*slot = -1;
	if (!keepable(n))
		return resolve_open(n, O_PATH | O_DIRECTORY, NULL);
	fd = borrow(n, slot, &g);
	if (fd >= 0)
		return fd;

	fd = resolve_open(n, O_PATH | O_DIRECTORY, &st);
	if (fd < 0)
		return fd;
	parent = node_parent_id(n); /* the table lock is never taken inside this one */
	pthread_mutex_lock(&lock);
	/* Kept only if no event dropped descriptors meanwhile (it may be about this one). */
	if (g == gen) {
		struct nsdir_slot *s = slot_take(&evicted);

		if (s) {
			*s = (struct nsdir_slot){.id = n->id,
						 .parent = parent,
						 .dev = st.st_dev,
						 .ino = st.st_ino,
						 .fd = fd,
						 .users = 1,
						 .used = ++clock_,
						 .key = ++keys};
			*slot = (int)(s - slots);
		}
	}
	pthread_mutex_unlock(&lock);
	if (evicted >= 0)
		close(evicted);
	return fd;
}

/* Set before the slot was lent, and kept while it is: read without the lock. */
unsigned long nsdir_key(int slot)
{
	return slot >= 0 ? slots[slot].key : 0;
}

void nsdir_close(int fd, int slot)
{
	int last = -1;

	if (slot < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	pthread_mutex_lock(&lock);
	if (--slots[slot].users == 0 && slots[slot].dropped)
		last = slot_free(&slots[slot]);
	pthread_mutex_unlock(&lock);
	if (last >= 0)
		close(last);
}

static void drop_all_locked(int *closing, size_t *n)
{
	for (size_t i = 0; i < NSDIR_SLOTS; i++) {
		struct nsdir_slot *s = &slots[i];

		if (s->fd < 0)
			continue;
		if (s->users)
			s->dropped = true;
		else
			closing[(*n)++] = slot_free(s);
	}
}

static void drop(bool only_if_kept, fuse_ino_t id)
{
	int closing[NSDIR_SLOTS];
	bool kept = !only_if_kept;
	size_t n = 0;

	pthread_mutex_lock(&lock);
	/*
	 * Whether or not anything is kept: a descriptor opened before this and
	 * not kept yet (nsdir_open) may be of what the event is about.
	 */
	gen++;
	for (size_t i = 0; i < NSDIR_SLOTS && !kept; i++)
		kept = slots[i].fd >= 0 && (slots[i].id == id || slots[i].parent == id);
	if (kept)
		drop_all_locked(closing, &n);
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++)
		close(closing[i]);
}

void nsdir_event(fuse_ino_t id)
{
	drop(true, id);
}

void nsdir_drop_all(void)
{
	drop(false, 0);
}
