/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which listening unix sockets are bound at a name (shimproc.h, step 1),
 * found cheaply and confirmed at each call.
 *
 * Names are given as /proc/net/unix shows them: a path, or "@" + an
 * abstract name (NUL bytes as '@'). A socket is a match when it listens
 * (flag __SO_ACCEPTCON, state TCP_LISTEN), its name is one of the names, and,
 * when the caller gives the socket file it dialed (file), it is bound at
 * that very file (st_dev, st_ino): the socket a connect to the path reaches,
 * not an older listener whose file was unlinked and replaced.
 *
 * With NETLINK_SOCK_DIAG (unixdiag.h): a table of every listener's name
 * (hashed), inode and cookie, from one dump, is kept as a hint; each call
 * looks its names up there and confirms each candidate with an exact query
 * (inode and cookie: the socket still exists, listens, has that name, is
 * bound at file). The hint is replaced by a new dump when it names no
 * socket that confirms, or when the answer could be incomplete (more than
 * one socket may hold the names: a path without file), unless the table
 * was dumped after the call began (since_ns): then it is the fact itself.
 * So every answer is made of facts read during the call.
 *
 * Without it (socket(2) or the dump fails: EPERM, EPROTONOSUPPORT,
 * EAFNOSUPPORT, ENOENT when unix_diag is not built), or with
 * unixsock_use_diag(false): /proc/net/unix is read whole, names compared,
 * file not checked (the text does not show it): the listeners that name
 * the socket, as before sock_diag was used.
 *
 * Holds no descriptor between calls. Thread-safe.
 */
#ifndef BUNDLEFS_UNIXSOCK_H
#define BUNDLEFS_UNIXSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Listening sockets bound at the same names at once: more are ignored. */
#define UNIXSOCK_MAX 16

/*
 * The inodes of the listening sockets bound at one of the npaths names (and
 * at file, when not NULL: only for path names), at most UNIXSOCK_MAX, into
 * inos and their count into *n. since_ns: CLOCK_MONOTONIC (unixsock_now)
 * when the caller's facts were read (its connect): a table dumped at or
 * after it is trusted as it is. 0, or -ENOMEM.
 */
int unixsock_listeners(const char *const *names, size_t nnames, const struct stat *file,
		       uint64_t since_ns, uint32_t *inos, size_t *n);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t unixsock_now(void);

/*
 * Whether sock_diag is tried (true, the default) or /proc/net/unix is
 * always read, as where sock_diag is unavailable: for tests of that path.
 * Process-wide.
 */
void unixsock_use_diag(bool on);

/* Counters since start, for tests: dumps made, /proc/net/unix reads. */
struct unixsock_stats {
	unsigned long dumps, confirms, proc_reads;
};
void unixsock_stats(struct unixsock_stats *out);

#endif
