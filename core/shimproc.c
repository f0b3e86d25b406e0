/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim that holds a listening unix socket (shimproc.h): unixsock.h for
 * the socket's inode, then the descriptors of the processes that are shims,
 * remembered from the last walk of /proc and confirmed at each use.
 */
#include "shimproc.h"

#include "unixsock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* readlink of /proc/<pid>/exe or cwd: PATH_MAX and " (deleted)". */
#define SHIMPROC_LINK_MAX (PATH_MAX + 32)
/* Processes holding the sockets at once: more are ignored. */
#define SHIMPROC_MAX_HOLDERS 16

struct shimproc_holder {
	int32_t pid, ppid;
};

/* A socket a shim holds: socket:[ino] at /proc/<pid>/fd/<fd>. */
struct shimproc_held {
	uint32_t ino;
	int32_t pid, ppid;
	int fd;
};

/*
 * The sockets every shim held at the last walk of /proc, sorted by (ino,
 * pid): a hint, confirmed at each use (holder_cached).
 */
static struct {
	pthread_mutex_t lock;
	struct shimproc_held *v; /* protected by lock */
	size_t n;		 /* protected by lock */
} held = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* "socket:[N]" (a readlink of /proc/<pid>/fd/<fd>, n bytes) into *ino; false when not one. */
static bool socket_link(const char *target, size_t n, uint32_t *ino)
{
	static const char pre[] = "socket:[";
	unsigned long v = 0;
	size_t i = sizeof(pre) - 1;

	if (n < sizeof(pre) + 1 || memcmp(target, pre, sizeof(pre) - 1) != 0 ||
	    target[n - 1] != ']')
		return false;
	for (; i < n - 1; i++) {
		if (target[i] < '0' || target[i] > '9' || v > UINT32_MAX / 10)
			return false;
		v = v * 10 + (unsigned long)(target[i] - '0');
	}
	if (i == sizeof(pre) - 1 || v > UINT32_MAX)
		return false;
	*ino = (uint32_t)v;
	return true;
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

struct held_vec {
	struct shimproc_held *v;
	size_t n, cap;
};

/* Every socket process pid (a shim, whose parent is ppid) holds, into out. 0 or -ENOMEM. */
static int held_sockets(int procfd, const char *pid, int32_t ipid, int32_t ppid,
			struct held_vec *out)
{
	char rel[NAME_MAX + 16], target[64];
	struct dirent *de;
	int fd, ret = 0;
	DIR *d;

	snprintf(rel, sizeof(rel), "%s/fd", pid);
	fd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	while (ret == 0 && (de = readdir(d)) != NULL) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target));
		uint32_t ino;
		long dfd;

		if (n <= 0 || (size_t)n >= sizeof(target) || !socket_link(target, (size_t)n, &ino))
			continue;
		dfd = strtol(de->d_name, NULL, 10);
		if (dfd < 0 || dfd > INT_MAX)
			continue;
		if (out->n == out->cap) {
			size_t ncap = out->cap ? out->cap * 2 : 64;
			struct shimproc_held *nv = realloc(out->v, ncap * sizeof(*nv));

			if (nv == NULL) {
				ret = -ENOMEM;
				break;
			}
			out->v = nv;
			out->cap = ncap;
		}
		out->v[out->n++] =
		    (struct shimproc_held){.ino = ino, .pid = ipid, .ppid = ppid, .fd = (int)dfd};
	}
	closedir(d);
	return ret;
}

/*
 * The state (field 3) and parent (field 4) of pid from /proc/<pid>/stat,
 * after the last ')' (comm may hold anything). false when unknown.
 */
static bool proc_stat(int procfd, const char *pid, char *state, int32_t *ppid)
{
	char rel[NAME_MAX + 16], buf[1024];
	const char *p;
	char *e;
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
	p += 4;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoul(p, &e, 10);
	if (errno != 0 || *e != ' ' || v > INT32_MAX)
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

static int held_cmp(const void *x, const void *y)
{
	const struct shimproc_held *a = x, *b = y;

	if (a->ino != b->ino)
		return a->ino < b->ino ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

/* The first entry of sorted v (n of them) for socket ino, or n. */
static size_t held_find(const struct shimproc_held *v, size_t n, uint32_t ino)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo].ino == ino ? lo : n;
}

