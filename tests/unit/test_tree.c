/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/tree.c, core/mounts.c and core/sweep.c: safe tree
 * removal, mount point detection and the start-up sweep. Runs as root in a private mount namespace
 * (bind mounts are part of what is tested); every mount made is also unmounted explicitly.
 */
#include "tree.h"

#include "log.h"
#include "mounts.h"
#include "sweep.h"
#include "check.h"
#include "fsfixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int basefd = -1;

static bool existsat(int fd, const char *name)
{
	struct stat st;

	return fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, "x", 1) != 1) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void touchat(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		perror(name);
		exit(2);
	}
	close(fd);
}

/* The outside world that symlinks in removed trees point to: must survive. */
static void make_outside(void)
{
	mkd(P("outside"), 0755);
	mkd(P("outside/sub"), 0755);
	touch(P("outside/keep"));
	touch(P("outside/sub/keep2"));
}

static bool outside_intact(void)
{
	return exists(P("outside/keep")) && exists(P("outside/sub/keep2"));
}

/* ---- tree_remove, table driven ---- */

struct ent {
	char kind;	    /* d dir, f file, l symlink, p fifo */
	const char *path;   /* relative to base */
	const char *target; /* symlink target (relative to base if it starts with '@') */
};

struct remove_case {
	const char *what;
	const char *name; /* passed to tree_remove, relative to base */
	struct ent ents[16];
	int want;
};

static const struct remove_case remove_cases[] = {
    {"regular file", "t1", {{'f', "t1", NULL}}, 0},
    {"empty directory", "t2", {{'d', "t2", NULL}}, 0},
    {"symlink to an outside directory as top", "t3", {{'l', "t3", "@outside"}}, 0},
    {"fifo as top", "t4", {{'p', "t4", NULL}}, 0},
    {"dangling symlink as top", "t5", {{'l', "t5", "/nonexistent/x"}}, 0},
    {"nested tree with files, symlinks and fifos",
     "t6",
     {{'d', "t6", NULL},
      {'f', "t6/a", NULL},
      {'d', "t6/d1", NULL},
      {'d', "t6/d1/d2", NULL},
      {'d', "t6/d1/d2/d3", NULL},
      {'f', "t6/d1/d2/d3/f", NULL},
      {'l', "t6/d1/out", "@outside"},
      {'l', "t6/d1/d2/outsub", "@outside/sub"},
      {'l', "t6/d1/d2/d3/outfile", "@outside/keep"},
      {'l', "t6/d1/rel", "../../outside"},
      {'l', "t6/dangling", "/nonexistent"},
      {'p', "t6/fifo", NULL},
      {'p', "t6/d1/d2/fifo2", NULL},
      {'d', "t6/e", NULL},
      {'d', "t6/e/.hidden", NULL},
      {'f', "t6/e/.hidden/f", NULL}},
     0},
    {"missing name", "nope", {{0, NULL, NULL}}, -ENOENT},
    {"empty name", "", {{0, NULL, NULL}}, -EINVAL},
    {"dot", ".", {{0, NULL, NULL}}, -EINVAL},
    {"dotdot", "..", {{0, NULL, NULL}}, -EINVAL},
    {"a path, not a name", "t7/x", {{'d', "t7", NULL}, {'d', "t7/x", NULL}}, -EINVAL},
};

static void build(const struct ent *e, size_t n)
{
	char target[4096];

	for (size_t i = 0; i < n && e[i].kind; i++) {
		const char *p = P("%s", e[i].path);

		switch (e[i].kind) {
		case 'd':
			mkd(p, 0755);
			break;
		case 'f':
			touch(p);
			break;
		case 'p':
			must(mkfifo(p, 0644), p);
			break;
		case 'l':
			if (e[i].target[0] == '@')
				snprintf(target, sizeof(target), "%s/%s", base, e[i].target + 1);
			else
				snprintf(target, sizeof(target), "%s", e[i].target);
			must(symlink(target, p), p);
			break;
		}
	}
}

