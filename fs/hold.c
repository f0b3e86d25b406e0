/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names seen differently by one process (SPEC 4.2, 7.2).
 *
 * Released names: a bundle's config.json, its computed files and its v2
 * work link cannot be removed on their own, yet the shell's tools unlink
 * before they replace (`mv` across file systems, `tar -x`, `cp -f`) and
 * unlink everything before the rmdir (`rm -rf`). Such an unlink succeeds
 * and changes nothing in the store: it releases the name to the process
 * that made it. For that process alone the name is absent until it makes
 * the file again (which then replaces the stored one as any write does,
 * validated) or exits; every other process sees the bundle as it is.
 *
 * Shown names: a v2 bundle's work link is not shown before config.json
 * (SPEC 7.2), so that containerd's own symlink(2) reaches the daemon; a
 * process whose symlink(2) onto it succeeded sees it from then on (the
 * tools that copy a link set its owner and times next).
 *
 * A hold names the bundle ("ns/id"), the file and the process: its thread
 * group id and that group leader's start time, so a reused pid holds
 * nothing. Holds of processes that are gone are dropped as they are met.
 * The table is small (one entry per released name of a live process) and
 * guarded by its own lock, never held across anything but /proc reads of
 * the caller.
 */
#include "hold.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct hold {
	struct hold *next;
	enum hold_kind kind;
	pid_t tgid;
	unsigned long long start;
	char key[]; /* "ns/id" NUL name NUL */
};

static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hold *holds;	/* protected by hold_lock */
static atomic_size_t nholds;	/* read without the lock: the fast path when there is none */
static atomic_size_t nreleased; /* of them HOLD_RELEASED (hold_none_released) */

/* h leaves the table (the lock held). */
static void hold_gone(struct hold *h)
{
	atomic_fetch_sub(&nholds, 1);
	if (h->kind == HOLD_RELEASED)
		atomic_fetch_sub(&nreleased, 1);
	free(h);
}

/* Read /proc/<pid>/<file> into buf (NUL-terminated); the length or -1. */
static ssize_t proc_read(pid_t pid, const char *file, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The start time of process pid (field 22 of its stat), 0 if it is gone. */
static unsigned long long start_time(pid_t pid)
{
	unsigned long long start = 0;
	char buf[1024], *p;

	if (proc_read(pid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	/* The command name may hold spaces and parentheses: fields follow its last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
			 "%*d %*d %*d %*d %llu",
			 &start) != 1)
		return 0;
	return start;
}

/* The process of the request's thread: its thread group and start time. */
static int caller(fuse_req_t req, pid_t *tgid, unsigned long long *start)
{
	pid_t tid = fuse_req_ctx(req)->pid;
	char buf[2048], *p;

	/* 0: the caller lives in a pid namespace the daemon cannot see. */
	if (tid <= 0 || proc_read(tid, "status", buf, sizeof(buf)) < 0)
		return -ESRCH;
	p = strstr(buf, "\nTgid:");
	if (!p || sscanf(p + 6, "%d", tgid) != 1)
		return -ESRCH;
	*start = start_time(*tgid);
	return *start ? 0 : -ESRCH;
}

static struct hold *hold_new(enum hold_kind kind, const char *bundle, const char *name, pid_t tgid,
			     unsigned long long start)
{
	size_t bl = strlen(bundle), nl = strlen(name);
	struct hold *h = malloc(sizeof(*h) + bl + nl + 2);

	if (!h)
		return NULL;
	h->kind = kind;
	h->tgid = tgid;
	h->start = start;
	memcpy(h->key, bundle, bl + 1);
	memcpy(h->key + bl + 1, name, nl + 1);
	return h;
}

static bool hold_is(const struct hold *h, const char *bundle, const char *name)
{
	return !strcmp(h->key, bundle) && !strcmp(h->key + strlen(h->key) + 1, name);
}

/*
 * Find the hold of (bundle, name) by tgid/start, dropping holds of dead
 * processes on the way; with take, the one found is removed too. Caller
 * holds hold_lock.
 */
static bool find_locked(enum hold_kind kind, const char *bundle, const char *name, pid_t tgid,
			unsigned long long start, bool take)
{
	bool found = false;

	for (struct hold **p = &holds; *p;) {
		struct hold *h = *p;
		bool dead = h->start != start_time(h->tgid);
		bool match = !dead && h->kind == kind && h->tgid == tgid && h->start == start &&
			     hold_is(h, bundle, name);

		if (match)
			found = true;
		if (dead || (match && take)) {
			*p = h->next;
			hold_gone(h);
			continue;
		}
		p = &h->next;
	}
	return found;
}

static void bundle_key(char *key, size_t size, const char *ns, const char *id)
{
	snprintf(key, size, "%s/%s", ns, id);
}

int hold_add(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id, const char *name)
{
	char key[2 * NAME_MAX + 2];
	unsigned long long start;
	struct hold *h;
	pid_t tgid;

	/* A caller the daemon cannot name: nothing is held, nothing changed. */
	if (caller(req, &tgid, &start) < 0)
		return 0;
	bundle_key(key, sizeof(key), ns, id);
	h = hold_new(kind, key, name, tgid, start);
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&hold_lock);
	if (find_locked(kind, key, name, tgid, start, false)) {
		free(h);
	} else {
		h->next = holds;
		holds = h;
		atomic_fetch_add(&nholds, 1);
		if (kind == HOLD_RELEASED)
			atomic_fetch_add(&nreleased, 1);
	}
	pthread_mutex_unlock(&hold_lock);
	return 0;
}

static bool check(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id,
		  const char *name, bool take)
{
	char key[2 * NAME_MAX + 2];
	unsigned long long start;
	pid_t tgid;
	bool found;

	if (atomic_load(&nholds) == 0 || caller(req, &tgid, &start) < 0)
		return false;
	bundle_key(key, sizeof(key), ns, id);
	pthread_mutex_lock(&hold_lock);
	found = find_locked(kind, key, name, tgid, start, take);
	pthread_mutex_unlock(&hold_lock);
	return found;
}

bool hold_has(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id, const char *name)
{
	return check(req, kind, ns, id, name, false);
}

bool hold_take(fuse_req_t req, enum hold_kind kind, const char *ns, const char *id,
	       const char *name)
{
	return check(req, kind, ns, id, name, true);
}

void hold_forget_bundle(const char *ns, const char *id)
{
	char key[2 * NAME_MAX + 2];

	if (atomic_load(&nholds) == 0)
		return;
	bundle_key(key, sizeof(key), ns, id);
	pthread_mutex_lock(&hold_lock);
	for (struct hold **p = &holds; *p;) {
		struct hold *h = *p;

		if (!strcmp(h->key, key)) {
			*p = h->next;
			hold_gone(h);
			continue;
		}
		p = &h->next;
	}
	pthread_mutex_unlock(&hold_lock);
}

void holds_free_all(void)
{
	pthread_mutex_lock(&hold_lock);
	while (holds) {
		struct hold *h = holds;

		holds = h->next;
		free(h);
	}
	atomic_store(&nholds, 0);
	atomic_store(&nreleased, 0);
	pthread_mutex_unlock(&hold_lock);
}

bool hold_none_released(void)
{
	return atomic_load(&nreleased) == 0;
}
