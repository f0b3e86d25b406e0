/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node view's plugins and their stores (SPEC 8.1, 8.2; view.h). A
 * plugin directory C_S/PLUGIN is served as a store of its own, S =
 * C_S/PLUGIN, W = C_R/PLUGIN, bundle_root the real C_S/PLUGIN, with the
 * plugin's rules (v1 in io.containerd.runtime.v1.linux, v2 in the others)
 * and the mount's options (the v1 shim's apply to the v1 plugin only).
 *
 * A store is opened when its directory is first seen (at start-up, by a
 * lookup, by leaks) and again when the directory was made anew (its inode
 * differs, or the one opened was removed): the nodes of the old directory
 * keep their store, which lives until the daemon exits (a plugin directory
 * is made once per containerd install; a new one costs two descriptors).
 *
 * A missing C_R/PLUGIN (containerd makes it when the plugin loads, so only
 * a changed or wiped containerd root lacks it): a read-write mount makes it
 * as containerd would (0711); where it cannot, or on a read-only mount, the
 * store is served without its work root (core's STORE_WORK_OPTIONAL): it
 * shows as usual, and making a namespace or a bundle there fails with
 * ENOENT.
 */
#include "viewint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gopath.h"
#include "log.h"
#include "sweep.h"

struct view view;

static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static struct view_store *stores; /* every store opened; by stores_lock */

bool view_on(void)
{
	return view.on;
}

struct view_plugin *view_plugin_named(const char *name)
{
	for (size_t i = 0; view.on && i < VIEW_NPLUGINS; i++)
		if (!strcmp(view.plugins[i].name, name))
			return &view.plugins[i];
	return NULL;
}

struct view_plugin *view_plugin_of(const struct bundle_conf *conf)
{
	/* In the node view every store but MOUNT's is a view_store. */
	if (!view.on || !conf || conf == &bfs.conf)
		return NULL;
	return ((const struct view_store *)conf)->plugin;
}

const char *view_mountpoint(const struct bundle_conf *c)
{
	struct view_plugin *pl = view_plugin_of(c);

	return pl ? pl->mount : bfs.mountpoint;
}

/* C_R/PLUGIN, made as containerd's plugin makes it when it loads (read-write mounts). */
static void make_work_root(struct view_plugin *pl)
{
	if (bfs.ro || bfs.conf.st.work_fd < 0)
		return;
	if (mkdirat(bfs.conf.st.work_fd, pl->name, 0711) < 0 && errno != EEXIST)
		blog(BLOG_WARNING, "%s: cannot make the work root %s: %s; served without it",
		     pl->name, pl->work_path, strerror(errno));
}

/* A new store of pl, now. Caller holds stores_lock. */
static struct view_store *open_store(struct view_plugin *pl)
{
	struct conf_options o = view.opts;
	struct view_store *s = calloc(1, sizeof(*s));
	struct stat st;
	int ret;

	if (!s)
		return NULL;
	make_work_root(pl);
	o.state = pl->state_path;
	o.work = pl->work_path;
	o.runtime = pl->runtime;
	o.bundle_root = NULL; /* the state directory: the real C_S/PLUGIN */
	o.work_optional = true;
	if (pl->runtime == RUNTIME_V2) {
		o.runtime_root = o.criu = NULL;
		o.systemd_cgroup = o.legacy_address = false;
	}
	ret = conf_open(&s->conf, &o);
	if (ret == 0 && fstat(s->conf.st.state_fd, &st) < 0) {
		ret = -errno;
		conf_close(&s->conf);
	}
	if (ret < 0) {
		blog(BLOG_ERR, "%s: cannot open the store %s: %s", pl->name, pl->state_path,
		     strerror(-ret));
		free(s);
		return NULL;
	}
	if (s->conf.st.work_fd < 0)
		blog(BLOG_WARNING, "%s: no work root %s: served without it", pl->name,
		     pl->work_path);
	s->plugin = pl;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->next = stores;
	stores = s;
	pl->current = s;
	return s;
}

/* Whether s is still the directory of attributes st, and not removed. */
static bool store_is(const struct view_store *s, const struct stat *st)
{
	struct stat now;

	return s && s->dev == st->st_dev && s->ino == st->st_ino &&
	       fstat(s->conf.st.state_fd, &now) == 0 && now.st_nlink > 0;
}

const struct bundle_conf *view_store_for(struct view_plugin *pl, const struct stat *st)
{
	struct view_store *s;

	pthread_mutex_lock(&stores_lock);
	s = store_is(pl->current, st) ? pl->current : open_store(pl);
	pthread_mutex_unlock(&stores_lock);
	return s ? &s->conf : NULL;
}

int view_store_now(struct view_plugin *pl, const struct bundle_conf **conf, struct stat *st)
{
	struct stat tmp;

	if (!st)
		st = &tmp;
	if (fstatat(bfs.conf.st.state_fd, pl->name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st->st_mode))
		return -ENOENT;
	*conf = view_store_for(pl, st);
	return *conf ? 0 : -EIO;
}

/* Join(a, b), malloc'd. */
static char *join2(const char *a, const char *b)
{
	const char *elem[] = {a, b};

	return gopath_join(elem, 2);
}

/* Copies of the options' strings, so that stores opened later have them. */
static int keep_options(const struct conf_options *o)
{
	view.opts = (struct conf_options){
	    .daemon_address = o->daemon_address ? strdup(o->daemon_address) : NULL,
	    .socket_root = o->socket_root ? strdup(o->socket_root) : NULL,
	    .runtime_root = o->runtime_root ? strdup(o->runtime_root) : NULL,
	    .criu = o->criu ? strdup(o->criu) : NULL,
	    .systemd_cgroup = o->systemd_cgroup,
	    .legacy_address = o->legacy_address,
	};
	if ((o->daemon_address && !view.opts.daemon_address) ||
	    (o->socket_root && !view.opts.socket_root) ||
	    (o->runtime_root && !view.opts.runtime_root) || (o->criu && !view.opts.criu))
		return -ENOMEM;
	return 0;
}

int view_stores_init(void)
{
	static const struct {
		const char *name;
		enum bundle_runtime rt;
	} known[VIEW_NPLUGINS] = {
	    {CONF_V2_PLUGIN, RUNTIME_V2},
	    {CONF_V1_PLUGIN, RUNTIME_V1},
	    {VIEW_SB_PLUGIN, RUNTIME_V2},
	};

	for (size_t i = 0; i < VIEW_NPLUGINS; i++) {
		struct view_plugin *pl = &view.plugins[i];

		pl->name = known[i].name;
		pl->runtime = known[i].rt;
		pl->state_path = join2(bfs.conf.st.state_path, pl->name);
		pl->work_path = join2(bfs.conf.st.work_path, pl->name);
		pl->mount = join2(bfs.mountpoint, pl->name);
		if (!pl->state_path || !pl->work_path || !pl->mount)
			return -ENOMEM;
	}
	return 0;
}

int view_init(const struct conf_options *o)
{
	const struct bundle_conf *conf;
	int ret;

	view.on = true;
	clock_gettime(CLOCK_REALTIME, &view.started);
	ret = keep_options(o);
	if (ret == 0)
		ret = view_stores_init();
	if (ret < 0) {
		fprintf(stderr, "bundlefs: cannot set up the node view: %s\n", strerror(-ret));
		return -1;
	}
	for (size_t i = 0; i < VIEW_NPLUGINS; i++) {
		struct view_plugin *pl = &view.plugins[i];

		ret = view_store_now(pl, &conf, NULL);
		if (ret == -ENOENT || ret == -ENOTDIR)
			continue;
		if (ret < 0) {
			fprintf(stderr, "bundlefs: %s: %s\n", pl->state_path, strerror(-ret));
			return -1;
		}
		/* The start-up sweep of each store there is, as a single-runtime mount's. */
		if (!bfs.ro) {
			int n = sweep_store(conf->st.state_fd, conf->st.work_fd);

			if (n > 0)
				blog(BLOG_INFO, "removed %d leftovers of interrupted operations",
				     n); /* as a mount of that store says it */
		}
	}
	if (view_index_init() < 0) {
		fprintf(stderr, "bundlefs: cannot set up the pods index\n");
		return -1;
	}
	return 0;
}

void view_stores_free(void)
{
	while (stores) {
		struct view_store *s = stores;

		stores = s->next;
		conf_close(&s->conf);
		free(s);
	}
	for (size_t i = 0; i < VIEW_NPLUGINS; i++) {
		free(view.plugins[i].state_path);
		free(view.plugins[i].work_path);
		free(view.plugins[i].mount);
	}
	free((char *)view.opts.daemon_address);
	free((char *)view.opts.socket_root);
	free((char *)view.opts.runtime_root);
	free((char *)view.opts.criu);
}

int view_start(struct fuse_session *se)
{
	if (!view.on)
		return 0;
	view.se = se;
	if (view_index_start() < 0 || view_leaks_start() < 0)
		return -1;
	return 0;
}

void view_stop(void)
{
	if (!view.on)
		return;
	view_leaks_stop();
	view_index_stop();
}

void view_free(void)
{
	if (!view.on)
		return;
	view_index_free();
	view_stores_free();
	memset(&view, 0, sizeof(view));
}
