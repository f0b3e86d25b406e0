/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The open overlay file itself, shared by overlay.c (opening, reading,
 * writing, staging and committing) and ovlattr.c (its attributes and
 * extended attributes). Private to those two files: everything else uses
 * the functions of overlay.h.
 */
#ifndef BUNDLEFS_OVLFILE_H
#define BUNDLEFS_OVLFILE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "overlay.h"

/* An open overlay file. */
struct ovl_file {
	const struct bundle_conf *c;
	const struct ovl *o;
	char ns[NAME_MAX + 1], id[NAME_MAX + 1];
	bool writable;
	uid_t uid; /* the opener, owner of what it stores */
	gid_t gid;
	/* Read snapshot (computed content, stored address): immutable after open. */
	char *snap;
	size_t snaplen;
	struct stat snapst;
	pthread_mutex_t lock;
	/* The rest is protected by lock. */
	int fd;		  /* read: the stored file; write: staging or committed file; -1 */
	int nsfd;	  /* S/<ns>, where a writable handle stages; -1 */
	bool staged;	  /* fd is a private staging file, not the stored one */
	bool linkable;	  /* fd is an O_TMPFILE that was never linked */
	char tmpname[64]; /* name of a named (fallback) staging file in S/<ns>, "" when none */
	bool dirty;	  /* staged content differs from the stored file */
	bool written;	  /* written to (or ftruncated) since open or the last commit */
	bool toobig;	  /* a write went past the maximum: nothing is committed */
	bool created;	/* no stored file existed when this handle made it, none committed since */
	bool discard;	/* a released read-only kind made again: writes are accepted and dropped */
	bool mode_set;	/* the opener chose the stored mode (ovl_fchmod): commit keeps it */
	bool owner_set; /* likewise the owner (ovl_fchown) */
};

#endif
