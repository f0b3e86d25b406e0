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

/* The INIT request: its unique (0: none seen) and whether the kernel offered the flag. */
static _Atomic uint64_t init_unique;
static atomic_bool kernel_offers, session_wants, reply_asks, init_refused;

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

/* The INIT reply's arguments in iov: ask for parallel directory operations if due. */
static void init_reply(struct iovec *arg_iov)
{
	struct fuse_init_out *arg = arg_iov->iov_base;

	if (arg_iov->iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t) &&
	    atomic_load(&kernel_offers) && atomic_load(&session_wants)) {
		arg->flags |= FUSE_PARALLEL_DIROPS;
		atomic_store(&reply_asks, true);
		blog(BLOG_DEBUG, "INIT reply: parallel lookups and listings");
	}
}

ssize_t devio_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	uint64_t unique = atomic_load(&init_unique);

	(void)userdata;
	if (unique != 0 && count >= 1 && iov[0].iov_len >= sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *out = iov[0].iov_base;

		if (out->unique == unique &&
		    atomic_compare_exchange_strong(&init_unique, &unique, 0)) {
			if (out->error != 0)
				atomic_store(&init_refused, true);
			else if (count >= 2)
				init_reply(&iov[1]);
		}
	}
	return writev(fd, iov, count);
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
