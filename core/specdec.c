// SPDX-License-Identifier: Apache-2.0
/*
 * The walker under spec.c's and specfields.c's decoders (specdec.h): moves
 * over text that gojson_check already accepted, so it never meets a syntax
 * error and never recurses.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gojson.h"
#include "specdec.h"

int dec_type_error(struct dec *d, const char *fmt, ...)
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

void dec_skip_ws(struct dec *d)
{
	while (d->pos < d->len) {
		unsigned char c = d->p[d->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		d->pos++;
	}
}

/* At an opening quote of a valid string: move past the closing quote. */
void dec_skip_string(struct dec *d)
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

bool dec_scalar_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' ||
	       c == '.' || c == 'E';
}

/* Skip one valid value of any depth, iteratively. */
void dec_skip_value(struct dec *d)
{
	size_t depth = 0;

	do {
		unsigned char c;

		if (d->pos >= d->len)
			return;
		c = d->p[d->pos];
		if (c == '"') {
			dec_skip_string(d);
		} else if (c == '{' || c == '[') {
			depth++;
			d->pos++;
		} else if (c == '}' || c == ']') {
			depth--;
			d->pos++;
		} else if (dec_scalar_byte(c)) {
			while (d->pos < d->len && dec_scalar_byte(d->p[d->pos]))
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
bool dec_key_matches(const unsigned char *p, size_t start, size_t end, const char *upper)
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
bool dec_next_key(struct dec *d, bool first, size_t *ks, size_t *ke)
{
	if (first)
		d->pos++; /* '{' */
	dec_skip_ws(d);
	if (d->pos < d->len && d->p[d->pos] == ',') {
		d->pos++;
		dec_skip_ws(d);
	}
	if (d->pos >= d->len || d->p[d->pos] == '}') {
		d->pos++;
		return false;
	}
	*ks = d->pos + 1;
	dec_skip_string(d);
	*ke = d->pos - 1;
	dec_skip_ws(d);
	d->pos++; /* ':' */
	dec_skip_ws(d);
	return true;
}

const char *dec_kind_name(unsigned char c)
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

bool dec_at_null(const struct dec *d)
{
	return d->pos < d->len && d->p[d->pos] == 'n';
}

/* At the opening quote of a string value: its unquoted bytes. */
char *dec_take_string(struct dec *d, size_t *outlen)
{
	size_t start = d->pos + 1;

	dec_skip_string(d);
	return gojson_unquote((const char *)d->p + start, d->pos - 1 - start, outlen);
}
