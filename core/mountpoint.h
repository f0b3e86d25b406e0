/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directory a bundlefs mount is about to go on (SPEC 2, 5.4): dead FUSE
 * mounts left there by a killed daemon, and what is mounted there now.
 *
 * FUSE-free and free of the rest of core: the daemon links it through
 * libbundle, and mount.bundlefs compiles this one file into itself, so that
 * both see a stale or a live mount the same way.
 *
 * A FUSE mount whose daemon is gone answers every request with ENOTCONN (or
 * ECONNABORTED after an abort). stat(2) is no test for that: the kernel
 * answers it from its attribute cache for as long as the attributes of the
 * mount's root are valid (30 s on a bundlefs mount that was used), so a dead
 * mount looks alive. statfs(2) is never answered from a cache; it reaches the
 * daemon or fails.
 */
#ifndef BUNDLEFS_MOUNTPOINT_H
#define BUNDLEFS_MOUNTPOINT_H

#include <stdbool.h>
#include <stdint.h>

/* How many dead mounts stacked on one directory are detached at most. */
#define MOUNTPOINT_MAX_STALE 16

/* The file system type a bundlefs mount has in /proc/self/mountinfo. */
#define MOUNTPOINT_FSTYPE "fuse.bundlefs"

/*
 * Detach, as "umount -l" would, every dead FUSE mount stacked on @path, top
 * first, until statfs(@path) answers: umount2(MNT_DETACH), or "fusermount3 -u
 * -z" for a caller without the privilege (a user's own FUSE mount). Any other
 * statfs error (ENOENT, ENOTDIR, EACCES...) ends the loop without an error:
 * the caller reports it when it looks at @path itself.
 *
 * Returns the number of mounts detached (0 when @path answers), -ELOOP when
 * @path is still dead after MOUNTPOINT_MAX_STALE detaches, or the -errno of
 * a detach that failed (-EPERM when fusermount3 did).
 */
int mountpoint_clear_stale(const char *path);

/* The mount that @path resolves into. */
struct mountpoint_top {
	bool root;	 /* @path is that mount's root: something is mounted on @path */
	uint64_t id;	 /* its mount ID, for "is this another mount than before" */
	bool id_unique;	 /* id is the kernel's 64-bit ID, never reused; else the
			    mountinfo ID, which the kernel gives again once freed */
	char fstype[64]; /* from /proc/self/mountinfo; "" when not found there */
	char source[4096];
};

/*
 * Describe the mount @path resolves into, without sending the file system a
 * request (statx with AT_STATX_DONT_SYNC: a dead mount is described too).
 * Returns 0 or -errno from statx (-ENOENT, -ENOTDIR...).
 */
int mountpoint_top(const char *path, struct mountpoint_top *top);

/* Whether @top is a bundlefs mount on the path it describes (live or dead). */
bool mountpoint_is_bundlefs(const struct mountpoint_top *top);

/* Whether the file system @path is on answers statfs(2): not a dead mount. */
bool mountpoint_answers(const char *path);

/* One line of /proc/self/mountinfo, split in place (octal escapes undone). */
struct mountinfo_line {
	uint64_t id;
	char *mountpoint;
	char *fstype;
	char *source;
};

/* Split @line (modified); 0, or -EINVAL when it is not a mountinfo line. */
int mountinfo_parse(char *line, struct mountinfo_line *ml);

#endif
