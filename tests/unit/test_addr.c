/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/addr: computed and legacy shim addresses (SPEC 4.3)
 * and the socket-name check before Delete removes a socket (SPEC 4.7).
 * Expected hashes were computed independently: printf %s PATH | sha256sum.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "check.h"

#define REDIS "f6b99128c07bdbd0902363ba979c22f8ef053e683a7ce24dd016a1ab17092c33"
#define DEFAULT_X "5e250b13f984a15f73216d143af1bf3c64171aa56c781ba9d4040c75b2c1eee2"
#define ROOT_A "f6313b2d9ad31811719d7ed3eb4f00b98593275e46e79ea6d17ec6ddbfb4e0ff"
#define REL_A "d0643a661508cff6a8571e4e6ca2265454c081038fbf459699ed542a0cf0ee0e"
#define K8S_WEB "c3c3c3468f7658bcadf9d1761903fcacbad6ba3815475189d38f9e4220c14b30"
#define ABC "d76a7b72669c9cec266b566bdec68efbc8d4f22d1f2689bbf0146bf0b88fdbe9"

struct computed_case {
	const char *socket_root, *daemon_address, *ns, *id, *want;
};

static const struct computed_case computed[] = {
    {"/run/containerd", "/run/containerd/containerd.sock", "default", "redis",
     "unix:///run/containerd/s/" REDIS},
    /* daemon addresses that Clean to the same path hash the same */
    {"/run/containerd", "/run/containerd/containerd.sock/", "default", "redis",
     "unix:///run/containerd/s/" REDIS},
    {"/run/containerd", "//run//containerd/./containerd.sock//", "default", "redis",
     "unix:///run/containerd/s/" REDIS},
    {"/run/containerd", "/run/containerd/../containerd/./containerd.sock", "default", "x",
     "unix:///run/containerd/s/" DEFAULT_X},
    {"/run/containerd", "/../a.sock", "ns", "id", "unix:///run/containerd/s/" ROOT_A},
    {"/run/containerd", "../a.sock", "ns", "id", "unix:///run/containerd/s/" REL_A},
    {"/run/containerd", "/tmp/cd.sock", "k8s.io", "web-1", "unix:///run/containerd/s/" K8S_WEB},
    {"/run/containerd", "a", "b", "c", "unix:///run/containerd/s/" ABC},
    /* socket_root variants */
    {"/run/containerd/", "/run/containerd/containerd.sock", "default", "redis",
     "unix:///run/containerd/s/" REDIS},
    {"/tmp/x//y/../sr", "/run/containerd/containerd.sock", "default", "redis",
     "unix:///tmp/x/sr/s/" REDIS},
    {"/", "/run/containerd/containerd.sock", "default", "redis", "unix:///s/" REDIS},
    {"rel", "/run/containerd/containerd.sock", "default", "redis", "unix://rel/s/" REDIS},
    {"", "/run/containerd/containerd.sock", "default", "redis", "unix://s/" REDIS},
};

struct legacy_case {
	const char *ns, *id, *want;
};

static const struct legacy_case legacy[] = {
    {"default", "redis", "/containerd-shim/default/redis/shim.sock"},
    {"k8s.io", "web-1", "/containerd-shim/k8s.io/web-1/shim.sock"},
    {"a", "b", "/containerd-shim/a/b/shim.sock"},
    /* not identifiers, but Join still Cleans them */
    {"..", "x", "/x/shim.sock"},
    {"", "", "/containerd-shim/shim.sock"},
};

struct name_case {
	const char *address; /* NUL-terminated unless len is given */
	size_t len;	     /* 0: strlen(address) */
	const char *socket_root;
	int ret;
	const char *name;
};

