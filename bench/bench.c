/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench: the measuring half of the bundlefs benchmark (bench/run.sh is the
 * other half: it builds, creates the stores, mounts and prints the table).
 *
 * Every measuring command takes one or more columns LABEL=ARG and, for each of
 * REPS repetitions, measures every column in turn (so that the columns see the
 * same machine state), then prints one line per column:
 *
 *     RESULT <label> <median rate> <min rate> <max rate>
 *
 * Rates are operations per second (entries per second for readdir, cycles per
 * second for cycle); churn reports milliseconds instead. Bundle ids are
 * "b%07u", 0 <= i < COUNT, as populate makes them.
 *
 *   bench populate [-a BYTES|PREFIX] [-j] STATE WORK NS COUNT
 *       S/NS and W/NS (0711), then per bundle S/NS/<id> (0700), S/NS/<id>/rootfs
 *       (0711), W/NS/<id> (0711). -a BYTES: a stored S/NS/<id>/address of that
 *       many bytes, shaped like a computed one; -a PREFIX (not a number): a
 *       stored address PREFIX<id>. -j: a stored config.json (a small OCI spec).
 *   bench stat    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] COUNT LABEL=NSDIR...
 *       stat(2) of every bundle directory. -c: drop the kernel's caches before
 *       each pass (cold). -w SET: warm: stat the first SET bundles once, then
 *       repeat whole passes over them for -d seconds (WARM_WINDOW by default,
 *       inside the 0.5 s cache window). -e SEC: sleep SEC seconds before each
 *       pass (lets cache entries of the previous pass expire).
 *   bench read    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] COUNT LABEL=NSDIR...
 *       open, read (until EOF), close of every NSDIR/<id>/address; -w, -d as
 *       for stat.
 *   bench readdir [-r REPS] [-p] [-d SEC] LABEL=DIR...
 *       whole listings (opendir, readdir to the end, closedir) of DIR, repeated
 *       for -d seconds per pass (READDIR_WINDOW by default). -p: one untimed
 *       listing before each pass (warm).
 *   bench cycle   [-r REPS] -n N LABEL=fs:NSDIR | LABEL=direct:STATE_NS:WORK_NS ...
 *       N bundle create-and-delete cycles. fs: mkdir, write config.json,
 *       rmdir through a bundlefs mount. direct: containerd's newBundle and
 *       bundle.Delete done on plain directories.
 *   bench status  [-r REPS] [-e SEC] [-l] -s SOCKDIR COUNT LABEL=NSDIR
 *       open, read, close of every NSDIR/<id>/status, whose bundle's stored
 *       address names SOCKDIR/<id>. -l: live: bind and listen on every
 *       SOCKDIR/<id> (COUNT descriptors) and accept whatever connects, so that
 *       status must report "listening":true; the socket files stay behind,
 *       dead. Without -l: dead: SOCKDIR/<id> are bound socket files with no
 *       listener (connect refused), "listening":false. A status that says
 *       otherwise is counted and reported on stderr.
 *   bench churn   [-r REPS] -n N [-P PID] [-L DIR] LABEL=STATE_NS:WORK_NS
 *       containerd-like churn directly in the backing store: N bundles made
 *       (S/NS/<id> 0700 with rootfs, config.json, address and init.pid, and
 *       W/NS/<id>), then all N removed as bundle.Delete does. Reports the
 *       churn's wall time in ms; with -P, a second line LABEL-cpu: the CPU
 *       time (utime + stime of /proc/PID/stat, ms) process PID spent from
 *       just before the churn until CHURN_SETTLE seconds after it. -L DIR:
 *       before each repetition, list DIR and lstat every entry (as ls -l
 *       does), and keep DIR open during the churn.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_COLS 8
#define MAX_REPS 64
#define WARM_WINDOW 0.25
#define READDIR_WINDOW 0.2
#define CHURN_SETTLE 0.5 /* longer than bundlefs's 100 ms to see a change beside it */

/* A small valid OCI runtime spec, as ctr writes one (trimmed). */
static const char spec_json[] =
    "{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,"
    "\"gid\":0},\"args\":[\"sh\"],\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
    "/usr/bin:/sbin:/bin\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\","
    "\"CAP_KILL\"],\"effective\":[\"CAP_CHOWN\",\"CAP_KILL\"],\"permitted\":[\"CAP_CHOWN\","
    "\"CAP_KILL\"]},\"noNewPrivileges\":true},\"root\":{\"path\":\"rootfs\"},\"hostname\":"
    "\"bench\",\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
    "{\"type\":\"mount\"},{\"type\":\"network\"}],\"maskedPaths\":[\"/proc/kcore\"],"
    "\"readonlyPaths\":[\"/proc/sys\"]}}\n";

