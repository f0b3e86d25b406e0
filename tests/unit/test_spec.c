// SPDX-License-Identifier: Apache-2.0
/*
 * spec_remapped_gid against containerd's remappedGID (SPEC 5.2), and
 * spec_annotations against the CRI pod annotations as Go decodes them
 * (SPEC 7.2, 8.3). Every expected result is what Go's encoding/json gives
 * when decoding into struct { Linux *struct { GIDMappings
 * []specs.LinuxIDMapping } } or struct { Annotations map[string]string };
 * the comment on each group names the decode.go / scanner.go behaviour
 * relied on.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "check.h"

#define OK 1
#define BAD 0

struct tcase {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int ok;
	uint32_t gid;
};

#define M(c, h) "{\"containerID\":" #c ",\"hostID\":" #h ",\"size\":1}"
#define L(maps) "{\"linux\":{\"gidMappings\":[" maps "]}}"

static const struct tcase cases[] = {
    /* The remapped GID: hostID of the first mapping with containerID 0. */
    {"{}", 0, OK, 0},
    {L(M(0, 1000)), 0, OK, 1000},
    {L(M(1, 5) "," M(0, 1000) "," M(0, 2000)), 0, OK, 1000},
    {L(M(1, 5) "," M(2, 6)), 0, OK, 0},
    {L(""), 0, OK, 0},
    {"{\"linux\":{}}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[{}]}}", 0, OK, 0},		  /* zero mapping: hostID 0 */
    {"{\"linux\":{\"gidMappings\":[{\"hostID\":9}]}}", 0, OK, 9}, /* containerID 0 */
    {L(M(0, 0) "," M(0, 7)), 0, OK, 0},
    {L(M(0, 4294967295)), 0, OK, 4294967295u},
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":1000}]},"
     "\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"]},\"root\":{\"path\":\"rootfs\"}}",
     0, OK, 1000},

    /* Keys fold (bytes.EqualFold / foldName): any ASCII case. */
    {"{\"LINUX\":{\"GIDMAPPINGS\":[{\"CONTAINERID\":0,\"HOSTID\":11}]}}", 0, OK, 11},
    {"{\"Linux\":{\"GIDMappings\":[{\"ContainerID\":0,\"HostID\":12}]}}", 0, OK, 12},
    {"{\"lInUx\":{\"gIdMaPpInGs\":[{\"containerid\":0,\"hostid\":13,\"SiZe\":1}]}}", 0, OK, 13},
    {"{\"linux\":{\"gidMappings\":[{\"containerId\":5,\"hostID\":13}]}}", 0, OK, 0},
    /* U+017F (long s) folds to 's', U+212A (Kelvin) to 'k'. */
    {"{\"linux\":{\"gidMappingſ\":[{\"containerID\":0,\"hoſtID\":14}]}}", 0, OK, 14},
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":15,\"ſize\":\"x\"}]}}", 0, BAD,
     0}, /* "ſize" is size: a string there is a type error */
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":15,\"\\u017fize\":\"x\"}]}}", 0,
     BAD, 0},
    /* no known field has a 'k': a Kelvin sign never matches here */
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":16}],\"\xe2\x84\xaa\":1}}", 0, OK,
     16},
    /* other look-alikes do not fold: dotless i, fullwidth letters, overlong 's' */
    {"{\"l\xc4\xb1nux\":{\"gidMappings\":[" M(0, 17) "]}}", 0, OK, 0},
    {"{\"\xef\xbd\x8cinux\":{\"gidMappings\":[" M(0, 17) "]}}", 0, OK, 0},
    {"{\"linux\":{\"gidMapping\xc1\xb3\":[" M(0, 17) "]}}", 0, OK, 0},
    /* Escaped keys are unquoted before matching. */
    {"{\"li\\u006eux\":{\"gidMappings\":[" M(0, 18) "]}}", 0, OK, 18},
    {"{\"\\u004c\\u0049NUX\":{\"gid\\u004dappings\":[{\"container\\u0049D\":0,\"hostID\":19}]}}", 0,
     OK, 19},
    {"{\"linux\\u0000\":{\"gidMappings\":[" M(0, 20) "]}}", 0, OK, 0},
    {"{\"lin\\/ux\":{\"gidMappings\":[" M(0, 20) "]}}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\\ud800\":[" M(0, 20) "]}}", 0, OK, 0},
    /* a mismatching key is unknown: its value is ignored whatever it is */
    {"{\"linuxx\":5,\"linu\":\"x\",\"gidMappings\":true}", 0, OK, 0},

    /* Duplicate keys decode in order into the same value: later wins. */
    {"{\"linux\":{\"gidMappings\":[" M(0, 1) "]},\"linux\":{\"gidMappings\":[" M(0, 2) "]}}", 0, OK,
     2},
    /* indirect() reuses the non-nil pointer: a later {} keeps the mappings */
    {"{\"linux\":{\"gidMappings\":[" M(0, 21) "]},\"linux\":{}}", 0, OK, 21},
    {"{\"Linux\":{\"gidMappings\":[" M(0, 22) "]},\"LINUX\":{\"x\":1}}", 0, OK, 22},
    /* a later null sets the pointer to nil */
    {"{\"linux\":{\"gidMappings\":[" M(0, 23) "]},\"linux\":null}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[" M(0, 23) "]},\"linux\":null,\"linux\":{}}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[" M(0, 24) "],\"gidMappings\":null}}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[" M(0, 24) "],\"gidMappings\":[]}}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "],\"GIDMappings\":[" M(0, 25) "]}}", 0, OK, 25},
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"hostID\":26}]}}", 0, OK, 26},
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":27,\"HostId\":null}]}}", 0, OK,
     27},
    /* array(): elements before len are decoded in place (merge) */
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":3,\"hostID\":28}],"
     "\"gidMappings\":[{\"containerID\":0}]}}",
     0, OK, 28},
    {"{\"linux\":{\"gidMappings\":[" M(0, 29) "],\"gidMappings\":[null]}}", 0, OK, 29},
    /* a shorter array cuts len; a longer one later brings old elements back (SetLen) */
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "," M(0, 30) "],\"gidMappings\":[" M(
	 1, 1) "],"
	       "\"gidMappings\":[" M(1, 1) ",{}]}}",
     0, OK, 30},
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "," M(0, 31) "],\"gidMappings\":[" M(1, 1) "]}}", 0,
     OK, 0},
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "," M(0, 30) "],\"gidMappings\":[" M(
	 1, 1) "],"
	       "\"gidMappings\":[" M(1, 1) ",null]}}",
     0, OK, 30},
    /* ... but not across [] (a new empty slice) or null (nil) */
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "," M(0, 32) "],\"gidMappings\":[],"
							  "\"gidMappings\":[" M(1, 1) ",{}]}}",
     0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "," M(0, 32) "],\"gidMappings\":null,"
							  "\"gidMappings\":[" M(
							      1, 1) ",{\"hostID\":33}]}}",
     0, OK, 33},
    /* growth beyond four elements keeps every element */
    {L(M(1, 1) "," M(2, 1) "," M(3, 1) "," M(4, 1) "," M(5, 1) "," M(0, 34)), 0, OK, 34},
    {"{\"linux\":{\"gidMappings\":[" M(1, 1) "," M(2, 1) "," M(3, 1) "," M(4, 1) "," M(5, 1) "," M(
	 0, 35) "],\"gidMappings\":[{}],\"gidMappings\":[" M(1, 1) ",{},{},{},{},{}]}}",
     0, OK, 35},

    /* null in place of linux, gidMappings, a mapping or a number: zero value */
    {"{\"linux\":null}", 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":null}}", 0, OK, 0},
    {L("null"), 0, OK, 0},
    {L("null," M(0, 7)), 0, OK, 0}, /* the null element is a zero mapping, containerID 0 */
    {L(M(1, 1) ",null," M(0, 7)), 0, OK, 0},
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":null,\"hostID\":36}]}}", 0, OK, 36},
    {"{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":null,\"size\":null}]}}", 0, OK, 0},

    /* Type errors: non-object top level, linux, mapping; non-array gidMappings. */
    {"null", 0, BAD, 0}, /* Go accepts it; bundlefs rejects a top-level null */
    {" null ", 0, BAD, 0},
    {"[]", 0, BAD, 0},
    {"[{}]", 0, BAD, 0},
    {"\"x\"", 0, BAD, 0},
    {"1", 0, BAD, 0},
    {"true", 0, BAD, 0},
    {"false", 0, BAD, 0},
    {"{\"linux\":[]}", 0, BAD, 0},
    {"{\"linux\":\"\"}", 0, BAD, 0},
    {"{\"linux\":1}", 0, BAD, 0},
    {"{\"linux\":true}", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":{}}}", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":\"\"}}", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":0}}", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":false}}", 0, BAD, 0},
    {L("[]"), 0, BAD, 0},
    {L("1"), 0, BAD, 0},
    {L("\"m\""), 0, BAD, 0},
    {L("true"), 0, BAD, 0},
    {L(M(0, 5) ",7"), 0, BAD, 0},
    /* a type error anywhere rejects, even before a later valid duplicate */
    {"{\"linux\":5,\"linux\":{}}", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":[" M(0, 1) ",{\"size\":-1}]}}", 0, BAD, 0},

    /* Numbers: strconv.ParseUint(s, 10, 64) then OverflowUint for uint32. */
    {L("{\"containerID\":0,\"hostID\":4294967295}"), 0, OK, 4294967295u},
    {L("{\"containerID\":0,\"hostID\":4294967296}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":18446744073709551616}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":99999999999999999999999}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":1.0}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":1e3}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":1E3}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":0.0}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":-1}"), 0, BAD, 0},
    {L("{\"containerID\":-0,\"hostID\":5}"), 0, BAD, 0}, /* ParseUint rejects the sign */
    {L("{\"containerID\":0,\"hostID\":\"1000\"}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":true}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":[]}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":{}}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":01}"), 0, BAD, 0}, /* syntax error */
    {L("{\"containerID\":0,\"hostID\":1000,\"size\":4294967296}"), 0, BAD, 0},
    {L("{\"containerID\":4294967296,\"hostID\":5}"), 0, BAD, 0},
    {L("{\"containerID\":0,\"hostID\":0}"), 0, OK, 0},

    /* Syntax (checkValid runs before decoding, over the whole text). */
    {"{} // c", 0, BAD, 0},
    {"/* c */ {}", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":[" M(0, 5) ",]}}", 0, BAD, 0},
    {"{\"linux\":{},}", 0, BAD, 0},
    {"{\"a\":NaN}", 0, BAD, 0},
    {"{\"a\":Infinity}", 0, BAD, 0},
    {"{\"a\":-Infinity}", 0, BAD, 0},
    {"{'linux':{}}", 0, BAD, 0},
    {"{\"a\":'x'}", 0, BAD, 0},
    {"{\"a\":1.}", 0, BAD, 0},
    {"{\"a\":.5}", 0, BAD, 0},
    {"{\"a\":\"x\ty\"}", 0, BAD, 0},
    {"{\"a\":\"\x01\"}", 0, BAD, 0},
    {"{\"a\":\"x\0\"}", 10, BAD, 0},
    {"{} x", 0, BAD, 0},
    {"{}{}", 0, BAD, 0},
    {"{}\0", 3, BAD, 0},
    {"\xef\xbb\xbf{}", 0, BAD, 0}, /* Go rejects a BOM */
    {"", 0, BAD, 0},
    {" ", 0, BAD, 0},
    {"{", 0, BAD, 0},
    {"{\"linux\":{\"gidMappings\":[" M(0, 5) "]}", 0, BAD, 0},
    {"{\"a\":1 \"b\":2}", 0, BAD, 0},
    {"{\"a\" 1}", 0, BAD, 0},
    {"{a:1}", 0, BAD, 0},
    /* syntax errors win over type errors, even when the type error comes first */
    {"{\"linux\":1,\"a\":tru}", 0, BAD, 0},
    /* only space, \t, \n, \r count as white space */
    {" \t\r\n" L(M(0, 40)) " \t\r\n", 0, OK, 40},
    {"\f{}", 0, BAD, 0},
    {"{}\v", 0, BAD, 0},
    {"\xc2\xa0{}", 0, BAD, 0},

    /* invalid UTF-8 inside strings is accepted (Valid and unquote replace it) */
    {"{\"a\":\"\xff\xfe\xc0\x80\xed\xa0\x80\",\"\xff\":1,"
     "\"linux\":{\"gidMappings\":[" M(0, 41) "]}}",
     0, OK, 41},
    /* unknown keys with any values are ignored, huge numbers included */
    {"{\"a\":1e400,\"b\":123456789012345678901234567890,\"c\":-0.0e-999,\"d\":[1,\"x\",null,"
     "true,{\"e\":{}}],\"f\":{\"linux\":5},\"linux\":{\"size\":\"x\",\"uidMappings\":[1],"
     "\"gidMappings\":[{\"containerID\":0,\"hostID\":42,\"extra\":[[{}]]}]}}",
     0, OK, 42},
    {"{\"process\":{\"env\":[\"A=\\\"b\\\\\",\"\\u00e9\"]},\"linux\":{\"gidMappings\":[" M(
	 0, 43) "]}}",
     0, OK, 43},
    /* strings that contain brackets and quotes in skipped values */
    {"{\"a\":\"}]{[\\\"\",\"linux\":{\"gidMappings\":[" M(0, 44) "]}}", 0, OK, 44},
};

