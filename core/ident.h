/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd identifiers (identifiers.Validate, SPEC 5.1):
 * ^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$, 1..76 bytes.
 */
#ifndef BUNDLEFS_IDENT_H
#define BUNDLEFS_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define IDENT_MAX_LEN 76

/* true if the n bytes at s form a valid identifier (s need not be terminated). */
bool ident_valid_n(const char *s, size_t n);

/* 0 if the NUL-terminated s is a valid identifier, else -EINVAL. */
int ident_validate(const char *s);

#endif
