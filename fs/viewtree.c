/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node view's own nodes as requests see them (SPEC 8.2-8.4): MOUNT
 * (NK_VIEWROOT: C_S with mode 0555, listing the plugin directories there
 * are, pods/ and leaks), pods/ and below it (NK_VIEW, from the pods index)
 * and leaks (NK_VIEW, rendered at open by viewleaks.c). A view node is a
 * name: what it is comes from its path below MOUNT (vt_what), and whether it
 * is still there from the index at each request (a pod or link gone answers
 * ESTALE, and the kernel looks the name up again, as for a name changed
 * beside the mount: docs/DESIGN.md).
 *
 * Caching: entries and attributes of pods/ are cached long while the index
 * follows the stores by their events (view_index_live) and nothing changed
 * in it while the reply was made (its generation, as watch.c's epoch);
 * view_sync invalidates them when the index changes. Listings are never
 * kept by the kernel (no cache_readdir): each is read from the index, in
 * memory. leaks is never cached (attributes 0, direct_io).
 */
#include "viewint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "lookup.h"
#include "watch.h"

/* What a view node is. */
enum vt_kind { VT_ROOT, VT_PODS, VT_POD, VT_CONTAINERS, VT_SANDBOX, VT_CONTAINER, VT_LEAKS };

struct vt_what {
	enum vt_kind kind;
	char pod[NAME_MAX + 1];	 /* VT_POD and below */
	char name[NAME_MAX + 1]; /* a link's name */
};

#define VT_PODS_NAME "pods"
#define VT_LEAKS_NAME "leaks"

/* The path of n below MOUNT, cut at '/': at most 4 names (pods/<pod>/containers/<name>). */
static int vt_what(struct node *n, struct vt_what *w)
{
	char *path, *part[4], *save = NULL;
	size_t len, k = 0;
	int ret;

	memset(w, 0, sizeof(*w));
	if (n->kind == NK_VIEWROOT) {
		w->kind = VT_ROOT;
		return 0;
	}
	ret = node_path(n, &path, &len);
	if (ret < 0)
		return -ESTALE;
	for (char *p = strtok_r(path, "/", &save); p && k < 4; p = strtok_r(NULL, "/", &save))
		part[k++] = p;
	ret = -ESTALE;
	if (k == 1 && !strcmp(part[0], VT_LEAKS_NAME)) {
		w->kind = VT_LEAKS;
		ret = 0;
	} else if (k >= 1 && !strcmp(part[0], VT_PODS_NAME)) {
		w->kind = k == 1 ? VT_PODS : k == 2 ? VT_POD : VT_SANDBOX;
		if (k >= 2)
			strcpy(w->pod, part[1]);
		if (k == 3 && S_ISDIR(n->type) && !strcmp(part[2], PODS_CONTAINERS))
			w->kind = VT_CONTAINERS;
		else if (k == 3)
			strcpy(w->name, part[2]);
		if (k == 4) {
			w->kind = VT_CONTAINER;
			strcpy(w->name, part[3]);
		}
		ret = k == 4 && strcmp(part[2], PODS_CONTAINERS) ? -ESTALE : 0;
	}
	free(path);
	return ret;
}

static bool vt_is_dir(enum vt_kind k)
{
	return k == VT_ROOT || k == VT_PODS || k == VT_POD || k == VT_CONTAINERS;
}

/* A stable inode number for a view node, from what it is. */
static ino_t vt_ino(const struct vt_what *w)
{
	static const char *const tag[] = {"",	     "pods",	  "pod",  "containers",
					  "sandbox", "container", "leaks"};
	uint64_t h = hash_name(0x6e6f6465, tag[w->kind], strlen(tag[w->kind]));

	h = hash_name(h, w->pod, strlen(w->pod) + 1);
	h = hash_name(h, w->name, strlen(w->name));
	return (ino_t)(h | (1ULL << 63));
}

/* What child name of view directory pw is; -ENOENT when it can be nothing. */
static int vt_child(const struct vt_what *pw, const char *name, struct vt_what *w)
{
	*w = *pw;
	switch (pw->kind) {
	case VT_ROOT:
		if (!strcmp(name, VT_PODS_NAME))
			w->kind = VT_PODS;
		else if (!strcmp(name, VT_LEAKS_NAME))
			w->kind = VT_LEAKS;
		else
			return -ENOENT;
		return 0;
	case VT_PODS:
		w->kind = VT_POD;
		strcpy(w->pod, name);
		return 0;
	case VT_POD:
		w->kind = strcmp(name, PODS_CONTAINERS) ? VT_SANDBOX : VT_CONTAINERS;
		if (w->kind == VT_SANDBOX)
			strcpy(w->name, name);
		return 0;
	case VT_CONTAINERS:
		w->kind = VT_CONTAINER;
		strcpy(w->name, name);
		return 0;
	default:
		return -ENOTDIR;
	}
}

/*
 * The attributes of view node w (not VT_ROOT) now: owned as MOUNT, the
 * times of the mount's start; -ESTALE when the index has it no more.
 */
static int vt_attr(const struct vt_what *w, struct stat *st)
{
	char *target = NULL;
	struct stat root;
	int ret = 0;

	if (fstat(bfs.conf.st.state_fd, &root) < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_dev = root.st_dev;
	st->st_uid = root.st_uid;
	st->st_gid = root.st_gid;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = view.started;
	switch (w->kind) {
	case VT_POD:
	case VT_CONTAINERS:
		ret = pods_stat(view.pods, w->pod, NULL);
		break;
	case VT_SANDBOX:
	case VT_CONTAINER:
		ret = pods_readlink(view.pods, w->pod,
				    w->kind == VT_SANDBOX ? PODS_DIR_POD : PODS_DIR_CONTAINERS,
				    w->name, &target);
		break;
	default:
		break;
	}
	if (ret < 0)
		return ret == -ENOENT ? -ESTALE : ret;
	if (vt_is_dir(w->kind)) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else if (target) {
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)strlen(target);
	} else {
		st->st_mode = S_IFREG | 0400; /* leaks */
		st->st_nlink = 1;
	}
	st->st_ino = vt_ino(w);
	free(target);
	return 0;
}

/* MOUNT: C_S as it is, mode 0555 (SPEC 8.2). */
static int vt_root_attr(struct stat *st)
{
	if (fstat(bfs.conf.st.state_fd, st) < 0)
		return -errno;
	st->st_mode = S_IFDIR | 0555;
	return 0;
}

int vt_stat(struct node *n, struct stat *st)
{
	struct vt_what w;
	int ret = vt_what(n, &w);

	if (ret < 0)
		return ret;
	return w.kind == VT_ROOT ? vt_root_attr(st) : vt_attr(&w, st);
}

/* How long a reply about pods/ made since generation gen0 may be cached. */
static double vt_timeout(uint64_t gen0)
{
	return view_index_live() && pods_generation(view.pods) == gen0
		   ? BFS_WATCHED_TIMEOUT
		   : BFS_UNWATCHED_BUNDLE_TIMEOUT;
}

/* The entry of plugin directory pl in MOUNT: the root of its store. */
static int plugin_entry(struct node *root, struct view_plugin *pl, struct fuse_entry_param *e)
{
	unsigned epoch = watch_epoch();
	const struct bundle_conf *conf;
	struct stat st;
	bool created;
	struct node *n;
	int ret = view_store_now(pl, &conf, &st);

	if (ret < 0)
		return ret == -ENOTDIR || ret == -ELOOP ? -ENOENT : ret;
	n = node_attach_conf(root, pl->name, NK_ROOT, &st, NULL, conf, &created);
	if (n && n->conf != conf) {
		/* The node of a removed directory whose number the new one got: a new node. */
		node_forget(n->id, 1);
		node_name_gone(root, pl->name);
		n = node_attach_conf(root, pl->name, NK_ROOT, &st, NULL, conf, &created);
	}
	if (!n)
		return -ENOMEM;
	watch_store_root(n);
	lookup_fill(e, root, n, &st, epoch);
	return 0;
}

/*
 * The entry of name in view directory parent (what), counted as a lookup:
 * 0, -ENOENT when there is none, -errno.
 */
static int vt_entry(struct node *parent, const struct vt_what *pw, const char *name,
		    struct fuse_entry_param *e)
{
	uint64_t gen0 = pods_generation(view.pods);
	struct view_plugin *pl;
	struct vt_what w;
	struct stat st;
	bool created;
	struct node *n;
	int ret;

	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (pw->kind == VT_ROOT && (pl = view_plugin_named(name)))
		return plugin_entry(parent, pl, e);
	ret = vt_child(pw, name, &w);
	if (ret < 0)
		return ret;
	ret = vt_attr(&w, &st);
	if (ret < 0)
		return ret == -ESTALE ? -ENOENT : ret;
	n = node_attach_conf(parent, name, NK_VIEW, &st, NULL, parent->conf, &created);
	if (!n)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	e->ino = n->id;
	e->attr = st;
	e->entry_timeout = vt_timeout(gen0);
	e->attr_timeout = w.kind == VT_LEAKS ? 0 : e->entry_timeout;
	return 0;
}

void vt_lookup(fuse_req_t req, struct node *parent, const char *name)
{
	struct fuse_entry_param e;
	struct vt_what w;
	int ret = vt_what(parent, &w);

	if (ret == 0 && w.kind != VT_ROOT)
		view_index_drain(); /* what a returned call changed is in the index */
	if (ret == 0)
		ret = vt_entry(parent, &w, name, &e);
	if (ret == -ENOENT) {
		/* Absent: briefly, as absent names in watched directories (watch.h). */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = BFS_UNWATCHED_BUNDLE_TIMEOUT;
		fuse_reply_entry(req, &e);
	} else if (ret < 0) {
		fuse_reply_err(req, -ret);
	} else {
		fuse_reply_entry(req, &e);
	}
}

void vt_getattr(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	struct handle *h = fi ? handle_of(fi) : NULL;
	uint64_t gen0 = pods_generation(view.pods);
	unsigned epoch = watch_epoch();
	struct vt_what w;
	struct stat st;
	double timeout;
	int ret = vt_what(n, &w);

	if (ret == 0)
		ret = w.kind == VT_ROOT ? vt_root_attr(&st) : vt_attr(&w, &st);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (w.kind == VT_ROOT)
		timeout = watch_attr_timeout(n, &st, epoch);
	else
		timeout = w.kind == VT_LEAKS ? 0 : vt_timeout(gen0);
	/* An open leaks: the length of the text that open rendered. */
	if (h && h->kind == H_VIEW && w.kind == VT_LEAKS && h->view)
		st.st_size = (off_t)((struct view_text *)h->view)->len;
	fuse_reply_attr(req, &st, timeout);
}

void vt_readlink(fuse_req_t req, struct node *n)
{
	char *target = NULL;
	struct vt_what w;
	int ret = vt_what(n, &w);

	if (ret == 0 && w.kind != VT_SANDBOX && w.kind != VT_CONTAINER)
		ret = -EINVAL;
	if (ret == 0)
		ret = pods_readlink(view.pods, w.pod,
				    w.kind == VT_SANDBOX ? PODS_DIR_POD : PODS_DIR_CONTAINERS,
				    w.name, &target);
	if (ret < 0)
		fuse_reply_err(req, ret == -ENOENT ? ESTALE : -ret);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* ---- listings: one block of entries, each a type byte, an inode number and a name ---- */

struct listing {
	char *buf; /* a struct view_text, then the entries */
	size_t len, cap;
};

static int list_add(struct listing *l, unsigned char type, ino_t ino, const char *name)
{
	size_t need = 1 + sizeof(ino) + strlen(name) + 1;
	char *at;

	if (l->len + need > l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 1024;
		char *b;

		while (ncap < l->len + need)
			ncap *= 2;
		b = realloc(l->buf, sizeof(struct view_text) + ncap);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = ncap;
	}
	at = l->buf + sizeof(struct view_text) + l->len;
	at[0] = (char)type;
	memcpy(at + 1, &ino, sizeof(ino));
	strcpy(at + 1 + sizeof(ino), name);
	l->len += need;
	return 0;
}

/* A child of view directory pw, listed with the inode number its attributes give. */
static int list_child(struct listing *l, const struct vt_what *pw, unsigned char type,
		      const char *name)
{
	struct vt_what w;

	vt_child(pw, name, &w);
	return list_add(l, type, vt_ino(&w), name);
}

static int list_links(struct listing *l, const struct vt_what *pw, enum pods_dir dir)
{
	struct pods_links links;
	int ret = pods_links(view.pods, pw->pod, dir, &links);

	for (size_t i = 0; ret == 0 && i < links.n; i++)
		ret = list_child(l, pw, DT_LNK, links.v[i].name);
	if (ret != -ENOENT)
		pods_links_free(&links);
	return ret == -ENOENT ? -ESTALE : ret;
}

static int list_root(struct listing *l, const struct vt_what *w)
{
	struct stat st;
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < VIEW_NPLUGINS; i++)
		if (fstatat(bfs.conf.st.state_fd, view.plugins[i].name, &st, AT_SYMLINK_NOFOLLOW) ==
			0 &&
		    S_ISDIR(st.st_mode))
			ret = list_add(l, DT_DIR, st.st_ino, view.plugins[i].name);
	if (ret == 0)
		ret = list_child(l, w, DT_DIR, VT_PODS_NAME);
	return ret ? ret : list_child(l, w, DT_REG, VT_LEAKS_NAME);
}

static int list_pods(struct listing *l, const struct vt_what *w)
{
	struct pods_names names;
	int ret;

	ret = pods_list(view.pods, &names);
	if (ret < 0)
		return ret;
	for (size_t i = 0; ret == 0 && i < names.n; i++)
		ret = list_child(l, w, DT_DIR, names.v[i]);
	pods_names_free(&names);
	return ret;
}

/* The listing of view directory w, from the index now. */
static int vt_list(const struct vt_what *w, struct listing *l)
{
	int ret = list_add(l, DT_DIR, vt_ino(w), ".");

	if (ret == 0)
		ret = list_add(l, DT_DIR, 0, "..");
	if (ret < 0)
		return ret;
	switch (w->kind) {
	case VT_ROOT:
		return list_root(l, w);
	case VT_PODS:
		return list_pods(l, w);
	case VT_POD:
		if (pods_stat(view.pods, w->pod, NULL) < 0)
			return -ESTALE;
		ret = list_child(l, w, DT_DIR, PODS_CONTAINERS);
		return ret ? ret : list_links(l, w, PODS_DIR_POD);
	case VT_CONTAINERS:
		return list_links(l, w, PODS_DIR_CONTAINERS);
	default:
		return -ENOTDIR;
	}
}

void vt_opendir(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	struct listing l = {0};
	struct handle *h;
	struct vt_what w;
	int ret = vt_what(n, &w);

	/*
	 * The events queued first; then what no event could tell (a
	 * config.json rewritten beside the mount in a bundle without a
	 * watch) shows within a second, whichever directory of pods/ is
	 * listed.
	 */
	if (ret == 0 && w.kind != VT_ROOT) {
		view_index_drain();
		view_index_rescan_stale();
	}
	if (ret == 0)
		ret = vt_list(&w, &l);
	h = ret == 0 ? handle_new(H_VIEW) : NULL;
	if (ret == 0 && !h)
		ret = -ENOMEM;
	if (ret < 0) {
		free(l.buf);
		fuse_reply_err(req, -ret);
		return;
	}
	((struct view_text *)l.buf)->len = l.len;
	h->view = l.buf;
	node_handle_add(n, h);
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT && node_handle_release(h))
		handle_free(h);
}

