// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of core/leaks.c against core/leaks.h (SPEC 8.4). Runs as root
 * in a private mount namespace and a new pid namespace with its own /proc,
 * so that the shims it sees are its own stand-ins (BFS_FAKE_SHIM, named
 * containerd-shim-bfstest) and no other process of the machine. In a fresh
 * mkdtemp directory: C_S = cs/ (plugins' state dirs, and the socket root:
 * sockets in cs/s/), C_R = cr/ (work dirs), elsewhere/ for what is no
 * bundle. The callbacks read a bundle's stale and address from files of the
 * bundle (STALE, ADDR).
 */
#include "leaks.h"

#include "check.h"
#include "fsfixture.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define V2 "io.containerd.runtime.v2.task"
#define V1 "io.containerd.runtime.v1.linux"
#define SB "io.containerd.sandbox.controller.v1.shim"

static char fake_exe[4096]; /* the stand-in's executable as /proc/<pid>/exe shows it */

/* ---- callbacks: a bundle says whether it is stale and what its address is ---- */

struct cb {
	int stale_calls, address_calls;
	int flip_calls; /* bundles named "flip" are stale at their first call only */
};

static int cb_stale(void *arg, const struct leaks_bundle *b, bool *stale)
{
	struct cb *cb = arg;
	struct stat sb;

	cb->stale_calls++;
	if (!strcmp(b->id, "flip")) {
		*stale = cb->flip_calls++ == 0;
		return 0;
	}
	*stale = fstatat(b->fd, "STALE", &sb, AT_SYMLINK_NOFOLLOW) == 0;
	return 0;
}

/* The content of the bundle's file name, as an address. */
static int read_addr(const struct leaks_bundle *b, const char *name, char **addr, size_t *len)
{
	char buf[1024];
	ssize_t n;
	int fd;

	fd = openat(b->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -EIO;
	*addr = malloc((size_t)n + 1);
	if (!*addr)
		return -ENOMEM;
	memcpy(*addr, buf, (size_t)n);
	(*addr)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

static int cb_address(void *arg, const struct leaks_bundle *b, char **addr, size_t *len)
{
	((struct cb *)arg)->address_calls++;
	return read_addr(b, "ADDR", addr, len);
}

/* The debug socket a bundle's shim makes (containerd 2.x at log level debug). */
static int cb_debug_address(void *arg, const struct leaks_bundle *b, char **addr, size_t *len)
{
	(void)arg;
	return read_addr(b, "DEBUGADDR", addr, len);
}

static struct cb cb;
static struct leaks_plugin plugins[3];
static struct leaks_input input;

static void setup_input(void)
{
	static char s[3][512], w[3][512], sroot[512];
	const char *names[] = {V2, V1, SB};

	for (int i = 0; i < 3; i++) {
		snprintf(s[i], sizeof(s[i]), "%s/cs/%s", base, names[i]);
		snprintf(w[i], sizeof(w[i]), "%s/cr/%s", base, names[i]);
		plugins[i] = (struct leaks_plugin){names[i], s[i], w[i], i == 1 ? 1 : 2};
	}
	snprintf(sroot, sizeof(sroot), "%s/cs", base);
	input = (struct leaks_input){.plugins = plugins,
				     .nplugins = 3,
				     .socket_root = sroot,
				     .stale = cb_stale,
				     .address = cb_address,
				     .debug_address = cb_debug_address,
				     .arg = &cb,
				     .gap_ms = LEAKS_MIN_GAP_MS};
}

/* ---- fixture helpers ---- */

/*
 * A bundle S/<ns>/<id> of plugin, 0700 as containerd makes it, with its work
 * dir when the plugin's W exists.
 */
static void bundle(const char *plugin, const char *ns, const char *id)
{
	mkd(P("cs/%s/%s", plugin, ns), 0711);
	mkd(P("cs/%s/%s/%s", plugin, ns, id), 0700);
	if (!exists(P("cr/%s", plugin)))
		return;
	mkd(P("cr/%s/%s", plugin, ns), 0711);
	mkd(P("cr/%s/%s/%s", plugin, ns, id), 0711);
}

/* A unix socket at path; listening (its descriptor returned) or left behind (-1). */
static int sock(const char *path, bool listening)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	must(fd, "socket");
	unlink(path);
	if (strlen(path) >= sizeof(sa.sun_path))
		must(-ENAMETOOLONG, path);
	strcpy(sa.sun_path, path);
	must(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), path);
	if (!listening) {
		close(fd); /* the file stays, nobody listens: as a killed shim leaves it */
		return -1;
	}
	must(listen(fd, 16), "listen");
	return fd;
}

