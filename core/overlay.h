/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay files of a bundle as files, without FUSE: opening one of the
 * kinds of kinds.h, reading, writing and committing it (SPEC 4.1-4.5, 7.2).
 * The FUSE layer resolves a path to (kind, ns, id) and calls these functions; they return 0 (or a
 * count) on success and -errno on failure, and log one line (log.h) naming the bundle and the
 * reason when the errno alone does not explain a failure.
 *
 * Reads of computed content (an address without a stored file, shim-config)
 * are served from a snapshot taken at open, so one open reads one consistent
 * value and ovl_fstat reports exactly that many bytes.
 *
 * Writes are staged in an O_TMPFILE file opened in S/<ns> (the same file
 * system as the bundle, and nameless, so a rejected write leaves nothing in
 * the store) and committed at close by linking it under a TREE_TMP_PREFIX
 * name and renaming that over S/<ns>/<id>/<file>: a reader sees the whole old
 * or the whole new content, a kill -9 before close leaves the stored file
 * untouched, and a crash between the link and the rename leaves a
 * TREE_TMP_PREFIX entry that the start-up sweep (sweep_store) removes. Where
 * the file system refuses O_TMPFILE the staging file is a named
 * TREE_TMP_PREFIX file (store_tmpfile), unlinked on every rejected path
 * before the call returns.
 *
 * Nothing here follows a symlink in the backing store (SPEC 5.5) or holds a
 * descriptor beyond the life of an open handle.
 */
#ifndef BUNDLEFS_OVERLAY_H
#define BUNDLEFS_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "attr.h"
#include "conf.h"
#include "kinds.h"

/*
 * An open overlay file. Thread-safe: every use of its descriptor and state is
 * under its own lock, so reads, fstat and fsync may run while a write or a
 * truncate replaces the staging file.
 */
struct ovl_file;

/* How ovl_open opens (or'ed). */
enum {
	/* This open creates the file (FUSE create). */
	OVL_OPEN_CREATE = 1,
	/*
	 * The opener released the name (the fs layer's unlink of a file that
	 * cannot be removed on its own: SPEC 4.2) and makes the file again: a
	 * stored file does not count, neither for O_EXCL nor as content, and
	 * closing commits what was written even if it is nothing. A read-only
	 * computed kind opened for writing this way is back as it computes:
	 * writes are accepted and dropped.
	 */
	OVL_OPEN_RELEASED = 2,
};

/*
 * Open o in bundle S/<ns>/<id>. flags: the open(2) flags (O_ACCMODE, O_TRUNC,
 * O_CREAT, O_EXCL; others ignored). how: OVL_OPEN_* above. uid, gid: the
 * opener, owner of what it stores.
 *
 * A read-only open of computed content (or of a stored address) takes a
 * snapshot; a read-only open of a stored file holds that file. A write open
 * stages the current content (none with O_TRUNC) and commits at flush.
 *
 * 0 and *out (free with ovl_release); -EACCES for a write open of a
 * read-only kind, -ENOENT for a stored-only file that is absent without
 * O_CREAT or create (or a missing bundle), -EEXIST for O_CREAT|O_EXCL on a
 * stored file, -ENAMETOOLONG, -ENOMEM...
 */
int ovl_open(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	     int flags, unsigned int how, uid_t uid, gid_t gid, struct ovl_file **out);

/* true if f was opened for writing (also one whose writes are dropped). */
bool ovl_writes(const struct ovl_file *f);

/* pread(2) of what this open sees: its snapshot, stored file or staged content. */
ssize_t ovl_read(struct ovl_file *f, char *buf, size_t size, off_t off);

/*
 * pwrite(2) into the staged content. After a commit the next write stages a
 * copy first. -EBADF on a read-only handle. -EFBIG when off + size passes the
 * kind's maximum: the handle is poisoned, every later flush fails with
 * -EFBIG and nothing is committed.
 */
ssize_t ovl_write(struct ovl_file *f, const char *buf, size_t size, off_t off);

/* What this open sees: the snapshot's attributes (st_size its length) or the fstat of its file. */
int ovl_fstat(struct ovl_file *f, struct stat *st);

