/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/shimproc.c, core/unixsock.c and core/unixdiag.c: the
 * shim holding a listening socket (SPEC 4.9 shim.pid), with sock_diag and
 * its hint tables and with the /proc/net/unix fallback. Runs as root in a
 * private mount and network namespace (only this test's sockets are there),
 * in a fresh mkdtemp directory of socket files. The shims are stand-ins
 * (BFS_FAKE_SHIM, named containerd-shim-bfstest) that inherit a socket this
 * test made; this test holds its sockets too, and is no shim.
 */
#include "shimproc.h"
#include "unixdiag.h"
#include "unixsock.h"

#include "check.h"
#include "fsfixture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A listening unix socket; abstract when name[0] is '\0' (nlen bytes of it count). */
static int listener_n(const char *name, size_t nlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	must(fd, "socket");
	memcpy(sa.sun_path, name, nlen);
	must(bind(fd, (struct sockaddr *)&sa,
		  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + nlen)),
	     "bind");
	must(listen(fd, 16), "listen");
	return fd;
}

static int listener(const char *path)
{
	unlink(path);
	return listener_n(path, strlen(path) + 1);
}

static bool runs_fake(pid_t pid)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, "/containerd-shim-bfstest") != NULL;
}

/* A stand-in shim holding lfd (inherited across exec), running once this returns. */
static pid_t shim_with(int lfd)
{
	struct timespec d = {0, 5 * 1000 * 1000};
	int deadline = 2000;
	pid_t pid = fork();

	must(pid, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fcntl(lfd, F_SETFD, 0) < 0)
			_exit(126);
		execl(BFS_FAKE_SHIM, "containerd-shim-bfstest", (char *)NULL);
		_exit(127);
	}
	while (!runs_fake(pid) && deadline-- > 0)
		nanosleep(&d, NULL);
	CHECK(runs_fake(pid), "fixture: the stand-in shim runs");
	return pid;
}