/* Whether a connection waits on the listener (accepted and dropped). */
static bool pending(int lfd)
{
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0)
		return false;
	close(c);
	return true;
}

static const char *exe_of(pid_t pid)
{
	static char buf[4096];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* A stand-in shim running in dir (a child of this test), once it runs the stand-in. */
static pid_t shim_in(const char *dir)
{
	struct timespec d = {0, 2 * 1000 * 1000};
	pid_t pid = fork();

	must(pid, "fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chdir(dir) < 0)
			_exit(126);
		execl(BFS_FAKE_SHIM, "containerd-shim-bfstest", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 2000 && strcmp(exe_of(pid), fake_exe); i++)
		nanosleep(&d, NULL);
	CHECK(!strcmp(exe_of(pid), fake_exe), "fixture: shim %d runs the stand-in", (int)pid);
	return pid;
}

static void end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Fork children that exit at once until the next pid is want (this pid namespace is ours). */
static void next_pid_is(pid_t want)
{
	for (int i = 0; i < 100000; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		must(pid, "fork");
		waitpid(pid, NULL, 0);
		if (pid >= want - 1)
			return;
	}
}

/* The text of one render (a static buffer). */
static const char *render(void)
{
	static char buf[65536];
	char *text;
	size_t len;
	int ret = leaks_render(&input, &text, &len);

	if (ret < 0) {
		snprintf(buf, sizeof(buf), "error %d", ret);
		return buf;
	}
	CHECK(len == strlen(text), "length %zu of %zu", len, strlen(text));
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	return buf;
}

/* One look with prev, formatted (a static buffer). */
static const char *look_text(struct leaks_look *look)
{
	static char buf[65536];
	char *text;

	if (leaks_format(look, &text, NULL) < 0)
		return "ENOMEM";
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
	return buf;
}

/* What `find` shows of the fixture: names, types, modes, sizes, mtimes and ctimes. */
static char *snapshot(void)
{
	char cmd[1024], *out = NULL;
	size_t cap = 0, len = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "find '%s' -printf '%%p %%y %%m %%s %%T@ %%C@\\n' | sort", base);
	f = popen(cmd, "re");
	if (!f)
		must(-1, "popen");
	for (;;) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
			if (!out)
				must(-ENOMEM, "snapshot");
		}
		size_t n = fread(out + len, 1, cap - len - 1, f);

		if (n == 0)
			break;
		len += n;
	}
	out[len] = '\0';
	pclose(f);
	return out;
}

/* ---- the tests ---- */

/* A node where nothing leaked reads empty. */
static void test_nothing(void)
{
	char addr[600];
	pid_t shim;
	int lfd, dfd;

	bundle(V2, "k8s.io", "ok1");
	/* its socket, named by its address spelt unclean, and its shim running in it */
	lfd = sock(P("cs/s/ok1sock"), true);
	snprintf(addr, sizeof(addr), "unix://%s//s/./ok1sock", input.socket_root);
	put(P("cs/%s/k8s.io/ok1/ADDR", V2), addr);
	/* the debug socket of its shim, named by its debug address: a live one is no leak */
	dfd = sock(P("cs/s/ok1debug"), true);
	snprintf(addr, sizeof(addr), "unix://%s/s/ok1debug", input.socket_root);
	put(P("cs/%s/k8s.io/ok1/DEBUGADDR", V2), addr);
	shim = shim_in(P("cs/%s/k8s.io/ok1", V2));
	/* things that are none of the four kinds */
	put(P("cs/s/regular"), "x");
	must(symlink(P("elsewhere"), P("cs/s/link")), "symlink in s/");
	mkd(P("cr/%s/k8s.io/.hidden", V2), 0711); /* a delete's second half */
	mkd(P("cs/%s/k8s.io/.ok2", V2), 0700);	  /* a delete in progress: no bundle */

	cb = (struct cb){0};
	CHECK(!strcmp(render(), ""), "nothing leaked: '%s'", render());
	CHECK(cb.stale_calls == 1 && cb.address_calls == 2,
	      "first look asks every bundle, the second only its findings: %d stale %d address",
	      cb.stale_calls, cb.address_calls);
	CHECK(!pending(lfd) && !pending(dfd), "a named socket is not connected to");
	end(shim);
	close(lfd);
	close(dfd);
	/* without the debug address, the debug socket is no bundle's: a leak */
	input.debug_address = NULL;
	snprintf(addr, sizeof(addr), "{\"kind\":\"socket\",\"path\":\"%s\",\"listening\":false}\n",
		 P("cs/s/ok1debug"));
	CHECK(!strcmp(render(), addr), "an unnamed debug socket: '%s'", render());
	input.debug_address = cb_debug_address;
	unlink(P("cs/s/ok1debug"));
	unlink(P("cs/s/ok1sock"));
	rmrf(P("cs/%s/k8s.io/.ok2", V2));
	rmrf(P("cr/%s/k8s.io/.hidden", V2));
}