void vt_readdir(fuse_req_t req, struct node *n, size_t size, off_t off, struct fuse_file_info *fi,
		bool plus)
{
	const struct view_text *t = handle_of(fi)->view;
	size_t used = 0, at = 0;
	struct vt_what w;
	off_t i = 0;
	char *buf;

	if (vt_what(n, &w) < 0)
		plus = false; /* gone since the listing: entries without attributes */
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (; at < t->len; i++) {
		const char *rec = t->text + at;
		const char *name = rec + 1 + sizeof(ino_t);
		struct fuse_entry_param e;
		size_t need;

		at += 1 + sizeof(ino_t) + strlen(name) + 1;
		if (i < off)
			continue;
		memset(&e, 0, sizeof(e));
		if (plus && strcmp(name, ".") && strcmp(name, "..") &&
		    vt_entry(n, &w, name, &e) < 0)
			memset(&e, 0, sizeof(e)); /* gone since the listing: no attributes */
		if (!e.ino) {
			memcpy(&e.attr.st_ino, rec + 1, sizeof(ino_t));
			e.attr.st_mode = (mode_t)DTTOIF((unsigned char)rec[0]);
		}
		need = plus ? fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1)
			    : fuse_add_direntry(req, buf + used, size - used, name, &e.attr, i + 1);
		if (need > size - used) {
			if (e.ino)
				node_forget(e.ino, 1);
			break;
		}
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

void vt_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi)
{
	struct vt_what w;
	int ret = vt_what(n, &w);

	if (ret == 0 && w.kind != VT_LEAKS)
		ret = vt_is_dir(w.kind) ? -EISDIR : -EINVAL;
	if (ret == 0 && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)))
		ret = bfs.ro ? -EROFS : -EPERM;
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	view_leaks_open(req, n, fi);
}

void vt_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	const struct view_text *t = h->view;

	/*
	 * The reply is written from the handle's text: pinned until the write
	 * returns, since the kernel may send the RELEASE (and another worker
	 * free the text) as soon as it has the data, before writev returns.
	 */
	handle_hold(h);
	if (off < 0 || (size_t)off >= t->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, t->text + off,
			       size < t->len - (size_t)off ? size : t->len - (size_t)off);
	handle_unpin(h);
}

void vt_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	if (node_handle_release(h))
		handle_free(h);
	fuse_reply_err(req, 0);
}
