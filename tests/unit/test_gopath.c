/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/gopath: Go's path/filepath Clean and Join on Unix.
 * The tables are Go's own (path/filepath/path_test.go: cleantests,
 * nonwincleantests, jointests, nonwinjointests) plus containerd's
 * examples from reference/CONTAINERD.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gopath.h"
#include "check.h"

struct clean_case {
	const char *path, *result;
};

static const struct clean_case cleantests[] = {
    /* Already clean */
    {"abc", "abc"},
    {"abc/def", "abc/def"},
    {"a/b/c", "a/b/c"},
    {".", "."},
    {"..", ".."},
    {"../..", "../.."},
    {"../../abc", "../../abc"},
    {"/abc", "/abc"},
    {"/", "/"},
    /* Empty is current dir */
    {"", "."},
    /* Remove trailing slash */
    {"abc/", "abc"},
    {"abc/def/", "abc/def"},
    {"a/b/c/", "a/b/c"},
    {"./", "."},
    {"../", ".."},
    {"../../", "../.."},
    {"/abc/", "/abc"},
    /* Remove doubled slash */
    {"abc//def//ghi", "abc/def/ghi"},
    {"abc//", "abc"},
    /* Remove . elements */
    {"abc/./def", "abc/def"},
    {"/./abc/def", "/abc/def"},
    {"abc/.", "abc"},
    /* Remove .. elements */
    {"abc/def/ghi/../jkl", "abc/def/jkl"},
    {"abc/def/../ghi/../jkl", "abc/jkl"},
    {"abc/def/..", "abc"},
    {"abc/def/../..", "."},
    {"/abc/def/../..", "/"},
    {"abc/def/../../..", ".."},
    {"/abc/def/../../..", "/"},
    {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
    {"/../abc", "/abc"},
    {"a/../b:/../../c", "../c"},
    /* Combinations */
    {"abc/./../def", "def"},
    {"abc//./../def", "def"},
    {"abc/../../././../def", "../../def"},
    /* nonwincleantests: remove leading doubled slash */
    {"//abc", "/abc"},
    {"///abc", "/abc"},
    {"//abc//", "/abc"},
    /* More edges: names that only look like dot elements, root escapes. */
    {"...", "..."},
    {".../..", "."},
    {"..a/b", "..a/b"},
    {"a/.b/..c", "a/.b/..c"},
    {"/..", "/"},
    {"/../..", "/"},
    {"//", "/"},
    {"/./", "/"},
    {"./..", ".."},
    {"../a/..", ".."},
    {"../a/../..", "../.."},
    {"a/./b/../../..", ".."},
    {"/run/containerd/../containerd/./containerd.sock", "/run/containerd/containerd.sock"},
};

struct join_case {
	const char *elem[6];
	size_t n;
	const char *result;
};

static const struct join_case jointests[] = {
    /* zero parameters */
    {{NULL}, 0, ""},
    /* one parameter */
    {{""}, 1, ""},
    {{"/"}, 1, "/"},
    {{"a"}, 1, "a"},
    /* two parameters */
    {{"a", "b"}, 2, "a/b"},
    {{"a", ""}, 2, "a"},
    {{"", "b"}, 2, "b"},
    {{"/", "a"}, 2, "/a"},
    {{"/", "a/b"}, 2, "/a/b"},
    {{"/", ""}, 2, "/"},
    {{"/a", "b"}, 2, "/a/b"},
    {{"a", "/b"}, 2, "a/b"},
    {{"/a", "/b"}, 2, "/a/b"},
    {{"a/", "b"}, 2, "a/b"},
    {{"a/", ""}, 2, "a"},
    {{"", ""}, 2, ""},
    /* three parameters */
    {{"/", "a", "b"}, 3, "/a/b"},
    /* nonwinjointests */
    {{"//", "a"}, 2, "/a"},
    /* empty elements in the middle and at the end */
    {{"", "", "a", "", "b", ""}, 6, "a/b"},
    {{"", "", ""}, 3, ""},
    {{".", ""}, 2, "."},
    {{"", "."}, 2, "."},
    {{"a", ".."}, 2, "."},
    {{"a", "../.."}, 2, ".."},
    /* containerd's examples (reference/CONTAINERD.md) */
    {{"/run/containerd/containerd.sock", "default", "redis"},
     3,
     "/run/containerd/containerd.sock/default/redis"},
    {{"/run/containerd/containerd.sock/", "default", "redis"},
     3,
     "/run/containerd/containerd.sock/default/redis"},
    {{"/run/containerd/../containerd/./containerd.sock", "default", "x"},
     3,
     "/run/containerd/containerd.sock/default/x"},
    {{"/../a.sock", "ns", "id"}, 3, "/a.sock/ns/id"},
    {{"../a.sock", "ns", "id"}, 3, "../a.sock/ns/id"},
    {{"/run/containerd", "s"}, 2, "/run/containerd/s"},
    {{"/", "containerd-shim", "default", "redis", "shim.sock"},
     5,
     "/containerd-shim/default/redis/shim.sock"},
};

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cleantests) / sizeof(cleantests[0]); i++) {
		const struct clean_case *t = &cleantests[i];
		char *s = gopath_clean(t->path);

		CHECK(s != NULL && strcmp(s, t->result) == 0, "Clean(\"%s\") = \"%s\", want \"%s\"",
		      t->path, s ? s : "(null)", t->result);
		free(s);
		/* Clean is idempotent: a clean path comes back unchanged. */
		s = gopath_clean(t->result);
		CHECK(s != NULL && strcmp(s, t->result) == 0, "Clean(\"%s\") = \"%s\", want \"%s\"",
		      t->result, s ? s : "(null)", t->result);
		free(s);
	}

	for (i = 0; i < sizeof(jointests) / sizeof(jointests[0]); i++) {
		const struct join_case *t = &jointests[i];
		char *s = gopath_join(t->elem, t->n);

		CHECK(s != NULL && strcmp(s, t->result) == 0,
		      "Join(jointests[%zu], first \"%s\") = \"%s\", want \"%s\"", i,
		      t->n ? t->elem[0] : "", s ? s : "(null)", t->result);
		free(s);
	}

	/* A long path exercises the buffer bounds (run under ASan in CI). */
	{
		char in[4096], want[4096];
		size_t k;
		char *s;

		in[0] = '\0';
		want[0] = '\0';
		for (k = 0; k < 200; k++) {
			strcat(in, "/x/./y/..//");
			strcat(want, "/x");
		}
		s = gopath_clean(in);
		CHECK(s != NULL && strcmp(s, want) == 0, "long Clean gave \"%.40s...\"",
		      s ? s : "");
		free(s);
	}

	return check_report();
}
