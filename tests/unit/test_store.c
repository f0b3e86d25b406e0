/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/store.c and core/bundle.c against their headers (SPEC 3.1,
 * 3.2, 4.7, 5.4, 5.5). Runs as root in a private mount namespace (bind mounts inside a bundle
 * are part of what is tested), under umask 0 as the contract requires, in a
 * fresh mkdtemp directory holding state/ and work/. Every result is checked on
 * disk with lstat/fstatat: types, modes, owners, what is left and what is not.
 */
#include "store.h"

#include "bundle.h"
#include "log.h"
#include "sweep.h"
#include "tree.h"
#include "check.h"
#include "fsfixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static struct store st;
/* The store as v1 bundles' (bundle.h), without a socket root: no socket step on delete. */
static struct bundle_conf v1;
static void sym(const char *target, const char *path)
{
	must(symlink(target, path), path);
}

/* A unix socket bound at path (left on disk after the close). */
static void make_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	must(fd, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	must(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), path);
	close(fd);
}

/* File type bits of path ('d', 'f', 'l', 'p', 's', '?'), or 0 when missing. */
static char type_of(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return 0;
	if (S_ISDIR(sb.st_mode))
		return 'd';
	if (S_ISREG(sb.st_mode))
		return 'f';
	if (S_ISLNK(sb.st_mode))
		return 'l';
	if (S_ISFIFO(sb.st_mode))
		return 'p';
	if (S_ISSOCK(sb.st_mode))
		return 's';
	return '?';
}

/* Permission bits of path, or -1 when missing. */
static int mode_of(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) < 0 ? -1 : (int)(sb.st_mode & 07777);
}

static bool owner_is(const char *path, uid_t uid, gid_t gid)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && sb.st_uid == uid && sb.st_gid == gid;
}

static bool is_dir_mode(const char *path, int mode)
{
	return type_of(path) == 'd' && mode_of(path) == mode;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory, sorted, joined with ','; "-" if it cannot be read. */
static const char *listing(const char *path)
{
	static char bufs[4][1024];
	static int next;
	char *out = bufs[next++ % 4], *names[64];
	struct dirent *de;
	size_t n = 0, i;
	DIR *d = opendir(path);

	if (!d)
		return "-";
	while ((de = readdir(d)) && n < 64) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strncat(out, ",", 1023 - strlen(out));
		strncat(out, names[i], 1023 - strlen(out));
		free(names[i]);
	}
	return out;
}

static int tmp_found;

static int tmp_visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	if (!strncmp(path + ftw->base, TREE_TMP_PREFIX, strlen(TREE_TMP_PREFIX))) {
		fprintf(stderr, "leftover: %s\n", path);
		tmp_found++;
	}
	return 0;
}

/* Number of TREE_TMP_PREFIX entries at any depth of state/ and work/. */
static int tmp_leftovers(void)
{
	tmp_found = 0;
	nftw(P("state"), tmp_visit, 16, FTW_PHYS);
	nftw(P("work"), tmp_visit, 16, FTW_PHYS);
	return tmp_found;
}

/* The outside world symlinks in the store point to: must survive everything. */
static void make_outside(void)
{
	mkd(P("outside"), 0755);
	mkd(P("outside/sub"), 0755);
	mkd(P("outside/remapdir"), 0755);
	put(P("outside/keep"), "keep");
	put(P("outside/sub/keep2"), "keep2");
}

static bool outside_intact(void)
{
	return content_is(P("outside/keep"), "keep") &&
	       content_is(P("outside/sub/keep2"), "keep2") &&
	       !strcmp(listing(P("outside")), "keep,remapdir,sub") &&
	       owner_is(P("outside/remapdir"), 0, 0) && mode_of(P("outside/remapdir")) == 0755;
}

/* ---- store_open ---- */

static void test_open(void)
{
	struct store s;
	char cwd[4096], want[4200];
	struct stat a, b;
	int ret;

	must(chdir(base), base);
	if (!getcwd(cwd, sizeof(cwd)))
		must(-1, "getcwd");

	/* Relative, with a component that does not exist: cleaned, never resolved. */
	ret = store_open(&s, "./nothere/../state//", "work/./", false);
	CHECK(ret == 0, "store_open relative: %d", ret);
	if (ret == 0) {
		snprintf(want, sizeof(want), "%s/state", cwd);
		CHECK(!strcmp(s.state_path, want), "state_path %s, want %s", s.state_path, want);
		snprintf(want, sizeof(want), "%s/work", cwd);
		CHECK(!strcmp(s.work_path, want), "work_path %s, want %s", s.work_path, want);
		CHECK(fstat(s.state_fd, &a) == 0 && stat(P("state"), &b) == 0 &&
			  a.st_ino == b.st_ino && S_ISDIR(a.st_mode),
		      "state_fd is not state/");
		CHECK(fstat(s.work_fd, &a) == 0 && stat(P("work"), &b) == 0 && a.st_ino == b.st_ino,
		      "work_fd is not work/");
		CHECK(fcntl(s.state_fd, F_GETFD) & FD_CLOEXEC, "state_fd without O_CLOEXEC");
		CHECK(fcntl(s.work_fd, F_GETFD) & FD_CLOEXEC, "work_fd without O_CLOEXEC");
		store_close(&s);
	}

	/* Absolute and unclean. */
	snprintf(want, sizeof(want), "%s//./state/", base);
	ret = store_open(&s, want, P("x/../work"), false);
	CHECK(ret == 0, "store_open absolute: %d", ret);
	if (ret == 0) {
		CHECK(!strcmp(s.state_path, P("state")), "state_path %s", s.state_path);
		CHECK(!strcmp(s.work_path, P("work")), "work_path %s", s.work_path);
		store_close(&s);
	}

	CHECK(store_open(&s, P("nostate"), P("work"), false) == -ENOENT, "missing state root");
	CHECK(store_open(&s, P("state"), P("nowork"), false) == -ENOENT, "missing work root");
	CHECK(!exists(P("nostate")) && !exists(P("nowork")), "create=false made a root");
	put(P("afile"), "x");
	CHECK(store_open(&s, P("afile"), P("work"), false) == -ENOTDIR, "file as state root");

	/* create: mkdir -p, 0711 at every level it makes. */
	ret = store_open(&s, P("new/a/b/state"), P("new/w"), true);
	CHECK(ret == 0, "store_open create: %d", ret);
	if (ret == 0)
		store_close(&s);
	CHECK(is_dir_mode(P("new"), 0711), "new: mode %o", mode_of(P("new")));
	CHECK(is_dir_mode(P("new/a"), 0711), "new/a: mode %o", mode_of(P("new/a")));
	CHECK(is_dir_mode(P("new/a/b"), 0711), "new/a/b: mode %o", mode_of(P("new/a/b")));
	CHECK(is_dir_mode(P("new/a/b/state"), 0711), "created state root: mode %o",
	      mode_of(P("new/a/b/state")));
	CHECK(is_dir_mode(P("new/w"), 0711), "created work root: mode %o", mode_of(P("new/w")));
	/* Existing roots with create: opened as they are. */
	ret = store_open(&s, P("new/a/b/state"), P("new/w"), true);
	CHECK(ret == 0, "store_open create on existing roots: %d", ret);
	if (ret == 0)
		store_close(&s);
	rmrf(P("new"));
	unlink(P("afile"));
}