/* {"x":[[[...1...]]], "linux":...} with the given depth (the object is level 1). */
static char *deep_unknown(size_t depth)
{
	const char *tail = ",\"linux\":{\"gidMappings\":[" M(0, 50) "]}}";
	size_t n = depth - 1; /* arrays inside the top-level object */
	size_t sz = 6 + 2 * n + 1 + strlen(tail) + 1;
	char *s = malloc(sz);
	size_t p = 0;

	if (!s)
		abort();
	memcpy(s, "{\"x\":", 5);
	p = 5;
	memset(s + p, '[', n);
	p += n;
	s[p++] = '1';
	memset(s + p, ']', n);
	p += n;
	strcpy(s + p, tail);
	return s;
}

/* ---- spec_annotations ---- */

#define NS "\"io.kubernetes.cri.sandbox-namespace\""
#define NAME "\"io.kubernetes.cri.sandbox-name\""
#define UID "\"io.kubernetes.cri.sandbox-uid\""
#define TYPE "\"io.kubernetes.cri.container-type\""
#define CNAME "\"io.kubernetes.cri.container-name\""
#define POD3 NS ":\"default\"," NAME ":\"web\"," UID ":\"u1\""

struct acase {
	const char *in;
	int ret;
	const char *want[5]; /* ns, name, uid, type, container name; NULL: absent */
};

