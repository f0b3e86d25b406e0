/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json validation and the remapped GID (SPEC 5.2): accepts and rejects
 * exactly what containerd's remappedGID does, i.e. Go's encoding/json decoding
 * the text into struct { Linux *struct { GIDMappings []specs.LinuxIDMapping } },
 * plus a top-level null is rejected.
 *
 * Go semantics reproduced: case-insensitive key match (bytes.EqualFold, so
 * U+017F matches 's'); keys after escapes are decoded; duplicate keys are
 * decoded in order into the same value (a later "linux" object decodes into
 * the struct the earlier one filled; a later array reuses the elements the
 * earlier one left); null leaves a number unchanged and sets a pointer or
 * slice to nil; a number for containerID/hostID/size must be an integer
 * literal in 0..4294967295 (strconv.ParseUint, no sign, no fraction or
 * exponent); type mismatches are errors; unknown keys are ignored whatever
 * their values.
 */
#ifndef BUNDLEFS_SPEC_H
#define BUNDLEFS_SPEC_H

#include <stddef.h>
#include <stdint.h>

#define SPEC_MAX_SIZE (16u * 1024 * 1024)

/*
 * Validate buf[0..len). On success return 0 and set *gid to the hostID of the
 * first mapping whose containerID is 0 (0 when none: no remapping).
 * On invalid input return -EINVAL with a one-line reason in why (NUL-
 * terminated when whysz > 0; may be NULL). len > SPEC_MAX_SIZE: -EFBIG.
 * -ENOMEM on allocation failure. Thread-safe, no global state.
 */
int spec_remapped_gid(const char *buf, size_t len, uint32_t *gid, char *why, size_t whysz);

#endif
