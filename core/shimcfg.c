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
