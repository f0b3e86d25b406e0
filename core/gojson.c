// SPDX-License-Identifier: Apache-2.0
/*
 * Go's json.Valid, byte for byte.
 *
 * This follows the state machine of Go's encoding/json scanner.go: the same
 * literals, the same number grammar -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * the same string rules (escapes \" \\ \/ \b \f \n \r \t \uXXXX; a byte below
 * 0x20 is an error; every other byte, including invalid UTF-8, is accepted),
 * white space limited to space, \t, \n and \r, and maxNestingDepth = 10000:
 * pushParseState fails when the stack would grow past 10000 entries, so
 * 10000 open containers are fine and the 10001st is an error.
 *
 * Iterative: the parse state stack is a bit per level (object or array) in a
 * fixed array, so nothing grows with the input and nothing recurses.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"

struct scan {
	const unsigned char *p;
	size_t len;
	size_t pos;
	size_t depth;
	/* bit set: the container at that level is an object; else an array */
	uint8_t isobj[(GOJSON_MAX_DEPTH + 7) / 8];
	char *why;
	size_t whysz;
};

static int fail(struct scan *s, const char *what)
{
	if (s->why && s->whysz > 0) {
		if (s->pos < s->len)
			snprintf(s->why, s->whysz, "%s at offset %zu (byte 0x%02x)", what, s->pos,
				 s->p[s->pos]);
		else
			snprintf(s->why, s->whysz, "%s at offset %zu (end of input)", what, s->pos);
	}
	return -EINVAL;
}

/* Go's isSpace: exactly these four bytes. */
static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len && is_ws(s->p[s->pos]))
		s->pos++;
}

