/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Following changes made beside the mount (SPEC 4.8): see watch.h.
 *
 * What is watched: the root S, every visible namespace directory and every
 * bundle directory the kernel holds a node for. The events of a watched
 * directory D cover the names in D (created, deleted, moved), the
 * attributes and data of the non-directories in D (IN_ATTRIB, IN_MODIFY,
 * IN_CLOSE_WRITE name the child) and D's own attributes (its own IN_ATTRIB,
 * and its mtime and link count, which change with every name event). That
 * is what gets the long lifetime (watch_*_timeout); a directory inside D is
 * covered only if it is watched itself (its mtime changes with entries the
 * watch of D does not see), a file with several links only by the short
 * rule (a change through another name is reported to that name's
 * directory).
 *
 * How a change reaches the kernel: only ever by invalidating the
 * attributes of inodes (fuse_lowlevel_notify_inval_inode with a negative
 * offset), never an entry. An entry invalidation takes the parent
 * directory's lock, which the kernel holds while a create or a rename in it
 * waits for its reply: were the daemon killed then, this thread would wait
 * on that lock for ever, the process could not exit, and the mount would
 * hang instead of failing. An attribute invalidation takes no sleeping lock
 * (and no page: nothing waits on the daemon). That holds for the pages the
 * kernel keeps of address and shim-config too (file.c's overlay_cache): a
 * data range would wait on a page that a READ in flight holds locked until
 * the daemon answers it, for ever if the daemon is killed then. Their
 * pages are checked at every open instead, and a change in the size or
 * mtime that an invalidated GETATTR finds makes the kernel drop them itself.
 *
 * Attributes are enough because every use of a name needs its inode's
 * attributes (the permission check, stat) or reaches the daemon (open,
 * readlink, readdir): the daemon then finds that the name leads elsewhere
 * or nowhere, answers ESTALE, and the kernel looks the name up again. A
 * directory whose names changed has its own attributes invalidated, so its
 * listing (kept by the kernel: cache_readdir) is read again from its new
 * mtime. Names that are absent are cached briefly
 * (BFS_UNWATCHED_BUNDLE_TIMEOUT): a new name shows within 100 ms.
 *
 * Races with requests in flight: every batch of events moves the epoch
 * before it is acted on, and a reply whose facts were read before that
 * gets the brief lifetime (long_ok): a name looked up while it changed is
 * never cached long.
 *
 * Locks: the table lock is never held across a notification (node.c's
 * functions copy what they find).
 */
#include "batch.h"
#include "daemon.h"
#include "nsdir.h"
#include "prune.h"
#include "resolve.h"
#include "watch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"

/*
 * IN_DONT_FOLLOW is added where the last component is a name (add_watch):
 * through the magic link /proc/self/fd/N, which has to be followed to reach
 * the directory at all, it is left out. N was opened by resolve_open
 * without following any symlink (SPEC 5.5) and IN_ONLYDIR checks that a
 * directory is what it reached. IN_MASK_CREATE: an inode already watched for another node (a
 * directory moved to another depth beside the mount) is not taken over;
 * that node keeps the short lifetimes.
 */
#define WATCH_MASK                                                                                 \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB |        \
	 IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK | IN_MASK_CREATE)
#define NAME_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
/* Events after which a name may lead elsewhere (nsdir.h). */
#define MOVE_EVENTS                                                                                \
	(IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED |    \
	 IN_UNMOUNT)

/* Written before the thread starts, read-only afterwards. */
static int ifd = -1, efd = -1; /* one of each for the daemon's life */
static long watch_limit = -1;
static struct fuse_session *session;
static pthread_t thread;
static bool started;

static atomic_long active; /* watches held */
/*
 * Watches removed here (watch_forget, watch_unused) whose IN_IGNORED the
 * thread has not read yet. The kernel queues at most max_queued_events
 * (16,384 by default) and then drops events (IN_Q_OVERFLOW, recover): a
 * dropped cache forgets tens of thousands of nodes at once, and their
 * removals, made faster than the thread reads what each queues, filled the
 * queue. Forgets wait for the thread above unread_high (watch_pace).
 */
