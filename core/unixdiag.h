/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening unix sockets through NETLINK_SOCK_DIAG (linux/unix_diag.h), the
 * interface `ss -x` uses: one dump lists every listener of this process's
 * network namespace with its name and the file it is bound at, without the
 * kernel formatting /proc/net/unix as text; one exact query (inode and
 * cookie) re-reads a single socket.
 *
 * A socket's name is given as /proc/net/unix prints it (unix_seq_show): a
 * path without its trailing NUL, or "@" + an abstract name, every NUL byte
 * shown as '@'; "" for an unbound socket. So names compare byte for byte
 * with what shimproc.h's callers pass, whichever way the table was read.
 *
 * The netlink descriptor is the caller's (unixdiag_open, O_CLOEXEC); every
 * call is one request and its replies, nothing kept between calls.
 * Thread-safe for distinct descriptors.
 */
#ifndef BUNDLEFS_UNIXDIAG_H
#define BUNDLEFS_UNIXDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "@" + 107 bytes of an abstract name, or a 107-byte path, and a NUL. */
#define UNIXDIAG_NAME_MAX 110

struct unixdiag_sock {
	uint32_t ino;	    /* the socket's inode (socket:[ino] in /proc/<pid>/fd) */
	uint32_t cookie[2]; /* the kernel's cookie for it: an inode reused is told apart */
	uint8_t state;	    /* TCP_LISTEN (10) for a listener */
	bool vfs_known;	    /* bound at a path: the file's identity follows */
	dev_t vfs_dev;	    /* st_dev of the socket file (makedev form) */
	ino_t vfs_ino;	    /* st_ino of the socket file */
	size_t name_len;    /* bytes of name, the NUL not counted */
	char name[UNIXDIAG_NAME_MAX]; /* as /proc/net/unix shows it, NUL-terminated */
};

/*
 * A NETLINK_SOCK_DIAG socket (SOCK_CLOEXEC), or -errno: -EPERM,
 * -EPROTONOSUPPORT, -EAFNOSUPPORT where sock_diag is not available.
 */
int unixdiag_open(void);

/*
 * Every listening unix socket of the namespace, each passed to fn (which
 * returns 0 to go on, or a negative errno that ends the dump and is
 * returned). 0, or -errno from the kernel (-ENOENT: no unix_diag handler)
 * or from fn; -EMSGSIZE, -EPROTO on a reply that cannot be parsed.
 */
int unixdiag_listeners(int nl, int (*fn)(const struct unixdiag_sock *s, void *arg), void *arg);

/*
 * The socket with inode ino and cookie (both as a dump gave them) into *out,
 * whatever its state. 0; -ENOENT when there is no such socket any more (an
 * inode reused by another socket has another cookie: also -ENOENT); other
 * -errno as unixdiag_listeners.
 */
int unixdiag_get(int nl, uint32_t ino, const uint32_t cookie[2], struct unixdiag_sock *out);

#endif
