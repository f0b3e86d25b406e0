/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The overlay kinds of a bundle (SPEC 4.1-4.5, 4.9, 7.2), described once per
 * runtime as a table, and their computed content; see kinds.h.
 */
#include "kinds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "gopath.h"
#include "ropts.h"
#include "shimcfg.h"
#include "spec.h"
#include "status.h"
#include "store.h"
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
	/*
	 * What its content is read from (NULL-terminated): the stored files of
	 * its own bundle directory (its own stored file included), and those of
	 * the bundle of its pod's sandbox (SPEC 7.2: a pod's containers take the
	 * sandbox's shim-binary-path).
	 */
	const char *const *from;
	const char *const *from_sandbox;
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

/*
 * The stored files each computed kind reads (kinds.h, ovl_reads): the v1
 * address is computed from the bundle's names alone; shim-config reads v1's
 * runc-options, or v2's group (config.json), address, options.json,
 * sandbox and shim-binary-path; status reads config.json, the address as it
 * reads, the pid files and where runc keeps its state (runc-options,
 * options.json).
 */
static const char *const from_config[] = {"config.json", NULL};
static const char *const from_ropts[] = {"runc-options", NULL};
static const char *const from_address[] = {"address", NULL};
static const char *const from_status_v1[] = {"address",	 "config.json", "runc-options",
					     "shim.pid", "init.pid",	NULL};
static const char *const from_address_v2[] = {"address", "bootstrap.json", "config.json", NULL};
static const char *const from_shimcfg_v2[] = {
    "address", "bootstrap.json",   "config.json", "options.json",
    "sandbox", "shim-binary-path", NULL};
static const char *const from_sandbox_shimcfg_v2[] = {"shim-binary-path", NULL};
static const char *const from_status_v2[] = {
    "address", "bootstrap.json", "config.json", "options.json", "shim.pid", "init.pid", NULL};

/* The entries of both runtimes' tables, with what each computes from. */
#define CONFIG_JSON                                                                                \
	{                                                                                          \
		.name = "config.json", .kind = OVL_CONFIG, .writable = true, .max = SPEC_MAX_SIZE, \
		.validate = validate_config, .storable = true, .from = from_config,                \
	}
#define ADDRESS(fn, reads)                                                                         \
	{                                                                                          \
		.name = "address", .kind = OVL_ADDRESS, .computed_mode = 0644, .writable = true,   \
		.may_unlink = true, .max = ADDRESS_MAX, .compute = fn, .storable = true,           \
		.from = reads,                                                                     \
	}
#define SHIM_CONFIG(fn, reads, sandbox_reads)                                                      \
	{                                                                                          \
		.name = "shim-config", .kind = OVL_SHIMCFG, .computed_mode = 0444, .compute = fn,  \
		.from = reads, .from_sandbox = sandbox_reads,                                      \
	}
#define STATUS(reads)                                                                              \
	{                                                                                          \
		.name = "status", .kind = OVL_STATUS, .computed_mode = 0444,                       \
		.compute = compute_status, .from = reads,                                          \
	}

static const struct ovl v1_kinds[] = {
    CONFIG_JSON,
    ADDRESS(compute_address_v1, from_address),
    SHIM_CONFIG(compute_shimcfg_v1, from_ropts, NULL),
    {.name = "runc-options",
     .kind = OVL_ROPTS,
     .writable = true,
     .may_unlink = true,
     .max = ROPTS_MAX_SIZE,
     .validate = validate_ropts,
     .storable = true,
     .from = from_ropts},
    STATUS(from_status_v1),
};

/*
 * v2 bundles (SPEC 7.2) share config.json's rules; their address and
 * shim-config are computed as the runc v2 shim and containerd 2.x do, and
 * runc-options is a passthrough entry there.
 */
static const struct ovl v2_kinds[] = {
    CONFIG_JSON,
    ADDRESS(compute_address_v2, from_address_v2),
    SHIM_CONFIG(compute_shimcfg_v2, from_shimcfg_v2, from_sandbox_shimcfg_v2),
    STATUS(from_status_v2),
};

