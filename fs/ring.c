/* SPDX-License-Identifier: Apache-2.0 */
/* FUSE over io_uring; see ring.h. */
#include "ring.h"

#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

/* The kernel's structures of FUSE over io_uring (protocol 7.42; not in older headers). */
#define RING_HEADER_IN_OUT 128
#define RING_OP_IN_OUT 128

struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id; /* names the request in the reply */
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct ring_req_header {
	char in_out[RING_HEADER_IN_OUT]; /* fuse_in_header, then fuse_out_header */
	char op_in[RING_OP_IN_OUT];	 /* the operation's own header (its first argument) */
	struct ring_ent_in_out ring_ent_in_out;
};

enum { RING_CMD_REGISTER = 1, RING_CMD_COMMIT_AND_FETCH = 2 };

struct ring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

/* A thread of a queue, with its ring and the one entry it owns. */
struct rthread {
	struct queue *q;
	pthread_t tid;
	struct io_uring ring;
	struct ring_req_header *hdr; /* the kernel's: a page of its own */
	char *payload;		     /* the kernel's: the arguments after the first */
	char *stage;		     /* the request laid out as /dev/fuse gives it */
	struct iovec iov[2];
	uint64_t commit_id;
	uint32_t cmd; /* the last command, sent again when the kernel says EAGAIN */
	pthread_mutex_t lock;
	pthread_cond_t replied_cond;
	_Atomic uint64_t unique; /* the request's while it is answered; 0: none */
	bool replied;		 /* by lock */
	_Atomic uint32_t seq;	 /* moved at the start and the end of each request: odd while one */
	atomic_bool registered;	 /* the kernel has taken its entry's REGISTER */
};

struct queue {
	unsigned int qid;
	atomic_uint idle;      /* threads whose entry waits in the kernel */
	unsigned int nthreads; /* by R.lock */
};

static struct {
	struct fuse_session *se;
	unsigned int max_threads;
	bool configured, disabled;
	atomic_bool active, stop;
	int fd;
	size_t payload;
	unsigned int nq;
	struct queue *queues;
	pthread_mutex_t lock;
	struct rthread **threads; /* nq * max_threads; the first nthreads started */
	_Atomic unsigned int nthreads;
	atomic_flag start_failed_logged;
	/* The watchdog: adds a thread to a queue whose threads all wait in a request. */
	pthread_t watchdog;
	bool watchdog_started;
	_Atomic uint32_t watchdog_tick; /* its futex word */
	atomic_bool watchdog_asleep;
	_Atomic uint64_t file; /* the last regular file looked up (kick); 0: none yet */
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The notify_unique of a kick (kick): no retrieve of libfuse's has it (they count from 1). */
#define RING_KICK_UNIQUE (~(uint64_t)0 - 0xb0)

/* The user data of a wake-up at the stop (no entry has it). */
#define RING_WAKE ((uint64_t)(uintptr_t)&R)

static __thread struct rthread *serving;

void ring_configure(struct fuse_session *se, unsigned int max_threads)
{
	R.se = se;
	R.max_threads = max_threads ? max_threads : 1;
	R.configured = true;
}

void ring_disable(void)
{
	R.disabled = true;
}

bool ring_wanted(void)
{
	return R.configured && !R.disabled;
}

void ring_note_file(uint64_t nodeid)
{
	/* Only the ring's kick reads it: on /dev/fuse, no shared write per lookup. */
	if (atomic_load_explicit(&R.active, memory_order_relaxed))
		atomic_store_explicit(&R.file, nodeid, memory_order_relaxed);
}

bool ring_active(void)
{
	return atomic_load(&R.active);
}

bool ring_serving(void)
{
	return serving != NULL;
}

/* The entry's command into the thread's submission queue. */
static void prep_cmd(struct rthread *t, uint32_t cmd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct ring_cmd_req *req;

	if (!sqe) {
		/* One command in flight at a time: cannot happen. */
		blog(BLOG_ERR, "io_uring queue %u: no free submission slot", t->q->qid);
		return;
	}
	memset(sqe, 0, 2 * sizeof(*sqe)); /* 128-byte entries */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = R.fd;
	sqe->cmd_op = cmd;
	io_uring_sqe_set_data(sqe, t);
	req = (struct ring_cmd_req *)sqe->cmd;
	req->qid = (uint16_t)t->q->qid;
	if (cmd == RING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)t->iov;
		sqe->len = 2;
	} else {
		req->commit_id = t->commit_id;
	}
	t->cmd = cmd;
}