static const struct acase acases[] = {
    /* a CRI sandbox and a container, other annotations beside */
    {"{\"ociVersion\":\"1.1.0\",\"annotations\":{" POD3 "," TYPE ":\"sandbox\","
     "\"io.kubernetes.cri.sandbox-id\":\"abc\"}}",
     0,
     {"default", "web", "u1", "sandbox", NULL}},
    {"{\"annotations\":{" TYPE ":\"container\"," CNAME ":\"app\"," POD3 "}}",
     0,
     {"default", "web", "u1", "container", "app"}},
    /* no annotations at all, an empty map, a top-level null: nothing, no error */
    {"{\"ociVersion\":\"1.1.0\"}", 0, {NULL}},
    {"{\"annotations\":{}}", 0, {NULL}},
    {"null", 0, {NULL}},
    {" \n{\"annotations\":null}\t", 0, {NULL}},
    /* a value that is not a string, under any name: Unmarshal's error */
    {"{\"annotations\":{" POD3 "," TYPE ":1}}", -EINVAL, {NULL}},
    {"{\"annotations\":{" POD3 ",\"other\":true}}", -EINVAL, {NULL}},
    {"{\"annotations\":{\"other\":{}," POD3 "}}", -EINVAL, {NULL}},
    {"{\"annotations\":{" POD3 ",\"other\":[\"x\"]}}", -EINVAL, {NULL}},
    {"{\"annotations\":{" POD3 "},\"annotations\":{\"other\":2}}", -EINVAL, {NULL}},
    /* a null value stores the name with "" */
    {"{\"annotations\":{" POD3 "," CNAME ":null}}", 0, {"default", "web", "u1", NULL, ""}},
    /* annotations that is not an object */
    {"{\"annotations\":[]}", -EINVAL, {NULL}},
    {"{\"annotations\":\"x\"}", -EINVAL, {NULL}},
    {"{\"annotations\":1}", -EINVAL, {NULL}},
    /* not an object, or not JSON */
    {"[]", -EINVAL, {NULL}},
    {"\"x\"", -EINVAL, {NULL}},
    {"{\"annotations\":{" POD3 "}", -EINVAL, {NULL}},
    {"{\"annotations\":{" POD3 ",}}", -EINVAL, {NULL}},
    {"{\"annotations\":{" POD3 "}} {}", -EINVAL, {NULL}},
    {"{'annotations':{}}", -EINVAL, {NULL}},
    /* the key folds; its look-alikes do not */
    {"{\"Annotations\":{" POD3 "}}", 0, {"default", "web", "u1", NULL, NULL}},
    {"{\"ANNOTATIONS\":{" POD3 "}}", 0, {"default", "web", "u1", NULL, NULL}},
    {"{\"annotation\\u017f\":{" POD3 "}}", 0, {"default", "web", "u1", NULL, NULL}},
    {"{\"annotation\":{" POD3 "}}", 0, {NULL}},
    {"{\"annotations \":{" POD3 "}}", 0, {NULL}},
    {"{\"annotat\xc4\xb1ons\":{" POD3 "}}", 0, {NULL}},
    /* names match exactly, after unquoting */
    {"{\"annotations\":{\"io.kubernetes.cri.sandbox\\u002dname\":\"web\"}}",
     0,
     {NULL, "web", NULL, NULL, NULL}},
    {"{\"annotations\":{\"io.kubernetes.cri.Sandbox-name\":\"web\"}}", 0, {NULL}},
    {"{\"annotations\":{\"io.kubernetes.cri.sandbox-name \":\"web\"}}", 0, {NULL}},
    {"{\"annotations\":{\"io.kubernetes.cri.sandbox-name\\u0000\":\"web\"}}", 0, {NULL}},
    /* a repeated annotations key adds to the map; a null one empties it */
    {"{\"annotations\":{" NS ":\"default\"},\"annotations\":{" NAME ":\"web\"},"
     "\"Annotations\":{" UID ":\"u1\"}}",
     0,
     {"default", "web", "u1", NULL, NULL}},
    {"{\"annotations\":{" POD3 "},\"annotations\":null}", 0, {NULL}},
    {"{\"annotations\":{" POD3 "},\"annotations\":null,\"annotations\":{" TYPE ":\"sandbox\"}}",
     0,
     {NULL, NULL, NULL, "sandbox", NULL}},
    /* a repeated name keeps its last value */
    {"{\"annotations\":{" POD3 "," NAME ":\"db\"}}", 0, {"default", "db", "u1", NULL, NULL}},
    {"{\"annotations\":{" POD3 "},\"annotations\":{" NAME ":\"db\"}}",
     0,
     {"default", "db", "u1", NULL, NULL}},
    /* a type error outside annotations is no error of this struct */
    {"{\"linux\":\"x\",\"process\":1,\"annotations\":{" POD3 "}}",
     0,
     {"default", "web", "u1", NULL, NULL}},
    /* values are unquoted as Go does */
    {"{\"annotations\":{" NAME ":\"a\\/b\\u00e9\"," UID ":\"\xff\"," NS ":\"\\ud800\"}}",
     0,
     {"\xef\xbf\xbd", "a/b\xc3\xa9", "\xef\xbf\xbd", NULL, NULL}},
};