static void test_remove_table(void)
{
	for (size_t i = 0; i < sizeof(remove_cases) / sizeof(remove_cases[0]); i++) {
		const struct remove_case *c = &remove_cases[i];
		int ret;

		build(c->ents, sizeof(c->ents) / sizeof(c->ents[0]));
		ret = tree_remove(basefd, c->name);
		CHECK(ret == c->want, "remove '%s': got %d, want %d", c->what, ret, c->want);
		if (c->want == 0)
			CHECK(!exists(P("%s", c->name)), "remove '%s': still there", c->what);
		CHECK(outside_intact(), "remove '%s': outside target damaged", c->what);
		if (c->ents[0].kind && c->want != 0)
			rmrf(P("%s", c->ents[0].path));
	}
}

/* ---- wide and deep trees ---- */

static void test_wide(void)
{
	char name[32];
	int fd, ret;

	mkd(P("wide"), 0755);
	fd = open(P("wide"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	must(fd, "wide");
	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		if (i % 1000 == 0) {
			must(mkdirat(fd, name, 0755), name);
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "/x");
		}
		touchat(fd, name);
	}
	close(fd);
	ret = tree_remove(basefd, "wide");
	CHECK(ret == 0, "wide (20000 entries): got %d", ret);
	CHECK(!exists(P("wide")), "wide: still there");
}

/*
 * Create dirfd/name and a chain of depth - 1 directories "d" below it, each
 * with a file "f". Returns a descriptor of the deepest directory.
 */