/*
 * A store whose work root is missing, opened with STORE_WORK_OPTIONAL (the
 * node view's plugin without its C_R/PLUGIN): served without W; whatever
 * needs W refuses with ENOENT and makes nothing, a delete leaves W out.
 */
static void test_work_optional(void)
{
	struct bundle_conf c;
	struct stat sb;
	int ret;

	CHECK(store_open(&c.st, P("state"), P("nowork"), STORE_WORK_OPTIONAL) == 0,
	      "missing work root, optional");
	CHECK(c.st.work_fd == -1 && !strcmp(c.st.work_path, P("nowork")), "work_fd %d, path %s",
	      c.st.work_fd, c.st.work_path);
	store_close(&c.st);
	CHECK(store_open(&c.st, P("nostate"), P("nowork"), STORE_WORK_OPTIONAL) == -ENOENT,
	      "the state root is never optional");
	must(store_open(&c.st, P("state"), P("nowork"), STORE_WORK_OPTIONAL), "reopen");
	c = (struct bundle_conf){.st = c.st, .runtime = RUNTIME_V2};
	CHECK(bundle_ns_create(&c, "nw", NULL) == -ENOENT && !exists(P("state/nw")),
	      "namespace without a work root");
	mkd(P("state/nw2"), 0711);
	ret = bundle_create(&c, "nw2", "b", NULL);
	CHECK(ret == -ENOENT && !exists(P("state/nw2/b")), "bundle without a work root: %d", ret);
	mkd(P("state/nw2/old"), 0700);
	mkd(P("state/nw2/.gone"), 0700);
	CHECK(bundle_delete(&c, "nw2", "old", NULL) == 0 && !exists(P("state/nw2/old")),
	      "a delete leaves the work side out");
	CHECK(sweep_store(c.st.state_fd, c.st.work_fd) == 1 && !exists(P("state/nw2/.gone")),
	      "the sweep of the state root alone");
	CHECK(bundle_ns_remove(&c, "nw2") == 0 && stat(P("state/nw2"), &sb) < 0,
	      "a namespace goes without a work root");
	CHECK(!exists(P("nowork")), "nothing made the work root");
	store_close(&c.st);
}

/* ---- store_open_beneath ---- */

static void test_open_beneath(void)
{
	struct stat a, b;
	char buf[16];
	int rfd, fd;

	mkd(P("ob"), 0755);
	mkd(P("ob/a"), 0755);
	mkd(P("ob/a/b"), 0755);
	put(P("ob/a/b/c"), "hello");
	sym("a", P("ob/la"));
	sym("b", P("ob/a/lb"));
	sym("c", P("ob/a/b/lc"));
	sym("../..", P("ob/a/b/up"));
	sym(P("outside"), P("ob/out"));
	sym("../../outside", P("ob/a/lout"));
	sym(P("outside/created"), P("ob/a/dangle"));
	rfd = open(P("ob"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(rfd, "ob");

	fd = store_open_beneath(rfd, "a/b/c", O_RDONLY, 0);
	CHECK(fd >= 0, "plain path: %d", fd);
	if (fd >= 0) {
		CHECK(read(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "hello", 5), "wrong file");
		CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "O_CLOEXEC not added");
		close(fd);
	}
	fd = store_open_beneath(rfd, "la/b/c", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "symlink as first component: %d", fd);
	fd = store_open_beneath(rfd, "a/lb/c", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "symlink as middle component: %d", fd);
	fd = store_open_beneath(rfd, "a/b/lc", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "symlink as last component: %d", fd);
	fd = store_open_beneath(rfd, "a/lb", O_PATH | O_DIRECTORY, 0);
	CHECK(fd == -ELOOP || fd == -ENOTDIR, "symlink as last component, O_PATH|O_DIRECTORY: %d",
	      fd);
	if (fd >= 0)
		close(fd);
	fd = store_open_beneath(rfd, "out/keep", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "symlink to the outside, first component: %d", fd);
	/* O_DIRECTORY|O_NOFOLLOW on a symlink: the kernel answers ENOTDIR first. */
	fd = store_open_beneath(rfd, "out", O_RDONLY | O_DIRECTORY, 0);
	CHECK(fd == -ELOOP || fd == -ENOTDIR, "symlink to the outside, last component: %d", fd);
	if (fd >= 0)
		close(fd);
	fd = store_open_beneath(rfd, "out", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "symlink to the outside, last component, O_RDONLY: %d", fd);
	/* O_PATH alone may give the link itself, never its target. */
	fd = store_open_beneath(rfd, "out", O_PATH, 0);
	CHECK(fd == -ELOOP || (fd >= 0 && fstat(fd, &a) == 0 && S_ISLNK(a.st_mode)),
	      "O_PATH on a symlink reached its target: %d", fd);
	if (fd >= 0)
		close(fd);
	fd = store_open_beneath(rfd, "a/lout/keep", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "relative symlink to the outside, middle: %d", fd);
	fd = store_open_beneath(rfd, "a/b/up/ob/a/b/c", O_RDONLY, 0);
	CHECK(fd == -ELOOP, "symlink to .. in the middle: %d", fd);
	fd = store_open_beneath(rfd, "a/dangle", O_WRONLY | O_CREAT, 0644);
	CHECK(fd == -ELOOP, "O_CREAT through a dangling symlink: %d", fd);
	CHECK(!exists(P("outside/created")), "O_CREAT followed a symlink to the outside");

	/* ".." escaping is refused. */
	fd = store_open_beneath(rfd, "../outside/keep", O_RDONLY, 0);
	CHECK(fd < 0, "../ escaped the root: %d", fd);
	if (fd >= 0)
		close(fd);
	fd = store_open_beneath(rfd, "a/../../outside/keep", O_RDONLY, 0);
	CHECK(fd < 0, "a/../../ escaped the root: %d", fd);
	if (fd >= 0)
		close(fd);
	fd = store_open_beneath(rfd, "..", O_RDONLY | O_DIRECTORY, 0);
	CHECK(fd < 0, ".. opened the root's parent: %d", fd);
	if (fd >= 0)
		close(fd);

	/* "" is the root itself, with the caller's flags. */
	fd = store_open_beneath(rfd, "", O_RDONLY | O_DIRECTORY, 0);
	CHECK(fd >= 0, "\"\": %d", fd);
	if (fd >= 0) {
		CHECK(fstat(fd, &a) == 0 && stat(P("ob"), &b) == 0 && a.st_ino == b.st_ino,
		      "\"\" did not open the root");
		CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "\"\": O_CLOEXEC not added");
		close(fd);
	}

	fd = store_open_beneath(rfd, "a/nope", O_RDONLY, 0);
	CHECK(fd == -ENOENT, "missing: %d", fd);
	fd = store_open_beneath(rfd, "a/new", O_WRONLY | O_CREAT | O_EXCL, 0640);
	CHECK(fd >= 0, "O_CREAT: %d", fd);
	if (fd >= 0)
		close(fd);
	CHECK(type_of(P("ob/a/new")) == 'f' && mode_of(P("ob/a/new")) == 0640, "O_CREAT mode %o",
	      mode_of(P("ob/a/new")));

	close(rfd);
	CHECK(outside_intact(), "open_beneath: outside changed");
	rmrf(P("ob"));
}

