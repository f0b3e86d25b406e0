/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Runtime-v2 bundle semantics (SPEC 7.2): the group, the address, the runc
 * options of options.json and the shim-config, read from a bundle directory.
 *
 * Every function takes bfd, a descriptor of the bundle directory S/<ns>/<id>
 * (O_PATH is enough), and reads only regular files directly in it, never
 * following a symlink (store_read_regular): a symlink or a directory in the
 * place of a file counts as no file. The one file read elsewhere is the
 * shim-binary-path of a pod's sandbox bundle, below the node's state root.
 * Nothing is written. Thread-safe; 0 or -errno.
 */
#ifndef BUNDLEFS_V2_H
#define BUNDLEFS_V2_H

#include <stdbool.h>
#include <stddef.h>

/* The largest stored address, bootstrap.json, options.json or shim-binary-path read. */
#define V2_FILE_MAX (64u * 1024)

/* Node-wide inputs, from the mount options. */
struct v2_node {
	const char *socket_root;    /* socket_root=: sockets in Join(socket_root, "s") */
	const char *daemon_address; /* daemon_address=: the hash input's first element */
	const char *bundle_root;    /* bundle_root=: Path's prefix */
	const char *work_root;	    /* W, WorkDir's prefix (struct store's work_path) */
	/* S (O_PATH|O_DIRECTORY), where a pod's sandbox bundle S/<ns>/<Sandbox> is; -1: none */
	int state_fd;
};

/*
 * What address reads (SPEC 7.2), in this order: a stored regular address,
 * verbatim; else the "address" string of a regular bootstrap.json holding a
 * JSON object whose "address" is a string (spec_decode_fields: the key
 * folds, the last one wins); else the computed address
 * addr_computed(socket_root, daemon_address, ns, group). *buf malloc'd, NUL-
 * terminated, *len its length (stored bytes may hold NUL). -EFBIG if the
 * stored address is larger than V2_FILE_MAX; -ENOMEM; other read errors.
 */
int v2_address(int bfd, const struct v2_node *node, const char *ns, const char *id, char **buf,
	       size_t *len);

/*
 * The debug socket's address of the bundle's shim (containerd 2.x at log
 * level debug makes one beside the shim's socket): "unix://" +
 * Join(socket_root, "s") + "/" + hex(sha256(Join(daemon_address, ns, group,
 * "debug"))), group as v2_address takes it. *buf malloc'd, NUL-terminated,
 * *len its length. -ENOMEM.
 */
int v2_debug_address(int bfd, const struct v2_node *node, const char *ns, const char *id,
		     char **buf, size_t *len);

/* The runc options the shim uses from options.json. */
struct v2_options {
	bool present;	     /* a regular options.json holding a JSON object */
	char *root;	     /* "root", NULL when absent or null */
	char *binary_name;   /* "binary_name", NULL when absent or null */
	bool systemd_cgroup; /* "systemd_cgroup", false when absent */
};

/*
 * Read options.json. A missing, non-regular or oversized one, or one that is
 * not a JSON object with string root/binary_name and bool systemd_cgroup
 * (spec_decode_fields), counts as absent: 0 with present false and every
 * field zero. Free with v2_options_free. -ENOMEM.
 */
int v2_options_read(int bfd, struct v2_options *opts);
void v2_options_free(struct v2_options *opts);

/*
 * The pod sandbox a bundle belongs to: the content of a regular file
 * `sandbox` (containerd 2.x writes it in each container of a pod) when it is
 * an identifier (ident.h), verbatim; else -ENOENT. *sandbox malloc'd, NUL-
 * terminated, *len its length. -ENOMEM.
 */
int v2_sandbox(int bfd, char **sandbox, size_t *len);

/*
 * The shim-config text of bundle ns/id (shimcfg_render_v2): group, address,
 * options.json, sandbox and shim-binary-path read from bfd; without a
 * shim-binary-path of its own but with a sandbox, Binary is the regular
 * <ns>/<sandbox>/shim-binary-path below node->state_fd (no symlink followed
 * in any component; "" when there is none or state_fd is -1). *text
 * malloc'd, NUL-terminated, *len its length. -ENOMEM, or v2_address's
 * errors.
 */
int v2_shimcfg(int bfd, const struct v2_node *node, const char *ns, const char *id, char **text,
	       size_t *len);

#endif
