/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What fs/node.c and fs/resolve.c take from the rest of the daemon, for
 * test_node: the daemon's shared state (start.c), which the test fills in,
 * and a watcher (watch.c) that watches nothing, as when inotify is missing.
 * Nothing of libfuse is called by the node table: its headers are enough.
 */
#include "daemon.h"
#include "watch.h"

struct bfs bfs;

void watch_node(struct node *n, int dirfd, const char *name)
{
	(void)dirfd;
	(void)name;
	node_set_wd(n, WD_FAILED);
}

void watch_forget(int wd, bool gone)
{
	(void)wd;
	(void)gone;
}
