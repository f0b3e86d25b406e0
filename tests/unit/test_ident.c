/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of core/ident: containerd's identifiers.Validate (SPEC 5.1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "check.h"

static const char *const valid[] = {
    "a",
    "A",
    "0",
    "default",
    "k8s.io",
    "moby",
    "foo.boo",
    "swarmkit.docker.io",
    "0912341234",
    "task.0.0123456789",
    "container.system-75-f19a.00",
    "underscores_are_allowed",
    "a-b_c.d",
    "a1.b2-c3_d4",
    "redis",
    "web-1",
    "ABC.def",
};

static const char *const invalid[] = {
    "",
    ".",
    "..",
    "-",
    "_",
    "foo..foo",
    "-foo.boo",
    "foo.boo-",
    "but__only_tasteful_underscores",
    "default--default",
    "a.-b",
    "a_.b",
    ".a",
    "a.",
    "_a",
    "a_",
    "a b",
    " a",
    "a ",
    "a/b",
    "a:b",
    "a@b",
    "a+b",
    "a\nb",
    "a\tb",
    "caf\xc3\xa9",
    "\xc3\xa9t\xc3\xa9",
    "a\xff",
    "\x80",
    "a\x7f",
};

int main(void)
{
	char buf[IDENT_MAX_LEN + 2];
	size_t i;

	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		CHECK(ident_validate(valid[i]) == 0, "ident_validate(\"%s\") should be 0",
		      valid[i]);
		CHECK(ident_valid_n(valid[i], strlen(valid[i])),
		      "ident_valid_n(\"%s\") should be true", valid[i]);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		CHECK(ident_validate(invalid[i]) == -EINVAL,
		      "ident_validate(invalid[%zu] \"%s\") should be -EINVAL", i, invalid[i]);
		CHECK(!ident_valid_n(invalid[i], strlen(invalid[i])),
		      "ident_valid_n(invalid[%zu] \"%s\") should be false", i, invalid[i]);
	}

	/* Length: 76 bytes accepted, 77 rejected, with or without separators. */
	memset(buf, 'a', sizeof(buf));
	buf[IDENT_MAX_LEN] = '\0';
	CHECK(strlen(buf) == 76 && ident_validate(buf) == 0, "76 'a' should be valid");
	buf[10] = '.';
	buf[40] = '-';
	CHECK(ident_validate(buf) == 0, "76 bytes with separators should be valid");
	buf[IDENT_MAX_LEN] = 'a';
	buf[IDENT_MAX_LEN + 1] = '\0';
	CHECK(strlen(buf) == 77 && ident_validate(buf) == -EINVAL, "77 bytes should be rejected");
	CHECK(!ident_valid_n(buf, 77), "ident_valid_n of 77 bytes should be false");
	CHECK(ident_valid_n(buf, 76), "ident_valid_n of the first 76 bytes should be true");

	/* ident_valid_n does not need a terminator and stops at n. */
	CHECK(ident_valid_n("redis-and-more", 5), "first 5 bytes \"redis\" should be valid");
	CHECK(!ident_valid_n("redis-and-more", 6), "\"redis-\" should be invalid");
	CHECK(!ident_valid_n("abc", 0), "n == 0 should be invalid");

	/* A NUL in the middle never passes, even between alphanumerics. */
	CHECK(!ident_valid_n("ab\0cd", 5), "\"ab\\0cd\" should be invalid");
	CHECK(!ident_valid_n("a\0", 2), "\"a\\0\" should be invalid");
	CHECK(!ident_valid_n("\0a", 2), "\"\\0a\" should be invalid");
	CHECK(ident_valid_n("ab\0cd", 2), "\"ab\" (before the NUL) should be valid");

	CHECK(ident_validate(NULL) == -EINVAL, "NULL should be -EINVAL");

	return check_report();
}
