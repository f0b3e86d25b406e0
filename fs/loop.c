/* SPDX-License-Identifier: Apache-2.0 */
/* The session loop; see loop.h. */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <linux/fuse.h>
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "devio.h"
#include "log.h"
#include "ring.h"

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#endif

enum job {
	JOB_NONE,    /* idle: waits on its condition */
	JOB_LEAD,    /* reads and answers, with the generation in gen */
	JOB_STANDBY, /* watches the leader */
	JOB_SHARE,   /* reads and answers beside the leader (callers side by side) */
};

struct worker {
	struct worker *next;	  /* every thread, for the join; protected by L.lock */
	struct worker *next_idle; /* protected by L.lock */
	pthread_t tid;
	pthread_cond_t wake;
	enum job job;	     /* protected by L.lock */
	uint32_t gen;	     /* set with job (JOB_LEAD) or by the thread itself */
	struct fuse_buf buf; /* libfuse allocates it at the thread's first read */
};

static struct {
	struct fuse_session *se;
	pthread_mutex_t lock;
	struct worker *all, *idle;			     /* protected by lock */
	struct worker *standby;				     /* protected by lock; NULL: none */
	unsigned int nthreads, nidle, max_threads, max_idle; /* protected by lock */
	int error;					     /* protected by lock */
	atomic_bool exit;
	sem_t finish;
	/*
	 * The leader's generation (moved at each change of leader) in the high
	 * 32 bits; in the low ones the number of the request it works on, 0
	 * while it reads. A change of leader is a compare-and-swap from a
	 * value read, so of a leader handing over, a standby taking over and
	 * the leader ending its request, exactly one wins.
	 */
	_Atomic uint64_t state;
	_Atomic uint32_t tick; /* the standby's futex word, moved to wake it */
	/* The last caller; requests left while callers run side by side. */
	_Atomic uint32_t last_pid;
	_Atomic int shared;
	_Atomic unsigned int waiting; /* threads in read */
	atomic_bool standby_asleep;
	/* No standby could be appointed (no thread to spare, or none started): retried. */
	atomic_bool need_standby;
	/* A read ended the session (unmounted, or an error): not a signal. */
	atomic_bool read_ended;
	atomic_flag start_failed_logged;
} L;

static uint32_t state_gen(uint64_t s)
{
	return (uint32_t)(s >> 32);
}

static uint32_t state_request(uint64_t s)
{
	return (uint32_t)s;
}

static uint64_t state_make(uint32_t gen, uint32_t request)
{
	return (uint64_t)gen << 32 | request;
}

