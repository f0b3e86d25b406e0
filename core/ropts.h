/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runc-options (SPEC 4.5): a JSON object with containerd's RuncOptions keys
 * "runtime", "runtime_root", "criu_path" (strings) and "systemd_cgroup"
 * (bool). Unknown keys are ignored; a known key with null is its zero value.
 * The text must pass gojson_check; parsed with json-c.
 */
#ifndef BUNDLEFS_ROPTS_H
#define BUNDLEFS_ROPTS_H

#include <stdbool.h>
#include <stddef.h>

#define ROPTS_MAX_SIZE (16u * 1024 * 1024)

struct ropts {
	char *runtime;	    /* never NULL after a successful parse ("" if absent) */
	char *runtime_root; /* never NULL after a successful parse */
	char *criu_path;    /* never NULL after a successful parse */
	bool systemd_cgroup;
};

/*
 * Parse buf[0..len) into *out. 0 on success (free with ropts_free); -EINVAL
 * with a reason in why when it is not such an object (not an object, a known
 * key of the wrong type, invalid JSON); -EFBIG past ROPTS_MAX_SIZE; -ENOMEM.
 * On failure *out holds nothing to free.
 */
int ropts_parse(const char *buf, size_t len, struct ropts *out, char *why, size_t whysz);

void ropts_free(struct ropts *ro);

#endif
