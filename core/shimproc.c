/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim that holds a listening unix socket (shimproc.h): /proc/net/unix
 * for the socket's inode, then the descriptors of the processes that are
 * shims.
 */
#include "shimproc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel's __SO_ACCEPTCON, shown in /proc/net/unix's Flags column. */
#define SHIMPROC_ACCEPTCON 0x10000UL
/* Longer lines of /proc/net/unix (none are: sun_path is 108 bytes) are skipped. */
#define SHIMPROC_LINE_MAX 1024
/* readlink of /proc/<pid>/exe or cwd: PATH_MAX and " (deleted)". */
#define SHIMPROC_LINK_MAX (PATH_MAX + 32)
/* Listening sockets bound at the same path at once: more are ignored. */
#define SHIMPROC_MAX_INODES 16
#define SHIMPROC_MAX_HOLDERS 16

struct shimproc_inodes {
	unsigned long v[SHIMPROC_MAX_INODES];
	size_t n;
};

struct shimproc_holder {
	int32_t pid, ppid;
};

/* An unsigned number in base at *p (leading blanks skipped); false when none. */
static bool parse_ulong(const char **p, const char *end, int base, unsigned long *v)
{
	const char *s = *p;
	unsigned long n = 0;
	bool any = false;

	while (s < end && *s == ' ')
		s++;
	for (; s < end; s++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else
			break;
		n = n * (unsigned long)base + (unsigned long)d;
		any = true;
	}
	*p = s;
	*v = n;
	return any;
}

/*
 * One line of /proc/net/unix, as unix_seq_show prints it:
 * "%pK: %08X %08X %08X %04X %02X %5lu" then, for a bound socket, " " and
 * the path. Adds the inode when the socket listens at one of the paths.
 */
static void unix_line(const char *line, size_t len, const char *const *paths, size_t npaths,
		      struct shimproc_inodes *found)
{
	const char *end = line + len, *p = memchr(line, ':', len);
	unsigned long refcount, protocol, flags, type, st, ino;
	size_t plen;

	if (p == NULL)
		return; /* the header */
	p++;
	if (!parse_ulong(&p, end, 16, &refcount) || !parse_ulong(&p, end, 16, &protocol) ||
	    !parse_ulong(&p, end, 16, &flags) || !parse_ulong(&p, end, 16, &type) ||
	    !parse_ulong(&p, end, 16, &st) || !parse_ulong(&p, end, 10, &ino))
		return;
	if (!(flags & SHIMPROC_ACCEPTCON) || p >= end || *p != ' ')
		return;
	p++;
	plen = (size_t)(end - p);
	for (size_t i = 0; i < npaths; i++) {
		if (strlen(paths[i]) == plen && memcmp(paths[i], p, plen) == 0) {
			if (found->n < SHIMPROC_MAX_INODES)
				found->v[found->n++] = ino;
			return;
		}
	}
}

/* The listening sockets bound at paths, from /proc/net/unix. */
static void unix_inodes(const char *const *paths, size_t npaths, struct shimproc_inodes *found)
{
	char buf[SHIMPROC_LINE_MAX];
	size_t have = 0;
	bool skipping = false;
	ssize_t n;
	int fd;

	found->n = 0;
	fd = open("/proc/net/unix", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		char *nl;

		n = read(fd, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			if (!skipping)
				unix_line(buf, len, paths, npaths, found);
			skipping = false;
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
		}
		if (have == sizeof(buf)) {
			/* A line longer than any socket's: drop it up to its end. */
			skipping = true;
			have = 0;
		}
	}
	close(fd);
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * readlink of /proc/<pid>/<what> into buf (NUL-terminated); its length, or
 * -1 when it cannot be read or does not fit.
 */
static ssize_t proc_link(int procfd, const char *pid, const char *what, char *buf, size_t size)
{
	char rel[NAME_MAX + 16];
	ssize_t n;

	snprintf(rel, sizeof(rel), "%s/%s", pid, what);
	n = readlinkat(procfd, rel, buf, size);
	if (n <= 0 || (size_t)n >= size)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Whether the executable path's last element begins with SHIMPROC_EXE_PREFIX. */
static bool exe_is_shim(const char *target)
{
	const char *name = strrchr(target, '/');

	name = name ? name + 1 : target;
	return strncmp(name, SHIMPROC_EXE_PREFIX, sizeof(SHIMPROC_EXE_PREFIX) - 1) == 0;
}

static bool is_shim(int procfd, const char *pid)
{
	char target[SHIMPROC_LINK_MAX];

	return proc_link(procfd, pid, "exe", target, sizeof(target)) > 0 && exe_is_shim(target);
}

/* Whether process pid holds one of the sockets as a descriptor. */
static bool holds(int procfd, const char *pid, const struct shimproc_inodes *inodes)
{
	char rel[NAME_MAX + 16], target[64];
	struct dirent *de;
	bool found = false;
	DIR *d;
	int fd;

	snprintf(rel, sizeof(rel), "%s/fd", pid);
	fd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return false;
	}
	while (!found && (de = readdir(d)) != NULL) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		const char *p = target + sizeof("socket:[") - 1;
		unsigned long ino;

		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "socket:[", sizeof("socket:[") - 1) != 0 ||
		    !parse_ulong(&p, target + n, 10, &ino) || *p != ']')
			continue;
		for (size_t i = 0; i < inodes->n; i++)
			found |= inodes->v[i] == ino;
	}
	closedir(d);
	return found;
}

