/* SPDX-License-Identifier: Apache-2.0 */
/* The session's reads and writes of /dev/fuse; see devio.h. */
#include "devio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "ring.h"

/* The INIT request: its unique (0: none seen) and whether the kernel offered the flag. */
static _Atomic uint64_t init_unique;
static atomic_bool kernel_offers, session_wants, reply_asks, init_refused;
/* Whether the kernel offered FUSE over io_uring (ring.h) in the INIT. */
static atomic_bool kernel_offers_ring;

ssize_t devio_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t res = read(fd, buf, len);
	const struct fuse_in_header *in = buf;

	(void)userdata;
	if (res >=
		(ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags) + sizeof(uint32_t)) &&
	    in->opcode == FUSE_INIT) {
		const struct fuse_init_in *arg = (const void *)(in + 1);

		atomic_store(&kernel_offers, (arg->flags & FUSE_PARALLEL_DIROPS) != 0);
		atomic_store(&kernel_offers_ring,
			     (arg->flags & FUSE_INIT_EXT) &&
				 res >=
				     (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags2) +
					       sizeof(uint32_t)) &&
				 (arg->flags2 & RING_INIT_FLAG2));
		atomic_store(&init_refused, false);
		atomic_store(&init_unique, in->unique);
	}
	return res;
}

void devio_init(const struct fuse_conn_info *conn)
{
	atomic_store(&session_wants, (conn->want & FUSE_CAP_PARALLEL_DIROPS) != 0);
}

bool devio_parallel_dirops(void)
{
	return atomic_load(&reply_asks);
}

bool devio_init_refused(void)
{
	return atomic_load(&init_refused);
}

/*
 * The INIT reply's arguments in iov: ask for parallel directory operations
 * if due, and for the ring if offered and wanted. The largest arguments a
 * request may then carry (the kernel's own rule: a page at least, a write,
 * the pages of a request) into *ring_payload; 0: no ring.
 */
static void init_reply(struct iovec *arg_iov, size_t *ring_payload)
{
	struct fuse_init_out *arg = arg_iov->iov_base;

	*ring_payload = 0;
	if (arg_iov->iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t) &&
	    atomic_load(&kernel_offers) && atomic_load(&session_wants)) {
		arg->flags |= FUSE_PARALLEL_DIROPS;
		atomic_store(&reply_asks, true);
		blog(BLOG_DEBUG, "INIT reply: parallel lookups and listings");
	}
	if (arg_iov->iov_len >= offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t) &&
	    atomic_load(&kernel_offers_ring) && ring_wanted()) {
		/* Without FUSE_MAX_PAGES the kernel keeps its default of 32 pages. */
		size_t pages = (size_t)(arg->flags & FUSE_MAX_PAGES ? arg->max_pages : 32) *
			       (size_t)sysconf(_SC_PAGESIZE);

		arg->flags |= FUSE_INIT_EXT;
		arg->flags2 |= RING_INIT_FLAG2;
		*ring_payload = 8192;
		if (arg->max_write > *ring_payload)
			*ring_payload = arg->max_write;
		if (pages > *ring_payload)
			*ring_payload = pages;
		blog(BLOG_DEBUG, "INIT reply: FUSE over io_uring");
	}
}

ssize_t devio_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	uint64_t unique = atomic_load(&init_unique);
	size_t ring_payload = 0;
	ssize_t res;

	(void)userdata;
	if (ring_reply(iov, count, &res))
		return res;
	if (unique != 0 && count >= 1 && iov[0].iov_len >= sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *out = iov[0].iov_base;

		if (out->unique == unique &&
		    atomic_compare_exchange_strong(&init_unique, &unique, 0)) {
			if (out->error != 0)
				atomic_store(&init_refused, true);
			else if (count >= 2)
				init_reply(&iov[1], &ring_payload);
		}
	}
	res = writev(fd, iov, count);
	/* The kernel has taken the INIT reply: the ring's entries may be registered. */
	if (res >= 0 && ring_payload)
		ring_start(fd, ring_payload);
	return res;
}

static ssize_t devio_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
				    unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t devio_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
				 unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int devio_install(struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
	    .read = devio_read,
	    .writev = devio_writev,
	    .splice_receive = devio_splice_receive,
	    .splice_send = devio_splice_send,
	};

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