static const struct name_case names[] = {
    {"unix:///run/containerd/s/" REDIS, 0, "/run/containerd", 0, REDIS},
    {"unix:///run/containerd/s/abc", 0, "/run/containerd", 0, "abc"},
    {"unix:///run/containerd/s/abc", 0, "/run/containerd/", 0, "abc"},
    {"unix:///run//containerd/./s//abc", 0, "/run/containerd", 0, "abc"},
    /* ".." goes through the directories in the kernel: never acted on */
    {"unix:///run/containerd/x/../s/abc", 0, "/run/containerd", -EINVAL, NULL},
    /* os.Remove("s/abc/") fails with ENOTDIR on a socket: nothing to remove */
    {"unix:///run/containerd/s/abc/", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///tmp/sr/s/abc", 0, "/tmp/sr", 0, "abc"},
    {"unix:///s/abc", 0, "/", 0, "abc"},
    {"unix:///run/containerd/s/.abc", 0, "/run/containerd", 0, ".abc"},
    {"unix:///run/containerd/s/...", 0, "/run/containerd", 0, "..."},
    /* the stored bytes stop at len: a trailing newline beyond it is not seen */
    {"unix:///run/containerd/s/abc\n", 28, "/run/containerd", 0, "abc"},
    /* not unix:// */
    {"/run/containerd/s/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"tcp://127.0.0.1:1234", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:/run/containerd/s/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"UNIX:///run/containerd/s/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:/", 0, "/run/containerd", -EINVAL, NULL},
    {"", 0, "/run/containerd", -EINVAL, NULL},
    /* legacy address: another directory */
    {"unix:///containerd-shim/default/redis/shim.sock", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/sx/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s2/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///tmp/sr/s/abc", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s/abc", 0, "/tmp/sr", -EINVAL, NULL},
    {"unix://run/containerd/s/abc", 0, "/run/containerd", -EINVAL, NULL},
    /* nested name */
    {"unix:///run/containerd/s/a/b", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s/a/b/..", 0, "/run/containerd", -EINVAL, NULL},
    /* ".." and "." leave the directory or name it */
    {"unix:///run/containerd/s/..", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s/../x", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s/.", 0, "/run/containerd", -EINVAL, NULL},
    /* empty name, with or without the trailing slash */
    {"unix:///run/containerd/s", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s/", 0, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s//", 0, "/run/containerd", -EINVAL, NULL},
    {"unix://", 0, "/run/containerd", -EINVAL, NULL},
    /* a NUL inside the stored bytes */
    {"unix:///run/containerd/s/ab\0c", 29, "/run/containerd", -EINVAL, NULL},
    {"unix:///run/containerd/s/abc\0", 29, "/run/containerd", -EINVAL, NULL},
};

int main(void)
{
	char name[128];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(computed) / sizeof(computed[0]); i++) {
		const struct computed_case *t = &computed[i];
		char *a = addr_computed(t->socket_root, t->daemon_address, t->ns, t->id);

		CHECK(a != NULL && strcmp(a, t->want) == 0,
		      "addr_computed(\"%s\", \"%s\", \"%s\", \"%s\") = \"%s\", want \"%s\"",
		      t->socket_root, t->daemon_address, t->ns, t->id, a ? a : "(null)", t->want);
		free(a);
	}

	/* The default address is 89 bytes with no newline (CONTAINERD.md). */
	{
		char *a = addr_computed("/run/containerd", "/run/containerd/containerd.sock",
					"default", "redis");

		CHECK(a != NULL && strlen(a) == 89, "default address length %zu, want 89",
		      a ? strlen(a) : 0);
		free(a);
	}

	for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
		const struct legacy_case *t = &legacy[i];
		char *a = addr_legacy(t->ns, t->id);

		CHECK(a != NULL && strcmp(a, t->want) == 0, "addr_legacy(\"%s\", \"%s\") = \"%s\"",
		      t->ns, t->id, a ? a : "(null)");
		free(a);
	}

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct name_case *t = &names[i];
		size_t len = t->len ? t->len : strlen(t->address);

		memset(name, 'Z', sizeof(name));
		ret = addr_socket_name(t->address, len, t->socket_root, name, sizeof(name));
		CHECK(ret == t->ret,
		      "addr_socket_name(names[%zu] \"%s\", root \"%s\") = %d, want %d", i,
		      t->address, t->socket_root, ret, t->ret);
		if (t->ret == 0)
			CHECK(strcmp(name, t->name) == 0,
			      "addr_socket_name(names[%zu] \"%s\") name \"%.64s\", want \"%s\"", i,
			      t->address, name, t->name);
	}

	/* namesz: the name and its NUL must fit. */
	{
		const char *a = "unix:///run/containerd/s/abcd";
		char small[5];

		ret = addr_socket_name(a, strlen(a), "/run/containerd", small, 5);
		CHECK(ret == 0 && strcmp(small, "abcd") == 0, "namesz 5 for \"abcd\": %d", ret);
		ret = addr_socket_name(a, strlen(a), "/run/containerd", small, 4);
		CHECK(ret == -ENAMETOOLONG, "namesz 4 for \"abcd\": %d, want -ENAMETOOLONG", ret);
		ret = addr_socket_name(a, strlen(a), "/run/containerd", small, 0);
		CHECK(ret == -ENAMETOOLONG, "namesz 0: %d, want -ENAMETOOLONG", ret);
		/* rejection wins over size */
		ret = addr_socket_name("tcp://x", 7, "/run/containerd", small, 0);
		CHECK(ret == -EINVAL, "tcp:// with namesz 0: %d, want -EINVAL", ret);
	}

	/* The computed address is always accepted, and names its own hash. */
	{
		char *a = addr_computed("/tmp/sr/", "/tmp/cd.sock", "k8s.io", "web-1");

		CHECK(a != NULL, "addr_computed returned NULL");
		if (a == NULL)
			return check_report();
		ret = addr_socket_name(a, strlen(a), "/tmp/sr", name, sizeof(name));
		CHECK(ret == 0 && strcmp(name, K8S_WEB) == 0, "round trip: %d \"%s\"", ret, name);
		free(a);
	}

	return check_report();
}
