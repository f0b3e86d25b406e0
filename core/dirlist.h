/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listing the directories of a store's level (namespaces, bundles, work
 * dirs) the way the pods index and leaks both do: hidden names skipped,
 * never through a symlink, what cannot be opened skipped unless the caller
 * calls its errno fatal.
 */
#ifndef BUNDLEFS_DIRLIST_H
#define BUNDLEFS_DIRLIST_H

#include <dirent.h>
#include <stdbool.h>

/* Whether de may be a visible directory: not hidden ('.' first), DT_DIR or DT_UNKNOWN. */
bool dirlist_maybe_dir(const struct dirent *de);

/* name in dirfd opened for listing, never through a symlink: a DIR, or NULL with errno set. */
DIR *dirlist_open(int dirfd, const char *name);

/*
 * The next entry of d that may be a visible directory, opened O_PATH |
 * O_DIRECTORY without following a symlink: 1 with *de and *fd set (the
 * caller closes *fd), 0 at the end of the listing. An entry that cannot
 * be opened is skipped unless fatal(errno), then -errno; a failing
 * readdir gives -errno.
 */
int dirlist_next_dir(DIR *d, bool (*fatal)(int err), struct dirent **de, int *fd);

#endif
