/* SPDX-License-Identifier: Apache-2.0 */
/* What a bundle directory shows through the mount; see bundledir.h. */
#include "bundledir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay.h"

bool bundle_complete(int bfd)
{
	struct stat st;

	return fstatat(bfd, "config.json", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

bool bundle_is_work_link(const struct bundle_conf *c, const char *name)
{
	return c->runtime == RUNTIME_V2 && !strcmp(name, "work");
}

bool bundle_work_hidden(const struct bundle_conf *c, int bfd, const char *name)
{
	return bundle_is_work_link(c, name) && !bundle_complete(bfd);
}

int bundle_has_work_link(int bfd)
{
	struct stat st;

	if (fstatat(bfd, "work", &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISLNK(st.st_mode);
}

void bundle_list_free(struct bundle_entry *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].name);
	free(list);
}

/* Append an entry to *list (*n used, *cap allocated). */
static int list_add(struct bundle_entry **list, size_t *n, size_t *cap, const char *name, ino_t ino,
		    unsigned char type)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct bundle_entry *l = realloc(*list, ncap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		*list = l;
		*cap = ncap;
	}
	(*list)[*n].name = strdup(name);
	if (!(*list)[*n].name)
		return -ENOMEM;
	(*list)[*n].ino = ino;
	(*list)[*n].type = type;
	(*n)++;
	return 0;
}

int bundle_list(const struct bundle_conf *c, int fd, struct bundle_entry **list, size_t *n)
{
	const struct ovl *computed[8];
	size_t ncomputed = 0, cap = 0, used = 0;
	struct bundle_entry *l = NULL;
	char dents[32768];
	bool hide_work = bundle_work_hidden(c, fd, "work");
	ssize_t got = 0;
	int ret = 0;

	for (size_t i = 0; ovl_at(c, i) && ncomputed < 8; i++)
		if (ovl_is_computed(ovl_at(c, i)))
			computed[ncomputed++] = ovl_at(c, i);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	while (ret == 0 && (got = getdents64(fd, dents, sizeof(dents))) > 0) {
		for (ssize_t pos = 0; ret == 0 && pos < got;) {
			struct dirent64 *de = (struct dirent64 *)(dents + pos);
			const struct ovl *ov = ovl_find(c, de->d_name);

			pos += de->d_reclen;
			if (ov && !ovl_listed(ov, fd, de->d_name, de->d_type))
				continue;
			if (hide_work && !strcmp(de->d_name, "work"))
				continue;
			for (size_t i = 0; ov && i < ncomputed; i++)
				if (computed[i] == ov)
					computed[i] = NULL; /* listed already */
			ret = list_add(&l, &used, &cap, de->d_name, de->d_ino, de->d_type);
		}
	}
	if (ret == 0 && got < 0)
		ret = -errno;
	for (size_t i = 0; ret == 0 && i < ncomputed; i++)
		if (computed[i])
			ret = list_add(&l, &used, &cap, ovl_name(computed[i]), 0, DT_REG);
	if (ret < 0) {
		bundle_list_free(l, used);
		return ret;
	}
	*list = l;
	*n = used;
	return 0;
}

int bundle_unlink_own(const struct bundle_conf *c, const char *ns, const char *id,
		      const struct ovl *o)
{
	struct stat st;
	int ret;

	if (o && ovl_may_unlink(o)) {
		ret = ovl_unlink(c, o, ns, id);
		if (ret != -ENOENT || !ovl_is_computed(o))
			return ret;
		/* A computed address with nothing stored: released as the others. */
	} else if (o && !ovl_is_computed(o)) {
		/* config.json: released only if there is one. */
		ret = ovl_stat(c, o, ns, id, &st);
		if (ret < 0)
			return ret;
	}
	return 1;
}
