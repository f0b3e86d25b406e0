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
 *   bench stat    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] [-k PASSES] COUNT
 * LABEL=NSDIR... stat(2) of every bundle directory. -c: drop the kernel's caches before each pass
 * (cold). -w SET: warm: stat the first SET bundles once, then repeat whole passes over them for -d
 * seconds (WARM_WINDOW by default, inside the 0.5 s cache window). -e SEC: sleep SEC seconds before
 * each pass (lets cache entries of the previous pass expire). -k PASSES: drop the kernel's caches,
 * one untimed pass (the first lookup of every bundle), then PASSES timed passes back to back, each
 * reported on its own (LABEL-p1, LABEL-p2, ...). bench read    [-r REPS] [-t THREADS] [-c] [-e SEC]
 * [-w SET] [-d SEC] COUNT LABEL=NSDIR... open, read (until EOF), close of every NSDIR/<id>/address;
 * -w, -d as for stat. bench readdir [-r REPS] [-p] [-d SEC] LABEL=DIR... whole listings (opendir,
 * readdir to the end, closedir) of DIR, repeated for -d seconds per pass (READDIR_WINDOW by
 * default). -p: one untimed listing before each pass (warm). bench cycle   [-r REPS] -n N
 * LABEL=fs:NSDIR | LABEL=direct:STATE_NS:WORK_NS ... N bundle create-and-delete cycles. fs: mkdir,
 * write config.json, rmdir through a bundlefs mount. direct: containerd's newBundle and
 *       bundle.Delete done on plain directories.
 *   bench status  [-r REPS] [-e SEC] [-l [-m MOD]] [-x CMD] -s SOCKDIR COUNT LABEL=NSDIR
 *       open, read, close of every NSDIR/<id>/status, whose bundle's stored
 *       address names SOCKDIR/<id>. -l: live: bind and listen on every
 *       SOCKDIR/<id> (COUNT descriptors) and accept whatever connects, so that
 *       status must report "listening":true; the socket files stay behind,
 *       dead. -m MOD with -l: only bundles whose index is a multiple of MOD
 *       listen, the others are dead (and must say so). -x CMD: instead of
 *       reading, run CMD with sh -c once per repetition (sockets set up as
 *       above) and report seconds; its output's line count must be the
 *       number of dead bundles (a grep -l of the stale ones).
 *       Without -l: dead: SOCKDIR/<id> are bound socket files with no
 *       listener (connect refused), "listening":false. A status that says
 *       otherwise is counted and reported on stderr.
 *   bench mchurn  [-d SEC] [-W SEC] [-i SEC] [-P PID] [-Q PID] RW_NSDIR RO_NSDIR
 *       churn through two mounts of one store for SEC seconds (default 10):
 *       the main thread makes bundles in RW_NSDIR as a user of the mount does
 *       (mkdir, write config.json, read its status, rmdir), one at a time,
 *       while a second thread lists RO_NSDIR (a read-only mount of the same
 *       store) and reads every listed bundle's status, in a loop. Prints
 *       MCHURN lines: bundles made and removed per second, status reads per
 *       second, and for the daemons PID (-P, the read-write one) and -Q (the
 *       read-only one) VmRSS and RssAnon (KiB) and open descriptors before the churn, at
 *       -W SEC (default a sixth of the run: after the warm-up) and at the
 *       end, and VmHWM at the end. -i SEC: also print both daemons' RSS to
 *       stderr every SEC seconds.
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
#define MAX_PASSES 8
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
	double cpu[MAX_REPS];		     /* churn with -P */
	double prates[MAX_PASSES][MAX_REPS]; /* stat -k: each pass's rate */
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
static int kpasses;		      /* stat -k */
static unsigned live_mod;	      /* status -m: only every live_mod-th bundle listens */
static const char *xcmd;	      /* status -x */
static pid_t ro_pid;		      /* mchurn -Q */
static double warm_at = -1, interval; /* mchurn -W, -i */

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

/* Whether bundle i's socket listens (status -l, -m). */
static bool listens(unsigned int i)
{
	return live && (!live_mod || i % live_mod == 0);
}

/* What bundle i's status must say (status reads). */
static const char *expect_of(unsigned int i)
{
	return listens(i) ? "\"listening\":true" : "\"listening\":false";
}

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
		if (!strstr(buf, expect_of(i)))
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
		if (!listens(i)) {
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
	expect = "status";
}

