/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mount.bundlefs: the mount(8) helper for bundlefs.
 *
 * mount(8) runs it for "mount -t bundlefs" and for fstab lines of type
 * bundlefs as
 *
 *	mount.bundlefs SRC DIR [-sfnv] [-o OPTIONS] [-t TYPE]
 *
 * It drops the options that belong to mount(8) and systemd, clears the
 * stale mounts that a crashed daemon left on DIR, refuses a DIR that is
 * already a bundlefs mount, runs the daemon as "bundlefs [SRC] DIR -o
 * OPTIONS" and returns only once DIR is a new mount that answers. Exit codes
 * are mount(8)'s: 0 mounted, 1 incorrect invocation, 2 system error, 32 mount
 * failure; every failure prints one line "mount.bundlefs: <reason>" on
 * stderr.
 *
 * The daemon is BUNDLEFS_DAEMON_PATH (the installed bindir), or the
 * BUNDLEFS_DAEMON environment variable when the process is not running with
 * elevated privileges (secure_getenv), which the tests use.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mountpoint.h"

#ifndef BUNDLEFS_DAEMON_PATH
#define BUNDLEFS_DAEMON_PATH "/usr/bin/bundlefs"
#endif

/* mount(8)'s exit codes (mount(8), "RETURN CODES"). */
#define MOUNT_EX_SUCCESS 0
#define MOUNT_EX_USAGE 1
#define MOUNT_EX_SYSERR 2
#define MOUNT_EX_FAIL 32

#define PROG "mount.bundlefs"

/* The tail of the daemon's stderr kept for the failure message. */
#define ERRBUF_SIZE 4096

struct helper {
	const char *src; /* as given by mount(8); NULL when absent or "none" */
	const char *dir; /* as given by mount(8) */
	char *opts;	 /* the options passed on to the daemon, "" if none */
	bool fake;	 /* -f: do everything but mount */
	bool verbose;	 /* -v */
	char *raw_opts;	 /* all -o arguments joined with "," */
};

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: " PROG " SOURCE DIRECTORY [-sfnv] [-o OPTION[,OPTION...]]\n"
		     "Mount bundlefs on DIRECTORY; SOURCE is the state directory, or \"none\"\n"
		     "for the one given with -o state= (or the embedded default store).\n"
		     "See mount.bundlefs(8) and bundlefs(8).\n");
}

/*
 * Options that mount(8), fstab and systemd interpret themselves; the daemon
 * must never see them. "x-*" covers x-systemd.* and every other userspace
 * comment option that mount(8) documents.
 */
