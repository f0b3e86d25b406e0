// SPDX-License-Identifier: Apache-2.0
/*
 * The walks of one look of leaks (leaksint.h): every plugin's bundles
 * (status and addresses through the caller, the directories' identities),
 * then the work dirs, the socket directory and the shims in /proc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirlist.h"
#include "gopath.h"
#include "leaks.h"
#include "leaksint.h"
#include "shimproc.h"
#include "status.h"

static int add_dir(struct gather *g, const struct stat *sb)
{
	if (g->ndirs == g->capdirs) {
		size_t ncap = g->capdirs ? g->capdirs * 2 : 64;
		struct dirid *v = realloc(g->dirs, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->dirs = v;
		g->capdirs = ncap;
	}
	g->dirs[g->ndirs].dev = sb->st_dev;
	g->dirs[g->ndirs].ino = sb->st_ino;
	g->ndirs++;
	return 0;
}

static int dirid_cmp(const void *x, const void *y)
{
	const struct dirid *a = x, *b = y;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Record the socket path an address names, if any: the Clean of what follows unix://. */
static int add_named(struct gather *g, const char *addr, size_t len)
{
	static const char scheme[] = "unix://";
	char *path, *clean;

	if (len < sizeof(scheme) - 1 || memcmp(addr, scheme, sizeof(scheme) - 1) != 0 ||
	    memchr(addr, '\0', len))
		return 0;
	path = strndup(addr + sizeof(scheme) - 1, len - (sizeof(scheme) - 1));
	if (!path)
		return -ENOMEM;
	clean = gopath_clean(path);
	free(path);
	if (!clean)
		return -ENOMEM;
	if (g->nnamed == g->capnamed) {
		size_t ncap = g->capnamed ? g->capnamed * 2 : 64;
		char **v = realloc(g->named, ncap * sizeof(*v));

		if (!v) {
			free(clean);
			return -ENOMEM;
		}
		g->named = v;
		g->capnamed = ncap;
	}
	g->named[g->nnamed++] = clean;
	return 0;
}

/* Errors of the walk that say nothing about an entry: the look fails with them. */
static bool fatal_errno(int err)
{
	return err == ENOMEM || err == EMFILE || err == ENFILE;
}

/* An errno that says a directory is not there (or is no directory). */
static bool absent_errno(int err)
{
	return err == ENOENT || err == ENOTDIR || err == ELOOP;
}

/* ---- bundles ---- */

/* Record the socket that address callback fn (if any) says b names. */
static int name_sockets(struct gather *g,
			int (*fn)(void *, const struct leaks_bundle *, char **, size_t *),
			const struct leaks_bundle *b)
{
	char *addr = NULL;
	size_t alen = 0;
	int ret;

	if (!fn)
		return 0;
	ret = fn(g->in->arg, b, &addr, &alen);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0 || !addr)
		return 0;
	ret = add_named(g, addr, alen);
	free(addr);
	return ret;
}

static int one_bundle(struct gather *g, const struct leaks_plugin *pl, const char *ns,
		      const char *id, int bfd)
{
	const struct leaks_input *in = g->in;
	struct leaks_bundle b = {.plugin = pl, .ns = ns, .id = id, .fd = bfd};
	struct finding f = {.kind = K_BUNDLE};
	struct stat sb;
	bool stale = false;
	int ret;

	if (fstat(bfd, &sb) == 0) {
		ret = add_dir(g, &sb);
		if (ret < 0)
			return ret;
	}
	ret = name_sockets(g, in->address, &b);
	if (ret == 0)
		ret = name_sockets(g, in->debug_address, &b);
	if (ret < 0)
		return ret;
	if (!in->stale)
		return 0;
	if (asprintf(&f.path, "%s/%s/%s", pl->name, ns, id) < 0)
		return -ENOMEM;
	if (!leaks_in_prev(g->prev, &f)) {
		free(f.path);
		return 0;
	}
	ret = in->stale(in->arg, &b, &stale);
	if (ret == -ENOMEM || ret < 0 || !stale) {
		free(f.path);
		return ret == -ENOMEM ? ret : 0;
	}
	return leaks_add(g->out, &f);
}

