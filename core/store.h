/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backing store (SPEC 1): the state root S and the work root W, opened
 * once as O_PATH directory descriptors, and the primitives every change to
 * the store is made of (bundle.h builds the life of bundles on them). Everything below them is
 * reached relative to those descriptors without following symlinks (openat2 with
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or an explicit O_NOFOLLOW walk where
 * openat2 is unavailable). No descriptor is kept per bundle: each operation
 * opens what it needs and closes it before returning.
 *
 * Atomicity comes from the filesystem (renameat2 RENAME_NOREPLACE, O_EXCL,
 * mkdirat's EEXIST), never from in-memory locks, so a second process working
 * on the same directories or a restart never disagrees with us.
 *
 * All functions are thread-safe and return 0 (or a descriptor) on success and
 * -errno on failure. The caller runs with umask 0 so modes are exact.
 */
#ifndef BUNDLEFS_STORE_H
#define BUNDLEFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct store {
	int state_fd;	  /* O_PATH|O_DIRECTORY of S */
	int work_fd;	  /* O_PATH|O_DIRECTORY of W; -1 when W was missing (STORE_WORK_OPTIONAL) */
	char *state_path; /* absolute and clean, for shim-config and mount checks */
	char *work_path;
};

/* Owner given to directories and files created on behalf of a caller. */
struct store_owner {
	uid_t uid;
	gid_t gid;  /* (gid_t)-1: the group the file system gave */
	bool chown; /* false when nothing to change, or the daemon cannot (not root) */
};

/* How store_open opens the roots (or'ed). */
enum {
	/* Missing roots are created (mkdir -p, mode 0711): the embedded default store. */
	STORE_CREATE = 1,
	/*
	 * A missing W is no error: work_fd is -1, and whatever needs W fails
	 * with -ENOENT (bundle.h) or leaves it out (a delete, the sweep).
	 */
	STORE_WORK_OPTIONAL = 2,
};

/*
 * Open the two roots. state and work are made absolute (against the current
 * directory) and cleaned, not resolved: the paths are what containerd uses.
 * flags: STORE_CREATE, STORE_WORK_OPTIONAL. -ENOTDIR, -ENOENT, -EACCES... as
 * open reports.
 */
int store_open(struct store *st, const char *state, const char *work, unsigned flags);
void store_close(struct store *st);

/*
 * Open rel (relative, no leading '/', "" for the root itself) below rootfd
 * with flags (O_CLOEXEC is added), never following a symlink in any
 * component, including the last. Returns a descriptor or -errno: -ELOOP when
 * a component is a symlink, except that a symlink as the last component gives
 * -ENOTDIR with O_DIRECTORY, and with O_PATH alone a descriptor of the link
 * itself (O_NOFOLLOW's rules); either way nothing is followed.
 */
int store_open_beneath(int rootfd, const char *rel, int flags, mode_t mode);

/*
 * 0 when ns and id name a bundle directory S/<ns>/<id>: single names, not
 * empty; -ENAMETOOLONG, -EINVAL.
 */
int store_check_bundle(const char *ns, const char *id);

/* The bundle directory S/<ns>/<id> of st, O_PATH|O_DIRECTORY, nothing followed; -errno. */
int store_open_bundle(const struct store *st, const char *ns, const char *id);

/*
 * Open dirfd/name (one name) for reading if it is a regular file, never
 * following a symlink and never blocking on a FIFO, with its attributes in
 * *st: a descriptor, -ENOENT for anything but a regular file, or -errno.
 */
int store_open_regular(int dirfd, const char *name, struct stat *st);

/*
 * The whole content of fd from offset 0, at most max bytes (-EFBIG past
 * it): *buf malloc'd and NUL-terminated (not counted in *len). -ENOMEM.
 */
int store_read_fd(int fd, size_t max, char **buf, size_t *len);

/*
 * store_read_fd of a regular file no other process can write (an unlinked
 * staging file of this daemon): a short read is its end, one read fewer.
 */
int store_read_private(int fd, size_t max, char **buf, size_t *len);

/*
 * Read the regular file dirfd/name (name may have several components), never
 * following a symlink in any of them. -ENOENT if it is missing, not a regular
 * file, or reached through a symlink; -EFBIG if larger than max. *buf is
 * malloc'd and NUL-terminated (not counted in *len).
 */
int store_read_regular(int dirfd, const char *name, size_t max, char **buf, size_t *len);

/*
 * A fresh private name in name (namesz >= 32): TREE_TMP_PREFIX, the process
 * id and a counter. Unique among this process's names; every caller still
 * creates it exclusively (O_EXCL, mkdirat, RENAME_NOREPLACE) and takes
 * another on a clash with a stranger's.
 */
void store_tmp_name(char *name, size_t namesz);

/*
 * Create a new temporary file TREE_TMP_PREFIX "<pid>-<n>" in dirfd, open
 * O_RDWR|O_EXCL|O_CLOEXEC with mode; its name is written to name (namesz >= 32).
 */
int store_tmpfile(int dirfd, char *name, size_t namesz, mode_t mode);

/*
 * Apply containerd's bundle directory permissions for a remapped GID
 * (prepareBundleDirectoryPermissions): gid != 0 -> group gid, mode 0710 on
 * dirfd/name; gid == 0 -> nothing.
 */
int store_apply_remap(int dirfd, const char *name, uint32_t gid);

#endif
