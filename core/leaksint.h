/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state of one look of leaks, shared by leaks.c (the looks, the text)
 * and leakwalk.c (the walks that gather the findings). Private to them.
 */
#ifndef BUNDLEFS_LEAKSINT_H
#define BUNDLEFS_LEAKSINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "leaks.h"
#include "status.h"

/* The groups, in the order the text gives them. */
enum kind { K_BUNDLE, K_WORKDIR, K_SOCKET, K_SHIM };

struct finding {
	enum kind kind;
	char *path;		      /* bundle, workdir, socket */
	int32_t pid;		      /* shim */
	char *exe, *cwd;	      /* shim */
	enum status_listen listening; /* socket */
};

struct leaks_look {
	struct finding *v; /* sorted (finding_cmp) once the look is done */
	size_t n, cap;
};

/* A bundle directory's identity. */
struct dirid {
	dev_t dev;
	ino_t ino;
};

/* What a look gathers besides its findings. */
struct gather {
	const struct leaks_input *in;
	const struct leaks_look *prev;
	struct leaks_look *out;
	struct dirid *dirs; /* every bundle directory */
	size_t ndirs, capdirs;
	char **named; /* the Clean paths the addresses name */
	size_t nnamed, capnamed;
};

/* The order of a look's findings: by kind, then path (bytes) or pid. */
int leaks_finding_cmp(const void *x, const void *y);
/*
 * Whether f may be reported from this look: true on a first look (prev
 * NULL), else whether prev (sorted) holds a finding of its kind and path or pid.
 */
bool leaks_in_prev(const struct leaks_look *prev, const struct finding *f);
/* Add f to look (its strings taken over, freed on failure). 0 or -ENOMEM. */
int leaks_add(struct leaks_look *look, struct finding *f);

/*
 * The walks, in this order: the bundles (their directories and the socket
 * paths their addresses name, sorted for the walks after), the work dirs,
 * the sockets, the shims. Each adds what it finds to g->out; 0 or -errno.
 */
int leaks_walk_bundles(struct gather *g);
int leaks_walk_workdirs(struct gather *g);
int leaks_walk_sockets(struct gather *g);
int leaks_walk_shims(struct gather *g);
/* Free what the walks gathered besides the findings. */
void leaks_gather_free(struct gather *g);

#endif