static int chain(int dirfd, const char *name, int depth)
{
	int fd = -1, nfd;

	must(mkdirat(dirfd, name, 0755), name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	must(fd, name);
	for (int i = 1; i < depth; i++) {
		touchat(fd, "f");
		must(mkdirat(fd, "d", 0755), "chain");
		nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		must(nfd, "chain");
		close(fd);
		fd = nfd;
	}
	touchat(fd, "f");
	return fd;
}

/*
 * Run fn in a forked child limited to 64 descriptors; the child reports its
 * own failures and exits non-zero if any.
 */
static bool in_child_64(void (*fn)(void *), void *arg)
{
	struct rlimit rl = {64, 64};
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(3);
		check_passed = check_failed = 0;
		fn(arg);
		fflush(NULL);
		_exit(check_failed ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return false;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

struct expect {
	const char *name;
	int walk;   /* expected tree_walk_has_mounts */
	int remove; /* expected tree_remove */
};

static void walk_then_remove(void *arg)
{
	const struct expect *e = arg;
	struct rlimit rl;
	int ret;

	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK(rl.rlim_cur == 64, "child: descriptor limit is %ld", (long)rl.rlim_cur);
	ret = tree_walk_has_mounts(basefd, e->name);
	CHECK(ret == e->walk, "%s: walk under 64 fds: got %d, want %d", e->name, ret, e->walk);
	ret = tree_remove(basefd, e->name);
	CHECK(ret == e->remove, "%s: remove under 64 fds: got %d, want %d", e->name, ret,
	      e->remove);
}

static void test_deep_chain(void)
{
	struct expect e = {"deep", 0, 0};
	int fd = chain(basefd, "deep", 3000);

	close(fd);
	CHECK(in_child_64(walk_then_remove, &e), "deep chain (3000) under 64 descriptors");
	CHECK(!exists(P("deep")), "deep chain: still there");
	if (exists(P("deep")))
		rmrf(P("deep"));
}

/*
 * Many deep branches below a deep directory: every branch pushes the
 * directory out of the descriptor window, so it is re-opened through ".."
 * many times and must resume without losing or repeating entries.
 */
static void test_deep_bushy(void)
{
	struct expect e = {"bushy", 0, 0};
	char name[16];
	int fd = chain(basefd, "bushy", 40);

	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "s%02d", i);
		close(chain(fd, name, 40));
		snprintf(name, sizeof(name), "g%02d", i);
		touchat(fd, name);
	}
	close(fd);
	CHECK(in_child_64(walk_then_remove, &e), "deep bushy tree under 64 descriptors");
	CHECK(!exists(P("bushy")), "deep bushy tree: still there");
	if (exists(P("bushy")))
		rmrf(P("bushy"));
}

/* ---- mount points ---- */

static void test_mount_shallow(void)
{
	const char *paths[1];
	int afd, ret;

	mkd(P("msrc"), 0755);
	touch(P("msrc/precious"));
	mkd(P("mt"), 0755);
	mkd(P("mt/a"), 0755);
	touch(P("mt/a/f"));
	mkd(P("mt/a/m"), 0755);
	mkd(P("mt/b"), 0755);
	touch(P("mt/b/f"));
	must(mount(P("msrc"), P("mt/a/m"), NULL, MS_BIND, NULL), "bind mount");

	paths[0] = P("mt");
	CHECK(mounts_below(paths, 1) == 1, "has_mounts: bind mount below mt not seen");
	CHECK(tree_walk_has_mounts(basefd, "mt") == 1, "walk_has_mounts: mount not found");
	ret = tree_remove(basefd, "mt");
	CHECK(ret == -EBUSY, "remove with a bind mount inside: got %d, want -EBUSY", ret);
	CHECK(exists(P("mt/a/m/precious")), "remove crossed into the mount");
	CHECK(exists(P("msrc/precious")), "mounted content damaged");
	CHECK(!exists(P("mt/b")) && !exists(P("mt/a/f")), "remove did not remove what it could");

	/* The mount point itself as the top. */
	afd = open(P("mt/a"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	must(afd, "mt/a");
	ret = tree_remove(afd, "m");
	CHECK(ret == -EBUSY, "remove of a mount point itself: got %d", ret);
	CHECK(tree_walk_has_mounts(afd, "m") == 1, "walk of a mount point itself");
	close(afd);
	CHECK(exists(P("msrc/precious")), "mounted content damaged (top)");

	must(umount2(P("mt/a/m"), 0), "umount");
	CHECK(mounts_below(paths, 1) == 0, "has_mounts after umount");
	CHECK(tree_walk_has_mounts(basefd, "mt") == 0, "walk_has_mounts after umount");
	ret = tree_remove(basefd, "mt");
	CHECK(ret == 0 && !exists(P("mt")), "remove after umount: %d", ret);
	CHECK(tree_walk_has_mounts(basefd, "mt") == -ENOENT, "walk of a missing name");
	rmrf(P("msrc"));
}

/*
 * An empty directory mounted on an empty directory: removing it at once
 * (tree_remove tries rmdir before it walks) must still leave the mount,
 * as the top and as a directory met in the walk.
 */
static void test_mount_empty(void)
{
	int ret;

	mkd(P("esrc"), 0755);
	mkd(P("me"), 0755);
	mkd(P("me/rootfs"), 0711);
	mkd(P("me/empty"), 0711);
	touch(P("me/f"));
	must(mount(P("esrc"), P("me/rootfs"), NULL, MS_BIND, NULL), "empty bind mount");

	ret = tree_remove(basefd, "me");
	CHECK(ret == -EBUSY, "remove with an empty mount inside: got %d, want -EBUSY", ret);
	CHECK(exists(P("me/rootfs")), "the empty mount point was removed");
	CHECK(!exists(P("me/empty")) && !exists(P("me/f")), "remove did not remove what it could");
	CHECK(mounts_below((const char *[]){P("me")}, 1) == 1, "the mount is gone");

	ret = tree_remove(basefd, "me/rootfs");
	CHECK(ret == -EINVAL, "a path for a name: got %d", ret);
	{
		int mfd = open(P("me"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		must(mfd, "me");
		ret = tree_remove(mfd, "rootfs");
		CHECK(ret == -EBUSY, "remove of an empty mount point itself: got %d", ret);
		CHECK(exists(P("me/rootfs")), "the empty mount point itself was removed");
		close(mfd);
	}

	must(umount2(P("me/rootfs"), 0), "umount");
	ret = tree_remove(basefd, "me");
	CHECK(ret == 0 && !exists(P("me")), "remove after umount: %d", ret);
	CHECK(exists(P("esrc")), "the mounted directory went");
	rmrf(P("esrc"));
}

/* A file bind-mounted onto a file is a mount point too. */
static void test_mount_file(void)
{
	int ret;

	touch(P("fsrc"));
	mkd(P("mf"), 0755);
	touch(P("mf/target"));
	must(mount(P("fsrc"), P("mf/target"), NULL, MS_BIND, NULL), "file bind mount");
	CHECK(tree_walk_has_mounts(basefd, "mf") == 1, "walk: file mount not found");
	ret = tree_remove(basefd, "mf");
	CHECK(ret == -EBUSY, "remove with a file mount: got %d", ret);
	CHECK(exists(P("fsrc")), "file mount source damaged");
	must(umount2(P("mf/target"), 0), "umount file");
	CHECK(tree_remove(basefd, "mf") == 0, "remove after file umount");
	unlink(P("fsrc"));
}

/*
 * A mount point deep below the descriptor window, with deep siblings: the
 * removal goes on around it, leaves it and what leads to it, and ends.
 */
static void test_mount_deep(void)
{
	struct expect e = {"deepm", 1, -EBUSY};
	char name[300], mnt[340], last[256] = "";
	struct dirent *de;
	DIR *d;
	int fd = chain(basefd, "deepm", 45);

	mkd(P("dsrc"), 0755);
	touch(P("dsrc/precious"));
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "z%d", i);
		close(chain(fd, name, 40));
	}
	/*
	 * Mount on the branch read last, so that the walk and the removal meet
	 * it only after re-opening this directory several times.
	 */
	d = fdopendir(dup(fd));
	while (d && (de = readdir(d)))
		if (de->d_name[0] == 'z')
			snprintf(last, sizeof(last), "%s", de->d_name);
	if (d)
		closedir(d);
	snprintf(mnt, sizeof(mnt), "/proc/self/fd/%d/%s", fd, last);
	must(mount(P("dsrc"), mnt, NULL, MS_BIND, NULL), "deep bind mount");

	CHECK(in_child_64(walk_then_remove, &e), "deep mount under 64 descriptors");
	snprintf(name, sizeof(name), "%s/precious", last);
	CHECK(existsat(fd, name) && exists(P("dsrc/precious")), "deep mount: content damaged");
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "z%d", i);
		if (strcmp(name, last))
			CHECK(!existsat(fd, name), "deep mount: sibling %s not removed", name);
	}
	CHECK(!existsat(fd, "f") && !exists(P("deepm/f")) && exists(P("deepm/d")),
	      "deep mount: not removed around the mount as expected");

	must(umount2(mnt, 0), "umount deep");
	close(fd);
	CHECK(tree_remove(basefd, "deepm") == 0 && !exists(P("deepm")), "deep after umount");
	rmrf(P("dsrc"));
}

/* An immutable file: the first errno comes back, the rest is removed. */
static void test_immutable(void)
{
	int flags = FS_IMMUTABLE_FL, fd, ret;

	mkd(P("imm"), 0755);
	mkd(P("imm/a"), 0755);
	touch(P("imm/a/locked"));
	touch(P("imm/a/free"));
	mkd(P("imm/b"), 0755);
	touch(P("imm/b/free"));
	fd = open(P("imm/a/locked"), O_RDONLY | O_CLOEXEC);
	must(fd, "locked");
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
		CHECK(0, "cannot set the immutable flag: %s", strerror(errno));
		close(fd);
		rmrf(P("imm"));
		return;
	}
	ret = tree_remove(basefd, "imm");
	CHECK(ret == -EPERM, "immutable file: got %d, want -EPERM", ret);
	CHECK(exists(P("imm/a/locked")), "immutable file gone?");
	CHECK(!exists(P("imm/a/free")) && !exists(P("imm/b")), "immutable: rest not removed");
	flags = 0;
	must(ioctl(fd, FS_IOC_SETFLAGS, &flags), "clear immutable");
	close(fd);
	CHECK(tree_remove(basefd, "imm") == 0, "immutable cleared: remove");
}

