// SPDX-License-Identifier: Apache-2.0
/*
 * The pods index (pods.h): an entry per complete bundle with the identity of
 * the config.json it was decoded from and what that claims, and an entry per
 * pod with its claimants. Both are glibc search trees (tsearch), so pods
 * come out in byte order and a bundle is found in O(log n). Link names are
 * worked out at each listing from the few claimants of one pod.
 */
#include "pods.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec.h"

/* The CRI annotations of SPEC 8.3, in the order spec_annotations is asked. */
enum { A_NS, A_NAME, A_UID, A_TYPE, A_CNAME, A_COUNT };
static const char *const cri_names[A_COUNT] = {
    "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.sandbox-uid",	   "io.kubernetes.cri.container-type",
    "io.kubernetes.cri.container-name",
};

/* What identifies one content of config.json. */
struct ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct pod;

/* A complete bundle. */
struct pbundle {
	const char *plugin, *ns, *id; /* point into key */
	bool has_ident;		      /* ident is that of the text claim was decoded from */
	bool racy;		      /* ident is not to be trusted: read again */
	struct ident ident;
	struct pods_claim claim;
	struct pod *pod; /* the pod claim names, NULL with PODS_NONE */
	uint64_t scan;	 /* the last rescan that found it (protected by update) */
	char key[];	 /* "plugin\0ns\0id\0" */
};

/* A pod directory: the bundles that claim it, in no particular order. */
struct pod {
	const char *name; /* points into buf */
	struct pbundle **m;
	size_t n, cap;
	uint64_t gen; /* when its links last changed */
	char buf[];
};

struct pods {
	/* Serializes every change, across its reads of config.json. */
	pthread_mutex_t update;
	/*
	 * Protects everything below but scan: written with update held too,
	 * so an updater may read without it.
	 */
	pthread_rwlock_t lock;
	void *bundles; /* tsearch tree of struct pbundle *, by (plugin, ns, id) */
	void *pods;    /* tsearch tree of struct pod *, by name */
	size_t nbundles, npods;
	uint64_t gen;	   /* bumped by every change of a listing */
	uint64_t list_gen; /* when the set of pods last changed */
	uint64_t reads;	   /* config.json texts read */
	uint64_t scan;	   /* the rescan epoch (protected by update) */
};

/* ---- claims ---- */

/* A name a directory entry can have and that is neither "." nor "..". */
static bool entry_name_ok(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return !memchr(s, '/', len) && !memchr(s, '\0', len);
}

static bool value_is(const struct spec_annotation *a, const char *s)
{
	return a->present && a->vlen == strlen(s) && !memcmp(a->value, s, a->vlen);
}

void pods_claim_free(struct pods_claim *c)
{
	free(c->pod);
	free(c->name);
	c->pod = c->name = NULL;
	c->kind = PODS_NONE;
}

int pods_claim_decode(const char *buf, size_t len, struct pods_claim *c)
{
	struct spec_annotation a[A_COUNT];
	enum pods_kind kind = PODS_NONE;
	size_t plen;
	int ret;

	c->kind = PODS_NONE;
	c->pod = c->name = NULL;
	for (size_t i = 0; i < A_COUNT; i++)
		a[i].name = cri_names[i];
	ret = spec_annotations(buf, len, a, A_COUNT);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0 || !a[A_NS].present || !a[A_NAME].present || !a[A_UID].present)
		goto out;
	if (value_is(&a[A_TYPE], "sandbox"))
		kind = PODS_SANDBOX_KIND;
	else if (value_is(&a[A_TYPE], "container") && a[A_CNAME].present &&
		 entry_name_ok(a[A_CNAME].value, a[A_CNAME].vlen))
		kind = PODS_CONTAINER_KIND;
	else
		goto out;
	plen = a[A_NS].vlen + 1 + a[A_NAME].vlen + 1 + a[A_UID].vlen;
	c->pod = malloc(plen + 1);
	if (!c->pod) {
		ret = -ENOMEM;
		goto out;
	}
	/* kubelet's pod log directory: namespace_name_uid */
	memcpy(c->pod, a[A_NS].value, a[A_NS].vlen);
	c->pod[a[A_NS].vlen] = '_';
	memcpy(c->pod + a[A_NS].vlen + 1, a[A_NAME].value, a[A_NAME].vlen);
	c->pod[a[A_NS].vlen + 1 + a[A_NAME].vlen] = '_';
	memcpy(c->pod + a[A_NS].vlen + 1 + a[A_NAME].vlen + 1, a[A_UID].value, a[A_UID].vlen);
	c->pod[plen] = '\0';
	if (!entry_name_ok(c->pod, plen)) {
		free(c->pod);
		c->pod = NULL;
		goto out;
	}
	if (kind == PODS_CONTAINER_KIND) {
		c->name = a[A_CNAME].value; /* no NUL inside: entry_name_ok */
		a[A_CNAME].value = NULL;
	}
	c->kind = kind;
	ret = 0;
