/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bundlefs's side of the differential test against Go (tests/godiff): reads
 * the records godiff.go reads and answers each with the same line, computed
 * by core (spec_remapped_gid, spec_group, spec_decode_fields,
 * spec_annotations).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "spec.h"

static void put_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", (unsigned char)s[i]);
}

/* The A: field: spec_annotations of the CRI pod annotations (SPEC 8.3). */
static void put_pod(const char *buf, size_t len)
{
	struct spec_annotation ann[] = {
	    {.name = "io.kubernetes.cri.sandbox-namespace"},
	    {.name = "io.kubernetes.cri.sandbox-name"},
	    {.name = "io.kubernetes.cri.sandbox-uid"},
	    {.name = "io.kubernetes.cri.container-type"},
	    {.name = "io.kubernetes.cri.container-name"},
	};
	size_t n = sizeof(ann) / sizeof(ann[0]);
	int ret = spec_annotations(buf, len, ann, n);

	if (ret == -ENOMEM) {
		fprintf(stderr, "bfs_decode: out of memory\n");
		exit(2);
	}
	printf(" A:%d", ret == 0);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (!ann[i].present) {
			printf(":-");
			continue;
		}
		printf(":=");
		put_hex(ann[i].value, ann[i].vlen);
	}
	spec_annotations_free(ann, n);
}

static void answer(const char *buf, size_t len)
{
	struct spec_field f = {.upper = "ADDRESS", .kind = SPEC_FIELD_STRING};
	uint32_t gid = 0;
	char *group;
	size_t glen;
	int ret;

	if (spec_remapped_gid(buf, len, &gid, NULL, 0) == 0)
		printf("S:1:%u", gid);
	else
		printf("S:0");
	if (spec_group(buf, len, "ID", &group, &glen) < 0) {
		fprintf(stderr, "bfs_decode: out of memory\n");
		exit(2);
	}
	printf(" G:");
	put_hex(group, glen);
	free(group);
	ret = spec_decode_fields(buf, len, &f, 1);
	if (ret == 0 && f.set) {
		printf(" B:1:");
		put_hex(f.s, f.slen);
	} else {
		printf(" B:0");
	}
	spec_fields_free(&f, 1);
	put_pod(buf, len);
	printf("\n");
}

int main(void)
{
	unsigned char hdr[4];

	while (fread(hdr, 1, 4, stdin) == 4) {
		size_t len =
		    (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
		char *buf = malloc(len + 1);

		if (!buf || fread(buf, 1, len, stdin) != len) {
			fprintf(stderr, "bfs_decode: short input\n");
			return 2;
		}
		answer(buf, len);
		free(buf);
	}
	return ferror(stdin) ? 2 : 0;
}
