/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pods/ following the stores (SPEC 8.3), and the kernel following pods/.
 *
 * The pods index (core's pods.h) is filled by a rescan of each plugin at
 * start-up and kept by events: a thread of its own with an inotify instance
 * of its own (the daemon's watcher, watch.c, watches only what the kernel
 * holds) watches C_S (a plugin directory made or removed), each plugin's S
 * (namespaces made or removed), each S/<ns> (bundles made, removed, renamed
 * to a hidden name) and each bundle that has no config.json yet or had one
 * written within the last second (containerd writes it just after making
 * the bundle: its close completes the bundle). A complete bundle costs no
 * watch, so watches do not grow with the bundles. What no event shows (a
 * config.json rewritten beside the mount in a complete bundle) shows at
 * the next listing of pods/ after a second, which rescans (one fstatat per
 * bundle, a read only of what changed); lost events (IN_Q_OVERFLOW) rescan
 * everything. Changes made through the mount reach the index by the same
 * events; a request about pods/ handles those already queued first
 * (view_index_drain), so what a returned call changed shows at once.
 *
 * The kernel caches pods/'s entries and attributes long (viewtree.c);
 * view_sync invalidates the attributes of every node of pods/ the kernel
 * holds when the index's generation moved, from this thread after a batch
 * of events or from a request that drained them. Attributes only, of nodes
 * that have no pages: such a notification never blocks (fuse_lowlevel.h),
 * whoever sends it, and no entry is ever
 * invalidated (docs/DESIGN.md, "Following the store"). A name whose node
 * is invalidated is looked at again: gone, it answers ESTALE and the kernel
 * looks it up again.
 */
#include "viewint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "gopath.h"
#include "log.h"

#define DIR_EVENTS                                                                                 \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |     \
	 IN_ONLYDIR | IN_DONT_FOLLOW)
#define BUNDLE_EVENTS (DIR_EVENTS | IN_CLOSE_WRITE)
/* A listing of pods/ rescans when the last rescan is older than this (events followed) ... */
#define RESCAN_LIVE_MS 1000
/* ... or this (no events: every request about pods/ may rescan). */
#define RESCAN_DEAD_MS 100

/* A plugin's S below C_S: never through a symlink. */
#define PLUGIN_DIR_O_CLOEXEC (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

enum iw_kind { W_CS, W_PLUGIN, W_NS, W_BUNDLE };

/* One watch of the index's inotify instance; by ev_lock (below), or at init alone. */
struct iwatch {
	int wd;
	enum iw_kind kind;
	struct view_plugin *pl;
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
};

static int ifd = -1, efd = -1;
static struct iwatch *watches;
static size_t nwatches, capwatches;
static pthread_t thread;
static bool started;
static atomic_bool live; /* events are followed: pods/ may be cached long */
static atomic_bool stopping;
static atomic_llong last_rescan_ms; /* CLOCK_MONOTONIC */
static atomic_flag limit_logged = ATOMIC_FLAG_INIT;

/* What the kernel was last told of pods/: the generation it was synced at. */
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t synced_gen; /* by sync_lock */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool view_index_live(void)
{
	return atomic_load(&live);
}

/* ---- the watches ---- */

static struct iwatch *find_wd(int wd)
{
	for (size_t i = 0; i < nwatches; i++)
		if (watches[i].wd == wd)
			return &watches[i];
	return NULL;
}

static void drop(struct iwatch *w, bool remove)
{
	if (remove)
		inotify_rm_watch(ifd, w->wd);
	*w = watches[--nwatches];
}

/* A watch failed: pods/ is then only as fresh as its rescans (short lifetimes, rescans). */
static void degraded(const char *path, int err)
{
	atomic_store(&live, false);
	if (!atomic_flag_test_and_set(&limit_logged))
		blog(BLOG_WARNING,
		     "pods/ cannot follow %s (%s): it shows changes beside the mount within "
		     "%d ms of a request",
		     path, strerror(err), RESCAN_DEAD_MS);
}

/* Watch the directory of kind at pl's S (Join(S, ns[, id])) or C_S; 0 or -errno. */
static int add(enum iw_kind kind, struct view_plugin *pl, const char *ns, const char *id)
{
	const char *elem[] = {pl ? pl->state_path : bfs.conf.st.state_path, ns, id};
	size_t nelem = kind == W_BUNDLE ? 3 : kind == W_NS ? 2 : 1;
	struct iwatch nw = {.kind = kind, .pl = pl}, *w;
	char *path;
	int wd;

	if (ifd < 0)
		return -ENOSYS;
	/* Copied first: ns and id may point into the table, which may move. */
	snprintf(nw.ns, sizeof(nw.ns), "%s", ns ? ns : "");
	snprintf(nw.id, sizeof(nw.id), "%s", id ? id : "");
	path = gopath_join(elem, nelem);
	if (!path)
		return -ENOMEM;
	wd = inotify_add_watch(ifd, path, kind == W_BUNDLE ? BUNDLE_EVENTS : DIR_EVENTS);
	if (wd < 0) {
		int err = errno;

		/* Gone meanwhile, or no directory: its event comes, or came. */
		if (err != ENOENT && err != ENOTDIR)
			degraded(path, err);
		free(path);
		return -err;
	}
	free(path);
	w = find_wd(wd);
	if (!w) {
		if (nwatches == capwatches) {
			size_t ncap = capwatches ? capwatches * 2 : 16;
			struct iwatch *v = realloc(watches, ncap * sizeof(*v));

			if (!v) {
				inotify_rm_watch(ifd, wd);
				return -ENOMEM;
			}
			watches = v;
			capwatches = ncap;
		}
		w = &watches[nwatches++];
	}
	nw.wd = wd;
	*w = nw;
	return 0;
}