/* ---- mounts_below: escapes and path boundaries ---- */

struct hm_case {
	const char *paths[3]; /* relative to base, "/" absolute */
	size_t n;
	int want;
};

#define ODD "a b\tc\\d\ne"

static const struct hm_case hm_cases[] = {
    {{"hm"}, 1, 1},  {{"hm/"}, 1, 1},	    {{"hm/" ODD}, 1, 1},    {{"hm/" ODD "/below"}, 1, 0},
    {{"h"}, 1, 0},   {{"hm/a"}, 1, 0},	    {{"hm/a b"}, 1, 0},	    {{"hm/" ODD "x"}, 1, 0},
    {{"hm2"}, 1, 0}, {{"hm2", "hm"}, 2, 1}, {{"hm2", "hmx"}, 2, 0}, {{"/"}, 1, 1},
    {{NULL}, 0, 0},
};

static void test_has_mounts(void)
{
	mkd(P("hmsrc"), 0755);
	mkd(P("hm"), 0755);
	mkd(P("hm/" ODD), 0755);
	mkd(P("hm2"), 0755);
	mkd(P("hmx"), 0755);
	must(mount(P("hmsrc"), P("hm/" ODD), NULL, MS_BIND, NULL), "odd mount");
	for (size_t i = 0; i < sizeof(hm_cases) / sizeof(hm_cases[0]); i++) {
		const struct hm_case *c = &hm_cases[i];
		char abs[3][4096];
		const char *p[3];
		int ret;

		for (size_t j = 0; j < c->n; j++) {
			if (c->paths[j][0] == '/')
				snprintf(abs[j], sizeof(abs[j]), "%s", c->paths[j]);
			else
				snprintf(abs[j], sizeof(abs[j]), "%s/%s", base, c->paths[j]);
			p[j] = abs[j];
		}
		ret = mounts_below(p, c->n);
		CHECK(ret == c->want, "has_mounts case %zu (%s%s%s): got %d, want %d", i,
		      c->n ? c->paths[0] : "", c->n > 1 ? ", " : "", c->n > 1 ? c->paths[1] : "",
		      ret, c->want);
	}
	CHECK(tree_walk_has_mounts(basefd, "hm") == 1, "walk: odd mount not found");
	CHECK(tree_walk_has_mounts(basefd, "hm2") == 0, "walk: hm2 has no mount");
	must(umount2(P("hm/" ODD), 0), "umount odd");
	{
		/* The cached mount table follows the unmount, then a new mount. */
		char hm[4096];
		const char *p[] = {hm};

		snprintf(hm, sizeof(hm), "%s/hm", base);
		CHECK(mounts_below(p, 1) == 0, "has_mounts still sees the unmounted mount");
		must(mount(P("hmsrc"), P("hm/" ODD), NULL, MS_BIND, NULL), "odd mount again");
		CHECK(mounts_below(p, 1) == 1, "has_mounts misses a new mount");
		must(umount2(P("hm/" ODD), 0), "umount odd again");
		CHECK(mounts_below(p, 1) == 0, "has_mounts still sees the second mount");
	}
	rmrf(P("hm"));
	rmrf(P("hm2"));
	rmrf(P("hmx"));
	rmrf(P("hmsrc"));
}

