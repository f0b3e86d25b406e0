/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dead and live mounts on the directory a bundlefs mount goes on; see
 * mountpoint.h. Self-contained (libc only): mount.bundlefs compiles it too.
 */
#include "mountpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* The 64-bit mount ID that is never reused (Linux 6.8); older headers lack it. */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

static bool is_dead(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) < 0 && (errno == ENOTCONN || errno == ECONNABORTED);
}

bool mountpoint_answers(const char *path)
{
	return !is_dead(path);
}

/* "fusermount3 -u -z -- path", quietly: the caller says what failed. 0 or -EPERM. */
static int fusermount_detach(const char *path)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

int mountpoint_clear_stale(const char *path)
{
	int n;

	for (n = 0; is_dead(path); n++) {
		if (n == MOUNTPOINT_MAX_STALE)
			return -ELOOP;
		if (umount2(path, MNT_DETACH) == 0)
			continue;
		if (errno != EPERM)
			return -errno;
		/* Not root: a user's own FUSE mount can be detached by fusermount3. */
		int ret = fusermount_detach(path);

		if (ret < 0)
			return ret;
	}
	return n;
}

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

int mountinfo_parse(char *line, struct mountinfo_line *ml)
{
	char *field[64], *save = NULL, *end;
	int n = 0, dash = -1;

	line[strcspn(line, "\n")] = '\0';
	for (char *f = strtok_r(line, " ", &save); f && n < 64; f = strtok_r(NULL, " ", &save)) {
		if (dash < 0 && n >= 6 && !strcmp(f, "-"))
			dash = n;
		field[n++] = f;
	}
	/* id parent major:minor root mountpoint options [optional...] - fstype source super */
	if (dash < 0 || n < dash + 3)
		return -EINVAL;
	errno = 0;
	ml->id = strtoull(field[0], &end, 10);
	if (errno || end == field[0] || *end)
		return -EINVAL;
	ml->mountpoint = field[4];
	ml->fstype = field[dash + 1];
	ml->source = field[dash + 2];
	unescape(ml->mountpoint);
	unescape(ml->fstype);
	unescape(ml->source);
	return 0;
}

/* Fill top's fstype and source from the mountinfo line of mount @id. */
static void describe(uint64_t id, struct mountpoint_top *top)
{
	struct mountinfo_line ml;
	size_t cap = 0;
	char *line = NULL;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		if (mountinfo_parse(line, &ml) == 0 && ml.id == id) {
			snprintf(top->fstype, sizeof(top->fstype), "%s", ml.fstype);
			snprintf(top->source, sizeof(top->source), "%s", ml.source);
			break;
		}
	}
	free(line);
	fclose(f);
}

int mountpoint_top(const char *path, struct mountpoint_top *top)
{
	const int flags = AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC;
	struct statx stx;

	memset(top, 0, sizeof(*top));
	if (statx(AT_FDCWD, path, flags, STATX_MNT_ID, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -ENOSYS;
	top->id = stx.stx_mnt_id;
	top->root = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
		    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
	describe(top->id, top);
	/* The mountinfo ID comes back once its mount is gone; this one never does. */
	if (statx(AT_FDCWD, path, flags, STATX_MNT_ID_UNIQUE, &stx) == 0 &&
	    (stx.stx_mask & STATX_MNT_ID_UNIQUE)) {
		top->id = stx.stx_mnt_id;
		top->id_unique = true;
	}
	return 0;
}

bool mountpoint_is_bundlefs(const struct mountpoint_top *top)
{
	return top->root && !strcmp(top->fstype, MOUNTPOINT_FSTYPE);
}