/* The reply in iov into t's buffers (the kernel's again at the commit). */
static ssize_t fill_reply(struct rthread *t, const struct iovec *iov, int count)
{
	struct fuse_out_header *out = (struct fuse_out_header *)t->hdr->in_out;
	size_t n = 0, total = iov[0].iov_len;

	memcpy(out, iov[0].iov_base, sizeof(*out));
	for (int i = 1; i < count; i++) {
		total += iov[i].iov_len;
		if (n + iov[i].iov_len > R.payload) {
			blog(BLOG_ERR, "a reply of %zu bytes exceeds the io_uring buffer",
			     n + iov[i].iov_len);
			out->error = -EIO;
			n = 0;
			break;
		}
		memcpy(t->payload + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	out->len = (uint32_t)(sizeof(*out) + n);
	t->hdr->ring_ent_in_out.payload_sz = (uint32_t)n;
	return (ssize_t)total;
}

/* The thread answering the request unique (a reply from another thread). */
static struct rthread *find_thread(uint64_t unique)
{
	unsigned int n = atomic_load_explicit(&R.nthreads, memory_order_acquire);

	for (unsigned int i = 0; i < n; i++)
		if (atomic_load_explicit(&R.threads[i]->unique, memory_order_relaxed) == unique)
			return R.threads[i];
	return NULL;
}

bool ring_reply(const struct iovec *iov, int count, ssize_t *res)
{
	const struct fuse_out_header *out;
	struct rthread *t;

	if (!atomic_load_explicit(&R.active, memory_order_acquire) || count < 1 ||
	    iov[0].iov_len < sizeof(*out))
		return false;
	out = iov[0].iov_base;
	if (out->unique == 0)
		return false;
	t = serving;
	if (!t || atomic_load_explicit(&t->unique, memory_order_relaxed) != out->unique)
		t = find_thread(out->unique);
	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->unique) != out->unique || t->replied) {
		pthread_mutex_unlock(&t->lock);
		return false;
	}
	*res = fill_reply(t, iov, count);
	t->replied = true;
	pthread_cond_signal(&t->replied_cond);
	pthread_mutex_unlock(&t->lock);
	return true;
}

/* Lay out t's request as /dev/fuse gives it: true, or answered EIO here. */
static bool stage(struct rthread *t)
{
	const struct fuse_in_header *in = (const void *)t->hdr->in_out;
	size_t psz = t->hdr->ring_ent_in_out.payload_sz, opsz;

	t->commit_id = t->hdr->ring_ent_in_out.commit_id;
	/* The header's length counts every argument: the first in op_in, the rest in the payload.
	 */
	if (in->len < sizeof(*in) + psz || psz > R.payload ||
	    (opsz = in->len - sizeof(*in) - psz) > RING_OP_IN_OUT) {
		struct fuse_out_header out = {
		    .len = sizeof(out), .error = -EIO, .unique = in->unique};
		struct iovec iov = {.iov_base = &out, .iov_len = sizeof(out)};

		blog(BLOG_ERR, "io_uring request %llu (opcode %u): length %u, payload %zu",
		     (unsigned long long)in->unique, in->opcode, in->len, psz);
		fill_reply(t, &iov, 1);
		return false;
	}
	memcpy(t->stage, in, sizeof(*in));
	memcpy(t->stage + sizeof(*in), t->hdr->op_in, opsz);
	memcpy(t->stage + sizeof(*in) + opsz, t->payload, psz);
	return true;
}

