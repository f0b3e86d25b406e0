/* SPDX-License-Identifier: Apache-2.0 */
/*
 * leaks (SPEC 8.4): what containerd left behind on a node, as the node
 * view's computed file shows it. FUSE-free: what needs the daemon's
 * configuration of each runtime (a bundle's status and its address) comes
 * from the caller through callbacks.
 *
 * The text: one JSON object and "\n" per finding, nothing when nothing
 * leaked. Keys in the order shown, no spaces, strings as Go's json.Marshal
 * writes them (gojson_put_string: '/' not escaped, <, > and & as \u003c...):
 *
 * {"kind":"bundle","path":"PLUGIN/<ns>/<id>","reason":"stale"}
 * {"kind":"workdir","path":"<work_dir>/<ns>/<id>"}
 * {"kind":"socket","path":"<socket_root>/s/<name>","listening":true|false|null}
 * {"kind":"shim","pid":N,"exe":"...","cwd":"..."}
 *
 * The groups come in this order, bundles, work dirs and sockets each sorted
 * by the bytes of path, shims by pid. The findings:
 * - bundle: a bundle of the view whose status says "stale":true (the
 *   caller's stale callback). A bundle is a directory S/<ns>/<id> of a
 *   plugin, neither <ns> nor <id> beginning with '.' (the tree's rule);
 *   path is relative to the mount.
 * - workdir: a directory W/<ns>/<id> (again no name beginning with '.') of
 *   a plugin whose W exists, such that S/<ns>/<id> is no directory (S or
 *   S/<ns> missing included). path is Join(W, ns, id). Where S or S/<ns>
 *   cannot be looked at for another reason, nothing of it is reported.
 * - socket: an entry of <socket_root>/s/ that is a socket and that no
 *   bundle's address (or debug address, where the caller gives one) names. An address names the
 * path after "unix://", compared after Go's filepath.Clean (an address holding a NUL byte names
 *   nothing). path is Join(socket_root, "s", name); listening is
 *   status_unix_listening's verdict on "unix://" + path (SPEC 4.9's rule:
 *   only sockets there are connected to, within the connect bound; nothing
 *   is sent).
 * - shim: a running process (not a zombie) whose executable's name begins
 *   with "containerd-shim" (shimproc_list) and whose working directory is
 *   not the directory of a bundle of the view: the directory itself is
 *   compared (st_dev and st_ino of /proc/<pid>/cwd, which reaches it even
 *   once removed, against the bundles found), so a bundle directory that
 *   was removed, renamed to a hidden name or replaced is no bundle, and a
 *   path spelt through a symlink is still the same directory. exe and cwd
 *   as readlink shows them, " (deleted)" kept. A process whose cwd cannot
 *   be looked at is not judged.
 *
 * The two looks: a finding is reported only when it holds at a first look
 * and again at a second one, begun at least the gap after the first ended:
 * the same kind and path (pid for shims), with the second look's values.
 * containerd's own creates and deletes pass through states that look
 * leaked: a bundle between its shim's exit and its delete (measured here at
 * 11-16 ms for `crictl stopp`, and up to 167 ms under load), a work dir
 * between the two halves of a delete, a socket before the bundle that names
 * it has its address. LEAKS_LOOK_GAP_MS is 250 ms: the longest such window
 * measured, with half of it again as margin, over SPEC 8.4's minimum of
 * 100 ms; a read of the file takes that long and a little more.
 *
 * Nothing is changed anywhere: directories are opened O_RDONLY or O_PATH,
 * never following a symlink below the configured roots (each plugin's S and
 * W, socket_root: these are opened as given, as store_open opens S and W);
 * the only connections are status_unix_listening's. What the callbacks do
 * is the caller's. Descriptors: at most five at once besides the
 * callbacks', none kept. Thread-safe: no global state; the callbacks may be
 * called from several threads at once if several renders run.
 *
 * All functions return 0 or -errno.
 */
#ifndef BUNDLEFS_LEAKS_H
#define BUNDLEFS_LEAKS_H

#include <stdbool.h>
#include <stddef.h>

/* The project's gap between the two looks (see above). */
#define LEAKS_LOOK_GAP_MS 250
/* SPEC 8.4's minimum: a smaller gap asked for is raised to this. */
#define LEAKS_MIN_GAP_MS 100

struct leaks_plugin {
	const char *name;      /* the view's directory: "io.containerd.runtime.v2.task" */
	const char *state_dir; /* S = Join(C_S, name), absolute */
	const char *work_dir;  /* W = Join(C_R, name), absolute: workdir paths begin with it */
	int runtime;	       /* 1 or 2, for the callbacks; leaks itself does not look at it */
};

/* A bundle, as the callbacks get it. */
struct leaks_bundle {
	const struct leaks_plugin *plugin;
	const char *ns, *id;
	int fd; /* O_PATH|O_DIRECTORY of S/<ns>/<id>, valid during the call only */
};

struct leaks_input {
	const struct leaks_plugin *plugins; /* a plugin whose S or W is missing adds nothing */
	size_t nplugins;
	const char *socket_root; /* sockets live in <socket_root>/s/ */
	/*
	 * Whether b's status says "stale":true (SPEC 4.9): status_stale of the
	 * status_input that b's status file is rendered from. 0 with *stale
	 * set; -ENOMEM ends the look with it; any other error counts as not
	 * stale.
	 */
	int (*stale)(void *arg, const struct leaks_bundle *b, bool *stale);
	/*
	 * What b's address reads (SPEC 4.3, 7.2): 0 with *addr malloc'd (the
	 * look frees it) and *len its length; -ENOENT or any other error but
	 * -ENOMEM: it names no socket. -ENOMEM ends the look with it.
	 */
	int (*address)(void *arg, const struct leaks_bundle *b, char **addr, size_t *len);
	/*
	 * Optional (NULL: none): a second socket b names, as address does.
	 * containerd 2.x at log level debug makes a debug socket beside each
	 * v2 shim's, keyed Join(daemon_address, ns, group, "debug"); a live
	 * debug socket is its shim's, not a leak, so the bundles that name
	 * the shim name it too.
	 */
	int (*debug_address)(void *arg, const struct leaks_bundle *b, char **addr, size_t *len);
	void *arg;
	int gap_ms;		/* between the looks; <= 0: LEAKS_LOOK_GAP_MS */
	int connect_timeout_ms; /* <= 0: STATUS_CONNECT_TIMEOUT_MS */
};

/* The findings of one look. */
struct leaks_look;

/*
 * One look. With prev (an earlier look), only what prev also found is kept
 * -- the confirmation of the second look -- and the stale callback and the
 * connects are spent on prev's findings only. *out: free with
 * leaks_look_free. -ENOMEM, or a callback's -ENOMEM.
 */
int leaks_look(const struct leaks_input *in, const struct leaks_look *prev,
	       struct leaks_look **out);
void leaks_look_free(struct leaks_look *look);
/* The number of findings of a look. */
size_t leaks_look_count(const struct leaks_look *look);

/*
 * The text of a look's findings (the format above): *text malloc'd and
 * NUL-terminated, "" when there are none; *len its length. -ENOMEM.
 */
int leaks_format(const struct leaks_look *look, char **text, size_t *len);

/*
 * What the leaks file reads: a look, a pause of the gap (CLOCK_MONOTONIC,
 * from the end of the first look), a second look confirming the first,
 * rendered. Blocks at least the gap.
 */
int leaks_render(const struct leaks_input *in, char **text, size_t *len);

#endif
