/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The walker of config.json that spec.c (the remapped GID) and
 * specfields.c (annotations, the group, named fields) decode on: a position
 * in text that gojson_check has accepted, and the steps Go's decoder takes
 * over it. Private to those files.
 */
#ifndef BUNDLEFS_SPECDEC_H
#define BUNDLEFS_SPECDEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size;
};

struct dec {
	const unsigned char *p;
	size_t len;
	size_t pos;
	/* ociSpecUserNS.Linux != nil */
	bool linux_set;
	/*
	 * Linux.GIDMappings: elements [0, len) are the slice; [len, written)
	 * were decoded by an earlier array and are still in the backing array.
	 */
	struct mapping *map;
	size_t map_len;
	size_t map_written;
	size_t map_cap;
	char *why;
	size_t whysz;
};
/* Set d->why to the formatted reason and its offset; -EINVAL. */
__attribute__((format(printf, 2, 3))) int dec_type_error(struct dec *d, const char *fmt, ...);
void dec_skip_ws(struct dec *d);
/* At an opening quote of a valid string: move past the closing quote. */
void dec_skip_string(struct dec *d);
/* Whether c may be part of a number or a literal (true, false, null). */
bool dec_scalar_byte(unsigned char c);
/* Skip one valid value of any depth, iteratively. */
void dec_skip_value(struct dec *d);
/*
 * Does the key string whose contents are p[start, end) (valid JSON string
 * text, between the quotes) fold-match upper, a field name in upper case?
 */
bool dec_key_matches(const unsigned char *p, size_t start, size_t end, const char *upper);
/*
 * At '{' or ',' of an object (or just after '{'): read the next key.
 * Returns false at the closing '}' (consumed). On true, [*ks, *ke) is the
 * key's text and the position is at the value.
 */
bool dec_next_key(struct dec *d, bool first, size_t *ks, size_t *ke);
/* Go's name for the kind of value that starts with c, for a reason. */
const char *dec_kind_name(unsigned char c);
bool dec_at_null(const struct dec *d);
/* At the opening quote of a string value: its unquoted bytes (malloc'd), NULL on ENOMEM. */
char *dec_take_string(struct dec *d, size_t *outlen);

#endif