/* ---- namespaces ---- */

static void test_ns(void)
{
	struct store_owner own = {.uid = 1000, .gid = 1000, .chown = true};
	int ret;

	ret = bundle_ns_create(&v1, "n1", NULL);
	CHECK(ret == 0, "ns_create n1: %d", ret);
	CHECK(is_dir_mode(P("state/n1"), 0711), "S/n1 mode %o", mode_of(P("state/n1")));
	CHECK(is_dir_mode(P("work/n1"), 0711), "W/n1 mode %o", mode_of(P("work/n1")));
	CHECK(owner_is(P("state/n1"), 0, 0), "S/n1 owner changed without chown");
	CHECK(bundle_ns_create(&v1, "n1", NULL) == -EEXIST, "ns_create twice");

	ret = bundle_ns_create(&v1, "n1o", &own);
	CHECK(ret == 0, "ns_create with owner: %d", ret);
	CHECK(owner_is(P("state/n1o"), 1000, 1000), "S/n1o owner");
	CHECK(owner_is(P("work/n1o"), 1000, 1000), "W/n1o owner");

	/* An existing W/<ns> is reused, its content kept. */
	mkd(P("work/n2"), 0711);
	put(P("work/n2/f"), "w");
	ret = bundle_ns_create(&v1, "n2", NULL);
	CHECK(ret == 0, "ns_create with W/ns present: %d", ret);
	CHECK(content_is(P("work/n2/f"), "w"), "W/n2 content lost");

	/* A bundle blocks the rmdir; nothing is removed. */
	must(bundle_ns_create(&v1, "n3", NULL), "n3");
	must(bundle_create(&v1, "n3", "b", NULL), "n3/b");
	mkd(P("state/n3/.hidden"), 0700);
	ret = bundle_ns_remove(&v1, "n3");
	CHECK(ret == -ENOTEMPTY, "ns_remove with a bundle: %d", ret);
	CHECK(type_of(P("state/n3/b/rootfs")) == 'd' && type_of(P("work/n3/b")) == 'd',
	      "ns_remove -ENOTEMPTY removed the bundle");
	CHECK(type_of(P("state/n3/.hidden")) == 'd', "ns_remove -ENOTEMPTY removed a hidden entry");
	/* Any visible entry counts, not only a directory. */
	must(bundle_ns_create(&v1, "n3f", NULL), "n3f");
	put(P("state/n3f/visible"), "x");
	CHECK(bundle_ns_remove(&v1, "n3f") == -ENOTEMPTY, "ns_remove with a visible file");
	CHECK(exists(P("state/n3f/visible")), "visible file removed");

	/* Hidden leftovers go with the namespace, in S and W. */
	must(bundle_ns_create(&v1, "n4", NULL), "n4");
	mkd(P("state/n4/.x"), 0700);
	mkd(P("state/n4/.x/rootfs"), 0711);
	mkd(P("state/n4/.x/rootfs/deep"), 0755);
	put(P("state/n4/.x/rootfs/deep/f"), "f");
	sym(P("outside"), P("state/n4/.x/rootfs/out"));
	sym(P("outside/keep"), P("state/n4/.x/outfile"));
	put(P("state/n4/.bundlefs-1-1"), "tmp");
	mkd(P("state/n4/.bundlefs-1-2"), 0700);
	mkd(P("work/n4/.y"), 0711);
	put(P("work/n4/.y/f"), "f");
	put(P("work/n4/.bundlefs-1-3"), "tmp");
	ret = bundle_ns_remove(&v1, "n4");
	CHECK(ret == 0, "ns_remove with hidden leftovers: %d", ret);
	CHECK(!exists(P("state/n4")), "S/n4 still there: %s", listing(P("state/n4")));
	CHECK(!exists(P("work/n4")), "W/n4 still there: %s", listing(P("work/n4")));
	CHECK(outside_intact(), "ns_remove followed a symlink");

	/* W/<ns> holding a visible work dir is kept, with a log line; still success. */
	must(bundle_ns_create(&v1, "n5", NULL), "n5");
	mkd(P("work/n5/wd"), 0711);
	put(P("work/n5/wd/f"), "keep");
	log_lines = 0;
	ret = bundle_ns_remove(&v1, "n5");
	CHECK(ret == 0, "ns_remove with a visible work dir: %d", ret);
	CHECK(!exists(P("state/n5")), "S/n5 kept");
	CHECK(content_is(P("work/n5/wd/f"), "keep"), "W/n5 visible work dir removed");
	CHECK(log_lines == 1, "kept W/n5: %d log lines", log_lines);
	CHECK(strstr(last_log, "n5") != NULL, "log line does not name n5: %s", last_log);

	/* Missing W/<ns>: success. Missing S/<ns>: -ENOENT. */
	must(bundle_ns_create(&v1, "n6", NULL), "n6");
	must(rmdir(P("work/n6")), "rmdir W/n6");
	CHECK(bundle_ns_remove(&v1, "n6") == 0, "ns_remove without W/ns");
	CHECK(!exists(P("state/n6")), "S/n6 kept");
	CHECK(bundle_ns_remove(&v1, "n6") == -ENOENT, "ns_remove of a missing namespace");

	/* S/<ns> a symlink to the outside: never followed. */
	sym(P("outside/sub"), P("state/n7"));
	ret = bundle_ns_remove(&v1, "n7");
	CHECK(ret < 0, "ns_remove through a symlink: %d", ret);
	CHECK(outside_intact() && type_of(P("state/n7")) == 'l', "ns_remove through a symlink");
	unlink(P("state/n7"));
	CHECK(tmp_leftovers() == 0, "ns tests left temporary files");
}

