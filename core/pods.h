/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pods index (SPEC 8.3): which bundle of the node view is which
 * Kubernetes pod's sandbox or container, kept per bundle so that the pods/
 * tree is served without reading config.json again when nothing changed.
 * FUSE-free: the daemon feeds it (start-up rescan, watcher events, writes
 * through the mount) and serves its listings.
 *
 * The tree it describes:
 *	pods/
 *	  <namespace>_<name>_<uid>/	one per pod (kubelet's name of /var/log/pods/)
 *	    sandbox -> ../../PLUGIN/<ns>/<id>
 *	    containers/
 *	      <container-name> -> ../../../PLUGIN/<ns>/<id>
 *
 * A bundle is identified by (plugin, ns, id): its directory is
 * PLUGIN/<ns>/<id> of the view, S/<ns>/<id> of that plugin's store. What it
 * claims comes from its config.json (pods_claim_decode):
 * - the annotations are decoded as the runc v2 shim decodes them
 *   (spec_annotations: Go's json.Unmarshal into map[string]string, a folded
 *   "annotations" key, exact names, the last value of a name, a null value
 *   stored as ""); a text that Go fails to decode (invalid JSON, a value
 *   that is not a string) claims nothing;
 * - io.kubernetes.cri.sandbox-namespace, -name and -uid must all be present;
 *   they name the pod directory "<namespace>_<name>_<uid>"; bundles whose
 *   three values join to the same name are one pod;
 * - io.kubernetes.cri.container-type "sandbox" claims the pod's sandbox
 *   link; "container" claims the link named by
 *   io.kubernetes.cri.container-name, which must be present; any other type
 *   (or none) claims nothing;
 * - a pod directory name or container name that is empty, "." or "..", or
 *   holds a '/' or a NUL byte (no file name can), claims nothing.
 * A bundle counts only while it is complete: config.json a regular file
 * (never followed if a symlink) of at most SPEC_MAX_SIZE bytes; a larger one
 * claims nothing.
 *
 * Link names (pods_links): a name claimed by exactly one bundle is listed
 * bare. A name claimed by several bundles is not listed bare: each claimant
 * is listed as "<name>.<id>" instead, so that a leaked bundle never hides
 * behind a live one; claimants that share the id as well (the same id in two
 * plugins or namespaces) are listed once, pointing to the first of them in
 * the byte order of (plugin, ns). Should two entries of one directory still
 * come out with the same name (a container named "a.b" beside two
 * containers "a" of which one has the id "b"), the bare one is listed, else
 * the first in the order of (claimed name, id, plugin, ns). Entries come in
 * the byte order of their names; pods in the byte order of theirs. Targets
 * are relative: "../../PLUGIN/<ns>/<id>" for a sandbox link (in pods/<pod>/),
 * "../../../PLUGIN/<ns>/<id>" for a container link (in pods/<pod>/containers/).
 * A pod with no sandbox claimant has no sandbox link; one with no container
 * claimant an empty containers/. A pod exists while one bundle claims it.
 *
 * Freshness without re-reading: the index remembers, per bundle, the
 * identity of the config.json it last read (st_dev, st_ino, st_size,
 * st_mtim, st_ctim). pods_refresh reads and decodes config.json again only
 * when that identity changed -- one fstatat per call otherwise. An identity
 * is not trusted ("racy", as git calls an index entry) when the file's
 * ctime was within PODS_RACY_MS of the read, or the file changed while it
 * was read: the kernel stamps times from a clock that advances in ticks, so
 * a write in the same tick as the read could leave the identity unchanged;
 * such a bundle is read once more at its next refresh.
 *
 * Generations: one counter, bumped by every change that makes a listing
 * differ. pods_generation is its current value; pods_stat gives, for pods/
 * itself, the generation at which the set of pods last changed, and for a
 * pod, the generation at which its links (in it and in its containers/)
 * last changed. A reader that kept a listing with its generation knows it is
 * still exact while pods_stat gives the same number. A refresh that finds
 * the same claim changes no generation.
 *
 * Locking: each index has two locks of its own. `update` (a mutex)
 * serializes the functions that change it (pods_set, pods_refresh,
 * pods_remove, pods_rescan) and is held across their reads of config.json,
 * so a slower, older read never overwrites a newer one. `lock` (a rwlock)
 * protects the bundles, the pods and the counters: changes take it for
 * writing, briefly, with `update` held (lock order: update, then lock);
 * queries take it for reading only and never wait for a read of a file.
 * Neither is held when a function returns; no callback is called with
 * either held.
 *
 * Memory: one entry per complete bundle (with its claim) and one per pod;
 * an entry goes when its bundle is removed, loses config.json, or is not
 * found by a rescan. Descriptors: none is kept; a rescan holds four at
 * most (the plugin's listing, a namespace's, a bundle, its config.json).
 * Everything below the caller's descriptors is opened O_CLOEXEC|O_NOFOLLOW;
 * nothing is ever written.
 *
 * All functions return 0 or -errno.
 */
#ifndef BUNDLEFS_PODS_H
#define BUNDLEFS_PODS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The link of a pod's sandbox, and the directory of its containers. */
#define PODS_SANDBOX "sandbox"
#define PODS_CONTAINERS "containers"
/* An identity younger than this (ctime before the read) is read again. */
#define PODS_RACY_MS 1000

enum pods_kind { PODS_NONE, PODS_SANDBOX_KIND, PODS_CONTAINER_KIND };

/* What one bundle's config.json claims in pods/. */
struct pods_claim {
	enum pods_kind kind;
	char *pod;  /* the pod directory's name (malloc'd); NULL with PODS_NONE */
	char *name; /* PODS_CONTAINER_KIND: the container's name (malloc'd); else NULL */
};

/*
 * Decode the claim of config.json text buf[0..len) (the rules above). A text
 * that claims nothing gives 0 with kind PODS_NONE. 0 or -ENOMEM. Free with
 * pods_claim_free (also after a failure).
 */
int pods_claim_decode(const char *buf, size_t len, struct pods_claim *c);
void pods_claim_free(struct pods_claim *c);

struct pods;

/* A new, empty index. 0 or -ENOMEM. */
int pods_new(struct pods **out);
/* Free the index and everything in it. No other call may run on it. */
void pods_free(struct pods *p);

/*
 * Set the claim of bundle (plugin, ns, id) as decoded elsewhere (c NULL or
 * PODS_NONE: it claims nothing, but stays known as complete). The index has
 * no identity of its config.json then, so the next pods_refresh reads it.
 * -EINVAL for a component that is empty or holds a '/'. -ENOMEM.
 */
int pods_set(struct pods *p, const char *plugin, const char *ns, const char *id,
	     const struct pods_claim *c);

/*
 * Bring bundle (plugin, ns, id) up to date from its directory bundle_fd (an
 * O_PATH or O_RDONLY descriptor of S/<ns>/<id>, borrowed): config.json is
 * looked at with fstatat(AT_SYMLINK_NOFOLLOW); when it is no regular file,
 * or bundle_fd is -1 (the bundle is gone), or ns or id begins with '.' (no
 * bundle of the view), the bundle's entry goes. When its identity is the
 * one remembered (and not racy), nothing is read; otherwise it is opened
 * O_RDONLY|O_NOFOLLOW|O_NONBLOCK, read (at most SPEC_MAX_SIZE bytes) and
 * decoded, and the entry takes the new identity and claim. -EINVAL as
 * pods_set; -ENOMEM, -EMFILE and the like leave the entry as it was.
 */
int pods_refresh(struct pods *p, const char *plugin, const char *ns, const char *id, int bundle_fd);

/*
 * Forget bundles: (plugin, ns, id) alone, or with id NULL every bundle of
 * plugin's namespace ns, or with ns NULL too every bundle of plugin. 0 also
 * when there was none.
 */
int pods_remove(struct pods *p, const char *plugin, const char *ns, const char *id);

/*
 * Rescan plugin's whole store (at start-up, after the watcher lost events):
 * plugin_fd is S (O_PATH or O_RDONLY, borrowed), or -1 when it is gone. Every
 * bundle S/<ns>/<id> -- a directory whose name does not begin with '.' in a
 * namespace directory whose name does not either, neither a symlink -- is
 * refreshed as by pods_refresh (so only what changed is read), and the
 * plugin's bundles it did not find are forgotten. On an error that is no
 * verdict about a bundle (-ENOMEM, -EMFILE, -ENFILE, a failing listing)
 * the scan stops and nothing is forgotten; the error is returned.
 */
int pods_rescan(struct pods *p, const char *plugin, int plugin_fd);

/* Bundles by their names in a plugin's store. */
struct pods_key {
	char *ns, *id; /* malloc'd */
};
struct pods_keys {
	struct pods_key *v;
	size_t n, cap;
};
void pods_keys_free(struct pods_keys *k);

/*
 * pods_rescan, and, appended to *incomplete (zeroed by the caller, or NULL),
 * the bundles it found without a regular config.json: being made, or never
 * completed (containerd 2.x's spec-less bundles), for a caller that follows
 * them until they complete. On an error what was appended stays; free it
 * with pods_keys_free.
 */
int pods_rescan_incomplete(struct pods *p, const char *plugin, int plugin_fd,
			   struct pods_keys *incomplete);

/* The generation: bumped by every change of any listing. */
uint64_t pods_generation(struct pods *p);

/*
 * pod NULL: pods/ itself, always there; *gen (may be NULL) the generation at
 * which the set of pods last changed. Else the pod directory pod: -ENOENT
 * when no bundle claims it; *gen the generation at which its links last
 * changed.
 */
int pods_stat(struct pods *p, const char *pod, uint64_t *gen);

struct pods_names {
	char **v; /* malloc'd names, in byte order */
	size_t n;
	uint64_t gen; /* as pods_stat(p, NULL) at the time of the listing */
};

/* The pod directories, one consistent snapshot. Free with pods_names_free. -ENOMEM. */
int pods_list(struct pods *p, struct pods_names *out);
void pods_names_free(struct pods_names *names);

/* Which directory of a pod. */
enum pods_dir {
	PODS_DIR_POD,	     /* pods/<pod>/: the sandbox links (beside "containers") */
	PODS_DIR_CONTAINERS, /* pods/<pod>/containers/: the container links */
};

struct pods_link {
	char *name;   /* the link's name (malloc'd) */
	char *target; /* its relative target (malloc'd) */
};

struct pods_links {
	struct pods_link *v; /* in the byte order of name */
	size_t n;
	uint64_t gen; /* as pods_stat(p, pod) at the time of the listing */
};

/*
 * The links of one directory of pod, one consistent snapshot: the sandbox
 * links of pods/<pod>/ (the fixed "containers" directory is not among them)
 * or the links of pods/<pod>/containers/. -ENOENT when there is no such pod.
 * Free with pods_links_free. -ENOMEM.
 */
int pods_links(struct pods *p, const char *pod, enum pods_dir dir, struct pods_links *out);
void pods_links_free(struct pods_links *links);

/*
 * The target of link name in that directory of pod: *target malloc'd.
 * -ENOENT when there is no such pod or link. -ENOMEM.
 */
int pods_readlink(struct pods *p, const char *pod, enum pods_dir dir, const char *name,
		  char **target);

struct pods_stats {
	size_t bundles; /* complete bundles known */
	size_t pods;	/* pod directories */
	uint64_t reads; /* config.json texts read since pods_new */
};

/* Counters, for tests and the daemon's debug log. */
void pods_get_stats(struct pods *p, struct pods_stats *st);

#endif