static int bundles_of_ns(struct gather *g, const struct leaks_plugin *pl, int sfd, const char *ns)
{
	struct dirent *de;
	int ret = 0;
	DIR *d = dirlist_open(sfd, ns);

	if (!d)
		return fatal_errno(errno) ? -errno : 0;
	for (;;) {
		int bfd;

		ret = dirlist_next_dir(d, fatal_errno, &de, &bfd);
		if (ret <= 0) {
			if (ret < 0 && !fatal_errno(-ret))
				ret = 0; /* the listing ends here */
			break;
		}
		ret = one_bundle(g, pl, ns, de->d_name, bfd);
		close(bfd);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

/* Every bundle of every plugin. */
static int walk_bundles(struct gather *g)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < g->in->nplugins; i++) {
		const struct leaks_plugin *pl = &g->in->plugins[i];
		struct dirent *de;
		int sfd;
		DIR *d;

		sfd = open(pl->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0) {
			if (fatal_errno(errno))
				ret = -errno;
			continue;
		}
		d = dirlist_open(sfd, ".");
		if (!d) {
			if (fatal_errno(errno))
				ret = -errno;
			close(sfd);
			continue;
		}
		while (ret == 0 && (de = readdir(d)) != NULL) {
			if (dirlist_maybe_dir(de))
				ret = bundles_of_ns(g, pl, sfd, de->d_name);
		}
		closedir(d);
		close(sfd);
	}
	return ret;
}

/* ---- work dirs ---- */

static int workdirs_of_ns(struct gather *g, const struct leaks_plugin *pl, int wfd, int sfd,
			  const char *ns)
{
	const char *elem[] = {pl->work_dir, ns, NULL};
	struct dirent *de;
	int snsfd = -1, ret = 0;
	DIR *d = dirlist_open(wfd, ns);

	if (!d)
		return fatal_errno(errno) ? -errno : 0;
	if (sfd >= 0) {
		/* S/<ns> missing, or no directory (a symlink is not followed): no bundles */
		snsfd = openat(sfd, ns, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (snsfd < 0 && !absent_errno(errno)) {
			ret = fatal_errno(errno) ? -errno : 0;
			goto out; /* cannot tell: nothing is reported */
		}
	}
	for (;;) {
		struct finding f = {.kind = K_WORKDIR};
		struct stat sb;

		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno && fatal_errno(errno) ? -errno : 0;
			break;
		}
		if (!dirlist_maybe_dir(de))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(sb.st_mode))
			continue;
		if (snsfd >= 0 && fstatat(snsfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISDIR(sb.st_mode))
			continue; /* its bundle */
		elem[2] = de->d_name;
		f.path = gopath_join(elem, 3);
		if (!f.path) {
			ret = -ENOMEM;
			break;
		}
		if (!leaks_in_prev(g->prev, &f)) {
			free(f.path);
			continue;
		}
		ret = leaks_add(g->out, &f);
		if (ret < 0)
			break;
	}
out:
	if (snsfd >= 0)
		close(snsfd);
	closedir(d);
	return ret;
}

int leaks_walk_workdirs(struct gather *g)
{
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < g->in->nplugins; i++) {
		const struct leaks_plugin *pl = &g->in->plugins[i];
		struct dirent *de;
		int wfd, sfd;
		DIR *d;

		wfd = open(pl->work_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (wfd < 0) {
			if (fatal_errno(errno))
				ret = -errno;
			continue;
		}
		/* S missing: every work dir is without its bundle. */
		sfd = open(pl->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0 && !absent_errno(errno)) {
			/* cannot tell: nothing is reported */
			ret = fatal_errno(errno) ? -errno : 0;
			close(wfd);
			continue;
		}
		d = dirlist_open(wfd, ".");
		if (!d && ret == 0 && fatal_errno(errno))
			ret = -errno;
		while (d && ret == 0 && (de = readdir(d)) != NULL) {
			if (dirlist_maybe_dir(de))
				ret = workdirs_of_ns(g, pl, wfd, sfd, de->d_name);
		}
		if (d)
			closedir(d);
		if (sfd >= 0)
			close(sfd);
		close(wfd);
	}
	return ret;
}

