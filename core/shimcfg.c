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

/* Worst case of shimcfg_put_mem: every input byte becomes six ("\u00XX", "\ufffd"). */
static size_t shimcfg_mem_max(size_t n)
{
	return 6 * n + 2;
}

static size_t shimcfg_string_max(const char *s)
{
	return shimcfg_mem_max(strlen(s));
}

/*
 * Go's encodeState.string with escapeHTML = true, as in Go 1.21 and earlier:
 * '"' and '\\' get a backslash; \n, \r and \t their short forms; every other
 * byte below 0x20 and '<', '>', '&' become \u00XX (lowercase hex); U+2028
 * and U+2029 become \u2028 and \u2029; each byte that does not start a valid
 * UTF-8 sequence becomes \ufffd. DEL and all other valid text pass through.
 * Writes at most shimcfg_mem_max(n) bytes at out; returns the end.
 */
static char *shimcfg_put_mem(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, size;

	*out++ = '"';
	while (i < n) {
		unsigned char b = p[i];

		if (b < 0x80) {
			if (b == '"' || b == '\\') {
				*out++ = '\\';
				*out++ = (char)b;
			} else if (b == '\n') {
				*out++ = '\\';
				*out++ = 'n';
			} else if (b == '\r') {
				*out++ = '\\';
				*out++ = 'r';
			} else if (b == '\t') {
				*out++ = '\\';
				*out++ = 't';
			} else if (b < 0x20 || b == '<' || b == '>' || b == '&') {
				memcpy(out, "\\u00", 4);
				out += 4;
				*out++ = hex[b >> 4];
				*out++ = hex[b & 0xf];
			} else {
				*out++ = (char)b;
			}
			i++;
			continue;
		}
		size = gojson_utf8_len(p + i, n - i);
		if (size == 0) {
			memcpy(out, "\\ufffd", 6);
			out += 6;
			i++;
			continue;
		}
		/* U+2028 is E2 80 A8, U+2029 is E2 80 A9. */
		if (size == 3 && b == 0xe2 && p[i + 1] == 0x80 &&
		    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
			memcpy(out, "\\u202", 5);
			out += 5;
			*out++ = hex[p[i + 2] & 0xf];
		} else {
			memcpy(out, p + i, size);
			out += size;
		}
		i += size;
	}
	*out++ = '"';
	return out;
}

static char *shimcfg_put_string(char *out, const char *s)
{
	return shimcfg_put_mem(out, s, strlen(s));
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
	      shimcfg_string_max(path) + shimcfg_string_max(ns) + shimcfg_string_max(workdir) +
	      shimcfg_string_max(criu) + shimcfg_string_max(runtime_root);
	text = malloc(max);
	if (text == NULL)
		goto out;

	p = shimcfg_put_raw(text, "{\"Path\":");
	p = shimcfg_put_string(p, path);
	p = shimcfg_put_raw(p, ",\"Namespace\":");
	p = shimcfg_put_string(p, ns);
	p = shimcfg_put_raw(p, ",\"WorkDir\":");
	p = shimcfg_put_string(p, workdir);
	p = shimcfg_put_raw(p, ",\"Criu\":");
	p = shimcfg_put_string(p, criu);
	p = shimcfg_put_raw(p, ",\"RuntimeRoot\":");
	p = shimcfg_put_string(p, runtime_root);
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
		     "\"Binary\":,\"RuncRoot\":,\"RuncBinary\":,\"SystemdCgroup\":false}\n") +
	      shimcfg_string_max(path) + shimcfg_string_max(b->ns) + shimcfg_string_max(b->id) +
	      shimcfg_mem_max(b->group_len) + shimcfg_string_max(workdir) +
	      shimcfg_mem_max(b->address_len) + shimcfg_mem_max(binary_len) +
	      shimcfg_string_max(runc_root) + shimcfg_string_max(runc_binary);
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
