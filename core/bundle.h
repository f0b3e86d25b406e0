/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The life of namespaces and bundles in the store, as mkdir, rmdir and
 * rename of the mount make and end them (SPEC 3, 4.7, 7.1, 7.3), in the
 * format of the store's runtime. Built on store.h's primitives: everything
 * is reached below the roots without following a symlink, atomicity comes
 * from the filesystem (a bundle appears by renameat2(RENAME_NOREPLACE) of a
 * skeleton built under a temporary name, and goes by a rename to a hidden
 * name first), and a tree with a mount point inside is never removed.
 *
 * Thread-safe; 0 or -errno. A failure the errno alone does not explain is
 * logged with the bundle's name.
 *
 * A store opened without its work root (store.h's STORE_WORK_OPTIONAL:
 * work_fd -1) refuses to make a namespace or a bundle with -ENOENT, as
 * there is no W to make their work directories in; removing one leaves out
 * the work side.
 */
#ifndef BUNDLEFS_BUNDLE_H
#define BUNDLEFS_BUNDLE_H

#include "conf.h"
#include "store.h"

/*
 * mkdir MOUNT/<ns> (SPEC 3.1): S/<ns> and W/<ns>, 0711. -EINVAL unless ns is
 * an identifier (ident.h); -EEXIST if S/<ns> exists.
 */
int bundle_ns_create(const struct bundle_conf *c, const char *ns, const struct store_owner *own);

/*
 * rmdir MOUNT/<ns> (SPEC 3.1): -ENOTEMPTY when S/<ns> holds any visible
 * entry; hidden leftovers are removed with it; W/<ns> likewise (kept, with a
 * log line, if it holds visible work directories).
 */
int bundle_ns_remove(const struct bundle_conf *c, const char *ns);

/*
 * mkdir MOUNT/<ns>/<id> (SPEC 3.2, 5.4, 7.1): -EINVAL unless id is an
 * identifier (ident.h); S/<ns> and W/<ns> 0711 if missing, then S/<ns>/<id> 0700 holding rootfs/
 * 0711, built under a temporary name in S/<ns> and moved into place with
 * renameat2(RENAME_NOREPLACE). The work directory W/<ns>/<id> 0711: v1
 * reuses one that is there; v2 removes a leftover one first (tree_remove)
 * -- unless a mount point lies below it: then -EBUSY and nothing of it is
 * removed -- and puts the symlink work -> Join(W, ns, id) (absolute) in the
 * bundle. -EEXIST if S/<ns>/<id> exists (nothing touched). What is made is
 * given own's owner. A failure removes what this call created.
 */
int bundle_create(const struct bundle_conf *c, const char *ns, const char *id,
		  const struct store_owner *own);

/*
 * rmdir MOUNT/<ns>/<id> (SPEC 4.7, 7.3): -EBUSY if a mount point lies below
 * the bundle or its work directory, or below MOUNT/<ns>/<name> when
 * mountpoint (the mount's absolute path) is given: nothing changed; -ENOENT
 * if it is gone; -ENOTDIR. v1 first removes the unix socket directly in
 * <socket_root>/s/ that a stored address names; v2 leaves it (a v2 shim may
 * serve other bundles of its group). The bundle is renamed to a hidden name
 * and removed, then the work directory W/<ns>/<name> likewise -- the
 * computed one, never the target of a v2 work link. A hidden name (".x":
 * containerd's atomic delete) skips the socket and work steps.
 */
int bundle_delete(const struct bundle_conf *c, const char *ns, const char *name,
		  const char *mountpoint);

/*
 * rename S/<ns>/<from> to the hidden name S/<ns>/<to> (containerd's
 * atomicDelete through the mount). A leftover directory already at <to>
 * (an earlier delete that crashed) is moved aside and removed, so it never
 * leaves the bundle stuck, as rename(2) alone would with ENOTEMPTY.
 * flags as renameat2's; with RENAME_NOREPLACE an existing <to> is -EEXIST.
 */
int bundle_hide(const struct bundle_conf *c, const char *ns, const char *from, const char *to,
		unsigned int flags);

#endif
