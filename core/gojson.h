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

/*
 * Go's json.Marshal of a string (encodeState.string with escapeHTML, as in
 * Go 1.21 and earlier): the n bytes at s, which may hold anything (NUL and
 * invalid UTF-8 included), quoted and escaped as Go writes them: \" \\ \n \r
 * \t, other control characters and <, >, & as \u00XX, U+2028/U+2029 as
 * \u2028/\u2029, each byte that starts no valid UTF-8 sequence as \ufffd.
 * Writes at most gojson_string_max(n) bytes at out, no NUL; returns the end.
 */
char *gojson_put_string(char *out, const char *s, size_t n);
size_t gojson_string_max(size_t n);

/*
 * Go's unquote of a JSON string: s[0..n) is the text between the quotes of a
 * string gojson_check accepted. Escapes are decoded (a surrogate pair into
 * its rune, any other surrogate escape into U+FFFD) and every byte that does
 * not start valid UTF-8 becomes U+FFFD. Returns the malloc'd bytes, NUL-
 * terminated, with their length (which may include NUL bytes from \u0000) in
 * *outlen; NULL on ENOMEM.
 */
char *gojson_unquote(const char *s, size_t n, size_t *outlen);

#endif
