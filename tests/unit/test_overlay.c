/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/overlay.c against core/overlay.h (SPEC 4.1-4.5, 5.3,
 * 5.4). Runs as root in a private mount namespace, under umask 0, on a fresh
 * mkdtemp store holding state/ and work/. Results are checked on disk: the
 * stored bytes, modes and owners, and the full listing of S/<ns> and of the
 * bundle directory, so that no staging file can hide anywhere.
 */
#include "overlay.h"

#include "addr.h"
#include "bundle.h"
#include "log.h"
#include "shimcfg.h"
#include "spec.h"
#include "store.h"
#include "sweep.h"
#include "tree.h"
#include "check.h"
#include "fsfixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS "ns"
#define VALID "{\"ociVersion\":\"1.0.2\"}"
#define REMAP "{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":1234,\"size\":65536}]}}"

static struct store st;
static struct bundle_conf conf;
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted entries of dir as "a,b,c" (without . and ..), malloc'd; "?" if unreadable. */
static char *listing(const char *dir)
{
	char *names[256], *out;
	struct dirent *de;
	size_t n = 0, len = 1, i;
	DIR *d = opendir(dir);

	if (!d)
		return strdup("?");
	while ((de = readdir(d)) && n < 256) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		names[n] = strdup(de->d_name);
		len += strlen(de->d_name) + 1;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out = calloc(1, len);
	for (i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

/*
 * The store around one bundle, to compare before and after: the listing of
 * S/<ns> and of the bundle, and the stored overlay files' bytes and modes.
 */
struct snap {
	char *nsl, *bl, *cfg, *addr, *ropts;
	int cfgmode;
};

static char *maybe(const char *s)
{
	return strdup(s ? s : "<none>");
}

static int mode_of(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) < 0 ? -1 : (int)(sb.st_mode & 07777);
}

static void take(struct snap *s, const char *id)
{
	s->nsl = listing(P("state/" NS));
	s->bl = listing(P("state/" NS "/%s", id));
	s->cfg = maybe(slurp(P("state/" NS "/%s/config.json", id)));
	s->addr = maybe(slurp(P("state/" NS "/%s/address", id)));
	s->ropts = maybe(slurp(P("state/" NS "/%s/runc-options", id)));
	s->cfgmode = mode_of(P("state/" NS "/%s/config.json", id));
}

static void drop(struct snap *s)
{
	free(s->nsl);
	free(s->bl);
	free(s->cfg);
	free(s->addr);
	free(s->ropts);
}

/* Whether the store around id is byte-identical to before; says what differs. */
static bool same(const struct snap *before, const char *id)
{
	struct snap now;
	bool ok;

	take(&now, id);
	ok = !strcmp(before->nsl, now.nsl) && !strcmp(before->bl, now.bl) &&
	     !strcmp(before->cfg, now.cfg) && !strcmp(before->addr, now.addr) &&
	     !strcmp(before->ropts, now.ropts) && before->cfgmode == now.cfgmode;
	if (!ok)
		fprintf(stderr, "  store changed: S/ns [%s] -> [%s], bundle [%s] -> [%s]\n",
			before->nsl, now.nsl, before->bl, now.bl);
	drop(&now);
	return ok;
}

static void bundle(const char *id)
{
	struct store_owner own = {.chown = false};

	must(bundle_create(&conf, NS, id, &own), id);
}

static const struct ovl *K(const char *name)
{
	const struct ovl *o = ovl_find(&conf, name);

	if (!o) {
		fprintf(stderr, "fixture: no overlay kind %s\n", name);
		exit(2);
	}
	return o;
}

/* Read all of f from offset 0 into a static buffer; NULL on error. */
static const char *read_all(struct ovl_file *f, ssize_t *len)
{
	static char buf[65537];
	ssize_t n = ovl_read(f, buf, sizeof(buf) - 1, 0);

	*len = n;
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* Open, write data at 0, flush: the flush's result; the handle is released. */
static int write_file(const char *id, const char *name, int flags, const char *data)
{
	struct ovl_file *f;
	int ret = ovl_open(&conf, K(name), NS, id, flags, false, 0, 0, &f);

	if (ret < 0)
		return ret;
	if (data && ovl_write(f, data, strlen(data), 0) != (ssize_t)strlen(data))
		ret = -EIO;
	if (ret == 0)
		ret = ovl_flush(f);
	ovl_release(f);
	return ret;
}

/*
 * Bundle id with a valid stored spec, its snapshot taken into s, the log count reset, then
 * config.json opened with flags into f (the open is checked): ovl_open's result.
 */
static int open_valid_spec(struct snap *s, const char *id, int flags, struct ovl_file **f)
{
	int ret;

	bundle(id);
	must(write_file(id, "config.json", O_WRONLY | O_CREAT, VALID), "config.json");
	take(s, id);
	log_lines = 0;
	ret = ovl_open(&conf, K("config.json"), NS, id, flags, false, 0, 0, f);
	CHECK(ret == 0, "open %s/config.json: %d", id, ret);
	return ret;
}

/* ---- the table ---- */

/*
 * Whether kind o takes write opens: ovl_open refuses one with -EACCES before it looks for the
 * bundle.
 */
static bool takes_writes(const struct ovl *o)
{
	struct ovl_file *f;
	int ret = ovl_open(&conf, o, NS, "no-such-bundle", O_WRONLY, 0, 0, 0, &f);

	if (ret == 0)
		ovl_release(f);
	return ret != -EACCES;
}

static void test_find(void)
{
	struct bundle_conf v2 = conf;
	const struct ovl *o;

	CHECK(!ovl_find(&conf, "rootfs") && !ovl_find(&conf, "work") &&
		  !ovl_find(&conf, ".address") && !ovl_find(&conf, "config.json~"),
	      "non-overlay names found");
	o = ovl_find(&conf, "config.json");
	CHECK(o && !strcmp(ovl_name(o), "config.json") && !ovl_is_computed(o) && takes_writes(o) &&
		  !ovl_may_unlink(o) && ovl_storable(o),
	      "config.json kind");
	o = ovl_find(&conf, "address");
	CHECK(o && ovl_is_computed(o) && takes_writes(o) && ovl_may_unlink(o), "address kind");
	o = ovl_find(&conf, "shim-config");
	CHECK(o && ovl_is_computed(o) && !takes_writes(o) && !ovl_may_unlink(o) && !ovl_storable(o),
	      "shim-config kind");
	o = ovl_find(&conf, "runc-options");
	CHECK(o && !ovl_is_computed(o) && takes_writes(o) && ovl_may_unlink(o),
	      "runc-options kind");
	/* SPEC 4.9: status is computed and read-only in both runtimes. */
	o = ovl_find(&conf, "status");
	CHECK(o && ovl_is_computed(o) && !takes_writes(o) && !ovl_may_unlink(o) && !ovl_storable(o),
	      "status kind");
	/* SPEC 7.2: runc-options is passthrough in a v2 bundle, config.json as in v1. */
	v2.runtime = RUNTIME_V2;
	CHECK(ovl_find(&v2, "config.json") && !ovl_find(&v2, "runc-options") &&
		  !ovl_find(&v2, "work"),
	      "v2 table");
	o = ovl_find(&v2, "address");
	CHECK(o && ovl_is_computed(o) && takes_writes(o) && ovl_may_unlink(o), "v2 address kind");
	CHECK(ovl_find(&v2, "shim-config") && ovl_is_computed(ovl_find(&v2, "shim-config")) &&
		  ovl_find(&v2, "status"),
	      "v2 computed kinds");
}

/* ---- computed content ---- */

static void test_computed(void)
{
	struct shimcfg_node node = {.bundle_root = st.state_path,
				    .work_root = st.work_path,
				    .criu = "",
				    .runtime_root = ""};
	struct bundle_conf legacy = conf;
	struct stat s1, s2, s3;
	struct ovl_file *f, *g;
	char *want, *want2;
	size_t wlen, w2len;
	const char *got;
	ssize_t n;
	int ret;

	bundle("c1");
	want = addr_computed(conf.socket_root, conf.daemon_address, NS, "c1");
	ret = ovl_stat(&conf, K("address"), NS, "c1", &s1);
	CHECK(ret == 0 && s1.st_mode == (S_IFREG | 0644) && s1.st_size == (off_t)strlen(want),
	      "address stat: %d mode %o size %lld", ret, s1.st_mode, (long long)s1.st_size);
	ret = ovl_open(&conf, K("address"), NS, "c1", O_RDONLY, false, 0, 0, &f);
	CHECK(ret == 0, "open computed address: %d", ret);
	if (ret == 0) {
		got = read_all(f, &n);
		CHECK(got && !strcmp(got, want), "computed address: %s", got ? got : "?");
		CHECK(ovl_read(f, (char[4]){0}, 4, (off_t)strlen(want)) == 0, "read past end");
		CHECK(ovl_fstat(f, &s2) == 0 && s2.st_size == (off_t)strlen(want) &&
			  s2.st_ino == s1.st_ino,
		      "address fstat size %lld", (long long)s2.st_size);
		ovl_release(f);
	}
	free(want);
	/* legacy_address */
	legacy.legacy_address = true;
	want = addr_legacy(NS, "c1");
	ret = ovl_open(&legacy, K("address"), NS, "c1", O_RDONLY, false, 0, 0, &f);
	CHECK(ret == 0, "open legacy address: %d", ret);
	if (ret == 0) {
		got = read_all(f, &n);
		CHECK(got && !strcmp(got, want), "legacy address: %s", got ? got : "?");
		ovl_release(f);
	}
	free(want);

	/* shim-config: a snapshot per open, st_size exact, read-only. */
	want = shimcfg_render(&node, NS, "c1", NULL, &wlen);
	ret = ovl_open(&conf, K("shim-config"), NS, "c1", O_RDONLY, false, 0, 0, &f);
	CHECK(ret == 0, "open shim-config: %d", ret);
	if (ret < 0)
		goto out;
	put(P("state/" NS "/c1/runc-options"), "{\"criu_path\":\"/usr/sbin/criu-longer-path\"}");
	got = read_all(f, &n);
	CHECK(got && (size_t)n == wlen && !memcmp(got, want, wlen), "shim-config snapshot: %s",
	      got ? got : "?");
	CHECK(ovl_fstat(f, &s2) == 0 && s2.st_size == (off_t)wlen && s2.st_mode == (S_IFREG | 0444),
	      "shim-config fstat: size %lld mode %o", (long long)s2.st_size, s2.st_mode);
	ret = ovl_stat(&conf, K("shim-config"), NS, "c1", &s3);
	ret = ovl_open(&conf, K("shim-config"), NS, "c1", O_RDONLY, false, 0, 0, &g);
	CHECK(ret == 0, "reopen shim-config: %d", ret);
	if (ret == 0) {
		got = read_all(g, &n);
		CHECK(got && strstr(got, "criu-longer-path") && s3.st_size == n &&
			  s3.st_ino == s2.st_ino,
		      "shim-config after runc-options: %s (stat %lld)", got ? got : "?",
		      (long long)s3.st_size);
		ovl_release(g);
	}
	ovl_release(f);
	/* An invalid runc-options counts as none. */
	put(P("state/" NS "/c1/runc-options"), "[1]");
	want2 = shimcfg_render(&node, NS, "c1", NULL, &w2len);
	ret = ovl_open(&conf, K("shim-config"), NS, "c1", O_RDONLY, false, 0, 0, &f);
	if (ret == 0) {
		got = read_all(f, &n);
		CHECK(got && (size_t)n == w2len && !memcmp(got, want2, w2len),
		      "invalid runc-options counted");
		ovl_release(f);
	}
	free(want2);
	CHECK(ovl_open(&conf, K("shim-config"), NS, "c1", O_WRONLY, false, 0, 0, &f) == -EACCES,
	      "shim-config opened for writing");
	CHECK(ovl_open(&conf, K("shim-config"), NS, "c1", O_RDWR | O_TRUNC, false, 0, 0, &f) ==
		  -EACCES,
	      "shim-config opened O_RDWR|O_TRUNC");
	CHECK(ovl_stat(&conf, K("shim-config"), NS, "c1", &s3) == 0 &&
		  ovl_stat(&conf, K("address"), NS, "c1", &s1) == 0 && s1.st_ino != s3.st_ino,
	      "st_ino shared by two kinds");
	CHECK(ovl_stat(&conf, K("address"), NS, "missing", &s1) == -ENOENT,
	      "stat in a missing bundle");
out:
	free(want);
}

/* ---- stored address, symlinks ---- */

static void test_stored_address(void)
{
	struct ovl_file *f;
	struct stat sb;
	const char *got;
	char *want;
	ssize_t n;
	int ret;

	bundle("a1");
	put(P("state/" NS "/a1/address"), "unix:///x/y.sock\n");
	ret = ovl_stat(&conf, K("address"), NS, "a1", &sb);
	CHECK(ret == 0 && sb.st_size == 17, "stored address stat: %d %lld", ret,
	      (long long)sb.st_size);
	ret = ovl_open(&conf, K("address"), NS, "a1", O_RDONLY, false, 0, 0, &f);
	CHECK(ret == 0, "open stored address: %d", ret);
	if (ret == 0) {
		got = read_all(f, &n);
		CHECK(n == 17 && !strcmp(got, "unix:///x/y.sock\n"), "stored address not verbatim");
		CHECK(ovl_fstat(f, &sb) == 0 && sb.st_size == 17, "stored address fstat");
		ovl_release(f);
	}
	/* A symlink is never followed: the computed address shows. */
	unlink(P("state/" NS "/a1/address"));
	put(P("outside-address"), "unix:///evil");
	must(symlink(P("outside-address"), P("state/" NS "/a1/address")), "symlink");
	want = addr_computed(conf.socket_root, conf.daemon_address, NS, "a1");
	ret = ovl_open(&conf, K("address"), NS, "a1", O_RDONLY, false, 0, 0, &f);
	if (ret == 0) {
		got = read_all(f, &n);
		CHECK(got && !strcmp(got, want), "symlinked address followed: %s", got);
		ovl_release(f);
	}
	CHECK(ovl_stat(&conf, K("address"), NS, "a1", &sb) == 0 &&
		  sb.st_size == (off_t)strlen(want),
	      "symlinked address stat");
	free(want);
	/* A stored-only kind behind a symlink is absent. */
	must(symlink(P("outside-address"), P("state/" NS "/a1/config.json")), "symlink");
	CHECK(ovl_stat(&conf, K("config.json"), NS, "a1", &sb) == -ENOENT,
	      "symlinked config.json stat");
	CHECK(ovl_open(&conf, K("config.json"), NS, "a1", O_RDONLY, false, 0, 0, &f) == -ENOENT,
	      "symlinked config.json opened");
	CHECK(content_is(P("outside-address"), "unix:///evil"), "outside changed");
	{
		int dfd = open(P("state/" NS "/a1"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		must(dfd, "a1");
		CHECK(ovl_listed(K("address"), dfd, "address", DT_LNK), "address not listed");
		CHECK(!ovl_listed(K("config.json"), dfd, "config.json", DT_LNK) &&
			  !ovl_listed(K("config.json"), dfd, "config.json", DT_UNKNOWN),
		      "symlinked config.json listed");
		put(P("state/" NS "/a1/runc-options"), "{}");
		CHECK(ovl_listed(K("runc-options"), dfd, "runc-options", DT_UNKNOWN) &&
			  ovl_listed(K("runc-options"), dfd, "runc-options", DT_REG),
		      "regular runc-options not listed");
		close(dfd);
	}
}

/* ---- write, flush, reject ---- */

static void test_write_commit(void)
{
	struct ovl_file *f;
	struct stat sb;
	char *before;
	int ret;

	bundle("w1");
	before = listing(P("state/" NS));
	ret = ovl_open(&conf, K("config.json"), NS, "w1", O_WRONLY | O_CREAT | O_EXCL, true, 0, 0,
		       &f);
	CHECK(ret == 0, "create config.json: %d", ret);
	if (ret < 0)
		goto out;
	CHECK(ovl_write(f, VALID, strlen(VALID), 0) == (ssize_t)strlen(VALID), "write");
	CHECK(!exists(P("state/" NS "/w1/config.json")), "visible before close");
	{
		char *now = listing(P("state/" NS));

		CHECK(!strcmp(now, before), "staging file named before close: %s", now);
		free(now);
	}
	CHECK(ovl_fstat(f, &sb) == 0 && sb.st_size == (off_t)strlen(VALID) && sb.st_nlink == 1,
	      "fstat of staged content");
	ret = ovl_flush(f);
	CHECK(ret == 0, "flush: %d", ret);
	CHECK(content_is(P("state/" NS "/w1/config.json"), VALID), "not committed");
	CHECK(mode_of(P("state/" NS "/w1/config.json")) == 0644, "mode %o",
	      mode_of(P("state/" NS "/w1/config.json")));
	ovl_release(f);
	{
		char *now = listing(P("state/" NS));

		CHECK(!strcmp(now, before), "S/ns after commit: %s", now);
		free(now);
	}
	/* A second write through a fresh O_RDWR open without O_TRUNC starts from the content. */
	ret = ovl_open(&conf, K("config.json"), NS, "w1", O_RDWR, false, 0, 0, &f);
	if (ret == 0) {
		ssize_t n;
		const char *got = read_all(f, &n);

		CHECK(got && !strcmp(got, VALID), "O_RDWR open content");
		CHECK(ovl_write(f, " ", 1, (off_t)strlen(VALID)) == 1, "append");
		CHECK(ovl_flush(f) == 0, "flush append");
		ovl_release(f);
	}
	CHECK(content_is(P("state/" NS "/w1/config.json"), VALID " "), "append not committed");
	CHECK(ovl_open(&conf, K("config.json"), NS, "w1", O_WRONLY | O_CREAT | O_EXCL, true, 0, 0,
		       &f) == -EEXIST,
	      "O_EXCL on existing");
	CHECK(ovl_open(&conf, K("runc-options"), NS, "w1", O_WRONLY, false, 0, 0, &f) == -ENOENT,
	      "write open of absent runc-options without O_CREAT");
	CHECK(ovl_open(&conf, K("runc-options"), NS, "w1", O_RDONLY, false, 0, 0, &f) == -ENOENT,
	      "read open of absent runc-options");
	CHECK(ovl_open(&conf, K("config.json"), NS, "nobundle", O_WRONLY | O_CREAT, true, 0, 0,
		       &f) == -ENOENT,
	      "create in a missing bundle");
	/* Committed files belong to their writer. */
	ret = ovl_open(&conf, K("runc-options"), NS, "w1", O_WRONLY | O_CREAT | O_TRUNC, true, 1000,
		       1001, &f);
	if (ret == 0) {
		CHECK(ovl_write(f, "{}", 2, 0) == 2, "write runc-options");
		CHECK(ovl_flush(f) == 0, "flush runc-options");
		ovl_release(f);
	}
	CHECK(lstat(P("state/" NS "/w1/runc-options"), &sb) == 0 && sb.st_uid == 1000 &&
		  sb.st_gid == 1001 && (sb.st_mode & 07777) == 0644,
	      "runc-options owner %u:%u", sb.st_uid, sb.st_gid);
out:
	free(before);
}

/*
 * The commit links the staging file by its descriptor (linkat AT_EMPTY_PATH)
 * where the process may, else through /proc/self/fd: a process without
 * CAP_DAC_READ_SEARCH (dropped here after the open, so that the file's
 * opener credentials are not its own either) still commits.
 */
static void test_commit_without_dac_read_search(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	struct ovl_file *f;
	int status, ret;
	pid_t pid;

	bundle("nocap");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		CHECK(0, "fork");
		return;
	}
	if (pid == 0) {
		check_passed = check_failed = 0;
		ret = ovl_open(&conf, K("config.json"), NS, "nocap", O_WRONLY | O_CREAT, true, 0, 0,
			       &f);
		CHECK(ret == 0, "create config.json: %d", ret);
		if (ret == 0) {
			CHECK(ovl_write(f, VALID, strlen(VALID), 0) == (ssize_t)strlen(VALID),
			      "write");
			CHECK(syscall(SYS_capget, &hdr, data) == 0, "capget");
			data[CAP_DAC_READ_SEARCH / 32].effective &=
			    ~(1u << (CAP_DAC_READ_SEARCH % 32));
			CHECK(syscall(SYS_capset, &hdr, data) == 0, "capset");
			ret = ovl_flush(f);
			CHECK(ret == 0, "flush without CAP_DAC_READ_SEARCH: %d", ret);
			ovl_release(f);
		}
		_exit(check_failed ? 1 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "the child without CAP_DAC_READ_SEARCH failed");
	CHECK(content_is(P("state/" NS "/nocap/config.json"), VALID), "not committed");
	{
		char *now = listing(P("state/" NS "/nocap"));

		CHECK(!strcmp(now, "config.json,rootfs"), "bundle after commit: %s", now);
		free(now);
	}
}

static void test_reject(void)
{
	struct ovl_file *f;
	struct snap s;
	struct stat sb;
	int ret;

	/* Invalid content: the close fails, logged once, the store byte-identical. */
	if (open_valid_spec(&s, "r1", O_WRONLY | O_TRUNC, &f) == 0) {
		CHECK(ovl_write(f, "{bad", 4, 0) == 4, "write");
		ret = ovl_flush(f);
		CHECK(ret == -EINVAL, "invalid flush: %d", ret);
		CHECK(log_lines == 1 && strstr(last_log, NS "/r1") &&
			  strstr(last_log, "config.json"),
		      "log: %d [%s]", log_lines, last_log);
		CHECK(same(&s, "r1"), "store changed by a rejected close");
		ovl_release(f);
		CHECK(log_lines == 1, "release logged again: %d", log_lines);
		CHECK(same(&s, "r1"), "store changed by release");
	}
	/* ": > config.json": one close with nothing written. */
	log_lines = 0;
	ret = ovl_open(&conf, K("config.json"), NS, "r1", O_WRONLY | O_CREAT | O_TRUNC, false, 0, 0,
		       &f);
	CHECK(ret == 0, "open: %d", ret);
	if (ret == 0) {
		ret = ovl_flush(f);
		CHECK(ret == -EINVAL, ": > flush: %d", ret);
		CHECK(log_lines == 0, "quiet flush logged: %s", last_log);
		CHECK(same(&s, "r1"), "store changed by : >");
		ovl_release(f);
		CHECK(log_lines == 1 && strstr(last_log, NS "/r1"), "release log: %d", log_lines);
		CHECK(same(&s, "r1"), "store changed by : > release");
	}
	/* runc-options: validated too. */
	log_lines = 0;
	ret = write_file("r1", "runc-options", O_WRONLY | O_CREAT | O_TRUNC,
			 "{\"systemd_cgroup\":\"yes\"}");
	CHECK(ret == -EINVAL && log_lines == 1, "invalid runc-options: %d, %d lines", ret,
	      log_lines);
	CHECK(same(&s, "r1"), "store changed by runc-options");
	drop(&s);

	/* A rejected create: absent at once, and created afresh by the next open. */
	bundle("r2");
	take(&s, "r2");
	ret = ovl_open(&conf, K("config.json"), NS, "r2", O_WRONLY | O_CREAT | O_EXCL, true, 0, 0,
		       &f);
	CHECK(ret == 0, "create: %d", ret);
	if (ret == 0) {
		CHECK(ovl_write(f, "nope", 4, 0) == 4, "write");
		CHECK(ovl_flush(f) == -EINVAL, "rejected create flush");
		CHECK(ovl_stat(&conf, K("config.json"), NS, "r2", &sb) == -ENOENT,
		      "rejected create exists");
		CHECK(same(&s, "r2"), "store changed by a rejected create");
		ovl_release(f);
	}
	CHECK(same(&s, "r2"), "store changed by a rejected create's release");
	ret = write_file("r2", "config.json", O_WRONLY | O_CREAT | O_EXCL, VALID);
	CHECK(ret == 0 && content_is(P("state/" NS "/r2/config.json"), VALID),
	      "create after a rejection: %d", ret);
	drop(&s);
}

/* The shell's "echo x > file": O_TRUNC, a close with nothing written, write, close. */
static void test_dup2_dance(void)
{
	struct ovl_file *f;
	struct snap s;
	int ret;

	if (open_valid_spec(&s, "d1", O_WRONLY | O_CREAT | O_TRUNC, &f) == 0) {
		CHECK(ovl_flush(f) == -EINVAL, "first close of an empty spec");
		CHECK(log_lines == 0, "first close logged: %s", last_log);
		CHECK(same(&s, "d1"), "old spec not intact after the first close");
		CHECK(ovl_write(f, REMAP, strlen(REMAP), 0) == (ssize_t)strlen(REMAP), "write");
		ret = ovl_flush(f);
		CHECK(ret == 0, "second close: %d", ret);
		CHECK(content_is(P("state/" NS "/d1/config.json"), REMAP), "new spec not stored");
		ovl_release(f);
		CHECK(log_lines == 0, "logged: %s", last_log);
	}
	/* The remapped GID went to the bundle directory. */
	{
		struct stat sb;

		CHECK(lstat(P("state/" NS "/d1"), &sb) == 0 && sb.st_gid == 1234 &&
			  (sb.st_mode & 07777) == 0710,
		      "remap: gid %u mode %o", sb.st_gid, sb.st_mode & 07777);
	}
	drop(&s);

	/* address (no validation): the first close must not expose an empty file. */
	put(P("state/" NS "/d1/address"), "old");
	ret =
	    ovl_open(&conf, K("address"), NS, "d1", O_WRONLY | O_CREAT | O_TRUNC, false, 0, 0, &f);
	if (ret == 0) {
		CHECK(ovl_flush(f) == 0, "first close of address");
		CHECK(content_is(P("state/" NS "/d1/address"), "old"), "empty address exposed");
		CHECK(ovl_write(f, "new", 3, 0) == 3 && ovl_flush(f) == 0, "second close");
		CHECK(content_is(P("state/" NS "/d1/address"), "new"), "address not stored");
		/* A write after a commit restages: the stored file changes only at close. */
		CHECK(ovl_write(f, "N", 1, 0) == 1, "write after commit");
		CHECK(content_is(P("state/" NS "/d1/address"), "new"), "write went to stored file");
		ovl_release(f);
		CHECK(content_is(P("state/" NS "/d1/address"), "New"), "release did not commit");
	}
	/* ": > address" stores an empty address at release. */
	ret = ovl_open(&conf, K("address"), NS, "d1", O_WRONLY | O_TRUNC, false, 0, 0, &f);
	if (ret == 0) {
		CHECK(ovl_flush(f) == 0, ": > address close");
		ovl_release(f);
		CHECK(content_is(P("state/" NS "/d1/address"), ""), ": > address not empty");
	}
}

static void test_efbig(void)
{
	struct ovl_file *f;
	struct snap s;
	int ret;

	bundle("e1");
	put(P("state/" NS "/e1/address"), "keep");
	must(write_file("e1", "config.json", O_WRONLY | O_CREAT, VALID), "config.json");
	take(&s, "e1");
	log_lines = 0;
	ret = ovl_open(&conf, K("address"), NS, "e1", O_WRONLY | O_TRUNC, false, 0, 0, &f);
	if (ret == 0) {
		CHECK(ovl_write(f, "x", 1, 64 * 1024) == -EFBIG, "write past address max");
		CHECK(ovl_write(f, "ok", 2, 0) == 2, "small write after EFBIG");
		CHECK(ovl_flush(f) == -EFBIG, "poisoned flush");
		CHECK(log_lines == 1 && strstr(last_log, NS "/e1"), "EFBIG log: %d", log_lines);
		CHECK(ovl_flush(f) == -EFBIG, "second poisoned flush");
		CHECK(ovl_ftruncate(f, 64 * 1024 + 1) == -EFBIG, "ftruncate past max");
		ovl_release(f);
		CHECK(log_lines == 1, "EFBIG logged %d times", log_lines);
		CHECK(same(&s, "e1"), "poisoned handle committed");
	}
	ret = ovl_open(&conf, K("config.json"), NS, "e1", O_WRONLY, false, 0, 0, &f);
	if (ret == 0) {
		CHECK(ovl_write(f, "x", 1, SPEC_MAX_SIZE) == -EFBIG, "config.json past 16 MiB");
		ovl_release(f);
		CHECK(same(&s, "e1"), "poisoned config.json committed at release");
	}
	CHECK(ovl_truncate(&conf, K("config.json"), NS, "e1", SPEC_MAX_SIZE + 1, 0, 0) == -EFBIG,
	      "truncate past 16 MiB");
	drop(&s);
}

/* ---- rename onto ---- */

static void test_rename_onto(void)
{
	struct snap s;
	struct stat sb;
	int bfd, ret, fd;

	bundle("n1");
	must(write_file("n1", "config.json", O_WRONLY | O_CREAT, VALID), "config.json");
	bfd = open(P("state/" NS "/n1"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	must(bfd, "n1");
	/* Valid: moved, mode 0644, remap applied. */
	fd = open(P("state/" NS "/n1/.tmp"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	must(fd, ".tmp");
	must(write(fd, REMAP, strlen(REMAP)) == (ssize_t)strlen(REMAP) ? 0 : -1, "write");
	close(fd);
	ret = ovl_rename_onto(&conf, K("config.json"), NS, "n1", bfd, ".tmp", 0);
	CHECK(ret == 0, "rename valid: %d", ret);
	CHECK(content_is(P("state/" NS "/n1/config.json"), REMAP) &&
		  !exists(P("state/" NS "/n1/.tmp")),
	      "rename not done");
	CHECK(mode_of(P("state/" NS "/n1/config.json")) == 0644, "renamed mode %o",
	      mode_of(P("state/" NS "/n1/config.json")));
	CHECK(lstat(P("state/" NS "/n1"), &sb) == 0 && sb.st_gid == 1234 &&
		  (sb.st_mode & 07777) == 0710,
	      "rename remap: gid %u mode %o", sb.st_gid, sb.st_mode & 07777);

	/* Invalid: EINVAL, logged, nothing changed (the source stays). */
	put(P("state/" NS "/n1/.bad"), "{\"linux\":[]}");
	take(&s, "n1");
	log_lines = 0;
	ret = ovl_rename_onto(&conf, K("config.json"), NS, "n1", bfd, ".bad", 0);
	CHECK(ret == -EINVAL && log_lines == 1 && strstr(last_log, NS "/n1"),
	      "rename invalid: %d, %d lines", ret, log_lines);
	CHECK(same(&s, "n1") && mode_of(P("state/" NS "/n1/.bad")) == 0644,
	      "rename invalid changed something");
	drop(&s);
	unlink(P("state/" NS "/n1/.bad"));

	/* Non-regular sources: a symlink to a valid spec, a directory. */
	put(P("outside-spec"), VALID);
	must(symlink(P("outside-spec"), P("state/" NS "/n1/.lnk")), "symlink");
	mkd(P("state/" NS "/n1/.dir"), 0755);
	take(&s, "n1");
	ret = ovl_rename_onto(&conf, K("config.json"), NS, "n1", bfd, ".lnk", 0);
	CHECK(ret == -EINVAL, "rename of a symlink: %d", ret);
	ret = ovl_rename_onto(&conf, K("runc-options"), NS, "n1", bfd, ".dir", 0);
	CHECK(ret == -EINVAL, "rename of a directory onto runc-options: %d", ret);
	CHECK(same(&s, "n1"), "non-regular rename changed something");
	CHECK(ovl_rename_onto(&conf, K("config.json"), NS, "n1", bfd, ".missing", 0) == -ENOENT,
	      "rename of a missing source");
	drop(&s);

	/* Too big (sparse): EFBIG, nothing changed. */
	fd = open(P("state/" NS "/n1/.big"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	must(fd, ".big");
	must(ftruncate(fd, SPEC_MAX_SIZE + 1), "ftruncate");
	close(fd);
	take(&s, "n1");
	ret = ovl_rename_onto(&conf, K("config.json"), NS, "n1", bfd, ".big", 0);
	CHECK(ret == -EFBIG, "rename too big: %d", ret);
	CHECK(same(&s, "n1"), "too big rename changed something");
	drop(&s);

	/* Flags, read-only kinds, address. */
	put(P("state/" NS "/n1/.ok"), VALID);
	CHECK(ovl_rename_onto(&conf, K("config.json"), NS, "n1", bfd, ".ok", RENAME_NOREPLACE) ==
		  -EEXIST,
	      "RENAME_NOREPLACE onto config.json");
	CHECK(ovl_rename_onto(&conf, K("shim-config"), NS, "n1", bfd, ".ok", 0) == -EPERM,
	      "rename onto shim-config");
	CHECK(exists(P("state/" NS "/n1/.ok")), "refused rename moved the source");
	put(P("state/" NS "/n1/.address"), "unix:///a");
	ret = ovl_rename_onto(&conf, K("address"), NS, "n1", bfd, ".address", RENAME_NOREPLACE);
	CHECK(ret == 0 && content_is(P("state/" NS "/n1/address"), "unix:///a"),
	      "containerd's .address rename: %d", ret);
	close(bfd);
}

/* ---- truncate by path, unlink ---- */

static void test_truncate_unlink(void)
{
	struct snap s;
	char *want;
	int ret;

	bundle("t1");
	put(P("state/" NS "/t1/address"), "hello");
	ret = ovl_truncate(&conf, K("address"), NS, "t1", 2, 0, 0);
	CHECK(ret == 0 && content_is(P("state/" NS "/t1/address"), "he"), "truncate address: %d",
	      ret);
	must(write_file("t1", "config.json", O_WRONLY | O_CREAT, VALID), "config.json");
	take(&s, "t1");
	log_lines = 0;
	ret = ovl_truncate(&conf, K("config.json"), NS, "t1", 0, 0, 0);
	CHECK(ret == -EINVAL && log_lines == 1, "truncate config.json to 0: %d, %d lines", ret,
	      log_lines);
	CHECK(same(&s, "t1"), "rejected truncate changed the store");
	drop(&s);
	ret = ovl_truncate(&conf, K("config.json"), NS, "t1", (off_t)strlen(VALID) + 3, 0, 0);
	CHECK(ret == -EINVAL, "truncate extending with NULs: %d", ret);
	CHECK(ovl_truncate(&conf, K("shim-config"), NS, "t1", 0, 0, 0) == -EPERM,
	      "truncate shim-config");
	CHECK(ovl_truncate(&conf, K("runc-options"), NS, "t1", 0, 0, 0) == -ENOENT,
	      "truncate absent runc-options");

	CHECK(ovl_unlink(&conf, K("config.json"), NS, "t1") == -EPERM, "unlink config.json");
	CHECK(ovl_unlink(&conf, K("shim-config"), NS, "t1") == -EPERM, "unlink shim-config");
	CHECK(exists(P("state/" NS "/t1/config.json")), "config.json gone");
	CHECK(ovl_unlink(&conf, K("address"), NS, "t1") == 0 &&
		  !exists(P("state/" NS "/t1/address")),
	      "unlink address");
	want = addr_computed(conf.socket_root, conf.daemon_address, NS, "t1");
	{
		struct stat sb;

		CHECK(ovl_stat(&conf, K("address"), NS, "t1", &sb) == 0 &&
			  sb.st_size == (off_t)strlen(want),
		      "address after unlink not computed");
	}
	free(want);
	CHECK(ovl_unlink(&conf, K("address"), NS, "t1") == -ENOENT, "unlink absent address");
	put(P("state/" NS "/t1/runc-options"), "{}");
	CHECK(ovl_unlink(&conf, K("runc-options"), NS, "t1") == 0 &&
		  !exists(P("state/" NS "/t1/runc-options")),
	      "unlink runc-options");
}

/* ---- concurrency: reads and fstat while writes restage ---- */

/*
 * Big enough that a write spans many pages: a read or fstat not serialized
 * with it sees a partial size, which the handle's lock rules out.
 */
#define RACE_LEN 60000

static struct ovl_file *shared;
static volatile int stop;
static int bad_reads;

/* Count (and show, once per kind of failure is enough) a read that saw a torn state. */
static void bad(const char *what, long long v)
{
	if (__atomic_add_fetch(&bad_reads, 1, __ATOMIC_RELAXED) <= 3)
		fprintf(stderr, "  concurrent %s: %lld\n", what, v);
}

static void *reader(void *arg)
{
	static __thread char buf[RACE_LEN + 1];
	unsigned rounds = 0;
	struct stat sb;
	ssize_t n;
	int ret;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		/* Always a whole value: RACE_LEN equal bytes, or empty (between truncate and
		 * write). */
		n = ovl_read(shared, buf, sizeof(buf), 0);
		if (n < 0 || (n != 0 && n != RACE_LEN))
			bad("read length", n);
		else if (n && (buf[0] != buf[RACE_LEN / 2] || buf[0] != buf[RACE_LEN - 1]))
			bad("read content", buf[0]);
		ret = ovl_fstat(shared, &sb);
		if (ret < 0)
			bad("fstat", ret);
		else if (sb.st_size != 0 && sb.st_size != RACE_LEN)
			bad("fstat size", (long long)sb.st_size);
		/* fdatasync writes back: seldom, so that reads stay frequent. */
		if (++rounds % 256 == 0 && (ret = ovl_fsync(shared, 1)) < 0)
			bad("fsync", ret);
	}
	return NULL;
}

static void test_concurrency(void)
{
	pthread_t th[2];
	static char data[RACE_LEN];
	int i, ret, bad_writes = 0;

	bundle("x1");
	ret = ovl_open(&conf, K("address"), NS, "x1", O_RDWR | O_CREAT | O_TRUNC, false, 0, 0,
		       &shared);
	CHECK(ret == 0, "open: %d", ret);
	if (ret < 0)
		return;
	stop = 0;
	bad_reads = 0;
	for (i = 0; i < 2; i++)
		must(-pthread_create(&th[i], NULL, reader, NULL), "pthread_create");
	for (i = 0; i < 2000; i++) {
		memset(data, 'a' + i % 26, sizeof(data));
		/* Each round restages (the previous flush committed) and commits. */
		if (ovl_ftruncate(shared, 0) < 0 ||
		    ovl_write(shared, data, RACE_LEN, 0) != RACE_LEN || ovl_flush(shared) < 0)
			bad_writes++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	CHECK(bad_reads == 0, "%d bad reads or fstats while restaging", bad_reads);
	CHECK(bad_writes == 0, "%d failed write rounds", bad_writes);
	ovl_release(shared);
	CHECK(slurp(P("state/" NS "/x1/address")) &&
		  strlen(slurp(P("state/" NS "/x1/address"))) == RACE_LEN,
	      "final address");
	{
		char *l = listing(P("state/" NS));

		CHECK(!strstr(l, TREE_TMP_PREFIX), "staging left after the rounds: %s", l);
		free(l);
	}
}

/* ---- crash between link and rename ---- */

static void test_crash_sweep(void)
{
	char ev[4096], seen[256] = "";
	struct ovl_file *f;
	ssize_t n;
	int in, ret, nsfd, fd;

	bundle("k1");
	must(write_file("k1", "config.json", O_WRONLY | O_CREAT, VALID), "config.json");
	/* The names a commit gives its staging file in S/<ns>, seen by inotify. */
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	must(in, "inotify");
	must(inotify_add_watch(in, P("state/" NS), IN_CREATE | IN_MOVED_FROM), "watch");
	must(write_file("k1", "config.json", O_WRONLY | O_TRUNC, REMAP), "commit");
	n = read(in, ev, sizeof(ev));
	for (char *p = ev; n > 0 && p < ev + n;) {
		struct inotify_event *e = (struct inotify_event *)p;

		if (e->len && (e->mask & IN_CREATE))
			snprintf(seen, sizeof(seen), "%s", e->name);
		p += sizeof(*e) + e->len;
	}
	close(in);
	CHECK(!strncmp(seen, TREE_TMP_PREFIX, strlen(TREE_TMP_PREFIX)),
	      "commit's staging name [%s] lacks " TREE_TMP_PREFIX, seen);

	/* A kill -9 before close: the old file intact, nothing named in the store. */
	ret = ovl_open(&conf, K("config.json"), NS, "k1", O_WRONLY | O_TRUNC, false, 0, 0, &f);
	if (ret == 0) {
		char *l;

		CHECK(ovl_write(f, VALID, strlen(VALID), 0) > 0, "write");
		l = listing(P("state/" NS));
		CHECK(!strstr(l, TREE_TMP_PREFIX), "staging named before close: %s", l);
		free(l);
		CHECK(content_is(P("state/" NS "/k1/config.json"), REMAP), "old spec touched");
		ovl_release(f);
	}
	/* A crash after the link, before the rename: a name the sweep removes. */
	if (seen[0]) {
		nsfd = open(P("state/" NS), O_PATH | O_DIRECTORY | O_CLOEXEC);
		must(nsfd, "ns");
		fd = openat(nsfd, seen, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		must(fd, seen);
		close(fd);
		ret = sweep_store(st.state_fd, st.work_fd);
		CHECK(ret >= 1 && !exists(P("state/" NS "/%s", seen)), "sweep left %s (%d)", seen,
		      ret);
		CHECK(content_is(P("state/" NS "/k1/config.json"), VALID),
		      "sweep touched the spec");
		close(nsfd);
	}
}

int main(void)
{
	if (fx_store_base(&st, "test_overlay", count_sink) < 0)
		return 1;
	conf = fx_conf(&st, RUNTIME_V1);
	conf.is_root = true;
	conf.euid = geteuid();
	conf.egid = getegid();

	test_find();
	test_computed();
	test_stored_address();
	test_write_commit();
	test_commit_without_dac_read_search();
	test_reject();
	test_dup2_dance();
	test_efbig();
	test_rename_onto();
	test_truncate_unlink();
	test_concurrency();
	test_crash_sweep();

	return fx_store_end(&st);
}