/* ---- bringing the index up to date ---- */

/* S/<ns>/<id> of plugin pl, O_PATH, nothing followed; -1 when it is no directory. */
static int open_bundle(struct view_plugin *pl, const char *ns, const char *id)
{
	int sfd = open(pl->state_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int nsfd = sfd < 0 ? -1 : openat(sfd, ns, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int bfd = nsfd < 0 ? -1 : openat(nsfd, id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (nsfd >= 0)
		close(nsfd);
	if (sfd >= 0)
		close(sfd);
	return bfd;
}

/*
 * Whether bundle bfd may still be completed: no regular config.json, or one
 * changed within the last second (its writer may not have closed it yet).
 */
static bool completing(int bfd)
{
	struct timespec now;
	struct stat st;

	if (fstatat(bfd, "config.json", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return true;
	clock_gettime(CLOCK_REALTIME, &now);
	return now.tv_sec - st.st_ctim.tv_sec <= 1;
}

/*
 * Bundle ns/id of pl changed (made, removed, renamed, its config.json
 * written); done: its config.json's writer is done (closed or renamed it).
 */
static void bundle_event(struct view_plugin *pl, const char *ns, const char *id, bool done)
{
	int bfd;

	if (id[0] == '.')
		return; /* a delete in progress: the event of its old name removes it */
	bfd = open_bundle(pl, ns, id);
	pods_refresh(view.pods, pl->name, ns, id, bfd);
	if (bfd >= 0 && !done && completing(bfd) && add(W_BUNDLE, pl, ns, id) == 0)
		pods_refresh(view.pods, pl->name, ns, id, bfd); /* what came before the watch */
	if (bfd >= 0)
		close(bfd);
}

/* Rescan plugin pl whole, and watch what its index needs watched. */
static void plugin_rescan(struct view_plugin *pl)
{
	struct pods_keys inc = {0};
	struct dirent *de;
	int sfd, dfd;
	DIR *d;

	sfd = openat(bfs.conf.st.state_fd, pl->name, PLUGIN_DIR_O_CLOEXEC);
	if (sfd < 0) {
		/* The plugin directory is gone: so are its watches (IN_IGNORED) and bundles. */
		for (size_t i = nwatches; i-- > 0;)
			if (watches[i].pl == pl)
				drop(&watches[i], true);
		pods_rescan(view.pods, pl->name, -1);
		return;
	}
	/* Watches first: what is made after them is seen by an event, before by the scan. */
	add(W_PLUGIN, pl, NULL, NULL);
	for (size_t i = nwatches; i-- > 0;)
		if (watches[i].pl == pl && watches[i].kind == W_NS)
			drop(&watches[i], true); /* watched again below, while it is there */
	dfd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d && dfd >= 0)
		close(dfd);
	while (d && (de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		add(W_NS, pl, de->d_name, NULL);
	}
	if (d)
		closedir(d);
	if (pods_rescan_incomplete(view.pods, pl->name, sfd, &inc) < 0)
		atomic_store(&last_rescan_ms, 0); /* not whole: the next listing tries again */
	for (size_t i = 0; i < inc.n; i++)
		bundle_event(pl, inc.v[i].ns, inc.v[i].id, false);
	pods_keys_free(&inc);
	close(sfd);
}

/* One event of the index's instance. */
static void on_event(const struct inotify_event *ie)
{
	const char *name = ie->len ? ie->name : "";
	struct iwatch *w = find_wd(ie->wd);
	struct view_plugin *pl;
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];

	if (!w)
		return;
	if (ie->mask & IN_IGNORED) {
		drop(w, false);
		return;
	}
	pl = w->pl;
	switch (w->kind) {
	case W_CS:
		if ((pl = view_plugin_named(name)))
			plugin_rescan(pl);
		break;
	case W_PLUGIN:
		plugin_rescan(pl); /* a namespace made, removed or renamed; or the plugin went */
		break;
	case W_NS:
		if (ie->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
			plugin_rescan(pl);
		} else if (*name) {
			/* bundle_event adds a watch, which may move the table: a copy */
			memcpy(ns, w->ns, sizeof(ns));
			bundle_event(pl, ns, name, false);
		}
		break;
	case W_BUNDLE:
		if (strcmp(name, "config.json"))
			break;
		/* w may move in the table: copy what is needed first */
		memcpy(ns, w->ns, sizeof(ns));
		memcpy(id, w->id, sizeof(id));
		if (ie->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
			int bfd = open_bundle(pl, ns, id);

			pods_refresh(view.pods, pl->name, ns, id, bfd);
			/* Complete: the bundle's watch goes (a complete bundle costs none). */
			if (bfd >= 0 && !completing(bfd))
				drop(find_wd(ie->wd), true);
			if (bfd >= 0)
				close(bfd);
		} else {
			bundle_event(pl, ns, id, true);
		}
		break;
	}
}

static void rescan_all(void)
{
	for (size_t i = 0; i < VIEW_NPLUGINS; i++)
		plugin_rescan(&view.plugins[i]);
	atomic_store(&last_rescan_ms, now_ms());
}

void view_index_rescan_stale(void)
{
	long long now = now_ms(), last = atomic_load(&last_rescan_ms);
	long long period = atomic_load(&live) ? RESCAN_LIVE_MS : RESCAN_DEAD_MS;

	/* One request rescans; the others go on with the index as it is. */
	if (now - last < period || !atomic_compare_exchange_strong(&last_rescan_ms, &last, now))
		return;
	for (size_t i = 0; i < VIEW_NPLUGINS; i++) {
		struct view_plugin *pl = &view.plugins[i];
		int sfd = openat(bfs.conf.st.state_fd, pl->name, PLUGIN_DIR_O_CLOEXEC);

		pods_rescan(view.pods, pl->name, sfd);
		if (sfd >= 0)
			close(sfd);
	}
	view_sync();
}

/* ---- the index's thread ---- */

/*
 * Every event queued on the index's instance, handled now. Caller holds
 * ev_lock: the watches are touched by one thread at a time, the index's
 * thread or a request that drains before it answers about pods/.
 */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;

static void drain_locked(void)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while (ifd >= 0 && (n = read(ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ie = (const struct inotify_event *)p;

			if (ie->mask & IN_Q_OVERFLOW)
				rescan_all();
			else
				on_event(ie);
			p += sizeof(*ie) + ie->len;
		}
	}
}

void view_index_drain(void)
{
	pthread_mutex_lock(&ev_lock);
	drain_locked();
	pthread_mutex_unlock(&ev_lock);
	view_sync();
}

static void *index_thread(void *arg)
{
	struct pollfd p[2] = {{.fd = ifd, .events = POLLIN}, {.fd = efd, .events = POLLIN}};

	(void)arg;
	while (!atomic_load(&stopping)) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (atomic_load(&stopping))
			break;
		if (p[0].revents & POLLIN)
			view_index_drain();
	}
	return NULL;
}

int view_index_init(void)
{
	if (pods_new(&view.pods) < 0)
		return -1;
	ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	efd = ifd < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ifd < 0 || efd < 0) {
		blog(BLOG_WARNING, "pods/ cannot follow changes beside the mount: %s",
		     strerror(errno));
		if (ifd >= 0)
			close(ifd);
		ifd = -1;
	}
	atomic_store(&live, ifd >= 0);
	/* C_S first: a plugin directory made during the scan is seen by its event. */
	if (ifd >= 0 && add(W_CS, NULL, NULL, NULL) < 0)
		atomic_store(&live, false);
	rescan_all();
	return 0;
}

int view_index_start(void)
{
	if (ifd < 0)
		return 0;
	if (pthread_create(&thread, NULL, index_thread, NULL) != 0)
		return -1;
	started = true;
	return 0;
}

void view_index_stop(void)
{
	uint64_t one = 1;

	if (!started)
		return;
	atomic_store(&stopping, true);
	if (write(efd, &one, sizeof(one)) < 0)
		blog(BLOG_DEBUG, "waking the pods index: %s", strerror(errno));
	pthread_join(thread, NULL);
	started = false;
}

void view_index_free(void)
{
	if (ifd >= 0)
		close(ifd);
	if (efd >= 0)
		close(efd);
	ifd = efd = -1;
	free(watches);
	watches = NULL;
	nwatches = capwatches = 0;
	pods_free(view.pods);
	view.pods = NULL;
}

/* ---- the kernel following the index ---- */

void view_sync(void)
{
	struct node_name *names;
	uint64_t gen = pods_generation(view.pods);
	size_t count;

	if (!view.se)
		return; /* not mounted yet: the kernel holds nothing */
	pthread_mutex_lock(&sync_lock);
	if (gen == synced_gen) {
		pthread_mutex_unlock(&sync_lock);
		return;
	}
	synced_gen = gen;
	pthread_mutex_unlock(&sync_lock);
	/*
	 * Every node of pods/ the kernel holds: a change is rare next to the
	 * listings (a pod made or ended), and an attribute invalidation of a
	 * node whose facts did not change costs one getattr when it is used.
	 */
	if (node_view_names(&names, &count) < 0)
		return;
	for (size_t i = 0; i < count; i++) {
		int r = fuse_lowlevel_notify_inval_inode(view.se, names[i].child, -1, 0);

		if (r < 0 && r != -ENOENT)
			blog(BLOG_DEBUG, "invalidating a node of pods/: %s", strerror(-r));
	}
	free(names);
}