/* At an opening quote: consume the whole string (stateInString and friends). */
static int scan_string(struct scan *s)
{
	s->pos++; /* the opening quote */
	while (s->pos < s->len) {
		unsigned char c = s->p[s->pos];

		if (c == '"') {
			s->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(s, "invalid character in string literal");
		if (c != '\\') {
			s->pos++;
			continue;
		}
		s->pos++;
		if (s->pos >= s->len)
			break;
		c = s->p[s->pos];
		switch (c) {
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
		case '\\':
		case '/':
		case '"':
			s->pos++;
			break;
		case 'u':
			s->pos++;
			for (int i = 0; i < 4; i++) {
				if (s->pos >= s->len)
					return fail(s, "unexpected end of JSON input");
				if (!is_hex(s->p[s->pos]))
					return fail(s,
						    "invalid character in \\u hexadecimal escape");
				s->pos++;
			}
			break;
		default:
			return fail(s, "invalid character in string escape code");
		}
	}
	return fail(s, "unexpected end of JSON input");
}

/* At '-' or a digit: consume the number (state1, state0, stateDot, stateE...). */
static int scan_number(struct scan *s)
{
	if (s->p[s->pos] == '-') {
		s->pos++;
		if (s->pos >= s->len)
			return fail(s, "unexpected end of JSON input");
		if (!is_digit(s->p[s->pos]))
			return fail(s, "invalid character in numeric literal");
	}
	if (s->p[s->pos] == '0') {
		s->pos++;
	} else {
		while (s->pos < s->len && is_digit(s->p[s->pos]))
			s->pos++;
	}
	if (s->pos < s->len && s->p[s->pos] == '.') {
		s->pos++;
		if (s->pos >= s->len)
			return fail(s, "unexpected end of JSON input");
		if (!is_digit(s->p[s->pos]))
			return fail(s, "invalid character after decimal point in numeric literal");
		while (s->pos < s->len && is_digit(s->p[s->pos]))
			s->pos++;
	}
	if (s->pos < s->len && (s->p[s->pos] == 'e' || s->p[s->pos] == 'E')) {
		s->pos++;
		if (s->pos < s->len && (s->p[s->pos] == '+' || s->p[s->pos] == '-'))
			s->pos++;
		if (s->pos >= s->len)
			return fail(s, "unexpected end of JSON input");
		if (!is_digit(s->p[s->pos]))
			return fail(s, "invalid character in exponent of numeric literal");
		while (s->pos < s->len && is_digit(s->p[s->pos]))
			s->pos++;
	}
	/*
	 * Whatever follows ("01", "1x") is judged by the caller as the byte after
	 * a value, as Go's stateEndValue does.
	 */
	return 0;
}

static int scan_literal(struct scan *s, const char *lit)
{
	for (size_t i = 0; lit[i]; i++) {
		if (s->pos >= s->len)
			return fail(s, "unexpected end of JSON input");
		if (s->p[s->pos] != (unsigned char)lit[i])
			return fail(s, "invalid character in literal");
		s->pos++;
	}
	return 0;
}

static int push(struct scan *s, bool obj)
{
	if (s->depth >= GOJSON_MAX_DEPTH)
		return fail(s, "exceeded max depth");
	if (obj)
		s->isobj[s->depth / 8] |= (uint8_t)(1u << (s->depth % 8));
	else
		s->isobj[s->depth / 8] &= (uint8_t) ~(1u << (s->depth % 8));
	s->depth++;
	return 0;
}

static bool top_is_obj(const struct scan *s)
{
	size_t d = s->depth - 1;

	return s->isobj[d / 8] & (1u << (d % 8));
}

/* After '{' or ',' in an object: a key string, white space, ':'. */
static int scan_key(struct scan *s)
{
	int ret;

	skip_ws(s);
	if (s->pos >= s->len)
		return fail(s, "unexpected end of JSON input");
	if (s->p[s->pos] != '"')
		return fail(s, "invalid character looking for beginning of object key string");
	ret = scan_string(s);
	if (ret)
		return ret;
	skip_ws(s);
	if (s->pos >= s->len)
		return fail(s, "unexpected end of JSON input");
	if (s->p[s->pos] != ':')
		return fail(s, "invalid character after object key");
	s->pos++;
	return 0;
}

int gojson_check(const char *buf, size_t len, char *why, size_t whysz)
{
	struct scan s = {.p = (const unsigned char *)buf, .len = len, .why = why, .whysz = whysz};
	int ret;

	if (why && whysz > 0)
		why[0] = '\0';
	if (!buf && len)
		return -EINVAL;

	for (;;) {
		/* Expecting the beginning of a value (stateBeginValue). */
		skip_ws(&s);
		if (s.pos >= s.len)
			return fail(&s, "unexpected end of JSON input");
		switch (s.p[s.pos]) {
		case '{':
			ret = push(&s, true);
			if (ret)
				return ret;
			s.pos++;
			skip_ws(&s);
			if (s.pos < s.len && s.p[s.pos] == '}') {
				s.pos++;
				s.depth--;
				break;
			}
			ret = scan_key(&s);
			if (ret)
				return ret;
			continue;
		case '[':
			ret = push(&s, false);
			if (ret)
				return ret;
			s.pos++;
			skip_ws(&s);
			if (s.pos < s.len && s.p[s.pos] == ']') {
				s.pos++;
				s.depth--;
				break;
			}
			continue;
		case '"':
			ret = scan_string(&s);
			break;
		case 't':
			ret = scan_literal(&s, "true");
			break;
		case 'f':
			ret = scan_literal(&s, "false");
			break;
		case 'n':
			ret = scan_literal(&s, "null");
			break;
		default:
			if (s.p[s.pos] == '-' || is_digit(s.p[s.pos]))
				ret = scan_number(&s);
			else
				ret = fail(&s, "invalid character looking for beginning of value");
			break;
		}
		if (ret)
			return ret;

		/* A value ended (stateEndValue): close containers or go on. */
		for (;;) {
			skip_ws(&s);
			if (s.depth == 0) {
				if (s.pos != s.len)
					return fail(&s, "invalid character after top-level value");
				return 0;
			}
			if (s.pos >= s.len)
				return fail(&s, "unexpected end of JSON input");
			if (top_is_obj(&s)) {
				if (s.p[s.pos] == ',') {
					s.pos++;
					ret = scan_key(&s);
					if (ret)
						return ret;
					break;
				}
				if (s.p[s.pos] == '}') {
					s.pos++;
					s.depth--;
					continue;
				}
				return fail(&s, "invalid character after object key:value pair");
			}
			if (s.p[s.pos] == ',') {
				s.pos++;
				break;
			}
			if (s.p[s.pos] == ']') {
				s.pos++;
				s.depth--;
				continue;
			}
			return fail(&s, "invalid character after array element");
		}
	}
}

/*
 * Length of the valid UTF-8 sequence at s[0..n) (n >= 1), 0 if there is none,
 * with the exact rules of Go's utf8.DecodeRune: no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
 */
static size_t gojson_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

static int unquote_hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			v |= c - 'A' + 10;
	}
	return v;
}

