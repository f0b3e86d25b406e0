/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/mountpoint.c: the mountinfo line parser, what
 * mountpoint_top reports, and the detach of dead FUSE mounts stacked on a
 * directory. A dead FUSE mount is made without any daemon: mount a "fuse"
 * file system on a /dev/fuse descriptor and close it before the kernel's
 * INIT is answered, which aborts the connection. Runs as root in a private
 * mount namespace; every mount made is also removed explicitly.
 */
#include "mountpoint.h"

#include "check.h"
#include "fsfixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

static void test_parse(void)
{
	struct mountinfo_line ml;
	char line[512];

	snprintf(line, sizeof(line),
		 "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - fuse.bundlefs "
		 "/var/lib/my\\040state rw,user_id=0\n");
	CHECK(mountinfo_parse(line, &ml) == 0, "a line with optional fields");
	CHECK(ml.id == 36, "id %llu", (unsigned long long)ml.id);
	CHECK(!strcmp(ml.mountpoint, "/mnt/a b"), "mount point %s", ml.mountpoint);
	CHECK(!strcmp(ml.fstype, "fuse.bundlefs"), "fstype %s", ml.fstype);
	CHECK(!strcmp(ml.source, "/var/lib/my state"), "source %s", ml.source);

	snprintf(line, sizeof(line), "7 1 0:5 / /x\\134y rw - tmpfs tmpfs rw");
	CHECK(mountinfo_parse(line, &ml) == 0 && !strcmp(ml.mountpoint, "/x\\y") &&
		  !strcmp(ml.source, "tmpfs"),
	      "no optional field, an escaped backslash");

	/* A "-" before the sixth field is a mount point or a root, not the separator. */
	snprintf(line, sizeof(line), "8 1 0:5 - /- rw - tmpfs src rw");
	CHECK(mountinfo_parse(line, &ml) == 0 && !strcmp(ml.mountpoint, "/-") &&
		  !strcmp(ml.fstype, "tmpfs"),
	      "a root named -");

	snprintf(line, sizeof(line), "36 35 98:0 / /mnt rw master:1 fuse src");
	CHECK(mountinfo_parse(line, &ml) == -EINVAL, "no separator");
	snprintf(line, sizeof(line), "36 35 98:0 / /mnt rw - fuse");
	CHECK(mountinfo_parse(line, &ml) == -EINVAL, "no source");
	snprintf(line, sizeof(line), "x6 35 98:0 / /mnt rw - fuse src rw");
	CHECK(mountinfo_parse(line, &ml) == -EINVAL, "a bad id");
	line[0] = '\0';
	CHECK(mountinfo_parse(line, &ml) == -EINVAL, "an empty line");
}

