/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening unix sockets by name (unixsock.h): sock_diag with a hint table,
 * or /proc/net/unix.
 */
#include "unixsock.h"

#include "unixdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The kernel's __SO_ACCEPTCON, shown in /proc/net/unix's Flags column. */
#define UNIXSOCK_ACCEPTCON 0x10000UL
/* Longer lines of /proc/net/unix (none are: sun_path is 108 bytes) are skipped. */
#define UNIXSOCK_LINE_MAX 1024
/* The state of a listener in sock_diag (the kernel's TCP_LISTEN). */
#define UNIXSOCK_LISTEN 10

/* A listener of the last dump: the hash of its name, its inode and cookie. */
struct hint {
	uint64_t hash;
	uint32_t ino;
	uint32_t cookie[2];
};

static struct {
	pthread_mutex_t lock;
	struct hint *v; /* protected by lock; sorted by hash */
	size_t n;	/* protected by lock */
	bool valid;	/* protected by lock: a dump has filled v */
	uint64_t built; /* protected by lock: unixsock_now() when that dump began */
} hints = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_bool no_diag;
static atomic_ulong n_dumps, n_confirms, n_proc_reads;

uint64_t unixsock_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void unixsock_use_diag(bool on)
{
	atomic_store(&no_diag, !on);
}

void unixsock_stats(struct unixsock_stats *out)
{
	out->dumps = atomic_load(&n_dumps);
	out->confirms = atomic_load(&n_confirms);
	out->proc_reads = atomic_load(&n_proc_reads);
}

/* FNV-1a. */
static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static bool name_in(const char *name, size_t len, const char *const *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++)
		if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			return true;
	return false;
}

static void add_ino(uint32_t *inos, size_t *n, uint32_t ino)
{
	for (size_t i = 0; i < *n; i++)
		if (inos[i] == ino)
			return;
	if (*n < UNIXSOCK_MAX)
		inos[(*n)++] = ino;
}

/* ------------------------------------------------------- /proc/net/unix */

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
 * the path. Adds the inode when the socket listens at one of the names.
 */
static void unix_line(const char *line, size_t len, const char *const *names, size_t nnames,
		      uint32_t *inos, size_t *n)
{
	const char *end = line + len, *p = memchr(line, ':', len);
	unsigned long refcount, protocol, flags, type, st, ino;

	if (p == NULL)
		return; /* the header */
	p++;
	if (!parse_ulong(&p, end, 16, &refcount) || !parse_ulong(&p, end, 16, &protocol) ||
	    !parse_ulong(&p, end, 16, &flags) || !parse_ulong(&p, end, 16, &type) ||
	    !parse_ulong(&p, end, 16, &st) || !parse_ulong(&p, end, 10, &ino))
		return;
	if (!(flags & UNIXSOCK_ACCEPTCON) || p >= end || *p != ' ' || ino > UINT32_MAX)
		return;
	p++;
	if (name_in(p, (size_t)(end - p), names, nnames))
		add_ino(inos, n, (uint32_t)ino);
}

