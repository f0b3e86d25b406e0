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
 * second for cycle). Bundle ids are "b%07u", 0 <= i < COUNT, as populate makes
 * them.
 *
 *   bench populate STATE WORK NS COUNT [ADDRESS_BYTES]
 *       S/NS and W/NS (0711), then per bundle S/NS/<id> (0700), S/NS/<id>/rootfs
 *       (0711), W/NS/<id> (0711) and, when ADDRESS_BYTES > 0, a stored
 *       S/NS/<id>/address of that many bytes.
 *   bench stat    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] COUNT LABEL=NSDIR...
 *       stat(2) of every bundle directory. -c: drop the kernel's caches before
 *       each pass (cold). -w SET: warm: stat the first SET bundles once, then
 *       repeat stat over them for WARM_WINDOW seconds, inside the 0.5 s cache
 *       window. -e SEC: sleep SEC seconds before each pass (lets cache entries
 *       of the previous pass expire).
 *   bench read    [-r REPS] [-t THREADS] [-c] [-e SEC] COUNT LABEL=NSDIR...
 *       open, read (until EOF), close of every NSDIR/<id>/address.
 *   bench readdir [-r REPS] LABEL=DIR...
 *       whole listings of DIR, repeated for READDIR_WINDOW seconds per pass.
 *   bench cycle   [-r REPS] -n N LABEL=fs:NSDIR | LABEL=direct:STATE_NS:WORK_NS ...
 *       N bundle create-and-delete cycles. fs: mkdir, write config.json,
 *       rmdir through a bundlefs mount. direct: containerd's newBundle and
 *       bundle.Delete done on plain directories.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_COLS 8
#define MAX_REPS 64
#define WARM_WINDOW 0.25
#define READDIR_WINDOW 0.2

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
};

static struct col cols[MAX_COLS];
static int ncols;
static int reps = 5, nthreads = 1, cold, warm_set, ncycles = 100;
static double expire_sec;

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