out:
	spec_annotations_free(a, A_COUNT);
	return ret == -ENOMEM ? ret : 0;
}

static int claim_copy(const struct pods_claim *from, struct pods_claim *to)
{
	to->kind = PODS_NONE;
	to->pod = to->name = NULL;
	if (!from || from->kind == PODS_NONE)
		return 0;
	if (!from->pod || (from->kind == PODS_CONTAINER_KIND && !from->name))
		return -EINVAL;
	to->pod = strdup(from->pod);
	to->name = from->name && from->kind == PODS_CONTAINER_KIND ? strdup(from->name) : NULL;
	if (!to->pod || (from->kind == PODS_CONTAINER_KIND && !to->name)) {
		pods_claim_free(to);
		return -ENOMEM;
	}
	to->kind = from->kind;
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool claim_eq(const struct pods_claim *a, const struct pods_claim *b)
{
	return a->kind == b->kind && str_eq(a->pod, b->pod) && str_eq(a->name, b->name);
}

/* ---- the trees ---- */

static int bundle_cmp(const void *x, const void *y)
{
	const struct pbundle *a = x, *b = y;
	int c = strcmp(a->plugin, b->plugin);

	if (c == 0)
		c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->id, b->id);
}

static int pod_cmp(const void *x, const void *y)
{
	return strcmp(((const struct pod *)x)->name, ((const struct pod *)y)->name);
}

/* Find a pod by name. Caller holds lock or update. */
static struct pod *pod_find(const struct pods *p, const char *name)
{
	struct pod key = {.name = name};
	void *node = tfind(&key, &p->pods, pod_cmp);

	return node ? *(struct pod **)node : NULL;
}

static struct pbundle *bundle_find(const struct pods *p, const char *plugin, const char *ns,
				   const char *id)
{
	struct pbundle key = {.plugin = plugin, .ns = ns, .id = id};
	void *node = tfind(&key, &p->bundles, bundle_cmp);

	return node ? *(struct pbundle **)node : NULL;
}

static void pod_free(void *x)
{
	struct pod *pod = x;

	free(pod->m);
	free(pod);
}

static void bundle_free(void *x)
{
	struct pbundle *b = x;

	pods_claim_free(&b->claim);
	free(b);
}

/* Take b out of its pod; the pod goes when it was the last. Caller holds both locks. */
static void detach(struct pods *p, struct pbundle *b)
{
	struct pod *pod = b->pod;

	if (!pod)
		return;
	for (size_t i = 0; i < pod->n; i++) {
		if (pod->m[i] == b) {
			pod->m[i] = pod->m[--pod->n];
			break;
		}
	}
	pod->gen = p->gen;
	b->pod = NULL;
	if (pod->n == 0) {
		tdelete(pod, &p->pods, pod_cmp);
		pod_free(pod);
		p->npods--;
		p->list_gen = p->gen;
	}
}

/*
 * Give b the claim c (taken over: c is emptied). A pod c names that does not
 * exist yet is made. Caller holds update; takes lock. Nothing changes on
 * -ENOMEM. Returns whether a listing changed.
 */
