/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay kinds of a bundle, without FUSE: config.json, address,
 * shim-config, runc-options (v1 only) and status (SPEC 4.1-4.5, 4.9), with
 * v2's address and shim-config (SPEC 7.2), described once per runtime as a
 * table (name, computed mode, writable, unlinkable, maximum size, validator,
 * compute function, what it is computed from), and the content a read of
 * each returns now. The open-file protocol on top of them is overlay.h.
 *
 * Functions return 0 (or a count) or -errno. Nothing here follows a symlink
 * in the backing store (SPEC 5.5) or keeps a descriptor.
 */
#ifndef BUNDLEFS_KINDS_H
#define BUNDLEFS_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "conf.h"

/* One overlay file kind, an entry of a static per-runtime table. */
struct ovl;

/*
 * The overlay file kind called name in a bundle of c's runtime, or NULL when
 * name is not an overlay file there (a passthrough entry). The result lives
 * as long as the program.
 */
const struct ovl *ovl_find(const struct bundle_conf *c, const char *name);

/* The i-th overlay file kind of c's runtime, in table order; NULL past the last. */
const struct ovl *ovl_at(const struct bundle_conf *c, size_t i);

/* The file name of kind o ("config.json", ...). */
const char *ovl_name(const struct ovl *o);

/* true if o may exist without a stored file (address, shim-config). */
bool ovl_is_computed(const struct ovl *o);

/*
 * true if what o reads is a function of stored files alone (ovl_reads says
 * which), so that a copy of it may be kept while none of them changes:
 * address and shim-config (status also asks the processes running now).
 */
bool ovl_cacheable(const struct ovl *o);

/* true if o may be unlinked (and renamed away): address, runc-options. */
bool ovl_may_unlink(const struct ovl *o);

/*
 * true if a stored regular file of o, when there is one, is what o reads,
 * and chmod, chown and utimens of o apply to it (all but shim-config and
 * status, which are computed only).
 */
bool ovl_storable(const struct ovl *o);

/* true if o accepts write opens (staged writes, committed at close). */
bool ovl_writable(const struct ovl *o);

/* true if o's content is validated (ovl_validate can refuse it): config.json, runc-options. */
bool ovl_validated(const struct ovl *o);

/* The largest content o accepts, in bytes. */
size_t ovl_max(const struct ovl *o);

/*
 * Whether buf[0..len) is valid content for o (config.json: SPEC 5.2;
 * runc-options: an object of its keys; other kinds take any bytes): 0, or
 * -EINVAL with the reason in why, -EFBIG, -ENOMEM. *gid: the remapped GID
 * the bundle directory gets with this content (config.json), else 0.
 */
int ovl_validate(const struct ovl *o, const char *buf, size_t len, uint32_t *gid, char *why,
		 size_t whysz);

/* Where a stored file that o is computed from lies (ovl_reads). */
enum {
	OVL_FROM_BUNDLE = 1,  /* in o's own bundle directory (its own stored file included) */
	OVL_FROM_SANDBOX = 2, /* in the bundle of the pod sandbox o's bundle belongs to */
};

/*
 * Whether a change to a stored file called name may change what o reads
 * now: OVL_FROM_BUNDLE, OVL_FROM_SANDBOX, both or'ed, or 0. The sandbox of
 * a bundle is named by its own stored file `sandbox` (v2_sandbox), so a
 * watcher that cannot tell which bundle is a sandbox takes OVL_FROM_SANDBOX
 * to mean "in any bundle of the same namespace".
 */
unsigned ovl_reads(const struct ovl *o, const char *name);

/*
 * The attributes of o in bundle S/<ns>/<id> now: a stored regular file's
 * fstat, or for computed content S_IFREG with o's computed mode (0644 or
 * 0444), st_size exactly the bytes a read returns now, a st_ino stable per
 * bundle and kind and the other fields from the bundle directory. Never
 * follows a symlink: only a regular file counts as stored. 0, -ENOENT when
 * absent (or the bundle is), -ENOMEM...
 */
int ovl_stat(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	     struct stat *st);

/*
 * ovl_stat, and on -ENOENT *bundle is the bundle directory that was looked
 * in (st_ino 0 when the bundle itself was not found): whoever knows which
 * directory it expects tells an absent file from a bundle replaced beside.
 */
int ovl_stat_in(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		struct stat *st, struct stat *bundle);

/*
 * The content a read of o returns now, with its attributes as ovl_stat
 * gives them: the stored regular file of the bundle directory bfd (S/<ns>/
 * <id>, O_PATH), or the computed value. *buf malloc'd, NUL-terminated (not
 * counted in *len). -ENOENT for a stored-only kind that is absent, -EFBIG
 * for a stored file larger than ovl_max, -ENOMEM...
 */
int ovl_content(const struct bundle_conf *c, const struct ovl *o, int bfd, const char *ns,
		const char *id, char **buf, size_t *len, struct stat *st);

struct status_input;

/*
 * The inputs bundle S/<ns>/<id> of c's store renders its status from (SPEC
 * 4.9, status.h): what its `address` reads now, runc's state.json path by
 * the store's runtime (v1 RuntimeRoot or runc's default, v2 options.json's
 * root), the socket root and the legacy address of the configuration. bfd:
 * the bundle directory (O_PATH), borrowed, as are ns and id. For leaks
 * (SPEC 8.4), which asks status_stale of every bundle. Free with
 * ovl_status_input_free. 0, -ENOMEM, or the address's read errors.
 */
int ovl_status_input(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
		     struct status_input *in);
void ovl_status_input_free(struct status_input *in);

/*
 * The debug socket's address of a v2 bundle's shim (v2_debug_address), for
 * leaks (SPEC 8.4): *buf malloc'd. -ENOENT in a v1 store (the v1 shim makes
 * none); -ENOMEM.
 */
int ovl_debug_address(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
		      char **buf, size_t *len);

/*
 * true if the directory entry name (of type d_type, DT_* or DT_UNKNOWN) of
 * the bundle directory dirfd is listed as overlay file o. A computed kind is
 * listed (once) whatever is stored; a stored one only as a regular file, so a
 * readdir that also adds the computed names lists every name once.
 */
bool ovl_listed(const struct ovl *o, int dirfd, const char *name, unsigned char d_type);

#endif
