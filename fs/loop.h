/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The session loop, in place of libfuse's pool. In the pool every idle
 * thread reads /dev/fuse and the kernel gives each request to the one that
 * has waited longest: rarely the thread that answered the caller's last
 * request, often one on another CPU, woken through the scheduler. Here one
 * thread at a time, the leader, reads and answers what it reads, so that a
 * caller's next request finds the thread that answered its last one
 * already waiting.
 *
 * A request that waits long must not hold the others (SPEC 5.3: never a
 * hang): a second thread, the standby, sleeps while the leader reads, is
 * woken by the leader's next request, and once one request has held the
 * leader for LOOP_STALL_MS takes over the reading; the stalled thread
 * finishes its request and rejoins the pool. A request that waits by its
 * nature (fsync) hands the reading to another thread before it starts.
 *
 * While callers run side by side (requests of two callers within
 * LOOP_SHARED_SPAN), requests are read as in libfuse's pool: one more thread
 * reads whenever a request arrives and none waits for the next, so that the
 * callers are answered on every CPU; those threads go back to the pool once
 * the requests come from one caller again.
 *
 * At most max_threads threads, as libfuse's option; with one, that thread
 * reads and answers everything, as with -s. clone_fd has no use here.
 */
#ifndef BUNDLEFS_LOOP_H
#define BUNDLEFS_LOOP_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <pthread.h>

/* How long the leader may work on one request before the standby reads in its place. */
#define LOOP_STALL_MS 5
/* Requests after one from a second caller that are read as in libfuse's pool. */
#define LOOP_SHARED_SPAN 64
/* How often the main thread looks whether a signal ended the session (it also wakes at once). */
#define LOOP_EXIT_CHECK_S 1

/*
 * Serve se until it is unmounted or told to exit (a signal through
 * fuse_set_signal_handlers). max_idle: idle threads kept beyond the leader
 * and the standby (UINT_MAX: all). 0 when unmounted, -errno otherwise
 * (ended by a signal: -EINTR; an INIT the daemon refused: -EPROTO).
 */
int loop_run(struct fuse_session *se, unsigned int max_threads, unsigned int max_idle);
/*
 * pthread_create for a thread of the loop (or of ring.h): the signals that
 * end the loop stay blocked in it. 0 or an error number.
 */
int loop_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg);

#endif