/* ---- sockets ---- */

static bool named(const struct gather *g, const char *path)
{
	return g->nnamed > 0 &&
	       bsearch(&path, g->named, g->nnamed, sizeof(*g->named), str_cmp) != NULL;
}

int leaks_walk_sockets(struct gather *g)
{
	const struct leaks_input *in = g->in;
	const char *elem[] = {in->socket_root, "s", NULL};
	struct dirent *de;
	int rootfd, ret = 0;
	DIR *d;

	if (!in->socket_root)
		return 0;
	rootfd = open(in->socket_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return fatal_errno(errno) ? -errno : 0;
	d = dirlist_open(rootfd, "s");
	close(rootfd);
	if (!d)
		return fatal_errno(errno) ? -errno : 0;
	for (;;) {
		struct finding f = {.kind = K_SOCKET};
		struct stat sb;
		char *addr;

		errno = 0;
		de = readdir(d);
		if (!de) {
			ret = errno && fatal_errno(errno) ? -errno : 0;
			break;
		}
		if (de->d_type != DT_SOCK && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISSOCK(sb.st_mode))
			continue;
		elem[2] = de->d_name;
		f.path = gopath_join(elem, 3);
		if (!f.path) {
			ret = -ENOMEM;
			break;
		}
		if (named(g, f.path) || !leaks_in_prev(g->prev, &f)) {
			free(f.path);
			continue;
		}
		if (asprintf(&addr, "unix://%s", f.path) < 0) {
			free(f.path);
			ret = -ENOMEM;
			break;
		}
		ret = status_unix_listening(addr, strlen(addr), in->socket_root,
					    in->connect_timeout_ms, &f.listening);
		free(addr);
		if (ret == 0)
			ret = leaks_add(g->out, &f);
		else
			free(f.path);
		if (ret < 0)
			break;
	}
	closedir(d);
	return ret;
}

/* ---- shims ---- */

static bool bundle_dir(const struct gather *g, const struct shimproc_info *s)
{
	struct dirid key = {.dev = s->cwd_dev, .ino = s->cwd_ino};

	return g->ndirs > 0 &&
	       bsearch(&key, g->dirs, g->ndirs, sizeof(*g->dirs), dirid_cmp) != NULL;
}

int leaks_walk_shims(struct gather *g)
{
	struct shimproc_info *v;
	size_t n;
	int ret = shimproc_list(&v, &n);

	if (ret < 0)
		return ret;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct finding f = {.kind = K_SHIM, .pid = v[i].pid};

		if (!v[i].cwd_known || bundle_dir(g, &v[i]) || !leaks_in_prev(g->prev, &f))
			continue;
		f.exe = v[i].exe;
		f.cwd = v[i].cwd;
		v[i].exe = v[i].cwd = NULL;
		ret = leaks_add(g->out, &f);
	}
	shimproc_list_free(v, n);
	return ret;
}

int leaks_walk_bundles(struct gather *g)
{
	int ret = walk_bundles(g);

	if (ret == 0 && g->ndirs > 1)
		qsort(g->dirs, g->ndirs, sizeof(*g->dirs), dirid_cmp);
	if (ret == 0 && g->nnamed > 1)
		qsort(g->named, g->nnamed, sizeof(*g->named), str_cmp);
	return ret;
}

void leaks_gather_free(struct gather *g)
{
	free(g->dirs);
	for (size_t i = 0; i < g->nnamed; i++)
		free(g->named[i]);
	free(g->named);
}
