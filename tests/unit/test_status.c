/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/status.c against core/status.h (SPEC 4.9). Runs as root
 * in a private mount and network namespace (the abstract sockets of the
 * legacy address are seen by nobody else), in a fresh mkdtemp directory
 * holding the bundle b/, the socket root sr/ (sockets in sr/s/), runc's
 * state directory runc/ and an outside/ directory of sockets that must never
 * be connected to. The real processes are this test's children: live,
 * zombie and reaped.
 */
#include "status.h"

#include "check.h"
#include "fsfixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int bundle_fd = -1;
static char sock_root[512];

/* put() in place of whatever is at path (a socket, a link), not through it. */
static void put_fresh(const char *path, const char *data)
{
	unlink(path);
	put(path, data);
}

/* Remove whatever is at path: file, link, socket or directory tree. */
static void clear(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
		rmrf(path);
	else
		unlink(path);
}

/* A listening unix socket; abstract when name[0] is '\0' (nlen bytes of it count). */
static int listener_n(const char *name, size_t nlen, int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	must(fd, "socket");
	if (nlen > sizeof(sa.sun_path))
		must(-ENAMETOOLONG, name + (name[0] == '\0'));
	memcpy(sa.sun_path, name, nlen);
	must(bind(fd, (struct sockaddr *)&sa,
		  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + nlen)),
	     name + (name[0] == '\0'));
	must(listen(fd, backlog), "listen");
	return fd;
}

static int listener(const char *path)
{
	unlink(path);
	return listener_n(path, strlen(path) + 1, 16);
}

/* True when a connection is waiting on the listener (it is accepted and dropped). */
static bool pending(int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			must(-1, "accept4");
		return false;
	}
	close(c);
	return true;
}

static struct status_input input(const char *address)
{
	struct status_input in = {
	    .bundle_fd = bundle_fd,
	    .address = address,
	    .address_len = strlen(address),
	    .socket_root = sock_root,
	    .connect_timeout_ms = 100,
	};

	return in;
}

/* The rendered text (static; valid until the next call), or "ERR" on failure. */
static const char *render(const struct status_input *in)
{
	static char buf[8192];
	char *out = (char *)"x";
	size_t len = 12345;
	int ret = status_render(in, &out, &len);

	if (ret < 0 || out == NULL || len != strlen(out) || len >= sizeof(buf)) {
		snprintf(buf, sizeof(buf), "ERR %d", ret);
	} else {
		memcpy(buf, out, len + 1);
	}
	if (ret == 0)
		free(out);
	return buf;
}

/* Expected text from the five values; NULL listening/pid fields as "null". */
static const char *want(bool complete, const char *addr_json, const char *listening,
			const char *shim_pid, const char *init_pid, bool running, bool stale)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf),
		 "{\"complete\":%s,\"shim\":{\"address\":%s,\"listening\":%s,\"pid\":%s},"
		 "\"init\":{\"pid\":%s,\"running\":%s},\"stale\":%s}\n",
		 complete ? "true" : "false", addr_json, listening, shim_pid, init_pid,
		 running ? "true" : "false", stale ? "true" : "false");
	return buf;
}

/* The value of "key": in a rendered text ("listening", "running", ...): up to , or }. */
static const char *field(const char *text, const char *key)
{
	static char buf[64];
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(text, pat);
	if (p == NULL)
		return "?";
	p += strlen(pat);
	n = strcspn(p, ",}");
	snprintf(buf, sizeof(buf), "%.*s", (int)n, p);
	return buf;
}

static const char *listening_of(const struct status_input *in)
{
	return field(render(in), "listening");
}

/* "pid" inside "init":{...} */
static const char *init_pid_of(const struct status_input *in)
{
	const char *t = render(in), *p = strstr(t, "\"init\":");

	return p ? field(p, "pid") : "?";
}

static const char *running_of(const struct status_input *in)
{
	return field(render(in), "running");
}

static const char *shim_pid_of(const struct status_input *in)
{
	const char *t = render(in), *p = strstr(t, "\"shim\":");

	return p ? field(p, "pid") : "?";
}

static void test_empty_bundle(void)
{
	struct status_input in = input("");

	CHECK(!strcmp(render(&in), want(false, "\"\"", "null", "null", "null", false, false)),
	      "empty bundle: %s", render(&in));

	in.address = NULL;
	in.address_len = 0;
	CHECK(!strcmp(render(&in), want(false, "\"\"", "null", "null", "null", false, false)),
	      "NULL address: %s", render(&in));
}

static void test_complete(void)
{
	struct status_input in = input("");

	put_fresh(P("b/config.json"), "{}");
	CHECK(!strcmp(render(&in), want(true, "\"\"", "null", "null", "null", false, true)),
	      "complete, nothing running: %s", render(&in));

	clear(P("b/config.json"));
	put_fresh(P("outside/spec.json"), "{}");
	must(symlink(P("outside/spec.json"), P("b/config.json")), "symlink");
	CHECK(!strcmp(field(render(&in), "complete"), "false"), "symlinked config.json: %s",
	      render(&in));
	clear(P("b/config.json"));
	mkd(P("b/config.json"), 0755);
	CHECK(!strcmp(field(render(&in), "complete"), "false"), "config.json directory: %s",
	      render(&in));
	clear(P("b/config.json"));
}