static int install_claim(struct pods *p, struct pbundle *b, struct pods_claim *c)
{
	struct pod *pod = NULL, **slot;
	bool made = false;
	int ret = 0;

	if (claim_eq(&b->claim, c)) {
		pods_claim_free(c);
		return 0;
	}
	pthread_rwlock_wrlock(&p->lock);
	if (c->kind != PODS_NONE) {
		size_t len = strlen(c->pod);

		pod = b->pod && !strcmp(b->pod->name, c->pod) ? b->pod : pod_find(p, c->pod);
		if (!pod) {
			pod = calloc(1, sizeof(*pod) + len + 1);
			if (!pod)
				goto nomem;
			memcpy(pod->buf, c->pod, len + 1);
			pod->name = pod->buf;
			slot = tsearch(pod, &p->pods, pod_cmp);
			if (!slot) {
				free(pod);
				goto nomem;
			}
			made = true;
			p->npods++;
		}
		if (pod != b->pod && pod->n == pod->cap) {
			size_t ncap = pod->cap ? pod->cap * 2 : 4;
			struct pbundle **m = realloc(pod->m, ncap * sizeof(*m));

			if (!m) {
				if (made) {
					tdelete(pod, &p->pods, pod_cmp);
					pod_free(pod);
					p->npods--;
				}
				goto nomem;
			}
			pod->m = m;
			pod->cap = ncap;
		}
	}
	p->gen++;
	if (made)
		p->list_gen = p->gen;
	if (pod != b->pod) {
		detach(p, b);
		if (pod) {
			pod->m[pod->n++] = b;
			b->pod = pod;
		}
	}
	if (pod)
		pod->gen = p->gen;
	pods_claim_free(&b->claim);
	b->claim = *c;
	c->pod = c->name = NULL;
	c->kind = PODS_NONE;
	ret = 1;
	goto out;
nomem:
	ret = -ENOMEM;
out:
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

/* The entry of (plugin, ns, id), made (claiming nothing) when missing. Caller holds update. */
static int bundle_get(struct pods *p, const char *plugin, const char *ns, const char *id,
		      struct pbundle **out)
{
	size_t lp = strlen(plugin), ln = strlen(ns), li = strlen(id);
	struct pbundle *b = bundle_find(p, plugin, ns, id);
	void *slot;

	if (b) {
		*out = b;
		return 0;
	}
	b = calloc(1, sizeof(*b) + lp + ln + li + 3);
	if (!b)
		return -ENOMEM;
	memcpy(b->key, plugin, lp + 1);
	memcpy(b->key + lp + 1, ns, ln + 1);
	memcpy(b->key + lp + ln + 2, id, li + 1);
	b->plugin = b->key;
	b->ns = b->key + lp + 1;
	b->id = b->key + lp + ln + 2;
	pthread_rwlock_wrlock(&p->lock);
	slot = tsearch(b, &p->bundles, bundle_cmp);
	if (slot)
		p->nbundles++;
	pthread_rwlock_unlock(&p->lock);
	if (!slot) {
		free(b);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

/* Forget b. Caller holds update and lock (for writing). */
static void bundle_drop(struct pods *p, struct pbundle *b)
{
	if (b->pod)
		p->gen++;
	detach(p, b);
	tdelete(b, &p->bundles, bundle_cmp);
	p->nbundles--;
	bundle_free(b);
}

int pods_new(struct pods **out)
{
	struct pods *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	if (pthread_mutex_init(&p->update, NULL)) {
		free(p);
		return -ENOMEM;
	}
	if (pthread_rwlock_init(&p->lock, NULL)) {
		pthread_mutex_destroy(&p->update);
		free(p);
		return -ENOMEM;
	}
	p->gen = p->list_gen = 1;
	*out = p;
	return 0;
}

void pods_free(struct pods *p)
{
	if (!p)
		return;
	tdestroy(p->bundles, bundle_free);
	tdestroy(p->pods, pod_free);
	pthread_rwlock_destroy(&p->lock);
	pthread_mutex_destroy(&p->update);
	free(p);
}

/* Directory names: not empty, no '/' (a link's target is made of them). */
static bool key_ok(const char *plugin, const char *ns, const char *id)
{
	return plugin && ns && id && plugin[0] && ns[0] && id[0] && !strchr(plugin, '/') &&
	       !strchr(ns, '/') && !strchr(id, '/');
}

int pods_set(struct pods *p, const char *plugin, const char *ns, const char *id,
	     const struct pods_claim *c)
{
	struct pods_claim copy;
	struct pbundle *b;
	int ret;

	if (!key_ok(plugin, ns, id))
		return -EINVAL;
	ret = claim_copy(c, &copy);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&p->update);
	ret = bundle_get(p, plugin, ns, id, &b);
	if (ret == 0) {
		ret = install_claim(p, b, &copy);
		b->has_ident = false;
	}
	pthread_mutex_unlock(&p->update);
	pods_claim_free(&copy);
	return ret < 0 ? ret : 0;
}

/* ---- reading config.json ---- */

static void ident_of(const struct stat *st, struct ident *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
}

static bool ident_eq(const struct ident *a, const struct ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
	       a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec;
}

/* Whether ctime is within PODS_RACY_MS of now (or after it). */
static bool recent(const struct ident *id)
{
	struct timespec now;
	int64_t age_ms;

	if (clock_gettime(CLOCK_REALTIME, &now) < 0)
		return true;
	age_ms = ((int64_t)now.tv_sec - (int64_t)id->ctim.tv_sec) * 1000 +
		 ((int64_t)now.tv_nsec - (int64_t)id->ctim.tv_nsec) / 1000000;
	return age_ms < PODS_RACY_MS;
}

/* An errno that says config.json is not there as a regular file. */
static bool absent_errno(int err)
{
	return err == ENOENT || err == ENOTDIR || err == ELOOP || err == ENXIO;
}

/*
 * Read bfd/config.json, never through a symlink, never waiting on a FIFO.
 * 0 with the text, or -EFBIG (larger than SPEC_MAX_SIZE: no text), both with
 * its identity and racy; -ENOENT when it is no regular file; other -errno.
 */
static int read_config(int bfd, char **buf, size_t *len, struct ident *id, bool *racy)
{
	struct stat st1, st2;
	size_t cap, have = 0;
	char *text = NULL;
	int fd, ret = 0;

	*buf = NULL;
	*len = 0;
	fd = openat(bfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return absent_errno(errno) ? -ENOENT : -errno;
	if (fstat(fd, &st1) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st1.st_mode)) {
		ret = -ENOENT;
		goto out;
	}
	ident_of(&st1, id);
	if ((uint64_t)st1.st_size > SPEC_MAX_SIZE) {
		*racy = recent(id);
		ret = -EFBIG;
		goto out;
	}
	/* One byte more than the size, to see a file that grew. */
	cap = (size_t)st1.st_size + 1;
	text = malloc(cap + 1);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, text + have, cap - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > SPEC_MAX_SIZE) {
			ret = -EFBIG;
			break;
		}
		if (have == cap) {
			size_t ncap = cap * 2 > SPEC_MAX_SIZE + 1 ? SPEC_MAX_SIZE + 1 : cap * 2;
			char *t = realloc(text, ncap + 1);

			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			text = t;
			cap = ncap;
		}
	}
	*racy = fstat(fd, &st2) < 0 || st2.st_size != st1.st_size ||
		st2.st_mtim.tv_sec != st1.st_mtim.tv_sec ||
		st2.st_mtim.tv_nsec != st1.st_mtim.tv_nsec ||
		st2.st_ctim.tv_sec != st1.st_ctim.tv_sec ||
		st2.st_ctim.tv_nsec != st1.st_ctim.tv_nsec || (size_t)st1.st_size != have ||
		recent(id);
	if (ret == 0) {
		text[have] = '\0';
		*buf = text;
		*len = have;
		text = NULL;
	} else {
		*racy = true;
	}
out:
	free(text);
	close(fd);
	return ret;
}

