// SPDX-License-Identifier: Apache-2.0
/*
 * The other Go struct decodings bundlefs needs (spec.h): the annotations,
 * the v2 group and a few named fields, on spec.c's walker (specdec.h). Like
 * remappedGID they run json.Unmarshal into a struct with a few fields, so
 * the same rules hold: checkValid first, keys fold-matched after unquoting,
 * duplicates decoded in order, unknown keys skipped whatever they hold, and
 * any type error rejects the whole text (Unmarshal returns it).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "spec.h"
#include "specdec.h"

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

	if (dec_at_null(d)) {
		d->pos += 4;
		annotations_clear(ann, n);
		return 0;
	}
	if (d->p[d->pos] != '{')
		return -EINVAL;
	while (dec_next_key(d, first, &ks, &ke)) {
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
			dec_skip_value(d);
			continue;
		}
		if (c == 'n') {
			d->pos += 4;
			value = strdup("");
		} else {
			value = dec_take_string(d, &vlen);
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
	dec_skip_ws(&d);
	if (dec_at_null(&d))
		return 0; /* Unmarshal of null into a struct: a no-op */
	if (d.p[d.pos] != '{')
		return -EINVAL;
	while (ret == 0 && dec_next_key(&d, first, &ks, &ke)) {
		first = false;
		if (dec_key_matches(d.p, ks, ke, "ANNOTATIONS"))
			ret = decode_annotations(&d, ann, n);
		else
			dec_skip_value(&d);
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
		s = dec_take_string(d, &n);
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
	dec_skip_ws(&d);
	if (d.p[d.pos] != '{')
		goto fail;
	while (dec_next_key(&d, first, &ks, &ke)) {
		size_t i;

		first = false;
		for (i = 0; i < n; i++) {
			if (dec_key_matches(d.p, ks, ke, fields[i].upper))
				break;
		}
		if (i == n) {
			dec_skip_value(&d);
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
