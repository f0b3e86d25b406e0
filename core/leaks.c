// SPDX-License-Identifier: Apache-2.0
/*
 * leaks (leaks.h): a look is the walks of leakwalk.c; the second look
 * keeps what the first found too; the text of what both found.
 */
#include "leaks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gojson.h"
#include "leaksint.h"

int leaks_finding_cmp(const void *x, const void *y)
{
	const struct finding *a = x, *b = y;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == K_SHIM)
		return a->pid < b->pid ? -1 : a->pid > b->pid;
	/* strcmp compares as unsigned char: the bytes of path */
	return strcmp(a->path, b->path);
}

static void finding_free(struct finding *f)
{
	free(f->path);
	free(f->exe);
	free(f->cwd);
}

void leaks_look_free(struct leaks_look *look)
{
	if (!look)
		return;
	for (size_t i = 0; i < look->n; i++)
		finding_free(&look->v[i]);
	free(look->v);
	free(look);
}

size_t leaks_look_count(const struct leaks_look *look)
{
	return look ? look->n : 0;
}

bool leaks_in_prev(const struct leaks_look *prev, const struct finding *f)
{
	return !prev ||
	       (prev->n > 0 && bsearch(f, prev->v, prev->n, sizeof(*f), leaks_finding_cmp) != NULL);
}

int leaks_add(struct leaks_look *look, struct finding *f)
{
	if (look->n == look->cap) {
		size_t ncap = look->cap ? look->cap * 2 : 16;
		struct finding *v = realloc(look->v, ncap * sizeof(*v));

		if (!v) {
			finding_free(f);
			return -ENOMEM;
		}
		look->v = v;
		look->cap = ncap;
	}
	look->v[look->n++] = *f;
	return 0;
}

int leaks_look(const struct leaks_input *in, const struct leaks_look *prev, struct leaks_look **out)
{
	struct gather g = {.in = in, .prev = prev};
	int ret;

	*out = NULL;
	g.out = calloc(1, sizeof(*g.out));
	if (!g.out)
		return -ENOMEM;
	ret = leaks_walk_bundles(&g);
	if (ret == 0)
		ret = leaks_walk_workdirs(&g);
	if (ret == 0)
		ret = leaks_walk_sockets(&g);
	if (ret == 0)
		ret = leaks_walk_shims(&g);
	if (ret == 0 && g.out->n > 1)
		qsort(g.out->v, g.out->n, sizeof(*g.out->v), leaks_finding_cmp);
	leaks_gather_free(&g);
	if (ret < 0) {
		leaks_look_free(g.out);
		return ret;
	}
	*out = g.out;
	return 0;
}

/* ---- the text ---- */

static size_t finding_max(const struct finding *f)
{
	/* the longest fixed text of any kind, with a pid of 11 characters */
	size_t n =
	    sizeof("{\"kind\":\"workdir\",\"path\":,\"listening\":false,\"reason\":\"stale\","
		   "\"pid\":-2147483648,\"exe\":,\"cwd\":}\n");

	if (f->path)
		n += gojson_string_max(strlen(f->path));
	if (f->exe)
		n += gojson_string_max(strlen(f->exe));
	if (f->cwd)
		n += gojson_string_max(strlen(f->cwd));
	return n;
}

static char *put(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_str(char *p, const char *s)
{
	return gojson_put_string(p, s, strlen(s));
}

static char *put_finding(char *p, const struct finding *f)
{
	static const char *const listening[] = {"null", "false", "true"};

	switch (f->kind) {
	case K_BUNDLE:
		p = put(p, "{\"kind\":\"bundle\",\"path\":");
		p = put_str(p, f->path);
		return put(p, ",\"reason\":\"stale\"}\n");
	case K_WORKDIR:
		p = put(p, "{\"kind\":\"workdir\",\"path\":");
		p = put_str(p, f->path);
		return put(p, "}\n");
	case K_SOCKET:
		p = put(p, "{\"kind\":\"socket\",\"path\":");
		p = put_str(p, f->path);
		p = put(p, ",\"listening\":");
		p = put(p, listening[f->listening]);
		return put(p, "}\n");
	case K_SHIM:
	default:
		p += sprintf(p, "{\"kind\":\"shim\",\"pid\":%" PRId32 ",\"exe\":", f->pid);
		p = put_str(p, f->exe);
		p = put(p, ",\"cwd\":");
		p = put_str(p, f->cwd);
		return put(p, "}\n");
	}
}

int leaks_format(const struct leaks_look *look, char **text, size_t *len)
{
	size_t max = 1;
	char *p;

	for (size_t i = 0; i < look->n; i++)
		max += finding_max(&look->v[i]);
	*text = malloc(max);
	if (!*text)
		return -ENOMEM;
	p = *text;
	for (size_t i = 0; i < look->n; i++)
		p = put_finding(p, &look->v[i]);
	*p = '\0';
	if (len)
		*len = (size_t)(p - *text);
	return 0;
}

/* Sleep until ms after now (CLOCK_MONOTONIC), whatever the signals. */
static void pause_ms(int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

int leaks_render(const struct leaks_input *in, char **text, size_t *len)
{
	struct leaks_look *first, *second;
	int gap = in->gap_ms > 0 ? in->gap_ms : LEAKS_LOOK_GAP_MS;
	int ret;

	*text = NULL;
	if (gap < LEAKS_MIN_GAP_MS)
		gap = LEAKS_MIN_GAP_MS;
	ret = leaks_look(in, NULL, &first);
	if (ret < 0)
		return ret;
	pause_ms(gap);
	ret = leaks_look(in, first, &second);
	leaks_look_free(first);
	if (ret < 0)
		return ret;
	ret = leaks_format(second, text, len);
	leaks_look_free(second);
	return ret;
}