static void test_listening_inside(void)
{
	char addr[600], variant[700];
	int lfd = listener(P("sr/s/sock1"));
	struct status_input in;

	snprintf(addr, sizeof(addr), "unix://%s/s/sock1", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "true"), "listener in s/: %s", render(&in));
	CHECK(pending(lfd), "the listener saw the connection");
	CHECK(!pending(lfd), "exactly one connection per read");

	/* Clean's rules without "..": repeated slashes and "." elements. */
	snprintf(variant, sizeof(variant), "unix://%s//s/./sock1", sock_root);
	in = input(variant);
	CHECK(!strcmp(listening_of(&in), "true"), "unclean path in s/: %s", render(&in));
	pending(lfd);

	put_fresh(P("b/config.json"), "{}");
	in = input(addr);
	CHECK(!strcmp(field(render(&in), "stale"), "false"), "listening shim: not stale");
	pending(lfd);

	close(lfd);
	CHECK(!strcmp(listening_of(&in), "false"), "listener closed, socket left: %s", render(&in));
	CHECK(!strcmp(field(render(&in), "stale"), "true"), "closed listener: stale");
	unlink(P("sr/s/sock1"));
	CHECK(!strcmp(listening_of(&in), "false"), "socket gone: %s", render(&in));

	/* A regular file in s/: never a listener. */
	put_fresh(P("sr/s/sock1"), "");
	CHECK(!strcmp(listening_of(&in), "false"), "regular file in s/: %s", render(&in));
	unlink(P("sr/s/sock1"));
	clear(P("b/config.json"));
}

/* Addresses that must give null, with a listener where a connection would land. */
static void test_listening_never(void)
{
	char addr[1024], longname[200];
	int out_fd = listener(P("outside/o.sock"));
	int in_fd = listener(P("sr/s/sock2"));
	struct status_input in;
	size_t n;

	snprintf(addr, sizeof(addr), "unix://%s", P("outside/o.sock"));
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "null"), "outside s/: %s", render(&in));
	CHECK(!pending(out_fd), "outside s/: never connected");

	/* ".." that Clean keeps inside s/, and that the kernel would resolve elsewhere. */
	must(symlink(P("outside/deep"), P("sr/s/x")), "symlink");
	mkd(P("outside/deep"), 0755);
	snprintf(addr, sizeof(addr), "unix://%s/s/x/../sock2", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "null"), ".. escape: %s", render(&in));
	CHECK(!pending(in_fd), ".. escape: never connected");
	unlink(P("sr/s/x"));

	snprintf(addr, sizeof(addr), "unix://%s/s/../s/sock2", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "null"), ".. back into s/: %s", render(&in));
	CHECK(!pending(in_fd), ".. back into s/: never connected");

	/* A symlink in s/ to an outside listener is not followed. */
	must(symlink(P("outside/o.sock"), P("sr/s/link")), "symlink");
	snprintf(addr, sizeof(addr), "unix://%s/s/link", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "false"), "symlink in s/: %s", render(&in));
	CHECK(!pending(out_fd), "symlink in s/: never connected");
	unlink(P("sr/s/link"));

	/* A NUL in the path: the bytes after it would otherwise be cut. */
	n = (size_t)snprintf(addr, sizeof(addr), "unix://%s/s/sock2", sock_root);
	memcpy(addr + n, "\0x", 3);
	in = input(addr);
	in.address_len = n + 2;
	CHECK(!strcmp(listening_of(&in), "null"), "NUL in path: %s", render(&in));
	CHECK(!pending(in_fd), "NUL in path: never connected");

	/* A subdirectory of s/ is not where a shim socket lives. */
	mkd(P("sr/s/sub"), 0755);
	close(listener(P("sr/s/sub/sock")));
	snprintf(addr, sizeof(addr), "unix://%s/s/sub/sock", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "null"), "subdirectory of s/: %s", render(&in));
	rmrf(P("sr/s/sub"));

	/* A path longer than sun_path: bound relative to s/, so the name itself exists. */
	memset(longname, 'a', 100);
	longname[100] = '\0';
	{
		char cwd[4096];
		int lfd;

		if (getcwd(cwd, sizeof(cwd)) == NULL || chdir(P("sr/s")) < 0)
			must(-1, "chdir");
		lfd = listener(longname);
		must(chdir(cwd), "chdir back");
		snprintf(addr, sizeof(addr), "unix://%s/s/%s", sock_root, longname);
		in = input(addr);
		CHECK(strlen(addr) - 7 > 108, "fixture: the path is over-long");
		CHECK(!strcmp(listening_of(&in), "null"), "over-long path: %s", render(&in));
		CHECK(!pending(lfd), "over-long path: never connected");
		close(lfd);
		unlink(P("sr/s/%s", longname));
	}

	/* The socket root itself, and s/ with a trailing slash: no single name. */
	snprintf(addr, sizeof(addr), "unix://%s/s", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "null"), "s/ itself: %s", render(&in));
	snprintf(addr, sizeof(addr), "unix://%s/s/sock2/", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "null"), "trailing slash: %s", render(&in));
	CHECK(!pending(in_fd), "trailing slash: never connected");

	close(out_fd);
	close(in_fd);
	unlink(P("outside/o.sock"));
	unlink(P("sr/s/sock2"));
}

