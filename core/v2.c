// SPDX-License-Identifier: Apache-2.0
/*
 * Runtime-v2 bundle files (SPEC 7.2), as containerd 1.6 through 2.x and the
 * runc v2 shim read them. Decoding is spec.c's (Go's encoding/json rules);
 * rendering is shimcfg.c's; this file only picks the files and the order.
 */
#include "v2.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ident.h"
#include "shimcfg.h"
#include "spec.h"
#include "store.h"

/* A regular file of the bundle, or -ENOENT; too large counts as absent too. */
static int read_optional(int bfd, const char *name, size_t max, char **buf, size_t *len)
{
	int ret = store_read_regular(bfd, name, max, buf, len);

	return ret == -EFBIG ? -ENOENT : ret;
}

/*
 * The bundle's group: spec_group of its config.json (a missing, non-regular
 * or larger than SPEC_MAX_SIZE one gives id). *group malloc'd, NUL-
 * terminated, *glen its length. 0 or -ENOMEM.
 */
static int v2_group(int bfd, const char *id, char **group, size_t *glen)
{
	char *text = NULL;
	size_t len = 0;
	int ret;

	ret = read_optional(bfd, "config.json", SPEC_MAX_SIZE, &text, &len);
	if (ret == -ENOMEM)
		return ret;
	ret = spec_group(ret == 0 ? text : NULL, len, id, group, glen);
	free(text);
	return ret;
}

/* bootstrap.json's "address": 0 and the string, or -ENOENT when it has none. */
static int bootstrap_address(int bfd, char **buf, size_t *len)
{
	struct spec_field f = {.upper = "ADDRESS", .kind = SPEC_FIELD_STRING};
	char *text;
	size_t tlen;
	int ret;

	ret = read_optional(bfd, "bootstrap.json", V2_FILE_MAX, &text, &tlen);
	if (ret < 0)
		return ret;
	ret = spec_decode_fields(text, tlen, &f, 1);
	free(text);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0 || !f.set) {
		spec_fields_free(&f, 1);
		return -ENOENT;
	}
	*buf = f.s;
	*len = f.slen;
	return 0;
}

int v2_address(int bfd, const struct v2_node *node, const char *ns, const char *id, char **buf,
	       size_t *len)
{
	char *group;
	size_t glen;
	int ret;

	ret = store_read_regular(bfd, "address", V2_FILE_MAX, buf, len);
	if (ret != -ENOENT)
		return ret;
	ret = bootstrap_address(bfd, buf, len);
	if (ret != -ENOENT)
		return ret;
	ret = v2_group(bfd, id, &group, &glen);
	if (ret < 0)
		return ret;
	*buf = addr_computed(node->socket_root, node->daemon_address, ns, group);
	free(group);
	if (!*buf)
		return -ENOMEM;
	*len = strlen(*buf);
	return 0;
}

int v2_debug_address(int bfd, const struct v2_node *node, const char *ns, const char *id,
		     char **buf, size_t *len)
{
	char *group, *key;
	size_t glen;
	int ret;

	ret = v2_group(bfd, id, &group, &glen);
	if (ret < 0)
		return ret;
	/* Join(daemon_address, ns, group, "debug"): Join cleans, so group/debug is the same */
	key = malloc(glen + sizeof("/debug"));
	if (key) {
		memcpy(key, group, glen);
		memcpy(key + glen, "/debug", sizeof("/debug"));
		*buf = addr_computed(node->socket_root, node->daemon_address, ns, key);
	}
	free(group);
	free(key);
	if (!key || !*buf)
		return -ENOMEM;
	*len = strlen(*buf);
	return 0;
}

int v2_options_read(int bfd, struct v2_options *opts)
{
	struct spec_field f[] = {
	    {.upper = "ROOT", .kind = SPEC_FIELD_STRING},
	    {.upper = "BINARY_NAME", .kind = SPEC_FIELD_STRING},
	    {.upper = "SYSTEMD_CGROUP", .kind = SPEC_FIELD_BOOL},
	};
	char *text;
	size_t tlen;
	int ret;

	memset(opts, 0, sizeof(*opts));
	ret = read_optional(bfd, "options.json", V2_FILE_MAX, &text, &tlen);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0)
		return 0;
	ret = spec_decode_fields(text, tlen, f, 3);
	free(text);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0)
		return 0;
	opts->present = true;
	opts->root = f[0].s;
	opts->binary_name = f[1].s;
	opts->systemd_cgroup = f[2].b;
	return 0;
}

void v2_options_free(struct v2_options *opts)
{
	free(opts->root);
	free(opts->binary_name);
	memset(opts, 0, sizeof(*opts));
}

int v2_sandbox(int bfd, char **sandbox, size_t *len)
{
	int ret = read_optional(bfd, "sandbox", IDENT_MAX_LEN, sandbox, len);

	if (ret < 0)
		return ret;
	if (!ident_valid_n(*sandbox, *len)) {
		free(*sandbox);
		*sandbox = NULL;
		return -ENOENT;
	}
	return 0;
}

/*
 * shim-binary-path: the bundle's own; else, in a pod's container, the one
 * its sandbox's bundle holds (containerd 2.x writes it only where it started
 * the shim). -ENOENT when neither exists.
 */
static int shim_binary(int bfd, const struct v2_node *node, const char *ns, const char *sandbox,
		       char **buf, size_t *len)
{
	char rel[2 * NAME_MAX + sizeof("/shim-binary-path") + 1];
	int ret = read_optional(bfd, "shim-binary-path", V2_FILE_MAX, buf, len);

	if (ret != -ENOENT || sandbox == NULL || node->state_fd < 0)
		return ret;
	if (strlen(ns) > NAME_MAX || strchr(ns, '/') != NULL)
		return -ENOENT;
	snprintf(rel, sizeof(rel), "%s/%s/shim-binary-path", ns, sandbox);
	return read_optional(node->state_fd, rel, V2_FILE_MAX, buf, len);
}

int v2_shimcfg(int bfd, const struct v2_node *node, const char *ns, const char *id, char **text,
	       size_t *len)
{
	struct shimcfg_node sn = {.bundle_root = node->bundle_root, .work_root = node->work_root};
	struct shimcfg_v2_bundle b = {.ns = ns, .id = id};
	char *group = NULL, *address = NULL, *sandbox = NULL, *binary = NULL;
	struct v2_options opts = {0};
	int ret;

	ret = v2_group(bfd, id, &group, &b.group_len);
	if (ret < 0)
		goto out;
	ret = v2_address(bfd, node, ns, id, &address, &b.address_len);
	if (ret < 0)
		goto out;
	ret = v2_sandbox(bfd, &sandbox, &b.sandbox_len);
	if (ret < 0 && ret != -ENOENT)
		goto out;
	ret = shim_binary(bfd, node, ns, sandbox, &binary, &b.binary_len);
	if (ret < 0 && ret != -ENOENT)
		goto out;
	ret = v2_options_read(bfd, &opts);
	if (ret < 0)
		goto out;
	b.group = group;
	b.address = address;
	b.sandbox = sandbox;
	b.binary = binary;
	b.runc_root = opts.root;
	b.runc_binary = opts.binary_name;
	b.systemd_cgroup = opts.systemd_cgroup;
	*text = shimcfg_render_v2(&sn, &b, len);
	ret = *text ? 0 : -ENOMEM;
out:
	v2_options_free(&opts);
	free(group);
	free(address);
	free(sandbox);
	free(binary);
	return ret;
}