static const struct {
	const struct ovl *kinds;
	size_t n;
} tables[] = {
    [RUNTIME_V1] = {v1_kinds, sizeof(v1_kinds) / sizeof(v1_kinds[0])},
    [RUNTIME_V2] = {v2_kinds, sizeof(v2_kinds) / sizeof(v2_kinds[0])},
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

bool ovl_cacheable(const struct ovl *o)
{
	return o->computed_mode != 0 && o->kind != OVL_STATUS;
}

bool ovl_may_unlink(const struct ovl *o)
{
	return o->may_unlink;
}

bool ovl_storable(const struct ovl *o)
{
	return o->storable;
}

bool ovl_writable(const struct ovl *o)
{
	return o->writable;
}

static bool listed(const char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (!strcmp(*names, name))
			return true;
	return false;
}

unsigned ovl_reads(const struct ovl *o, const char *name)
{
	return (listed(o->from, name) ? OVL_FROM_BUNDLE : 0) |
	       (listed(o->from_sandbox, name) ? OVL_FROM_SANDBOX : 0);
}

bool ovl_validated(const struct ovl *o)
{
	return o->validate != NULL;
}

size_t ovl_max(const struct ovl *o)
{
	return o->max;
}

int ovl_validate(const struct ovl *o, const char *buf, size_t len, uint32_t *gid, char *why,
		 size_t whysz)
{
	*gid = 0;
	return o->validate ? o->validate(buf, len, gid, why, whysz) : 0;
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

int ovl_status_input(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
		     struct status_input *in)
{
	const struct ovl *addr = ovl_find(c, "address");
	char *address = NULL;
	size_t alen = 0;
	int ret;

	*in = (struct status_input){
	    .bundle_fd = bfd,
	    .socket_root = c->socket_root,
	    .legacy_address = c->legacy_address,
	    .ns = ns,
	    .id = id,
	    .connect_timeout_ms = STATUS_CONNECT_TIMEOUT_MS,
	};
	/* What `address` reads: its stored file, else its computed value. */
	ret = store_read_regular(bfd, "address", ADDRESS_MAX, &address, &alen);
	if (ret == -ENOENT || ret == -EFBIG)
		ret = addr->compute(c, bfd, ns, id, &address, &alen);
	if (ret < 0)
		return ret;
	in->address = address;
	in->address_len = alen;
	in->runc_state = runc_state_path(c, bfd, ns, id);
	if (!in->runc_state) {
		ovl_status_input_free(in);
		return -ENOMEM;
	}
	return 0;
}

void ovl_status_input_free(struct status_input *in)
{
	free((char *)in->address);
	free((char *)in->runc_state);
	in->address = in->runc_state = NULL;
}

int ovl_debug_address(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
		      char **buf, size_t *len)
{
	struct v2_node node;

	if (c->runtime != RUNTIME_V2)
		return -ENOENT;
	v2_node_of(c, &node);
	return v2_debug_address(bfd, &node, ns, id, buf, len);
}

static int compute_status(const struct bundle_conf *c, int bfd, const char *ns, const char *id,
			  char **buf, size_t *len)
{
	struct status_input in;
	int ret = ovl_status_input(c, bfd, ns, id, &in);

	if (ret < 0)
		return ret;
	ret = status_render(&in, buf, len);
	ovl_status_input_free(&in);
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

int ovl_content(const struct bundle_conf *c, const struct ovl *o, int bfd, const char *ns,
		const char *id, char **buf, size_t *len, struct stat *st)
{
	struct stat dir;
	int fd, ret;

	if (o->storable) {
		fd = store_open_regular(bfd, o->name, st);
		if (fd >= 0) {
			ret = store_read_fd(fd, o->max, buf, len);
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
	return ovl_stat_in(c, o, ns, id, st, NULL);
}

int ovl_stat_in(const struct bundle_conf *c, const struct ovl *o, const char *ns, const char *id,
		struct stat *st, struct stat *bundle)
{
	struct stat dir;
	char *buf = NULL;
	size_t len = 0;
	int bfd, ret = 0;

	if (bundle)
		bundle->st_ino = 0;
	bfd = store_open_bundle(&c->st, ns, id);
	if (bfd < 0)
		return bfd;
	/* Only a regular file counts as stored; anything else is never followed. */
	if (o->storable && fstatat(bfd, o->name, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st->st_mode))
		goto out;
	if (!ovl_is_computed(o)) {
		ret = -ENOENT;
		if (bundle && fstat(bfd, bundle) < 0)
			bundle->st_ino = 0;
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
