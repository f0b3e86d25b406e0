/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bundlefs start-up (SPEC 2): the options (opts.c), checks that refuse a
 * bad start with one line on stderr before anything is mounted, the store's
 * configuration (conf_open: the backing descriptors), the start-up sweep, a
 * stale mount left by a crashed daemon, then mount, daemonize (once the
 * mount is live) and serve the low-level session (loop.h). The mount's
 * source for mount(8), findmnt and df is the state directory (fsname).
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "devio.h"
#include "hold.h"
#include "log.h"
#include "loop.h"
#include "ring.h"
#include "mountpoint.h"
#include "opts.h"
#include "resolve.h"
#include "sweep.h"
#include "view.h"
#include "watch.h"

static void syslog_sink(enum blog_level level, const char *msg)
{
	syslog((int)level, "%s", msg);
}

static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/*
 * Make @mnt ready for a new mount: detach the dead mounts a crashed daemon
 * left (SPEC 5.4), and refuse to stack on a live bundlefs mount, which would
 * hide it and leave two daemons serving one mountpoint. 0, or -1 after one
 * line on stderr.
 */
static int prepare_mountpoint(const char *mnt)
{
	struct mountpoint_top top;
	int ret;

	ret = mountpoint_clear_stale(mnt);
	if (ret < 0) {
		fprintf(stderr, "bundlefs: %s: cannot detach the stale mount left there: %s\n", mnt,
			strerror(-ret));
		return -1;
	}
	if (mountpoint_top(mnt, &top) == 0 && mountpoint_is_bundlefs(&top) &&
	    mountpoint_answers(mnt)) {
		fprintf(stderr, "bundlefs: %s: already mounted (bundlefs of %s)\n", mnt,
			top.source);
		return -1;
	}
	return 0;
}

/* 0 with *realp (when given) the canonical path, or -1 after one line on stderr. */
static int check_root_dir(const char *what, const char *path, const char *real_mnt, bool ro,
			  char **realp)
{
	char *real;
	int ret = 0;

	real = realpath(path, NULL);
	if (!real) {
		fprintf(stderr, "bundlefs: %s directory %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	if (path_within(real, real_mnt)) {
		fprintf(stderr, "bundlefs: %s directory %s is inside the mountpoint %s\n", what,
			path, real_mnt);
		ret = -1;
	} else if (access(real, ro ? (R_OK | X_OK) : (R_OK | W_OK | X_OK)) < 0) {
		fprintf(stderr, "bundlefs: %s directory %s: %s\n", what, path, strerror(errno));
		ret = -1;
	}
	if (ret == 0 && realp)
		*realp = real;
	else
		free(real);
	return ret;
}

/* SPEC 8.1: a containerd directory that is missing or no directory. 0, or -1 after one line. */
static int check_is_dir(const char *what, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "bundlefs: %s directory %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "bundlefs: %s directory %s: %s\n", what, path, strerror(ENOTDIR));
		return -1;
	}
	return 0;
}

/* Everything main allocated, so that a sanitizer run ends without a report. */
static void bfs_free(char *real_mnt, char *real_state)
{
	if (bfs.mountpoint)
		conf_close(&bfs.conf);
	free(real_mnt);
	free(real_state);
	memset(&bfs, 0, sizeof(bfs));
}

/*
 * The mount's source for mount(8) (fsname): the canonical state directory,
 * which is what mount(8) compares an fstab line's source with to see that
 * the line is mounted. Inserted before the caller's options, so that an
 * explicit fsname= still wins. 0 or -1.
 */
static int add_fsname(struct fuse_args *args, const char *real_state)
{
	char *opt = NULL, *fsname = NULL;
	int ret = -1;

	if (asprintf(&fsname, "fsname=%s", real_state) < 0)
		return -1;
	/* A ',' or '\\' in the path is escaped for libfuse's option parser. */
	if (fuse_opt_add_opt_escaped(&opt, fsname) == 0 &&
	    fuse_opt_insert_arg(args, 1, "-o") == 0 && fuse_opt_insert_arg(args, 2, opt) == 0)
		ret = 0;
	free(fsname);
	free(opt);
	return ret;
}

