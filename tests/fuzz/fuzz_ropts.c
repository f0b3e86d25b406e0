// SPDX-License-Identifier: Apache-2.0
/*
 * ropts_parse: never crashes or leaks, never accepts what gojson_check
 * rejects, fills every string on success, and json-c never refuses an
 * object that Go's grammar accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gojson.h"
#include "ropts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct ropts ro;
	char why[256];
	int ret, syn;
	size_t i;

	ret = ropts_parse(in, size, &ro, why, sizeof(why));
	if (ret != 0 && ret != -EINVAL && ret != -EFBIG && ret != -ENOMEM)
		abort();
	syn = gojson_check(in, size, NULL, 0);
	if (syn != 0 && ret == 0)
		abort();
	if (ret == 0) {
		if (!ro.runtime || !ro.runtime_root || !ro.criu_path)
			abort();
		ropts_free(&ro);
		return 0;
	}
	if (ret == -EINVAL && why[0] == '\0')
		abort();
	/* valid for Go and an object: only a key's type may make it fail */
	for (i = 0; i < size && strchr(" \t\r\n", in[i]) && in[i]; i++)
		;
	if (syn == 0 && i < size && in[i] == '{' && !strncmp(why, "not parsable", 12))
		abort();
	return 0;
}