static atomic_long unread;
/* Half and an eighth of the instance's queue (set before the thread starts). */
static long unread_high = 8192, unread_low = 2048;
/* How long one watch_pace waits at most: the thread may be stopped or starved. */
#define PACE_MAX_MS 100
static atomic_bool healthy;  /* the thread runs: what is watched may be cached long */
static atomic_bool stopping; /* watch_stop asked the thread to end */
static atomic_uint epoch;    /* moves with every batch of events, and at a queue overflow */
static atomic_flag limit_logged = ATOMIC_FLAG_INIT;
static atomic_flag overflow_logged = ATOMIC_FLAG_INIT;

static void limit_reached(void)
{
	if (!atomic_flag_test_and_set(&limit_logged))
		blog(BLOG_WARNING,
		     "inotify watch limit reached (/proc/sys/fs/inotify/max_user_watches): "
		     "changes beside the mount in directories without a watch show within %.1f s",
		     BFS_ENTRY_TIMEOUT);
}

/*
 * Make directory dirfd the calling thread's working directory, its own
 * (unshared once per thread): a watch is then added by a name relative to
 * it, without the walk through the magic link /proc/self/fd/N, whose
 * procfs lookups and revalidations cost a cold lookup about a tenth of the
 * daemon's time. The daemon opens nothing by a relative path (descriptors
 * and absolute paths only), so a thread's working directory matters to
 * add_watch alone. A thread that entered the kept descriptor key
 * (nsdir_key, 0: none) is still in its directory: the cold lookups of one
 * namespace enter it once. false: not possible here, use /proc/self/fd.
 */
static bool enter_dir(int dirfd, unsigned long key)
{
	static __thread int own;	  /* 0: not tried yet, 1: unshared, -1: unshare failed */
	static __thread unsigned long in; /* the key of the directory entered last, 0: none */

	if (own == 0)
		own = unshare(CLONE_FS) == 0 ? 1 : -1;
	if (own < 0)
		return false;
	if (key && key == in)
		return true;
	if (fchdir(dirfd) != 0) {
		in = 0;
		return false;
	}
	in = key;
	return true;
}

/*
 * Add a watch on the directory name in the open directory dirfd (dirfd >= 0;
 * key: its nsdir_key), or on node n's directory reached by its path: the
 * watch descriptor (> 0), counted in active, or -errno.
 */
static int add_watch(struct node *n, int dirfd, unsigned long key, const char *name)
{
	char proc[64 + NAME_MAX];
	const char *path = proc;
	uint32_t mask = WATCH_MASK;
	int fd = -1, wd, err;

	if (ifd < 0)
		return -ENOSYS;
	if (atomic_fetch_add(&active, 1) >= watch_limit && watch_limit >= 0) {
		atomic_fetch_sub(&active, 1);
		limit_reached();
		return -ENOSPC;
	}
	if (dirfd >= 0) {
		/* By its name in the open parent: the last component is no magic link. */
		mask |= IN_DONT_FOLLOW;
		if (enter_dir(dirfd, key))
			path = name;
		else
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	} else {
		fd = resolve_open(n, O_PATH | O_DIRECTORY, NULL);
		if (fd < 0) {
			atomic_fetch_sub(&active, 1);
			return fd;
		}
		if (enter_dir(fd, 0)) {
			path = ".";
			mask |= IN_DONT_FOLLOW;
		} else {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		}
	}
	wd = inotify_add_watch(ifd, path, mask);
	err = errno;
	if (fd >= 0)
		close(fd); /* the watch stays with the inode */
	if (wd < 0) {
		atomic_fetch_sub(&active, 1);
		if (err == ENOSPC)
			limit_reached();
		return -err;
	}
	return wd;
}

/*
 * Add the watch of directory node n, claimed by the caller (node_watch_claim),
 * reached as name in the open directory dirfd (key: add_watch's) when the
 * caller has it (else -1 and NULL: by n's path); records it with node_set_wd.
 */
static void watch_node(struct node *n, int dirfd, unsigned long key, const char *name)
{
	int wd = add_watch(n, dirfd, key, name);

	node_set_wd(n, wd > 0 ? wd : WD_FAILED);
}

/* The queue an instance made now gets: the kernel reads this setting at inotify_init. */
static void queue_limits(void)
{
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
	long max = 0;

	if (f) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (max > 0) {
		unread_high = max / 2;
		unread_low = max / 8;
	}
}

