// SPDX-License-Identifier: Apache-2.0
/*
 * gopath_clean and gopath_join, by their properties: Clean is idempotent
 * and yields a canonical path; Join is the Clean of the non-empty elements
 * joined with '/', "" when they are all empty, and is itself Clean.
 * The input is split on NUL bytes into at most 8 elements.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gopath.h"

#define MAX_ELEM 8

/* A clean path: not empty; no "//"; no trailing '/' unless it is "/";
 * no "." element unless it is "."; ".." only as leading elements of a
 * relative path. */
static bool is_canonical(const char *p)
{
	size_t n = strlen(p);
	bool abs = p[0] == '/';
	bool seen_name = false;
	const char *s = p;

	if (n == 0)
		return false;
	if (!strcmp(p, ".") || !strcmp(p, "/"))
		return true;
	if (p[n - 1] == '/' || strstr(p, "//"))
		return false;
	if (abs)
		s++;
	while (*s) {
		const char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);

		if (l == 1 && s[0] == '.')
			return false;
		if (l == 2 && s[0] == '.' && s[1] == '.') {
			if (abs || seen_name)
				return false;
		} else {
			seen_name = true;
		}
		s += l;
		if (*s == '/')
			s++;
	}
	return true;
}

static void check_clean(const char *p)
{
	char *c = gopath_clean(p);
	char *cc;

	if (!c)
		return;
	if (!is_canonical(c))
		abort();
	cc = gopath_clean(c);
	if (cc && strcmp(c, cc))
		abort();
	/* absolute stays absolute, relative stays relative */
	if ((p[0] == '/') != (c[0] == '/'))
		abort();
	free(cc);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	const char *elem[MAX_ELEM];
	size_t n = 0, off = 0, total = 0;
	char *joined = NULL, *cat = NULL, *ref = NULL;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	while (n < MAX_ELEM && off <= size) {
		elem[n++] = buf + off;
		off += strlen(buf + off) + 1;
	}
	for (size_t i = 0; i < n; i++) {
		check_clean(elem[i]);
		total += strlen(elem[i]) + 1;
	}

	joined = gopath_join(elem, n);
	cat = malloc(total + 1);
	if (!joined || !cat)
		goto out;
	cat[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!elem[i][0])
			continue;
		if (cat[0])
			strcat(cat, "/");
		strcat(cat, elem[i]);
	}
	if (!cat[0]) {
		if (joined[0])
			abort();
		goto out;
	}
	ref = gopath_clean(cat);
	if (!ref)
		goto out;
	if (strcmp(joined, ref))
		abort();
	if (!is_canonical(joined))
		abort();
out:
	free(ref);
	free(cat);
	free(joined);
	free(buf);
	return 0;
}
