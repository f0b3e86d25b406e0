/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names one process sees differently (SPEC 4.2, 7.2). HOLD_RELEASED:
 * config.json, the computed files and the v2 work link of a bundle that
 * the process unlinked: absent for it until it makes them again.
 * HOLD_SHOWN: a v2 work link not shown yet, which the process made with
 * symlink(2): present for it. hold_add records one for req's process (0;
 * nothing is recorded for a caller in a pid namespace the daemon cannot
 * see); hold_has says whether req's process has it; hold_take says so and
 * ends it; hold_forget_bundle ends every hold of a bundle that is gone.
 */
#ifndef BUNDLEFS_HOLD_H
#define BUNDLEFS_HOLD_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>

enum hold_kind { HOLD_RELEASED, HOLD_SHOWN };
int hold_add(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id, const char *name);
bool hold_has(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id,
	      const char *name);
bool hold_take(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id,
	       const char *name);
void hold_forget_bundle(const char *ns, const char *id);
/*
 * No process holds a released name: the names of address and shim-config
 * may be cached (a released name must reach the daemon at every lookup of
 * its process, lookup.c). Read without the lock.
 */
bool hold_none_released(void);
void holds_free_all(void);

#endif