/*
 * The holders of the sockets inos in v (sorted), one per process, at most
 * SHIMPROC_MAX_HOLDERS; the chosen one's entry into *chosen. Its pid, or 0.
 */
static int32_t choose_in(const struct shimproc_held *v, size_t n, const uint32_t *inos,
			 size_t ninos, struct shimproc_held *chosen)
{
	struct shimproc_holder h[SHIMPROC_MAX_HOLDERS];
	struct shimproc_held e[SHIMPROC_MAX_HOLDERS];
	size_t nh = 0;
	int32_t pid;

	for (size_t k = 0; k < ninos; k++) {
		for (size_t i = held_find(v, n, inos[k]); i < n && v[i].ino == inos[k]; i++) {
			size_t j = 0;

			while (j < nh && h[j].pid != v[i].pid)
				j++;
			if (j < nh || nh == SHIMPROC_MAX_HOLDERS)
				continue;
			h[nh] = (struct shimproc_holder){v[i].pid, v[i].ppid};
			e[nh++] = v[i];
		}
	}
	pid = choose(h, nh);
	for (size_t j = 0; j < nh; j++)
		if (h[j].pid == pid)
			*chosen = e[j];
	return pid;
}

/*
 * The holder the last walk chose for socket ino, if it still is a shim and
 * holds the socket at the same descriptor: two readlinks.
 */
static bool holder_cached(uint32_t ino, int32_t *pid)
{
	struct shimproc_held c = {0};
	char path[64], target[SHIMPROC_LINK_MAX];
	uint32_t got;
	ssize_t n;
	int32_t p;

	pthread_mutex_lock(&held.lock);
	p = choose_in(held.v, held.n, &ino, 1, &c);
	pthread_mutex_unlock(&held.lock);
	if (p <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%" PRId32 "/fd/%d", p, c.fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0 || !socket_link(target, (size_t)n, &got) || got != ino)
		return false;
	snprintf(path, sizeof(path), "/proc/%" PRId32 "/exe", p);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	if (!exe_is_shim(target))
		return false;
	*pid = p;
	return true;
}

/* Every shim's sockets, from /proc, as the new holder table; then the holder of inos. */
static int holder_walk(const uint32_t *inos, size_t ninos, int32_t *pid)
{
	struct held_vec hv = {0};
	struct shimproc_held c;
	struct dirent *de;
	int procfd, ret;
	DIR *d;

	ret = proc_open(&procfd, &d);
	if (ret < 0)
		return ret == -ENOMEM ? ret : 0;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		long v;

		if (!all_digits(de->d_name) || !is_shim(procfd, de->d_name))
			continue;
		v = strtol(de->d_name, NULL, 10);
		if (v <= 0 || v > INT32_MAX)
			continue;
		ret = held_sockets(procfd, de->d_name, (int32_t)v, parent_of(procfd, de->d_name),
				   &hv);
	}
	closedir(d);
	close(procfd);
	if (ret < 0) {
		free(hv.v);
		return ret;
	}
	if (hv.n > 1)
		qsort(hv.v, hv.n, sizeof(*hv.v), held_cmp);
	*pid = choose_in(hv.v, hv.n, inos, ninos, &c);
	pthread_mutex_lock(&held.lock);
	{
		struct shimproc_held *old = held.v;

		held.v = hv.v;
		held.n = hv.n;
		hv.v = old;
	}
	pthread_mutex_unlock(&held.lock);
	free(hv.v);
	return 0;
}

int shimproc_listener(const char *const *paths, size_t npaths, const struct stat *file,
		      int32_t *pid)
{
	uint64_t since = unixsock_now();
	uint32_t inos[UNIXSOCK_MAX];
	size_t n;
	int ret;

	*pid = 0;
	ret = unixsock_listeners(paths, npaths, file, since, inos, &n);
	if (ret < 0 || n == 0)
		return ret;
	if (n == 1 && holder_cached(inos[0], pid))
		return 0;
	return holder_walk(inos, n, pid);
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
