/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shim addresses, as runtime/v1/linux/bundle.go computes them (SPEC 4.3).
 * The stored-or-computed choice needs the backing store and lives in store.h;
 * this module is pure computation.
 */
#ifndef BUNDLEFS_ADDR_H
#define BUNDLEFS_ADDR_H

#include <stddef.h>

/*
 * "unix://" + Join(socket_root, "s") + "/" + hex(sha256(Join(daemon_address, ns, id))),
 * no trailing newline. malloc'd, caller frees; NULL on ENOMEM.
 * SHA-256 through OpenSSL's EVP interface.
 */
char *addr_computed(const char *socket_root, const char *daemon_address, const char *ns,
		    const char *id);

/* Join("/", "containerd-shim", ns, id, "shim.sock"). malloc'd; NULL on ENOMEM. */
char *addr_legacy(const char *ns, const char *id);

/*
 * Which socket Delete may remove for a stored address (SPEC 4.7 step 2).
 * If the len bytes at address are "unix://" followed by a path whose Clean is
 * Join(socket_root, "s") + "/" + NAME, where NAME is a single path element
 * (not "." or "..", no '/', no NUL), copy NAME (NUL-terminated) into name and
 * return 0. Otherwise return -EINVAL (nothing to remove); a path ending in '/'
 * names nothing removable either (os.Remove fails with ENOTDIR on a socket).
 * -ENAMETOOLONG if NAME does not fit in namesz; -ENOMEM.
 */
int addr_socket_name(const char *address, size_t len, const char *socket_root, char *name,
		     size_t namesz);

#endif