/*
 * The state (field 3) and parent (field 4) of pid from /proc/<pid>/stat,
 * after the last ')' (comm may hold anything). false when unknown.
 */
static bool proc_stat(int procfd, const char *pid, char *state, int32_t *ppid)
{
	char rel[NAME_MAX + 16], buf[1024];
	const char *p;
	unsigned long v;
	ssize_t n;
	int fd;

	snprintf(rel, sizeof(rel), "%s/stat", pid);
	fd = openat(procfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* ") S ppid ..." */
	if (p == NULL || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
		return false;
	*state = p[2];
	p += 3;
	if (!parse_ulong(&p, buf + n, 10, &v) || v > INT32_MAX)
		return false;
	*ppid = (int32_t)v;
	return true;
}

/* The parent of pid; 0 when unknown. */
static int32_t parent_of(int procfd, const char *pid)
{
	int32_t ppid;
	char state;

	return proc_stat(procfd, pid, &state, &ppid) ? ppid : 0;
}

/* The long-running shim among the holders (shimproc.h, step 3). */
static int32_t choose(const struct shimproc_holder *h, size_t n)
{
	int32_t best = 0;

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++)
			if (j != i && h[j].pid == h[i].ppid)
				return h[i].pid;
		if (best == 0 || h[i].pid < best)
			best = h[i].pid;
	}
	return best;
}

/* /proc opened twice: one descriptor for the *at() calls, one listed. */
static int proc_open(int *procfd, DIR **d)
{
	int fd, err;

	*d = NULL;
	*procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*procfd < 0)
		return -errno;
	fd = openat(*procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		*d = fdopendir(fd);
	if (*d == NULL) {
		err = errno;
		if (fd >= 0)
			close(fd);
		close(*procfd);
		return -err;
	}
	return 0;
}

int shimproc_listener(const char *const *paths, size_t npaths, int32_t *pid)
{
	struct shimproc_holder holders[SHIMPROC_MAX_HOLDERS];
	struct shimproc_inodes inodes;
	struct dirent *de;
	size_t nholders = 0;
	int procfd, ret;
	DIR *d;

	*pid = 0;
	unix_inodes(paths, npaths, &inodes);
	if (inodes.n == 0)
		return 0;
	ret = proc_open(&procfd, &d);
	if (ret < 0)
		return ret == -ENOMEM ? ret : 0;
	while ((de = readdir(d)) != NULL && nholders < SHIMPROC_MAX_HOLDERS) {
		long v;

		if (!all_digits(de->d_name) || !is_shim(procfd, de->d_name) ||
		    !holds(procfd, de->d_name, &inodes))
			continue;
		v = strtol(de->d_name, NULL, 10);
		if (v <= 0 || v > INT32_MAX)
			continue;
		holders[nholders].pid = (int32_t)v;
		holders[nholders].ppid = parent_of(procfd, de->d_name);
		nholders++;
	}
	closedir(d);
	close(procfd);
	*pid = choose(holders, nholders);
	return 0;
}

static int info_cmp(const void *x, const void *y)
{
	const struct shimproc_info *a = x, *b = y;

	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

void shimproc_list_free(struct shimproc_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].exe);
		free(v[i].cwd);
	}
	free(v);
}

int shimproc_list(struct shimproc_info **out, size_t *n)
{
	char exe[SHIMPROC_LINK_MAX], cwd[SHIMPROC_LINK_MAX];
	struct shimproc_info *v = NULL;
	size_t cap = 0, cnt = 0;
	struct dirent *de;
	int procfd, ret;
	DIR *d;

	*out = NULL;
	*n = 0;
	ret = proc_open(&procfd, &d);
	if (ret < 0)
		return ret == -ENOMEM ? ret : 0;
	while ((de = readdir(d)) != NULL) {
		char rel[NAME_MAX + 16], state;
		struct shimproc_info *x;
		struct stat sb;
		int32_t ppid;
		long pid;

		if (!all_digits(de->d_name) ||
		    proc_link(procfd, de->d_name, "exe", exe, sizeof(exe)) < 0 || !exe_is_shim(exe))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || pid > INT32_MAX)
			continue;
		if (!proc_stat(procfd, de->d_name, &state, &ppid) || state == 'Z' || state == 'X' ||
		    state == 'x')
			continue;
		if (proc_link(procfd, de->d_name, "cwd", cwd, sizeof(cwd)) < 0)
			continue;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct shimproc_info *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv)
				goto nomem;
			v = nv;
			cap = ncap;
		}
		x = &v[cnt];
		memset(x, 0, sizeof(*x));
		x->pid = (int32_t)pid;
		x->exe = strdup(exe);
		x->cwd = strdup(cwd);
		if (!x->exe || !x->cwd) {
			free(x->exe);
			free(x->cwd);
			goto nomem;
		}
		/* The directory itself, through the kernel's link: also when it was removed. */
		snprintf(rel, sizeof(rel), "%s/cwd", de->d_name);
		if (fstatat(procfd, rel, &sb, 0) == 0) {
			x->cwd_known = true;
			x->cwd_dev = sb.st_dev;
			x->cwd_ino = sb.st_ino;
		}
		cnt++;
	}
	closedir(d);
	close(procfd);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), info_cmp);
	*out = v;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	close(procfd);
	shimproc_list_free(v, cnt);
	return -ENOMEM;
}