static bool option_dropped(const char *opt, size_t len)
{
	static const char *const exact[] = {
	    "defaults", "auto",	 "noauto",  "nofail", "_netdev", "user", "users",
	    "nouser",	"owner", "noowner", "group",  "nogroup", NULL,
	};
	static const char *const prefix[] = {"x-", "comment=", "user=", NULL};

	if (len == 0)
		return true;
	for (size_t i = 0; exact[i]; i++)
		if (strlen(exact[i]) == len && memcmp(opt, exact[i], len) == 0)
			return true;
	for (size_t i = 0; prefix[i]; i++)
		if (len >= strlen(prefix[i]) && memcmp(opt, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

/*
 * Copy the options of @in that the daemon should see into a new string.
 * Commas inside double quotes do not split (libmount quotes values that way,
 * e.g. comment="a,b"). Returns 0 or -errno.
 */
static int filter_options(const char *in, char **out)
{
	size_t n = strlen(in);
	char *res = malloc(n + 1);
	size_t w = 0;
	const char *p = in;

	if (!res)
		return -ENOMEM;
	while (*p) {
		const char *start = p;
		bool quoted = false;

		while (*p && (quoted || *p != ',')) {
			if (*p == '"')
				quoted = !quoted;
			p++;
		}
		if (!option_dropped(start, p - start)) {
			if (w)
				res[w++] = ',';
			memcpy(res + w, start, p - start);
			w += p - start;
		}
		if (*p == ',')
			p++;
	}
	res[w] = '\0';
	*out = res;
	return 0;
}

static int append_opts(struct helper *h, const char *arg)
{
	size_t old = h->raw_opts ? strlen(h->raw_opts) : 0;
	char *n = realloc(h->raw_opts, old + strlen(arg) + 2);

	if (!n)
		return -ENOMEM;
	if (old)
		n[old++] = ',';
	strcpy(n + old, arg);
	h->raw_opts = n;
	return 0;
}

/* Returns 0, or the exit code to leave with. */
static int parse_args(struct helper *h, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *pos[2];
	int npos = 0, c;

	/* A leading '-' returns operands in place, whatever POSIXLY_CORRECT says. */
	while ((c = getopt_long(argc, argv, "-sfnvo:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 1:
			if (npos == 2) {
				say("unexpected argument '%s'", optarg);
				return MOUNT_EX_USAGE;
			}
			pos[npos++] = optarg;
			break;
		case 's': /* sloppy: nothing to relax, the daemon decides */
		case 'n': /* no mtab: bundlefs never writes one */
			break;
		case 'f':
			h->fake = true;
			break;
		case 'v':
			h->verbose = true;
			break;
		case 'o':
			if (append_opts(h, optarg) < 0) {
				say("out of memory");
				return MOUNT_EX_SYSERR;
			}
			break;
		case 't':
			if (strcmp(optarg, "bundlefs") != 0 &&
			    strcmp(optarg, "fuse.bundlefs") != 0) {
				say("unsupported filesystem type '%s'", optarg);
				return MOUNT_EX_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			exit(MOUNT_EX_SUCCESS);
		default:
			usage(stderr);
			return MOUNT_EX_USAGE;
		}
	}
	if (npos != 2) {
		usage(stderr);
		return MOUNT_EX_USAGE;
	}
	h->src = pos[0];
	h->dir = pos[1];
	/* fstab needs a source field even for the embedded store. */
	if (h->src[0] == '\0' || strcmp(h->src, "none") == 0 || strcmp(h->src, "bundlefs") == 0)
		h->src = NULL;
	if (filter_options(h->raw_opts ? h->raw_opts : "", &h->opts) < 0) {
		say("out of memory");
		return MOUNT_EX_SYSERR;
	}
	return 0;
}

/* The last non-empty line of @buf (modified in place), or NULL. */
static char *last_line(char *buf)
{
	char *end = buf + strlen(buf);

	while (end > buf && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		*--end = '\0';
	if (end == buf)
		return NULL;
	while (end > buf && end[-1] != '\n')
		end--;
	return end;
}

/* Append @n bytes to the ring-less tail buffer, keeping the newest bytes. */
static void keep_tail(char *buf, size_t *len, const char *data, size_t n)
{
	if (n >= ERRBUF_SIZE - 1) {
		data += n - (ERRBUF_SIZE - 1);
		n = ERRBUF_SIZE - 1;
	}
	if (*len + n > ERRBUF_SIZE - 1) {
		size_t drop = *len + n - (ERRBUF_SIZE - 1);

		memmove(buf, buf + drop, *len - drop);
		*len -= drop;
	}
	memcpy(buf + *len, data, n);
	*len += n;
	buf[*len] = '\0';
}

/*
 * Collect what the daemon writes on stderr until its first process exits.
 * The daemonized process may keep the write end open (or not): the pidfd,
 * not EOF, says when to stop, and what is still buffered is drained then.
 * Without pidfd_open (old kernels) fall back to reading until EOF.
 */
static int collect_stderr(pid_t pid, int rfd, char *buf, size_t *len)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	char chunk[512];
	ssize_t n;
	int ret = 0;

	for (;;) {
		struct pollfd pfd[2] = {
		    {.fd = rfd, .events = POLLIN},
		    {.fd = pidfd, .events = POLLIN},
		};
		int np = pidfd >= 0 ? 2 : 1;

		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			n = read(rfd, chunk, sizeof(chunk));
			if (n > 0) {
				keep_tail(buf, len, chunk, n);
				continue;
			}
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				break;
		}
		if (np == 2 && (pfd[1].revents & POLLIN)) {
			/* The first process is gone: take what is already there. */
			if (fcntl(rfd, F_SETFL, O_NONBLOCK) == 0)
				while ((n = read(rfd, chunk, sizeof(chunk))) > 0)
					keep_tail(buf, len, chunk, n);
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

/*
 * Run the daemon and wait for its first process. Returns 0 with *status set,
 * or -errno; @errbuf receives the tail of its stderr.
 */
static int run_daemon(const struct helper *h, const char *daemon, int *status, char *errbuf)
{
	const char *argv[7];
	int argc = 0, pfd[2], ret = 0;
	size_t len = 0;
	pid_t pid;

	argv[argc++] = "bundlefs"; /* libfuse derives the subtype from argv[0] */
	if (h->src)
		argv[argc++] = h->src;
	argv[argc++] = h->dir;
	if (h->opts[0]) {
		argv[argc++] = "-o";
		argv[argc++] = h->opts;
	}
	argv[argc] = NULL;

	if (h->verbose) {
		fprintf(stderr, PROG ": running %s", daemon);
		for (int i = 1; i < argc; i++)
			fprintf(stderr, " %s", argv[i]);
		fputc('\n', stderr);
	}
	errbuf[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return ret;
	}
	if (pid == 0) {
		/* dup2 clears O_CLOEXEC on the new fd 2 only. */
		if (dup2(pfd[1], STDERR_FILENO) < 0)
			_exit(127);
		execv(daemon, (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", daemon, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	ret = collect_stderr(pid, pfd[0], errbuf, &len);
	close(pfd[0]);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR) {
			if (!ret)
				ret = -errno;
			break;
		}
	}
	return ret;
}

/*
 * Make DIR ready: detach the dead mounts a crashed daemon left there (the
 * daemon's own routine, statfs-based: stat would be answered from the
 * kernel's cache of a mount that was used; not with -f), then refuse a live
 * bundlefs mount, which a second one would hide. On success *before
 * describes what DIR resolves into now. Returns 0 or the exit code to leave
 * with.
 */
static int prepare_dir(const struct helper *h, struct mountpoint_top *before)
{
	int ret = 0;

	if (!h->fake)
		ret = mountpoint_clear_stale(h->dir);
	if (ret < 0) {
		say("%s: cannot detach the stale mount left there: %s", h->dir, strerror(-ret));
		return MOUNT_EX_FAIL;
	}
	if (ret > 0 && h->verbose)
		say("%s: detached %d stale mount%s of a daemon that is gone", h->dir, ret,
		    ret > 1 ? "s" : "");
	ret = mountpoint_top(h->dir, before);
	if (ret < 0) {
		say("mount point %s: %s", h->dir, strerror(-ret));
		return MOUNT_EX_FAIL;
	}
	if (mountpoint_is_bundlefs(before) && mountpoint_answers(h->dir)) {
		say("%s: already mounted (bundlefs of %s)", h->dir, before->source);
		return MOUNT_EX_FAIL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct helper h = {0};
	char errbuf[ERRBUF_SIZE], srcbuf[PATH_MAX], dirbuf[PATH_MAX];
	struct mountpoint_top before, after;
	const char *daemon;
	struct statfs sfs;
	struct statx stx;
	struct stat st;
	int status = 0, ret;
	char *reason;

	/*
	 * Keep fds 0-2 taken (a caller may have closed them) so that no
	 * descriptor opened below becomes the daemon's stdio by accident.
	 */
	for (;;) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd < 0)
			break;
		if (fd > STDERR_FILENO) {
			close(fd);
			break;
		}
		fcntl(fd, F_SETFD, 0); /* a standard stream is inherited on purpose */
	}

	ret = parse_args(&h, argc, argv);
	if (ret)
		return ret;

	daemon = secure_getenv("BUNDLEFS_DAEMON");
	if (!daemon || !daemon[0])
		daemon = BUNDLEFS_DAEMON_PATH;

	/* Before realpath, which would look into a dead mount on DIR. */
	ret = prepare_dir(&h, &before);
	if (ret)
		return ret;
	/*
	 * The daemon daemonizes (chdir "/") and libmount does not canonicalize
	 * every source: hand it absolute paths.
	 */
	if (h.src && realpath(h.src, srcbuf))
		h.src = srcbuf;
	if (realpath(h.dir, dirbuf))
		h.dir = dirbuf;

	/* Without a request to DIR's file system: with -f a dead mount is still there. */
	if (statx(AT_FDCWD, h.dir, AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0) {
		say("mount point %s: %s", h.dir, strerror(errno));
		return MOUNT_EX_FAIL;
	}
	if (!S_ISDIR(stx.stx_mode)) {
		say("mount point %s: %s", h.dir, strerror(ENOTDIR));
		return MOUNT_EX_FAIL;
	}
	if (h.src && stat(h.src, &st) < 0) {
		say("state directory %s: %s", h.src, strerror(errno));
		return MOUNT_EX_FAIL;
	}
	if (access(daemon, X_OK) < 0) {
		say("cannot run %s: %s", daemon, strerror(errno));
		return MOUNT_EX_FAIL;
	}
	if (h.fake)
		return MOUNT_EX_SUCCESS;

	ret = run_daemon(&h, daemon, &status, errbuf);
	if (ret < 0) {
		say("cannot run %s: %s", daemon, strerror(-ret));
		return MOUNT_EX_SYSERR;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		reason = last_line(errbuf);
		if (reason) {
			/* The daemon's own lines start with "bundlefs: ". */
			if (strncmp(reason, "bundlefs: ", 10) == 0)
				reason += 10;
			say("%s: %s", h.dir, reason);
		} else if (WIFEXITED(status)) {
			say("%s: bundlefs exited with status %d", h.dir, WEXITSTATUS(status));
		} else {
			say("%s: bundlefs killed by signal %d", h.dir, WTERMSIG(status));
		}
		return MOUNT_EX_FAIL;
	}
	/* Success: pass on whatever the daemon had to say (warnings). */
	fputs(errbuf, stderr);

	/*
	 * The daemon returns once the mount is live; still check that a new
	 * mount sits on DIR, and that it answers (statfs always reaches the
	 * daemon, it is never cached by the kernel). Nothing was detached
	 * since *before was taken, so even a mountinfo ID cannot have been
	 * given again.
	 */
	if (mountpoint_top(h.dir, &after) < 0 || !after.root || after.id == before.id) {
		say("%s: bundlefs exited but nothing is mounted there", h.dir);
		return MOUNT_EX_FAIL;
	}
	if (statfs(h.dir, &sfs) < 0 && errno != ENOSYS) {
		say("%s: the new mount does not answer: %s", h.dir, strerror(errno));
		return MOUNT_EX_FAIL;
	}
	free(h.opts);
	free(h.raw_opts);
	return MOUNT_EX_SUCCESS;
}
