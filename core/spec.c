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
 * The decoder (on specdec.c's walker) is our own rather than json-c because json-c keeps only the
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
#include "specdec.h"

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
		return dec_type_error(d, "%s: cannot decode %s into uint32", field,
				      dec_kind_name(c));
	while (d->pos < d->len && dec_scalar_byte(d->p[d->pos]))
		d->pos++;
	/* strconv.ParseUint(s, 10, 64) and then OverflowUint for uint32 */
	for (size_t i = start; i < d->pos; i++) {
		c = d->p[i];
		if (c < '0' || c > '9') {
			int n = d->pos - start > 40 ? 40 : (int)(d->pos - start);

			d->pos = start;
			return dec_type_error(d, "%s: number %.*s is not a uint32", field, n,
					      (const char *)d->p + start);
		}
		v = v * 10 + (c - '0');
		if (v > UINT32_MAX) {
			d->pos = start;
			return dec_type_error(d, "%s: number out of uint32 range", field);
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

	if (dec_at_null(d)) {
		d->pos += 4; /* a struct is left as it is */
		return 0;
	}
	if (d->p[d->pos] != '{')
		return dec_type_error(d, "gidMappings element: cannot decode %s into object",
				      dec_kind_name(d->p[d->pos]));
	while (dec_next_key(d, first, &ks, &ke)) {
		first = false;
		if (dec_key_matches(d->p, ks, ke, "CONTAINERID"))
			ret = decode_uint32(d, "containerID", &m->container_id);
		else if (dec_key_matches(d->p, ks, ke, "HOSTID"))
			ret = decode_uint32(d, "hostID", &m->host_id);
		else if (dec_key_matches(d->p, ks, ke, "SIZE"))
			ret = decode_uint32(d, "size", &m->size);
		else {
			dec_skip_value(d);
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

	if (dec_at_null(d)) {
		d->pos += 4; /* the slice becomes nil */
		drop_mappings(d);
		return 0;
	}
	if (d->p[d->pos] != '[')
		return dec_type_error(d, "gidMappings: cannot decode %s into array",
				      dec_kind_name(d->p[d->pos]));
	d->pos++;
	for (;;) {
		dec_skip_ws(d);
		if (d->pos < d->len && d->p[d->pos] == ',') {
			d->pos++;
			dec_skip_ws(d);
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

	if (dec_at_null(d)) {
		d->pos += 4; /* the pointer becomes nil */
		d->linux_set = false;
		drop_mappings(d);
		return 0;
	}
	if (d->p[d->pos] != '{')
		return dec_type_error(d, "linux: cannot decode %s into object",
				      dec_kind_name(d->p[d->pos]));
	if (!d->linux_set) {
		d->linux_set = true;
		drop_mappings(d);
	}
	while (dec_next_key(d, first, &ks, &ke)) {
		first = false;
		if (dec_key_matches(d->p, ks, ke, "GIDMAPPINGS")) {
			ret = decode_mappings(d);
			if (ret)
				return ret;
		} else {
			dec_skip_value(d);
		}
	}
	return 0;
}

static int decode_top(struct dec *d)
{
	size_t ks, ke;
	bool first = true;
	int ret;

	dec_skip_ws(d);
	if (dec_at_null(d))
		return dec_type_error(d, "top-level null");
	if (d->p[d->pos] != '{')
		return dec_type_error(d, "cannot decode %s into the spec object",
				      dec_kind_name(d->p[d->pos]));
	while (dec_next_key(d, first, &ks, &ke)) {
		first = false;
		if (dec_key_matches(d->p, ks, ke, "LINUX")) {
			ret = decode_linux(d);
			if (ret)
				return ret;
		} else {
			dec_skip_value(d);
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
