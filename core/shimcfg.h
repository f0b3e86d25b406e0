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

#endif
