/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shim-config (SPEC 4.4): json.Marshal(shim.Config) + "\n", where shim.Config
 * is containerd's runtime/v1/shim Config struct (no json tags, so the keys
 * are the field names, in declaration order) and its values are chosen as
 * bundle.go's shimConfig does, with the node options of SPEC 4.4 standing in
 * for the Config fields when the bundle has no runc options.
 */
#include "shimcfg.h"

#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "gopath.h"

/* Go's json.Marshal of n bytes and of a C string, as gojson_put_string writes them. */
static size_t shimcfg_mem_max(size_t n)
{
	return gojson_string_max(n);
}

static size_t shimcfg_string_max(const char *s)
{
	return gojson_string_max(strlen(s));
}

static char *shimcfg_put_mem(char *out, const char *s, size_t n)
{
	return gojson_put_string(out, s, n);
}

static char *shimcfg_put_string(char *out, const char *s)
{
	return gojson_put_string(out, s, strlen(s));
}

static char *shimcfg_put_raw(char *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return out + n;
}

static const char *shimcfg_str(const char *s)
{
	return s ? s : "";
}

char *shimcfg_render(const struct shimcfg_node *node, const char *ns, const char *id,
		     const struct ropts *ro, size_t *len)
{
	const char *path_elem[] = {shimcfg_str(node->bundle_root), ns, id};
	const char *work_elem[] = {shimcfg_str(node->work_root), ns, id};
	const char *criu, *runtime_root;
	char *path = NULL, *workdir = NULL, *text = NULL, *p;
	bool systemd_cgroup;
	size_t max;

	/* shimConfig: runc options, when present, replace the node-wide values. */
	criu = shimcfg_str(node->criu);
	runtime_root = shimcfg_str(node->runtime_root);
	systemd_cgroup = node->systemd_cgroup;
	if (ro != NULL) {
		criu = shimcfg_str(ro->criu_path);
		systemd_cgroup = ro->systemd_cgroup;
		if (ro->runtime_root != NULL && ro->runtime_root[0] != '\0')
			runtime_root = ro->runtime_root;
	}

	path = gopath_join(path_elem, 3);
	workdir = gopath_join(work_elem, 3);
	if (path == NULL || workdir == NULL)
		goto out;

	max = sizeof("{\"Path\":,\"Namespace\":,\"WorkDir\":,\"Criu\":,\"RuntimeRoot\":,"
		     "\"SystemdCgroup\":false}\n") +
	      gojson_string_max(strlen(path)) + gojson_string_max(strlen(ns)) +
	      gojson_string_max(strlen(workdir)) + gojson_string_max(strlen(criu)) +
	      gojson_string_max(strlen(runtime_root));
	text = malloc(max);
	if (text == NULL)
		goto out;

	p = shimcfg_put_raw(text, "{\"Path\":");
	p = gojson_put_string(p, path, strlen(path));
	p = shimcfg_put_raw(p, ",\"Namespace\":");
	p = gojson_put_string(p, ns, strlen(ns));
	p = shimcfg_put_raw(p, ",\"WorkDir\":");
	p = gojson_put_string(p, workdir, strlen(workdir));
	p = shimcfg_put_raw(p, ",\"Criu\":");
	p = gojson_put_string(p, criu, strlen(criu));
	p = shimcfg_put_raw(p, ",\"RuntimeRoot\":");
	p = gojson_put_string(p, runtime_root, strlen(runtime_root));
	p = shimcfg_put_raw(p, ",\"SystemdCgroup\":");
	p = shimcfg_put_raw(p, systemd_cgroup ? "true" : "false");
	p = shimcfg_put_raw(p, "}\n");
	*p = '\0';
	if (len != NULL)
		*len = (size_t)(p - text);
out:
	free(path);
	free(workdir);
	return text;
}