/* Answer the request staged in t; its reply is in t's buffers on return (or the stop came). */
static void answer(struct rthread *t)
{
	const struct fuse_in_header *in = (const void *)t->stage;
	struct fuse_buf buf = {.size = in->len, .mem = t->stage};

	pthread_mutex_lock(&t->lock);
	t->replied = false;
	atomic_store(&t->unique, in->unique);
	pthread_mutex_unlock(&t->lock);
	serving = t;
	fuse_session_process_buf(R.se, &buf);
	serving = NULL;
	pthread_mutex_lock(&t->lock);
	/* A reply from another thread (ring_reply): waited for. */
	while (!t->replied && !atomic_load(&R.stop))
		pthread_cond_wait(&t->replied_cond, &t->lock);
	atomic_store(&t->unique, 0);
	pthread_mutex_unlock(&t->lock);
}

/*
 * A request the kernel wants no reply to (FUSE_NOTIFY_REPLY: a kick, below,
 * or a retrieve's data) still ends with the commit of its entry: an empty
 * reply, committed with the next fetch.
 */
static void no_reply(struct rthread *t)
{
	const struct fuse_in_header *in = (const void *)t->stage;
	struct fuse_out_header out = {.len = sizeof(out), .unique = in->unique};
	struct iovec iov = {.iov_base = &out, .iov_len = sizeof(out)};

	if (in->unique != RING_KICK_UNIQUE) {
		struct fuse_buf buf = {.size = in->len, .mem = t->stage};

		fuse_session_process_buf(R.se, &buf);
	}
	fill_reply(t, &iov, 1);
}

/*
 * Make the kernel send a request to queue qid. A request that found no
 * free entry of its queue waits in the kernel's list until an entry of that
 * queue commits; an entry registered later does not take it. So when the
 * watchdog gives a queue whose threads all wait a new thread, requests may
 * be waiting there for good: a request sent now takes the new entry, and
 * its commit fetches the oldest of them (each later commit the next). The
 * kernel sends a FUSE_NOTIFY_REPLY to the queue of the CPU that asked for a
 * retrieve: asked for here, on qid, of no data of a regular file the kernel
 * knows (it retrieves from no other kind; ring_note_file). One that it
 * forgot since is ENOENT: no kick then, until the next file is looked up.
 */
static void kick(unsigned int qid)
{
	struct {
		struct fuse_out_header h;
		struct fuse_notify_retrieve_out r;
	} msg = {.h = {.len = sizeof(msg), .error = FUSE_NOTIFY_RETRIEVE},
		 .r = {.notify_unique = RING_KICK_UNIQUE,
		       .nodeid = atomic_load_explicit(&R.file, memory_order_relaxed)}};
	cpu_set_t set, was;

	if (!msg.r.nodeid)
		return;
	CPU_ZERO(&set);
	CPU_SET(qid, &set);
	if (sched_getaffinity(0, sizeof(was), &was) < 0 ||
	    sched_setaffinity(0, sizeof(set), &set) < 0)
		return;
	if (write(R.fd, &msg, sizeof(msg)) < 0)
		blog(BLOG_DEBUG, "io_uring queue %u: no kick: %s", qid, strerror(errno));
	sched_setaffinity(0, sizeof(was), &was);
}

