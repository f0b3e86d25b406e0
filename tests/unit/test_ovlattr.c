/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/attr.c and core/ovlattr.c (SPEC 4.1, 4.2, 4.6): a change of attributes
 * applied to a backing entry through its descriptor, and the file each setattr or extended
 * attribute of an overlay file goes to -- the caller's open writer, another open writer, the
 * stored file, or none (-EPERM: a computed value has no attributes of its own). Checked on the
 * store on disk, as root, under umask 0.
 */
#include "overlay.h"

#include "attr.h"
#include "bundle.h"
#include "check.h"
#include "fsfixture.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NS "ns"
#define VALID "{\"ociVersion\":\"1.0.2\"}"

static struct store st;
static struct bundle_conf conf;

static const struct ovl *K(const char *name)
{
	return ovl_find(&conf, name);
}

static struct attr_set change(unsigned what)
{
	struct attr_set a = {.what = what, .uid = (uid_t)-1, .gid = (gid_t)-1};

	a.times[0].tv_nsec = a.times[1].tv_nsec = UTIME_OMIT;
	return a;
}

static int mode_of(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) < 0 ? -1 : (int)(sb.st_mode & 07777);
}

static void test_apply(void)
{
	struct attr_set a = change(ATTR_SIZE | ATTR_MODE | ATTR_UID | ATTR_GID | ATTR_TIMES);
	struct stat sb;
	int fd;

	put(P("f"), "0123456789");
	a.size = 4;
	a.mode = 04640;
	a.uid = 1000;
	a.gid = 1001;
	a.times[1].tv_sec = 1000000000;
	a.times[1].tv_nsec = 0;
	fd = open(P("f"), O_PATH | O_NOFOLLOW | O_CLOEXEC);
	must(fd, "f");
	CHECK(attr_apply(fd, true, S_IFREG, &a) == 0, "through an O_PATH descriptor");
	close(fd);
	CHECK(lstat(P("f"), &sb) == 0 && sb.st_size == 4 && sb.st_uid == 1000 &&
		  sb.st_gid == 1001 && (sb.st_mode & 07777) == 04640 &&
		  sb.st_mtim.tv_sec == 1000000000,
	      "size, owner, mode and mtime, in that order (the chown first clears set-id bits)");
	a = change(ATTR_MODE);
	a.mode = 0600;
	fd = open(P("f"), O_RDWR | O_CLOEXEC);
	must(fd, "f");
	CHECK(attr_apply(fd, false, S_IFREG, &a) == 0 && mode_of(P("f")) == 0600,
	      "through an open descriptor");
	close(fd);

	must(symlink("f", P("l")), "symlink");
	fd = open(P("l"), O_PATH | O_NOFOLLOW | O_CLOEXEC);
	must(fd, "l");
	CHECK(attr_apply(fd, true, S_IFLNK, &a) == -EOPNOTSUPP && mode_of(P("f")) == 0600,
	      "a symlink has no mode of its own; its target is untouched");
	a = change(ATTR_UID);
	a.uid = 1234;
	CHECK(attr_apply(fd, true, S_IFLNK, &a) == 0 && lstat(P("l"), &sb) == 0 &&
		  sb.st_uid == 1234 && lstat(P("f"), &sb) == 0 && sb.st_uid == 1000,
	      "a symlink's own owner");
	a = change(ATTR_SIZE);
	CHECK(attr_apply(fd, true, S_IFLNK, &a) == -EINVAL, "a symlink's size");
	close(fd);
	fd = open(base, O_PATH | O_CLOEXEC);
	must(fd, base);
	CHECK(attr_apply(fd, true, S_IFDIR, &a) == -EISDIR, "a directory's size");
	close(fd);
	unlink(P("l"));
	unlink(P("f"));
}