/* ---- sweep_store ---- */

struct sweep_expect {
	const char *path; /* relative to base */
	bool stays;
};

static const struct ent sweep_tree[] = {
    {'d', "S", NULL},
    {'d', "W", NULL},
    {'f', "S/.bundlefs-x", NULL},   /* tmp in S root: removed */
    {'d', "S/.bundlefs-dir", NULL}, /* tmp dir in S root: removed */
    {'f', "S/.bundlefs-dir/f", NULL},
    {'d', "S/.abc", NULL}, /* .<id> in S root: not a bundle place */
    {'f', "S/visible", NULL},
    {'d', "S/ns", NULL},
    {'d', "S/ns/.abc", NULL}, /* hidden bundle: removed */
    {'d', "S/ns/.abc/rootfs", NULL},
    {'f', "S/ns/.abc/config.json", NULL},
    {'l', "S/ns/.abc/rootfs/out", "@outside"},
    {'f', "S/ns/.bundlefs-tmp1", NULL},	    /* tmp file: removed */
    {'d', "S/ns/.bundlefs-d", NULL},	    /* tmp dir: removed */
    {'l', "S/ns/.bundlefs-l", "@outside"},  /* tmp symlink: unlinked, target kept */
    {'d', "S/ns/web", NULL},		    /* visible bundle: left */
    {'d', "S/ns/web/.inner", NULL},	    /* not directly in S/ns: left */
    {'d', "S/ns/.not an identifier", NULL}, /* left */
    {'d', "S/ns/.-bad", NULL},		    /* left */
    {'d', "S/ns/..x", NULL},		    /* left */
    {'f', "S/ns/.fileid", NULL},	    /* a file, not a directory: left */
    {'l', "S/ns/.lnk", "@outside"},	    /* a symlink, not a directory: left */
    {'d', "S/ns/.mnt", NULL},		    /* mounted on: left, logged */
    {'d', "S/ns/.deep", NULL},		    /* mount inside: left (partly), logged */
    {'d', "S/ns/.deep/a", NULL},
    {'f', "S/ns/.deep/f", NULL},
    {'d', "S/.hidden", NULL}, /* namespace beginning with '.': skipped */
    {'d', "S/.hidden/.abc", NULL},
    {'l', "S/nslink", "@sweepout"}, /* a symlink as a namespace: not followed */
    {'d', "W/ns", NULL},
    {'d', "W/ns/.abc", NULL}, /* removed */
    {'f', "W/ns/.abc/log.json", NULL},
    {'f', "W/ns/.bundlefs-w", NULL}, /* removed */
    {'d', "W/ns/web", NULL},	     /* left */
    {'f', "W/.bundlefs-y", NULL},    /* W root: not swept */
    {'d', "W/other", NULL},
    {'d', "W/other/.a.b-c_d", NULL}, /* removed */
    {'d', "sweepout", NULL},
    {'d', "sweepout/.abc", NULL},
    {'d', "sweepsrc", NULL},
    {'f', "sweepsrc/precious", NULL},
    {'d', "sweepsrc/sub", NULL},
    {'f', "sweepsrc/sub/precious", NULL},
};