static void status_teardown(struct listeners *l, pthread_t th, unsigned long reads)
{
	if (live) {
		__atomic_store_n(&l->stop, 1, __ATOMIC_RELAXED);
		pthread_join(th, NULL);
		for (unsigned int i = 0; i < l->n; i++)
			if (l->fds[i] >= 0)
				close(l->fds[i]);
		close(l->epfd);
	}
	free(l->fds);
	if (unexpected)
		fprintf(stderr,
			"bench: %lu of %lu status reads did not say \"listening\" as set up\n",
			unexpected, reads);
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

/* status -x: run cmd once with sh -c; seconds. Its output must have want lines. */
static double run_cmd(const char *cmd, unsigned long want)
{
	unsigned long lines = 0;
	double t0 = now();
	char buf[4096];
	size_t n;
	FILE *f = popen(cmd, "r");

	if (!f)
		die("popen", cmd);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t k = 0; k < n; k++)
			lines += buf[k] == '\n';
	if (pclose(f) == -1)
		die("pclose", cmd);
	t0 = now() - t0;
	if (lines != want)
		fprintf(stderr, "bench: %s: %lu lines, %lu expected\n", cmd, lines, want);
	return t0;
}

/* --------------------------------------------------- churn through mounts */

struct proc_fig {
	long rss_kib, anon_kib, hwm_kib, fds;
};

static long status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static struct proc_fig proc_fig(pid_t pid)
{
	struct proc_fig p = {-1, -1, -1, -1};
	char path[64];
	struct dirent *de;
	DIR *d;

	if (pid <= 0)
		return p;
	p.rss_kib = status_kib(pid, "VmRSS");
	p.anon_kib = status_kib(pid, "RssAnon");
	p.hwm_kib = status_kib(pid, "VmHWM");
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (d) {
		p.fds = 0;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				p.fds++;
		closedir(d);
	}
	return p;
}

struct reader {
	const char *dir;
	int stop; /* atomic */
	unsigned long reads, passes;
};

/* The operator's loop on the read-only mount: list, then read every status. */
static void *reader_run(void *arg)
{
	struct reader *r = arg;
	char path[PATH_MAX], buf[4096];

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		struct dirent *de;
		DIR *d = opendir(r->dir);

		if (!d)
			die("opendir", r->dir);
		while ((de = readdir(d)) && !__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
			int fd;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/status", de->d_name);
			/* Gone meanwhile (ENOENT, ESTALE): as for any reader. */
			fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			close(fd);
			r->reads++;
		}
		closedir(d);
		r->passes++;
	}
	return NULL;
}

static void print_figs(const char *who, const char *when, struct proc_fig f)
{
	printf("MCHURN %s-rss-%s %ld\nMCHURN %s-anon-%s %ld\nMCHURN %s-fds-%s %ld\n", who, when,
	       f.rss_kib, who, when, f.anon_kib, who, when, f.fds);
}

