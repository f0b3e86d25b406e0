/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shim addresses as runtime/v1/linux/bundle.go computes them (SPEC 4.3):
 * shimAddress, legacyShimAddress, and the socket check in front of
 * RemoveSocket (SPEC 4.7 step 2). Pure computation: no file system access.
 */
#include "addr.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>

#include "gopath.h"

#define ADDR_SCHEME "unix://"
#define ADDR_SCHEME_LEN (sizeof(ADDR_SCHEME) - 1)

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * The SHA-256 implementation, fetched once: EVP_sha256() makes OpenSSL 3
 * look the algorithm up again on every digest. Kept for the process's life.
 */
static const EVP_MD *addr_sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}

/* Join(socket_root, "s"): the directory that holds every computed shim socket. */
static char *addr_socket_dir(const char *socket_root)
{
	const char *elem[] = {socket_root, "s"};

	return gopath_join(elem, 2);
}

char *addr_computed(const char *socket_root, const char *daemon_address, const char *ns,
		    const char *id)
{
	const char *elem[] = {daemon_address, ns, id};
	static const char hexdig[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0, i;
	char *joined = NULL, *dir = NULL, *ret = NULL;

	joined = gopath_join(elem, 3);
	dir = addr_socket_dir(socket_root);
	if (joined == NULL || dir == NULL)
		goto out;

	/* EVP_Digest fails only on allocation failure inside OpenSSL. */
	if (!EVP_Digest(joined, strlen(joined), md, &mdlen, addr_sha256(), NULL))
		goto out;
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = hexdig[md[i] >> 4];
		hex[2 * i + 1] = hexdig[md[i] & 0xf];
	}
	hex[2 * mdlen] = '\0';

	/* fmt.Sprintf("unix://%s/%x", Join(socketRoot, "s"), d) */
	if (asprintf(&ret, ADDR_SCHEME "%s/%s", dir, hex) < 0)
		ret = NULL;
out:
	free(joined);
	free(dir);
	return ret;
}

char *addr_legacy(const char *ns, const char *id)
{
	const char *elem[] = {"/", "containerd-shim", ns, id, "shim.sock"};

	return gopath_join(elem, 5);
}

int addr_socket_name(const char *address, size_t len, const char *socket_root, char *name,
		     size_t namesz)
{
	char *path = NULL, *clean = NULL, *dir = NULL;
	const char *base;
	size_t dirlen, baselen;
	int ret = -EINVAL;

	if (address == NULL || len < ADDR_SCHEME_LEN ||
	    memcmp(address, ADDR_SCHEME, ADDR_SCHEME_LEN) != 0)
		return -EINVAL;
	/* A stored address is arbitrary bytes; a NUL can never be part of a socket path. */
	if (memchr(address + ADDR_SCHEME_LEN, '\0', len - ADDR_SCHEME_LEN) != NULL)
		return -EINVAL;

	/* os.Remove("dir/name/") fails with ENOTDIR on a socket: nothing to remove. */
	if (address[len - 1] == '/')
		return -EINVAL;

	/*
	 * A ".." is resolved by the kernel through whatever the directories
	 * are, not lexically as Clean does: never act on such a path.
	 */
	for (const char *p = address + ADDR_SCHEME_LEN;
	     (p = memmem(p, (size_t)(address + len - p), "..", 2)); p += 2) {
		bool starts = p == address + ADDR_SCHEME_LEN || p[-1] == '/';
		bool ends = p + 2 == address + len || p[2] == '/';

		if (starts && ends)
			return -EINVAL;
	}

	ret = -ENOMEM;
	path = strndup(address + ADDR_SCHEME_LEN, len - ADDR_SCHEME_LEN);
	if (path == NULL)
		goto out;
	clean = gopath_clean(path);
	dir = addr_socket_dir(socket_root);
	if (clean == NULL || dir == NULL)
		goto out;

	/* clean must be dir + "/" + NAME with NAME a single element. */
	ret = -EINVAL;
	dirlen = strlen(dir);
	if (strncmp(clean, dir, dirlen) != 0 || clean[dirlen] != '/')
		goto out;
	base = clean + dirlen + 1;
	baselen = strlen(base);
	if (baselen == 0 || strchr(base, '/') != NULL || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0)
		goto out;

	ret = -ENAMETOOLONG;
	if (name == NULL || baselen >= namesz)
		goto out;
	memcpy(name, base, baselen + 1);
	ret = 0;
out:
	free(path);
	free(clean);
	free(dir);
	return ret;
}
