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

#include <stdbool.h>
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

/* One annotation asked of spec_annotations. */
struct spec_annotation {
	const char *name; /* in: the annotation name (NUL-terminated), matched byte for byte */
	bool present;	  /* out: the decoded map holds name */
	char *value;	  /* out: its value (malloc'd, NUL-terminated), NULL when absent */
	size_t vlen;	  /* out: the value's length, which may count NUL bytes (\u0000) */
};

/*
 * The config.json annotations as Go finds them with json.Unmarshal into
 * struct { Annotations map[string]string `json:"annotations"` } (the runc v2
 * shim's group, SPEC 7.2; CRI's pod annotations, SPEC 8.3), in one pass, for
 * the n names asked:
 * - the key "annotations" folds as in spec_remapped_gid (Annotations,
 *   ANNOTATIONS, annotation\u017f all match); the names inside match
 *   exactly, after Go's unquoting (escapes decoded, invalid UTF-8 as U+FFFD);
 * - a repeated "annotations" key adds to the same map, and a null one
 *   empties it (the map becomes nil); a repeated name keeps its last value;
 * - a null value stores the name with the value "" (present, vlen 0);
 * - a top-level null decodes nothing: 0, every name absent.
 * Where Unmarshal returns an error -- invalid JSON (json.Valid's grammar,
 * gojson_check), a top level that is neither an object nor null, an
 * "annotations" that is neither an object nor null, or a value in it,
 * under any name, that is neither a string nor null -- the result is
 * -EINVAL with every name absent: Go decodes the rest of the map too, but
 * hands back the error, and a caller that checks it (the shim does) uses
 * nothing of it. len > SPEC_MAX_SIZE: -EFBIG; buf NULL: -EINVAL; -ENOMEM.
 * Free the values with spec_annotations_free (also after a failure).
 * Thread-safe, no global state.
 */
int spec_annotations(const char *buf, size_t len, struct spec_annotation *ann, size_t n);
void spec_annotations_free(struct spec_annotation *ann, size_t n);

/*
 * The group of a runtime-v2 bundle (SPEC 7.2), as the runc v2 shim finds it
 * (spec_annotations): the value of the first present annotation of
 * io.containerd.runc.v2.group, then io.kubernetes.cri.sandbox-id (an empty
 * value, and a null one, which Go stores as "", count as present), else id.
 * buf[0..len) is config.json (buf NULL: there is none). Where Go's decoding
 * fails (spec_annotations' -EINVAL), or the text is larger than
 * SPEC_MAX_SIZE, the group is id. *group is malloc'd and NUL-terminated;
 * *glen is its length, which may count NUL bytes. 0 or -ENOMEM.
 */
int spec_group(const char *buf, size_t len, const char *id, char **group, size_t *glen);

enum spec_field_kind { SPEC_FIELD_STRING, SPEC_FIELD_BOOL };

/* One top-level field of a small Go struct, for spec_decode_fields. */
struct spec_field {
	const char *upper;	   /* its JSON name in upper case: keys fold-match it */
	enum spec_field_kind kind; /* a Go string or a Go bool */
	bool set;		   /* out: a non-null value was decoded */
	bool b;			   /* out: SPEC_FIELD_BOOL's value */
	char *s;		   /* out: SPEC_FIELD_STRING's value (malloc'd) or NULL */
	size_t slen;		   /* out: its length, NUL bytes included */
};

/*
 * json.Unmarshal of buf[0..len) into a struct with the n fields, except that
 * the top level must be an object (null too is refused). Keys fold-match as
 * in spec_remapped_gid; a repeated key decodes again (the last string wins);
 * null leaves a field as it was; a value of another type, or any syntax
 * error, is -EINVAL with every field unset. 0 on success: free the strings
 * with spec_fields_free. -ENOMEM.
 */
int spec_decode_fields(const char *buf, size_t len, struct spec_field *fields, size_t n);
void spec_fields_free(struct spec_field *fields, size_t n);

#endif