static void wake_watchdog(void)
{
	atomic_fetch_add(&R.watchdog_tick, 1);
	syscall(SYS_futex, &R.watchdog_tick, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *ring_thread(void *arg)
{
	struct rthread *t = arg;
	struct queue *q = t->q;
	bool alive = true; /* the entry is the kernel's or ours, not ended */
	cpu_set_t set;

	/* On the queue's CPU, as its callers; left unbound where the daemon may not run there. */
	CPU_ZERO(&set);
	CPU_SET(q->qid, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		blog(BLOG_DEBUG, "io_uring queue %u: thread not bound to its CPU: %s", q->qid,
		     strerror(errno));
	prep_cmd(t, RING_CMD_REGISTER); /* counted idle by thread_add */
	/* The kernel registers the entry as it takes the command. */
	if (io_uring_submit(&t->ring) == 1)
		atomic_store(&t->registered, true);
	while (!atomic_load(&R.stop)) {
		struct io_uring_cqe *cqe;
		uint64_t data;
		int res = io_uring_submit_and_wait(&t->ring, 1);

		if (atomic_load(&R.stop))
			break;
		if (res < 0 && res != -EINTR && res != -EAGAIN && res != -EBUSY) {
			/* The ring itself failed: the thread ends, the watchdog counts it no more.
			 */
			blog(BLOG_ERR, "io_uring queue %u: %s", q->qid, strerror(-res));
			if (alive)
				atomic_fetch_sub(&q->idle, 1);
			break;
		}
		if (io_uring_peek_cqe(&t->ring, &cqe) != 0)
			continue;
		data = cqe->user_data;
		res = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
		if (data == RING_WAKE)
			continue;
		if (res == -EAGAIN || res == -EINTR) {
			prep_cmd(t, t->cmd);
			continue;
		}
		if (res < 0) {
			/* ENOTCONN: the connection ended (unmounted); /dev/fuse says so too. */
			if (res != -ENOTCONN)
				blog(BLOG_ERR, "io_uring queue %u: an entry ended: %s", q->qid,
				     strerror(-res));
			if (alive)
				atomic_fetch_sub(&q->idle, 1);
			alive = false;
			continue;
		}
		atomic_fetch_sub(&q->idle, 1);
		atomic_fetch_add(&t->seq, 1);
		/* Sequentially consistent: the watchdog sleeps only while none runs. */
		if (atomic_load(&R.watchdog_asleep) && atomic_exchange(&R.watchdog_asleep, false))
			wake_watchdog();
		if (stage(t)) {
			if (((const struct fuse_in_header *)t->stage)->opcode == FUSE_NOTIFY_REPLY)
				no_reply(t);
			else
				answer(t);
		}
		atomic_fetch_add(&t->seq, 1);
		atomic_fetch_add(&q->idle, 1);
		prep_cmd(t, RING_CMD_COMMIT_AND_FETCH);
	}
	return NULL;
}

static void *map_buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void thread_free(struct rthread *t)
{
	if (t->hdr)
		munmap(t->hdr, (size_t)sysconf(_SC_PAGESIZE));
	if (t->payload)
		munmap(t->payload, R.payload);
	free(t->stage);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->replied_cond);
	free(t);
}

/* One more thread for q, unless it has max_threads or the stop came: its index + 1, or 0. */
static unsigned int thread_add(struct queue *q)
{
	struct io_uring_params params = {.flags = IORING_SETUP_SQE128};
	struct rthread *t = NULL;
	unsigned int n, started = 0;
	int err = 0;

	pthread_mutex_lock(&R.lock);
	n = atomic_load(&R.nthreads);
	if (atomic_load(&R.stop) || q->nthreads >= R.max_threads)
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t) {
		err = ENOMEM;
		goto out;
	}
	t->q = q;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->replied_cond, NULL);
	t->hdr = map_buffer((size_t)sysconf(_SC_PAGESIZE));
	t->payload = map_buffer(R.payload);
	t->stage = malloc(sizeof(struct fuse_in_header) + RING_OP_IN_OUT + R.payload);
	if (!t->hdr || !t->payload || !t->stage) {
		err = ENOMEM;
		goto out;
	}
	t->iov[0] = (struct iovec){.iov_base = t->hdr, .iov_len = sizeof(*t->hdr)};
	t->iov[1] = (struct iovec){.iov_base = t->payload, .iov_len = R.payload};
	err = -io_uring_queue_init_params(2, &t->ring, &params);
	if (err)
		goto out;
	err = loop_thread_create(&t->tid, ring_thread, t);
	if (err) {
		io_uring_queue_exit(&t->ring);
		goto out;
	}
	R.threads[n] = t;
	atomic_store_explicit(&R.nthreads, n + 1, memory_order_release);
	q->nthreads++;
	atomic_fetch_add(&q->idle, 1); /* from now on: the watchdog adds no other meanwhile */
	t = NULL;
	started = n + 1;
out:
	pthread_mutex_unlock(&R.lock);
	if (t)
		thread_free(t);
	/* Tried again by the watchdog at the next stall: said once. */
	if (err && !atomic_flag_test_and_set(&R.start_failed_logged))
		blog(BLOG_WARNING, "io_uring queue %u: cannot start a thread: %s", q->qid,
		     strerror(err));
	return started;
}

