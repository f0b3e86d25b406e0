// SPDX-License-Identifier: Apache-2.0
/*
 * spec_remapped_gid: never crashes, is deterministic, never accepts what
 * gojson_check rejects, gives a reason for every rejection, and does not
 * care about white space around the value; and it agrees with an
 * independent tree-based model of Go's decoding. spec_annotations (and
 * spec_group on it) likewise, against the same tree decoded into
 * struct { Annotations map[string]string }; and the pods/ claim made of
 * those annotations (pods_claim_decode) follows SPEC 8.3's rules.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "pods.h"
#include "spec.h"

/*
 * An independent model of Go's decoding for the differential check: the
 * text (already valid for gojson_check) is parsed into a tree that keeps
 * every duplicate key in order, keys are unquoted in full and folded as
 * Go's foldName does, and the slice is modelled with an explicit capacity
 * grown as Go 1.19's decode.go does (cap + cap/2, at least 4, len elements
 * copied). Only used up to REF_MAX_DEPTH levels (it recurses).
 */
#define REF_MAX_DEPTH 64

struct node {
	char kind;	  /* '{' '[' '"' 'n' 't' 'f' '0' (number) */
	const char *text; /* number: its text; string: raw text between quotes */
	size_t textlen;
	size_t n;
	struct node *kids; /* object: 2*n (key, value); array: n */
};

struct ref {
	const char *p;
	size_t len, pos;
	bool too_deep;
};

static void ref_ws(struct ref *r)
{
	while (r->pos < r->len && strchr(" \t\r\n", r->p[r->pos]) && r->p[r->pos])
		r->pos++;
}

static void node_free(struct node *nd)
{
	size_t k = nd->kind == '{' ? 2 * nd->n : nd->kind == '[' ? nd->n : 0;

	for (size_t i = 0; i < k; i++)
		node_free(&nd->kids[i]);
	free(nd->kids);
}

static int ref_parse(struct ref *r, struct node *nd, int depth)
{
	char c;

	memset(nd, 0, sizeof(*nd));
	ref_ws(r);
	c = r->p[r->pos];
	if (c == '{' || c == '[') {
		size_t cap = 0;
		size_t per = c == '{' ? 2 : 1;

		if (depth >= REF_MAX_DEPTH) {
			r->too_deep = true;
			return -1;
		}
		nd->kind = c;
		r->pos++;
		for (;;) {
			ref_ws(r);
			if (r->p[r->pos] == (c == '{' ? '}' : ']')) {
				r->pos++;
				return 0;
			}
			if (r->p[r->pos] == ',')
				r->pos++;
			if ((nd->n + 1) * per > cap) {
				struct node *k;

				cap = cap ? cap * 2 : 8;
				k = realloc(nd->kids, cap * sizeof(*k));
				if (!k)
					abort();
				nd->kids = k;
			}
			/* on failure a child has freed itself; free the others */
			if (c == '{') {
				if (ref_parse(r, &nd->kids[2 * nd->n], depth + 1))
					goto fail;
				ref_ws(r);
				r->pos++; /* ':' */
				if (ref_parse(r, &nd->kids[2 * nd->n + 1], depth + 1)) {
					node_free(&nd->kids[2 * nd->n]);
					goto fail;
				}
			} else if (ref_parse(r, &nd->kids[nd->n], depth + 1)) {
				goto fail;
			}
			nd->n++;
		}
	fail:
		node_free(nd);
		return -1;
	}
	if (c == '"') {
		nd->kind = '"';
		nd->text = r->p + ++r->pos;
		while (r->p[r->pos] != '"')
			r->pos += r->p[r->pos] == '\\' ? 2 : 1;
		nd->textlen = (size_t)(r->p + r->pos - nd->text);
		r->pos++;
		return 0;
	}
	if (c == 'n' || c == 't' || c == 'f') {
		nd->kind = c;
		r->pos += c == 'f' ? 5 : 4;
		return 0;
	}
	nd->kind = '0';
	nd->text = r->p + r->pos;
	while (r->pos < r->len && strchr("0123456789+-.eE", r->p[r->pos]) && r->p[r->pos])
		r->pos++;
	nd->textlen = (size_t)(r->p + r->pos - nd->text);
	return 0;
}

