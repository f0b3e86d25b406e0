/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status (SPEC 4.9): a computed, read-only report of one bundle, for finding
 * the bundles that a dead shim or a dead container leaves behind. FUSE-free:
 * the caller gathers the inputs that need the mount's configuration (the
 * address as `address` reads it, runc's state path) and serves the text.
 *
 * The text is one JSON object on one line, then "\n" (SPEC 4.9's example
 * breaks lines for reading only; the spec says "a JSON object and one
 * newline", written compactly as shim-config is), keys in this order:
 *
 * {"complete":B,"shim":{"address":S,"listening":B|null,"pid":N|null},"init":{"pid":N|null,"running":B},"stale":B}
 *
 * - complete: config.json in the bundle is a regular file (not followed if a
 *   symlink). containerd 2.x may run a bundle without one.
 * - shim.address: the address bytes, escaped as Go's json.Marshal does
 *   (gojson_put_string: NUL as \u0000, invalid UTF-8 as \ufffd).
 * - shim.listening: true/false only for an address the shim may own:
 *   "unix://" + a path whose Clean is Join(socket_root, "s") + "/" + NAME
 *   (one element, no ".." anywhere, no NUL, at most 108 bytes as Go's
 *   net.Dial allows: addr_socket_name's rule), or, with legacy_address, an
 *   address equal to addr_legacy(ns, id), dialed as containerd does: the
 *   abstract socket "\0" + address. Any other address is null and is never
 *   connected to. The unix socket is reached without following a symlink in
 *   its last component (opened O_PATH|O_NOFOLLOW below the socket
 *   directory, connected through /proc/self/fd): a missing entry, or one
 *   that is not a socket, is false. A non-blocking connect(2) that succeeds
 *   within connect_timeout_ms is true (EAGAIN from a full backlog is retried
 *   until then); refusal or the deadline is false. Nothing is sent; the
 *   connection is closed at once.
 * - shim.pid, init.pid: the decimal in the regular file shim.pid / init.pid
 *   (never through a symlink), read as go-runc's ReadPidFile and containerd
 *   do, strconv.Atoi on the bytes as they are: an optional sign, digits
 *   only, so a trailing newline or space makes it malformed, while any
 *   number of leading zeros is fine whatever the file's length; and it must
 *   be in 1..INT32_MAX. Anything else (missing, empty, "12abc", "-1", too
 *   big, a directory, a symlink) is null.
 * - shim.pid without a regular shim.pid file (the v2 shim writes none), when
 *   listening is true: the shim holding the listening socket that was
 *   dialed (shimproc_listener, with the path as the address spells it and
 *   as Clean spells it and the socket file that was connected to, or "@" +
 *   the legacy abstract name); else null. A
 *   regular shim.pid that is malformed stays null.
 * - init.running: init.pid is valid, /proc/<pid>/stat exists and its state is
 *   not Z or X, and, when runc_state is a readable regular file (opened
 *   O_NOFOLLOW, never written) holding a JSON object whose
 *   "init_process_start" is a non-negative integer, that equals the
 *   process's start time (field 22 of /proc/<pid>/stat, clock ticks since
 *   boot, as runc records it). A missing or malformed state.json is ignored:
 *   then the process alone decides.
 * - stale: listening is not true, init is not running, and the bundle is
 *   not being made: complete, or the bundle directory's mtime is more than
 *   STATUS_MAKING_S seconds before now (CLOCK_REALTIME). An incomplete
 *   bundle modified since then may be one that containerd is making.
 *
 * status_render changes nothing anywhere and never blocks longer than the
 * connect bound (CLOCK_MONOTONIC) and a read of /proc. Thread-safe. Every
 * descriptor is O_CLOEXEC.
 */
#ifndef BUNDLEFS_STATUS_H
#define BUNDLEFS_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* SPEC 4.9's bound on the connect to the shim's socket. */
#define STATUS_CONNECT_TIMEOUT_MS 100
/* SPEC 4.9: an incomplete bundle modified this recently is not stale. */
#define STATUS_MAKING_S 10

struct status_input {
	int bundle_fd;		 /* O_PATH|O_DIRECTORY of the bundle (S/<ns>/<id>) */
	const char *address;	 /* what `address` reads now (stored, bootstrap.json or computed) */
	size_t address_len;	 /* its length in bytes; it may contain anything, NUL included */
	const char *socket_root; /* shim sockets live in <socket_root>/s/ */
	bool legacy_address;	 /* v1 legacy_address: the legacy address is dialed too */
	const char *ns, *id;	 /* the bundle, for addr_legacy; used only with legacy_address */
	/*
	 * Absolute path of runc's state.json for this bundle, or NULL: v1
	 * Join(R, ns, id, "state.json"), v2 Join(RuncRoot, id, "state.json").
	 */
	const char *runc_state;
	int connect_timeout_ms; /* <= 0: STATUS_CONNECT_TIMEOUT_MS */
};

/* shim.listening: null (never connected to), false or true. */
enum status_listen { STATUS_LISTEN_NULL, STATUS_LISTEN_FALSE, STATUS_LISTEN_TRUE };

/*
 * shim.listening of an address other than the legacy one, by the rule
 * above: for "unix://" + a path naming <socket_root>/s/NAME (at most 108
 * bytes, addr_socket_name's rule), whether a non-blocking connect(2) to
 * that socket, reached without following a symlink in its last component,
 * succeeds within timeout_ms (<= 0: STATUS_CONNECT_TIMEOUT_MS); for any
 * other address STATUS_LISTEN_NULL, and nothing is connected to. For leaks
 * (SPEC 8.4), whose sockets no bundle's address names. 0 or -ENOMEM.
 */
int status_unix_listening(const char *address, size_t len, const char *socket_root, int timeout_ms,
			  enum status_listen *res);

/*
 * Render the status text described above into a malloc'd NUL-terminated
 * buffer *out (caller frees; the NUL is not counted in *len). Returns 0, or
 * -ENOMEM (then *out is NULL): every other failure is a value in the text.
 */
int status_render(const struct status_input *in, char **out, size_t *len);

/*
 * The "stale" of status_render's text alone, without what it does not
 * depend on (shim.pid, whose search walks every process's descriptors): for
 * leaks (SPEC 8.4), which asks it of every bundle of a node. Connects as
 * status_render does, at most once. 0 or -ENOMEM.
 */
int status_stale(const struct status_input *in, bool *stale);

#endif
