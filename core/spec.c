// SPDX-License-Identifier: Apache-2.0
/*
 * config.json validation and the remapped GID (SPEC 5.2).
 *
 * containerd's remappedGID runs json.Unmarshal(spec, &ociSpecUserNS) with
 *	type ociSpecUserNS struct { Linux *linuxSpecUserNS }
 *	type linuxSpecUserNS struct { GIDMappings []specs.LinuxIDMapping }
 *	type LinuxIDMapping struct {
 *		ContainerID uint32 `json:"containerID"`
 *		HostID uint32 `json:"hostID"`
 *		Size uint32 `json:"size"`
 *	}
 * and this file reproduces what that accepts and what it leaves in the struct.
 *
 * The decoder is our own rather than json-c because json-c keeps only the
 * last of duplicate keys and does not keep their order, while Go decodes
 * every occurrence in order into the same value, and the outcome depends on
 * it (a later "linux" merges into the earlier struct, a later array reuses the
 * elements an earlier one left behind).
 *
 * Go behaviour relied on (encoding/json decode.go, scanner.go):
 * - Unmarshal runs checkValid over the whole input before decoding, so every
 *   syntax error wins over every type error: gojson_check runs first, and the
 *   decoder below only ever walks syntactically valid text.
 * - Decoding does not stop at a type error (saveError keeps the first and
 *   goes on), but Unmarshal then returns it: any type error rejects, so this
 *   decoder stops at the first one; the accept/reject outcome is the same.
 * - Field names: "Linux", "GIDMappings" (no tags) and the tags "containerID",
 *   "hostID", "size". A key matches exactly or by bytes.EqualFold-style
 *   folding (foldName in Go >= 1.21, equalFoldRight/simpleLetterEqualFold
 *   before): ASCII letters fold, U+017F folds to 's' and U+212A to 'k'; no
 *   other non-ASCII rune folds to an ASCII letter. Each level has a single
 *   candidate field, so Go's exact-before-fold preference cannot change the
 *   result. The key is unquoted first (unquoteBytes: escapes decoded, invalid
 *   UTF-8 and lone surrogates become U+FFFD, which matches nothing).
 * - indirect() allocates a nil pointer and reuses a non-nil one: a second
 *   "linux" object decodes into the struct the first one filled.
 * - null: literalStore sets a pointer or slice to nil and leaves a struct or
 *   a number as it is (so a null mapping is whatever that element held).
 * - array(): element i < len is decoded in place; at i >= len the slice is
 *   extended with SetLen within its capacity, so elements written by an
 *   earlier array and cut off by a shorter one come back as they were; past
 *   the capacity the slice grows with zeroed elements. Growth only happens
 *   when len == cap, so no written element is ever lost to it and the result
 *   does not depend on Go's growth policy. At the end the length is cut to
 *   the element count, and an empty array is a new empty slice (the old
 *   backing array is dropped).
 * - Numbers into uint32: strconv.ParseUint(s, 10, 64) then OverflowUint, so
 *   "-0", "-1", "1.0", "1e3", "4294967296" are errors ("01" never gets here:
 *   it is a syntax error).
 * - Anything else in a known place (a string, a bool, an array where an
 *   object is wanted, an object where an array or a number is wanted, a
 *   non-object top level) is an UnmarshalTypeError.
 * - A top-level null is accepted by Go (a no-op on the struct) but bundlefs
 *   rejects it (SPEC 5.2).
 *
 * No recursion on the input: the known structure is at most four levels
 * deep and handled by one function per level; everything else is skipped by
 * an iterative bracket counter.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "spec.h"

struct mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct dec {
	const unsigned char *p;
	size_t len;
	size_t pos;
	/* ociSpecUserNS.Linux != nil */
	bool linux_set;
	/*
	 * Linux.GIDMappings: elements [0, len) are the slice; [len, written)
	 * were decoded by an earlier array and are still in the backing array.
	 */
	struct mapping *map;
	size_t map_len;
	size_t map_written;
	size_t map_cap;
	char *why;
	size_t whysz;
};

__attribute__((format(printf, 2, 3))) static int type_error(struct dec *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->why && d->whysz > 0) {
		va_start(ap, fmt);
		n = vsnprintf(d->why, d->whysz, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < d->whysz)
			snprintf(d->why + n, d->whysz - (size_t)n, " at offset %zu", d->pos);
	}
	return -EINVAL;
}

