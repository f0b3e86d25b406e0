/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What bench/nullfs.c and bench/leastfs.c share: a forget that keeps
 * nothing, and the session from mount to unmount, as libfuse's examples run
 * it (one thread with -s, else libfuse's pool).
 */
#ifndef BENCH_SERVE_H
#define BENCH_SERVE_H

#include <fuse_lowlevel.h>

/* Neither daemon counts lookups. */
static void serve_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

/* Mount o->mountpoint, serve until unmounted or signalled: 0, else 1. */
static int serve(struct fuse_args *args, const struct fuse_lowlevel_ops *ops, size_t size,
		 const struct fuse_cmdline_opts *o)
{
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	int ret = 1;

	se = fuse_session_new(args, ops, size, NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, o->mountpoint) != 0)
		goto out;
	fuse_daemonize(o->foreground);
	if (o->singlethread) {
		ret = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		if (loop)
			fuse_loop_cfg_set_clone_fd(loop, o->clone_fd);
		ret = loop ? fuse_session_loop_mt(se, loop) : 1;
		fuse_loop_cfg_destroy(loop);
	}
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
out:
	fuse_session_destroy(se);
	return ret ? 1 : 0;
}

#endif
