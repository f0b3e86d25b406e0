/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The start-up sweep (SPEC 5.4): before a read-write mount goes on, remove
 * what an interrupted operation of bundlefs or containerd left in the store.
 */
#ifndef BUNDLEFS_SWEEP_H
#define BUNDLEFS_SWEEP_H

/*
 * Sweep a read-write store. Removes, never crossing a mount point and never
 * touching a visible entry:
 *  - entries named TREE_TMP_PREFIX* directly in the state root,
 *  - in every S/<ns> and W/<ns> (ns a directory not beginning with '.'):
 *    directories named "." + identifier, and entries named TREE_TMP_PREFIX*.
 * Logs one line per entry it could not remove. work_fd -1 (a store served
 * without its work root): the state root only. Returns the number of entries
 * removed, or -errno if a root cannot be read.
 */
int sweep_store(int state_fd, int work_fd);

#endif
