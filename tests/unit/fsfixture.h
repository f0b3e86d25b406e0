/*
 * fsfixture.h - file-system set-up shared by the unit tests that work on real directories
 * (test_store.c, test_tree.c, test_overlay.c, test_v2.c, test_status.c).
 *
 * Each test is one executable built from one translation unit, so the fixture's directory
 * lives here as the file-scope static `base`: fx_private_base() gives the process a private
 * mount namespace (bind mounts made by the test are seen by nobody else) and creates base as
 * a fresh /tmp/<name>.XXXXXX directory. P() builds paths below base. The set-up helpers
 * (must, mkd, rmrf) stop the run with exit status 2 when the fixture itself cannot be built,
 * so that a broken fixture is never mistaken for a result of the code under test.
 *
 * fx_store_base() is the common start of the tests that work on a store: umask 0, the private
 * base, base/state and base/work, store_open on them; fx_store_end() is its end. count_sink is a
 * log sink that counts the lines it gets (log_lines) and keeps the last one (last_log), echoing it
 * to stderr when log_echo is set. slurp and content_is read a file as it is on disk, without
 * following a symlink.
 */
#ifndef BUNDLEFS_TESTS_UNIT_FSFIXTURE_H
#define BUNDLEFS_TESTS_UNIT_FSFIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "store.h"

static char base[256];

/*
 * Enter a private mount namespace and create base as /tmp/<name>.XXXXXX. 0 on success;
 * -1 after a message on stderr (the test needs root).
 */
static inline int fx_private_base(const char *name)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "%s needs root (mount namespace): %s\n", name, strerror(errno));
		return -1;
	}
	snprintf(base, sizeof(base), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

/* base/<formatted>, in one of 16 rotating buffers (valid until 16 more calls). */
static inline const char *P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline const char *P(const char *fmt, ...)
{
	static char bufs[16][4096];
	static int next;
	char *b = bufs[next++ % 16];
	char rel[3072];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(b, 4096, "%s/%s", base, rel);
	return b;
}

/* A fixture step's result: ret < 0 (-1 with errno, or -errno) ends the run with status 2. */
static inline void must(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "fixture: %s: %s\n", what, strerror(ret == -1 ? errno : -ret));
		exit(2);
	}
}

/* mkdir that accepts an existing directory. */
static inline void mkd(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST)
		must(-1, path);
}

/* rm -rf for test fixtures (the plain way, not the code under test). */
static inline void rmrf(const char *path)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: %s failed\n", cmd);
}

/* Create or truncate path and write the n bytes of data to it. */
static inline void putn(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	must(fd, path);
	if (write(fd, data, n) != (ssize_t)n)
		must(-1, path);
	close(fd);
}

static inline void put(const char *path, const char *data)
{
	putn(path, data, strlen(data));
}

static int log_lines;
static char last_log[1024];
static bool log_echo;

static inline void count_sink(enum blog_level level, const char *msg)
{
	(void)level;
	log_lines++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
	if (log_echo)
		fprintf(stderr, "log: %s\n", msg);
}

/*
 * umask 0, fx_private_base(name), log lines to sink, base/state and base/work (0711), then
 * store_open(st) on them. 0 on success; -1 after a message on stderr (base is removed when
 * it was made).
 */
static inline int fx_store_base(struct store *st, const char *name, blog_sink_fn sink)
{
	int ret;

	umask(0);
	if (fx_private_base(name) < 0)
		return -1;
	blog_set_sink(sink);
	mkd(P("state"), 0711);
	mkd(P("work"), 0711);
	ret = store_open(st, P("state"), P("work"), false);
	if (ret < 0) {
		fprintf(stderr, "store_open: %s\n", strerror(-ret));
		rmrf(base);
		return -1;
	}
	return 0;
}

/* The end of a test begun by fx_store_base: store_close (checked), base removed; the exit status.
 */
static inline int fx_store_end(struct store *st)
{
	store_close(st);
	CHECK(st->state_fd == -1 && st->work_fd == -1 && !st->state_path, "store_close");
	must(chdir("/"), "/");
	rmrf(base);
	return check_report();
}

/* The content of path (up to 64 KiB, NUL-terminated) in a static buffer; NULL if unreadable. */
static inline const char *slurp(const char *path)
{
	static char buf[65537];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static inline bool content_is(const char *path, const char *want)
{
	const char *got = slurp(path);

	return got && !strcmp(got, want);
}

/*
 * A configuration of st for runtime rt, with the daemon's defaults: what conf_open would give
 * with no options (the strings are literals; nothing to close but st).
 */
static inline struct bundle_conf fx_conf(const struct store *st, enum bundle_runtime rt)
{
	return (struct bundle_conf){
	    .st = *st,
	    .runtime = rt,
	    .daemon_address = "/run/containerd/containerd.sock",
	    .socket_root = "/run/containerd",
	    .runtime_root = "",
	    .criu = "",
	    .bundle_root = st->state_path,
	};
}

static inline bool exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

#endif /* BUNDLEFS_TESTS_UNIT_FSFIXTURE_H */
