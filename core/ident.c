/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's identifiers.Validate (SPEC 5.1):
 * ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$, 1..IDENT_MAX_LEN bytes.
 *
 * The regular expression is equivalent to: non-empty, first and last bytes
 * alphanumeric, every byte alphanumeric or one of "._-", and no two
 * separators next to each other. Alphanumeric means ASCII only, as in Go's
 * regexp character classes; bytes >= 0x80 and NUL never match.
 */
#include "ident.h"

#include <errno.h>
#include <string.h>

static bool ident_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool ident_sep(unsigned char c)
{
	return c == '.' || c == '_' || c == '-';
}

bool ident_valid_n(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (s == NULL || n == 0 || n > IDENT_MAX_LEN)
		return false;
	if (!ident_alnum(p[0]) || !ident_alnum(p[n - 1]))
		return false;
	for (i = 1; i < n - 1; i++) {
		if (ident_alnum(p[i]))
			continue;
		/* A separator must sit between two alphanumeric runs. */
		if (!ident_sep(p[i]) || !ident_alnum(p[i - 1]))
			return false;
	}
	return true;
}

int ident_validate(const char *s)
{
	if (s == NULL)
		return -EINVAL;
	/* strnlen bounds the scan: anything longer than the limit is invalid anyway. */
	return ident_valid_n(s, strnlen(s, IDENT_MAX_LEN + 1)) ? 0 : -EINVAL;
}