static int cmd_mchurn(const char *rw, const char *ro)
{
	double len = duration > 0 ? duration : 10, at = warm_at >= 0 ? warm_at : len / 6;
	double t0, t, next_tick;
	struct reader rd = {.dir = ro};
	struct proc_fig w0, r0, w1 = {-1, -1, -1, -1}, r1 = {-1, -1, -1, -1}, w2, r2;
	unsigned long made = 0, made_at = 0;
	char id[32], st[64], buf[4096];
	pthread_t th;
	bool warmed = false;
	int nsfd = open(rw, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (nsfd < 0)
		die("open", rw);
	w0 = proc_fig(cpu_pid);
	r0 = proc_fig(ro_pid);
	if (pthread_create(&th, NULL, reader_run, &rd) != 0)
		die("pthread_create", NULL);
	t0 = now();
	next_tick = interval;
	double t_at = 0;
	do {
		int bfd, fd;

		snprintf(id, sizeof(id), "m%lu", made);
		if (mkdirat(nsfd, id, 0700) < 0)
			die("mkdir", id);
		bfd = openat(nsfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (bfd < 0)
			die("open", id);
		write_file(bfd, "config.json", id);
		snprintf(st, sizeof(st), "status");
		fd = openat(bfd, st, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0)
			die("read status in", id);
		close(fd);
		close(bfd);
		if (unlinkat(nsfd, id, AT_REMOVEDIR) < 0)
			die("rmdir", id);
		made++;
		t = now() - t0;
		if (!warmed && t >= at) {
			warmed = true;
			w1 = proc_fig(cpu_pid);
			r1 = proc_fig(ro_pid);
			made_at = made;
			t_at = t;
		}
		if (interval > 0 && t >= next_tick) {
			fprintf(stderr,
				"bench: mchurn %.0f s: %lu bundles, rw %ld KiB (anon %ld), "
				"ro %ld KiB (anon %ld)\n",
				t, made, status_kib(cpu_pid, "VmRSS"),
				status_kib(cpu_pid, "RssAnon"), status_kib(ro_pid, "VmRSS"),
				status_kib(ro_pid, "RssAnon"));
			next_tick += interval;
		}
	} while (t < len);
	__atomic_store_n(&rd.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	w2 = proc_fig(cpu_pid);
	r2 = proc_fig(ro_pid);
	close(nsfd);
	printf("MCHURN seconds %.1f\nMCHURN bundles %lu\nMCHURN rate %.1f\n", t, made, made / t);
	printf("MCHURN rate-after-warmup %.1f\nMCHURN warmup-seconds %.1f\nMCHURN "
	       "bundles-after-warmup %lu\n",
	       t > t_at ? (made - made_at) / (t - t_at) : 0.0, t_at, made - made_at);
	printf("MCHURN reads %.1f\n", rd.reads / t);
	print_figs("rw", "start", w0);
	print_figs("rw", "warm", w1);
	print_figs("rw", "end", w2);
	print_figs("ro", "start", r0);
	print_figs("ro", "warm", r1);
	print_figs("ro", "end", r2);
	printf("MCHURN rw-hwm-end %ld\nMCHURN ro-hwm-end %ld\n", w2.hwm_kib, r2.hwm_kib);
	fflush(stdout);
	return 0;
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
		for (int k = 0; k < kpasses; k++) {
			r = cols[c].prates[k];
			m = median(r);
			printf("RESULT %s-p%d %.1f %.1f %.1f\n", cols[c].label, k + 1, m, r[0],
			       r[reps - 1]);
		}
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
		"       bench stat    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] [-k "
		"PASSES] COUNT "
		"LABEL=NSDIR...\n"
		"       bench read    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] [-d SEC] COUNT "
		"LABEL=NSDIR...\n"
		"       bench readdir [-r REPS] [-p] [-d SEC] LABEL=DIR...\n"
		"       bench cycle   [-r REPS] -n N LABEL=fs:NSDIR|LABEL=direct:S_NS:W_NS...\n"
		"       bench status  [-r REPS] [-e SEC] [-l [-m MOD]] [-x CMD] -s SOCKDIR COUNT "
		"LABEL=NSDIR\n"
		"       bench churn   [-r REPS] -n N [-P PID] [-L DIR] LABEL=S_NS:W_NS...\n"
		"       bench mchurn  [-d SEC] [-W SEC] [-i SEC] [-P PID] [-Q PID] RW_NSDIR "
		"RO_NSDIR\n");
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
	while ((opt = getopt(argc, argv, "r:t:ce:w:n:d:pls:a:jP:L:k:m:x:Q:W:i:")) != -1) {
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
		case 'k':
			kpasses = atoi(optarg);
			break;
		case 'm':
			live_mod = (unsigned)atoi(optarg);
			break;
		case 'x':
			xcmd = optarg;
			break;
		case 'Q':
			ro_pid = (pid_t)atoi(optarg);
			break;
		case 'W':
			warm_at = atof(optarg);
			break;
		case 'i':
			interval = atof(optarg);
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
	if (!strcmp(cmd, "mchurn")) {
		if (argc - optind != 2)
			usage();
		return cmd_mchurn(argv[optind], argv[optind + 1]);
	}
	if (reps < 1 || reps > MAX_REPS || nthreads < 1 || nthreads > 16 || ncycles < 1 ||
	    kpasses < 0 || kpasses > MAX_PASSES)
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

			if (!strcmp(cmd, "stat") && kpasses) {
				/* First lookups of every bundle, then the passes after them. */
				drop_caches();
				rate = pass(OP_STAT, cols[c].arg, count);
				for (int k = 0; k < kpasses; k++)
					cols[c].prates[k][r] = pass(OP_STAT, cols[c].arg, count);
			} else if (!strcmp(cmd, "stat")) {
				rate = pass(OP_STAT, cols[c].arg, count);
			} else if (!strcmp(cmd, "status") && xcmd) {
				unsigned int nlive = !live	? 0
						     : live_mod ? (count + live_mod - 1) / live_mod
								: count;

				rate = run_cmd(xcmd, count - nlive);
			} else if (!strcmp(cmd, "read") || !strcmp(cmd, "status")) {
				rate = pass(OP_READ, cols[c].arg, count);
			} else if (!strcmp(cmd, "readdir")) {
				rate = readdir_pass(cols[c].arg);
			} else if (!strcmp(cmd, "churn")) {
				rate = churn_pass(cols[c].arg, (unsigned int)r, &cols[c].cpu[r]);
			} else {
				rate = cycle_pass(cols[c].arg, (unsigned int)r);
			}
			cols[c].rates[r] = rate;
		}
	}
	if (!strcmp(cmd, "status"))
		status_teardown(&listeners, accept_th, (unsigned long)reps * count);
	report(!strcmp(cmd, "churn") && cpu_pid);
	return 0;
}
