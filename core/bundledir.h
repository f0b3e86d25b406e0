/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a bundle directory shows through the mount beyond its entries in the
 * store (SPEC 3.2, 4.1-4.3, 7.2): whether the bundle is complete, its v2
 * work link (shown once the bundle is complete), its listing (the overlay
 * kinds as they show, the computed ones always) and what unlink does to a
 * name of its own. The kinds themselves are kinds.h's.
 *
 * bfd, where a function takes one, is a descriptor of the bundle directory
 * S/<ns>/<id> (O_PATH is enough unless said); nothing is followed. 0 or
 * -errno; thread-safe.
 */
#ifndef BUNDLEFS_BUNDLEDIR_H
#define BUNDLEFS_BUNDLEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "conf.h"
#include "kinds.h"

/* Whether the bundle holds a stored config.json, a regular file (SPEC 3.2). */
bool bundle_complete(int bfd);

/*
 * Whether name, in a bundle of c's store, is the v2 work link (SPEC 7.2):
 * made with the bundle, never followed, never removed or renamed on its
 * own.
 */
bool bundle_is_work_link(const struct bundle_conf *c, const char *name);

/*
 * Whether name in the bundle bfd is the work link while the bundle is not
 * complete. It does not show then: the VFS answers symlink(2) onto a name
 * a lookup finds with EEXIST without asking, yet containerd's v2 NewBundle
 * makes the link itself after its mkdir, before it writes config.json.
 */
bool bundle_work_hidden(const struct bundle_conf *c, int bfd, const char *name);

/* Whether the bundle bfd has its work link in the store, a symlink: 1, 0, -errno. */
int bundle_has_work_link(int bfd);

/* One entry of a bundle's listing. */
struct bundle_entry {
	char *name;
	ino_t ino;	    /* the store's, or 0 for a computed file with nothing stored */
	unsigned char type; /* DT_* */
};

/*
 * A bundle's listing, read from offset 0 of fd (the bundle directory open
 * for reading): its entries in the store's order, an overlay name only as
 * it shows (ovl_listed: a stored kind as a regular file), the work link
 * only while it is not hidden, then every computed kind that the store did
 * not list, once. *list malloc'd (bundle_list_free), *n entries. -ENOMEM,
 * or getdents' -errno.
 */
int bundle_list(const struct bundle_conf *c, int fd, struct bundle_entry **list, size_t *n);
void bundle_list_free(struct bundle_entry *list, size_t n);

/*
 * unlink(2) of one of a bundle's own names (SPEC 4.2, 4.3, 7.2): o, or NULL
 * for the v2 work link. 0: a stored address or runc-options was removed.
 * 1: the name cannot be removed on its own (config.json, shim-config,
 * status, a computed address with nothing stored, the work link): nothing
 * changed, and the caller releases it to the process that unlinked it.
 * -errno: -ENOENT for a config.json that is not there.
 */
int bundle_unlink_own(const struct bundle_conf *c, const char *ns, const char *id,
		      const struct ovl *o);

#endif