static char *put_rune(char *out, uint32_t r)
{
	if (r < 0x80) {
		*out++ = (char)r;
	} else if (r < 0x800) {
		*out++ = (char)(0xc0 | r >> 6);
		*out++ = (char)(0x80 | (r & 0x3f));
	} else if (r < 0x10000) {
		*out++ = (char)(0xe0 | r >> 12);
		*out++ = (char)(0x80 | ((r >> 6) & 0x3f));
		*out++ = (char)(0x80 | (r & 0x3f));
	} else {
		*out++ = (char)(0xf0 | r >> 18);
		*out++ = (char)(0x80 | ((r >> 12) & 0x3f));
		*out++ = (char)(0x80 | ((r >> 6) & 0x3f));
		*out++ = (char)(0x80 | (r & 0x3f));
	}
	return out;
}

char *gojson_unquote(const char *s, size_t n, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	char *text, *out;
	size_t i = 0;

	/* Every input byte gives at most three output bytes (U+FFFD). */
	text = malloc(3 * n + 1);
	if (!text)
		return NULL;
	out = text;
	while (i < n) {
		unsigned char c = p[i];
		size_t size;
		uint32_t r, r2;

		if (c == '\\') {
			c = p[i + 1];
			i += 2;
			switch (c) {
			case 'b':
				*out++ = '\b';
				continue;
			case 'f':
				*out++ = '\f';
				continue;
			case 'n':
				*out++ = '\n';
				continue;
			case 'r':
				*out++ = '\r';
				continue;
			case 't':
				*out++ = '\t';
				continue;
			case 'u':
				break;
			default: /* \" \\ \/ */
				*out++ = (char)c;
				continue;
			}
			r = (uint32_t)unquote_hex4(p + i);
			i += 4;
			if (r >= 0xd800 && r <= 0xdfff) {
				/* utf16.DecodeRune: a high surrogate and a low one, else U+FFFD */
				if (r < 0xdc00 && i + 6 <= n && p[i] == '\\' && p[i + 1] == 'u') {
					r2 = (uint32_t)unquote_hex4(p + i + 2);
					if (r2 >= 0xdc00 && r2 <= 0xdfff) {
						out = put_rune(out, 0x10000 + ((r - 0xd800) << 10) +
									(r2 - 0xdc00));
						i += 6;
						continue;
					}
				}
				r = 0xfffd;
			}
			out = put_rune(out, r);
			continue;
		}
		size = gojson_utf8_len(p + i, n - i);
		if (size == 0) {
			out = put_rune(out, 0xfffd); /* utf8.DecodeRune's RuneError, one byte */
			i++;
			continue;
		}
		memcpy(out, p + i, size);
		out += size;
		i += size;
	}
	*out = '\0';
	if (outlen)
		*outlen = (size_t)(out - text);
	return text;
}

size_t gojson_string_max(size_t len)
{
	return 6 * len + 2;
}

/*
 * Go's encodeState.string with escapeHTML = true, as in Go 1.21 and earlier:
 * '"' and '\\' get a backslash; \n, \r and \t their short forms; every other
 * byte below 0x20 (NUL included) and '<', '>', '&' become \u00XX (lowercase
 * hex); U+2028 and U+2029 become \u2028 and \u2029; each byte that does not
 * start a valid UTF-8 sequence becomes \ufffd. DEL and all other valid text
 * pass through.
 */
char *gojson_put_string(char *out, const char *s, size_t n)
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