int main(int argc, char *argv[])
{
	struct bfs_opts o = {0};
	struct fuse_session *se = NULL;
	char *real_mnt = NULL, *real_state = NULL;
	struct stat root;
	int ret = 1;

	umask(0); /* modes come from the caller (the kernel applied its umask) */
	/*
	 * One heap for every thread: nodes are made by the worker that answered
	 * the LOOKUP and freed by the one that got the FORGET, and per-thread
	 * arenas each kept what was freed in them (docs/PERFORMANCE.md, section
	 * 7). The daemon allocates far less than one arena serves.
	 */
	mallopt(M_ARENA_MAX, 1);
	ret = opts_parse(argc, argv, &o);
	if (ret != 0) {
		ret = ret > 0 ? 0 : 1;
		goto out;
	}
	ret = 1;
	if (o.cmd.debug)
		blog_set_debug(1);

	if (prepare_mountpoint(o.cmd.mountpoint) < 0)
		goto out;
	real_mnt = realpath(o.cmd.mountpoint, NULL);
	if (!real_mnt) {
		fprintf(stderr, "bundlefs: mountpoint %s: %s\n", o.cmd.mountpoint, strerror(errno));
		goto out;
	}
	if (o.embedded && store_open(&bfs.conf.st, o.conf.state, o.conf.work, true) == 0)
		store_close(&bfs.conf.st);
	if (o.node && (check_is_dir("containerd state", o.conf.state) < 0 ||
		       check_is_dir("containerd root", o.conf.work) < 0))
		goto out;
	if (check_root_dir(o.node ? "containerd state" : "state", o.conf.state, real_mnt, o.ro,
			   &real_state) < 0 ||
	    check_root_dir(o.node ? "containerd root" : "work", o.conf.work, real_mnt, o.ro, NULL) <
		0)
		goto out;
	ret = conf_open(&bfs.conf, &o.conf);
	if (ret < 0) {
		fprintf(stderr, "bundlefs: cannot open the backing store: %s\n", strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = 1;
	bfs.mountpoint = real_mnt;
	bfs.ro = o.ro;
	if (fstat(bfs.conf.st.state_fd, &root) < 0 ||
	    nodes_init(
		&root, &bfs.conf,
		&(struct node_hooks){.still_named = resolve_still_named, .unwatch = watch_forget},
		o.node ? NK_VIEWROOT : NK_ROOT) < 0) {
		fprintf(stderr, "bundlefs: cannot set up: %s\n", strerror(errno));
		goto out;
	}
	/* The node view: MOUNT is no store; its plugin directories are (view.h). */
	if (o.node && view_init(&o.conf) < 0)
		goto out;
	watch_init(o.watch_limit);

	/* Every check is made by the kernel against the mode bits we report. */
	fuse_opt_add_arg(&o.args, "-odefault_permissions");
	if (add_fsname(&o.args, real_state) < 0)
		goto out;
	se = o.node ? fuse_session_new(&o.args, &view_ll_ops, sizeof(view_ll_ops), NULL)
		    : fuse_session_new(&o.args, &bfs_ll_ops, sizeof(bfs_ll_ops), NULL);
	if (!se)
		goto out;
	bfs.se = se;
	if (!bfs.ro && !o.node) {
		int n = sweep_store(bfs.conf.st.state_fd, bfs.conf.st.work_fd);

		if (n > 0)
			blog(BLOG_INFO, "removed %d leftovers of interrupted operations", n);
	}
	if (fuse_session_mount(se, o.cmd.mountpoint) != 0)
		goto out_destroy;
	if (devio_install(se) != 0)
		goto out_unmount;
	if (fuse_daemonize(o.cmd.foreground) != 0)
		goto out_unmount;
	if (!o.cmd.foreground) {
		openlog("bundlefs", LOG_PID, LOG_DAEMON);
		blog_set_sink(syslog_sink);
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_unmount;
	/* A thread of its own, after daemonizing (the fork keeps no threads). */
	watch_start(se);
	if (view_start(se) < 0) {
		blog(BLOG_ERR, "cannot start the node view's threads");
		goto out_unmount;
	}
	if (o.nouring)
		ring_disable();
	if (o.cmd.singlethread)
		ret = fuse_session_loop(se);
	else
		ret = loop_run(se, o.cmd.max_threads, o.cmd.max_idle_threads);
	ret = ret ? 1 : 0;
	fuse_remove_signal_handlers(se);
out_unmount:
	/*
	 * The watcher sends notifications on the session's descriptor, which
	 * the unmount closes: joined first. Still blocked in one (the kernel
	 * waits for a reply the stopped loop never sends): unmount and leave
	 * everything else as it is; the exit closes /dev/fuse, which ends the
	 * wait.
	 */
	view_stop();
	if (watch_stop() < 0) {
		fuse_session_unmount(se);
		blog(BLOG_WARNING, "the watcher did not stop: exiting without clean-up");
		_exit(ret);
	}
	fuse_session_unmount(se);
out_destroy:
	fuse_session_destroy(se);
out:
	watch_stop();
	watch_close();
	handles_free_all();
	nodes_free_all();
	holds_free_all();
	view_free();
	opts_free(&o);
	bfs_free(real_mnt, real_state);
	return ret;
}