/* ftruncate(2) of the staged content: -EBADF read-only, -EINVAL size < 0, -EFBIG too big. */
int ovl_ftruncate(struct ovl_file *f, off_t size);

/*
 * close(2) of a descriptor of this open: commit what was written since the
 * last commit. Returns 0; -EINVAL when the content is invalid (logged naming
 * ns/id and the reason; the stored file is unchanged and nothing of the
 * write is left in the store); -EFBIG for a poisoned handle; -errno.
 *
 * A flush with nothing written since open or the last flush (a bare O_TRUNC
 * or creation, as the shell's "> file" closes before it dup2s and writes) is
 * judged quietly, with no log line: invalid content fails this close with
 * -EINVAL and stays pending for the next flush or release; content that
 * needs no validation waits for release, so readers never see an
 * intermediate empty file. A read-only handle: 0.
 */
int ovl_flush(struct ovl_file *f);

/* Whether f has content that ovl_release would commit (or reject) now. */
bool ovl_pending(struct ovl_file *f);

/* The last close: commit what flush left pending (a rejection is logged), then free f. */
void ovl_release(struct ovl_file *f);

/* fsync(2)/fdatasync(2) of the handle's file; 0 for a snapshot. */
int ovl_fsync(struct ovl_file *f, int datasync);

/*
 * truncate(2) by path of o in S/<ns>/<id>: a staged write by uid/gid
 * committed at once. -EPERM for a read-only kind, -EINVAL (logged) for
 * invalid content, -EFBIG past the maximum, -ENOENT...
 */
int ovl_truncate(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		 off_t size, uid_t uid, gid_t gid);

/* unlink(2) of o's stored file. -EPERM for config.json and shim-config; -ENOENT... */
int ovl_unlink(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id);

/*
 * rename(2) of from_dirfd/from_name (inside the bundle S/<ns>/<id>) onto o,
 * as a validated copy (SPEC 4.2): the source must be a regular file (else
 * -EINVAL, logged), not over the maximum (-EFBIG), and valid for a validated
 * kind (-EINVAL, logged); then nothing has changed. Otherwise a copy of it
 * with its owner and times, mode 0644, is committed as a write is
 * (config.json's remapped GID applied to the bundle directory) and the
 * source's name is removed. The stored file is never the source's inode, so
 * a descriptor open on the source or another hard link of it can never
 * change the stored file. flags: 0 or RENAME_NOREPLACE (-EEXIST on a stored
 * file); others -EINVAL. -EPERM for a read-only kind.
 */
int ovl_rename_onto(const struct bundle_conf *c, const struct ovl *o, const char *ns,
		    const char *id, int from_dirfd, const char *from_name, unsigned int flags);

/*
 * setattr of o in S/<ns>/<id> (SPEC 4.1, 4.2), on the file it applies to. A
 * truncation is a staged write: through own (the caller's open of o) when
 * given, else by path as uid/gid (ovl_truncate). The mode, owner and times
 * go to the file a writer will store: own when it writes, else writer
 * (another open of o that writes, or NULL), else o's stored file. Through a
 * writer they apply to the file it will store and, while that is a staging
 * file, to the stored file as well; a mode (or an access ACL) or an owner
 * chosen that way is kept by the commit instead of 0644 and the writer, and
 * times are the file's own, which a rename keeps. A writer that drops its
 * writes (OVL_OPEN_RELEASED on a read-only kind) takes them as done. A value
 * with no stored file, or a computed-only kind, has no attributes of its own
 * to change: -EPERM. 0 or -errno.
 */
int ovl_setattr(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		struct ovl_file *own, struct ovl_file *writer, const struct attr_set *a, uid_t uid,
		gid_t gid);

/*
 * Extended attributes of o in S/<ns>/<id> (SPEC 4.1): those of the file
 * writer (an open of o that writes, or NULL) will store, else of the stored
 * file. A value with no stored file has none: a read finds none (-ENODATA,
 * an empty list), a change is -EPERM as its chmod is; a writer that drops
 * its writes keeps none (-ENODATA, an empty list, -EOPNOTSUPP). op and the
 * result as attr_xattr's.
 */
int ovl_xattr(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	      struct ovl_file *writer, enum attr_xop op, const char *name, void *value, size_t size,
	      int flags);

#endif