/* ---- bundle_create ---- */

static void test_bundle_create(void)
{
	struct store_owner own = {.uid = 1000, .gid = 1000, .chown = true};
	struct store_owner own_nogid = {.uid = 1000, .gid = (gid_t)-1, .chown = true};
	struct store_owner own_off = {.uid = 1000, .gid = 1000, .chown = false};
	int ret;

	/* Fresh namespace: everything is made, exactly. */
	ret = bundle_create(&v1, "c1", "b1", NULL);
	CHECK(ret == 0, "bundle_create c1/b1: %d", ret);
	CHECK(is_dir_mode(P("state/c1"), 0711), "S/c1 mode %o", mode_of(P("state/c1")));
	CHECK(is_dir_mode(P("work/c1"), 0711), "W/c1 mode %o", mode_of(P("work/c1")));
	CHECK(is_dir_mode(P("state/c1/b1"), 0700), "S/c1/b1 mode %o", mode_of(P("state/c1/b1")));
	CHECK(is_dir_mode(P("state/c1/b1/rootfs"), 0711), "rootfs mode %o",
	      mode_of(P("state/c1/b1/rootfs")));
	CHECK(is_dir_mode(P("work/c1/b1"), 0711), "W/c1/b1 mode %o", mode_of(P("work/c1/b1")));
	CHECK(!exists(P("state/c1/b1/config.json")), "config.json created");
	CHECK(!strcmp(listing(P("state/c1")), "b1"), "S/c1 holds %s", listing(P("state/c1")));
	CHECK(!strcmp(listing(P("state/c1/b1")), "rootfs"), "S/c1/b1 holds %s",
	      listing(P("state/c1/b1")));
	CHECK(!strcmp(listing(P("state/c1/b1/rootfs")), ""), "rootfs not empty");
	CHECK(!strcmp(listing(P("work/c1")), "b1"), "W/c1 holds %s", listing(P("work/c1")));
	CHECK(!strcmp(listing(P("work/c1/b1")), ""), "W/c1/b1 not empty");
	CHECK(owner_is(P("state/c1/b1"), 0, 0) && owner_is(P("state/c1/b1/rootfs"), 0, 0),
	      "owner changed without an owner");
	CHECK(tmp_leftovers() == 0, "bundle_create left temporary entries");

	/* An existing bundle: -EEXIST, its files and its work dir untouched. */
	put(P("state/c1/b1/marker"), "s");
	put(P("work/c1/b1/keep"), "w");
	ret = bundle_create(&v1, "c1", "b1", NULL);
	CHECK(ret == -EEXIST, "bundle_create twice: %d", ret);
	CHECK(content_is(P("state/c1/b1/marker"), "s"), "existing bundle changed");
	CHECK(content_is(P("work/c1/b1/keep"), "w"), "existing work dir changed");
	CHECK(!strcmp(listing(P("work/c1/b1")), "keep"), "W/c1/b1 holds %s",
	      listing(P("work/c1/b1")));
	CHECK(mode_of(P("state/c1/b1")) == 0700, "existing bundle mode changed");
	CHECK(tmp_leftovers() == 0, "-EEXIST left temporary entries");
	/* Anything at S/ns/id counts, a symlink included. */
	sym(P("outside"), P("state/c1/lnk"));
	CHECK(bundle_create(&v1, "c1", "lnk", NULL) == -EEXIST, "symlink at S/ns/id");
	CHECK(outside_intact(), "bundle_create over a symlink touched the outside");
	unlink(P("state/c1/lnk"));
	rmdir(P("work/c1/lnk"));

	/* W/ns/id present: reused, its content survives. */
	mkd(P("work/c1/b2"), 0711);
	put(P("work/c1/b2/inside"), "in");
	ret = bundle_create(&v1, "c1", "b2", NULL);
	CHECK(ret == 0, "bundle_create with W/ns/id present: %d", ret);
	CHECK(content_is(P("work/c1/b2/inside"), "in"), "reused work dir lost its content");
	CHECK(is_dir_mode(P("state/c1/b2"), 0700) && is_dir_mode(P("state/c1/b2/rootfs"), 0711),
	      "bundle with a reused work dir: wrong layout");

	/* Owners. */
	ret = bundle_create(&v1, "c1", "b3", &own);
	CHECK(ret == 0, "bundle_create with owner: %d", ret);
	CHECK(owner_is(P("state/c1/b3"), 1000, 1000), "S/c1/b3 owner");
	CHECK(owner_is(P("state/c1/b3/rootfs"), 1000, 1000), "rootfs owner");
	CHECK(owner_is(P("work/c1/b3"), 1000, 1000), "W/c1/b3 owner");
	CHECK(owner_is(P("state/c1"), 0, 0), "existing S/c1 re-owned");
	CHECK(is_dir_mode(P("state/c1/b3"), 0700) && is_dir_mode(P("work/c1/b3"), 0711),
	      "owned bundle: modes");
	ret = bundle_create(&v1, "c2", "b", &own);
	CHECK(ret == 0, "bundle_create with owner in a new namespace: %d", ret);
	CHECK(owner_is(P("state/c2"), 1000, 1000) && owner_is(P("work/c2"), 1000, 1000),
	      "new namespace directories not owned");
	ret = bundle_create(&v1, "c1", "b4", &own_nogid);
	CHECK(ret == 0, "bundle_create with uid only: %d", ret);
	CHECK(owner_is(P("state/c1/b4"), 1000, 0) && owner_is(P("work/c1/b4"), 1000, 0),
	      "gid -1 changed the group");
	ret = bundle_create(&v1, "c1", "b5", &own_off);
	CHECK(ret == 0, "bundle_create with chown off: %d", ret);
	CHECK(owner_is(P("state/c1/b5"), 0, 0) && owner_is(P("work/c1/b5"), 0, 0),
	      "chown=false changed the owner");

	/* S/<ns> a symlink to the outside: refused, nothing made there. */
	sym(P("outside/sub"), P("state/c3"));
	ret = bundle_create(&v1, "c3", "b", NULL);
	CHECK(ret < 0, "bundle_create through a symlinked S/ns: %d", ret);
	CHECK(outside_intact(), "bundle_create wrote through a symlink");
	unlink(P("state/c3"));
	rmrf(P("work/c3"));

	/* W/ns/id a symlink: refused, and no half bundle left in S. */
	must(bundle_ns_create(&v1, "c4", NULL), "c4");
	sym(P("outside/sub"), P("work/c4/b"));
	ret = bundle_create(&v1, "c4", "b", NULL);
	CHECK(ret < 0, "bundle_create with W/ns/id a symlink: %d", ret);
	CHECK(!strcmp(listing(P("state/c4")), ""), "failed create left %s", listing(P("state/c4")));
	CHECK(type_of(P("work/c4/b")) == 'l' && outside_intact(), "failed create touched W");
	CHECK(tmp_leftovers() == 0, "failed create left temporary entries");
	unlink(P("work/c4/b"));
}