/*
 * Every LOOP_STALL_MS while requests run: a queue whose threads all answer,
 * one of them the same request as a period ago, gets one more thread (a
 * request that waits long holds only its own thread, SPEC 5.3). Asleep
 * while no request runs; the next one wakes it, and it watches a whole
 * period before sleeping again, so that it is woken at most once in each.
 */
static void *watchdog_main(void *arg)
{
	const struct timespec period = {.tv_nsec = LOOP_STALL_MS * 1000000L};
	uint32_t *seen = arg; /* by thread: its seq a period ago */
	/* By queue: the thread just added (index + 1) whose entry a kick waits for. */
	uint32_t *kick_due = seen + (size_t)R.nq * R.max_threads;
	bool busy_before = true;

	while (!atomic_load(&R.stop)) {
		uint32_t tick = atomic_load(&R.watchdog_tick);
		unsigned int n = atomic_load(&R.nthreads);
		bool busy = false;

		/* Once the thread added to a queue has registered its entry. */
		for (unsigned int q = 0; q < R.nq; q++) {
			if (kick_due[q] && atomic_load(&R.threads[kick_due[q] - 1]->registered)) {
				kick_due[q] = 0;
				kick(q);
			}
		}
		for (unsigned int i = 0; i < n; i++) {
			struct rthread *t = R.threads[i];
			uint32_t s = atomic_load(&t->seq);

			if (s & 1) {
				busy = true;
				/* The same request as a period ago, and no thread free. */
				if (s == seen[i] && atomic_load(&t->q->idle) == 0) {
					unsigned int added = thread_add(t->q);

					if (added)
						kick_due[t->q->qid] = added;
				}
			}
			seen[i] = s;
		}
		if (!busy && !busy_before) {
			atomic_store(&R.watchdog_asleep, true);
			busy = false;
			for (unsigned int i = 0; i < n && !busy; i++)
				busy = atomic_load(&R.threads[i]->seq) & 1;
			if (!busy && !atomic_load(&R.stop))
				syscall(SYS_futex, &R.watchdog_tick, FUTEX_WAIT_PRIVATE, tick, NULL,
					NULL, 0);
			atomic_store(&R.watchdog_asleep, false);
			busy_before = true;
			continue;
		}
		busy_before = busy;
		syscall(SYS_futex, &R.watchdog_tick, FUTEX_WAIT_PRIVATE, tick, &period, NULL, 0);
	}
	free(seen);
	return NULL;
}

unsigned int ring_queue_count(const char *list, unsigned int configured)
{
	unsigned long lo, hi, n = configured;
	const char *p = list;
	char *end;

	/* A list of ranges: "0-63", "0,2-5"; anything else ends it. */
	while (p && *p >= '0' && *p <= '9') {
		lo = hi = strtoul(p, &end, 10);
		if (*end == '-' && end[1] >= '0' && end[1] <= '9')
			hi = strtoul(end + 1, &end, 10);
		if (hi < lo || hi >= RING_MAX_QUEUES)
			return configured;
		if (hi + 1 > n)
			n = hi + 1;
		p = *end == ',' ? end + 1 : NULL;
	}
	return (unsigned int)n;
}

/*
 * The kernel's number of queues: one for each possible CPU (its
 * num_possible_cpus), which may be more than are present; it uses the ring
 * only once every queue has an entry.
 */
