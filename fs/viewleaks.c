/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node view's leaks file (SPEC 8.4): rendered at each open by core's
 * leaks_render, whose two looks take a little more than LEAKS_LOOK_GAP_MS,
 * with what needs a store of the view (a bundle's status, its address and
 * its shim's debug address) asked of that plugin's store here.
 *
 * An open does not hold a worker thread for the render: it is queued, and
 * a thread of its own renders and replies. The opens queued while no render
 * runs share the next one, whose first look begins after every one of them
 * was opened, so each gets a text computed after its open, and a crowd of
 * readers costs one render per round, not one each, and holds no worker.
 * The text is kept in the handle (H_VIEW): reads are served from it, and
 * the file is direct_io, so the kernel never keeps a page of an older one.
 *
 * The debug socket: containerd 2.x at log level debug makes, beside each v2
 * shim's socket, one keyed Join(daemon_address, ns, group, "debug"). It is
 * its shim's, named by the bundle as surely as the shim's own address is,
 * so a bundle's debug address names a socket too (docs/SPEC.md, 8.4).
 *
 * Locks: queue_lock over the queue and stopping, a leaf; never held during
 * a render or a reply.
 */
#include "viewint.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "leaks.h"
#include "log.h"
#include "status.h"

/* An open waiting for its text. */
struct pending {
	fuse_req_t req;
	struct handle *h; /* H_VIEW, on its node already; its text comes with the reply */
	struct fuse_file_info fi;
	struct pending *next;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct pending *queue; /* by queue_lock */
static bool stopping;	      /* by queue_lock */
static bool started;
static pthread_t thread;

/* What one render asks of the stores: each plugin's store as it is now. */
struct render {
	struct leaks_plugin lp[VIEW_NPLUGINS];
	const struct bundle_conf *conf[VIEW_NPLUGINS]; /* NULL: no store there now */
};

static const struct bundle_conf *conf_of(struct render *r, const struct leaks_bundle *b)
{
	return r->conf[b->plugin - r->lp];
}

static int cb_stale(void *arg, const struct leaks_bundle *b, bool *stale)
{
	const struct bundle_conf *c = conf_of(arg, b);
	struct status_input in;
	int ret;

	*stale = false;
	if (!c)
		return -ENOENT;
	ret = ovl_status_input(c, b->fd, b->ns, b->id, &in);
	if (ret < 0)
		return ret;
	ret = status_stale(&in, stale);
	ovl_status_input_free(&in);
	return ret;
}

static int cb_address(void *arg, const struct leaks_bundle *b, char **addr, size_t *len)
{
	const struct bundle_conf *c = conf_of(arg, b);
	const struct ovl *o = c ? ovl_find(c, "address") : NULL;
	struct stat st;

	if (!o)
		return -ENOENT;
	return ovl_content(c, o, b->fd, b->ns, b->id, addr, len, &st);
}

static int cb_debug_address(void *arg, const struct leaks_bundle *b, char **addr, size_t *len)
{
	const struct bundle_conf *c = conf_of(arg, b);

	if (!c)
		return -ENOENT;
	return ovl_debug_address(c, b->fd, b->ns, b->id, addr, len);
}

/* The text of leaks now: *text malloc'd. 0 or -errno. */
static int render(char **text, size_t *len)
{
	struct render r;
	struct leaks_input in = {
	    .plugins = r.lp,
	    .nplugins = VIEW_NPLUGINS,
	    .socket_root = bfs.conf.socket_root,
	    .stale = cb_stale,
	    .address = cb_address,
	    .debug_address = cb_debug_address,
	    .arg = &r,
	};

	for (size_t i = 0; i < VIEW_NPLUGINS; i++) {
		struct view_plugin *pl = &view.plugins[i];

		r.lp[i] = (struct leaks_plugin){.name = pl->name,
						.state_dir = pl->state_path,
						.work_dir = pl->work_path,
						.runtime = pl->runtime == RUNTIME_V1 ? 1 : 2};
		if (view_store_now(pl, &r.conf[i], NULL) < 0)
			r.conf[i] = NULL;
	}
	return leaks_render(&in, text, len);
}

/* Reply to p: its text (a copy of text), or err. */
static void answer(struct pending *p, const char *text, size_t len, int err)
{
	struct view_text *t = err ? NULL : malloc(sizeof(*t) + len + 1);

	if (!err && !t)
		err = ENOMEM;
	if (err) {
		fuse_reply_err(p->req, err);
		if (node_handle_release(p->h))
			handle_free(p->h);
		return;
	}
	t->len = len;
	memcpy(t->text, text, len);
	t->text[len] = '\0';
	p->h->view = t;
	p->fi.fh = (uintptr_t)p->h;
	/* Computed at each open: never cached, its length known only now. */
	p->fi.direct_io = 1;
	p->fi.keep_cache = 0;
	if (fuse_reply_open(p->req, &p->fi) == -ENOENT && node_handle_release(p->h))
		handle_free(p->h); /* the caller was interrupted: no release comes */
}

static void *leaks_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct pending *batch;
		char *text = NULL;
		size_t len = 0;
		int ret;

		pthread_mutex_lock(&queue_lock);
		while (!queue && !stopping)
			pthread_cond_wait(&queue_cond, &queue_lock);
		batch = queue;
		queue = NULL;
		pthread_mutex_unlock(&queue_lock);
		if (!batch)
			return NULL; /* stopping, nothing waits */
		ret = render(&text, &len);
		if (ret < 0)
			blog(BLOG_ERR, "leaks: cannot render: %s", strerror(-ret));
		while (batch) {
			struct pending *p = batch;

			batch = p->next;
			answer(p, text, len, ret < 0 ? -ret : 0);
			free(p);
		}
		free(text);
	}
}

void view_leaks_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	struct pending *p = calloc(1, sizeof(*p));
	struct handle *h = p ? handle_new(H_VIEW) : NULL;
	bool queued = false;

	if (!h) {
		free(p);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	node_handle_add(n, h);
	p->req = req;
	p->h = h;
	p->fi = *fi;
	pthread_mutex_lock(&queue_lock);
	if (started && !stopping) {
		p->next = queue;
		queue = p;
		queued = true;
		pthread_cond_signal(&queue_cond);
	}
	pthread_mutex_unlock(&queue_lock);
	if (!queued) {
		answer(p, NULL, 0, EIO); /* the daemon is stopping */
		free(p);
	}
}

int view_leaks_start(void)
{
	if (pthread_create(&thread, NULL, leaks_thread, NULL) != 0)
		return -1;
	pthread_mutex_lock(&queue_lock);
	started = true;
	pthread_mutex_unlock(&queue_lock);
	return 0;
}

void view_leaks_stop(void)
{
	struct pending *rest;

	pthread_mutex_lock(&queue_lock);
	stopping = true;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	if (started)
		pthread_join(thread, NULL);
	/* What the thread left (none once it returned with an empty queue). */
	pthread_mutex_lock(&queue_lock);
	rest = queue;
	queue = NULL;
	pthread_mutex_unlock(&queue_lock);
	while (rest) {
		struct pending *p = rest;

		rest = p->next;
		answer(p, NULL, 0, EIO);
		free(p);
	}
}