static void test_setattr(void)
{
	const char *cfg = P("state/" NS "/s1/config.json");
	struct attr_set a = change(ATTR_MODE);
	struct ovl_file *w, *r;
	struct stat sb;
	int ret;

	must(bundle_create(&conf, NS, "s1", NULL), "s1");
	a.mode = 0600;
	CHECK(ovl_setattr(&conf, K("config.json"), NS, "s1", NULL, NULL, &a, 0, 0) == -EPERM,
	      "no config.json stored: nothing to chmod");
	CHECK(ovl_setattr(&conf, K("address"), NS, "s1", NULL, NULL, &a, 0, 0) == -EPERM,
	      "a computed address has no mode of its own");
	CHECK(ovl_setattr(&conf, K("shim-config"), NS, "s1", NULL, NULL, &a, 0, 0) == -EPERM,
	      "nor has shim-config");
	put(cfg, VALID);
	CHECK(ovl_setattr(&conf, K("config.json"), NS, "s1", NULL, NULL, &a, 0, 0) == 0 &&
		  mode_of(cfg) == 0600,
	      "no writer: the stored file");

	/* A writer: the mode goes to the file it will store, and to the stored file at once. */
	must(ovl_open(&conf, K("config.json"), NS, "s1", O_RDWR, 0, 0, 0, &w), "writer");
	a.mode = 0640;
	ret = ovl_setattr(&conf, K("config.json"), NS, "s1", NULL, w, &a, 0, 0);
	CHECK(ret == 0 && mode_of(cfg) == 0640, "through another open writer: %d", ret);
	CHECK(ovl_write(w, VALID " ", strlen(VALID) + 1, 0) == (ssize_t)strlen(VALID) + 1 &&
		  ovl_flush(w) == 0 && mode_of(cfg) == 0640,
	      "the commit keeps the mode chosen through the writer");
	a.mode = 0604;
	CHECK(ovl_setattr(&conf, K("config.json"), NS, "s1", w, NULL, &a, 0, 0) == 0 &&
		  mode_of(cfg) == 0604,
	      "the caller's own writer");
	ovl_release(w);

	/* A truncation: through the caller's open, else by path, validated either way. */
	must(ovl_open(&conf, K("config.json"), NS, "s1", O_RDONLY, 0, 0, 0, &r), "reader");
	a = change(ATTR_SIZE);
	CHECK(ovl_setattr(&conf, K("config.json"), NS, "s1", r, NULL, &a, 0, 0) == -EBADF,
	      "truncating through a read-only open");
	ovl_release(r);
	CHECK(ovl_setattr(&conf, K("config.json"), NS, "s1", NULL, NULL, &a, 0, 0) == -EINVAL &&
		  content_is(cfg, VALID " "),
	      "an empty config.json is refused; the stored one stays");
	put(P("state/" NS "/s1/address"), "unix:///run/x");
	a.size = 6;
	CHECK(ovl_setattr(&conf, K("address"), NS, "s1", NULL, NULL, &a, 0, 0) == 0 &&
		  content_is(P("state/" NS "/s1/address"), "unix:/"),
	      "a stored address truncated by path");
	a.what |= ATTR_MODE;
	a.mode = 0600;
	CHECK(ovl_setattr(&conf, K("shim-config"), NS, "s1", NULL, NULL, &a, 0, 0) == -EPERM,
	      "shim-config cannot be truncated");
	CHECK(lstat(cfg, &sb) == 0 && S_ISREG(sb.st_mode), "config.json still there");
}

static void test_xattr(void)
{
	const char *cfg = P("state/" NS "/x1/config.json");
	struct ovl_file *w;
	char buf[64];
	int ret;

	must(bundle_create(&conf, NS, "x1", NULL), "x1");
	CHECK(ovl_xattr(&conf, K("address"), NS, "x1", NULL, ATTR_XGET, "user.a", buf, sizeof(buf),
			0) == -ENODATA &&
		  ovl_xattr(&conf, K("address"), NS, "x1", NULL, ATTR_XLIST, NULL, buf, sizeof(buf),
			    0) == 0 &&
		  ovl_xattr(&conf, K("address"), NS, "x1", NULL, ATTR_XSET, "user.a", "v", 1, 0) ==
		      -EPERM,
	      "a computed value has no extended attributes and takes none");
	put(cfg, VALID);
	ret = ovl_xattr(&conf, K("config.json"), NS, "x1", NULL, ATTR_XSET, "user.a", "v1", 2, 0);
	CHECK(ret == 0 && getxattr(cfg, "user.a", buf, sizeof(buf)) == 2,
	      "set on the stored file: %d", ret);
	CHECK(ovl_xattr(&conf, K("config.json"), NS, "x1", NULL, ATTR_XGET, "user.a", buf,
			sizeof(buf), 0) == 2 &&
		  !memcmp(buf, "v1", 2),
	      "read from the stored file");
	must(ovl_open(&conf, K("config.json"), NS, "x1", O_RDWR, 0, 0, 0, &w), "writer");
	ret = ovl_xattr(&conf, K("config.json"), NS, "x1", w, ATTR_XSET, "user.b", "v2", 2, 0);
	CHECK(ret == 0 && getxattr(cfg, "user.b", buf, sizeof(buf)) == 2,
	      "through a writer: on the file it will store and the stored one: %d", ret);
	ovl_release(w);
	CHECK(ovl_xattr(&conf, K("config.json"), NS, "x1", NULL, ATTR_XREMOVE, "user.a", NULL, 0,
			0) == 0 &&
		  getxattr(cfg, "user.a", buf, sizeof(buf)) < 0,
	      "removed from the stored file");
}

int main(void)
{
	if (fx_store_base(&st, "test_ovlattr", count_sink) < 0)
		return 1;
	conf = fx_conf(&st, RUNTIME_V1);
	test_apply();
	test_setattr();
	test_xattr();
	return fx_store_end(&st);
}