/*
 * pods_refresh with update held. *out: the entry after it (NULL when the
 * bundle is not complete, or out NULL).
 */
static int refresh_locked(struct pods *p, const char *plugin, const char *ns, const char *id,
			  int bfd, struct pbundle **out)
{
	struct pods_claim claim = {PODS_NONE, NULL, NULL};
	struct pbundle *b = bundle_find(p, plugin, ns, id);
	struct ident now;
	struct stat st;
	bool racy = false;
	char *text;
	size_t len;
	int ret;

	if (out)
		*out = NULL;
	if (bfd < 0 || ns[0] == '.' || id[0] == '.')
		goto gone;
	if (fstatat(bfd, "config.json", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (absent_errno(errno))
			goto gone;
		return -errno;
	}
	if (!S_ISREG(st.st_mode))
		goto gone;
	ident_of(&st, &now);
	if (b && b->has_ident && !b->racy && ident_eq(&b->ident, &now)) {
		if (out)
			*out = b;
		return 0;
	}
	ret = read_config(bfd, &text, &len, &now, &racy);
	if (ret == -ENOENT)
		goto gone;
	if (ret < 0 && ret != -EFBIG)
		return ret;
	pthread_rwlock_wrlock(&p->lock);
	p->reads++;
	pthread_rwlock_unlock(&p->lock);
	if (ret == 0) {
		ret = pods_claim_decode(text, len, &claim);
		free(text);
		if (ret < 0)
			return ret;
	}
	ret = bundle_get(p, plugin, ns, id, &b);
	if (ret == 0)
		ret = install_claim(p, b, &claim);
	pods_claim_free(&claim);
	if (ret < 0)
		return ret;
	b->ident = now;
	b->has_ident = true;
	b->racy = racy;
	if (out)
		*out = b;
	return 0;
gone:
	if (b) {
		pthread_rwlock_wrlock(&p->lock);
		bundle_drop(p, b);
		pthread_rwlock_unlock(&p->lock);
	}
	return 0;
}

int pods_refresh(struct pods *p, const char *plugin, const char *ns, const char *id, int bundle_fd)
{
	int ret;

	if (!key_ok(plugin, ns, id))
		return -EINVAL;
	pthread_mutex_lock(&p->update);
	ret = refresh_locked(p, plugin, ns, id, bundle_fd, NULL);
	pthread_mutex_unlock(&p->update);
	return ret;
}

/* ---- removing many ---- */

struct collect {
	const char *plugin, *ns, *id; /* NULL: any */
	uint64_t not_scan;	      /* with sweep: entries whose scan differs */
	bool sweep;
	struct pbundle **v;
	size_t n, cap;
	bool nomem;
};

static void collect_one(const void *node, VISIT which, void *arg)
{
	struct pbundle *b = *(struct pbundle *const *)node;
	struct collect *c = arg;

	if (which != postorder && which != leaf)
		return;
	if (strcmp(b->plugin, c->plugin) || (c->ns && strcmp(b->ns, c->ns)) ||
	    (c->id && strcmp(b->id, c->id)) || (c->sweep && b->scan == c->not_scan))
		return;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct pbundle **v = realloc(c->v, ncap * sizeof(*v));

		if (!v) {
			c->nomem = true;
			return;
		}
		c->v = v;
		c->cap = ncap;
	}
	c->v[c->n++] = b;
}

