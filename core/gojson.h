/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON grammar exactly as Go's encoding/json accepts it (json.Valid,
 * with its scanner's nesting limit of 10000), and Go's string encoding.
 *
 * json-c is the parser bundlefs uses for documents it owns; this module
 * catches what json-c lets through and Go rejects (NaN, Infinity, comments,
 * single quotes, "1.", raw control characters in strings, trailing
 * garbage), and provides the Go-compatible pieces json-c does not have.
 */
#ifndef BUNDLEFS_GOJSON_H
#define BUNDLEFS_GOJSON_H

#include <stddef.h>

#define GOJSON_MAX_DEPTH 10000

/*
 * 0 if buf[0..len) is exactly one JSON value with nothing but white space
 * (space, \t, \n, \r) around it, nested at most GOJSON_MAX_DEPTH deep, as
 * Go's json.Valid decides (invalid UTF-8 inside strings is accepted, as Go
 * does). Otherwise -EINVAL and, if why != NULL, a short reason with the byte
 * offset in why (always NUL-terminated when whysz > 0).
 * Iterative: no recursion, whatever the depth.
 */
int gojson_check(const char *buf, size_t len, char *why, size_t whysz);

#endif
