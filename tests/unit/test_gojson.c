// SPDX-License-Identifier: Apache-2.0
/*
 * gojson_check against Go's json.Valid. Expected results are Go's
 * (encoding/json scanner.go): see the note on each group.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "check.h"

struct tcase {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int ok;
};

static const struct tcase cases[] = {
    /* literals */
    {"true", 0, 1},
    {"false", 0, 1},
    {"null", 0, 1},
    {"tru", 0, 0},
    {"nul", 0, 0},
    {"True", 0, 0},
    {"NULL", 0, 0},
    {"truex", 0, 0},
    {"nulll", 0, 0},
    /* numbers: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    {"0", 0, 1},
    {"-0", 0, 1},
    {"1", 0, 1},
    {"123", 0, 1},
    {"-123", 0, 1},
    {"1.5", 0, 1},
    {"0.0", 0, 1},
    {"1e3", 0, 1},
    {"1E3", 0, 1},
    {"1e+3", 0, 1},
    {"1e-3", 0, 1},
    {"-0.5e-07", 0, 1},
    {"1e400", 0, 1},
    {"123456789012345678901234567890", 0, 1},
    {"01", 0, 0},
    {"-01", 0, 0},
    {"00", 0, 0},
    {"1.", 0, 0},
    {".5", 0, 0},
    {"+1", 0, 0},
    {"-", 0, 0},
    {"1e", 0, 0},
    {"1e+", 0, 0},
    {"1.e3", 0, 0},
    {"0x10", 0, 0},
    {"NaN", 0, 0},
    {"Infinity", 0, 0},
    {"-Infinity", 0, 0},
    {"1 2", 0, 0},
    {"- 1", 0, 0},
    {"1.5.5", 0, 0},
    {"1e3e3", 0, 0},
    /* strings: escapes, control bytes, any other byte */
    {"\"\"", 0, 1},
    {"\"abc\"", 0, 1},
    {"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", 0, 1},
    {"\"\\u00e9\\uD800\\uffff\"", 0, 1},
    {"\"\\u12\"", 0, 0},
    {"\"\\u12g4\"", 0, 0},
    {"\"\\U0041\"", 0, 0},
    {"\"\\x41\"", 0, 0},
    {"\"\\a\"", 0, 0},
    {"\"\\'\"", 0, 0},
    {"\"a\tb\"", 0, 0},
    {"\"a\nb\"", 0, 0},
    {"\"\x1f\"", 0, 0},
    {"\"\x7f\"", 0, 1},
    {"\"\xff\xfe\xc0\x80\"", 0, 1}, /* invalid UTF-8: Valid does not check it */
    {"\"\xed\xa0\x80\"", 0, 1},
    {"\"a", 0, 0},
    {"\"\\", 0, 0},
    {"'a'", 0, 0},
    {"\"a\0b\"", 5, 0}, /* a raw NUL is a control byte */
    /* white space: only space, \t, \n, \r */
    {" \t\r\n{} \t\r\n", 0, 1},
    {"\f{}", 0, 0},
    {"{}\v", 0, 0},
    {"\xc2\xa0{}", 0, 0},
    {"\xef\xbb\xbf{}", 0, 0}, /* BOM rejected by Go */
    {"", 0, 0},
    {"   ", 0, 0},
    /* objects and arrays */
    {"{}", 0, 1},
    {"[]", 0, 1},
    {"{ }", 0, 1},
    {"[ ]", 0, 1},
    {"{\"a\":1}", 0, 1},
    {"{\"a\" : 1 , \"b\":[1,{}]}", 0, 1},
    {"[1,2,3]", 0, 1},
    {"{\"a\":1,\"a\":2}", 0, 1},
    {"[[[]],[{}]]", 0, 1},
    {"{\"a\":1,}", 0, 0},
    {"[1,]", 0, 0},
    {"[,1]", 0, 0},
    {"{,}", 0, 0},
    {"{a:1}", 0, 0},
    {"{'a':1}", 0, 0},
    {"{1:1}", 0, 0},
    {"{\"a\"}", 0, 0},
    {"{\"a\":}", 0, 0},
    {"{\"a\" 1}", 0, 0},
    {"[1 2]", 0, 0},
    {"{\"a\":1 \"b\":2}", 0, 0},
    {"{", 0, 0},
    {"[", 0, 0},
    {"}", 0, 0},
    {"]", 0, 0},
    {"[}", 0, 0},
    {"{]", 0, 0},
    {"[1}", 0, 0},
    {"{\"a\":1]", 0, 0},
    /* trailing garbage, comments */
    {"{} x", 0, 0},
    {"{}{}", 0, 0},
    {"[][]", 0, 0},
    {"{}\0", 3, 0},
    {"{} // c", 0, 0},
    {"/* c */ {}", 0, 0},
    {"{\"a\":1 /* c */}", 0, 0},
    {"# c\n{}", 0, 0},
};