/* ---- bundle_delete ---- */

static void bundle(const char *ns, const char *id)
{
	int ret = bundle_create(&v1, ns, id, NULL);

	if (ret < 0) {
		fprintf(stderr, "fixture: bundle %s/%s: %s\n", ns, id, strerror(-ret));
		exit(2);
	}
}

static void put_address(const char *ns, const char *id, const char *addr)
{
	put(P("state/%s/%s/address", ns, id), addr);
}

static void test_bundle_delete(void)
{
	/* v1 with the socket step in <base>/sr, and the mount at <base>/mnt. */
	struct bundle_conf sc = v1;
	char *mnt;
	char addr[4200];
	int ret;

	mkd(P("sr"), 0711);
	mkd(P("sr/s"), 0711);
	mkd(P("sr/s/sub"), 0711);
	sc.socket_root = strdup(P("sr"));
	mnt = strdup(P("mnt"));

	/* A full bundle with nested content and symlinks to the outside. */
	bundle("d1", "b");
	mkd(P("state/d1/b/rootfs/x"), 0755);
	mkd(P("state/d1/b/rootfs/x/y"), 0755);
	put(P("state/d1/b/rootfs/x/y/z"), "z");
	put(P("state/d1/b/config.json"), "{}");
	sym(P("outside"), P("state/d1/b/rootfs/out"));
	sym(P("outside/keep"), P("state/d1/b/rootfs/x/outfile"));
	sym("../../../../outside", P("state/d1/b/rootfs/x/rel"));
	mkd(P("work/d1/b/sub"), 0755);
	put(P("work/d1/b/sub/f"), "f");
	sym(P("outside/sub"), P("work/d1/b/out"));
	ret = bundle_delete(&sc, "d1", "b", NULL);
	CHECK(ret == 0, "delete d1/b: %d", ret);
	CHECK(!strcmp(listing(P("state/d1")), ""), "S/d1 after delete: %s", listing(P("state/d1")));
	CHECK(!strcmp(listing(P("work/d1")), ""), "W/d1 after delete: %s", listing(P("work/d1")));
	CHECK(outside_intact(), "delete followed a symlink");
	CHECK(bundle_delete(&sc, "d1", "b", NULL) == -ENOENT, "delete twice");
	CHECK(bundle_delete(&sc, "d1", "nope", NULL) == -ENOENT, "delete of a missing id");
	CHECK(bundle_delete(&sc, "nons", "b", NULL) == -ENOENT, "delete in a missing ns");
	CHECK(bundle_delete(&v1, "d1", "b", NULL) == -ENOENT, "delete, no socket root");

	/* Stale, non-empty .<id> in S and W: no obstacle, no temporary leftovers. */
	bundle("d1", "b2");
	mkd(P("state/d1/.b2"), 0700);
	mkd(P("state/d1/.b2/stale"), 0755);
	put(P("state/d1/.b2/stale/f"), "old");
	mkd(P("work/d1/.b2"), 0711);
	put(P("work/d1/.b2/f"), "old");
	ret = bundle_delete(&sc, "d1", "b2", NULL);
	CHECK(ret == 0, "delete with a stale .b2: %d", ret);
	CHECK(!exists(P("state/d1/b2")) && !exists(P("work/d1/b2")), "b2 not deleted");
	CHECK(tmp_leftovers() == 0, "delete over a stale .id left temporary entries");

	/* Sockets: only a unix socket directly in <socket_root>/s/. */
	make_socket(P("sr/s/sock1"));
	make_socket(P("sr/s/sub/sock2"));
	make_socket(P("sr/x.sock"));
	make_socket(P("elsewhere.sock"));
	put(P("sr/s/file1"), "f");
	mkd(P("sr/s/dir1"), 0755);
	sym(P("elsewhere.sock"), P("sr/s/lnk"));
	{
		static const struct {
			const char *id, *name; /* name below sr/ */
			bool gone;
		} cases[] = {
		    {"s1", "s/sock1", true},	  {"s2", "s/file1", false},
		    {"s3", "s/dir1", false},	  {"s4", "s/lnk", false},
		    {"s5", "s/sub/sock2", false}, {"s6", "s/../x.sock", false},
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char was = type_of(P("sr/%s", cases[i].name));

			bundle("d1", cases[i].id);
			snprintf(addr, sizeof(addr), "unix://%s/%s", sc.socket_root, cases[i].name);
			put_address("d1", cases[i].id, addr);
			ret = bundle_delete(&sc, "d1", cases[i].id, NULL);
			CHECK(ret == 0, "delete %s: %d", cases[i].id, ret);
			CHECK(!exists(P("state/d1/%s", cases[i].id)), "%s not deleted",
			      cases[i].id);
			if (cases[i].gone)
				CHECK(!exists(P("sr/%s", cases[i].name)), "socket %s not removed",
				      cases[i].name);
			else
				CHECK(type_of(P("sr/%s", cases[i].name)) == was,
				      "%s (%c) removed or changed", cases[i].name, was);
		}
	}
	CHECK(type_of(P("elsewhere.sock")) == 's', "symlink target socket removed");
	/* An address reached through a symlink is not read. */
	make_socket(P("sr/s/sock3"));
	snprintf(addr, sizeof(addr), "unix://%s/s/sock3", sc.socket_root);
	put(P("addrfile"), addr);
	bundle("d1", "s7");
	sym(P("addrfile"), P("state/d1/s7/address"));
	CHECK(bundle_delete(&sc, "d1", "s7", NULL) == 0, "delete s7");
	CHECK(type_of(P("sr/s/sock3")) == 's', "socket removed through a symlinked address");
	CHECK(content_is(P("addrfile"), addr), "symlinked address target changed");
	/* A store without socket_root: no socket step, still deleted. */
	bundle("d1", "s8");
	put_address("d1", "s8", addr);
	CHECK(bundle_delete(&v1, "d1", "s8", NULL) == 0, "delete s8 without a socket root");
	CHECK(type_of(P("sr/s/sock3")) == 's' && !exists(P("state/d1/s8")),
	      "delete without a socket root");

	/* A mount point inside the bundle or its work dir: -EBUSY, nothing changed. */
	mkd(P("bindsrc"), 0755);
	put(P("bindsrc/precious"), "p");
	bundle("d2", "b");
	mkd(P("state/d2/b/rootfs/etc"), 0755);
	put(P("state/d2/b/config.json"), "{}");
	put(P("work/d2/b/w"), "w");
	must(mount(P("bindsrc"), P("state/d2/b/rootfs"), NULL, MS_BIND, NULL), "bind rootfs");
	ret = bundle_delete(&sc, "d2", "b", NULL);
	CHECK(ret == -EBUSY, "delete with a mount on rootfs: %d", ret);
	CHECK(content_is(P("state/d2/b/config.json"), "{}") && content_is(P("work/d2/b/w"), "w") &&
		  !strcmp(listing(P("state/d2")), "b") && !strcmp(listing(P("work/d2")), "b"),
	      "-EBUSY changed the store");
	CHECK(content_is(P("bindsrc/precious"), "p"), "-EBUSY touched the mounted tree");
	must(umount2(P("state/d2/b/rootfs"), 0), "umount rootfs");
	ret = bundle_delete(&sc, "d2", "b", NULL);
	CHECK(ret == 0, "delete after the umount: %d", ret);
	CHECK(!exists(P("state/d2/b")) && !exists(P("work/d2/b")), "d2/b not deleted");

	bundle("d2", "b2");
	mkd(P("work/d2/b2/sub"), 0755);
	must(mount(P("bindsrc"), P("work/d2/b2/sub"), NULL, MS_BIND, NULL), "bind work");
	ret = bundle_delete(&sc, "d2", "b2", NULL);
	CHECK(ret == -EBUSY, "delete with a mount in the work dir: %d", ret);
	CHECK(type_of(P("state/d2/b2/rootfs")) == 'd' && type_of(P("work/d2/b2/sub")) == 'd',
	      "-EBUSY (work) changed the store");
	must(umount2(P("work/d2/b2/sub"), 0), "umount work");
	CHECK(bundle_delete(&sc, "d2", "b2", NULL) == 0, "delete b2 after the umount");
	CHECK(content_is(P("bindsrc/precious"), "p"), "mount source damaged");

	/* A mount below <mountpoint>/<ns>/<id>. */
	bundle("d2", "b3");
	mkd(P("mnt"), 0755);
	mkd(P("mnt/d2"), 0755);
	mkd(P("mnt/d2/b3"), 0755);
	mkd(P("mnt/d2/b3/rootfs"), 0755);
	must(mount(P("bindsrc"), P("mnt/d2/b3/rootfs"), NULL, MS_BIND, NULL), "bind mnt");
	ret = bundle_delete(&sc, "d2", "b3", mnt);
	CHECK(ret == -EBUSY, "delete with a mount under the mountpoint: %d", ret);
	CHECK(type_of(P("state/d2/b3/rootfs")) == 'd' && type_of(P("work/d2/b3")) == 'd',
	      "-EBUSY (mountpoint) changed the store");
	must(umount2(P("mnt/d2/b3/rootfs"), 0), "umount mnt");
	CHECK(bundle_delete(&sc, "d2", "b3", mnt) == 0, "delete b3 after the umount");
	CHECK(!exists(P("state/d2/b3")) && !exists(P("work/d2/b3")), "d2/b3 not deleted");

	/* A hidden name: only the S tree goes; no socket step, W untouched. */
	bundle("d3", "b");
	make_socket(P("sr/s/sock4"));
	snprintf(addr, sizeof(addr), "unix://%s/s/sock4", sc.socket_root);
	put_address("d3", "b", addr);
	must(rename(P("state/d3/b"), P("state/d3/.b")), "hide d3/b");
	mkd(P("work/d3/.b"), 0711);
	put(P("work/d3/b/f"), "w");
	ret = bundle_delete(&sc, "d3", ".b", NULL);
	CHECK(ret == 0, "delete of a hidden name: %d", ret);
	CHECK(!exists(P("state/d3/.b")), "S/d3/.b not removed");
	CHECK(content_is(P("work/d3/b/f"), "w") && type_of(P("work/d3/.b")) == 'd',
	      "hidden delete touched W");
	CHECK(type_of(P("sr/s/sock4")) == 's', "hidden delete removed the socket");

	/* S/ns/id a symlink to the outside: never followed. */
	sym(P("outside/sub"), P("state/d3/lnk"));
	ret = bundle_delete(&sc, "d3", "lnk", NULL);
	CHECK(ret < 0, "delete of a symlink at S/ns/id: %d", ret);
	CHECK(outside_intact(), "delete followed S/ns/id symlink");
	unlink(P("state/d3/lnk"));
	CHECK(tmp_leftovers() == 0, "delete tests left temporary entries");
	free((char *)sc.socket_root);
	free(mnt);
}