/* The listening sockets bound at names, from /proc/net/unix (file unchecked). */
static void proc_listeners(const char *const *names, size_t nnames, uint32_t *inos, size_t *n)
{
	char buf[UNIXSOCK_LINE_MAX];
	size_t have = 0;
	bool skipping = false;
	ssize_t r;
	int fd;

	*n = 0;
	atomic_fetch_add(&n_proc_reads, 1);
	fd = open("/proc/net/unix", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		char *nl;

		r = read(fd, buf + have, sizeof(buf) - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t len = (size_t)(nl - buf);

			if (!skipping)
				unix_line(buf, len, names, nnames, inos, n);
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

/* ------------------------------------------------------------ sock_diag */

struct dump {
	struct hint *v;
	size_t n, cap;
};

static int dump_one(const struct unixdiag_sock *s, void *arg)
{
	struct dump *d = arg;

	if (s->name_len == 0)
		return 0;
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 256;
		struct hint *nv = realloc(d->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		d->v = nv;
		d->cap = ncap;
	}
	d->v[d->n++] = (struct hint){.hash = name_hash(s->name, s->name_len),
				     .ino = s->ino,
				     .cookie = {s->cookie[0], s->cookie[1]}};
	return 0;
}

static int hint_cmp(const void *x, const void *y)
{
	const struct hint *a = x, *b = y;

	return a->hash < b->hash ? -1 : a->hash > b->hash;
}

/* A new hint table from one dump, in place of the last one. 0 or -errno. */
static int refresh(int nl)
{
	struct dump d = {0};
	uint64_t t = unixsock_now();
	struct hint *old;
	int ret;

	atomic_fetch_add(&n_dumps, 1);
	ret = unixdiag_listeners(nl, dump_one, &d);
	if (ret < 0) {
		free(d.v);
		return ret;
	}
	if (d.n > 1)
		qsort(d.v, d.n, sizeof(*d.v), hint_cmp);
	pthread_mutex_lock(&hints.lock);
	/* A concurrent call's newer dump stays. */
	if (hints.valid && hints.built > t) {
		old = d.v;
	} else {
		old = hints.v;
		hints.v = d.v;
		hints.n = d.n;
		hints.built = t;
		hints.valid = true;
	}
	pthread_mutex_unlock(&hints.lock);
	free(old);
	return 0;
}

/* The table's listeners whose name hashes as one of the names; false if none was dumped. */
static bool candidates(const char *const *names, size_t nnames, struct hint *out, size_t max,
		       size_t *n, uint64_t *built)
{
	*n = 0;
	pthread_mutex_lock(&hints.lock);
	if (!hints.valid) {
		pthread_mutex_unlock(&hints.lock);
		return false;
	}
	*built = hints.built;
	for (size_t i = 0; i < nnames; i++) {
		uint64_t h = name_hash(names[i], strlen(names[i]));
		size_t lo = 0, hi = hints.n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (hints.v[mid].hash < h)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < hints.n && hints.v[lo].hash == h && *n < max; lo++)
			out[(*n)++] = hints.v[lo];
	}
	pthread_mutex_unlock(&hints.lock);
	return true;
}

/*
 * Whether one confirmed socket is the whole answer: a file is bound by one
 * socket at most, and an abstract name (without a NUL shown as '@') too.
 */
static bool unique(const char *const *names, size_t nnames, const struct stat *file)
{
	return file != NULL || (nnames == 1 && names[0][0] == '@' && !strchr(names[0] + 1, '@'));
}

/* unixsock_listeners with sock_diag: 0, -ENOMEM, or another -errno to read /proc instead. */
static int diag_listeners(int nl, const char *const *names, size_t nnames, const struct stat *file,
			  uint64_t since, uint32_t *inos, size_t *n)
{
	struct hint cand[2 * UNIXSOCK_MAX];
	size_t ncand;
	uint64_t built = 0;
	int ret;

	for (int attempt = 0; attempt < 2; attempt++) {
		*n = 0;
		if (!candidates(names, nnames, cand, 2 * UNIXSOCK_MAX, &ncand, &built) ||
		    attempt > 0) {
			ret = refresh(nl);
			if (ret < 0)
				return ret;
			if (!candidates(names, nnames, cand, 2 * UNIXSOCK_MAX, &ncand, &built))
				return -EPROTO;
		}
		for (size_t i = 0; i < ncand; i++) {
			struct unixdiag_sock s;

			atomic_fetch_add(&n_confirms, 1);
			ret = unixdiag_get(nl, cand[i].ino, cand[i].cookie, &s);
			if (ret == -ENOENT)
				continue; /* closed since the dump */
			if (ret < 0)
				return ret;
			if (s.state != UNIXSOCK_LISTEN ||
			    !name_in(s.name, s.name_len, names, nnames))
				continue;
			if (file != NULL && !(s.vfs_known && s.vfs_dev == file->st_dev &&
					      s.vfs_ino == file->st_ino))
				continue;
			add_ino(inos, n, s.ino);
		}
		/* Dumped during this call, or nothing more to find: the answer. */
		if (built >= since || (*n > 0 && unique(names, nnames, file)))
			return 0;
	}
	return 0;
}

int unixsock_listeners(const char *const *names, size_t nnames, const struct stat *file,
		       uint64_t since_ns, uint32_t *inos, size_t *n)
{
	int nl, ret = -EPROTONOSUPPORT;

	*n = 0;
	if (nnames == 0)
		return 0;
	if (!atomic_load(&no_diag)) {
		nl = unixdiag_open();
		ret = nl;
		if (nl >= 0) {
			ret = diag_listeners(nl, names, nnames, file, since_ns, inos, n);
			close(nl);
		}
	}
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0)
		proc_listeners(names, nnames, inos, n);
	return 0;
}
