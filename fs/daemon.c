/* SPDX-License-Identifier: Apache-2.0 */
/* The mount's state, and what every request handler shares; see daemon.h. */
#include "daemon.h"

#include <errno.h>

struct bfs bfs;

struct node *node_or_reply(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = node_find(ino);

	if (!n)
		fuse_reply_err(req, ESTALE);
	return n;
}

bool refused_ro(fuse_req_t req)
{
	if (bfs.ro)
		fuse_reply_err(req, EROFS);
	return bfs.ro;
}

void reply_result(fuse_req_t req, int ret)
{
	fuse_reply_err(req, ret < 0 ? -ret : 0);
}