/* ---- bundle_hide ---- */

static void test_hide(void)
{
	int ret;

	bundle("h", "b");
	ret = bundle_hide(&v1, "h", "b", ".b", 0);
	CHECK(ret == 0, "hide: %d", ret);
	CHECK(!exists(P("state/h/b")) && type_of(P("state/h/.b/rootfs")) == 'd', "hide: layout");
	CHECK(type_of(P("work/h/b")) == 'd', "hide touched the work dir");

	/* Over a stale non-empty .<id>: the stale tree is gone afterwards. */
	bundle("h", "b2");
	put(P("state/h/b2/config.json"), "new");
	mkd(P("state/h/.b2"), 0700);
	mkd(P("state/h/.b2/stale"), 0755);
	mkd(P("state/h/.b2/stale/deep"), 0755);
	put(P("state/h/.b2/stale/deep/f"), "old");
	sym(P("outside"), P("state/h/.b2/stale/out"));
	ret = bundle_hide(&v1, "h", "b2", ".b2", 0);
	CHECK(ret == 0, "hide over a stale tree: %d", ret);
	CHECK(!exists(P("state/h/b2")), "hide over a stale tree: b2 still there");
	CHECK(!strcmp(listing(P("state/h/.b2")), "config.json,rootfs"), ".b2 holds %s",
	      listing(P("state/h/.b2")));
	CHECK(content_is(P("state/h/.b2/config.json"), "new"), ".b2 is not the hidden bundle");
	CHECK(!strcmp(listing(P("state/h")), ".b,.b2"), "S/h holds %s", listing(P("state/h")));
	CHECK(tmp_leftovers() == 0, "hide left temporary entries");
	CHECK(outside_intact(), "hide followed a symlink in the stale tree");

	/* RENAME_NOREPLACE: -EEXIST, both left as they were. */
	bundle("h", "b3");
	mkd(P("state/h/.b3"), 0700);
	ret = bundle_hide(&v1, "h", "b3", ".b3", RENAME_NOREPLACE);
	CHECK(ret == -EEXIST, "hide RENAME_NOREPLACE over .b3: %d", ret);
	CHECK(type_of(P("state/h/b3/rootfs")) == 'd' && !strcmp(listing(P("state/h/.b3")), ""),
	      "RENAME_NOREPLACE failure changed something");
	rmdir(P("state/h/.b3"));
	ret = bundle_hide(&v1, "h", "b3", ".b3", RENAME_NOREPLACE);
	CHECK(ret == 0, "hide RENAME_NOREPLACE to a free name: %d", ret);
	CHECK(type_of(P("state/h/.b3/rootfs")) == 'd', "RENAME_NOREPLACE hide: layout");
	CHECK(bundle_hide(&v1, "h", "gone", ".gone", 0) == -ENOENT, "hide of a missing id");
	CHECK(bundle_hide(&v1, "nons", "b", ".b", 0) == -ENOENT, "hide in a missing ns");
}