/* Drop the bundles c selects. Caller holds update. */
static int drop_selected(struct pods *p, struct collect *c)
{
	/* Collected first: the tree must not change under twalk_r. */
	twalk_r(p->bundles, collect_one, c);
	if (c->nomem) {
		free(c->v);
		return -ENOMEM;
	}
	if (c->n) {
		pthread_rwlock_wrlock(&p->lock);
		for (size_t i = 0; i < c->n; i++)
			bundle_drop(p, c->v[i]);
		pthread_rwlock_unlock(&p->lock);
	}
	free(c->v);
	return 0;
}

int pods_remove(struct pods *p, const char *plugin, const char *ns, const char *id)
{
	struct collect c = {.plugin = plugin, .ns = ns, .id = ns ? id : NULL};
	int ret;

	if (!plugin)
		return -EINVAL;
	pthread_mutex_lock(&p->update);
	if (ns && id) {
		struct pbundle *b = bundle_find(p, plugin, ns, id);

		if (b) {
			pthread_rwlock_wrlock(&p->lock);
			bundle_drop(p, b);
			pthread_rwlock_unlock(&p->lock);
		}
		ret = 0;
	} else {
		ret = drop_selected(p, &c);
	}
	pthread_mutex_unlock(&p->update);
	return ret;
}

/* ---- rescan ---- */

/* Errors that say nothing about the entry being looked at: the scan stops. */
static bool fatal_errno(int err)
{
	return err == ENOMEM || err == EMFILE || err == ENFILE || err == EIO || err == EINTR;
}

static bool maybe_dir(const struct dirent *de)
{
	return de->d_name[0] != '.' && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN);
}

