/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line (SPEC 2): bundlefs's options (state=, work=, runtime=...)
 * and libfuse's, as bundlefs(8) documents them, with mount(8)'s and
 * mount.fuse3's ways of passing them undone. What describes the store goes
 * into conf, ready for conf_open (conf.h).
 */
#ifndef BUNDLEFS_OPTS_H
#define BUNDLEFS_OPTS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>

#include "conf.h"

struct bfs_opts {
	/* The store: state=, work= (or the embedded default store), runtime and options. */
	struct conf_options conf;
	bool embedded; /* no state= and work=: the default store, made if missing */
	char *runtime; /* runtime= as given, NULL without one */
	int systemd_cgroup, legacy_address, ro, nouring;
	int dev, suid; /* the last of dev/nodev/allow_dev, suid/nosuid/allow_suid; 0 by default */
	long watch_limit; /* -1: no cap of our own */
	/*
	 * -o node (SPEC 8): conf.state is containerd's state C_S, conf.work its
	 * root C_R; conf's runtime is unused (each plugin has its own).
	 */
	int node;
	char *containerd_root; /* containerd_root= as given */
	char *positional[3];
	int npositional;
	/* libfuse's part: its arguments, and what fuse_parse_cmdline made of them. */
	struct fuse_args args;
	struct fuse_cmdline_opts cmd;
	char **av, *fuse3_opts; /* argv as mount.fuse3 gave it, rewritten */
};

/*
 * Parse argv into o (zeroed by the caller). 0: start with o; 1: done, with
 * nothing to start (--help, --version printed); -1: refused, after one line
 * on stderr. opts_free frees o in every case.
 */
int opts_parse(int argc, char *argv[], struct bfs_opts *o);
void opts_free(struct bfs_opts *o);

#endif
