/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which shim process serves a socket (SPEC 4.9 shim.pid): found as `ss -xlp`
 * finds it, since the runc v2 shim writes no pid file and the process that
 * created its socket (`containerd-shim-runc-v2 start`) has exited by the time
 * anyone asks, so SO_PEERCRED of a connection would name that dead process.
 *
 * 1. The socket inode of every unix socket that is listening and bound at
 *    one of the given names, compared byte for byte with the name
 *    /proc/net/unix shows (an abstract name as "@" + the name), and, when
 *    the caller gives the socket file it dialed, bound at that very file:
 *    unixsock.h (sock_diag, confirmed at each call; /proc/net/unix where
 *    sock_diag is unavailable).
 * 2. Every process whose executable's name (the last element of
 *    /proc/<pid>/exe, " (deleted)" and all) begins with "containerd-shim"
 *    and which holds one of those inodes as "socket:[N]" in /proc/<pid>/fd is
 *    a holder. Other processes' descriptors are never looked at.
 * 3. One holder: its pid. Several (the `start` process passes the socket to
 *    the long-running shim it forks, and both hold it until `start` exits):
 *    the holder whose parent is another holder, else the lowest pid.
 *
 * Step 2 walks /proc (a readlink of every process's exe, the descriptors of
 * every shim) and keeps what it saw: which descriptor of which shim is
 * which socket. For one socket, the holder that table chooses is the
 * answer when two readlinks confirm it now (/proc/<pid>/fd/<fd> still is
 * socket:[inode], /proc/<pid>/exe still a shim's); any mismatch, or a
 * socket the table has no shim for, walks /proc again. A pid is never
 * given that was not checked during the call; what the cache can miss is a
 * second holder appearing beside a confirmed one (start's moment, step 3,
 * if the socket was first seen before start forked: until start exits).
 *
 * shimproc_list lists the shims themselves, for leaks (SPEC 8.4): the
 * same test of the executable's name, the processes that are running.
 *
 * Reads /proc (and sock_diag) only; every descriptor is O_CLOEXEC and
 * closed before returning; no descriptor is held per process. Memory kept:
 * the last walk's table, 16 bytes per socket the shims held. Thread-safe.
 */
#ifndef BUNDLEFS_SHIMPROC_H
#define BUNDLEFS_SHIMPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* What an executable's name must begin with to count as a shim. */
#define SHIMPROC_EXE_PREFIX "containerd-shim"

/*
 * The pid of the shim holding a listening unix socket bound at one of the
 * npaths NUL-terminated names (and at file, the socket file that was
 * dialed, when not NULL: only for path names), into *pid; 0 there when
 * there is none (or /proc cannot be read). Returns 0, or -ENOMEM.
 */
int shimproc_listener(const char *const *paths, size_t npaths, const struct stat *file,
		      int32_t *pid);

/* A running shim, as /proc shows it. */
struct shimproc_info {
	int32_t pid;
	char *exe;	/* readlink of /proc/<pid>/exe, " (deleted)" kept (malloc'd) */
	char *cwd;	/* readlink of /proc/<pid>/cwd, " (deleted)" kept (malloc'd) */
	bool cwd_known; /* cwd_dev and cwd_ino are stat(/proc/<pid>/cwd)'s: the directory */
	dev_t cwd_dev;	/* itself, found through the kernel's link even once removed */
	ino_t cwd_ino;
};

/*
 * Every process of this pid namespace's /proc whose executable's name begins
 * with SHIMPROC_EXE_PREFIX and which is running (its state in
 * /proc/<pid>/stat neither Z nor X), in increasing pid order. A process
 * whose exe, stat or cwd cannot be read (it exited meanwhile, or reading it
 * is not allowed) is left out. *out is malloc'd (NULL when *n is 0): free it
 * with shimproc_list_free. 0, also when /proc cannot be read, or -ENOMEM.
 */
int shimproc_list(struct shimproc_info **out, size_t *n);
void shimproc_list_free(struct shimproc_info *v, size_t n);

#endif
