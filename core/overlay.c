/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay files of a bundle (SPEC 4.1-4.5), described once per runtime
 * as a table of kinds; see overlay.h for the protocol.
 */
#include "overlay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "addr.h"
#include "gopath.h"
#include "log.h"
#include "ropts.h"
#include "shimcfg.h"
#include "spec.h"
#include "status.h"
#include "tree.h"
#include "v2.h"

#define ADDRESS_MAX (64u * 1024)

enum ovl_kind { OVL_CONFIG, OVL_ADDRESS, OVL_SHIMCFG, OVL_ROPTS, OVL_STATUS };

typedef int (*ovl_validate_fn)(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz);

/* The computed content of a kind in bundle bfd (O_PATH) S/<ns>/<id>: malloc'd. */
typedef int (*ovl_compute_fn)(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len);

struct ovl {
	const char *name;
	enum ovl_kind kind;
	mode_t computed_mode; /* mode of computed content; 0: stored only */
	bool writable;	      /* staged writes, committed at close */
	bool may_unlink;
	size_t max;		  /* largest content accepted */
	ovl_validate_fn validate; /* NULL: any bytes */
	ovl_compute_fn compute;	  /* NULL: stored only */
	bool storable;		  /* a stored regular file, if any, is what reads return */
};

static int compute_address_v1(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len);
static int compute_address_v2(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len);
static int compute_shimcfg_v1(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len);
static int compute_shimcfg_v2(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len);
static int compute_status(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			  char **buf, size_t *len);

static int validate_config(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz)
{
	return spec_remapped_gid(buf, len, gid, why, whysz);
}

static int validate_ropts(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz)
{
	struct ropts ro;
	int ret;

	*gid = 0;
	ret = ropts_parse(buf, len, &ro, why, whysz);
	if (ret == 0)
		ropts_free(&ro);
	return ret;
}

static const struct ovl v1_kinds[] = {
    {"config.json", OVL_CONFIG, 0, true, false, SPEC_MAX_SIZE, validate_config, NULL, true},
    {"address", OVL_ADDRESS, 0644, true, true, ADDRESS_MAX, NULL, compute_address_v1, true},
    {"shim-config", OVL_SHIMCFG, 0444, false, false, 0, NULL, compute_shimcfg_v1, false},
    {"runc-options", OVL_ROPTS, 0, true, true, ROPTS_MAX_SIZE, validate_ropts, NULL, true},
    {"status", OVL_STATUS, 0444, false, false, 0, NULL, compute_status, false},
};

/*
 * v2 bundles (SPEC 7.2) share config.json's rules; their address and
 * shim-config are computed as the runc v2 shim and containerd 2.x do, and
 * runc-options is a passthrough entry there.
 */
static const struct ovl v2_kinds[] = {
    {"config.json", OVL_CONFIG, 0, true, false, SPEC_MAX_SIZE, validate_config, NULL, true},
    {"address", OVL_ADDRESS, 0644, true, true, ADDRESS_MAX, NULL, compute_address_v2, true},
    {"shim-config", OVL_SHIMCFG, 0444, false, false, 0, NULL, compute_shimcfg_v2, false},
    {"status", OVL_STATUS, 0444, false, false, 0, NULL, compute_status, false},
};

static const struct {
	const struct ovl *kinds;
	size_t n;
} tables[] = {
    [RUNTIME_V1] = {v1_kinds, sizeof(v1_kinds) / sizeof(v1_kinds[0])},
    [RUNTIME_V2] = {v2_kinds, sizeof(v2_kinds) / sizeof(v2_kinds[0])},
};

/* An open overlay file. */
struct ovl_file {
	const struct bundle_conf *c;
	const struct ovl *o;
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	bool writable;
	uid_t uid; /* the opener, owner of what it stores */
	gid_t gid;
	/* Read snapshot (computed content, stored address): immutable after open. */
	char *snap;
	size_t snaplen;
	struct stat snapst;
	pthread_mutex_t lock;
	/* The rest is protected by lock. */
	int fd;		  /* read: the stored file; write: staging or committed file; -1 */
	int nsfd;	  /* S/<ns>, where a writable handle stages; -1 */
	bool staged;	  /* fd is a private staging file, not the stored one */
	bool linkable;	  /* fd is an O_TMPFILE that was never linked */
	char tmpname[64]; /* name of a named (fallback) staging file in S/<ns>, "" when none */
	bool dirty;	  /* staged content differs from the stored file */
	bool written;	  /* written to (or ftruncated) since open or the last commit */
	bool toobig;	  /* a write went past the maximum: nothing is committed */
	bool created;	/* no stored file existed when this handle made it, none committed since */
	bool discard;	/* a released read-only kind made again: writes are accepted and dropped */
	bool mode_set;	/* the opener chose the stored mode (ovl_fchmod): commit keeps it */
	bool owner_set; /* likewise the owner (ovl_fchown) */
};

