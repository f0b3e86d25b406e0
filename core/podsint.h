/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pods index's own state (pods.h), shared by the files it is made of:
 * pods.c (the entries, their claims installed, the queries that count),
 * podclaim.c (what a config.json claims), podread.c (reading config.json
 * and refreshing one bundle), podscan.c (rescans and removing many) and
 * podlinks.c (the listings and link names). Private to those files:
 * everything else uses pods.h.
 */
#ifndef BUNDLEFS_PODSINT_H
#define BUNDLEFS_PODSINT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "pods.h"

/* What identifies one content of config.json. */
struct ident {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

struct pod;

/* A complete bundle. */
struct pbundle {
	const char *plugin, *ns, *id; /* point into key */
	bool has_ident;		      /* ident is that of the text claim was decoded from */
	bool racy;		      /* ident is not to be trusted: read again */
	struct ident ident;
	struct pods_claim claim;
	struct pod *pod; /* the pod claim names, NULL with PODS_NONE */
	uint64_t scan;	 /* the last rescan that found it (protected by update) */
	char key[];	 /* "plugin\0ns\0id\0" */
};

/* A pod directory: the bundles that claim it, in no particular order. */
struct pod {
	const char *name; /* points into buf */
	struct pbundle **m;
	size_t n, cap;
	uint64_t gen; /* when its links last changed */
	char buf[];
};

struct pods {
	/* Serializes every change, across its reads of config.json. */
	pthread_mutex_t update;
	/*
	 * Protects everything below but scan: written with update held too,
	 * so an updater may read without it.
	 */
	pthread_rwlock_t lock;
	void *bundles; /* tsearch tree of struct pbundle *, by (plugin, ns, id) */
	void *pods;    /* tsearch tree of struct pod *, by name */
	size_t nbundles, npods;
	uint64_t gen;	   /* bumped by every change of a listing */
	uint64_t list_gen; /* when the set of pods last changed */
	uint64_t reads;	   /* config.json texts read */
	uint64_t scan;	   /* the rescan epoch (protected by update) */
};

/* podclaim.c */
/* A copy of from (NULL or PODS_NONE: claims nothing) into to. -EINVAL, -ENOMEM. */
int pidx_claim_copy(const struct pods_claim *from, struct pods_claim *to);
bool pidx_claim_eq(const struct pods_claim *a, const struct pods_claim *b);

/* pods.c: the trees. Callers hold update (changes) or lock (finds). */
struct pod *pidx_pod_find(const struct pods *p, const char *name);
struct pbundle *pidx_bundle_find(const struct pods *p, const char *plugin, const char *ns,
				 const char *id);
/* Directory names: not empty, no '/' (a link's target is made of them). */
bool pidx_key_ok(const char *plugin, const char *ns, const char *id);
/*
 * Give b the claim c (taken over: c is emptied). Caller holds update; takes
 * lock. Nothing changes on -ENOMEM. Returns whether a listing changed.
 */
int pidx_install(struct pods *p, struct pbundle *b, struct pods_claim *c);
/* The entry of (plugin, ns, id), made (claiming nothing) when missing. Caller holds update. */
int pidx_bundle_get(struct pods *p, const char *plugin, const char *ns, const char *id,
		    struct pbundle **out);
/* Forget b. Caller holds update and lock (for writing). */
void pidx_bundle_drop(struct pods *p, struct pbundle *b);

/* podread.c */
/*
 * pods_refresh with update held. *out: the entry after it (NULL when the
 * bundle is not complete, or out NULL).
 */
int pidx_refresh_locked(struct pods *p, const char *plugin, const char *ns, const char *id, int bfd,
			struct pbundle **out);

#endif
