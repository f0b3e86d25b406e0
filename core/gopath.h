/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go's path/filepath Clean and Join on Unix, byte for byte.
 *
 * Clean: repeated slashes collapse, "." elements go, "x/.." pairs go, "/.." at
 * the root is "/", a relative path keeps leading "..", trailing slashes go,
 * an empty result is ".".
 * Join: skips empty elements, joins the rest with "/" and Cleans; if every
 * element is empty the result is "".
 */
#ifndef BUNDLEFS_GOPATH_H
#define BUNDLEFS_GOPATH_H

#include <stddef.h>

/* Returns a malloc'd cleaned copy of path (caller frees), NULL on ENOMEM. */
char *gopath_clean(const char *path);

/* Returns a malloc'd Join of the n elements (caller frees), NULL on ENOMEM. */
char *gopath_join(const char *const *elem, size_t n);

#endif