static unsigned int possible_cpus(void)
{
	unsigned int n = (unsigned int)get_nprocs_conf();
	char list[4096] = "";
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");

	if (!f)
		return n;
	if (!fgets(list, sizeof(list), f))
		list[0] = '\0';
	fclose(f);
	return ring_queue_count(list, n);
}

void ring_start(int fd, size_t payload)
{
	unsigned int nq = possible_cpus();
	uint32_t *seen;
	int err;

	if (!ring_wanted() || R.queues)
		return;
	R.fd = fd;
	R.payload = payload;
	R.queues = calloc(nq, sizeof(*R.queues));
	R.threads = calloc((size_t)nq * R.max_threads, sizeof(*R.threads));
	if (!R.queues || !R.threads) {
		blog(BLOG_WARNING, "FUSE over io_uring not used: out of memory");
		return;
	}
	R.nq = nq;
	atomic_store_explicit(&R.active, true, memory_order_release);
	for (unsigned int i = 0; i < nq; i++) {
		R.queues[i].qid = i;
		for (unsigned int j = 0; j < RING_START_THREADS; j++)
			thread_add(&R.queues[i]);
		if (R.queues[i].nthreads == 0) {
			/* The kernel uses the ring once every queue has an entry: never, then. */
			blog(BLOG_WARNING, "FUSE over io_uring not used: no thread for queue %u",
			     i);
			return;
		}
	}
	/* The watchdog's: each thread's seq a period ago, then each queue's kick_due. */
	seen = calloc((size_t)nq * R.max_threads + nq, sizeof(*seen));
	err = seen ? loop_thread_create(&R.watchdog, watchdog_main, seen) : ENOMEM;
	if (err) {
		free(seen);
		blog(BLOG_WARNING,
		     "io_uring: no watchdog (%s): a request that waits long holds "
		     "its CPU's queue",
		     strerror(err));
	}
	R.watchdog_started = err == 0;
	blog(BLOG_INFO, "FUSE over io_uring: %u queues, one for each CPU", nq);
}

void ring_stop(void)
{
	struct io_uring msg;
	unsigned int n;
	bool msg_ok, woken;

	pthread_mutex_lock(&R.lock);
	atomic_store(&R.stop, true);
	pthread_mutex_unlock(&R.lock);
	if (R.watchdog_started) {
		wake_watchdog();
		pthread_join(R.watchdog, NULL);
		R.watchdog_started = false;
	}
	n = atomic_load(&R.nthreads);
	if (n == 0)
		return;
	for (unsigned int i = 0; i < n; i++) {
		pthread_mutex_lock(&R.threads[i]->lock);
		pthread_cond_broadcast(&R.threads[i]->replied_cond);
		pthread_mutex_unlock(&R.threads[i]->lock);
	}
	/* Each thread waits on its ring: a message from another ring wakes it. */
	msg_ok = io_uring_queue_init(4, &msg, 0) == 0;
	woken = msg_ok;
	for (unsigned int i = 0; woken && i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&msg);
		struct io_uring_cqe *cqe;

		io_uring_prep_msg_ring(sqe, R.threads[i]->ring.ring_fd, 0, RING_WAKE, 0);
		if (io_uring_submit_and_wait(&msg, 1) < 0 || io_uring_wait_cqe(&msg, &cqe) < 0) {
			woken = false;
			break;
		}
		if (cqe->res < 0)
			woken = false;
		io_uring_cqe_seen(&msg, cqe);
	}
	if (!woken)
		blog(BLOG_WARNING, "io_uring threads not woken at the end: left to the exit");
	for (unsigned int i = 0; i < n; i++) {
		struct rthread *t = R.threads[i];

		if (!woken) {
			pthread_detach(t->tid);
			continue;
		}
		pthread_join(t->tid, NULL);
		/* The buffers stay until the exit: the kernel lets go of the entry at the unmount.
		 */
		io_uring_queue_exit(&t->ring);
	}
	if (msg_ok)
		io_uring_queue_exit(&msg);
}