static void end_shim(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* shimproc_listener for one name (and the file at path, when path is given). */
static int32_t holder(const char *name, const char *path)
{
	const char *names[] = {name};
	struct stat sb;
	int32_t pid = -1;

	if (path != NULL && stat(path, &sb) < 0)
		return -2;
	CHECK(shimproc_listener(names, 1, path ? &sb : NULL, &pid) == 0, "shimproc_listener %s",
	      name);
	return pid;
}

static const char *mode_name(bool diag)
{
	return diag ? "sock_diag" : "/proc/net/unix";
}

/* A path socket: found, found again from the tables, then gone with its holders. */
static void test_path(bool diag)
{
	const char *path = P("s/p-%d", diag);
	struct unixsock_stats a, b;
	int lfd = listener(path);
	pid_t shim = shim_with(lfd);

	CHECK(holder(path, path) == shim, "%s: the shim's pid", mode_name(diag));
	unixsock_stats(&a);
	CHECK(holder(path, path) == shim, "%s: again", mode_name(diag));
	unixsock_stats(&b);
	if (diag)
		CHECK(b.dumps == a.dumps && b.proc_reads == a.proc_reads,
		      "a second lookup dumps nothing (%lu dumps, %lu reads)", b.dumps - a.dumps,
		      b.proc_reads - a.proc_reads);
	else
		CHECK(b.dumps == a.dumps && b.proc_reads == a.proc_reads + 1,
		      "/proc/net/unix read at each lookup without sock_diag");
	CHECK(holder(path, NULL) == shim, "%s: without the file", mode_name(diag));
	CHECK(holder("/nowhere", NULL) == 0, "%s: another name", mode_name(diag));

	/* The shim killed: the socket still listens (this test holds it), no shim does. */
	end_shim(shim);
	CHECK(holder(path, path) == 0, "%s: holder killed: %d", mode_name(diag),
	      (int)holder(path, path));
	/* Closed: nothing listens at the name any more, the file stays. */
	close(lfd);
	CHECK(holder(path, path) == 0, "%s: closed socket", mode_name(diag));
	unlink(path);
}

/* An abstract socket, as containerd 1.x's v1 shims have. */
static void test_abstract(bool diag)
{
	char name[108], shown[110];
	int lfd;
	pid_t shim;

	snprintf(name, sizeof(name), "%c/containerd-shim/ns%d/c1/shim.sock", '\0', diag);
	snprintf(shown, sizeof(shown), "@%s", name + 1);
	lfd = listener_n(name, strlen(name + 1) + 1);
	shim = shim_with(lfd);
	CHECK(holder(shown, NULL) == shim, "%s: abstract: the shim's pid", mode_name(diag));
	CHECK(holder(shown, NULL) == shim, "%s: abstract again", mode_name(diag));
	CHECK(holder(name + 1, NULL) == 0, "%s: the abstract name is no path", mode_name(diag));
	end_shim(shim);
	close(lfd);
	CHECK(holder(shown, NULL) == 0, "%s: abstract socket closed", mode_name(diag));

	/* A NUL inside the name is shown as '@', as /proc/net/unix shows it. */
	memcpy(name, "\0a\0b", 4);
	lfd = listener_n(name, 4);
	shim = shim_with(lfd);
	CHECK(holder("@a@b", NULL) == shim, "%s: abstract name with a NUL", mode_name(diag));
	end_shim(shim);
	close(lfd);
}

/* The same path bound again, and the same socket held by another shim. */
static void test_rebound(bool diag)
{
	const char *path = P("s/r-%d", diag);
	int lfd = listener(path), lfd2;
	pid_t a = shim_with(lfd), b;

	CHECK(holder(path, path) == a, "%s: first shim", mode_name(diag));
	/* Another shim takes the socket over and the first one exits. */
	b = shim_with(lfd);
	end_shim(a);
	CHECK(holder(path, path) == b, "%s: the socket handed on: %d, want %d", mode_name(diag),
	      (int)holder(path, path), (int)b);
	end_shim(b);
	close(lfd);

	/* A new shim on the same path once the old one is gone. */
	lfd = listener(path);
	a = shim_with(lfd);
	CHECK(holder(path, path) == a, "%s: new shim on the old path", mode_name(diag));
	if (!diag) {
		end_shim(a);
		close(lfd);
		unlink(path);
		return;
	}
	/*
	 * The file replaced while its old listener lives on: the socket a
	 * connect reaches is the new one (only sock_diag shows the file).
	 */
	lfd2 = listener(path);
	b = shim_with(lfd2);
	CHECK(holder(path, path) == b, "file replaced, old shim alive: %d, want %d",
	      (int)holder(path, path), (int)b);
	end_shim(a);
	end_shim(b);
	close(lfd);
	close(lfd2);
	unlink(path);
}

/* start's moment: a shim and the shim it forked both hold the socket. */
static void test_two_holders(bool diag)
{
	const char *path = P("s/t-%d", diag);
	int lfd = listener(path);
	pid_t first = shim_with(lfd), second = shim_with(lfd);
	int32_t want = first < second ? first : second;

	/* Neither is the other's parent (both are this test's): the lower pid. */
	CHECK(holder(path, path) == want, "%s: two holders, the lower pid", mode_name(diag));
	end_shim(first);
	CHECK(holder(path, path) == second, "%s: one left", mode_name(diag));
	end_shim(second);
	close(lfd);
	unlink(path);
}

static int find_ino(const struct unixdiag_sock *s, void *arg)
{
	struct unixdiag_sock *want = arg;

	if (s->ino == want->ino)
		*want = *s;
	return 0;
}

/* sock_diag itself: a dump and an exact query against a socket whose inode is known. */
static void test_unixdiag(void)
{
	const char *path = P("s/d");
	struct unixdiag_sock got = {0}, one;
	struct stat sock_sb, file_sb;
	int nl = unixdiag_open(), lfd, c;

	CHECK(nl >= 0, "unixdiag_open: %s", strerror(-nl));
	if (nl < 0)
		return;
	lfd = listener(path);
	must(fstat(lfd, &sock_sb), "fstat socket");
	must(stat(path, &file_sb), "stat socket file");
	got.ino = (uint32_t)sock_sb.st_ino;
	CHECK(unixdiag_listeners(nl, find_ino, &got) == 0, "dump");
	CHECK(got.state == 10 && !strcmp(got.name, path) && got.name_len == strlen(path),
	      "dump: listening at %s: state %u name %s", path, got.state, got.name);
	CHECK(got.vfs_known && got.vfs_dev == file_sb.st_dev && got.vfs_ino == file_sb.st_ino,
	      "dump: bound at the file (%ju:%ju, want %ju:%ju)", (uintmax_t)got.vfs_dev,
	      (uintmax_t)got.vfs_ino, (uintmax_t)file_sb.st_dev, (uintmax_t)file_sb.st_ino);
	CHECK(unixdiag_get(nl, got.ino, got.cookie, &one) == 0 && one.ino == got.ino &&
		  !strcmp(one.name, path) && one.vfs_ino == file_sb.st_ino,
	      "exact query");
	{
		uint32_t other[2] = {got.cookie[0] + 1, got.cookie[1]};

		CHECK(unixdiag_get(nl, got.ino, other, &one) == -ENOENT, "another cookie");
	}
	/* A socket that does not listen is not dumped as a listener. */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	must(c, "socket");
	must(fstat(c, &sock_sb), "fstat");
	one.ino = (uint32_t)sock_sb.st_ino;
	one.state = 0;
	CHECK(unixdiag_listeners(nl, find_ino, &one) == 0 && one.state == 0,
	      "an unbound socket is no listener");
	close(c);
	close(lfd);
	CHECK(unixdiag_get(nl, got.ino, got.cookie, &one) == -ENOENT, "closed: gone");
	close(nl);
	unlink(path);
}

int main(void)
{
	if (fx_private_base("test_shimproc") < 0)
		return 1;
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_shimproc needs root (network namespace): %s\n",
			strerror(errno));
		return 1;
	}
	mkd(P("s"), 0711);
	test_unixdiag();
	for (int diag = 1; diag >= 0; diag--) {
		unixsock_use_diag(diag);
		test_path(diag);
		test_abstract(diag);
		test_rebound(diag);
		test_two_holders(diag);
	}
	unixsock_use_diag(true);
	rmrf(base);
	return check_report();
}