struct col {
	const char *label;
	const char *arg; /* a directory, or fs:DIR / direct:S:W for cycle */
	double rates[MAX_REPS];
	double cpu[MAX_REPS]; /* churn with -P */
};

static struct col cols[MAX_COLS];
static int ncols;
static int reps = 5, nthreads = 1, cold, warm_set, ncycles = 100, prime, live;
static double expire_sec, duration;
static const char *read_name = "address"; /* the file read by OP_READ */
static const char *expect;		  /* OP_READ: text every read must contain */
static unsigned long unexpected;	  /* reads without it (atomic) */
static const char *sock_dir;
static pid_t cpu_pid;
static const char *list_dir;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_sec(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void bundle_id(char *buf, size_t sz, unsigned int i)
{
	snprintf(buf, sz, "b%07u", i);
}

/*
 * Cold caches: dentries, inodes and pages of every file system, the FUSE
 * mounts included. Twice, because a FUSE server's own descriptors pin backing
 * dentries until the kernel's FORGETs of the first pass have reached it.
 */
static void drop_caches(void)
{
	for (int i = 0; i < 2; i++) {
		int fd;

		sync();
		fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "3\n", 2) != 2)
			die("drop caches:", "/proc/sys/vm/drop_caches");
		close(fd);
		sleep_sec(0.2);
	}
}

/* ------------------------------------------------------------------ populate */

/*
 * A stored address: ALEN bytes shaped like a computed one when spec is a
 * number, else spec followed by the bundle id. Returns its length.
 */
static size_t make_address(char *buf, size_t sz, const char *spec, const char *id)
{
	char *end;
	size_t alen = strtoul(spec, &end, 10);

	if (*end || end == spec)
		return (size_t)snprintf(buf, sz, "%s%s", spec, id);
	if (alen > sz)
		alen = sz;
	memset(buf, 'a', alen);
	memcpy(buf, "unix:///run/containerd/s/", alen < 25 ? alen : 25);
	return alen;
}

static void write_buf(int dirfd, const char *name, const char *buf, size_t len, const char *what)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) < 0)
		die("write file in", what);
}

static const char *pop_address; /* -a */
static int pop_spec;		/* -j */

