/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE over io_uring (Linux 6.14 and later, when the fuse module's
 * enable_uring parameter is set). The kernel then hands each request to a
 * queue of the CPU its caller runs on, through an entry of that queue: the
 * request's header and arguments land in the entry's buffers and complete
 * a command on an io_uring, and the reply goes back in the same buffers
 * with the command that also fetches the next request. One system call per
 * request instead of a read and a write, and the thread that answers runs
 * on the caller's CPU: no wake-up crosses CPUs.
 *
 * The kernel delivers a request into an entry from the thread that last
 * submitted the entry's command (its task work), so a thread that waits in
 * a request must own no entry but its own: each thread has a ring and one
 * entry, and is bound to its queue's CPU. The kernel gives a request to the
 * entry that became free last, so a caller's next request finds the thread
 * that answered its last one, and the requests of a CPU whose thread is
 * busy wait in the kernel until it fetches the next with its reply. A
 * request that waits long holds only its own thread (SPEC 5.3): a watchdog
 * gives a queue one more thread when all of its threads answer and one has
 * answered the same request for LOOP_STALL_MS, up to the loop's
 * max_threads for each queue. Threads are kept until the end (an entry
 * cannot be taken back from the kernel).
 *
 * Requests are answered by libfuse as those read from /dev/fuse, from a
 * copy laid out as /dev/fuse gives them; the reply, written through the
 * session's custom I/O (devio.h), is caught and put in the entry. A reply
 * sent later from another thread (the node view's opens) is waited for.
 * Forgets and interrupts still come through /dev/fuse, and the kernel sends
 * everything there until every queue has an entry: the session loop serves
 * /dev/fuse throughout.
 */
#ifndef BUNDLEFS_RING_H
#define BUNDLEFS_RING_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* FUSE_OVER_IO_URING (protocol 7.42), in the high word of the INIT flags. */
#define RING_INIT_FLAG2 (1U << (41 - 32))
/* Threads started for each queue; more when requests stall (the watchdog). */
#define RING_START_THREADS 1
/* Above Linux's largest CONFIG_NR_CPUS: a list naming more is not believed. */
#define RING_MAX_QUEUES 8192

/*
 * The number of queues from the kernel's list of possible CPUs ("0-3,8"):
 * one past the highest, at least configured (the CPUs the C library
 * counts); configured when the list names a CPU past RING_MAX_QUEUES or a
 * range that runs backwards.
 */
unsigned int ring_queue_count(const char *list, unsigned int configured);

/* The session and its loop's limit of threads (for each queue); before the INIT. */
void ring_configure(struct fuse_session *se, unsigned int max_threads);
/* Never use the ring (the nouring option). */
void ring_disable(void);
/* Whether the INIT reply may ask for the ring: configured and not disabled. */
bool ring_wanted(void);
/*
 * After the INIT reply that asked for the ring, on the session's
 * descriptor fd: payload is the largest request's arguments the kernel may
 * send. Starts the threads of every queue; logged and left (everything
 * keeps coming through /dev/fuse) when that fails.
 */
void ring_start(int fd, size_t payload);
/* Whether the ring serves requests. */
bool ring_active(void);
/* A regular file's node, just given to the kernel in an entry (for kick in ring.c). */
void ring_note_file(uint64_t nodeid);
/*
 * From the session's writev: a reply to a request of the ring goes into its
 * entry (true, *res the bytes taken); false for anything else (a
 * notification, a reply to a request read from /dev/fuse).
 */
bool ring_reply(const struct iovec *iov, int count, ssize_t *res);
/* Whether this thread answers a request of the ring (no splice to /dev/fuse). */
bool ring_serving(void);
/* Stop and join the threads, close their rings (the session ended). */
void ring_stop(void);

#endif