/* Non-unix addresses, and Go's escaping of what they hold. */
static void test_other_addresses(void)
{
	static const char garbage[] = "a\0b\xff\xc3(<>&\"\\\n\x01\x7f\xe2\x80\xa8\xc3\xa9";
	static const char legacy[] = "/containerd-shim/default/c1/shim.sock";
	char abstract[128];
	struct status_input in;
	int afd;

	in = input("tcp://127.0.0.1:1");
	CHECK(!strcmp(render(&in),
		      want(false, "\"tcp://127.0.0.1:1\"", "null", "null", "null", false, false)),
	      "tcp: %s", render(&in));
	in = input("unix:");
	CHECK(!strcmp(listening_of(&in), "null"), "unix: %s", render(&in));
	in = input("unix://");
	CHECK(!strcmp(listening_of(&in), "null"), "unix:// alone: %s", render(&in));
	in = input("unix://relative/s/x");
	CHECK(!strcmp(listening_of(&in), "null"), "relative: %s", render(&in));

	in = input("");
	in.address = garbage;
	in.address_len = sizeof(garbage) - 1;
	CHECK(!strcmp(render(&in),
		      want(false,
			   "\"a\\u0000b\\ufffd\\ufffd(\\u003c\\u003e\\u0026\\\"\\\\\\n\\u0001\x7f"
			   "\\u2028\xc3\xa9\"",
			   "null", "null", "null", false, false)),
	      "garbage escaped as Go does: %s", render(&in));

	/* The legacy abstract socket, in this test's own network namespace. */
	abstract[0] = '\0';
	memcpy(abstract + 1, legacy, sizeof(legacy) - 1);
	afd = listener_n(abstract, sizeof(legacy), 16);

	in = input(legacy);
	CHECK(!strcmp(listening_of(&in), "null"), "legacy address without legacy_address: %s",
	      render(&in));
	CHECK(!pending(afd), "legacy without the option: never connected");

	in.legacy_address = true;
	in.ns = "default";
	in.id = "c1";
	CHECK(!strcmp(listening_of(&in), "true"), "legacy abstract listener: %s", render(&in));
	CHECK(pending(afd), "legacy: the listener saw the connection");

	in.id = "c2";
	CHECK(!strcmp(listening_of(&in), "null"), "another bundle's legacy address: %s",
	      render(&in));
	CHECK(!pending(afd), "another bundle's legacy address: never connected");

	/* With "@" or a leading NUL as an address: not the legacy form, not dialed. */
	in = input("@/containerd-shim/default/c1/shim.sock");
	in.legacy_address = true;
	in.ns = "default";
	in.id = "c1";
	CHECK(!strcmp(listening_of(&in), "null"), "@abstract: %s", render(&in));
	in.address = abstract;
	in.address_len = sizeof(legacy);
	CHECK(!strcmp(listening_of(&in), "null"), "NUL-prefixed: %s", render(&in));
	CHECK(!pending(afd), "other abstract forms: never connected");

	close(afd);
	in = input(legacy);
	in.legacy_address = true;
	in.ns = "default";
	in.id = "c1";
	CHECK(!strcmp(listening_of(&in), "false"), "legacy, listener gone: %s", render(&in));
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A listener that never accepts, its backlog full: bounded, and retried until the deadline. */
static void test_backlog_full(void)
{
	char addr[600];
	int lfd = listener_n(P("sr/s/full"), strlen(P("sr/s/full")) + 1, 0);
	int clients[64], nclients = 0, i;
	struct status_input in;
	struct timespec t0;
	const char *got;
	pid_t child;

	for (i = 0; i < 64; i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		must(c, "socket");
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", P("sr/s/full"));
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			CHECK(errno == EAGAIN, "fixture: backlog fills with EAGAIN (%s)",
			      strerror(errno));
			close(c);
			break;
		}
		clients[nclients++] = c;
	}
	CHECK(i < 64, "fixture: the backlog filled");

	snprintf(addr, sizeof(addr), "unix://%s/s/full", sock_root);
	in = input(addr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = listening_of(&in);
	CHECK(elapsed_s(&t0) < 2.0, "full backlog: returned in %.3f s", elapsed_s(&t0));
	CHECK(!strcmp(got, "false"), "full backlog: %s", got);

	in.connect_timeout_ms = 0; /* the default bound */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = listening_of(&in);
	CHECK(elapsed_s(&t0) < 2.0 && !strcmp(got, "false"), "default bound: %s in %.3f s", got,
	      elapsed_s(&t0));

	/* A slot frees while status waits: the EAGAIN retry then connects. */
	child = fork();
	must(child, "fork");
	if (child == 0) {
		struct timespec d = {0, 50 * 1000 * 1000};
		int c;

		nanosleep(&d, NULL);
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		_exit(c < 0 ? 1 : 0);
	}
	in.connect_timeout_ms = 1500;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = listening_of(&in);
	CHECK(!strcmp(got, "true"), "slot freed within the bound: %s after %.3f s", got,
	      elapsed_s(&t0));
	waitpid(child, NULL, 0);

	for (i = 0; i < nclients; i++)
		close(clients[i]);
	close(lfd);
	unlink(P("sr/s/full"));
}

/* Field 22 of /proc/<pid>/stat, read the plain way. */
static unsigned long long start_of(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		must(-1, path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')') + 2;
	for (i = 3; i < 22; i++)
		p = strchr(p, ' ') + 1;
	sscanf(p, "%llu", &start);
	return start;
}

static char proc_state(pid_t pid)
{
	char path[64], buf[2048], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p ? p[2] : 0;
}

static pid_t live_child(void)
{
	pid_t pid = fork();

	must(pid, "fork");
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void put_pid(const char *path, pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	put_fresh(path, buf);
}

static void put_state(const char *text)
{
	clear(P("runc/state.json"));
	put_fresh(P("runc/state.json"), text);
}

static void test_init(void)
{
	struct status_input in = input("");
	char pidtext[32], buf[256];
	pid_t child, zombie;
	unsigned long long start;
	siginfo_t si;

	child = live_child();
	snprintf(pidtext, sizeof(pidtext), "%d", (int)child);
	put_pid(P("b/init.pid"), child);
	CHECK(!strcmp(init_pid_of(&in), pidtext), "init.pid of a live child: %s", render(&in));
	CHECK(!strcmp(running_of(&in), "true"), "live child runs: %s", render(&in));

	/* Atoi accepts a plus sign and leading zeros. */
	snprintf(buf, sizeof(buf), "+00%d", (int)child);
	put_fresh(P("b/init.pid"), buf);
	CHECK(!strcmp(init_pid_of(&in), pidtext), "+00pid: %s", render(&in));
	put_pid(P("b/init.pid"), child);

	/* runc's state.json decides whether the pid is still the container's. */
	in.runc_state = P("runc/state.json");
	CHECK(!strcmp(running_of(&in), "true"), "state.json missing: the process decides");
	start = start_of(child);
	snprintf(buf, sizeof(buf),
		 "{\"id\":\"c1\",\"init_process_pid\":%d,\"init_process_start\":%llu}", (int)child,
		 start);
	put_state(buf);
	CHECK(!strcmp(running_of(&in), "true"), "start time matches: %s", render(&in));
	snprintf(buf, sizeof(buf), "{\"init_process_pid\":%d,\"init_process_start\":%llu}",
		 (int)child, start + 1);
	put_state(buf);
	CHECK(!strcmp(running_of(&in), "false"), "reused pid (start differs): %s", render(&in));
	CHECK(!strcmp(init_pid_of(&in), pidtext), "reused pid still shows the pid");

	/* Malformed state.json: ignored, the process decides. */
	{
		static const char *const bad[] = {
		    "",
		    "{",
		    "[]",
		    "null",
		    "{\"init_process_start\":\"1\"}",
		    "{\"init_process_start\":1.5}",
		    "{\"init_process_start\":-1}",
		    "{\"init_process_start\":NaN}",
		    "{\"init_process_start\":1} x",
		    "{\"other\":1}",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			put_state(bad[i]);
			CHECK(!strcmp(running_of(&in), "true"), "malformed state.json '%s': %s",
			      bad[i], render(&in));
		}
	}
	/* A later duplicate key wins, as in Go (and it mismatches here). */
	snprintf(buf, sizeof(buf), "{\"init_process_start\":%llu,\"init_process_start\":%llu}",
		 start, start + 7);
	put_state(buf);
	CHECK(!strcmp(running_of(&in), "false"), "duplicate key, last mismatching: %s",
	      render(&in));

	/* A symlink as state.json is not followed: the mismatching target is ignored. */
	snprintf(buf, sizeof(buf), "{\"init_process_start\":%llu}", start + 1);
	put_fresh(P("outside/state.json"), buf);
	clear(P("runc/state.json"));
	must(symlink(P("outside/state.json"), P("runc/state.json")), "symlink");
	CHECK(!strcmp(running_of(&in), "true"), "symlinked state.json ignored: %s", render(&in));
	clear(P("runc/state.json"));
	mkd(P("runc/state.json"), 0755);
	CHECK(!strcmp(running_of(&in), "true"), "state.json directory ignored: %s", render(&in));
	clear(P("runc/state.json"));
	in.runc_state = "runc/state.json";
	CHECK(!strcmp(running_of(&in), "true"), "relative runc_state ignored: %s", render(&in));
	in.runc_state = NULL;

	/* A zombie: exited, not reaped. */
	zombie = fork();
	must(zombie, "fork");
	if (zombie == 0)
		_exit(0);
	must(waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT), "waitid");
	CHECK(proc_state(zombie) == 'Z', "fixture: the child is a zombie (%c)", proc_state(zombie));
	put_pid(P("b/init.pid"), zombie);
	snprintf(pidtext, sizeof(pidtext), "%d", (int)zombie);
	CHECK(!strcmp(init_pid_of(&in), pidtext), "zombie pid shown: %s", render(&in));
	CHECK(!strcmp(running_of(&in), "false"), "zombie does not run: %s", render(&in));
	snprintf(buf, sizeof(buf), "{\"init_process_start\":%llu}", start_of(zombie));
	in.runc_state = P("runc/state.json");
	put_state(buf);
	CHECK(!strcmp(running_of(&in), "false"), "zombie with matching state: %s", render(&in));
	in.runc_state = NULL;

	/* Reaped: the pid names no process. */
	waitpid(zombie, NULL, 0);
	CHECK(proc_state(zombie) == 0, "fixture: the pid is gone");
	CHECK(!strcmp(running_of(&in), "false"), "dead pid: %s", render(&in));
	CHECK(!strcmp(init_pid_of(&in), pidtext), "dead pid still shown: %s", render(&in));

	/* Malformed pid files: null, not running, even though the live child's pid is near. */
	{
		static const char *const bad[] = {
		    "",	    "12abc", "-1",  "0",	  "-0",
		    "+",    " 1",    "1 ",  "2147483648", "99999999999999999999",
		    "0x10", "1_0",   "1.0",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			put_fresh(P("b/init.pid"), bad[i]);
			CHECK(!strcmp(init_pid_of(&in), "null") &&
				  !strcmp(running_of(&in), "false"),
			      "malformed init.pid '%s': %s", bad[i], render(&in));
		}
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)child);
	put_fresh(P("b/init.pid"), buf);
	CHECK(!strcmp(init_pid_of(&in), "null"), "trailing newline (Atoi rejects it): %s",
	      render(&in));
	snprintf(buf, sizeof(buf), "%d", (int)child);
	unlink(P("b/init.pid"));
	putn(P("b/init.pid"), buf, strlen(buf) + 1);
	CHECK(!strcmp(init_pid_of(&in), "null"), "trailing NUL: %s", render(&in));
	memset(buf, '0', 200);
	snprintf(buf + 200, sizeof(buf) - 200, "%d", (int)child);
	put_fresh(P("b/init.pid"), buf);
	snprintf(pidtext, sizeof(pidtext), "%d", (int)child);
	CHECK(!strcmp(init_pid_of(&in), pidtext),
	      "200 leading zeros (Atoi takes them, whatever the length): %s", render(&in));
	put_fresh(P("b/init.pid"), "2147483647");
	CHECK(!strcmp(init_pid_of(&in), "2147483647") && !strcmp(running_of(&in), "false"),
	      "INT32_MAX is a pid, of no process: %s", render(&in));

	clear(P("b/init.pid"));
	put_pid(P("outside/pid"), child);
	must(symlink(P("outside/pid"), P("b/init.pid")), "symlink");
	CHECK(!strcmp(init_pid_of(&in), "null") && !strcmp(running_of(&in), "false"),
	      "symlinked init.pid: %s", render(&in));
	clear(P("b/init.pid"));
	mkd(P("b/init.pid"), 0755);
	CHECK(!strcmp(init_pid_of(&in), "null"), "init.pid directory: %s", render(&in));
	clear(P("b/init.pid"));
	CHECK(!strcmp(init_pid_of(&in), "null"), "no init.pid: %s", render(&in));

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static void test_shim_pid(void)
{
	struct status_input in = input("");

	put_fresh(P("b/shim.pid"), "4242");
	CHECK(!strcmp(shim_pid_of(&in), "4242"), "shim.pid: %s", render(&in));
	CHECK(!strcmp(init_pid_of(&in), "null"), "shim.pid is not init.pid: %s", render(&in));
	put_fresh(P("b/shim.pid"), "4242\n");
	CHECK(!strcmp(shim_pid_of(&in), "null"), "shim.pid with newline: %s", render(&in));
	put_fresh(P("b/shim.pid"), "x");
	CHECK(!strcmp(shim_pid_of(&in), "null"), "malformed shim.pid: %s", render(&in));
	clear(P("b/shim.pid"));
	must(symlink(P("outside/pid"), P("b/shim.pid")), "symlink");
	CHECK(!strcmp(shim_pid_of(&in), "null"), "symlinked shim.pid: %s", render(&in));
	clear(P("b/shim.pid"));
	CHECK(!strcmp(shim_pid_of(&in), "null"), "no shim.pid: %s", render(&in));
}

/* Set path's atime and mtime to ago seconds before now. */
static void set_age(const char *path, long ago)
{
	struct timespec t[2];

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= ago;
	t[1] = t[0];
	must(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), "utimensat");
}