/* Mount a FUSE file system of type fstype on dir whose connection is already dead. */
static int mount_dead_fuse(const char *dir, const char *fstype)
{
	char opts[128];
	int fd, ret;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	ret = mount("bundlefs-test", dir, fstype, MS_NOSUID | MS_NODEV, opts) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int mounts_on(const char *dir)
{
	struct mountinfo_line ml;
	size_t cap = 0;
	char *line = NULL;
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	must(f ? 0 : -1, "/proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0)
		if (mountinfo_parse(line, &ml) == 0 && !strcmp(ml.mountpoint, dir))
			n++;
	free(line);
	fclose(f);
	return n;
}

static bool answers(const char *dir)
{
	struct statfs sfs;

	return statfs(dir, &sfs) == 0;
}

static void test_clear_stale(void)
{
	const char *dir = P("stale");
	int ret;

	mkd(dir, 0755);
	CHECK(mountpoint_clear_stale(dir) == 0, "a plain directory");
	CHECK(mountpoint_clear_stale(P("absent")) == 0, "a missing path is left to the caller");

	must(mount_dead_fuse(dir, "fuse.bundlefs"), "dead fuse mount");
	CHECK(!answers(dir) && (errno == ENOTCONN || errno == ECONNABORTED),
	      "the fixture's mount is dead: %s", strerror(errno));
	CHECK(mountpoint_clear_stale(dir) == 1, "one dead mount");
	CHECK(answers(dir) && mounts_on(dir) == 0, "the directory itself again");

	/* Dead mounts stacked by earlier attempts go too, top first. */
	for (int i = 0; i < 3; i++)
		must(mount_dead_fuse(dir, "fuse"), "stacked dead fuse mount");
	ret = mountpoint_clear_stale(dir);
	CHECK(ret == 3, "three stacked dead mounts: %d", ret);
	CHECK(answers(dir) && mounts_on(dir) == 0, "all three detached");

	/* A live mount under them stays. */
	must(mount("tmpfs", dir, "tmpfs", 0, "size=64k"), "tmpfs");
	must(mount_dead_fuse(dir, "fuse.bundlefs"), "dead fuse on tmpfs");
	CHECK(mountpoint_clear_stale(dir) == 1, "a dead mount on a live one");
	CHECK(answers(dir) && mounts_on(dir) == 1, "the live mount kept");
	CHECK(mountpoint_clear_stale(dir) == 0, "a live mount is not stale");
	must(umount(dir), "umount tmpfs");

	/* More than MOUNTPOINT_MAX_STALE: as many as that are detached, then -ELOOP. */
	for (int i = 0; i < MOUNTPOINT_MAX_STALE + 1; i++)
		must(mount_dead_fuse(dir, "fuse"), "stacked dead fuse mount");
	ret = mountpoint_clear_stale(dir);
	CHECK(ret == -ELOOP, "too many stacked dead mounts: %d", ret);
	CHECK(mounts_on(dir) == 1, "%d left", mounts_on(dir));
	CHECK(mountpoint_clear_stale(dir) == 1 && mounts_on(dir) == 0, "the last one");
}

static void test_top(void)
{
	const char *dir = P("top");
	struct mountpoint_top top, again;

	mkd(dir, 0755);
	CHECK(mountpoint_top(dir, &top) == 0 && !top.root, "nothing mounted on a directory");
	CHECK(!mountpoint_is_bundlefs(&top), "not bundlefs");
	CHECK(mountpoint_top(P("absent"), &top) == -ENOENT, "a missing path");

	must(mount("my src", dir, "tmpfs", 0, "size=64k"), "tmpfs");
	CHECK(mountpoint_top(dir, &top) == 0 && top.root, "a mount's root");
	CHECK(!strcmp(top.fstype, "tmpfs") && !strcmp(top.source, "my src"), "%s of %s", top.fstype,
	      top.source);
	CHECK(!mountpoint_is_bundlefs(&top), "tmpfs is not bundlefs");
	CHECK(mountpoint_top(P("top/."), &again) == 0 && again.id == top.id, "the same mount");
	must(umount(dir), "umount tmpfs");

	/* A dead mount is described without a request to it. */
	must(mount_dead_fuse(dir, "fuse.bundlefs"), "dead fuse mount");
	CHECK(mountpoint_top(dir, &again) == 0 && again.root, "a dead mount's root");
	CHECK(mountpoint_is_bundlefs(&again) && !strcmp(again.source, "bundlefs-test"),
	      "bundlefs: %s of %s", again.fstype, again.source);
	CHECK(!mountpoint_answers(dir), "a dead mount does not answer");
	CHECK(mountpoint_answers(P("top/..")), "its parent does");
	/* Where the kernel has them, IDs are never given again. */
	CHECK(!again.id_unique || again.id != top.id, "a new mount, a new ID");
	must(umount2(dir, MNT_DETACH), "umount dead fuse");
}

int main(void)
{
	if (fx_private_base("test_mountpoint") < 0)
		return 1;
	test_parse();
	test_clear_stale();
	test_top();
	must(chdir("/"), "/");
	rmrf(base);
	return check_report();
}