/* Each kind of finding, and their order. */
static void test_findings(void)
{
	char want[16384], addr[600];
	const char *got;
	pid_t in_bundle, removed, hidden, elsewhere, zombie, notshim;
	char *before, *after;
	int live, o = 0;

	/* bundles: stale ones in two plugins, in the byte order of their paths */
	bundle(V2, "k8s.io", "b2");
	put(P("cs/%s/k8s.io/b2/STALE", V2), "");
	bundle(SB, "k8s.io", "b1");
	put(P("cs/%s/k8s.io/b1/STALE", SB), "");
	/* work dirs: without a bundle, in a namespace S lacks, of a plugin whose S is missing */
	mkd(P("cr/%s/k8s.io/w2", V2), 0711);
	mkd(P("cr/%s/k8s.io/w1", V2), 0711);
	mkd(P("cr/%s/other", V2), 0711);
	mkd(P("cr/%s/other/w3", V2), 0711);
	mkd(P("cr/%s", V1), 0711);
	mkd(P("cr/%s/default", V1), 0711);
	mkd(P("cr/%s/default/v1w", V1), 0711);
	/* ... and names Go escapes */
	mkd(P("cr/%s/k8s.io/a<b\"\xff", V2), 0711);
	/* not work dirs: a file, a symlink to a directory */
	put(P("cr/%s/k8s.io/file", V2), "x");
	must(symlink(P("elsewhere"), P("cr/%s/k8s.io/wlink", V2)), "symlink in W");
	/* sockets: left behind, listened on by no bundle, named through a NUL */
	sock(P("cs/s/orphan"), false);
	live = sock(P("cs/s/live"), true);
	sock(P("cs/s/nul"), false);
	snprintf(addr, sizeof(addr), "unix://%s/s/nul", input.socket_root);
	putn(P("cs/%s/k8s.io/b2/ADDR", V2), addr, strlen(addr) + 2); /* "...nul\0\0" */
	/* shims: in a bundle (fine), in a removed one, a hidden one, elsewhere; a zombie; no shim
	 */
	bundle(V2, "k8s.io", "s1");
	bundle(V2, "k8s.io", "s2");
	bundle(V2, "k8s.io", "s3");
	mkd(P("elsewhere"), 0755);
	next_pid_is(9);
	elsewhere = shim_in(P("elsewhere")); /* pid 9 or so: before 10 in numbers, not in bytes */
	next_pid_is(10);
	in_bundle = shim_in(P("cs/%s/k8s.io/s1", V2));
	removed = shim_in(P("cs/%s/k8s.io/s2", V2));
	hidden = shim_in(P("cs/%s/k8s.io/s3", V2));
	rmrf(P("cs/%s/k8s.io/s2", V2));
	rmrf(P("cr/%s/k8s.io/s2", V2));
	must(rename(P("cs/%s/k8s.io/s3", V2), P("cs/%s/k8s.io/.s3", V2)), "hide s3");
	rmrf(P("cr/%s/k8s.io/s3", V2));
	zombie = shim_in(P("elsewhere"));
	kill(zombie, SIGKILL);
	{
		siginfo_t si;

		waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT); /* dead, not reaped */
	}
	notshim = fork();
	if (notshim == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (chdir(P("elsewhere")) < 0)
			_exit(126);
		for (;;)
			pause();
	}

	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"bundle\",\"path\":\"%s/k8s.io/b2\",\"reason\":\"stale\"}\n"
		      "{\"kind\":\"bundle\",\"path\":\"%s/k8s.io/b1\",\"reason\":\"stale\"}\n",
		      V2, SB);
	o += snprintf(want + o, sizeof(want) - o, "{\"kind\":\"workdir\",\"path\":\"%s\"}\n",
		      P("cr/%s/default/v1w", V1));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"workdir\",\"path\":\"%s/cr/%s/k8s.io/a\\u003cb\\\"\\ufffd\"}\n",
		      base, V2);
	o += snprintf(want + o, sizeof(want) - o, "{\"kind\":\"workdir\",\"path\":\"%s\"}\n",
		      P("cr/%s/k8s.io/w1", V2));
	o += snprintf(want + o, sizeof(want) - o, "{\"kind\":\"workdir\",\"path\":\"%s\"}\n",
		      P("cr/%s/k8s.io/w2", V2));
	o += snprintf(want + o, sizeof(want) - o, "{\"kind\":\"workdir\",\"path\":\"%s\"}\n",
		      P("cr/%s/other/w3", V2));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"socket\",\"path\":\"%s\",\"listening\":true}\n", P("cs/s/live"));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"socket\",\"path\":\"%s\",\"listening\":false}\n", P("cs/s/nul"));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"socket\",\"path\":\"%s\",\"listening\":false}\n",
		      P("cs/s/orphan"));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"shim\",\"pid\":%d,\"exe\":\"%s\",\"cwd\":\"%s\"}\n",
		      (int)elsewhere, fake_exe, P("elsewhere"));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"shim\",\"pid\":%d,\"exe\":\"%s\",\"cwd\":\"%s (deleted)\"}\n",
		      (int)removed, fake_exe, P("cs/%s/k8s.io/s2", V2));
	o += snprintf(want + o, sizeof(want) - o,
		      "{\"kind\":\"shim\",\"pid\":%d,\"exe\":\"%s\",\"cwd\":\"%s\"}\n", (int)hidden,
		      fake_exe, P("cs/%s/k8s.io/.s3", V2));

	before = snapshot();
	got = render();
	after = snapshot();
	CHECK(!strcmp(got, want), "findings:\n%s\nwant:\n%s", got, want);
	CHECK(elsewhere < 10 && removed > 10, "fixture: pids %d and %d cross 10", (int)elsewhere,
	      (int)removed);
	CHECK(!strcmp(before, after), "reading leaks changed the fixture:\n%s\n----\n%s", before,
	      after);
	free(before);
	free(after);
	/* one connection per look to the live socket, none to the others */
	CHECK(pending(live) && pending(live) && !pending(live), "the live socket, once per look");

	end(in_bundle);
	end(removed);
	end(hidden);
	end(elsewhere);
	waitpid(zombie, NULL, 0);
	end(notshim);
	close(live);
	/* clear for the next test */
	rmrf(P("cr"));
	rmrf(P("cs"));
	mkd(P("cs"), 0711);
	mkd(P("cs/s"), 0711);
	mkd(P("cr"), 0711);
	mkd(P("cs/%s", V2), 0711);
	mkd(P("cr/%s", V2), 0711);
	mkd(P("cs/%s", SB), 0711);
}