/*
 * stale == complete && listening != true && !running, over every combination,
 * of a bundle just modified.
 */
static void test_stale(void)
{
	static const char *const modes[] = {"null", "false", "true"};
	char addr_in[600], addr_gone[600];
	pid_t child = live_child();
	int lfd = listener(P("sr/s/st"));
	bool st;

	snprintf(addr_in, sizeof(addr_in), "unix://%s/s/st", sock_root);
	snprintf(addr_gone, sizeof(addr_gone), "unix://%s/s/none", sock_root);
	/* Just modified: an incomplete bundle is being made (test_stale_incomplete). */
	set_age(P("b"), 0);
	for (int complete = 0; complete < 2; complete++) {
		for (int l = 0; l < 3; l++) {
			for (int running = 0; running < 2; running++) {
				const char *addr = l == 0   ? "tcp://x"
						   : l == 1 ? addr_gone
							    : addr_in;
				struct status_input in = input(addr);
				const char *text;
				bool stale = complete && l != 2 && !running;

				if (complete)
					put_fresh(P("b/config.json"), "{}");
				else
					clear(P("b/config.json"));
				if (running)
					put_pid(P("b/init.pid"), child);
				else
					clear(P("b/init.pid"));
				text = render(&in);
				CHECK(
				    !strcmp(field(text, "complete"), complete ? "true" : "false") &&
					!strcmp(field(text, "listening"), modes[l]) &&
					!strcmp(field(text, "running"),
						running ? "true" : "false") &&
					!strcmp(field(text, "stale"), stale ? "true" : "false"),
				    "stale combination %d/%s/%d: %s", complete, modes[l], running,
				    text);
				pending(lfd);
				CHECK(status_stale(&in, &st) == 0 && st == stale,
				      "status_stale of combination %d/%s/%d: %d", complete,
				      modes[l], running, st);
				pending(lfd);
			}
		}
	}
	clear(P("b/config.json"));
	clear(P("b/init.pid"));
	close(lfd);
	unlink(P("sr/s/st"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* The last element of /proc/<pid>/exe, or "" (static; valid until the next call). */
static const char *exe_name(pid_t pid)
{
	static char buf[4096];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
}

static bool runs_fake(pid_t pid)
{
	return !strcmp(exe_name(pid), "containerd-shim-bfstest");
}

/*
 * A stand-in shim (BFS_FAKE_SHIM, named containerd-shim-bfstest) holding a
 * listening socket at path, as the runc v2 shim holds the one its `start`
 * made. With start, the process that made the socket forks the long-running
 * holder and becomes a shim too, so both hold it, as in the moment before
 * `start` exits; *forked is then the second one (else 0). Both are gone with
 * this test (PR_SET_PDEATHSIG). Returns once both run the stand-in.
 */
static pid_t fake_shim(const char *path, bool start, pid_t *forked)
{
	struct timespec d = {0, 5 * 1000 * 1000};
	int pfd[2], deadline = 2000;
	pid_t first;

	*forked = 0;
	must(pipe2(pfd, O_CLOEXEC), "pipe2");
	unlink(path);
	first = fork();
	must(first, "fork");
	if (first == 0) {
		pid_t second = 0;
		int lfd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		lfd = listener_n(path, strlen(path) + 1, 16);
		/* Handed on across exec, as the shim's start hands its socket on. */
		must(fcntl(lfd, F_SETFD, 0), "F_SETFD");
		if (start) {
			second = fork();
			if (second == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				execl(BFS_FAKE_SHIM, "containerd-shim-bfstest", (char *)NULL);
				_exit(127);
			}
		}
		if (write(pfd[1], &second, sizeof(second)) != sizeof(second))
			_exit(126);
		execl(BFS_FAKE_SHIM, "containerd-shim-bfstest", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (read(pfd[0], forked, sizeof(*forked)) != sizeof(*forked))
		must(-EIO, "fake shim did not start");
	close(pfd[0]);
	while (!(runs_fake(first) && (*forked == 0 || runs_fake(*forked))) && deadline-- > 0)
		nanosleep(&d, NULL);
	CHECK(runs_fake(first) && (*forked == 0 || runs_fake(*forked)),
	      "fixture: the stand-in shims run");
	return first;
}

static void end_fake_shim(pid_t first, pid_t forked)
{
	if (forked > 0)
		kill(forked, SIGKILL);
	kill(first, SIGKILL);
	waitpid(first, NULL, 0);
}

/* shim.pid without a pid file (SPEC 4.9): the shim holding the listening socket. */
static void test_shim_holder(void)
{
	char addr[600], variant[700], want_pid[32];
	struct status_input in;
	pid_t shim, forked;
	int lfd, b2, b3;

	mkd(P("b2"), 0700);
	mkd(P("b3"), 0700);
	b2 = open(P("b2"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	b3 = open(P("b3"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(b2, "open b2");
	must(b3, "open b3");

	shim = fake_shim(P("sr/s/v2shim"), false, &forked);
	snprintf(want_pid, sizeof(want_pid), "%d", (int)shim);
	snprintf(addr, sizeof(addr), "unix://%s/s/v2shim", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "true") && !strcmp(shim_pid_of(&in), want_pid),
	      "v2 shim's pid from its socket (want %s): %s", want_pid, render(&in));
	snprintf(variant, sizeof(variant), "unix://%s//s/./v2shim", sock_root);
	in = input(variant);
	CHECK(!strcmp(shim_pid_of(&in), want_pid), "unclean address, the same socket: %s",
	      render(&in));

	/* A pod: every bundle whose address names the socket names the one shim. */
	in = input(addr);
	in.bundle_fd = b2;
	CHECK(!strcmp(shim_pid_of(&in), want_pid), "second bundle of the group: %s", render(&in));
	in.bundle_fd = b3;
	CHECK(!strcmp(shim_pid_of(&in), want_pid), "third bundle of the group: %s", render(&in));
	in.bundle_fd = bundle_fd;

	/* A stored shim.pid is what the v1 shim wrote: it wins, and malformed stays null. */
	put_fresh(P("b/shim.pid"), "4242");
	CHECK(!strcmp(shim_pid_of(&in), "4242"), "stored shim.pid wins: %s", render(&in));
	put_fresh(P("b/shim.pid"), "x");
	CHECK(!strcmp(shim_pid_of(&in), "null"), "malformed stored shim.pid: %s", render(&in));
	clear(P("b/shim.pid"));

	/* The shim gone, its socket left: neither listening nor a pid. */
	end_fake_shim(shim, forked);
	CHECK(!strcmp(listening_of(&in), "false") && !strcmp(shim_pid_of(&in), "null"),
	      "killed shim: %s", render(&in));
	unlink(P("sr/s/v2shim"));

	/* A listener that is no shim (this test): listening, no pid. */
	lfd = listener(P("sr/s/notshim"));
	snprintf(addr, sizeof(addr), "unix://%s/s/notshim", sock_root);
	in = input(addr);
	CHECK(!strcmp(listening_of(&in), "true") && !strcmp(shim_pid_of(&in), "null"),
	      "a listener that is no shim: %s", render(&in));
	close(lfd);
	unlink(P("sr/s/notshim"));

	/* start's moment: two shims hold the socket; the one start forked serves it. */
	shim = fake_shim(P("sr/s/v2start"), true, &forked);
	snprintf(want_pid, sizeof(want_pid), "%d", (int)forked);
	snprintf(addr, sizeof(addr), "unix://%s/s/v2start", sock_root);
	in = input(addr);
	CHECK(!strcmp(shim_pid_of(&in), want_pid), "start and its child: want %s: %s", want_pid,
	      render(&in));
	end_fake_shim(shim, forked);
	unlink(P("sr/s/v2start"));

	close(b2);
	close(b3);
	rmrf(P("b2"));
	rmrf(P("b3"));
}

/* stale of a bundle without config.json (SPEC 4.9): only once it is no longer being made. */
static void test_stale_incomplete(void)
{
	struct status_input in = input("tcp://x");
	char addr[600];
	bool st;
	pid_t child;
	int lfd;

	clear(P("b/config.json"));
	clear(P("b/init.pid"));
	set_age(P("b"), 0);
	CHECK(!strcmp(field(render(&in), "stale"), "false"), "fresh incomplete bundle: %s",
	      render(&in));
	set_age(P("b"), 5);
	CHECK(!strcmp(field(render(&in), "stale"), "false"), "5 s old incomplete bundle: %s",
	      render(&in));
	set_age(P("b"), 11);
	CHECK(!strcmp(field(render(&in), "stale"), "true"), "11 s old incomplete bundle: %s",
	      render(&in));
	CHECK(status_stale(&in, &st) == 0 && st, "status_stale of an 11 s old incomplete bundle");
	set_age(P("b"), 5);
	CHECK(status_stale(&in, &st) == 0 && !st, "status_stale of a 5 s old incomplete bundle");
	set_age(P("b"), 11);
	set_age(P("b"), 3600);
	CHECK(!strcmp(field(render(&in), "stale"), "true") &&
		  !strcmp(field(render(&in), "complete"), "false"),
	      "hour-old incomplete bundle: %s", render(&in));
	set_age(P("b"), -3600);
	CHECK(!strcmp(field(render(&in), "stale"), "false"), "mtime in the future: %s",
	      render(&in));

	/* Old, but its shim listens or its init runs: not stale. */
	lfd = listener(P("sr/s/inc"));
	snprintf(addr, sizeof(addr), "unix://%s/s/inc", sock_root);
	in = input(addr);
	set_age(P("b"), 3600);
	CHECK(!strcmp(field(render(&in), "stale"), "false"), "old, listening: %s", render(&in));
	pending(lfd);
	close(lfd);
	unlink(P("sr/s/inc"));
	child = live_child();
	put_pid(P("b/init.pid"), child);
	set_age(P("b"), 3600);
	CHECK(!strcmp(field(render(&in), "stale"), "false"), "old, running: %s", render(&in));
	CHECK(status_stale(&in, &st) == 0 && !st, "status_stale: old, running");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(!strcmp(field(render(&in), "stale"), "true"), "old, init dead: %s", render(&in));
	clear(P("b/init.pid"));

	/* Complete: stale however fresh. */
	put_fresh(P("b/config.json"), "{}");
	set_age(P("b"), 0);
	in = input("tcp://x");
	CHECK(!strcmp(field(render(&in), "stale"), "true"), "fresh complete bundle: %s",
	      render(&in));
	clear(P("b/config.json"));
	set_age(P("b"), 0);
}

/* Names, types, sizes, modes, mtimes and ctimes of a directory's entries. */
static const char *snapshot(const char *dir)
{
	static char bufs[2][8192];
	static int next;
	char *out = bufs[next++ % 2];
	size_t used = 0;
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	out[0] = '\0';
	if (n < 0)
		return "-";
	for (int i = 0; i < n; i++) {
		struct stat sb;
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (lstat(path, &sb) == 0 && used < sizeof(bufs[0]))
			used += (size_t)snprintf(
			    out + used, sizeof(bufs[0]) - used, "%s:%o:%lld:%lld.%09ld:%lld.%09ld;",
			    names[i]->d_name, sb.st_mode, (long long)sb.st_size,
			    (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
			    (long long)sb.st_ctim.tv_sec, sb.st_ctim.tv_nsec);
		free(names[i]);
	}
	free(names);
	return out;
}

static void test_changes_nothing(void)
{
	char before_b[8192], before_s[8192], before_r[8192], addr[600];
	pid_t child = live_child();
	int lfd = listener(P("sr/s/quiet"));
	struct status_input in;
	char buf[128];

	put_fresh(P("b/config.json"), "{}");
	put_pid(P("b/init.pid"), child);
	put_fresh(P("b/shim.pid"), "77");
	put_fresh(P("b/address"), "stored");
	snprintf(buf, sizeof(buf), "{\"init_process_start\":%llu}", start_of(child));
	put_state(buf);
	snprintf(before_b, sizeof(before_b), "%s", snapshot(P("b")));
	snprintf(before_s, sizeof(before_s), "%s", snapshot(P("sr/s")));
	snprintf(before_r, sizeof(before_r), "%s", snapshot(P("runc")));

	snprintf(addr, sizeof(addr), "unix://%s/s/quiet", sock_root);
	in = input(addr);
	in.runc_state = P("runc/state.json");
	for (int i = 0; i < 3; i++)
		CHECK(!strcmp(field(render(&in), "stale"), "false"), "live bundle: %s",
		      render(&in));
	CHECK(!strcmp(snapshot(P("b")), before_b), "bundle unchanged:\n%s\n%s", before_b,
	      snapshot(P("b")));
	CHECK(!strcmp(snapshot(P("sr/s")), before_s), "socket dir unchanged:\n%s\n%s", before_s,
	      snapshot(P("sr/s")));
	CHECK(!strcmp(snapshot(P("runc")), before_r), "runc dir unchanged:\n%s\n%s", before_r,
	      snapshot(P("runc")));

	/* Nothing was sent on the connections status made. */
	for (int i = 0; i < 6; i++) {
		int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		char b;

		if (c < 0)
			break;
		CHECK(read(c, &b, 1) == 0, "connection closed with nothing sent");
		close(c);
	}

	close(lfd);
	unlink(P("sr/s/quiet"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* Every descriptor opened is closed again. */
static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

int main(void)
{
	int fds;

	umask(0);
	if (fx_private_base("test_status") < 0)
		return 1;
	if (unshare(CLONE_NEWNET) < 0) {
		fprintf(stderr, "test_status needs root (network namespace): %s\n",
			strerror(errno));
		return 1;
	}
	mkd(P("b"), 0700);
	mkd(P("sr"), 0711);
	mkd(P("sr/s"), 0711);
	mkd(P("runc"), 0711);
	mkd(P("outside"), 0755);
	snprintf(sock_root, sizeof(sock_root), "%s", P("sr"));
	bundle_fd = open(P("b"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(bundle_fd, "open bundle");

	fds = open_fds();
	test_empty_bundle();
	test_complete();
	test_listening_inside();
	test_listening_never();
	test_other_addresses();
	test_backlog_full();
	test_init();
	test_shim_pid();
	test_stale();
	test_shim_holder();
	test_stale_incomplete();
	test_changes_nothing();
	CHECK(open_fds() == fds, "descriptors leaked: %d before, %d after", fds, open_fds());

	close(bundle_fd);
	rmrf(base);
	return check_report();
}