/* The runc defaults of the v2 shim: runc.go's root and runtime name. */
#define SHIMCFG_V2_RUNC_ROOT "/run/containerd/runc"
#define SHIMCFG_V2_RUNC_BINARY "runc"

static const char *shimcfg_or(const char *s, const char *dflt)
{
	return s && s[0] ? s : dflt;
}

char *shimcfg_render_v2(const struct shimcfg_node *node, const struct shimcfg_v2_bundle *b,
			size_t *len)
{
	const char *path_elem[] = {shimcfg_str(node->bundle_root), b->ns, b->id};
	const char *work_elem[] = {shimcfg_str(node->work_root), b->ns, b->id};
	const char *root_elem[] = {shimcfg_or(b->runc_root, SHIMCFG_V2_RUNC_ROOT), b->ns};
	const char *runc_binary = shimcfg_or(b->runc_binary, SHIMCFG_V2_RUNC_BINARY);
	const char *sandbox = b->sandbox ? b->sandbox : "";
	size_t sandbox_len = b->sandbox ? b->sandbox_len : 0;
	const char *binary = b->binary ? b->binary : "";
	size_t binary_len = b->binary ? b->binary_len : 0;
	char *path, *workdir, *runc_root, *text = NULL, *p;
	size_t max;

	path = gopath_join(path_elem, 3);
	workdir = gopath_join(work_elem, 3);
	runc_root = gopath_join(root_elem, 2);
	if (path == NULL || workdir == NULL || runc_root == NULL)
		goto out;

	max = sizeof("{\"Path\":,\"Namespace\":,\"ID\":,\"Group\":,\"WorkDir\":,\"Address\":,"
		     "\"Sandbox\":,\"Binary\":,\"RuncRoot\":,\"RuncBinary\":,"
		     "\"SystemdCgroup\":false}\n") +
	      shimcfg_string_max(path) + shimcfg_string_max(b->ns) + shimcfg_string_max(b->id) +
	      shimcfg_mem_max(b->group_len) + shimcfg_string_max(workdir) +
	      shimcfg_mem_max(b->address_len) + shimcfg_mem_max(sandbox_len) +
	      shimcfg_mem_max(binary_len) + shimcfg_string_max(runc_root) +
	      shimcfg_string_max(runc_binary);
	text = malloc(max);
	if (text == NULL)
		goto out;

	p = shimcfg_put_raw(text, "{\"Path\":");
	p = shimcfg_put_string(p, path);
	p = shimcfg_put_raw(p, ",\"Namespace\":");
	p = shimcfg_put_string(p, b->ns);
	p = shimcfg_put_raw(p, ",\"ID\":");
	p = shimcfg_put_string(p, b->id);
	p = shimcfg_put_raw(p, ",\"Group\":");
	p = shimcfg_put_mem(p, b->group, b->group_len);
	p = shimcfg_put_raw(p, ",\"WorkDir\":");
	p = shimcfg_put_string(p, workdir);
	p = shimcfg_put_raw(p, ",\"Address\":");
	p = shimcfg_put_mem(p, b->address, b->address_len);
	p = shimcfg_put_raw(p, ",\"Sandbox\":");
	p = shimcfg_put_mem(p, sandbox, sandbox_len);
	p = shimcfg_put_raw(p, ",\"Binary\":");
	p = shimcfg_put_mem(p, binary, binary_len);
	p = shimcfg_put_raw(p, ",\"RuncRoot\":");
	p = shimcfg_put_string(p, runc_root);
	p = shimcfg_put_raw(p, ",\"RuncBinary\":");
	p = shimcfg_put_string(p, runc_binary);
	p = shimcfg_put_raw(p, ",\"SystemdCgroup\":");
	p = shimcfg_put_raw(p, b->systemd_cgroup ? "true" : "false");
	p = shimcfg_put_raw(p, "}\n");
	*p = '\0';
	if (len != NULL)
		*len = (size_t)(p - text);
out:
	free(path);
	free(workdir);
	free(runc_root);
	return text;
}