/* A finding must hold at both looks; the second look's values are reported. */
static void test_two_looks(void)
{
	struct leaks_look *first, *second;
	struct timespec t0, t1;
	const char *got;
	char want[4096];
	pid_t shim;
	int lfd;
	double ms;

	bundle(V2, "k8s.io", "gone");
	put(P("cs/%s/k8s.io/gone/STALE", V2), "");
	bundle(V2, "k8s.io", "cured");
	put(P("cs/%s/k8s.io/cured/STALE", V2), "");
	bundle(V2, "k8s.io", "late");
	mkd(P("cr/%s/k8s.io/wgone", V2), 0711);
	sock(P("cs/s/sgone"), false);
	sock(P("cs/s/swakes"), false);
	mkd(P("elsewhere"), 0755);
	shim = shim_in(P("elsewhere"));

	cb = (struct cb){0};
	CHECK(leaks_look(&input, NULL, &first) == 0, "first look");
	CHECK(leaks_look_count(first) == 6, "first look: %zu findings\n%s", leaks_look_count(first),
	      look_text(first));
	/*
	 * Between the looks: a bundle deleted (its shim's exit to the delete),
	 * another no longer stale, a work dir and a socket removed, the shim
	 * gone; a socket now listened on; new findings appear (a bundle becomes
	 * stale, a work dir left).
	 */
	rmrf(P("cs/%s/k8s.io/gone", V2));
	rmrf(P("cr/%s/k8s.io/gone", V2));
	unlink(P("cs/%s/k8s.io/cured/STALE", V2));
	put(P("cs/%s/k8s.io/late/STALE", V2), "");
	rmrf(P("cr/%s/k8s.io/wgone", V2));
	mkd(P("cr/%s/k8s.io/wnew", V2), 0711);
	unlink(P("cs/s/sgone"));
	lfd = sock(P("cs/s/swakes"), true);
	end(shim);
	cb.stale_calls = 0;
	CHECK(leaks_look(&input, first, &second) == 0, "second look");
	/* "late" is not asked: it was not stale at the first look; "gone" is gone */
	CHECK(cb.stale_calls == 1, "the second look asks the first's stale bundles only: %d",
	      cb.stale_calls);
	got = look_text(second);
	snprintf(want, sizeof(want), "{\"kind\":\"socket\",\"path\":\"%s\",\"listening\":true}\n",
		 P("cs/s/swakes"));
	CHECK(!strcmp(got, want), "confirmed:\n%s\nwant:\n%s", got, want);
	leaks_look_free(first);
	leaks_look_free(second);
	close(lfd);
	unlink(P("cs/s/swakes"));
	rmrf(P("cr/%s/k8s.io/wnew", V2));
	unlink(P("cs/%s/k8s.io/late/STALE", V2));

	/* leaks_render: a bundle stale at the first look only is not reported */
	bundle(V2, "k8s.io", "flip");
	cb = (struct cb){0};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	got = render();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(cb.flip_calls == 2 && !strcmp(got, ""), "stale at one look only: %d calls, '%s'",
	      cb.flip_calls, got);
	CHECK(ms >= LEAKS_MIN_GAP_MS, "render took %.1f ms", ms);
	/* a gap below SPEC 8.4's minimum is raised to it; none asked is the project's gap */
	input.gap_ms = 10;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	render();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms >= LEAKS_MIN_GAP_MS, "gap 10 ms asked: took %.1f ms", ms);
	input.gap_ms = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	render();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(ms >= LEAKS_LOOK_GAP_MS, "default gap: took %.1f ms", ms);
	input.gap_ms = LEAKS_MIN_GAP_MS;
}

