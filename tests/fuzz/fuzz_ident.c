// SPDX-License-Identifier: Apache-2.0
/*
 * ident_valid_n and ident_validate against a direct reading of
 * ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$ with 1..76 bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"

static bool alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool oracle(const unsigned char *s, size_t n)
{
	if (n == 0 || n > IDENT_MAX_LEN)
		return false;
	/* alnum at both ends; every separator sits between two alnums */
	if (!alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++) {
		if (alnum(s[i]))
			continue;
		if (s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
		if (!alnum(s[i - 1]) || !alnum(s[i + 1]))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool want = oracle(data, size);
	char *z;

	if (ident_valid_n((const char *)data, size) != want)
		abort();
	z = malloc(size + 1);
	if (!z)
		return 0;
	memcpy(z, data, size);
	z[size] = '\0';
	/* the terminated form stops at the first NUL */
	if ((ident_validate(z) == 0) != oracle(data, strlen(z)))
		abort();
	if (ident_validate(z) != 0 && ident_validate(z) != -EINVAL)
		abort();
	free(z);
	return 0;
}