/* ---- store_read_regular ---- */

static void test_read_regular(void)
{
	char *buf = NULL;
	size_t len = 0;
	int dfd, ret, fd;

	mkd(P("rr"), 0755);
	put(P("rr/f"), "hello\n");
	put(P("rr/e"), "");
	mkd(P("rr/d"), 0755);
	mkd(P("rr/id"), 0755);
	put(P("rr/id/address"), "unix:///x");
	sym("f", P("rr/lf"));
	sym("d", P("rr/ld"));
	sym("id", P("rr/lid"));
	sym(P("outside/keep"), P("rr/lout"));
	must(mkfifo(P("rr/fifo"), 0644), "mkfifo");
	make_socket(P("rr/sock"));
	fd = open(P("rr/bin"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	must(fd, "rr/bin");
	if (write(fd, "a\0b", 3) != 3)
		must(-1, "rr/bin");
	close(fd);
	dfd = open(P("rr"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(dfd, "rr");

	ret = store_read_regular(dfd, "f", 4096, &buf, &len);
	CHECK(ret == 0, "read f: %d", ret);
	if (ret == 0) {
		CHECK(len == 6 && !memcmp(buf, "hello\n", 6), "read f: %zu bytes", len);
		CHECK(buf[6] == '\0', "read f: not NUL-terminated");
		free(buf);
	}
	ret = store_read_regular(dfd, "e", 4096, &buf, &len);
	CHECK(ret == 0, "read empty: %d", ret);
	if (ret == 0) {
		CHECK(len == 0 && buf[0] == '\0', "read empty: %zu bytes", len);
		free(buf);
	}
	ret = store_read_regular(dfd, "bin", 4096, &buf, &len);
	CHECK(ret == 0, "read bin: %d", ret);
	if (ret == 0) {
		CHECK(len == 3 && !memcmp(buf, "a\0b", 4), "read bin: %zu bytes", len);
		free(buf);
	}
	/* The bound: exactly max is fine, one over is -EFBIG. */
	ret = store_read_regular(dfd, "f", 6, &buf, &len);
	CHECK(ret == 0 && len == 6, "read at max: %d", ret);
	if (ret == 0)
		free(buf);
	CHECK(store_read_regular(dfd, "f", 5, &buf, &len) == -EFBIG, "read over max");

	/* Not a regular file reached without a symlink: -ENOENT. alarm: a FIFO must not block. */
	alarm(20);
	CHECK(store_read_regular(dfd, "lf", 4096, &buf, &len) == -ENOENT, "symlink to a file");
	CHECK(store_read_regular(dfd, "lout", 4096, &buf, &len) == -ENOENT,
	      "symlink to an outside file");
	CHECK(store_read_regular(dfd, "ld", 4096, &buf, &len) == -ENOENT, "symlink to a dir");
	CHECK(store_read_regular(dfd, "d", 4096, &buf, &len) == -ENOENT, "directory");
	CHECK(store_read_regular(dfd, "fifo", 4096, &buf, &len) == -ENOENT, "FIFO");
	CHECK(store_read_regular(dfd, "sock", 4096, &buf, &len) == -ENOENT, "socket");
	CHECK(store_read_regular(dfd, "missing", 4096, &buf, &len) == -ENOENT, "missing");
	alarm(0);

	ret = store_read_regular(dfd, "id/address", 4096, &buf, &len);
	CHECK(ret == 0, "read id/address: %d", ret);
	if (ret == 0) {
		CHECK(len == 9 && !strcmp(buf, "unix:///x"), "read id/address: %s", buf);
		free(buf);
	}
	CHECK(store_read_regular(dfd, "lid/address", 4096, &buf, &len) == -ENOENT,
	      "symlinked middle component");
	CHECK(store_read_regular(dfd, "id/missing", 4096, &buf, &len) == -ENOENT,
	      "missing last component");
	close(dfd);
	rmrf(P("rr"));
}

/* ---- store_tmpfile ---- */

static void test_tmpfile(void)
{
	char n1[32], n2[32], n3[32];
	struct stat sb;
	int dfd, f1, f2, f3;

	mkd(P("tf"), 0755);
	dfd = open(P("tf"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(dfd, "tf");
	f1 = store_tmpfile(dfd, n1, sizeof(n1), 0600);
	f2 = store_tmpfile(dfd, n2, sizeof(n2), 0600);
	f3 = store_tmpfile(dfd, n3, sizeof(n3), 0644);
	CHECK(f1 >= 0 && f2 >= 0 && f3 >= 0, "tmpfile: %d %d %d", f1, f2, f3);
	if (f1 < 0 || f2 < 0 || f3 < 0)
		goto out;
	CHECK(!strncmp(n1, TREE_TMP_PREFIX, strlen(TREE_TMP_PREFIX)) &&
		  !strncmp(n2, TREE_TMP_PREFIX, strlen(TREE_TMP_PREFIX)),
	      "tmpfile names %s %s", n1, n2);
	CHECK(strcmp(n1, n2) && strcmp(n2, n3) && strcmp(n1, n3), "tmpfile names repeat: %s %s %s",
	      n1, n2, n3);
	CHECK(fstatat(dfd, n1, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
		  (sb.st_mode & 07777) == 0600 && sb.st_size == 0,
	      "tmpfile %s: mode %o", n1, sb.st_mode & 07777);
	CHECK(fstatat(dfd, n3, &sb, AT_SYMLINK_NOFOLLOW) == 0 && (sb.st_mode & 07777) == 0644,
	      "tmpfile %s: mode %o", n3, sb.st_mode & 07777);
	CHECK((fcntl(f1, F_GETFL) & O_ACCMODE) == O_RDWR, "tmpfile not O_RDWR");
	CHECK(fcntl(f1, F_GETFD) & FD_CLOEXEC, "tmpfile without O_CLOEXEC");
	CHECK(write(f1, "abc", 3) == 3 && pread(f1, n3, 3, 0) == 3 && !memcmp(n3, "abc", 3),
	      "tmpfile not readable and writable");
	{
		/* Exactly three files, all ours. */
		const char *l = listing(P("tf"));
		int commas = 0;

		for (; *l; l++)
			commas += *l == ',';
		CHECK(commas == 2, "tf holds %s", listing(P("tf")));
	}
out:
	if (f1 >= 0)
		close(f1);
	if (f2 >= 0)
		close(f2);
	if (f3 >= 0)
		close(f3);
	close(dfd);
	rmrf(P("tf"));
}

/* ---- store_apply_remap ---- */

static void test_apply_remap(void)
{
	int dfd, ret;

	mkd(P("rm"), 0755);
	mkd(P("rm/b"), 0700);
	sym(P("outside/remapdir"), P("rm/lnk"));
	dfd = open(P("rm"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(dfd, "rm");
	ret = store_apply_remap(dfd, "b", 0);
	CHECK(ret == 0, "remap gid 0: %d", ret);
	CHECK(owner_is(P("rm/b"), 0, 0) && mode_of(P("rm/b")) == 0700, "gid 0 changed something");
	ret = store_apply_remap(dfd, "b", 1234);
	CHECK(ret == 0, "remap gid 1234: %d", ret);
	CHECK(owner_is(P("rm/b"), 0, 1234), "remap: owner");
	CHECK(is_dir_mode(P("rm/b"), 0710), "remap: mode %o", mode_of(P("rm/b")));
	CHECK(store_apply_remap(dfd, "missing", 1234) == -ENOENT, "remap of a missing name");
	/* A symlink is never followed (SPEC 5.5): its target keeps owner and mode. */
	ret = store_apply_remap(dfd, "lnk", 1234);
	CHECK(outside_intact(), "remap followed a symlink (%d): outside/remapdir %o", ret,
	      mode_of(P("outside/remapdir")));
	/* Put the target back so later checks judge only themselves. */
	chmod(P("outside/remapdir"), 0755);
	lchown(P("outside/remapdir"), 0, 0);
	close(dfd);
	rmrf(P("rm"));
}

int main(void)
{
	/* Private mount namespace: the bind mounts here are seen by nobody else. */
	if (fx_store_base(&st, "test_store", count_sink) < 0)
		return 1;
	make_outside();
	v1 = (struct bundle_conf){.st = st, .runtime = RUNTIME_V1};

	test_open();
	test_work_optional();
	test_open_beneath();
	test_ns();
	test_bundle_create();
	test_bundle_delete();
	test_hide();
	test_read_regular();
	test_tmpfile();
	test_apply_remap();

	CHECK(outside_intact(), "outside changed by the end");
	return fx_store_end(&st);
}
