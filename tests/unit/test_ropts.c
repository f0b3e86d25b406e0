// SPDX-License-Identifier: Apache-2.0
/* ropts_parse: containerd's RuncOptions keys, Go's grammar, json-c's tree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ropts.h"
#include "check.h"

struct tcase {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int ret;
	const char *runtime, *runtime_root, *criu_path;
	int systemd_cgroup;
};

static const struct tcase cases[] = {
    {"{}", 0, 0, "", "", "", 0},
    {" {} \n", 0, 0, "", "", "", 0},
    {"{\"runtime\":\"runc\",\"runtime_root\":\"/run/runc\",\"criu_path\":\"/usr/sbin/criu\","
     "\"systemd_cgroup\":true}",
     0, 0, "runc", "/run/runc", "/usr/sbin/criu", 1},
    {"{\"systemd_cgroup\":false}", 0, 0, "", "", "", 0},
    /* null is the zero value */
    {"{\"runtime\":null,\"runtime_root\":null,\"criu_path\":null,\"systemd_cgroup\":null}", 0, 0,
     "", "", "", 0},
    /* unknown keys are ignored whatever they hold; known keys are exact-case */
    {"{\"Runtime\":5,\"RUNTIME_ROOT\":[],\"x\":{\"y\":[1e400,123456789012345678901234567890]},"
     "\"criu_path\":\"c\",\"systemd_cgroup\":true,\"SystemdCgroup\":\"x\"}",
     0, 0, "", "", "c", 1},
    /* escapes are decoded, in keys too */
    {"{\"run\\u0074ime\":\"a\\/b\\\\c\\\"d\\u00e9\"}", 0, 0, "a/b\\c\"d\xc3\xa9", "", "", 0},
    /* duplicate keys: the later one wins */
    {"{\"runtime\":\"a\",\"runtime\":\"b\"}", 0, 0, "b", "", "", 0},
    /* wrong types for known keys */
    {"{\"runtime\":1}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"runtime\":true}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"runtime_root\":{}}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"criu_path\":[]}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"systemd_cgroup\":\"true\"}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"systemd_cgroup\":1}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"systemd_cgroup\":0}", 0, -EINVAL, NULL, NULL, NULL, 0},
    /* a NUL inside a path cannot be represented */
    {"{\"runtime\":\"a\\u0000b\"}", 0, -EINVAL, NULL, NULL, NULL, 0},
    /* json-c would cut the key at the NUL and take it for "runtime" */
    {"{\"runtime\":\"a\",\"runtime\\u0000x\":\"b\"}", 0, -EINVAL, NULL, NULL, NULL, 0},
    /* ... which matters only for top-level keys; NULs elsewhere are fine */
    {"{\"x\":{\"runtime\\u0000\":1},\"y\":[\"\\u0000\"],\"runtime\":\"r\"}", 0, 0, "r", "", "", 0},
    /* not an object */
    {"[]", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"null", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"\"x\"", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"1", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"true", 0, -EINVAL, NULL, NULL, NULL, 0},
    {" [{}]", 0, -EINVAL, NULL, NULL, NULL, 0},
    /* what json-c would accept and Go rejects */
    {"{\"a\":NaN}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"a\":Infinity}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{'runtime':'x'}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"a\":1.}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"runtime\":\"a\tb\"}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{} // c", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"/* c */ {}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"a\":1,}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{}{}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{} x", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"\xef\xbb\xbf{}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{\"a\":01}", 0, -EINVAL, NULL, NULL, NULL, 0},
    {"{}\0", 3, -EINVAL, NULL, NULL, NULL, 0},
    /* invalid UTF-8 is accepted by Go's grammar and kept as is */
    {"{\"runtime\":\"\xff\xfe\",\"\xc0\":1}", 0, 0, "\xff\xfe", "", "", 0},
};

static char *deep(size_t depth)
{
	/* {"x":[[...]]} with depth levels in all */
	size_t n = depth - 1;
	char *s = malloc(2 * n + 16);
	size_t p;

	if (!s)
		abort();
	memcpy(s, "{\"x\":", 5);
	p = 5;
	memset(s + p, '[', n);
	p += n;
	memset(s + p, ']', n);
	p += n;
	strcpy(s + p, "}");
	return s;
}

int main(void)
{
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		struct ropts ro;
		int ret = ropts_parse(c->in, len, &ro, why, sizeof(why));

		CHECK(ret == c->ret, "case %zu %s: got %d (%s), want %d", i, c->in, ret, why,
		      c->ret);
		if (ret != 0 || c->ret != 0) {
			if (ret != 0)
				CHECK(why[0] != '\0', "case %zu: no reason", i);
			if (ret == 0)
				ropts_free(&ro);
			continue;
		}
		CHECK(ro.runtime && !strcmp(ro.runtime, c->runtime), "case %zu runtime %s", i,
		      ro.runtime ? ro.runtime : "(null)");
		CHECK(ro.runtime_root && !strcmp(ro.runtime_root, c->runtime_root),
		      "case %zu runtime_root %s", i, ro.runtime_root ? ro.runtime_root : "(null)");
		CHECK(ro.criu_path && !strcmp(ro.criu_path, c->criu_path), "case %zu criu_path %s",
		      i, ro.criu_path ? ro.criu_path : "(null)");
		CHECK(ro.systemd_cgroup == (c->systemd_cgroup != 0), "case %zu systemd_cgroup", i);
		ropts_free(&ro);
		CHECK(!ro.runtime && !ro.runtime_root && !ro.criu_path, "case %zu freed", i);
	}

	/* Go's nesting limit, not json-c's default of 32 */
	for (size_t d = 9999; d <= 10001; d++) {
		char *s = deep(d);
		struct ropts ro;
		int ret = ropts_parse(s, strlen(s), &ro, why, sizeof(why));

		CHECK(d <= 10000 ? ret == 0 : ret == -EINVAL, "depth %zu: %d (%s)", d, ret, why);
		if (ret == 0)
			ropts_free(&ro);
		free(s);
	}

	/* size limit */
	{
		size_t n = ROPTS_MAX_SIZE + 1;
		char *s = malloc(n);
		struct ropts ro;

		if (!s)
			abort();
		memset(s, ' ', n);
		s[0] = '{';
		s[1] = '}';
		CHECK(ropts_parse(s, n, &ro, why, sizeof(why)) == -EFBIG, "%s", "EFBIG");
		free(s);
	}

	/* why may be NULL; ropts_free of a zeroed struct is fine */
	{
		struct ropts ro = {0};

		CHECK(ropts_parse("[]", 2, &ro, NULL, 0) == -EINVAL, "%s", "NULL why");
		ropts_free(&ro);
		ropts_free(NULL);
	}

	return check_report();
}