const struct ovl *ovl_find(const struct bundle_conf *c, const char *name)
{
	size_t i;

	if ((size_t)c->runtime >= sizeof(tables) / sizeof(tables[0]))
		return NULL;
	for (i = 0; i < tables[c->runtime].n; i++) {
		if (!strcmp(tables[c->runtime].kinds[i].name, name))
			return &tables[c->runtime].kinds[i];
	}
	return NULL;
}

const struct ovl *ovl_at(const struct bundle_conf *c, size_t i)
{
	if ((size_t)c->runtime >= sizeof(tables) / sizeof(tables[0]) || i >= tables[c->runtime].n)
		return NULL;
	return &tables[c->runtime].kinds[i];
}

const char *ovl_name(const struct ovl *o)
{
	return o->name;
}

bool ovl_is_computed(const struct ovl *o)
{
	return o->computed_mode != 0;
}

bool ovl_may_unlink(const struct ovl *o)
{
	return o->may_unlink;
}

bool ovl_may_setattr(const struct ovl *o)
{
	return o->storable;
}

bool ovl_listed(const struct ovl *o, int dirfd, const char *name, unsigned char d_type)
{
	struct stat st;

	if (ovl_is_computed(o))
		return true;
	if (d_type != DT_UNKNOWN)
		return d_type == DT_REG;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

static int check_names(const char *ns, const char *id)
{
	if (strlen(ns) > NAME_MAX || strlen(id) > NAME_MAX)
		return -ENAMETOOLONG;
	if (!*ns || !*id || strchr(ns, '/') || strchr(id, '/'))
		return -EINVAL;
	return 0;
}

/* S/<ns> as an O_PATH directory descriptor, or -errno. */
static int open_ns(const struct bundle_conf *c, const char *ns)
{
	return store_open_beneath(c->st.state_fd, ns, O_PATH | O_DIRECTORY, 0);
}

static int open_bundle(const struct bundle_conf *c, const char *ns, const char *id)
{
	char rel[2 * NAME_MAX + 2];
	int ret = check_names(ns, id);

	if (ret < 0)
		return ret;
	snprintf(rel, sizeof(rel), "%s/%s", ns, id);
	return store_open_beneath(c->st.state_fd, rel, O_PATH | O_DIRECTORY, 0);
}

/* The whole content of fd from offset 0, at most max bytes (-EFBIG past it), NUL-terminated. */
static int read_fd(int fd, size_t max, char **buf, size_t *len)
{
	size_t cap = 4096, got = 0;
	char *data = NULL;
	ssize_t n;

	for (;;) {
		char *bigger = realloc(data, cap + 1);

		if (!bigger) {
			free(data);
			return -ENOMEM;
		}
		data = bigger;
		n = pread(fd, data + got, cap - got, (off_t)got);
		if (n < 0) {
			free(data);
			return -errno;
		}
		got += (size_t)n;
		if (got > max) {
			free(data);
			return -EFBIG;
		}
		if (n == 0)
			break;
		if (got == cap)
			cap *= 2;
	}
	data[got] = '\0';
	*buf = data;
	*len = got;
	return 0;
}

/*
 * Open bfd/name for reading if it is a regular file (never following a
 * symlink, never blocking on a FIFO): a descriptor, -ENOENT for anything
 * else, or -errno.
 */
static int open_regular(int bfd, const char *name, struct stat *st)
{
	int fd = openat(bfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return (errno == ELOOP || errno == ENXIO) ? -ENOENT : -errno;
	if (fstat(fd, st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

static int compute_address_v1(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len)
{
	(void)bfd;
	*buf = c->legacy_address ? addr_legacy(ns, id)
				 : addr_computed(c->socket_root, c->daemon_address, ns, id);
	if (!*buf)
		return -ENOMEM;
	*len = strlen(*buf);
	return 0;
}

static void v2_node_of(const struct bundle_conf *c, struct v2_node *node)
{
	node->socket_root = c->socket_root;
	node->daemon_address = c->daemon_address;
	node->bundle_root = c->bundle_root;
	node->work_root = c->st.work_path;
	node->state_fd = c->st.state_fd;
}

static int compute_address_v2(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len)
{
	struct v2_node node;

	v2_node_of(c, &node);
	return v2_address(bfd, &node, ns, id, buf, len);
}

/* The runc options a v1 bundle has: its regular, valid runc-options, else none. */
static bool read_ropts(int bfd, struct ropts *ro)
{
	char *text = NULL;
	size_t tlen;
	bool ok = false;

	if (store_read_regular(bfd, "runc-options", ROPTS_MAX_SIZE, &text, &tlen) == 0) {
		ok = ropts_parse(text, tlen, ro, NULL, 0) == 0;
		free(text);
	}
	return ok;
}

static int compute_shimcfg_v1(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len)
{
	struct shimcfg_node node = {
	    .bundle_root = c->bundle_root,
	    .work_root = c->st.work_path,
	    .criu = c->criu,
	    .runtime_root = c->runtime_root,
	    .systemd_cgroup = c->systemd_cgroup,
	};
	struct ropts ro;
	bool have = read_ropts(bfd, &ro);

	*buf = shimcfg_render(&node, ns, id, have ? &ro : NULL, len);
	if (have)
		ropts_free(&ro);
	return *buf ? 0 : -ENOMEM;
}

static int compute_shimcfg_v2(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			      char **buf, size_t *len)
{
	struct v2_node node;

	v2_node_of(c, &node);
	return v2_shimcfg(bfd, &node, ns, id, buf, len);
}

#define RUNC_ROOT_DEFAULT "/run/containerd/runc"

/*
 * Where runc keeps this bundle's state (SPEC 4.9): v1 Join(R, ns, id,
 * "state.json") with R shim-config's RuntimeRoot (or runc's default), v2
 * Join(RuncRoot, id, "state.json") with RuncRoot Join(root, ns).
 */
static char *runc_state_path(const struct bundle_conf *c, int bfd, const char *ns, const char *id)
{
	const char *root = c->runtime_root;
	struct v2_options opts = {0};
	struct ropts ro;
	bool have = false;
	char *path;

	if (c->runtime == RUNTIME_V2) {
		if (v2_options_read(bfd, &opts) == 0 && opts.root && *opts.root)
			root = opts.root;
		else
			root = RUNC_ROOT_DEFAULT;
	} else if ((have = read_ropts(bfd, &ro)) && ro.runtime_root && *ro.runtime_root) {
		root = ro.runtime_root;
	}
	if (!root || !*root)
		root = RUNC_ROOT_DEFAULT;
	{
		const char *elem[] = {root, ns, id, "state.json"};

		path = gopath_join(elem, 4);
	}
	if (have)
		ropts_free(&ro);
	v2_options_free(&opts);
	return path;
}

static int compute_status(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			  char **buf, size_t *len)
{
	const struct ovl *addr = ovl_find(c, "address");
	struct status_input in = {
	    .bundle_fd = bfd,
	    .socket_root = c->socket_root,
	    .legacy_address = c->legacy_address,
	    .ns = ns,
	    .id = id,
	    .connect_timeout_ms = STATUS_CONNECT_TIMEOUT_MS,
	};
	char *address = NULL, *state;
	size_t alen = 0;
	int ret;

	/* What `address` reads: its stored file, else its computed value. */
	ret = store_read_regular(bfd, "address", ADDRESS_MAX, &address, &alen);
	if (ret == -ENOENT || ret == -EFBIG)
		ret = addr->compute(c, bfd, ns, id, &address, &alen);
	if (ret < 0)
		return ret;
	state = runc_state_path(c, bfd, ns, id);
	in.address = address;
	in.address_len = alen;
	in.runc_state = state;
	ret = status_render(&in, buf, len);
	free(state);
	free(address);
	return ret;
}

/* A computed file's attributes, derived from its bundle directory. */
static void computed_stat(const struct ovl *o, const struct stat *dir, size_t len, struct stat *st)
{
	*st = *dir;
	st->st_mode = S_IFREG | o->computed_mode;
	st->st_nlink = 1;
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	/* Stable per bundle and kind, apart from real inode numbers in practice. */
	st->st_ino = dir->st_ino ^ ((ino_t)(o->kind + 1) << 56);
}

/*
 * The content a read returns now and its attributes: the stored regular
 * file, or the computed value. -ENOENT for a stored-only file that is absent.
 */
static int current_content(const struct bundle_conf *c, const struct ovl *o, int bfd,
			   const char *ns, const char *id, char **buf, size_t *len, struct stat *st)
{
	struct stat dir;
	int fd, ret;

	if (o->storable) {
		fd = open_regular(bfd, o->name, st);
		if (fd >= 0) {
			ret = read_fd(fd, o->max, buf, len);
			close(fd);
			if (ret == 0)
				st->st_size = (off_t)*len;
			return ret;
		}
		if (fd != -ENOENT || !ovl_is_computed(o))
			return fd;
	}
	if (fstat(bfd, &dir) < 0)
		return -errno;
	ret = o->compute(c, bfd, ns, id, buf, len);
	if (ret < 0)
		return ret;
	computed_stat(o, &dir, *len, st);
	return 0;
}

int ovl_stat(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	     struct stat *st)
{
	struct stat dir;
	char *buf = NULL;
	size_t len = 0;
	int bfd, ret = 0;

	bfd = open_bundle(c, ns, id);
	if (bfd < 0)
		return bfd;
	/* Only a regular file counts as stored; anything else is never followed. */
	if (o->storable && fstatat(bfd, o->name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st->st_mode))
		goto out;
	if (!ovl_is_computed(o)) {
		ret = -ENOENT;
		goto out;
	}
	ret = o->compute(c, bfd, ns, id, &buf, &len);
	if (ret == 0 && fstat(bfd, &dir) < 0)
		ret = -errno;
	if (ret == 0)
		computed_stat(o, &dir, len, st);
out:
	free(buf);
	close(bfd);
	return ret;
}

static struct ovl_file *file_new(const struct bundle_conf *c, const struct ovl *o, const char *ns,
				 const char *id)
{
	struct ovl_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->c = c;
	f->o = o;
	f->fd = -1;
	f->nsfd = -1;
	snprintf(f->ns, sizeof(f->ns), "%s", ns);
	snprintf(f->id, sizeof(f->id), "%s", id);
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* Remove the name of a named staging file; its descriptor stays usable. Caller holds lock. */
static void unname(struct ovl_file *f)
{
	if (f->tmpname[0]) {
		unlinkat(f->nsfd, f->tmpname, 0);
		f->tmpname[0] = '\0';
	}
}

static void file_free(struct ovl_file *f)
{
	unname(f);
	if (f->fd >= 0)
		close(f->fd);
	if (f->nsfd >= 0)
		close(f->nsfd);
	free(f->snap);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static int copy_all(int from, int to, size_t max)
{
	off_t off = 0;
	ssize_t n;

	for (;;) {
		n = sendfile(to, from, &off, 1u << 20);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((size_t)off > max)
			return -EFBIG;
	}
}

/*
 * Replace the handle's file with a new staging file in S/<ns> holding the
 * content of from_fd (if >= 0) or initial[0..len). An O_TMPFILE where the
 * file system has it, else a named TREE_TMP_PREFIX file. Caller holds lock.
 */
static int stage(struct ovl_file *f, int from_fd, const char *initial, size_t len)
{
	char name[sizeof(f->tmpname)] = "";
	bool linkable = true;
	int fd, ret = 0;

	fd = openat(f->nsfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
		linkable = false;
		fd = store_tmpfile(f->nsfd, name, sizeof(name), 0644);
		if (fd < 0)
			return fd;
	}
	if (from_fd >= 0)
		ret = copy_all(from_fd, fd, f->o->max);
	else if (initial && len && pwrite(fd, initial, len, 0) != (ssize_t)len)
		ret = -EIO;
	if (ret < 0) {
		if (name[0])
			unlinkat(f->nsfd, name, 0);
		close(fd);
		return ret;
	}
	unname(f);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd;
	f->staged = true;
	f->linkable = linkable;
	memcpy(f->tmpname, name, sizeof(name));
	return 0;
}

/* Make sure the handle writes into a private staging file. Caller holds lock. */
static int ensure_staged(struct ovl_file *f)
{
	return f->staged ? 0 : stage(f, f->fd, NULL, 0);
}

/*
 * Give the staging file a TREE_TMP_PREFIX name in S/<ns>, in f->tmpname.
 * Caller holds lock.
 */
static int name_staging(struct ovl_file *f)
{
	static unsigned long counter;
	char proc[64];
	int tries, ret;

	if (f->tmpname[0])
		return 0;
	if (!f->linkable) {
		/* Unlinked after a rejection, or linked once: a fresh copy. */
		ret = stage(f, f->fd, NULL, 0);
		if (ret < 0 || f->tmpname[0])
			return ret;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	for (tries = 0; tries < 16; tries++) {
		unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);

		snprintf(f->tmpname, sizeof(f->tmpname), "%sovl-%x-%lx", TREE_TMP_PREFIX,
			 (unsigned)getpid(), n);
		if (linkat(AT_FDCWD, proc, f->nsfd, f->tmpname, AT_SYMLINK_FOLLOW) == 0) {
			/* The kernel makes a linked O_TMPFILE unlinkable again. */
			f->linkable = false;
			return 0;
		}
		ret = -errno;
		f->tmpname[0] = '\0';
		if (ret != -EEXIST)
			return ret;
	}
	return -EEXIST;
}

static void log_rejection(const struct ovl *o, const char *ns, const char *id, int ret,
			  const char *why)
{
	if (ret == -EINVAL)
		blog(BLOG_ERR, "%s/%s: %s rejected: %s", ns, id, o->name, why);
	else if (ret == -EFBIG)
		blog(BLOG_ERR, "%s/%s: %s rejected: larger than %zu bytes", ns, id, o->name,
		     o->max);
}

/*
 * Make the staged content the stored file. With log, a rejection is logged;
 * without, it is judged quietly. On any failure the stored file is as it was
 * and no name of the staging file is left in the store; the content stays in
 * f->fd for further writes. Caller holds lock.
 */
static int commit(struct ovl_file *f, bool log, unsigned int rename_flags)
{
	const struct bundle_conf *c = f->c;
	char why[256] = "", *buf = NULL;
	uint32_t gid = 0;
	int bfd = -1, ret;
	size_t len = 0;

	if (f->toobig) {
		ret = -EFBIG;
		goto reject;
	}
	ret = read_fd(f->fd, f->o->max, &buf, &len);
	if (ret == 0 && f->o->validate)
		ret = f->o->validate(buf, len, &gid, why, sizeof(why));
	free(buf);
	if (ret == -EINVAL || ret == -EFBIG)
		goto reject;
	if (ret < 0)
		goto out;
	bfd = openat(f->nsfd, f->id, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0) {
		ret = -errno;
		goto out;
	}
	ret = name_staging(f);
	if (ret < 0)
		goto out;
	/*
	 * Stored overlay files are 0644 (SPEC 4.2) and belong to their writer,
	 * unless the writer set the mode or the owner through this open.
	 */
	if ((!f->mode_set && fchmod(f->fd, 0644) < 0) ||
	    (!f->owner_set && c->is_root && (f->uid != c->euid || f->gid != c->egid) &&
	     fchown(f->fd, f->uid, f->gid) < 0)) {
		ret = -errno;
		goto out;
	}
	/* containerd sets the bundle's permissions before writing its spec. */
	if (f->o->kind == OVL_CONFIG) {
		ret = store_apply_remap(f->nsfd, f->id, gid);
		if (ret < 0) {
			blog(BLOG_ERR, "%s/%s: cannot apply remapped GID %u: %s", f->ns, f->id, gid,
			     strerror(-ret));
			goto out;
		}
	}
	if (renameat2(f->nsfd, f->tmpname, bfd, f->o->name, rename_flags) < 0) {
		ret = -errno;
		goto out;
	}
	/* f->fd is now the stored file: the next write stages a copy. */
	f->tmpname[0] = '\0';
	f->staged = false;
	f->created = false;
	ret = 0;
	goto out;
reject:
	if (log)
		log_rejection(f->o, f->ns, f->id, ret, why);
out:
	if (ret < 0)
		unname(f);
	if (bfd >= 0)
		close(bfd);
	return ret;
}

/* Open for reading: a snapshot of computed content, or the stored file. */
static int open_read(struct ovl_file *f, int bfd)
{
	struct stat st;

	if (ovl_is_computed(f->o))
		return current_content(f->c, f->o, bfd, f->ns, f->id, &f->snap, &f->snaplen,
				       &f->snapst);
	f->fd = open_regular(bfd, f->o->name, &st);
	return f->fd < 0 ? f->fd : 0;
}

/*
 * Open for writing: a staging file in S/<ns> (held open as f->nsfd until
 * release), holding the current content unless O_TRUNC. released: the
 * opener released the name (ovl_open's OVL_OPEN_RELEASED) and makes the
 * file again: a stored file does not count (neither for O_EXCL nor as
 * content), and the new file is committed even if nothing is written.
 */
static int open_write(struct ovl_file *f, int bfd, int flags, bool create, bool released)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	bool stored;
	int ret = 0;

	f->writable = true;
	stored = !released && fstatat(bfd, f->o->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		 S_ISREG(st.st_mode);
	if (stored && (flags & O_CREAT) && (flags & O_EXCL))
		return -EEXIST;
	if (!stored && !released && !ovl_is_computed(f->o) && !create && !(flags & O_CREAT))
		return -ENOENT;
	f->created = !stored;
	f->nsfd = open_ns(f->c, f->ns);
	if (f->nsfd < 0)
		return f->nsfd;
	if (!released && !(flags & O_TRUNC) && (stored || ovl_is_computed(f->o))) {
		ret = current_content(f->c, f->o, bfd, f->ns, f->id, &buf, &len, &st);
		if (ret == -ENOENT && !ovl_is_computed(f->o)) /* gone meanwhile */
			ret = 0;
	}
	if (ret == 0) {
		pthread_mutex_lock(&f->lock);
		ret = stage(f, -1, buf, len);
		pthread_mutex_unlock(&f->lock);
	}
	free(buf);
	/* Truncating or creating changes the file even without a write. */
	f->dirty = released || (flags & O_TRUNC) || (f->created && !ovl_is_computed(f->o));
	return ret;
}

int ovl_open(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
	     int flags, unsigned int how, uid_t uid, gid_t gid, struct ovl_file **out)
{
	bool write = (flags & O_ACCMODE) != O_RDONLY;
	bool released = how & OVL_OPEN_RELEASED;
	struct ovl_file *f;
	int bfd, ret;

	*out = NULL;
	if (write && !o->writable && !(released && ovl_is_computed(o)))
		return -EACCES;
	bfd = open_bundle(c, ns, id);
	if (bfd < 0)
		return bfd;
	f = file_new(c, o, ns, id);
	if (!f) {
		close(bfd);
		return -ENOMEM;
	}
	f->uid = uid;
	f->gid = gid;
	if (write && !o->writable) {
		/* A computed file cannot be stored: it is back as it computes. */
		ret = open_read(f, bfd);
		f->writable = f->discard = true;
	} else {
		ret = write ? open_write(f, bfd, flags, how & OVL_OPEN_CREATE, released)
			    : open_read(f, bfd);
	}
	close(bfd);
	if (ret < 0) {
		file_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

bool ovl_writes(const struct ovl_file *f)
{
	return f->writable;
}

ssize_t ovl_read(struct ovl_file *f, char *buf, size_t size, off_t off)
{
	ssize_t n;

	if (off < 0)
		return -EINVAL;
	if (f->snap) {
		if ((size_t)off >= f->snaplen)
			return 0;
		if (size > f->snaplen - (size_t)off)
			size = f->snaplen - (size_t)off;
		memcpy(buf, f->snap + off, size);
		return (ssize_t)size;
	}
	pthread_mutex_lock(&f->lock);
	n = pread(f->fd, buf, size, off);
	if (n < 0)
		n = -errno;
	pthread_mutex_unlock(&f->lock);
	return n;
}

ssize_t ovl_write(struct ovl_file *f, const char *buf, size_t size, off_t off)
{
	ssize_t n;
	int ret;

	if (!f->writable)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	if (f->discard)
		return (ssize_t)size;
	pthread_mutex_lock(&f->lock);
	if ((size_t)off > f->o->max || size > f->o->max - (size_t)off) {
		/* What the caller meant to store cannot be stored: nothing will be. */
		f->toobig = f->dirty = true;
		n = -EFBIG;
		goto out;
	}
	/* After a commit the handle's file is the stored one: stage a copy first. */
	ret = ensure_staged(f);
	if (ret < 0) {
		n = ret;
		goto out;
	}
	n = pwrite(f->fd, buf, size, off);
	if (n < 0)
		n = -errno;
	else if (n > 0)
		f->dirty = f->written = true;
out:
	pthread_mutex_unlock(&f->lock);
	return n;
}

int ovl_fstat(struct ovl_file *f, struct stat *st)
{
	int ret = 0;

	if (f->snap) {
		*st = f->snapst;
		return 0;
	}
	pthread_mutex_lock(&f->lock);
	if (fstat(f->fd, st) < 0)
		ret = -errno;
	pthread_mutex_unlock(&f->lock);
	/* A nameless staging file stands for the one file it will replace. */
	if (ret == 0 && st->st_nlink == 0)
		st->st_nlink = 1;
	return ret;
}

int ovl_ftruncate(struct ovl_file *f, off_t size)
{
	int ret;

	if (!f->writable)
		return -EBADF;
	if (size < 0)
		return -EINVAL;
	if (f->discard)
		return 0;
	if ((size_t)size > f->o->max)
		return -EFBIG;
	pthread_mutex_lock(&f->lock);
	ret = ensure_staged(f);
	if (ret == 0 && ftruncate(f->fd, size) < 0)
		ret = -errno;
	if (ret == 0)
		f->dirty = f->written = true;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int ovl_flush(struct ovl_file *f)
{
	int ret = 0;

	if (!f->writable || f->discard)
		return 0;
	pthread_mutex_lock(&f->lock);
	/*
	 * A shell's "> file" opens with O_TRUNC and closes that descriptor
	 * (after dup2) before it writes. So a close with nothing written since
	 * open (a bare truncation or creation) is judged without a log line:
	 * invalid content fails this close and stays pending for release, the
	 * last close, which commits or logs the rejection; content that needs
	 * no validation is left to release, so readers never see the
	 * intermediate empty file.
	 */
	if (f->toobig) {
		/* Poisoned: every close fails; the first one after the write logs it. */
		ret = commit(f, f->dirty, 0);
		f->dirty = f->written = false;
	} else if (f->dirty && f->written) {
		f->dirty = f->written = false;
		ret = commit(f, true, 0);
	} else if (f->dirty && f->o->validate) {
		ret = commit(f, false, 0);
		if (ret == 0)
			f->dirty = false;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

void ovl_release(struct ovl_file *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->writable && f->dirty && !f->discard) {
		f->dirty = false;
		commit(f, true, 0); /* no caller to tell: commit logs a rejection */
	}
	pthread_mutex_unlock(&f->lock);
	file_free(f);
}

int ovl_fsync(struct ovl_file *f, int datasync)
{
	int ret = 0;

	if (f->snap)
		return 0;
	pthread_mutex_lock(&f->lock);
	if ((datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		ret = -errno;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int ovl_truncate(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		 off_t size, uid_t uid, gid_t gid)
{
	struct ovl_file *f;
	int ret;

	if (!o->writable)
		return -EPERM;
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > o->max)
		return -EFBIG;
	ret = ovl_open(c, o, ns, id, O_RDWR, false, uid, gid, &f);
	if (ret < 0)
		return ret;
	ret = ovl_ftruncate(f, size);
	if (ret == 0)
		ret = ovl_flush(f);
	ovl_release(f);
	return ret;
}

int ovl_unlink(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id)
{
	int bfd, ret = 0;

	if (!o->may_unlink)
		return -EPERM;
	bfd = open_bundle(c, ns, id);
	if (bfd < 0)
		return bfd;
	if (unlinkat(bfd, o->name, 0) < 0)
		ret = -errno;
	close(bfd);
	return ret;
}

int ovl_rename_onto(const struct bundle_conf *c, const struct ovl *o, const char *ns,
		    const char *id, int from_dirfd, const char *from_name, unsigned int flags)
{
	char why[256] = "";
	struct ovl_file *f = NULL;
	int src = -1, ret;
	struct stat st;

	if (!o->writable)
		return -EPERM;
	if (flags & ~(unsigned int)RENAME_NOREPLACE)
		return -EINVAL;
	ret = check_names(ns, id);
	if (ret < 0)
		return ret;
	src = open_regular(from_dirfd, from_name, &st);
	if (src == -ENOENT && fstatat(from_dirfd, from_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* Present but not a regular file: never the content of an overlay file. */
		snprintf(why, sizeof(why), "%s is not a regular file", from_name);
		log_rejection(o, ns, id, -EINVAL, why);
		return -EINVAL;
	}
	if (src < 0)
		return src;
	if ((size_t)st.st_size > o->max) {
		log_rejection(o, ns, id, -EFBIG, why);
		ret = -EFBIG;
		goto out;
	}
	f = file_new(c, o, ns, id);
	if (!f) {
		ret = -ENOMEM;
		goto out;
	}
	/* The copy keeps what a rename keeps: the owner and the times. */
	f->writable = true;
	f->uid = st.st_uid;
	f->gid = st.st_gid;
	f->nsfd = open_ns(c, ns);
	if (f->nsfd < 0) {
		ret = f->nsfd;
		goto out;
	}
	pthread_mutex_lock(&f->lock);
	ret = stage(f, src, NULL, 0);
	if (ret == 0) {
		struct timespec times[2] = {st.st_atim, st.st_mtim};

		if (futimens(f->fd, times) < 0)
			ret = -errno;
	}
	if (ret == 0)
		ret = commit(f, true, flags);
	pthread_mutex_unlock(&f->lock);
	/*
	 * The stored file is the validated copy: the source's name goes, and
	 * whatever still reaches the source (an open descriptor, another hard
	 * link) reaches the source, never the stored file.
	 */
	if (ret == 0 && unlinkat(from_dirfd, from_name, 0) < 0 && errno != ENOENT)
		blog(BLOG_WARNING, "%s/%s: %s stored, but %s stays: %s", ns, id, o->name, from_name,
		     strerror(errno));
out:
	if (f)
		file_free(f);
	if (src >= 0)
		close(src);
	return ret;
}

/* The handle's file for a change of its attributes: -EBADF unless it writes. */
static int attr_target(struct ovl_file *f)
{
	if (!f->writable)
		return -EBADF;
	return f->discard ? 0 : 1;
}

/* The stored regular file of f's kind, opened for reading (never followed), or -errno. */
static int open_stored(struct ovl_file *f)
{
	struct stat st;
	int bfd = open_bundle(f->c, f->ns, f->id), fd;

	if (bfd < 0)
		return bfd;
	fd = open_regular(bfd, f->o->name, &st);
	close(bfd);
	return fd;
}

struct attr_change {
	enum { CH_MODE, CH_OWNER, CH_TIMES, CH_XSET, CH_XREMOVE } what;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const struct timespec *times;
	const char *name;
	const void *value;
	size_t size;
	int flags;
};

static int change_fd(int fd, const struct attr_change *ch)
{
	int ret;

	switch (ch->what) {
	case CH_MODE:
		ret = fchmod(fd, ch->mode & 07777);
		break;
	case CH_OWNER:
		ret = fchown(fd, ch->uid, ch->gid);
		break;
	case CH_TIMES:
		ret = futimens(fd, ch->times);
		break;
	case CH_XSET:
		ret = fsetxattr(fd, ch->name, ch->value, ch->size, ch->flags);
		break;
	default:
		ret = fremovexattr(fd, ch->name);
		break;
	}
	return ret < 0 ? -errno : 0;
}

/*
 * Apply a change to the file the handle will store and, while that is a
 * staging file, to the stored file as well: a chmod or a touch through an
 * open that writes nothing commits nothing, and the stored file shows it at
 * once either way. Caller holds lock.
 */
static int change(struct ovl_file *f, const struct attr_change *ch)
{
	int ret = change_fd(f->fd, ch), fd;

	if (ret < 0 || !f->staged)
		return ret;
	fd = open_stored(f);
	if (fd >= 0) {
		ret = change_fd(fd, ch);
		close(fd);
	}
	/* An attribute removed from the new file that the old one never had. */
	return ret == -ENODATA ? 0 : ret;
}

static int apply(struct ovl_file *f, const struct attr_change *ch)
{
	int ret = attr_target(f), fd;

	if (ret <= 0)
		return ret;
	pthread_mutex_lock(&f->lock);
	/*
	 * Nothing to commit and nothing stored (`touch` of a computed address):
	 * the computed value has no attributes of its own to change (SPEC 4.1).
	 */
	if (f->staged && !f->dirty) {
		fd = open_stored(f);
		if (fd < 0) {
			pthread_mutex_unlock(&f->lock);
			return fd == -ENOENT ? -EPERM : fd;
		}
		close(fd);
	}
	ret = change(f, ch);
	if (ret == 0 && ch->what == CH_OWNER) {
		struct stat st;

		/* What commit would otherwise give: the writer's owner, where not chosen. */
		if (fstat(f->fd, &st) == 0) {
			f->uid = st.st_uid;
			f->gid = st.st_gid;
		}
		f->owner_set = true;
	}
	/* An access ACL carries the mode bits (a trivial one is only a mode). */
	if (ret == 0 && (ch->what == CH_MODE ||
			 (ch->what == CH_XSET && !strcmp(ch->name, "system.posix_acl_access"))))
		f->mode_set = true;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int ovl_fchmod(struct ovl_file *f, mode_t mode)
{
	struct attr_change ch = {.what = CH_MODE, .mode = mode};

	return apply(f, &ch);
}

int ovl_fchown(struct ovl_file *f, uid_t uid, gid_t gid)
{
	struct attr_change ch = {.what = CH_OWNER, .uid = uid, .gid = gid};

	return apply(f, &ch);
}

int ovl_futimens(struct ovl_file *f, const struct timespec times[2])
{
	struct attr_change ch = {.what = CH_TIMES, .times = times};

	return apply(f, &ch);
}

int ovl_fxattr(struct ovl_file *f, enum ovl_xattr_op op, const char *name, void *value, size_t size,
	       int flags)
{
	struct attr_change ch = {.name = name, .value = value, .size = size, .flags = flags};
	ssize_t ret;
	int fd;

	if (!f->writable)
		return -EBADF;
	if (f->discard) {
		/* A computed file keeps no extended attributes. */
		if (op == OVL_XATTR_GET)
			return -ENODATA;
		if (op == OVL_XATTR_LIST)
			return 0;
		return -EOPNOTSUPP;
	}
	if (op == OVL_XATTR_SET || op == OVL_XATTR_REMOVE) {
		ch.what = op == OVL_XATTR_SET ? CH_XSET : CH_XREMOVE;
		return apply(f, &ch);
	}
	/* What the file shows now: the stored one while it is there. */
	pthread_mutex_lock(&f->lock);
	fd = f->staged ? open_stored(f) : -ENOENT;
	if (op == OVL_XATTR_GET)
		ret = fgetxattr(fd >= 0 ? fd : f->fd, name, value, size);
	else
		ret = flistxattr(fd >= 0 ? fd : f->fd, value, size);
	if (ret < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	pthread_mutex_unlock(&f->lock);
	return (int)ret;
}

int ovl_stored_fd(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id)
{
	struct stat st;
	int bfd, fd;

	if (!o->storable)
		return -ENOENT;
	bfd = open_bundle(c, ns, id);
	if (bfd < 0)
		return bfd;
	fd = openat(bfd, o->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fd = fd < 0 ? -errno : fd;
	close(bfd);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -ENOENT;
	}
	return fd;
}