static int scan_ns(struct pods *p, const char *plugin, int plugin_fd, const char *ns,
		   uint64_t epoch)
{
	struct dirent *de;
	int nsfd, ret = 0;
	DIR *d;

	nsfd = openat(plugin_fd, ns, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nsfd < 0)
		return fatal_errno(errno) ? -errno : 0;
	d = fdopendir(nsfd);
	if (!d) {
		ret = -errno;
		close(nsfd);
		return ret;
	}
	for (;;) {
		struct pbundle *b;
		int bfd;

		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno ? -errno : 0;
			break;
		}
		if (!maybe_dir(de))
			continue;
		bfd = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (bfd < 0) {
			if (fatal_errno(errno)) {
				ret = -errno;
				break;
			}
			continue;
		}
		ret = refresh_locked(p, plugin, ns, de->d_name, bfd, &b);
		close(bfd);
		if (ret < 0 && fatal_errno(-ret))
			break;
		ret = 0;
		/* An entry whose refresh failed otherwise is kept as it was. */
		b = b ? b : bundle_find(p, plugin, ns, de->d_name);
		if (b)
			b->scan = epoch;
	}
	closedir(d);
	return ret;
}

int pods_rescan(struct pods *p, const char *plugin, int plugin_fd)
{
	struct collect c = {.plugin = plugin, .sweep = true};
	struct dirent *de;
	int dfd, ret = 0;
	DIR *d;

	if (!key_ok(plugin, ".", "."))
		return -EINVAL;
	pthread_mutex_lock(&p->update);
	c.not_scan = ++p->scan;
	if (plugin_fd < 0)
		goto sweep;
	dfd = openat(plugin_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		ret = -errno;
		goto out;
	}
	d = fdopendir(dfd);
	if (!d) {
		ret = -errno;
		close(dfd);
		goto out;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno ? -errno : 0;
			break;
		}
		if (!maybe_dir(de))
			continue;
		ret = scan_ns(p, plugin, dirfd(d), de->d_name, c.not_scan);
		if (ret < 0)
			break;
	}
	closedir(d);
	if (ret < 0)
		goto out;
sweep:
	ret = drop_selected(p, &c);
out:
	pthread_mutex_unlock(&p->update);
	return ret;
}

/* ---- queries ---- */

uint64_t pods_generation(struct pods *p)
{
	uint64_t gen;

	pthread_rwlock_rdlock(&p->lock);
	gen = p->gen;
	pthread_rwlock_unlock(&p->lock);
	return gen;
}

int pods_stat(struct pods *p, const char *pod, uint64_t *gen)
{
	int ret = 0;

	pthread_rwlock_rdlock(&p->lock);
	if (!pod) {
		if (gen)
			*gen = p->list_gen;
	} else {
		struct pod *x = pod_find(p, pod);

		if (!x)
			ret = -ENOENT;
		else if (gen)
			*gen = x->gen;
	}
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

struct names_walk {
	struct pods_names *out;
	bool nomem;
};

static void name_one(const void *node, VISIT which, void *arg)
{
	const struct pod *pod = *(struct pod *const *)node;
	struct names_walk *w = arg;

	if ((which != postorder && which != leaf) || w->nomem)
		return;
	w->out->v[w->out->n] = strdup(pod->name);
	if (!w->out->v[w->out->n])
		w->nomem = true;
	else
		w->out->n++;
}

void pods_names_free(struct pods_names *names)
{
	for (size_t i = 0; i < names->n; i++)
		free(names->v[i]);
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

int pods_list(struct pods *p, struct pods_names *out)
{
	struct names_walk w = {.out = out};

	out->n = 0;
	pthread_rwlock_rdlock(&p->lock);
	out->v = malloc((p->npods ? p->npods : 1) * sizeof(*out->v));
	if (out->v)
		twalk_r(p->pods, name_one, &w);
	out->gen = p->list_gen;
	pthread_rwlock_unlock(&p->lock);
	if (!out->v || w.nomem) {
		pods_names_free(out);
		return -ENOMEM;
	}
	return 0;
}

/* A claimant of a link name, and the entry it makes. */
struct cand {
	const char *claimed; /* the name claimed: "sandbox" or the container's */
	const struct pbundle *b;
	size_t order; /* its place in the order of (claimed, id, plugin, ns) */
	bool bare;
	char *name; /* the entry's name */
};

static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int c = strcmp(a->claimed, b->claimed);

	if (c == 0)
		c = strcmp(a->b->id, b->b->id);
	if (c == 0)
		c = strcmp(a->b->plugin, b->b->plugin);
	return c ? c : strcmp(a->b->ns, b->b->ns);
}

/* By entry name; the bare one first, then the first claimant. */
static int entry_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	if (a->bare != b->bare)
		return a->bare ? -1 : 1;
	return a->order < b->order ? -1 : a->order > b->order;
}