static void test_annotations(void)
{
	struct spec_annotation ann[] = {
	    {.name = "io.kubernetes.cri.sandbox-namespace"},
	    {.name = "io.kubernetes.cri.sandbox-name"},
	    {.name = "io.kubernetes.cri.sandbox-uid"},
	    {.name = "io.kubernetes.cri.container-type"},
	    {.name = "io.kubernetes.cri.container-name"},
	};
	const size_t n = sizeof(ann) / sizeof(ann[0]);

	for (size_t i = 0; i < sizeof(acases) / sizeof(acases[0]); i++) {
		const struct acase *c = &acases[i];
		int ret = spec_annotations(c->in, strlen(c->in), ann, n);

		CHECK(ret == c->ret, "annotations %s: ret %d, want %d", c->in, ret, c->ret);
		for (size_t k = 0; k < n; k++) {
			const char *w = c->want[k];

			if (w == NULL)
				CHECK(!ann[k].present && !ann[k].value && ann[k].vlen == 0,
				      "annotations %s: %s present", c->in, ann[k].name);
			else
				CHECK(ann[k].present && ann[k].vlen == strlen(w) &&
					  !memcmp(ann[k].value, w, ann[k].vlen),
				      "annotations %s: %s is '%s', want '%s'", c->in, ann[k].name,
				      ann[k].value ? ann[k].value : "(absent)", w);
		}
		spec_annotations_free(ann, n);
	}

	/* a NUL in a value is kept, with its length */
	{
		const char *in = "{\"annotations\":{" NAME ":\"a\\u0000b\"}}";

		CHECK(spec_annotations(in, strlen(in), ann, n) == 0 && ann[1].present &&
			  ann[1].vlen == 3 && !memcmp(ann[1].value, "a\0b", 3),
		      "%s", "NUL in a value");
		spec_annotations_free(ann, n);
	}
	/* no text, and too much of it */
	CHECK(spec_annotations(NULL, 0, ann, n) == -EINVAL && !ann[0].present, "%s", "NULL");
	{
		size_t len = SPEC_MAX_SIZE + 1;
		char *s = malloc(len);

		if (!s)
			abort();
		memset(s, ' ', len);
		memcpy(s, "{\"annotations\":{" NAME ":\"web\"}}",
		       sizeof("{\"annotations\":{" NAME ":\"web\"}}") - 1);
		CHECK(spec_annotations(s, len, ann, n) == -EFBIG && !ann[1].present, "%s", "EFBIG");
		CHECK(spec_annotations(s, len - 1, ann, n) == 0 && ann[1].present, "%s",
		      "exactly SPEC_MAX_SIZE");
		spec_annotations_free(ann, n);
		free(s);
	}
	/* asking for nothing still decodes, and still fails where Go does */
	CHECK(spec_annotations("{\"annotations\":{\"x\":\"y\"}}", 25, ann, 0) == 0, "%s", "n 0");
	CHECK(spec_annotations("{\"annotations\":{\"x\":1}}", 22, ann, 0) == -EINVAL, "%s",
	      "n 0, type error");
}