static void skip_ws(struct dec *d)
{
	while (d->pos < d->len) {
		unsigned char c = d->p[d->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		d->pos++;
	}
}

/* At an opening quote of a valid string: move past the closing quote. */
static void skip_string(struct dec *d)
{
	d->pos++;
	while (d->pos < d->len) {
		unsigned char c = d->p[d->pos];

		if (c == '"') {
			d->pos++;
			return;
		}
		d->pos += c == '\\' ? 2 : 1;
	}
	if (d->pos > d->len)
		d->pos = d->len;
}

static bool scalar_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' ||
	       c == '.' || c == 'E';
}

/* Skip one valid value of any depth, iteratively. */
static void skip_value(struct dec *d)
{
	size_t depth = 0;

	do {
		unsigned char c;

		if (d->pos >= d->len)
			return;
		c = d->p[d->pos];
		if (c == '"') {
			skip_string(d);
		} else if (c == '{' || c == '[') {
			depth++;
			d->pos++;
		} else if (c == '}' || c == ']') {
			depth--;
			d->pos++;
		} else if (scalar_byte(c)) {
			while (d->pos < d->len && scalar_byte(d->p[d->pos]))
				d->pos++;
		} else {
			d->pos++; /* white space, ',' or ':' inside a container */
		}
	} while (depth > 0);
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

/*
 * Does the key string whose contents are p[start, end) (valid JSON string
 * text, between the quotes) fold-match upper, a field name in upper case?
 */
static bool key_matches(const unsigned char *p, size_t start, size_t end, const char *upper)
{
	size_t k = start;
	size_t ni = 0;

	while (k < end) {
		uint32_t r;
		unsigned char c = p[k];

		if (c == '\\') {
			unsigned char e = p[k + 1];

			switch (e) {
			case 'u':
				r = (uint32_t)(hexval(p[k + 2]) << 12 | hexval(p[k + 3]) << 8 |
					       hexval(p[k + 4]) << 4 | hexval(p[k + 5]));
				k += 6;
				/* a pair is >= U+10000, a lone one U+FFFD: no match */
				if (r >= 0xd800 && r <= 0xdfff)
					return false;
				break;
			case 'b':
				r = '\b';
				k += 2;
				break;
			case 'f':
				r = '\f';
				k += 2;
				break;
			case 'n':
				r = '\n';
				k += 2;
				break;
			case 'r':
				r = '\r';
				k += 2;
				break;
			case 't':
				r = '\t';
				k += 2;
				break;
			default:
				r = e;
				k += 2;
				break; /* \" \\ \/ */
			}
		} else if (c < 0x80) {
			r = c;
			k++;
		} else if (c == 0xc5 && k + 1 < end && p[k + 1] == 0xbf) {
			r = 0x17f;
			k += 2;
		} else if (c == 0xe2 && k + 2 < end && p[k + 1] == 0x84 && p[k + 2] == 0xaa) {
			r = 0x212a;
			k += 3;
		} else {
			/* any other rune, valid or not, folds to no ASCII letter */
			return false;
		}
		if (r >= 'a' && r <= 'z')
			r -= 'a' - 'A';
		else if (r == 0x17f)
			r = 'S';
		else if (r == 0x212a)
			r = 'K';
		if (upper[ni] == '\0' || (unsigned char)upper[ni] != r)
			return false;
		ni++;
	}
	return upper[ni] == '\0';
}

/*
 * At '{' or ',' of an object (or just after '{'): read the next key.
 * Returns false at the closing '}' (consumed). On true, [*ks, *ke) is the
 * key's text and the position is at the value.
 */
static bool next_key(struct dec *d, bool first, size_t *ks, size_t *ke)
{
	if (first)
		d->pos++; /* '{' */
	skip_ws(d);
	if (d->pos < d->len && d->p[d->pos] == ',') {
		d->pos++;
		skip_ws(d);
	}
	if (d->pos >= d->len || d->p[d->pos] == '}') {
		d->pos++;
		return false;
	}
	*ks = d->pos + 1;
	skip_string(d);
	*ke = d->pos - 1;
	skip_ws(d);
	d->pos++; /* ':' */
	skip_ws(d);
	return true;
}

static const char *kind_name(unsigned char c)
{
	switch (c) {
	case '{':
		return "object";
	case '[':
		return "array";
	case '"':
		return "string";
	case 't':
	case 'f':
		return "bool";
	case 'n':
		return "null";
	default:
		return "number";
	}
}

static bool at_null(const struct dec *d)
{
	return d->pos < d->len && d->p[d->pos] == 'n';
}

/* A containerID/hostID/size value. */
static int decode_uint32(struct dec *d, const char *field, uint32_t *out)
{
	unsigned char c = d->pos < d->len ? d->p[d->pos] : 0;
	size_t start = d->pos;
	uint64_t v = 0;

	if (c == 'n') {
		d->pos += 4; /* null leaves the number as it is */
		return 0;
	}
	if (c != '-' && !(c >= '0' && c <= '9'))
		return type_error(d, "%s: cannot decode %s into uint32", field, kind_name(c));
	while (d->pos < d->len && scalar_byte(d->p[d->pos]))
		d->pos++;
	/* strconv.ParseUint(s, 10, 64) and then OverflowUint for uint32 */
	for (size_t i = start; i < d->pos; i++) {
		c = d->p[i];
		if (c < '0' || c > '9') {
			int n = d->pos - start > 40 ? 40 : (int)(d->pos - start);

			d->pos = start;
			return type_error(d, "%s: number %.*s is not a uint32", field, n,
					  (const char *)d->p + start);
		}
		v = v * 10 + (c - '0');
		if (v > UINT32_MAX) {
			d->pos = start;
			return type_error(d, "%s: number out of uint32 range", field);
		}
	}
	*out = (uint32_t)v;
	return 0;
}

static int decode_mapping(struct dec *d, struct mapping *m)
{
	size_t ks, ke;
	bool first = true;
	int ret;

	if (at_null(d)) {
		d->pos += 4; /* a struct is left as it is */
		return 0;
	}
	if (d->p[d->pos] != '{')
		return type_error(d, "gidMappings element: cannot decode %s into object",
				  kind_name(d->p[d->pos]));
	while (next_key(d, first, &ks, &ke)) {
		first = false;
		if (key_matches(d->p, ks, ke, "CONTAINERID"))
			ret = decode_uint32(d, "containerID", &m->container_id);
		else if (key_matches(d->p, ks, ke, "HOSTID"))
			ret = decode_uint32(d, "hostID", &m->host_id);
		else if (key_matches(d->p, ks, ke, "SIZE"))
			ret = decode_uint32(d, "size", &m->size);
		else {
			skip_value(d);
			ret = 0;
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void drop_mappings(struct dec *d)
{
	d->map_len = 0;
	d->map_written = 0;
}

static int decode_mappings(struct dec *d)
{
	size_t i = 0;
	int ret;

	if (at_null(d)) {
		d->pos += 4; /* the slice becomes nil */
		drop_mappings(d);
		return 0;
	}
	if (d->p[d->pos] != '[')
		return type_error(d, "gidMappings: cannot decode %s into array",
				  kind_name(d->p[d->pos]));
	d->pos++;
	for (;;) {
		skip_ws(d);
		if (d->pos < d->len && d->p[d->pos] == ',') {
			d->pos++;
			skip_ws(d);
		}
		if (d->pos >= d->len || d->p[d->pos] == ']') {
			d->pos++;
			break;
		}
		if (i >= d->map_written) {
			/* past what the backing array ever held: a zero element */
			if (i >= d->map_cap) {
				size_t ncap = d->map_cap ? d->map_cap * 2 : 4;
				struct mapping *n = realloc(d->map, ncap * sizeof(*n));

				if (!n)
					return -ENOMEM;
				d->map = n;
				d->map_cap = ncap;
			}
			memset(&d->map[i], 0, sizeof(d->map[i]));
			d->map_written = i + 1;
		}
		if (i >= d->map_len)
			d->map_len = i + 1;
		ret = decode_mapping(d, &d->map[i]);
		if (ret)
			return ret;
		i++;
	}
	if (i == 0)
		drop_mappings(d); /* a new empty slice: the old elements are gone */
	else
		d->map_len = i;
	return 0;
}

static int decode_linux(struct dec *d)
{
	size_t ks, ke;
	bool first = true;
	int ret;

	if (at_null(d)) {
		d->pos += 4; /* the pointer becomes nil */
		d->linux_set = false;
		drop_mappings(d);
		return 0;
	}
	if (d->p[d->pos] != '{')
		return type_error(d, "linux: cannot decode %s into object",
				  kind_name(d->p[d->pos]));
	if (!d->linux_set) {
		d->linux_set = true;
		drop_mappings(d);
	}
	while (next_key(d, first, &ks, &ke)) {
		first = false;
		if (key_matches(d->p, ks, ke, "GIDMAPPINGS")) {
			ret = decode_mappings(d);
			if (ret)
				return ret;
		} else {
			skip_value(d);
		}
	}
	return 0;
}

static int decode_top(struct dec *d)
{
	size_t ks, ke;
	bool first = true;
	int ret;

	skip_ws(d);
	if (at_null(d))
		return type_error(d, "top-level null");
	if (d->p[d->pos] != '{')
		return type_error(d, "cannot decode %s into the spec object",
				  kind_name(d->p[d->pos]));
	while (next_key(d, first, &ks, &ke)) {
		first = false;
		if (key_matches(d->p, ks, ke, "LINUX")) {
			ret = decode_linux(d);
			if (ret)
				return ret;
		} else {
			skip_value(d);
		}
	}
	return 0;
}

int spec_remapped_gid(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz)
{
	struct dec d = {.p = (const unsigned char *)buf, .len = len, .why = why, .whysz = whysz};
	int ret;

	if (why && whysz > 0)
		why[0] = '\0';
	if (len > SPEC_MAX_SIZE) {
		if (why && whysz > 0)
			snprintf(why, whysz, "larger than %u bytes", SPEC_MAX_SIZE);
		return -EFBIG;
	}
	ret = gojson_check(buf, len, why, whysz);
	if (ret)
		goto out;
	ret = decode_top(&d);
	if (ret)
		goto out;
	*gid = 0;
	if (d.linux_set) {
		for (size_t i = 0; i < d.map_len; i++) {
			if (d.map[i].container_id == 0) {
				*gid = d.map[i].host_id;
				break;
			}
		}
	}
out:
	free(d.map);
	return ret;
}

/*
 * The other Go struct decodings bundlefs needs, on the same walker. Like
 * remappedGID they run json.Unmarshal into a struct with a few fields, so
 * the same rules hold: checkValid first, keys fold-matched after unquoting,
 * duplicates decoded in order, unknown keys skipped whatever they hold, and
 * any type error rejects the whole text (Unmarshal returns it).
 */

/* At the opening quote of a string value: its unquoted bytes. */
static char *take_string(struct dec *d, size_t *outlen)
{
	size_t start = d->pos + 1;

	skip_string(d);
	return gojson_unquote((const char *)d->p + start, d->pos - 1 - start, outlen);
}

static void annotations_clear(struct spec_annotation *ann, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ann[i].value);
		ann[i].value = NULL;
		ann[i].vlen = 0;
		ann[i].present = false;
	}
}

/*
 * Which of the n names the key whose text (between the quotes) is
 * p[ks, ke) is, after Go's unquoting; n when none. A key with neither an
 * escape nor a byte above 0x7f unquotes to itself and is compared as it
 * stands; any other is unquoted first. -ENOMEM as -1.
 */
static long annotation_index(const unsigned char *p, size_t ks, size_t ke,
			     const struct spec_annotation *ann, size_t n)
{
	const char *key = (const char *)p + ks;
	size_t klen = ke - ks, i;
	char *owned = NULL;

	for (i = ks; i < ke; i++) {
		if (p[i] == '\\' || p[i] >= 0x80)
			break;
	}
	if (i < ke) {
		owned = gojson_unquote(key, klen, &klen);
		if (!owned)
			return -1;
		key = owned;
	}
	for (i = 0; i < n; i++) {
		if (strlen(ann[i].name) == klen && !memcmp(key, ann[i].name, klen))
			break;
	}
	free(owned);
	return (long)i;
}

/*
 * One "annotations" value into the map[string]string (decode.go object()
 * for a map): null makes the map nil; an object adds to it (a nil map is
 * made anew); each element starts as "" and a null value leaves it so, which
 * still stores the name; a value of any other type is an
 * UnmarshalTypeError, whatever its name, and Unmarshal returns it.
 */
static int decode_annotations(struct dec *d, struct spec_annotation *ann, size_t n)
{
	size_t ks, ke;
	bool first = true;

	if (at_null(d)) {
		d->pos += 4;
		annotations_clear(ann, n);
		return 0;
	}
	if (d->p[d->pos] != '{')
		return -EINVAL;
	while (next_key(d, first, &ks, &ke)) {
		unsigned char c = d->p[d->pos];
		char *value;
		size_t vlen = 0;
		long i;

		first = false;
		if (c != '"' && c != 'n')
			return -EINVAL;
		i = annotation_index(d->p, ks, ke, ann, n);
		if (i < 0)
			return -ENOMEM;
		if ((size_t)i == n) {
			skip_value(d);
			continue;
		}
		if (c == 'n') {
			d->pos += 4;
			value = strdup("");
		} else {
			value = take_string(d, &vlen);
		}
		if (!value)
			return -ENOMEM;
		free(ann[i].value);
		ann[i].value = value;
		ann[i].vlen = vlen;
		ann[i].present = true;
	}
	return 0;
}

int spec_annotations(const char *buf, size_t len, struct spec_annotation *ann, size_t n)
{
	struct dec d = {.p = (const unsigned char *)buf, .len = len};
	size_t ks, ke;
	bool first = true;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		ann[i].present = false;
		ann[i].value = NULL;
		ann[i].vlen = 0;
	}
	if (len > SPEC_MAX_SIZE)
		return -EFBIG;
	if (!buf || gojson_check(buf, len, NULL, 0))
		return -EINVAL;
	skip_ws(&d);
	if (at_null(&d))
		return 0; /* Unmarshal of null into a struct: a no-op */
	if (d.p[d.pos] != '{')
		return -EINVAL;
	while (ret == 0 && next_key(&d, first, &ks, &ke)) {
		first = false;
		if (key_matches(d.p, ks, ke, "ANNOTATIONS"))
			ret = decode_annotations(&d, ann, n);
		else
			skip_value(&d);
	}
	if (ret)
		annotations_clear(ann, n);
	return ret;
}

void spec_annotations_free(struct spec_annotation *ann, size_t n)
{
	annotations_clear(ann, n);
}

int spec_group(const char *buf, size_t len, const char *id, char **group, size_t *glen)
{
	/* SPEC 7.2, in the order the shim tries them. */
	struct spec_annotation ann[] = {
	    {.name = "io.containerd.runc.v2.group"},
	    {.name = "io.kubernetes.cri.sandbox-id"},
	};
	size_t n = sizeof(ann) / sizeof(ann[0]);
	int ret = spec_annotations(buf, len, ann, n);

	*group = NULL;
	if (ret == -ENOMEM)
		return ret;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (ann[i].present) {
			*group = ann[i].value;
			*glen = ann[i].vlen;
			ann[i].value = NULL;
			break;
		}
	}
	spec_annotations_free(ann, n);
	if (!*group) {
		*group = strdup(id);
		*glen = strlen(id);
		if (!*group)
			return -ENOMEM;
	}
	return 0;
}