static void put_utf8(uint32_t r, char *out, size_t *o)
{
	if (r < 0x80) {
		out[(*o)++] = (char)r;
	} else if (r < 0x800) {
		out[(*o)++] = (char)(0xc0 | r >> 6);
		out[(*o)++] = (char)(0x80 | (r & 0x3f));
	} else if (r < 0x10000) {
		out[(*o)++] = (char)(0xe0 | r >> 12);
		out[(*o)++] = (char)(0x80 | ((r >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (r & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | r >> 18);
		out[(*o)++] = (char)(0x80 | ((r >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((r >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (r & 0x3f));
	}
}

static uint32_t hex4(const char *s)
{
	char b[5] = {s[0], s[1], s[2], s[3], 0};

	return (uint32_t)strtoul(b, NULL, 16);
}

/* Decode one UTF-8 rune as Go's utf8.DecodeRune (invalid: U+FFFD, 1 byte). */
static uint32_t dec_rune(const unsigned char *s, size_t n, size_t *sz)
{
	uint32_t r;
	size_t need;

	*sz = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		r = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		r = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		r = s[0] & 0x07;
	} else {
		return 0xfffd;
	}
	if (n < need)
		return 0xfffd;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0xfffd;
		r = r << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && r < 0x800) || (need == 4 && (r < 0x10000 || r > 0x10ffff)) ||
	    (r >= 0xd800 && r <= 0xdfff))
		return 0xfffd;
	*sz = need;
	return r;
}

/*
 * Go's unquote of a string node (escapes, surrogate pairs, lone surrogates
 * and invalid UTF-8 as U+FFFD) into a malloc'd buffer; its length in *olen.
 */
static char *ref_unquote(const struct node *k, size_t *olen)
{
	char *u = malloc(k->textlen * 3 + 8);
	size_t o = 0;

	if (!u)
		abort();
	for (size_t i = 0; i < k->textlen;) {
		const char *t = k->text;

		if (t[i] == '\\') {
			char e = t[i + 1];

			if (e == 'u') {
				uint32_t r = hex4(t + i + 2);

				i += 6;
				if (r >= 0xd800 && r <= 0xdfff) {
					uint32_t r2 = 0;

					if (r < 0xdc00 && i + 6 <= k->textlen && t[i] == '\\' &&
					    t[i + 1] == 'u') {
						r2 = hex4(t + i + 2);
					}
					if (r < 0xdc00 && r2 >= 0xdc00 && r2 <= 0xdfff) {
						r = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
						i += 6;
					} else {
						r = 0xfffd;
					}
				}
				put_utf8(r, u, &o);
				continue;
			}
			u[o++] = e == 'b'   ? '\b'
				 : e == 'f' ? '\f'
				 : e == 'n' ? '\n'
				 : e == 'r' ? '\r'
				 : e == 't' ? '\t'
					    : e;
			i += 2;
			continue;
		}
		{
			size_t sz;
			uint32_t r = dec_rune((const unsigned char *)t + i, k->textlen - i, &sz);

			put_utf8(r, u, &o);
			i += sz;
		}
	}
	*olen = o;
	return u;
}

/* unquote, then foldName. */
static bool ref_key_is(const struct node *k, const char *folded_name)
{
	size_t o, fo = 0;
	char *u = ref_unquote(k, &o), *f = malloc(o * 2 + 8);
	bool eq;

	if (!f)
		abort();
	for (size_t i = 0; i < o;) {
		size_t sz;
		uint32_t r = dec_rune((const unsigned char *)u + i, o - i, &sz);

		if (r >= 'a' && r <= 'z')
			r -= 32;
		else if (r == 0x17f)
			r = 'S';
		else if (r == 0x212a)
			r = 'K';
		put_utf8(r, f, &fo);
		i += sz;
	}
	eq = fo == strlen(folded_name) && !memcmp(f, folded_name, fo);
	free(u);
	free(f);
	return eq;
}

struct gomap {
	uint32_t c, h, s;
};

struct goslice {
	struct gomap *a; /* backing array of cap elements, NULL when nil */
	size_t len, cap;
};

static int ref_uint(const struct node *v, uint32_t *out)
{
	unsigned long long x = 0;

	if (v->kind == 'n')
		return 0;
	if (v->kind != '0')
		return -1;
	for (size_t i = 0; i < v->textlen; i++) {
		if (v->text[i] < '0' || v->text[i] > '9')
			return -1;
		x = x * 10 + (unsigned long long)(v->text[i] - '0');
		if (x > 0xffffffffull)
			return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

static int ref_mapping(const struct node *v, struct gomap *m)
{
	if (v->kind == 'n')
		return 0;
	if (v->kind != '{')
		return -1;
	for (size_t i = 0; i < v->n; i++) {
		const struct node *k = &v->kids[2 * i], *x = &v->kids[2 * i + 1];
		int ret = 0;

		if (ref_key_is(k, "CONTAINERID"))
			ret = ref_uint(x, &m->c);
		else if (ref_key_is(k, "HOSTID"))
			ret = ref_uint(x, &m->h);
		else if (ref_key_is(k, "SIZE"))
			ret = ref_uint(x, &m->s);
		if (ret)
			return ret;
	}
	return 0;
}

static int ref_slice(const struct node *v, struct goslice *sl)
{
	size_t i;

	if (v->kind == 'n') {
		free(sl->a);
		memset(sl, 0, sizeof(*sl));
		return 0;
	}
	if (v->kind != '[')
		return -1;
	for (i = 0; i < v->n; i++) {
		if (i >= sl->cap) {
			size_t ncap = sl->cap + sl->cap / 2;
			struct gomap *na;

			if (ncap < 4)
				ncap = 4;
			na = calloc(ncap, sizeof(*na));
			if (!na)
				abort();
			if (sl->len)
				memcpy(na, sl->a, sl->len * sizeof(*na));
			free(sl->a);
			sl->a = na;
			sl->cap = ncap;
		}
		if (i >= sl->len)
			sl->len = i + 1;
		if (ref_mapping(&v->kids[i], &sl->a[i]))
			return -1;
	}
	if (i < sl->len)
		sl->len = i;
	if (i == 0) {
		free(sl->a);
		memset(sl, 0, sizeof(*sl));
	}
	return 0;
}

/* 0 and *gid, or -1 for a type error; -2 when too deep to model. */
static int ref_remapped_gid(const char *in, size_t size, uint32_t *gid)
{
	struct ref r = {.p = in, .len = size};
	struct node top;
	bool linux_set = false;
	struct goslice sl = {0};
	int ret = 0;

	if (ref_parse(&r, &top, 0))
		return -2;
	if (top.kind != '{') {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < top.n && !ret; i++) {
		const struct node *v = &top.kids[2 * i + 1];

		if (!ref_key_is(&top.kids[2 * i], "LINUX"))
			continue;
		if (v->kind == 'n') {
			linux_set = false;
			free(sl.a);
			memset(&sl, 0, sizeof(sl));
			continue;
		}
		if (v->kind != '{') {
			ret = -1;
			break;
		}
		linux_set = true;
		for (size_t j = 0; j < v->n && !ret; j++) {
			if (ref_key_is(&v->kids[2 * j], "GIDMAPPINGS"))
				ret = ref_slice(&v->kids[2 * j + 1], &sl);
		}
	}
	*gid = 0;
	for (size_t i = 0; !ret && linux_set && i < sl.len; i++) {
		if (sl.a[i].c == 0) {
			*gid = sl.a[i].h;
			break;
		}
	}
out:
	free(sl.a);
	node_free(&top);
	return ret;
}

/* The names asked of spec_annotations: the CRI and group ones, and a few
 * that short fuzzed keys reach (the empty name, U+FFFD, a NUL-free escape). */
static const char *const ann_names[] = {
    "io.kubernetes.cri.sandbox-namespace",
    "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.sandbox-uid",
    "io.kubernetes.cri.container-type",
    "io.kubernetes.cri.container-name",
    "io.containerd.runc.v2.group",
    "io.kubernetes.cri.sandbox-id",
    "",
    "a",
    "A",
    "\xef\xbf\xbd",
    "\n",
};
#define ANN_N (sizeof(ann_names) / sizeof(ann_names[0]))

struct ref_ann {
	bool present[ANN_N];
	char *value[ANN_N];
	size_t vlen[ANN_N];
};

static void ref_ann_clear(struct ref_ann *a)
{
	for (size_t i = 0; i < ANN_N; i++) {
		free(a->value[i]);
		a->value[i] = NULL;
		a->vlen[i] = 0;
		a->present[i] = false;
	}
}

/* json.Unmarshal into struct { Annotations map[string]string }: 0 or -1. */
static int ref_annotations(const struct node *top, struct ref_ann *a)
{
	if (top->kind == 'n')
		return 0;
	if (top->kind != '{')
		return -1;
	for (size_t i = 0; i < top->n; i++) {
		const struct node *v = &top->kids[2 * i + 1];

		if (!ref_key_is(&top->kids[2 * i], "ANNOTATIONS"))
			continue;
		if (v->kind == 'n') {
			ref_ann_clear(a);
			continue;
		}
		if (v->kind != '{')
			return -1;
		for (size_t j = 0; j < v->n; j++) {
			const struct node *k = &v->kids[2 * j], *x = &v->kids[2 * j + 1];
			size_t klen, vlen = 0;
			char *key, *val;

			if (x->kind != '"' && x->kind != 'n')
				return -1;
			key = ref_unquote(k, &klen);
			val = x->kind == 'n' ? strdup("") : ref_unquote(x, &vlen);
			if (!val)
				abort();
			for (size_t m = 0; m < ANN_N; m++) {
				if (strlen(ann_names[m]) == klen &&
				    !memcmp(key, ann_names[m], klen)) {
					free(a->value[m]);
					a->value[m] = val;
					a->vlen[m] = vlen;
					a->present[m] = true;
					val = NULL;
					break;
				}
			}
			free(val);
			free(key);
		}
	}
	return 0;
}

static bool value_is(const struct spec_annotation *a, const char *s)
{
	return a->present && a->vlen == strlen(s) && !memcmp(a->value, s, a->vlen);
}

static bool entry_ok(const char *s, size_t n)
{
	return n > 0 && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.') &&
	       !memchr(s, '/', n) && !memchr(s, '\0', n);
}

/* pods_claim_decode against SPEC 8.3, given spec_annotations' answer (ann[0..4]). */
static void check_claim(const char *in, size_t size, int ret, const struct spec_annotation *ann)
{
	struct pods_claim c;
	enum pods_kind want = PODS_NONE;
	char pod[3 * 4096];
	size_t plen = 0;

	if (pods_claim_decode(in, size, &c) < 0)
		return; /* ENOMEM */
	if (ret == 0 && ann[0].present && ann[1].present && ann[2].present &&
	    ann[0].vlen + ann[1].vlen + ann[2].vlen + 2 < sizeof(pod)) {
		memcpy(pod, ann[0].value, ann[0].vlen);
		pod[ann[0].vlen] = '_';
		memcpy(pod + ann[0].vlen + 1, ann[1].value, ann[1].vlen);
		pod[ann[0].vlen + 1 + ann[1].vlen] = '_';
		memcpy(pod + ann[0].vlen + 2 + ann[1].vlen, ann[2].value, ann[2].vlen);
		plen = ann[0].vlen + ann[1].vlen + ann[2].vlen + 2;
		if (!entry_ok(pod, plen))
			want = PODS_NONE;
		else if (value_is(&ann[3], "sandbox"))
			want = PODS_SANDBOX_KIND;
		else if (value_is(&ann[3], "container") && ann[4].present &&
			 entry_ok(ann[4].value, ann[4].vlen))
			want = PODS_CONTAINER_KIND;
	} else if (ret == 0 && ann[0].present && ann[1].present && ann[2].present) {
		want = c.kind; /* too long for this check's buffer */
	}
	if (c.kind != want)
		abort();
	if (want != PODS_NONE && plen && (strlen(c.pod) != plen || memcmp(c.pod, pod, plen)))
		abort();
	if ((want == PODS_CONTAINER_KIND) != (c.name != NULL))
		abort();
	if (c.name && (strlen(c.name) != ann[4].vlen || memcmp(c.name, ann[4].value, ann[4].vlen)))
		abort();
	pods_claim_free(&c);
}

/* spec_annotations and spec_group against the model. */
static void check_annotations(const char *in, size_t size, int syn)
{
	struct spec_annotation ann[ANN_N];
	struct ref_ann ra;
	struct ref ref = {.p = in, .len = size};
	struct node top;
	char *group;
	size_t glen;
	int ret, rr;

	memset(&ra, 0, sizeof(ra));
	for (size_t i = 0; i < ANN_N; i++)
		ann[i].name = ann_names[i];
	ret = spec_annotations(in, size, ann, ANN_N);
	if (ret != 0 && ret != -EINVAL && ret != -EFBIG && ret != -ENOMEM)
		abort();
	if (syn != 0 && ret != -EINVAL)
		abort();
	for (size_t i = 0; ret != 0 && i < ANN_N; i++)
		if (ann[i].present || ann[i].value)
			abort();
	for (size_t i = 0; ret == 0 && i < ANN_N; i++)
		if (ann[i].present != (ann[i].value != NULL) ||
		    (ann[i].value && ann[i].value[ann[i].vlen]))
			abort();

	/* spec_group is the first present of the two group names, else the id */
	if (spec_group(in, size, "ID", &group, &glen) == 0) {
		const struct spec_annotation *g = ret != 0	   ? NULL
						  : ann[5].present ? &ann[5]
						  : ann[6].present ? &ann[6]
								   : NULL;

		if (g ? glen != g->vlen || memcmp(group, g->value, glen)
		      : glen != 2 || memcmp(group, "ID", 2))
			abort();
		free(group);
	}

	if (syn == 0 && ret != -ENOMEM && ref_parse(&ref, &top, 0) == 0) {
		rr = ref_annotations(&top, &ra);
		if ((rr == 0) != (ret == 0))
			abort();
		for (size_t i = 0; ret == 0 && i < ANN_N; i++) {
			if (ra.present[i] != ann[i].present ||
			    (ra.present[i] && (ra.vlen[i] != ann[i].vlen ||
					       memcmp(ra.value[i], ann[i].value, ra.vlen[i]))))
				abort();
		}
		ref_ann_clear(&ra);
		node_free(&top);
	}
	check_claim(in, size, ret, ann);
	spec_annotations_free(ann, ANN_N);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char why1[256], why2[256];
	uint32_t gid1 = 0x11111111, gid2 = 0x22222222;
	int r1, r2, syn;
	char *wrapped;

	r1 = spec_remapped_gid(in, size, &gid1, why1, sizeof(why1));
	r2 = spec_remapped_gid(in, size, &gid2, why2, sizeof(why2));
	if (r1 != r2 || (r1 == 0 && gid1 != gid2))
		abort();
	if (r1 != 0 && r1 != -EINVAL && r1 != -EFBIG && r1 != -ENOMEM)
		abort();
	if (r1 == -EINVAL && why1[0] == '\0')
		abort();
	if (strnlen(why1, sizeof(why1)) >= sizeof(why1))
		abort();

	syn = gojson_check(in, size, NULL, 0);
	if (syn != 0 && syn != -EINVAL)
		abort();
	if (syn != 0 && r1 == 0)
		abort();

	/* the independent model agrees (a top-level null is bundlefs's own rule) */
	if (syn == 0) {
		uint32_t rgid = 0x44444444;
		int rr = ref_remapped_gid(in, size, &rgid);
		size_t i = 0;

		while (i < size && strchr(" \t\r\n", in[i]) && in[i])
			i++;
		if (in[i] == 'n')
			rr = -1;
		if (rr != -2 && ((rr == 0) != (r1 == 0) || (rr == 0 && rgid != gid1)))
			abort();
	}

	check_annotations(in, size, syn);

	/* " \t\n" + input + "\r ": the same outcome */
	wrapped = malloc(size + 5);
	if (!wrapped)
		return 0;
	memcpy(wrapped, " \t\n", 3);
	memcpy(wrapped + 3, data, size);
	memcpy(wrapped + 3 + size, "\r ", 2);
	gid2 = 0x33333333;
	r2 = spec_remapped_gid(wrapped, size + 5, &gid2, NULL, 0);
	if (r1 != r2 || (r1 == 0 && gid1 != gid2))
		abort();
	free(wrapped);
	return 0;
}