void pods_links_free(struct pods_links *links)
{
	for (size_t i = 0; i < links->n; i++) {
		free(links->v[i].name);
		free(links->v[i].target);
	}
	free(links->v);
	links->v = NULL;
	links->n = 0;
}

/* The links of one directory of pod (pods.h). Caller holds lock. */
static int build_links(const struct pod *pod, enum pods_dir dir, struct pods_links *out)
{
	enum pods_kind kind = dir == PODS_DIR_POD ? PODS_SANDBOX_KIND : PODS_CONTAINER_KIND;
	const char *up = dir == PODS_DIR_POD ? "../../" : "../../../";
	struct cand *c;
	size_t n = 0, k = 0;
	int ret = 0;

	out->v = NULL;
	out->n = 0;
	out->gen = pod->gen;
	c = calloc(pod->n ? pod->n : 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < pod->n; i++) {
		const struct pbundle *b = pod->m[i];

		if (b->claim.kind != kind)
			continue;
		c[n].claimed = kind == PODS_SANDBOX_KIND ? PODS_SANDBOX : b->claim.name;
		c[n++].b = b;
	}
	qsort(c, n, sizeof(*c), cand_cmp);
	/* Name the entries: bare when alone, else <name>.<id> once per id. */
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !strcmp(c[j].claimed, c[i].claimed); j++)
			;
		for (size_t m = i; m < j; m++) {
			c[m].order = m;
			if (m > i && !strcmp(c[m].b->id, c[m - 1].b->id))
				continue; /* the same name and id: listed once */
			c[m].bare = j - i == 1;
			if (c[m].bare)
				c[m].name = strdup(c[m].claimed);
			else if (asprintf(&c[m].name, "%s.%s", c[m].claimed, c[m].b->id) < 0)
				c[m].name = NULL;
			if (!c[m].name) {
				ret = -ENOMEM;
				goto out;
			}
		}
	}
	/* Entries by name; of the same name, the first after entry_cmp. */
	for (size_t i = 0; i < n; i++)
		if (c[i].name)
			c[k++] = c[i];
	n = k;
	qsort(c, n, sizeof(*c), entry_cmp);
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct pbundle *b = c[i].b;
		struct pods_link *l = &out->v[out->n];

		if (out->n > 0 && !strcmp(c[i].name, out->v[out->n - 1].name))
			continue; /* entry_cmp put the one to list first */
		if (asprintf(&l->target, "%s%s/%s/%s", up, b->plugin, b->ns, b->id) < 0) {
			ret = -ENOMEM;
			goto out;
		}
		l->name = c[i].name;
		c[i].name = NULL;
		out->n++;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
	if (ret < 0)
		pods_links_free(out);
	return ret;
}

int pods_links(struct pods *p, const char *pod, enum pods_dir dir, struct pods_links *out)
{
	struct pod *x;
	int ret;

	out->v = NULL;
	out->n = 0;
	out->gen = 0;
	pthread_rwlock_rdlock(&p->lock);
	x = pod_find(p, pod);
	ret = x ? build_links(x, dir, out) : -ENOENT;
	pthread_rwlock_unlock(&p->lock);
	return ret;
}

int pods_readlink(struct pods *p, const char *pod, enum pods_dir dir, const char *name,
		  char **target)
{
	struct pods_links links;
	int ret = pods_links(p, pod, dir, &links);

	*target = NULL;
	if (ret < 0)
		return ret;
	ret = -ENOENT;
	for (size_t i = 0; i < links.n; i++) {
		if (!strcmp(links.v[i].name, name)) {
			*target = links.v[i].target;
			links.v[i].target = NULL;
			ret = 0;
			break;
		}
	}
	pods_links_free(&links);
	return ret;
}

void pods_get_stats(struct pods *p, struct pods_stats *st)
{
	pthread_rwlock_rdlock(&p->lock);
	st->bundles = p->nbundles;
	st->pods = p->npods;
	st->reads = p->reads;
	pthread_rwlock_unlock(&p->lock);
}
