/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration of a store (SPEC 2): its roots S and W, the bundle
 * format it holds, and the options that shape what its bundles show. Set
 * once by conf_open, read-only afterwards and shared by every thread, so
 * it needs no lock.
 *
 * Core functions that depend on the store a bundle belongs to take a
 * const struct bundle_conf *; none reaches a global, so one process may
 * serve several stores, each with its own configuration.
 */
#ifndef BUNDLEFS_CONF_H
#define BUNDLEFS_CONF_H

#include <stdbool.h>
#include <sys/types.h>

#include "store.h"

/* Which of containerd's bundle formats a store holds (SPEC 2, 7). */
enum bundle_runtime { RUNTIME_V1, RUNTIME_V2 };

/*
 * The directory names of containerd's runtime plugins: a state directory
 * with one of these names holds that plugin's bundles.
 */
#define CONF_V1_PLUGIN "io.containerd.runtime.v1.linux"
#define CONF_V2_PLUGIN "io.containerd.runtime.v2.task"

struct bundle_conf {
	struct store st; /* S and W: state_fd, work_fd, state_path, work_path */
	enum bundle_runtime runtime;
	/* The strings below belong to the configuration (conf_close frees them). */
	const char *daemon_address; /* daemon_address=, input of the shim address hash */
	const char *socket_root;    /* socket_root=: shim sockets in <socket_root>/s */
	const char *runtime_root;   /* v1 runtime_root= */
	const char *criu;	    /* v1 criu= */
	const char *bundle_root;    /* bundle_root=, prefix of shim-config's Path */
	bool systemd_cgroup;	    /* v1 systemd_cgroup */
	bool legacy_address;	    /* v1: an absent stored address reads as the legacy one */
	/*
	 * The process serving the store: what it creates is chowned to the
	 * caller when is_root and the caller differs from (euid, egid).
	 */
	bool is_root;
	uid_t euid;
	gid_t egid;
};

/* What a store is opened with, as the mount options give it; NULL: the default. */
struct conf_options {
	const char *state, *work; /* required */
	enum bundle_runtime runtime;
	const char *daemon_address; /* default /run/containerd/containerd.sock */
	const char *socket_root;    /* default /run/containerd */
	const char *runtime_root;   /* default "" */
	const char *criu;	    /* default "" */
	const char *bundle_root;    /* default: the state directory, absolute and clean */
	bool systemd_cgroup;
	bool legacy_address;
	/* A missing work root is served without it (store.h's STORE_WORK_OPTIONAL). */
	bool work_optional;
};

/*
 * Open the store's roots (store_open: absolute and clean, not resolved) and
 * fill c from o, with the defaults above and the process's identity. 0, or
 * -errno with c left closed (-ENOENT, -ENOTDIR, -EACCES as open reports,
 * -ENOMEM).
 */
int conf_open(struct bundle_conf *c, const struct conf_options *o);

/* Close the roots and free what conf_open allocated; c is zeroed. */
void conf_close(struct bundle_conf *c);

/*
 * The runtime a state directory's name says it holds (SPEC 2): RUNTIME_V1
 * or RUNTIME_V2 when its last element (after Go's Clean) is one of
 * containerd's plugin directories, -ENOENT for any other name, -ENOMEM.
 */
int conf_runtime_of(const char *state);

#endif