static const struct sweep_expect sweep_after[] = {
    {"S/.bundlefs-x", false},
    {"S/.bundlefs-dir", false},
    {"S/.abc", true},
    {"S/visible", true},
    {"S/ns/.abc", false},
    {"S/ns/.bundlefs-tmp1", false},
    {"S/ns/.bundlefs-d", false},
    {"S/ns/.bundlefs-l", false},
    {"S/ns/web", true},
    {"S/ns/web/.inner", true},
    {"S/ns/.not an identifier", true},
    {"S/ns/.-bad", true},
    {"S/ns/..x", true},
    {"S/ns/.fileid", true},
    {"S/ns/.lnk", true},
    {"S/ns/.mnt", true},
    {"S/ns/.mnt/precious", true},
    {"S/ns/.mnt/sub/precious", true},
    {"S/ns/.deep/a/precious", true},
    {"S/ns/.deep/f", false},
    {"S/.hidden/.abc", true},
    {"S/nslink", true},
    {"sweepout/.abc", true},
    {"W/ns/.abc", false},
    {"W/ns/.bundlefs-w", false},
    {"W/ns/web", true},
    {"W/.bundlefs-y", true},
    {"W/other/.a.b-c_d", false},
    {"sweepsrc/precious", true},
    {"sweepsrc/sub/precious", true},
};