int main(void)
{
	char why[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		uint32_t gid = 0xdeadbeef;
		int ret = spec_remapped_gid(c->in, len, &gid, why, sizeof(why));

		if (c->ok) {
			CHECK(ret == 0 && gid == c->gid,
			      "case %zu %s: got ret %d gid %u (%s), want ok gid %u", i, c->in, ret,
			      gid, why, c->gid);
		} else {
			CHECK(ret == -EINVAL && why[0],
			      "case %zu %s: got ret %d gid %u, want EINVAL", i, c->in, ret, gid);
		}
	}

	/* nesting: 10000 levels in an unknown field accepted, 10001 rejected */
	for (size_t depth = 9999; depth <= 10001; depth++) {
		char *s = deep_unknown(depth);
		uint32_t gid = 0;
		int ret = spec_remapped_gid(s, strlen(s), &gid, why, sizeof(why));

		if (depth <= 10000)
			CHECK(ret == 0 && gid == 50, "depth %zu: ret %d gid %u (%s)", depth, ret,
			      gid, why);
		else
			CHECK(ret == -EINVAL, "depth %zu: ret %d", depth, ret);
		free(s);
	}

	/* many mappings */
	{
		size_t n = 100000;
		char *s = malloc(n * 40 + 64);
		size_t p = 0;
		uint32_t gid = 0;

		if (!s)
			abort();
		p += (size_t)sprintf(s, "{\"linux\":{\"gidMappings\":[");
		for (size_t i = 0; i < n; i++)
			p += (size_t)sprintf(s + p, "%s{\"containerID\":%zu,\"hostID\":%zu}",
					     i ? "," : "", n - i - 1, i + 1);
		p += (size_t)sprintf(s + p, "]}}");
		CHECK(spec_remapped_gid(s, p, &gid, why, sizeof(why)) == 0 && gid == n,
		      "many mappings: gid %u", gid);
		free(s);
	}

	/* size limit */
	{
		size_t n = SPEC_MAX_SIZE + 1;
		char *s = malloc(n);
		uint32_t gid = 0;

		if (!s)
			abort();
		memset(s, ' ', n);
		s[0] = '{';
		s[1] = '}';
		CHECK(spec_remapped_gid(s, n, &gid, why, sizeof(why)) == -EFBIG, "%s", "EFBIG");
		CHECK(spec_remapped_gid(s, n - 1, &gid, why, sizeof(why)) == 0, "%s",
		      "exactly SPEC_MAX_SIZE");
		free(s);
	}

	/* why may be NULL */
	{
		uint32_t gid = 1;

		CHECK(spec_remapped_gid("[]", 2, &gid, NULL, 0) == -EINVAL, "%s", "NULL why");
		CHECK(spec_remapped_gid("{}", 2, &gid, NULL, 0) == 0 && gid == 0, "%s",
		      "NULL why ok");
	}

	test_annotations();
	return check_report();
}