static void wake_standby(void)
{
	atomic_fetch_add(&L.tick, 1);
	syscall(SYS_futex, &L.tick, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Wait while the standby's word is t, at most *timeout (NULL: no limit):
 * true when the whole timeout passed.
 */
static bool standby_wait(uint32_t t, const struct timespec *timeout)
{
	return syscall(SYS_futex, &L.tick, FUTEX_WAIT_PRIVATE, t, timeout, NULL, 0) < 0 &&
	       errno == ETIMEDOUT;
}

static void *worker_main(void *arg);

/* Put w among the idle threads. Lock held. */
static void worker_idle(struct worker *w)
{
	w->job = JOB_NONE;
	w->next_idle = L.idle;
	L.idle = w;
	L.nidle++;
}

/*
 * An idle thread, or a new one while there are fewer than max_threads, to be
 * given a job (worker_give). NULL when there is none, or the loop ends. Lock
 * held.
 */
static struct worker *worker_take(void)
{
	struct worker *w = L.idle;
	int err;

	if (atomic_load(&L.exit))
		return NULL;
	if (w) {
		L.idle = w->next_idle;
		L.nidle--;
		return w;
	}
	if (L.nthreads >= L.max_threads)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	pthread_cond_init(&w->wake, NULL);
	err = loop_thread_create(&w->tid, worker_main, w);
	if (err) {
		/* Tried again at need (share_more, standby_retry): said once. */
		if (!atomic_flag_test_and_set(&L.start_failed_logged))
			blog(BLOG_WARNING, "cannot start a thread: %s", strerror(err));
		pthread_cond_destroy(&w->wake);
		free(w);
		return NULL;
	}
	w->next = L.all;
	L.all = w;
	L.nthreads++;
	return w;
}

int loop_thread_create(pthread_t *tid, void *(*fn)(void *), void *arg)
{
	sigset_t block, old;
	int err;

	/* Signals go to the main thread, which ends the loop (as in libfuse's pool). */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	err = pthread_create(tid, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void worker_give(struct worker *w, enum job job, uint32_t gen)
{
	w->job = job;
	w->gen = gen;
	pthread_cond_signal(&w->wake);
}

/*
 * A standby, if there is none and a thread to be it; when none can be
 * had, the leader tries again (standby_retry). Lock held.
 */
static void standby_appoint(void)
{
	if (!L.standby && L.max_threads > 1) {
		L.standby = worker_take();
		if (L.standby)
			worker_give(L.standby, JOB_STANDBY, 0);
	}
	atomic_store(&L.need_standby, !L.standby && L.max_threads > 1 && !atomic_load(&L.exit));
}

/* From the leader, every LOOP_SHARED_SPAN requests while there is no standby. */
static void standby_retry(void)
{
	pthread_mutex_lock(&L.lock);
	standby_appoint();
	pthread_mutex_unlock(&L.lock);
}

/* The header of the request in buf (never spliced: the session does not ask for it). */
static const struct fuse_in_header *request_header(const struct fuse_buf *buf)
{
	return buf->flags & FUSE_BUF_IS_FD ? NULL : buf->mem;
}

/* Whether the request in buf waits for the disk by its nature (hand_over). */
static bool request_waits(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = request_header(buf);

	return in && (in->opcode == FUSE_FSYNC || in->opcode == FUSE_FSYNCDIR);
}

/*
 * Note the caller of the request in buf, and tell whether callers run side by
 * side: a request of a caller other than the last one's came within the last
 * LOOP_SHARED_SPAN. The kernel's own requests (forgets) name no caller.
 * Counted loosely (the readers' races only move the span).
 */
static bool callers_side_by_side(const struct fuse_buf *buf)
{
	const struct fuse_in_header *in = request_header(buf);
	int left;

	if (in && in->pid != 0) {
		uint32_t last = atomic_load_explicit(&L.last_pid, memory_order_relaxed);

		if (last != in->pid) {
			atomic_store_explicit(&L.last_pid, in->pid, memory_order_relaxed);
			if (last != 0) {
				atomic_store_explicit(&L.shared, LOOP_SHARED_SPAN,
						      memory_order_relaxed);
				return true;
			}
		}
	}
	left = atomic_load_explicit(&L.shared, memory_order_relaxed);
	if (left <= 0)
		return false;
	atomic_store_explicit(&L.shared, left - 1, memory_order_relaxed);
	return true;
}

/*
 * While callers run side by side, requests are read as in libfuse's pool:
 * when one arrives and no thread waits for the next, one more reads.
 */
static void share_more(void)
{
	struct worker *w;

	pthread_mutex_lock(&L.lock);
	w = worker_take();
	if (w)
		worker_give(w, JOB_SHARE, 0);
	pthread_mutex_unlock(&L.lock);
}

#ifdef __SANITIZE_ADDRESS__
/*
 * A reader cancelled in read (loop_run's end) leaves its frames without
 * returning through them: under AddressSanitizer the poison of their locals
 * would stay on the stack that the thread's exit then runs on, and be
 * reported there. The sanitizer's own remedy for frames left by a longjmp;
 * registered around each read in that build only (the push is a setjmp).
 */
static void cancelled_in_read(void *arg)
{
	(void)arg;
	__asan_handle_no_return();
}
#define READ_CLEANUP_PUSH() pthread_cleanup_push(cancelled_in_read, NULL)
#define READ_CLEANUP_POP() pthread_cleanup_pop(0)
#else
#define READ_CLEANUP_PUSH() ((void)0)
#define READ_CLEANUP_POP() ((void)0)
#endif

/*
 * The next request into w's buffer: true, or false once the session has
 * ended (then the main thread is told) or the loop ends.
 */
static bool receive(struct worker *w)
{
	for (;;) {
		int res;

		if (fuse_session_exited(L.se))
			break;
		atomic_fetch_add(&L.waiting, 1);
		READ_CLEANUP_PUSH();
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		res = fuse_session_receive_buf(L.se, &w->buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		READ_CLEANUP_POP();
		atomic_fetch_sub(&L.waiting, 1);
		if (res > 0)
			return !atomic_load(&L.exit);
		if (res == -EINTR)
			continue;
		/* 0: unmounted (ENODEV), and libfuse has ended the session. */
		if (res < 0) {
			pthread_mutex_lock(&L.lock);
			L.error = res;
			pthread_mutex_unlock(&L.lock);
		}
		atomic_store(&L.read_ended, true);
		fuse_session_exit(L.se);
		break;
	}
	sem_post(&L.finish);
	return false;
}

/*
 * From the leader w, about to answer a request that waits by its nature:
 * another thread reads from now on, if there is one to.
 */
static void hand_over(struct worker *w)
{
	struct worker *next;
	uint64_t s = atomic_load(&L.state);

	/* Still the leader (not taken over since the request was read)? */
	if (state_request(s) == 0 || state_gen(s) != w->gen)
		return;
	pthread_mutex_lock(&L.lock);
	next = worker_take();
	if (next) {
		if (atomic_compare_exchange_strong(&L.state, &s, state_make(state_gen(s) + 1, 0)))
			worker_give(next, JOB_LEAD, state_gen(s) + 1);
		else
			worker_idle(next);
	}
	pthread_mutex_unlock(&L.lock);
}

/*
 * Read and answer requests with generation gen until another thread leads
 * (a hand-over or a take-over while this one worked) or the session ends.
 */
static void lead(struct worker *w, uint32_t gen)
{
	uint32_t n = 0;

	while (receive(w)) {
		uint64_t busy;

		n = n + 1 ? n + 1 : 1;
		busy = state_make(gen, n);
		atomic_store(&L.state, busy);
		/* Sequentially consistent with the standby's: it sleeps only while we read. */
		if (atomic_load(&L.standby_asleep) && atomic_exchange(&L.standby_asleep, false))
			wake_standby();
		if (request_waits(&w->buf))
			hand_over(w);
		else if (callers_side_by_side(&w->buf) && atomic_load(&L.waiting) == 0)
			share_more();
		fuse_session_process_buf(L.se, &w->buf);
		if (!atomic_compare_exchange_strong(&L.state, &busy, state_make(gen, 0)))
			return;
		if (n % LOOP_SHARED_SPAN == 0 && atomic_load(&L.need_standby))
			standby_retry();
	}
}

/* Read and answer requests beside the leader while callers run side by side. */
static void share(struct worker *w)
{
	while (receive(w)) {
		if (callers_side_by_side(&w->buf) && atomic_load(&L.waiting) == 0)
			share_more();
		fuse_session_process_buf(L.se, &w->buf);
		if (atomic_load_explicit(&L.shared, memory_order_relaxed) <= 0)
			return;
	}
}

/*
 * Watch the leader: asleep while it reads, awake while it works, and once
 * one request has held it for LOOP_STALL_MS, take over. true: this thread
 * now leads, with w->gen; false: the loop ends.
 */
static bool watch_leader(struct worker *w)
{
	const struct timespec stall = {.tv_nsec = LOOP_STALL_MS * 1000000L};

	while (!atomic_load(&L.exit)) {
		uint32_t t = atomic_load(&L.tick);
		uint64_t s = atomic_load(&L.state);

		if (state_request(s) == 0) {
			/*
			 * The leader's next request wakes us (lead); we then watch
			 * for a whole stall period before sleeping again, so
			 * that it wakes us at most once in each.
			 */
			atomic_store(&L.standby_asleep, true);
			if (state_request(atomic_load(&L.state)) == 0 && !atomic_load(&L.exit))
				standby_wait(t, NULL);
			atomic_store(&L.standby_asleep, false);
			t = atomic_load(&L.tick);
			s = atomic_load(&L.state);
		}
		/*
		 * Woken, or the word moved before the wait: the leader's next
		 * request came, not a whole stall period with this one.
		 */
		if (!standby_wait(t, &stall))
			continue;
		if (state_request(s) == 0 || atomic_load(&L.state) != s)
			continue;
		if (atomic_compare_exchange_strong(&L.state, &s, state_make(state_gen(s) + 1, 0))) {
			w->gen = state_gen(s) + 1;
			return true;
		}
	}
	return false;
}

/* Leave the pool for good (more idle threads than max_idle). Lock held; released. */
static void worker_leave(struct worker *w)
{
	struct worker **p;

	for (p = &L.all; *p != w; p = &(*p)->next)
		;
	*p = w->next;
	L.nthreads--;
	pthread_mutex_unlock(&L.lock);
	pthread_detach(w->tid);
	free(w->buf.mem);
	pthread_cond_destroy(&w->wake);
	free(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	/* Cancelled only while it reads (loop_run's end), as libfuse's workers. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&L.lock);
	for (;;) {
		enum job job;

		while (w->job == JOB_NONE && !atomic_load(&L.exit))
			pthread_cond_wait(&w->wake, &L.lock);
		if (atomic_load(&L.exit))
			break;
		job = w->job;
		pthread_mutex_unlock(&L.lock);
		if (job == JOB_STANDBY && watch_leader(w)) {
			pthread_mutex_lock(&L.lock);
			L.standby = NULL;
			standby_appoint();
			pthread_mutex_unlock(&L.lock);
			job = JOB_LEAD;
		}
		if (job == JOB_LEAD)
			lead(w, w->gen);
		else if (job == JOB_SHARE)
			share(w);
		/* Ended by a request (libfuse's INIT refused), while another thread reads. */
		if (fuse_session_exited(L.se))
			sem_post(&L.finish);
		pthread_mutex_lock(&L.lock);
		w->job = JOB_NONE;
		if (atomic_load(&L.exit))
			break;
		if (!L.standby && L.max_threads > 1) {
			L.standby = w;
			w->job = JOB_STANDBY;
			atomic_store(&L.need_standby, false);
		} else if (L.nidle >= L.max_idle) {
			worker_leave(w);
			return NULL;
		} else {
			worker_idle(w);
		}
	}
	pthread_mutex_unlock(&L.lock);
	return NULL;
}

int loop_run(struct fuse_session *se, unsigned int max_threads, unsigned int max_idle)
{
	struct worker *w, *all;
	bool started, signalled;
	int err;

	L.se = se;
	L.max_threads = max_threads ? max_threads : 1;
	L.max_idle = max_idle;
	L.all = L.idle = L.standby = NULL;
	L.nthreads = L.nidle = 0;
	L.error = 0;
	atomic_store(&L.last_pid, 0);
	atomic_store(&L.shared, 0);
	atomic_store(&L.waiting, 0);
	atomic_store(&L.exit, false);
	atomic_store(&L.state, state_make(1, 0));
	atomic_store(&L.standby_asleep, false);
	atomic_store(&L.need_standby, false);
	atomic_store(&L.read_ended, false);
	atomic_flag_clear(&L.start_failed_logged);
	pthread_mutex_init(&L.lock, NULL);
	sem_init(&L.finish, 0, 0);
	ring_configure(se, L.max_threads);

	pthread_mutex_lock(&L.lock);
	w = worker_take();
	started = w != NULL;
	if (started) {
		worker_give(w, JOB_LEAD, 1);
		standby_appoint();
	}
	pthread_mutex_unlock(&L.lock);
	/*
	 * A signal's handler (fuse_set_signal_handlers) ends the session and
	 * interrupts the wait, unless it came just before it: the session is
	 * looked at again every LOOP_EXIT_CHECK_S whatever happens.
	 */
	while (started && !fuse_session_exited(se)) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += LOOP_EXIT_CHECK_S;
		sem_timedwait(&L.finish, &until);
	}
	/* Ended, and not by a read (unmounted): a signal, an error as libfuse's loops return. */
	signalled = started && !atomic_load(&L.read_ended);

	/* The leader is in read (cancelled there); the others wait, or finish a request. */
	pthread_mutex_lock(&L.lock);
	atomic_store(&L.exit, true);
	for (w = L.all; w; w = w->next) {
		pthread_cancel(w->tid);
		pthread_cond_signal(&w->wake);
	}
	all = L.all;
	L.all = NULL;
	err = started ? L.error : -EAGAIN;
	pthread_mutex_unlock(&L.lock);
	wake_standby();
	while ((w = all)) {
		pthread_join(w->tid, NULL);
		all = w->next;
		free(w->buf.mem);
		pthread_cond_destroy(&w->wake);
		free(w);
	}
	pthread_mutex_destroy(&L.lock);
	sem_destroy(&L.finish);
	ring_stop();
	if (!err && devio_init_refused())
		err = -EPROTO;
	else if (!err && signalled)
		err = -EINTR;
	fuse_session_reset(se);
	return err;
}
