// SPDX-License-Identifier: Apache-2.0
/*
 * runc-options (SPEC 4.5): containerd's RuncOptions as JSON.
 *
 * The text must first be valid for Go (gojson_check): json-c alone accepts
 * NaN, comments, single quotes and more. json-c then builds the tree; its
 * depth limit is raised past Go's so that anything Go accepts nests fine.
 * Known keys are matched exactly; a known key holding null is its zero
 * value; unknown keys are ignored whatever they hold.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "gojson.h"
#include "ropts.h"

__attribute__((format(printf, 3, 4))) static int why_set(char *why, size_t whysz, const char *fmt,
							 ...)
{
	va_list ap;

	if (why && whysz > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whysz, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Copy the string value of key into *dst ("" when absent or null).
 * A value with an embedded NUL cannot be a path or a binary name and is
 * refused rather than silently cut short.
 */
static int get_string(struct json_object *obj, const char *key, char **dst, char *why, size_t whysz)
{
	struct json_object *v = NULL;
	const char *s = "";
	size_t n = 0;

	if (json_object_object_get_ex(obj, key, &v) && v) {
		if (!json_object_is_type(v, json_type_string))
			return why_set(why, whysz, "%s: not a string", key);
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		if (strlen(s) != n)
			return why_set(why, whysz, "%s: contains a NUL byte", key);
	}
	*dst = strndup(s, n);
	return *dst ? 0 : -ENOMEM;
}

/*
 * json-c cuts object keys at a NUL byte, so a key "runtime\u0000x" would
 * land on "runtime" (and replace it) where Go sees an unknown key. Such a
 * top-level key is refused. buf holds one valid JSON object.
 */
static bool has_nul_key(const char *buf, size_t len)
{
	size_t depth = 0;
	bool expect_key = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '"') {
			bool key = depth == 1 && expect_key;

			for (i++; i < len && buf[i] != '"'; i++) {
				if (buf[i] != '\\')
					continue;
				if (key && i + 5 < len && !memcmp(buf + i + 1, "u0000", 5))
					return true;
				i++;
			}
			expect_key = false;
		} else if (c == '{') {
			depth++;
			expect_key = true;
		} else if (c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ',') {
			expect_key = true;
		}
	}
	return false;
}

int ropts_parse(const char *buf, size_t len, struct ropts *out, char *why, size_t whysz)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL;
	struct json_object *v = NULL;
	struct ropts ro = {0};
	int ret;

	if (why && whysz > 0)
		why[0] = '\0';
	memset(out, 0, sizeof(*out));
	if (len > ROPTS_MAX_SIZE) {
		if (why && whysz > 0)
			snprintf(why, whysz, "larger than %u bytes", ROPTS_MAX_SIZE);
		return -EFBIG;
	}
	ret = gojson_check(buf, len, why, whysz);
	if (ret)
		goto out;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r')
			continue;
		if (buf[i] != '{') {
			ret = why_set(why, whysz, "%s", "not a JSON object");
			goto out;
		}
		break;
	}
	if (len > (size_t)INT32_MAX) {
		ret = -EFBIG;
		goto out;
	}

	if (has_nul_key(buf, len)) {
		ret = why_set(why, whysz, "%s", "an object key contains a NUL byte");
		goto out;
	}

	tok = json_tokener_new_ex(GOJSON_MAX_DEPTH + 1);
	if (!tok) {
		ret = -ENOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success) {
		ret = why_set(why, whysz, "not parsable: %s",
			      json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	if (!json_object_is_type(root, json_type_object)) {
		ret = why_set(why, whysz, "%s", "not a JSON object");
		goto out;
	}

	ret = get_string(root, "runtime", &ro.runtime, why, whysz);
	if (ret)
		goto out;
	ret = get_string(root, "runtime_root", &ro.runtime_root, why, whysz);
	if (ret)
		goto out;
	ret = get_string(root, "criu_path", &ro.criu_path, why, whysz);
	if (ret)
		goto out;
	if (json_object_object_get_ex(root, "systemd_cgroup", &v) && v) {
		if (!json_object_is_type(v, json_type_boolean)) {
			ret = why_set(why, whysz, "%s: not a bool", "systemd_cgroup");
			goto out;
		}
		ro.systemd_cgroup = json_object_get_boolean(v);
	}
	*out = ro;
	memset(&ro, 0, sizeof(ro));
out:
	ropts_free(&ro);
	if (root)
		json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return ret;
}

void ropts_free(struct ropts *ro)
{
	if (!ro)
		return;
	free(ro->runtime);
	free(ro->runtime_root);
	free(ro->criu_path);
	ro->runtime = NULL;
	ro->runtime_root = NULL;
	ro->criu_path = NULL;
	ro->systemd_cgroup = false;
}