static void test_sweep(void)
{
	int sfd, wfd, ret;

	build(sweep_tree, sizeof(sweep_tree) / sizeof(sweep_tree[0]));
	must(mount(P("sweepsrc"), P("S/ns/.mnt"), NULL, MS_BIND, NULL), "sweep mount");
	must(mount(P("sweepsrc"), P("S/ns/.deep/a"), NULL, MS_BIND, NULL), "sweep mount 2");
	sfd = open(P("S"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	wfd = open(P("W"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(sfd, "S");
	must(wfd, "W");

	/* count_sink from fsfixture.h, echoing each line the sweep logs. */
	log_echo = true;
	log_lines = 0;
	blog_set_sink(count_sink);
	ret = sweep_store(sfd, wfd);
	blog_set_sink(NULL);
	CHECK(ret == 9, "sweep: removed %d entries, want 9", ret);
	CHECK(log_lines == 2, "sweep: %d log lines, want 2 (one per entry left)", log_lines);
	for (size_t i = 0; i < sizeof(sweep_after) / sizeof(sweep_after[0]); i++) {
		bool there = exists(P("%s", sweep_after[i].path));

		CHECK(there == sweep_after[i].stays, "sweep: %s %s", sweep_after[i].path,
		      there ? "still there" : "removed");
	}
	CHECK(outside_intact(), "sweep: outside target damaged");

	/* A second sweep removes nothing more and logs the same two entries. */
	log_lines = 0;
	blog_set_sink(count_sink);
	ret = sweep_store(sfd, wfd);
	blog_set_sink(NULL);
	CHECK(ret == 0 && log_lines == 2, "second sweep: %d removed, %d lines", ret, log_lines);

	must(umount2(P("S/ns/.mnt"), 0), "umount sweep");
	must(umount2(P("S/ns/.deep/a"), 0), "umount sweep 2");
	log_lines = 0;
	blog_set_sink(count_sink);
	ret = sweep_store(sfd, wfd);
	blog_set_sink(NULL);
	CHECK(ret == 2 && log_lines == 0, "sweep after umount: %d removed, %d lines", ret,
	      log_lines);
	CHECK(exists(P("sweepsrc/precious")), "sweep after umount: mount source damaged");

	CHECK(sweep_store(-1, wfd) == -EBADF, "sweep with a bad state root");
	close(sfd);
	close(wfd);
	rmrf(P("S"));
	rmrf(P("W"));
	rmrf(P("sweepout"));
	rmrf(P("sweepsrc"));
}

int main(void)
{
	int fds_before, fds_after;

	/* Private mount namespace: the bind mounts here are seen by nobody else. */
	if (fx_private_base("test_tree") < 0)
		return 1;
	basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	must(basefd, base);
	make_outside();
	/* mounts_below keeps one descriptor on /proc/self/mountinfo for good. */
	{
		const char *nowhere[] = {"/nonexistent-bundlefs-test"};

		CHECK(mounts_below(nowhere, 1) == 0, "a path with no mount below it");
	}
	fds_before = count_fds();

	test_remove_table();
	test_wide();
	test_deep_chain();
	test_deep_bushy();
	test_mount_shallow();
	test_mount_empty();
	test_mount_file();
	test_mount_deep();
	test_immutable();
	test_has_mounts();
	test_sweep();

	fds_after = count_fds();
	CHECK(fds_before == fds_after, "descriptors leaked: %d before, %d after", fds_before,
	      fds_after);
	CHECK(outside_intact(), "outside target damaged at the end");

	close(basefd);
	rmrf(base);
	return check_report();
}
