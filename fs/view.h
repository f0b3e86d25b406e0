/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node view (SPEC 8, -o node): one mount over a whole containerd node.
 * MOUNT is containerd's state directory C_S, read-only in every mode, and
 * lists the plugin directories that exist there, pods/ and leaks. Each
 * plugin directory is the root of a store of its own, S = C_S/PLUGIN and
 * W = C_R/PLUGIN, served by the same handlers as a single-runtime mount:
 * its nodes carry that store's configuration (node.h's conf). pods/ comes
 * from core's pods index, leaks from core's leaks_render.
 *
 * What the rest of the daemon sees of it is this header: start-up, the
 * operations table (every request goes to the ordinary handlers but those
 * about the view's own nodes, NK_VIEWROOT and NK_VIEW) and the mountpoint of
 * a plugin's store. A change made through the mount reaches pods/ the way a
 * change beside it does, by the index's inotify events; a request about
 * pods/ handles the events already queued before it answers, so a change
 * whose call has returned shows at once. The view's own files share
 * viewint.h.
 */
#ifndef BUNDLEFS_VIEW_H
#define BUNDLEFS_VIEW_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>

#include "conf.h"
#include "node.h"

/*
 * Set up the node view before the mount; bfs.conf is MOUNT's store (C_S
 * and C_R) and bfs.mountpoint, bfs.ro are set. o holds the options every
 * plugin's store is opened with (its state, work, runtime and bundle_root
 * are the view's to decide; the v1 shim's options apply to the v1 plugin
 * only). Opens the store of each plugin directory there is, sweeps them on
 * a read-write mount (SPEC 5.4) and fills the pods index. 0, or -1 after
 * one line on stderr.
 */
int view_init(const struct conf_options *o);
/* Start the view's threads (the pods index's watcher, leaks), after daemonizing. */
int view_start(struct fuse_session *se);
/* Stop and join them, before the session is destroyed. */
void view_stop(void);
/* Free everything view_init made; after the session loop and nodes_free_all. */
void view_free(void);
/* Whether the daemon serves the node view. */
bool view_on(void);

/* The operations of a node-view mount (viewops.c), for fuse_session_new. */
extern const struct fuse_lowlevel_ops view_ll_ops;

/* Where the tree of store c is mounted: MOUNT, or MOUNT/PLUGIN in the node view. */
const char *view_mountpoint(const struct bundle_conf *c);

#endif
