/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session's reads and writes of /dev/fuse (libfuse's custom I/O): plain
 * read, writev and splice, except that the INIT reply carries
 * FUSE_PARALLEL_DIROPS when the kernel offers it and the session wants it.
 * libfuse 3.14 sets FUSE_CAP_PARALLEL_DIROPS in conn->want by default but
 * never puts the flag in its reply (fixed in libfuse 3.17.1, "Pass
 * FUSE_PARALLEL_DIROPS to kernel"), so the kernel serialises every lookup
 * and listing of one directory under its own mutex. Nothing else is changed.
 */
#ifndef BUNDLEFS_DEVIO_H
#define BUNDLEFS_DEVIO_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* Install the I/O on se, after fuse_session_mount; 0 or -errno. */
int devio_install(struct fuse_session *se);
/* From the init callback: whether the INIT reply may ask for parallel directory operations. */
void devio_init(const struct fuse_conn_info *conn);

/* The I/O itself, for the tests: fd is the session's (or a stand-in). */
ssize_t devio_read(int fd, void *buf, size_t len, void *userdata);
ssize_t devio_writev(int fd, struct iovec *iov, int count, void *userdata);
/* Whether the INIT reply sent (or to be sent) asks for parallel directory operations. */
bool devio_parallel_dirops(void);
/* Whether the session answered the kernel's INIT with an error (it then ends). */
bool devio_init_refused(void);

#endif
