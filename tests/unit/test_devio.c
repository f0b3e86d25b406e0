/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the session's /dev/fuse I/O (fs/devio.c): the INIT reply asks for parallel
 * lookups and listings exactly when the kernel's INIT offered them and the session wants them;
 * every other reply, and the INIT reply in the other cases, goes out byte for byte as libfuse
 * made it. A pipe stands in for /dev/fuse: the request is written to it and read back through
 * devio_read, the reply written through devio_writev and read back from it. The INIT reply asks
 * for FUSE over io_uring exactly when the kernel offered it and the ring is wanted (fs/ring.h).
 */
#include "devio.h"
#include "ring.h"

#include "check.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int fds[2];

/* The kernel sends INIT (unique, its flags); devio_read reads it as the session would. */
static void kernel_init2(uint64_t unique, uint32_t flags, uint32_t flags2)
{
	struct {
		struct fuse_in_header in;
		struct fuse_init_in arg;
	} req = {.in = {.len = sizeof(req), .opcode = FUSE_INIT, .unique = unique},
		 .arg = {.major = 7, .minor = 38, .flags = flags, .flags2 = flags2}};
	char buf[4096];

	CHECK(write(fds[1], &req, sizeof(req)) == (ssize_t)sizeof(req), "request written");
	CHECK(devio_read(fds[0], buf, sizeof(buf), NULL) == (ssize_t)sizeof(req), "request read");
	CHECK(memcmp(buf, &req, sizeof(req)) == 0, "the request read as sent");
}

static void kernel_init(uint64_t unique, uint32_t flags)
{
	kernel_init2(unique, flags, 0);
}

/* The session replies (unique, error, flags): the flags the kernel receives, flags2 in *flags2. */
static uint32_t reply2(uint64_t unique, int32_t error, uint32_t flags, uint32_t *flags2)
{
	struct fuse_out_header out = {.unique = unique, .error = error};
	struct fuse_init_out arg = {.major = 7, .minor = 31, .flags = flags, .max_write = 4096};
	struct iovec iov[2] = {{&out, sizeof(out)}, {&arg, sizeof(arg)}};
	struct {
		struct fuse_out_header out;
		struct fuse_init_out arg;
	} got;

	out.len = sizeof(out) + sizeof(arg);
	CHECK(devio_writev(fds[1], iov, 2, NULL) == (ssize_t)out.len, "reply written");
	CHECK(read(fds[0], &got, sizeof(got)) == (ssize_t)sizeof(got), "reply read");
	CHECK(got.out.unique == unique && got.arg.max_write == 4096 && got.arg.major == 7,
	      "the rest of the reply as made");
	*flags2 = got.arg.flags2;
	return got.arg.flags;
}

static uint32_t reply(uint64_t unique, int32_t error, uint32_t flags)
{
	uint32_t flags2;

	return reply2(unique, error, flags, &flags2);
}

static void want(bool parallel)
{
	struct fuse_conn_info conn = {0};

	conn.want = parallel ? FUSE_CAP_PARALLEL_DIROPS : 0;
	devio_init(&conn);
}

/* ring_queue_count: the kernel's list of possible CPUs, the configured count, the queues. */
static const struct {
	const char *list;
	unsigned int configured, want;
	const char *what;
} lists[] = {
    {"0-63\n", 2, 64, "a range: one past its end"},
    {"0\n", 1, 1, "one CPU"},
    {"0,2-5,9\n", 4, 10, "ranges and single CPUs"},
    {"0-1\n", 8, 8, "never fewer than configured"},
    {"", 3, 3, "an empty list: the configured ones"},
    {"x\n", 3, 3, "not a list: the configured ones"},
    {"0-3,junk", 2, 4, "the list up to what is not one"},
    {"7-", 2, 8, "a range without its end: its start"},
    {"5-2\n", 2, 2, "a range that runs backwards: not believed"},
    {"0-8191\n", 2, 8192, "the largest list believed"},
    {"0-8192\n", 2, 2, "past it: not believed"},
    {"0-99999999999999999999\n", 2, 2, "an overflow: not believed"},
};

int main(void)
{
	const uint32_t base = FUSE_ASYNC_READ | FUSE_BIG_WRITES;
	uint32_t flags2;

	if (pipe(fds) < 0)
		return 1;

	/* The kernel does not offer it: the reply is as made. */
	kernel_init(2, base);
	want(true);
	CHECK(reply(2, 0, base) == base, "not asked for when not offered");
	CHECK(!devio_parallel_dirops(), "not reported asked");
	CHECK(!devio_init_refused(), "an INIT answered is not refused");

	/* Offered, but the session does not want it. */
	kernel_init(4, base | FUSE_PARALLEL_DIROPS);
	want(false);
	CHECK(reply(4, 0, base) == base, "not asked for when not wanted");
	CHECK(!devio_parallel_dirops(), "not reported asked");

	/* Offered and wanted; an INIT that failed, and other replies before it, are left alone. */
	kernel_init(6, base | FUSE_PARALLEL_DIROPS);
	want(true);
	CHECK(reply(5, 0, base) == base, "a reply to another request is left alone");
	CHECK(!devio_init_refused(), "another request's reply is no refusal");
	CHECK(reply(6, -EPROTO, base) == base, "a failed INIT is left alone");
	CHECK(!devio_parallel_dirops(), "not reported asked");
	CHECK(devio_init_refused(), "a failed INIT is reported refused");
	kernel_init(8, base | FUSE_PARALLEL_DIROPS);
	CHECK(!devio_init_refused(), "a new INIT is not refused yet");
	CHECK(reply(8, 0, base) == (base | FUSE_PARALLEL_DIROPS), "asked for in the INIT reply");
	CHECK(devio_parallel_dirops(), "reported asked");

	/* Only that reply: a later one with the same unique is as made. */
	CHECK(reply(8, 0, base) == base, "one reply only");

	/* FUSE over io_uring: offered, but no session loop wants it (-s): the reply is as made. */
	want(false);
	kernel_init2(10, base | FUSE_INIT_EXT, RING_INIT_FLAG2);
	CHECK(reply2(10, 0, base, &flags2) == base && flags2 == 0, "no ring without the loop");
	/* The loop's, but not offered: not in flags2, or no extended INIT to carry it. */
	ring_configure(NULL, 4);
	kernel_init2(12, base | FUSE_INIT_EXT, 0);
	CHECK(reply2(12, 0, base, &flags2) == base && flags2 == 0, "no ring when not offered");
	kernel_init2(14, base, RING_INIT_FLAG2);
	CHECK(reply2(14, 0, base, &flags2) == base && flags2 == 0, "no ring without INIT_EXT");
	/* Offered and the loop's, but -o nouring. */
	ring_disable();
	kernel_init2(16, base | FUSE_INIT_EXT, RING_INIT_FLAG2);
	CHECK(reply2(16, 0, base, &flags2) == base && flags2 == 0, "no ring with nouring");
	CHECK(!ring_active(), "no ring started");

	/* A queue for every possible CPU: the kernel's list, at least the configured ones. */
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		CHECK(ring_queue_count(lists[i].list, lists[i].configured) == lists[i].want, "%s",
		      lists[i].what);

	close(fds[0]);
	close(fds[1]);
	return check_report();
}