static int cmd_populate(int argc, char **argv)
{
	char id[32], *addr = NULL;
	unsigned int count;
	size_t alen = 0;
	int sfd, wfd, snsfd, wnsfd;

	if (argc < 5)
		return 2;
	count = (unsigned int)strtoul(argv[4], NULL, 10);
	if (argc > 5)
		alen = strtoul(argv[5], NULL, 10);
	if (alen) {
		/* A stored address of the given length, shaped like a computed one. */
		addr = malloc(alen);
		if (!addr)
			die("malloc", NULL);
		memset(addr, 'a', alen);
		memcpy(addr, "unix:///run/containerd/s/", alen < 25 ? alen : 25);
	}
	sfd = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	wfd = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || wfd < 0)
		die("open", argv[1]);
	if ((mkdirat(sfd, argv[3], 0711) < 0 && errno != EEXIST) ||
	    (mkdirat(wfd, argv[3], 0711) < 0 && errno != EEXIST))
		die("mkdir", argv[3]);
	snsfd = openat(sfd, argv[3], O_PATH | O_DIRECTORY | O_CLOEXEC);
	wnsfd = openat(wfd, argv[3], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (snsfd < 0 || wnsfd < 0)
		die("open", argv[3]);
	for (unsigned int i = 0; i < count; i++) {
		int bfd;

		bundle_id(id, sizeof(id), i);
		if (mkdirat(snsfd, id, 0700) < 0)
			die("mkdir", id);
		bfd = openat(snsfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (bfd < 0 || mkdirat(bfd, "rootfs", 0711) < 0)
			die("mkdir rootfs in", id);
		if (alen) {
			int fd =
			    openat(bfd, "address", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

			if (fd < 0 || write(fd, addr, alen) != (ssize_t)alen)
				die("write address in", id);
			close(fd);
		}
		close(bfd);
		if (mkdirat(wnsfd, id, 0711) < 0)
			die("mkdir work dir", id);
	}
	free(addr);
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
	snprintf(path, sizeof(path), "%s/%s/address", dir, id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open", path);
	n = read(fd, buf, sizeof(buf));
	if (n <= 0)
		die("read", path);
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
		} while (now() - j->t0 < WARM_WINDOW);
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

static double readdir_pass(const char *dir)
{
	unsigned long entries = 0;
	double t0 = now(), t;

	do {
		DIR *d = opendir(dir);

		if (!d)
			die("opendir", dir);
		errno = 0;
		while (readdir(d))
			entries++;
		if (errno)
			die("readdir", dir);
		closedir(d);
		t = now() - t0;
	} while (t < READDIR_WINDOW);
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

static void direct_cycle(int snsfd, int wnsfd, const char *id)
{
	char buf[256];
	int bfd, fd;

	/* newBundle: MkdirAll(S/ns) is done once by the caller (as it exists). */
	if (mkdirat(snsfd, id, 0700) < 0)
		die("mkdir", id);
	if (mkdirat(wnsfd, id, 0711) < 0)
		die("mkdir work dir", id);
	bfd = openat(snsfd, id, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0 || mkdirat(bfd, "rootfs", 0711) < 0)
		die("mkdir rootfs in", id);
	write_file(bfd, "config.json", id);
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

/* ------------------------------------------------------------------- driver */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(void)
{
	for (int c = 0; c < ncols; c++) {
		double *r = cols[c].rates;

		qsort(r, (size_t)reps, sizeof(double), cmp_double);
		printf("RESULT %s %.1f %.1f %.1f\n", cols[c].label,
		       reps % 2 ? r[reps / 2] : (r[reps / 2 - 1] + r[reps / 2]) / 2, r[0],
		       r[reps - 1]);
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
		"usage: bench populate STATE WORK NS COUNT [ADDRESS_BYTES]\n"
		"       bench stat    [-r REPS] [-t THREADS] [-c] [-e SEC] [-w SET] COUNT "
		"LABEL=NSDIR...\n"
		"       bench read    [-r REPS] [-t THREADS] [-c] [-e SEC] COUNT LABEL=NSDIR...\n"
		"       bench readdir [-r REPS] LABEL=DIR...\n"
		"       bench cycle   [-r REPS] -n N LABEL=fs:NSDIR|LABEL=direct:S_NS:W_NS...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd;
	unsigned int count = 0;
	int opt;

	if (argc < 2)
		usage();
	cmd = argv[1];
	if (!strcmp(cmd, "populate")) {
		if (cmd_populate(argc - 1, argv + 1))
			usage();
		return 0;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "r:t:ce:w:n:")) != -1) {
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
		default:
			usage();
		}
	}
	if (reps < 1 || reps > MAX_REPS || nthreads < 1 || nthreads > 16 || ncycles < 1)
		usage();
	if (!strcmp(cmd, "stat") || !strcmp(cmd, "read")) {
		if (optind >= argc)
			usage();
		count = (unsigned int)strtoul(argv[optind++], NULL, 10);
		if (!count || (unsigned int)warm_set > count)
			usage();
	} else if (strcmp(cmd, "readdir") && strcmp(cmd, "cycle")) {
		usage();
	}
	if (parse_cols(argc, argv, optind) < 0)
		usage();
	for (int r = 0; r < reps; r++) {
		for (int c = 0; c < ncols; c++) {
			double rate;

			if (!strcmp(cmd, "stat"))
				rate = pass(OP_STAT, cols[c].arg, count);
			else if (!strcmp(cmd, "read"))
				rate = pass(OP_READ, cols[c].arg, count);
			else if (!strcmp(cmd, "readdir"))
				rate = readdir_pass(cols[c].arg);
			else
				rate = cycle_pass(cols[c].arg, (unsigned int)r);
			cols[c].rates[r] = rate;
		}
	}
	report();
	return 0;
}