static int decode_field(struct dec *d, struct spec_field *f)
{
	unsigned char c = d->p[d->pos];

	if (c == 'n') {
		d->pos += 4; /* null leaves a string or a bool as it is */
		return 0;
	}
	if (f->kind == SPEC_FIELD_BOOL) {
		if (c != 't' && c != 'f')
			return -EINVAL;
		f->b = c == 't';
		d->pos += c == 't' ? 4 : 5;
	} else {
		char *s;
		size_t n;

		if (c != '"')
			return -EINVAL;
		s = take_string(d, &n);
		if (!s)
			return -ENOMEM;
		free(f->s);
		f->s = s;
		f->slen = n;
	}
	f->set = true;
	return 0;
}

int spec_decode_fields(const char *buf, size_t len, struct spec_field *fields, size_t n)
{
	struct dec d = {.p = (const unsigned char *)buf, .len = len};
	size_t ks, ke;
	bool first = true;
	int ret = -EINVAL;

	for (size_t i = 0; i < n; i++) {
		fields[i].set = false;
		fields[i].b = false;
		fields[i].s = NULL;
		fields[i].slen = 0;
	}
	if (gojson_check(buf, len, NULL, 0))
		goto fail;
	skip_ws(&d);
	if (d.p[d.pos] != '{')
		goto fail;
	while (next_key(&d, first, &ks, &ke)) {
		size_t i;

		first = false;
		for (i = 0; i < n; i++) {
			if (key_matches(d.p, ks, ke, fields[i].upper))
				break;
		}
		if (i == n) {
			skip_value(&d);
			continue;
		}
		ret = decode_field(&d, &fields[i]);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	spec_fields_free(fields, n);
	return ret ? ret : -EINVAL;
}

void spec_fields_free(struct spec_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(fields[i].s);
		fields[i].s = NULL;
		fields[i].slen = 0;
		fields[i].set = false;
	}
}