/* n opening brackets of kind open, a 1 in the middle, n closing. */
static char *nested(size_t n, char open, char close)
{
	char *s = malloc(2 * n + 2);

	if (!s)
		abort();
	memset(s, open, n);
	s[n] = '1';
	memset(s + n + 1, close, n);
	s[2 * n + 1] = '\0';
	return s;
}

/* {"a":{"a":...{"a":1}...}} with n objects */
static char *nested_obj(size_t n)
{
	char *s = malloc(6 * n + 2);
	size_t p = 0;

	if (!s)
		abort();
	for (size_t i = 0; i < n; i++) {
		memcpy(s + p, "{\"a\":", 5);
		p += 5;
	}
	s[p++] = '1';
	memset(s + p, '}', n);
	p += n;
	s[p] = '\0';
	return s;
}

int main(void)
{
	char why[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		int ret = gojson_check(c->in, len, why, sizeof(why));

		CHECK(c->ok ? ret == 0 : ret == -EINVAL, "case %zu \"%s\": got %d (%s), want %s", i,
		      c->in, ret, why, c->ok ? "valid" : "invalid");
		if (!c->ok)
			CHECK(why[0] != '\0', "case %zu: no reason", i);
	}

	/* maxNestingDepth = 10000: 10000 levels accepted, 10001 rejected */
	struct {
		size_t n;
		char open, close;
		int ok;
	} deep[] = {
	    {10000, '[', ']', 1},
	    {10001, '[', ']', 0},
	    {9999, '[', ']', 1},
	    {100000, '[', ']', 0},
	};
	for (size_t i = 0; i < sizeof(deep) / sizeof(deep[0]); i++) {
		char *s = nested(deep[i].n, deep[i].open, deep[i].close);
		int ret = gojson_check(s, strlen(s), why, sizeof(why));

		CHECK(deep[i].ok ? ret == 0 : ret == -EINVAL, "depth %zu: got %d (%s)", deep[i].n,
		      ret, why);
		free(s);
	}
	for (size_t n = 9999; n <= 10001; n++) {
		char *s = nested_obj(n);
		int ret = gojson_check(s, strlen(s), why, sizeof(why));

		CHECK(n <= 10000 ? ret == 0 : ret == -EINVAL, "object depth %zu: got %d", n, ret);
		free(s);
	}
	/* unbalanced deep input is still an error, not a crash */
	{
		char *s = nested(10000, '[', ']');

		s[2 * 10000] = '\0'; /* drop one closing bracket */
		CHECK(gojson_check(s, strlen(s), NULL, 0) == -EINVAL, "%s", "unbalanced deep");
		free(s);
	}
	/* a tiny why buffer is still terminated */
	{
		char small[4] = "xxx";

		CHECK(gojson_check("x", 1, small, sizeof(small)) == -EINVAL && small[3] == '\0',
		      "%s", "small why");
	}

	return check_report();
}