static int cmd_populate(int argc, char **argv)
{
	char id[32], addr[4096];
	unsigned int count;
	int sfd, wfd, snsfd, wnsfd;

	if (argc != 4)
		return 2;
	count = (unsigned int)strtoul(argv[3], NULL, 10);
	sfd = open(argv[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	wfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || wfd < 0)
		die("open", argv[0]);
	if ((mkdirat(sfd, argv[2], 0711) < 0 && errno != EEXIST) ||
	    (mkdirat(wfd, argv[2], 0711) < 0 && errno != EEXIST))
		die("mkdir", argv[2]);
	snsfd = openat(sfd, argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
	wnsfd = openat(wfd, argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (snsfd < 0 || wnsfd < 0)
		die("open", argv[2]);
	for (unsigned int i = 0; i < count; i++) {
		int bfd;

		bundle_id(id, sizeof(id), i);
		if (mkdirat(snsfd, id, 0700) < 0)
			die("mkdir", id);
		bfd = openat(snsfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (bfd < 0 || mkdirat(bfd, "rootfs", 0711) < 0)
			die("mkdir rootfs in", id);
		if (pop_address) {
			size_t alen = make_address(addr, sizeof(addr), pop_address, id);

			write_buf(bfd, "address", addr, alen, id);
		}
		if (pop_spec)
			write_buf(bfd, "config.json", spec_json, sizeof(spec_json) - 1, id);
		close(bfd);
		if (mkdirat(wnsfd, id, 0711) < 0)
			die("mkdir work dir", id);
	}
	close(snsfd);
	close(wnsfd);
	close(sfd);
	close(wfd);
	return 0;
}

/* ------------------------------------------------------- stat / read passes */

enum op { OP_STAT, OP_READ };

struct job {
	enum op op;
	const char *dir;
	unsigned int from, to;	 /* bundle index range */
	unsigned int repeat_set; /* warm: 0, or the size of the set to loop over */
	pthread_barrier_t *start;
	unsigned long ops;
	double t0, t1;
};

static void one_op(enum op op, const char *dir, unsigned int i)
{
	char path[PATH_MAX], id[32], buf[4096];
	struct stat st;
	ssize_t n;
	int fd;

	bundle_id(id, sizeof(id), i);
	if (op == OP_STAT) {
		snprintf(path, sizeof(path), "%s/%s", dir, id);
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			die("stat", path);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, id, read_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		die("read", path);
	if (expect) {
		buf[n] = '\0';
		if (!strstr(buf, expect))
			__atomic_fetch_add(&unexpected, 1, __ATOMIC_RELAXED);
	}
	while (n > 0)
		n = read(fd, buf, sizeof(buf));
	if (n < 0 || close(fd) < 0)
		die("read/close", path);
}

static void *job_run(void *arg)
{
	struct job *j = arg;

	pthread_barrier_wait(j->start);
	j->t0 = now();
	if (!j->repeat_set) {
		for (unsigned int i = j->from; i < j->to; i++)
			one_op(j->op, j->dir, i);
		j->ops = j->to - j->from;
	} else {
		/* Warm: whole passes over the set until the window is used. */
		do {
			for (unsigned int i = 0; i < j->repeat_set; i++)
				one_op(j->op, j->dir, i);
			j->ops += j->repeat_set;
		} while (now() - j->t0 < (duration > 0 ? duration : WARM_WINDOW));
	}
	j->t1 = now();
	return NULL;
}

/* One pass over COUNT bundles of dir with nthreads threads: ops per second. */
static double pass(enum op op, const char *dir, unsigned int count)
{
	struct job jobs[16];
	pthread_t th[16];
	pthread_barrier_t bar;
	unsigned long ops = 0;
	double t0 = 0, t1 = 0;
	int n = nthreads;

	if (expire_sec > 0)
		sleep_sec(expire_sec);
	if (cold)
		drop_caches();
	if (warm_set) {
		for (unsigned int i = 0; i < (unsigned int)warm_set; i++)
			one_op(op, dir, i); /* prime the caches */
	}
	pthread_barrier_init(&bar, NULL, (unsigned int)n);
	for (int t = 0; t < n; t++) {
		jobs[t] = (struct job){
		    .op = op,
		    .dir = dir,
		    .from = (unsigned int)((unsigned long)count * t / n),
		    .to = (unsigned int)((unsigned long)count * (t + 1) / n),
		    .repeat_set = (unsigned int)warm_set,
		    .start = &bar,
		};
		if (t > 0 && pthread_create(&th[t], NULL, job_run, &jobs[t]) != 0)
			die("pthread_create", NULL);
	}
	job_run(&jobs[0]);
	for (int t = 1; t < n; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&bar);
	for (int t = 0; t < n; t++) {
		ops += jobs[t].ops;
		if (t == 0 || jobs[t].t0 < t0)
			t0 = jobs[t].t0;
		if (jobs[t].t1 > t1)
			t1 = jobs[t].t1;
	}
	return (double)ops / (t1 - t0);
}

/* ------------------------------------------------------------------ readdir */

static unsigned long list_once(const char *dir)
{
	unsigned long entries = 0;
	DIR *d = opendir(dir);

	if (!d)
		die("opendir", dir);
	errno = 0;
	while (readdir(d))
		entries++;
	if (errno)
		die("readdir", dir);
	closedir(d);
	return entries;
}

static double readdir_pass(const char *dir)
{
	double window = duration > 0 ? duration : READDIR_WINDOW, t0, t;
	unsigned long entries = 0;

	if (prime)
		list_once(dir);
	t0 = now();
	do {
		entries += list_once(dir);
		t = now() - t0;
	} while (t < window);
	return (double)entries / t;
}

/* ------------------------------------------------------------------- cycles */

static void write_file(int dirfd, const char *name, const char *what)
{
	size_t len = sizeof(spec_json) - 1;
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	if (fd < 0 || write(fd, spec_json, len) != (ssize_t)len || close(fd) < 0)
		die("write config.json in", what);
}

/* os.RemoveAll of a small tree: depth-first, entries then the directory. */
static void remove_all(int parent, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return;
	if (errno != EISDIR && errno != EPERM)
		die("unlink", name);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die("open", name);
	d = fdopendir(fd);
	if (!d)
		die("fdopendir", name);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		remove_all(dirfd(d), de->d_name);
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		die("rmdir", name);
}

/* atomicDelete: rename to .<id> in the same directory, then RemoveAll. */
static void atomic_delete(int nsfd, const char *id)
{
	char hidden[40];

	snprintf(hidden, sizeof(hidden), ".%s", id);
	if (renameat(nsfd, id, nsfd, hidden) < 0)
		die("rename", id);
	remove_all(nsfd, hidden);
}

/*
 * newBundle's steps directly in the store: S/<ns>/<id> 0700, W/<ns>/<id>
 * 0711, rootfs 0711 and config.json. Returns the bundle's O_PATH descriptor.
 */
static int new_bundle(int snsfd, int wnsfd, const char *id)
{
	int bfd;

	if (mkdirat(snsfd, id, 0700) < 0)
		die("mkdir", id);
	if (mkdirat(wnsfd, id, 0711) < 0)
		die("mkdir work dir", id);
	bfd = openat(snsfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 || mkdirat(bfd, "rootfs", 0711) < 0)
		die("mkdir rootfs in", id);
	write_file(bfd, "config.json", id);
	return bfd;
}

static void direct_cycle(int snsfd, int wnsfd, const char *id)
{
	char buf[256];
	int bfd, fd;

	/* newBundle: MkdirAll(S/ns) is done once by the caller (as it exists). */
	bfd = new_bundle(snsfd, wnsfd, id);
	/* Delete: loadAddress (absent here), then both atomic deletes. */
	fd = openat(bfd, "address", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf)) < 0)
			die("read address in", id);
		close(fd);
	}
	close(bfd);
	atomic_delete(snsfd, id);
	atomic_delete(wnsfd, id);
}

static void fs_cycle(int nsfd, const char *id)
{
	int bfd;

	if (mkdirat(nsfd, id, 0700) < 0)
		die("mkdir", id);
	bfd = openat(nsfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0)
		die("open", id);
	write_file(bfd, "config.json", id);
	close(bfd);
	if (unlinkat(nsfd, id, AT_REMOVEDIR) < 0)
		die("rmdir", id);
}

static double cycle_pass(const char *arg, unsigned int rep)
{
	char spec[PATH_MAX], *s, *w = NULL, id[32];
	bool direct;
	int snsfd, wnsfd = -1;
	double t0;

	snprintf(spec, sizeof(spec), "%s", arg);
	if (!strncmp(spec, "fs:", 3)) {
		direct = false;
		s = spec + 3;
	} else if (!strncmp(spec, "direct:", 7)) {
		direct = true;
		s = spec + 7;
		w = strchr(s, ':');
		if (!w)
			die("cycle: direct:STATE_NS:WORK_NS expected:", arg);
		*w++ = '\0';
	} else {
		errno = EINVAL;
		die("cycle: fs: or direct: expected:", arg);
	}
	snsfd = open(s, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (snsfd < 0)
		die("open", s);
	if (direct) {
		wnsfd = open(w, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (wnsfd < 0)
			die("open", w);
	}
	t0 = now();
	for (int i = 0; i < ncycles; i++) {
		snprintf(id, sizeof(id), "c%u-%d", rep, i);
		if (direct)
			direct_cycle(snsfd, wnsfd, id);
		else
			fs_cycle(snsfd, id);
	}
	t0 = now() - t0;
	close(snsfd);
	if (wnsfd >= 0)
		close(wnsfd);
	return ncycles / t0;
}

/* ------------------------------------------------------------------- status */

struct listeners {
	int *fds;
	unsigned int n;
	int epfd;
	int stop; /* atomic */
};

/* A socket bound at SOCKDIR/<id> (an old file there replaced), listening. */
static int listen_socket(unsigned int i)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char id[32];
	int fd;

	bundle_id(id, sizeof(id), i);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", sock_dir, id) >=
	    (int)sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		die("socket path in", sock_dir);
	}
	if (unlink(sa.sun_path) < 0 && errno != ENOENT)
		die("unlink", sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket (raise ulimit -n?)", sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0)
		die("bind/listen", sa.sun_path);
	return fd;
}

/* Accepts and closes every connection, so that no backlog ever fills. */
static void *accept_loop(void *arg)
{
	struct listeners *l = arg;
	struct epoll_event ev[64];

	while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
		int n = epoll_wait(l->epfd, ev, 64, 100);

		for (int k = 0; k < n; k++) {
			int c;

			while ((c = accept4(ev[k].data.fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
				close(c);
		}
	}
	return NULL;
}

static void status_setup(struct listeners *l, pthread_t *th, unsigned int count)
{
	l->n = count;
	l->fds = calloc(count, sizeof(int));
	if (!l->fds)
		die("calloc", NULL);
	if (live) {
		l->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (l->epfd < 0)
			die("epoll_create1", NULL);
	}
	for (unsigned int i = 0; i < count; i++) {
		l->fds[i] = listen_socket(i);
		if (!live) {
			/* Dead: the file stays, its listener is gone (connect refused). */
			close(l->fds[i]);
			l->fds[i] = -1;
			continue;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->fds[i]};

		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->fds[i], &ev) < 0)
			die("epoll_ctl", NULL);
	}
	if (live && pthread_create(th, NULL, accept_loop, l) != 0)
		die("pthread_create", NULL);
	read_name = "status";
	expect = live ? "\"listening\":true" : "\"listening\":false";
}

static void status_teardown(struct listeners *l, pthread_t th, unsigned long reads)
{
	if (live) {
		__atomic_store_n(&l->stop, 1, __ATOMIC_RELAXED);
		pthread_join(th, NULL);
		for (unsigned int i = 0; i < l->n; i++)
			close(l->fds[i]);
		close(l->epfd);
	}
	free(l->fds);
	if (unexpected)
		fprintf(stderr, "bench: %lu of %lu status reads did not say %s\n", unexpected,
			reads, expect);
}

/* -------------------------------------------------------------------- churn */

static double proc_cpu_ms(pid_t pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die("read", path);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the command name, which may hold spaces. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2) {
		errno = EINVAL;
		die("parse", path);
	}
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* What ls -l does: list, lstat every entry. The directory stays open. */
static DIR *hold_listing(const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		die("opendir", dir);
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("lstat in", dir);
		errno = 0;
	}
	if (errno)
		die("readdir", dir);
	return d;
}

/* A bundle as containerd's newBundle, the shim and runc leave it. */
static void churn_create(int snsfd, int wnsfd, const char *id)
{
	char buf[128];
	size_t len;
	int bfd;

	bfd = new_bundle(snsfd, wnsfd, id);
	len = make_address(buf, sizeof(buf), "89", id);
	write_buf(bfd, "address", buf, len, id);
	len = (size_t)snprintf(buf, sizeof(buf), "%d", (int)getpid());
	write_buf(bfd, "init.pid", buf, len, id);
	close(bfd);
}

/* Wall time of the churn in ms; *cpu_ms: CPU time of cpu_pid meanwhile. */
static double churn_pass(const char *arg, unsigned int rep, double *cpu_ms)
{
	char spec[PATH_MAX], *w, id[32];
	DIR *held = NULL;
	double t, c0 = 0;
	int snsfd, wnsfd;

	snprintf(spec, sizeof(spec), "%s", arg);
	w = strchr(spec, ':');
	if (!w) {
		errno = EINVAL;
		die("churn: STATE_NS:WORK_NS expected:", arg);
	}
	*w++ = '\0';
	snsfd = open(spec, O_PATH | O_DIRECTORY | O_CLOEXEC);
	wnsfd = open(w, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (snsfd < 0 || wnsfd < 0)
		die("open", arg);
	if (list_dir)
		held = hold_listing(list_dir);
	if (cpu_pid) {
		sleep_sec(CHURN_SETTLE);
		c0 = proc_cpu_ms(cpu_pid);
	}
	t = now();
	for (int i = 0; i < ncycles; i++) {
		snprintf(id, sizeof(id), "k%u-%d", rep, i);
		churn_create(snsfd, wnsfd, id);
	}
	for (int i = 0; i < ncycles; i++) {
		snprintf(id, sizeof(id), "k%u-%d", rep, i);
		atomic_delete(snsfd, id);
		atomic_delete(wnsfd, id);
	}
	t = now() - t;
	if (cpu_pid) {
		sleep_sec(CHURN_SETTLE);
		*cpu_ms = proc_cpu_ms(cpu_pid) - c0;
	}
	if (held)
		closedir(held);
	close(snsfd);
	close(wnsfd);
	return t * 1000;
}

/* ------------------------------------------------------------------- driver */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *r)
{
	qsort(r, (size_t)reps, sizeof(double), cmp_double);
	return reps % 2 ? r[reps / 2] : (r[reps / 2 - 1] + r[reps / 2]) / 2;
}

static void report(bool with_cpu)
{
	for (int c = 0; c < ncols; c++) {
		double *r = cols[c].rates, m = median(r);

		printf("RESULT %s %.1f %.1f %.1f\n", cols[c].label, m, r[0], r[reps - 1]);
		if (with_cpu) {
			r = cols[c].cpu;
			m = median(r);
			printf("RESULT %s-cpu %.1f %.1f %.1f\n", cols[c].label, m, r[0],
			       r[reps - 1]);
		}
	}
	fflush(stdout);
}

static int parse_cols(int argc, char **argv, int first)
{
	for (int i = first; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || ncols == MAX_COLS)
			return -1;
		*eq = '\0';
		cols[ncols].label = argv[i];
		cols[ncols].arg = eq + 1;
		ncols++;
	}
	return ncols ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench populate [-a BYTES|PREFIX] [-j] STATE WORK NS COUNT\n"
		"       bench stat    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] COUNT "
		"LABEL=NSDIR...\n"
		"       bench read    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] COUNT "
		"LABEL=NSDIR...\n"
		"       bench readdir [-r REPS] [-p] [-d SEC] LABEL=DIR...\n"
		"       bench cycle   [-r REPS] -n N LABEL=fs:NSDIR|LABEL=direct:S_NS:W_NS...\n"
		"       bench status  [-r REPS] [-e SEC] [-l] -s SOCKDIR COUNT LABEL=NSDIR\n"
		"       bench churn   [-r REPS] -n N [-P PID] [-L DIR] LABEL=S_NS:W_NS...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct listeners listeners = {0};
	pthread_t accept_th = 0;
	const char *cmd;
	unsigned int count = 0;
	int opt;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "r:t:ce:w:n:d:pls:a:jP:L:")) != -1) {
		switch (opt) {
		case 'r':
			reps = atoi(optarg);
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'c':
			cold = 1;
			break;
		case 'e':
			expire_sec = atof(optarg);
			break;
		case 'w':
			warm_set = atoi(optarg);
			break;
		case 'n':
			ncycles = atoi(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'p':
			prime = 1;
			break;
		case 'l':
			live = 1;
			break;
		case 's':
			sock_dir = optarg;
			break;
		case 'a':
			pop_address = optarg;
			break;
		case 'j':
			pop_spec = 1;
			break;
		case 'P':
			cpu_pid = (pid_t)atoi(optarg);
			break;
		case 'L':
			list_dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (!strcmp(cmd, "populate")) {
		if (cmd_populate(argc - optind, argv + optind))
			usage();
		return 0;
	}
	if (reps < 1 || reps > MAX_REPS || nthreads < 1 || nthreads > 16 || ncycles < 1)
		usage();
	if (!strcmp(cmd, "stat") || !strcmp(cmd, "read") || !strcmp(cmd, "status")) {
		if (optind >= argc)
			usage();
		count = (unsigned int)strtoul(argv[optind++], NULL, 10);
		if (!count || (unsigned int)warm_set > count)
			usage();
	} else if (strcmp(cmd, "readdir") && strcmp(cmd, "cycle") && strcmp(cmd, "churn")) {
		usage();
	}
	if (parse_cols(argc, argv, optind) < 0)
		usage();
	if (!strcmp(cmd, "status")) {
		if (!sock_dir || ncols != 1 || warm_set)
			usage();
		status_setup(&listeners, &accept_th, count);
	}
	for (int r = 0; r < reps; r++) {
		for (int c = 0; c < ncols; c++) {
			double rate;

			if (!strcmp(cmd, "stat"))
				rate = pass(OP_STAT, cols[c].arg, count);
			else if (!strcmp(cmd, "read") || !strcmp(cmd, "status"))
				rate = pass(OP_READ, cols[c].arg, count);
			else if (!strcmp(cmd, "readdir"))
				rate = readdir_pass(cols[c].arg);
			else if (!strcmp(cmd, "churn"))
				rate = churn_pass(cols[c].arg, (unsigned int)r, &cols[c].cpu[r]);
			else
				rate = cycle_pass(cols[c].arg, (unsigned int)r);
			cols[c].rates[r] = rate;
		}
	}
	if (!strcmp(cmd, "status"))
		status_teardown(&listeners, accept_th, (unsigned long)reps * count);
	report(!strcmp(cmd, "churn") && cpu_pid);
	return 0;
}
