/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shim-config (SPEC 4.4): containerd's shim.Config as Go's json.Marshal
 * writes it, followed by one newline:
 * {"Path":..,"Namespace":..,"WorkDir":..,"Criu":..,"RuntimeRoot":..,"SystemdCgroup":..}
 * Strings are escaped as Go does (gojson_put_string in gojson.h).
 */
#ifndef BUNDLEFS_SHIMCFG_H
#define BUNDLEFS_SHIMCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "ropts.h"

/* Node-wide inputs, from the mount options. */
struct shimcfg_node {
	const char *bundle_root;  /* prefix of Path */
	const char *work_root;	  /* prefix of WorkDir */
	const char *criu;	  /* criu= option */
	const char *runtime_root; /* runtime_root= option */
	bool systemd_cgroup;	  /* systemd_cgroup option */
};

/*
 * Render the shim-config of bundle ns/id. ro is the bundle's runc options or
 * NULL when it has none; shimConfig's rules pick Criu, RuntimeRoot and
 * SystemdCgroup. Returns a malloc'd NUL-terminated text and its length in
 * *len; NULL on ENOMEM.
 */
char *shimcfg_render(const struct shimcfg_node *node, const char *ns, const char *id,
		     const struct ropts *ro, size_t *len);

/*
 * A runtime-v2 bundle's own values for its shim-config (SPEC 7.2), as read
 * from its files (v2.h). The byte strings may hold NUL bytes: each has its
 * length.
 */
struct shimcfg_v2_bundle {
	const char *ns, *id;
	const char *group; /* the group (spec_group) */
	size_t group_len;
	const char *address; /* what address reads */
	size_t address_len;
	const char *sandbox; /* the stored sandbox (an identifier), or NULL */
	size_t sandbox_len;
	const char *binary; /* shim-binary-path (its own, else the sandbox's), or NULL */
	size_t binary_len;
	const char *runc_root;	 /* options.json "root"; NULL or "": /run/containerd/runc */
	const char *runc_binary; /* options.json "binary_name"; NULL or "": "runc" */
	bool systemd_cgroup;	 /* options.json "systemd_cgroup" */
};

/*
 * Render the v2 shim-config: a JSON object and one newline with the keys
 * Path (Join(bundle_root, ns, id)), Namespace, ID, Group, WorkDir
 * (Join(work_root, ns, id)), Address, Sandbox, Binary, RuncRoot (Join(root, ns)),
 * RuncBinary, SystemdCgroup, in that order, strings escaped as json.Marshal
 * does. node's criu, runtime_root and systemd_cgroup are v1 options and are
 * not used. Returns a malloc'd NUL-terminated text and its length in *len;
 * NULL on ENOMEM.
 */
char *shimcfg_render_v2(const struct shimcfg_node *node, const struct shimcfg_v2_bundle *b,
			size_t *len);

#endif