/* Sockets that SPEC 4.9's rule does not let leaks connect to: listening null. */
static void test_long_socket(void)
{
	char name[120], want[600];
	const char *got;

	/* Join(socket_root, "s", name) longer than sun_path: never dialed */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	must(mknod(P("cs/s/%s", name), S_IFSOCK | 0600, 0), "mknod socket");
	got = render();
	snprintf(want, sizeof(want), "{\"kind\":\"socket\",\"path\":\"%s\",\"listening\":null}\n",
		 P("cs/s/%s", name));
	CHECK(!strcmp(got, want), "long socket path: %s", got);
	unlink(P("cs/s/%s", name));
	/* no socket directory at all, no socket root */
	rmrf(P("cs/s"));
	CHECK(!strcmp(render(), ""), "no s/");
	input.socket_root = NULL;
	CHECK(!strcmp(render(), ""), "no socket_root");
}

static int run(void)
{
	/* The stand-in's executable, as the kernel shows it (BFS_FAKE_SHIM may be relative). */
	if (!realpath(BFS_FAKE_SHIM, fake_exe)) {
		perror(BFS_FAKE_SHIM);
		return 2;
	}
	/* /proc of this pid namespace, seen by this process and its children only */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		perror("mount /proc");
		return 2;
	}
	umask(0);
	mkd(P("cs"), 0711);
	mkd(P("cs/s"), 0711);
	mkd(P("cr"), 0711);
	mkd(P("cs/%s", V2), 0711);
	mkd(P("cr/%s", V2), 0711);
	mkd(P("cs/%s", SB), 0711); /* its W is missing: no work dirs of it */
	setup_input();
	test_nothing();
	test_findings();
	test_two_looks();
	test_long_socket();
	return check_report();
}

/* Run in a new pid namespace (as its init) and return run()'s exit status. */
static int in_pid_namespace(void)
{
	pid_t init;
	int status;

	if (unshare(CLONE_NEWPID) < 0) {
		perror("unshare(CLONE_NEWPID)");
		return 2;
	}
	init = fork();
	if (init < 0) {
		perror("fork");
		return 2;
	}
	if (init == 0) {
		int ret = run();

		fflush(NULL);
		_exit(ret);
	}
	waitpid(init, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

int main(void)
{
	pid_t child;
	int status;

	if (fx_private_base("test_leaks") < 0)
		return 2;
	/*
	 * This process stays in its pid namespace (once the init of a new one
	 * exits, nothing more can be forked into it), so that it can clean up.
	 */
	fflush(NULL);
	child = fork();
	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0)
		_exit(in_pid_namespace());
	waitpid(child, &status, 0);
	rmrf(base);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