int watch_init(long limit)
{
	struct node *root = node_find(FUSE_ROOT_ID);

	watch_limit = limit;
	queue_limits();
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ifd < 0) {
		blog(BLOG_WARNING,
		     "cannot follow changes beside the mount: inotify_init1: %s "
		     "(/proc/sys/fs/inotify/max_user_instances)",
		     strerror(errno));
		return 0;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		blog(BLOG_WARNING, "cannot follow changes beside the mount: eventfd: %s",
		     strerror(errno));
		close(ifd);
		ifd = -1;
		return 0;
	}
	/* The root is watched for the daemon's life. */
	if (root)
		watch_node(root, -1, 0, NULL);
	return 0;
}

int watch_ahead(struct node *parent, enum node_kind kind, int dirfd, unsigned long key,
		const char *name)
{
	int wd;

	if (ifd < 0 || dirfd < 0 || (kind != NK_NS && kind != NK_NSENTRY) || name[0] == '.' ||
	    node_child_watched(parent, name))
		return 0;
	/*
	 * Whatever fails here (not a directory, gone, already watched, the
	 * limit) is decided again, the old way, once the node is known.
	 */
	wd = add_watch(NULL, dirfd, key, name);
	return wd > 0 ? wd : wd == -ENOENT ? -ENOENT : 0;
}

void watch_unused(int wd)
{
	if (inotify_rm_watch(ifd, wd) == 0)
		atomic_fetch_add(&unread, 1); /* as a forget's (watch_forget) */
	atomic_fetch_sub(&active, 1);
}

bool watch_attached(struct node *n, int dirfd, unsigned long key, const char *name, bool bundle,
		    int ahead)
{
	if (!node_watch_claim(n, bundle ? NODE_NAMESPACE | NODE_BUNDLE : NODE_NAMESPACE)) {
		if (ahead > 0)
			watch_unused(ahead); /* not a structural directory, or watched already */
		return false;
	}
	if (ahead > 0) {
		node_set_wd(n, ahead);
		return false;
	}
	watch_node(n, dirfd, key, name);
	return true;
}

void watch_store_root(struct node *n)
{
	if (node_watch_claim(n, NODE_ROOT))
		watch_node(n, -1, 0, NULL);
}

void watch_touch(struct node *n)
{
	if (node_watch_claim(n, NODE_BUNDLE))
		watch_node(n, -1, 0, NULL);
}

void watch_forget(int wd, fuse_ino_t id, bool gone)
{
	if (!gone && inotify_rm_watch(ifd, wd) == 0)
		atomic_fetch_add(&unread, 1); /* its IN_IGNORED is queued */
	atomic_fetch_sub(&active, 1);
	/* Kept only while watched: a namespace the kernel forgot holds nothing. */
	nsdir_event(id);
}

