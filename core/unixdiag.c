/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening unix sockets through NETLINK_SOCK_DIAG (unixdiag.h).
 */
#include "unixdiag.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The kernel's TCP_LISTEN, which unix sockets share for their state. */
#define UNIXDIAG_LISTEN 10
/*
 * The kernel sizes a dump's messages up to 32 KiB after the reader's
 * largest buffer (netlink_recvmsg's max_recvmsg_len): this buffer takes
 * any of them whole.
 */
#define UNIXDIAG_BUF (32 * 1024)

static atomic_uint unixdiag_seq;

int unixdiag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	return fd < 0 ? -errno : fd;
}

static int send_req(int nl, uint16_t flags, uint32_t states, uint32_t ino, const uint32_t cookie[2],
		    uint32_t *seq)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} msg = {
	    .nlh = {.nlmsg_len = sizeof(msg),
		    .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		    .nlmsg_flags = NLM_F_REQUEST | flags},
	    .req = {.sdiag_family = AF_UNIX,
		    .udiag_states = states,
		    .udiag_ino = ino,
		    .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS,
		    .udiag_cookie = {cookie[0], cookie[1]}},
	};
	ssize_t n;

	*seq = atomic_fetch_add(&unixdiag_seq, 1) + 1;
	msg.nlh.nlmsg_seq = *seq;
	do
		n = sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(msg) ? 0 : -EPROTO;
}

/* The name attribute as /proc/net/unix prints it (unixdiag.h). */
static void put_name(struct unixdiag_sock *s, const unsigned char *b, size_t len)
{
	size_t i = 0, o = 0;

	if (len == 0 || len > UNIXDIAG_NAME_MAX - 1)
		return;
	if (b[0] != '\0') {
		len--; /* a path's trailing NUL, which the kernel counts */
	} else {
		s->name[o++] = '@';
		i++;
	}
	for (; i < len; i++)
		s->name[o++] = b[i] ? (char)b[i] : '@';
	s->name[o] = '\0';
	s->name_len = o;
}

/* One SOCK_DIAG_BY_FAMILY reply into *s. */
static int parse_msg(const struct nlmsghdr *h, struct unixdiag_sock *s)
{
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	size_t left;
	const struct nlattr *a;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -EPROTO;
	memset(s, 0, sizeof(*s));
	s->ino = m->udiag_ino;
	s->cookie[0] = m->udiag_cookie[0];
	s->cookie[1] = m->udiag_cookie[1];
	s->state = m->udiag_state;
	left = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	a = (const struct nlattr *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	while (left >= sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= left) {
		const unsigned char *p = (const unsigned char *)a + NLA_HDRLEN;
		size_t plen = a->nla_len - NLA_HDRLEN, step = NLA_ALIGN(a->nla_len);

		if ((a->nla_type & NLA_TYPE_MASK) == UNIX_DIAG_NAME) {
			put_name(s, p, plen);
		} else if ((a->nla_type & NLA_TYPE_MASK) == UNIX_DIAG_VFS &&
			   plen >= sizeof(struct unix_diag_vfs)) {
			struct unix_diag_vfs v;

			memcpy(&v, p, sizeof(v));
			/* The kernel's own dev_t (20 bits of minor), not stat's encoding. */
			s->vfs_dev = makedev(v.udiag_vfs_dev >> 20, v.udiag_vfs_dev & 0xfffff);
			s->vfs_ino = v.udiag_vfs_ino;
			s->vfs_known = true;
		}
		if (step >= left)
			break;
		left -= step;
		a = (const struct nlattr *)((const char *)a + step);
	}
	return 0;
}

/*
 * The replies to request seq: each socket to fn, until NLMSG_DONE (a dump)
 * or the first socket (an exact query, done set). 0 or -errno.
 */
static int recv_replies(int nl, uint32_t seq, bool dump,
			int (*fn)(const struct unixdiag_sock *s, void *arg), void *arg)
{
	struct unixdiag_sock s;
	char *buf = malloc(UNIXDIAG_BUF);
	int ret = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {buf, UNIXDIAG_BUF};
		struct msghdr mh = {.msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1};
		ssize_t n = recvmsg(nl, &mh, 0);
		struct nlmsghdr *h;
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			ret = -EMSGSIZE;
			break;
		}
		if (from.nl_pid != 0)
			continue; /* not the kernel's */
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != seq)
				continue; /* an earlier request's, abandoned */
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				ret = h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0
					  ? e->error
					  : -EPROTO;
				goto out;
			}
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			ret = parse_msg(h, &s);
			if (ret == 0)
				ret = fn(&s, arg);
			if (ret < 0 || !dump)
				goto out;
		}
	}
out:
	free(buf);
	return ret;
}

int unixdiag_listeners(int nl, int (*fn)(const struct unixdiag_sock *s, void *arg), void *arg)
{
	static const uint32_t nocookie[2] = {~0U, ~0U};
	uint32_t seq;
	int ret = send_req(nl, NLM_F_DUMP, 1U << UNIXDIAG_LISTEN, 0, nocookie, &seq);

	return ret < 0 ? ret : recv_replies(nl, seq, true, fn, arg);
}

static int keep_one(const struct unixdiag_sock *s, void *arg)
{
	*(struct unixdiag_sock *)arg = *s;
	return 0;
}

int unixdiag_get(int nl, uint32_t ino, const uint32_t cookie[2], struct unixdiag_sock *out)
{
	uint32_t seq;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = send_req(nl, 0, ~0U, ino, cookie, &seq);
	if (ret == 0)
		ret = recv_replies(nl, seq, false, keep_one, out);
	/* The cookie of another socket that now has the inode: this one is gone. */
	if (ret == -ESTALE)
		ret = -ENOENT;
	if (ret == 0 && out->ino != ino)
		ret = -ENOENT;
	return ret;
}
