// SPDX-License-Identifier: Apache-2.0
/*
 * The pods index (pods.h): reading a bundle's config.json, never through a
 * symlink, and bringing the bundle's entry up to date when its identity
 * changed.
 */
#include "podsint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec.h"

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
int pidx_refresh_locked(struct pods *p, const char *plugin, const char *ns, const char *id, int bfd,
			struct pbundle **out)
{
	struct pods_claim claim = {PODS_NONE, NULL, NULL};
	struct pbundle *b = pidx_bundle_find(p, plugin, ns, id);
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
	ret = pidx_bundle_get(p, plugin, ns, id, &b);
	if (ret == 0)
		ret = pidx_install(p, b, &claim);
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
		pidx_bundle_drop(p, b);
		pthread_rwlock_unlock(&p->lock);
	}
	return 0;
}

int pods_refresh(struct pods *p, const char *plugin, const char *ns, const char *id, int bundle_fd)
{
	int ret;

	if (!pidx_key_ok(plugin, ns, id))
		return -EINVAL;
	pthread_mutex_lock(&p->update);
	ret = pidx_refresh_locked(p, plugin, ns, id, bundle_fd, NULL);
	pthread_mutex_unlock(&p->update);
	return ret;
}