void watch_pace(void)
{
	if (atomic_load(&unread) <= unread_high)
		return;
	/* Not while no thread reads them. */
	for (int ms = 0;
	     ms < PACE_MAX_MS && atomic_load(&unread) > unread_low && atomic_load(&healthy); ms++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
}

unsigned watch_epoch(void)
{
	return atomic_load(&epoch);
}

bool watch_following(void)
{
	return atomic_load(&healthy);
}

static bool long_ok(unsigned e)
{
	return atomic_load(&healthy) && e == atomic_load(&epoch);
}

double watch_entry_timeout(struct node *parent, struct node *n, unsigned e)
{
	struct watch_state w;

	/*
	 * address and shim-config are names of their bundle as long as it is
	 * (lookup.c: not while a process holds a released name); the other
	 * overlay names may appear or go with every commit.
	 */
	if (n && n->kind == NK_OVERLAY && !ovl_cacheable(n->ov))
		return 0;
	if (!long_ok(e))
		return BFS_UNWATCHED_BUNDLE_TIMEOUT;
	node_watch_state(parent, &w);
	if (w.self)
		return BFS_WATCHED_TIMEOUT;
	return w.self_later ? BFS_UNWATCHED_BUNDLE_TIMEOUT : BFS_ENTRY_TIMEOUT;
}

double watch_negative_timeout(struct node *parent, const char *name, unsigned e)
{
	struct watch_state w;

	(void)name;
	(void)e;
	/* Watched or soon watched: brief, since no entry is ever invalidated (above). */
	node_watch_state(parent, &w);
	if (w.self || w.self_later)
		return BFS_UNWATCHED_BUNDLE_TIMEOUT;
	return BFS_ENTRY_TIMEOUT;
}

double watch_attr_timeout(struct node *n, const struct stat *st, unsigned e)
{
	bool single = !S_ISDIR(st->st_mode) && st->st_nlink <= 1;
	struct watch_state w;

	/*
	 * Overlay files: address and shim-config as a file of their bundle (a
	 * change of what they are computed from drops them: beside the mount
	 * the watcher, notify_overlays; through it the request, watch_changed);
	 * the others are asked for each time.
	 */
	if (n->kind == NK_OVERLAY && !ovl_cacheable(n->ov))
		return 0;
	if (n->kind == NK_OVERLAY)
		single = true;
	if (!long_ok(e))
		return BFS_UNWATCHED_BUNDLE_TIMEOUT;
	node_watch_state(n, &w);
	if (w.self || (w.parent && single))
		return BFS_WATCHED_TIMEOUT;
	if (w.self_later || (w.parent_later && single))
		return BFS_UNWATCHED_BUNDLE_TIMEOUT;
	return BFS_ATTR_TIMEOUT;
}

/*
 * The notifications, attributes only (see the top of this file). They are
 * sent from this thread, and from a request handler only for what a change
 * through the mount made stale besides its own reply (watch_changed): an
 * attribute invalidation waits on no page and no lock that a request holds.
 * ENOENT means the kernel does not have that inode: nothing to drop.
 */
static void notify_inode(fuse_ino_t ino)
{
	int r = fuse_lowlevel_notify_inval_inode(bfs.se, ino, -1, 0);

	if (r < 0 && r != -ENOENT)
		blog(BLOG_DEBUG, "invalidating inode %llu: %s", (unsigned long long)ino,
		     strerror(-r));
}

/* The kinds of c's runtime (bit k: the k-th) whose content may be kept (ovl_cacheable). */
static unsigned cacheable_kinds(const struct bundle_conf *c)
{
	unsigned kinds = 0;

	for (size_t k = 0; ovl_at(c, k); k++)
		if (ovl_cacheable(ovl_at(c, k)))
			kinds |= 1u << k;
	return kinds;
}

/*
 * The overlay kinds of a bundle that a change to its stored file name may
 * change (core's table says what each is computed from: ovl_reads): bit k
 * for the k-th kind of c's runtime; *sandbox likewise for the kinds of the
 * other bundles of its namespace, whose pod sandbox it may be.
 */
static unsigned stale_kinds(const struct bundle_conf *c, const char *name, unsigned *sandbox)
{
	unsigned own = 0;

	*sandbox = 0;
	for (size_t k = 0; ovl_at(c, k); k++) {
		unsigned r = ovl_reads(ovl_at(c, k), name);

		if (r & OVL_FROM_BUNDLE)
			own |= 1u << k;
		if (r & OVL_FROM_SANDBOX)
			*sandbox |= 1u << k;
	}
	return own;
}

/* The overlay nodes of kinds (bit k: the k-th kind of c) of bundle, or of its whole namespace. */
static void notify_overlays(const struct bundle_conf *c, fuse_ino_t bundle, unsigned kinds,
			    bool namespace)
{
	for (size_t k = 0; kinds && ovl_at(c, k) && !atomic_load(&stopping); k++) {
		const char *name = ovl_name(ovl_at(c, k));
		fuse_ino_t *ids = NULL;
		bool overlay = false;
		fuse_ino_t id;
		size_t n = 0;

		if (!(kinds & (1u << k)))
			continue;
		if (!namespace) {
			id = node_child_id(bundle, name, &overlay);
			if (id && overlay)
				notify_inode(id);
		} else if (node_namespace_overlays(bundle, name, &ids, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				notify_inode(ids[i]);
			free(ids);
		}
	}
}

void watch_changed_id(fuse_ino_t dir, const struct bundle_conf *c, const char *name)
{
	unsigned sandbox, kinds;

	if (!bfs.se)
		return;
	kinds = stale_kinds(c, name, &sandbox) & cacheable_kinds(c);
	sandbox &= cacheable_kinds(c);
	notify_overlays(c, dir, kinds, false);
	notify_overlays(c, dir, sandbox, true);
}

void watch_changed(struct node *dir, const char *name)
{
	if (dir->kind == NK_NSENTRY)
		watch_changed_id(dir->id, dir->conf, name);
}

void watch_written(struct node *n)
{
	const struct bundle_conf *c;
	char name[NAME_MAX + 1];
	fuse_ino_t dir;

	if (bfs.se && node_bundle_file(n, &dir, &c, name))
		watch_changed_id(dir, c, name);
}

/* Record that the batch invalidates directory id (batch.h), or do it at once. */
static void dirty(struct batch *b, fuse_ino_t id, const struct bundle_conf *conf, unsigned kinds,
		  unsigned sandbox)
{
	if (batch_dirty(b, id, conf, kinds, sandbox) < 0) {
		notify_inode(id);
		notify_overlays(conf, id, kinds, false);
		notify_overlays(conf, id, sandbox, true);
	}
}

/* Watches removed with nothing else to report, handled together (node_wds_gone). */
#define GONE_CHUNK 1024

/*
 * Watches wds[0..n) are gone. A node that still had one lost it to the
 * kernel (its directory or filesystem went), not to a forget: with notify,
 * what the kernel caches of it goes too.
 */
static void watches_gone(const int *wds, size_t n, bool notify)
{
	fuse_ino_t ids[GONE_CHUNK];
	size_t k = node_wds_gone(wds, n, ids);
	/* Those no node had any more were removed by forgets (watch_forget). */
	long left = atomic_fetch_sub(&unread, (long)(n - k)) - (long)(n - k);

	if (left < 0)
		atomic_fetch_add(&unread, -left); /* the kernel's own, of forgotten nodes */

	for (size_t i = 0; notify && i < k && !atomic_load(&stopping); i++)
		notify_inode(ids[i]);
}

static void batch_run(struct batch *b)
{
	int gone[GONE_CHUNK];
	size_t ngone = 0;

	/* Replies whose facts were read before these events are brief (long_ok). */
	atomic_fetch_add(&epoch, 1);
	for (size_t i = 0; i < b->n && !atomic_load(&stopping); i++) {
		struct ev *e = &b->v[i];
		const struct bundle_conf *conf = NULL;
		bool bundle = false, overlay = false;
		fuse_ino_t dir, child;

		/*
		 * A watch removed and nothing else: a forget's, almost always (a
		 * dropped cache forgets thousands at once), so many to one lock.
		 */
		if (e->mask == IN_IGNORED && !e->name[0]) {
			gone[ngone++] = e->wd;
			if (ngone == GONE_CHUNK) {
				watches_gone(gone, ngone, true);
				ngone = 0;
			}
			continue;
		}
		dir = node_of_wd(e->wd, &bundle, &conf);

		if (dir && !e->name[0]) {
			notify_inode(dir); /* the directory itself changed, or went */
			if (e->mask & MOVE_EVENTS)
				nsdir_event(dir);
		} else if (dir) {
			child = node_child_id(dir, e->name, &overlay);
			if (child) {
				notify_inode(child);
				if (e->mask & MOVE_EVENTS)
					nsdir_event(child);
			}
			/* An overlay name stays: its bundle computes it. */
			if (child && !overlay && (e->mask & (IN_DELETE | IN_MOVED_FROM)))
				prune_ids_add(&b->gone, child);
			if (e->mask & NAME_EVENTS)
				dirty(b, dir, conf, 0, 0);
			if (bundle) {
				unsigned sandbox, kinds = stale_kinds(conf, e->name, &sandbox);

				if (kinds || sandbox)
					dirty(b, dir, conf, kinds, sandbox);
			}
		}
		if (e->mask & IN_IGNORED)
			watches_gone(&e->wd, 1, false); /* invalidated above, as the directory */
	}
	if (ngone)
		watches_gone(gone, ngone, true);
	for (size_t i = 0; i < b->nd && !atomic_load(&stopping); i++) {
		notify_inode(b->d[i].id);
		notify_overlays(b->d[i].conf, b->d[i].id, b->d[i].kinds, false);
		notify_overlays(b->d[i].conf, b->d[i].id, b->d[i].sandbox, true);
	}
	batch_clear(b);
}

/*
 * Events were lost (IN_Q_OVERFLOW). Everything cached long may be stale:
 * the epoch moves first, so that replies computed from facts read before
 * are brief, then the inode of every name the table knows in a watched
 * directory, and every watched directory's, is invalidated. The kernel
 * holds no inode the table does not know, and absences are only cached
 * briefly, so nothing cached long is left out.
 */
static void recover(void)
{
	struct node_name *v = NULL;
	size_t n = 0;

	atomic_fetch_add(&epoch, 1);
	atomic_store(&unread, 0); /* what was lost is not coming */
	nsdir_drop_all();
	if (!atomic_flag_test_and_set(&overflow_logged))
		blog(BLOG_WARNING,
		     "inotify queue overflowed (/proc/sys/fs/inotify/max_queued_events): "
		     "every cached entry invalidated");
	if (node_watched_names(&v, &n) == 0) {
		for (size_t i = 0; i < n && !atomic_load(&stopping); i++)
			notify_inode(v[i].name[0] ? v[i].child : v[i].parent);
		free(v);
	}
}

static void *watch_thread(void *arg)
{
	static char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pfd[2] = {{.fd = ifd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};
	struct prune_retry retry = {0};
	struct batch b = {0};

	(void)arg;
	while (!atomic_load(&stopping)) {
		bool overflow = false;
		ssize_t len;

		int got = poll(pfd, 2, prune_waiting(&retry) ? 1000 : -1);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			blog(BLOG_ERR, "watching the store: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents) {
			uint64_t n;

			/* Stopping, or a node waits for its check (prune_later). */
			if (atomic_load(&stopping))
				break;
			if (read(efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				blog(BLOG_DEBUG, "watcher: %s", strerror(errno));
			if (got == 1)
				continue;
		}
		if (got == 0) {
			prune_again(session, &retry, &stopping);
			prune_check_later(session, &retry, &stopping);
			continue;
		}
		/* The rest of a burst first (BFS_WATCH_SETTLE_NS): stopping waits for it. */
		if (pfd[0].revents)
			nanosleep(&(struct timespec){.tv_nsec = BFS_WATCH_SETTLE_NS}, NULL);
		/* Drain what is queued (bounded, so that a storm cannot hold the thread). */
		for (int reads = 0; reads < 64; reads++) {
			len = read(ifd, buf, sizeof(buf));
			if (len < 0 && errno == EINTR)
				continue;
			if (len <= 0)
				break;
			for (char *p = buf; p < buf + len;) {
				const struct inotify_event *ie = (const struct inotify_event *)p;

				if (ie->mask & IN_Q_OVERFLOW)
					overflow = true;
				else
					batch_add(&b, ie);
				p += sizeof(*ie) + ie->len;
			}
		}
		if (overflow)
			recover();
		batch_run(&b);
		prune_gone(session, &retry, &b.gone, &stopping);
		prune_again(session, &retry, &stopping);
		prune_check_later(session, &retry, &stopping);
	}
	/* Stopped or failed: whatever is replied from now on is short. */
	atomic_store(&healthy, false);
	atomic_fetch_add(&epoch, 1);
	nsdir_drop_all();
	batch_free(&b);
	prune_retry_free(&retry);
	return NULL;
}

int watch_start(struct fuse_session *se)
{
	int ret;

	if (ifd < 0)
		return 0;
	session = se;
	atomic_store(&healthy, true);
	prune_later_wakes(efd); /* before any request can use it */
	ret = pthread_create(&thread, NULL, watch_thread, NULL);
	if (ret) {
		atomic_store(&healthy, false);
		blog(BLOG_WARNING, "cannot follow changes beside the mount: %s", strerror(ret));
		return 0;
	}
	started = true;
	return 0;
}

int watch_stop(void)
{
	uint64_t one = 1;
	struct timespec ts;

	if (!started)
		return 0;
	atomic_store(&stopping, true);
	atomic_store(&healthy, false);
	if (write(efd, &one, sizeof(one)) < 0)
		blog(BLOG_DEBUG, "waking the watcher: %s", strerror(errno));
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(thread, NULL, &ts) != 0)
		return -ETIMEDOUT;
	started = false;
	return 0;
}

void watch_close(void)
{
	prune_later_wakes(-1);
	if (ifd >= 0)
		close(ifd);
	if (efd >= 0)
		close(efd);
	ifd = efd = -1;
}
