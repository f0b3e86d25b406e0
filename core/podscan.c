// SPDX-License-Identifier: Apache-2.0
/*
 * The pods index (pods.h): forgetting many bundles at once, and rescanning
 * a plugin's store.
 */
#include "podsint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dirlist.h"

/* ---- removing many ---- */

struct collect {
	const char *plugin, *ns, *id; /* NULL: any */
	uint64_t not_scan;	      /* with sweep: entries whose scan differs */
	bool sweep;
	struct pbundle **v;
	size_t n, cap;
	bool nomem;
};

static void collect_one(const void *node, VISIT which, void *arg)
{
	struct pbundle *b = *(struct pbundle *const *)node;
	struct collect *c = arg;

	if (which != postorder && which != leaf)
		return;
	if (strcmp(b->plugin, c->plugin) || (c->ns && strcmp(b->ns, c->ns)) ||
	    (c->id && strcmp(b->id, c->id)) || (c->sweep && b->scan == c->not_scan))
		return;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct pbundle **v = realloc(c->v, ncap * sizeof(*v));

		if (!v) {
			c->nomem = true;
			return;
		}
		c->v = v;
		c->cap = ncap;
	}
	c->v[c->n++] = b;
}

/* Drop the bundles c selects. Caller holds update. */
static int drop_selected(struct pods *p, struct collect *c)
{
	/* Collected first: the tree must not change under twalk_r. */
	twalk_r(p->bundles, collect_one, c);
	if (c->nomem) {
		free(c->v);
		return -ENOMEM;
	}
	if (c->n) {
		pthread_rwlock_wrlock(&p->lock);
		for (size_t i = 0; i < c->n; i++)
			pidx_bundle_drop(p, c->v[i]);
		pthread_rwlock_unlock(&p->lock);
	}
	free(c->v);
	return 0;
}

int pods_remove(struct pods *p, const char *plugin, const char *ns, const char *id)
{
	struct collect c = {.plugin = plugin, .ns = ns, .id = ns ? id : NULL};
	int ret;

	if (!plugin)
		return -EINVAL;
	pthread_mutex_lock(&p->update);
	if (ns && id) {
		struct pbundle *b = pidx_bundle_find(p, plugin, ns, id);

		if (b) {
			pthread_rwlock_wrlock(&p->lock);
			pidx_bundle_drop(p, b);
			pthread_rwlock_unlock(&p->lock);
		}
		ret = 0;
	} else {
		ret = drop_selected(p, &c);
	}
	pthread_mutex_unlock(&p->update);
	return ret;
}

/* ---- rescan ---- */

/* Errors that say nothing about the entry being looked at: the scan stops. */
static bool fatal_errno(int err)
{
	return err == ENOMEM || err == EMFILE || err == ENFILE || err == EIO || err == EINTR;
}

void pods_keys_free(struct pods_keys *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].ns);
		free(k->v[i].id);
	}
	free(k->v);
	k->v = NULL;
	k->n = k->cap = 0;
}

static int keys_add(struct pods_keys *k, const char *ns, const char *id)
{
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 16;
		struct pods_key *v = realloc(k->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		k->v = v;
		k->cap = ncap;
	}
	k->v[k->n].ns = strdup(ns);
	k->v[k->n].id = strdup(id);
	if (!k->v[k->n].ns || !k->v[k->n].id) {
		free(k->v[k->n].ns);
		free(k->v[k->n].id);
		return -ENOMEM;
	}
	k->n++;
	return 0;
}

static int scan_ns(struct pods *p, const char *plugin, int plugin_fd, const char *ns,
		   uint64_t epoch, struct pods_keys *incomplete)
{
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = dirlist_open(plugin_fd, ns);
	if (!d)
		return fatal_errno(errno) ? -errno : 0;
	for (;;) {
		struct pbundle *b;
		int bfd;

		ret = dirlist_next_dir(d, fatal_errno, &de, &bfd);
		if (ret <= 0)
			break;
		ret = pidx_refresh_locked(p, plugin, ns, de->d_name, bfd, &b);
		close(bfd);
		if (ret < 0 && fatal_errno(-ret))
			break;
		/* A directory without its config.json: being made, or never completed. */
		if (ret == 0 && !b && incomplete && keys_add(incomplete, ns, de->d_name) < 0) {
			ret = -ENOMEM;
			break;
		}
		ret = 0;
		/* An entry whose refresh failed otherwise is kept as it was. */
		b = b ? b : pidx_bundle_find(p, plugin, ns, de->d_name);
		if (b)
			b->scan = epoch;
	}
	closedir(d);
	return ret;
}

int pods_rescan(struct pods *p, const char *plugin, int plugin_fd)
{
	return pods_rescan_incomplete(p, plugin, plugin_fd, NULL);
}

int pods_rescan_incomplete(struct pods *p, const char *plugin, int plugin_fd,
			   struct pods_keys *incomplete)
{
	struct collect c = {.plugin = plugin, .sweep = true};
	struct dirent *de;
	int dfd, ret = 0;
	DIR *d;

	if (!pidx_key_ok(plugin, ".", "."))
		return -EINVAL;
	pthread_mutex_lock(&p->update);
	c.not_scan = ++p->scan;
	if (plugin_fd < 0)
		goto sweep;
	dfd = openat(plugin_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	d = fdopendir(dfd);
	if (!d) {
		ret = -errno;
		close(dfd);
		goto out;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno ? -errno : 0;
			break;
		}
		if (!dirlist_maybe_dir(de))
			continue;
		ret = scan_ns(p, plugin, dirfd(d), de->d_name, c.not_scan, incomplete);
		if (ret < 0)
			break;
	}
	closedir(d);
	if (ret < 0)
		goto out;
sweep:
	ret = drop_selected(p, &c);
out:
	pthread_mutex_unlock(&p->update);
	return ret;
}
