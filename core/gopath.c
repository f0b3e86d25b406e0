/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go's path/filepath Clean and Join for Unix (no volume names, separator
 * '/'), ported statement by statement from Go's path/filepath/path.go so
 * that every result is byte-identical to what containerd computes.
 */
#include "gopath.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Go's lazybuf: the output of Clean is written over a virtual copy of the
 * input. As long as every byte written equals the input byte at the same
 * position, nothing is allocated and the result is a prefix of the input;
 * the buffer is created at the first differing byte. Invariant: w <= the
 * number of input bytes consumed, except for the single '.' of an empty
 * result, so the buffer never needs more than len + 1 bytes plus a NUL.
 */
struct lazybuf {
	const char *path; /* the input, n bytes */
	size_t n;
	char *buf; /* NULL while the output is a prefix of path */
	size_t w;  /* bytes written */
	bool nomem;
};

static char lazybuf_index(const struct lazybuf *b, size_t i)
{
	return b->buf ? b->buf[i] : b->path[i];
}

static void lazybuf_append(struct lazybuf *b, char c)
{
	if (b->buf == NULL) {
		if (b->w < b->n && b->path[b->w] == c) {
			b->w++;
			return;
		}
		b->buf = malloc(b->n + 2);
		if (b->buf == NULL) {
			b->nomem = true;
			return;
		}
		memcpy(b->buf, b->path, b->w);
	}
	b->buf[b->w++] = c;
}

/* The result as a malloc'd string; NULL on ENOMEM. Consumes b->buf. */
static char *lazybuf_string(struct lazybuf *b)
{
	char *s;

	if (b->nomem) {
		free(b->buf);
		return NULL;
	}
	if (b->buf == NULL)
		return strndup(b->path, b->w);
	s = b->buf;
	s[b->w] = '\0';
	b->buf = NULL;
	return s;
}

char *gopath_clean(const char *path)
{
	struct lazybuf out;
	size_t n = strlen(path);
	size_t r = 0, dotdot = 0;
	bool rooted;

	if (n == 0)
		return strdup(".");

	rooted = path[0] == '/';
	out = (struct lazybuf){.path = path, .n = n};

	/*
	 * Invariants, as in Go: reading from path at r, writing to out at w;
	 * dotdot is the index in out where ".." must stop backtracking
	 * (after the root slash, or after leading ".." of a relative path).
	 */
	if (rooted) {
		lazybuf_append(&out, '/');
		r = 1;
		dotdot = 1;
	}

	while (r < n && !out.nomem) {
		if (path[r] == '/') {
			/* empty path element */
			r++;
		} else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
			/* . element */
			r++;
		} else if (path[r] == '.' && path[r + 1] == '.' &&
			   (r + 2 == n || path[r + 2] == '/')) {
			/* .. element: remove to last separator */
			r += 2;
			if (out.w > dotdot) {
				/* can backtrack */
				out.w--;
				while (out.w > dotdot && lazybuf_index(&out, out.w) != '/')
					out.w--;
			} else if (!rooted) {
				/* cannot backtrack, but not rooted, so append .. element */
				if (out.w > 0)
					lazybuf_append(&out, '/');
				lazybuf_append(&out, '.');
				lazybuf_append(&out, '.');
				dotdot = out.w;
			}
		} else {
			/* real path element; add slash if needed */
			if ((rooted && out.w != 1) || (!rooted && out.w != 0))
				lazybuf_append(&out, '/');
			for (; r < n && path[r] != '/'; r++)
				lazybuf_append(&out, path[r]);
		}
	}

	/* Turn empty string into "." */
	if (out.w == 0)
		lazybuf_append(&out, '.');

	return lazybuf_string(&out);
}

char *gopath_join(const char *const *elem, size_t n)
{
	size_t i, first, total = 0;
	char *joined, *p, *cleaned;

	/* Go skips leading empty elements only; later ones give "//", which Clean removes. */
	for (first = 0; first < n; first++)
		if (elem[first][0] != '\0')
			break;
	if (first == n)
		return strdup("");

	for (i = first; i < n; i++)
		total += strlen(elem[i]) + 1;

	joined = malloc(total);
	if (joined == NULL)
		return NULL;
	p = joined;
	for (i = first; i < n; i++) {
		size_t len = strlen(elem[i]);

		if (i > first)
			*p++ = '/';
		memcpy(p, elem[i], len);
		p += len;
	}
	*p = '\0';

	cleaned = gopath_clean(joined);
	free(joined);
	return cleaned;
}
