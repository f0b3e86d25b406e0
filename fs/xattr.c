/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Extended attributes (SPEC 4.1, 4.6): of an overlay file as core decides
 * (ovl_xattr: its writer's file, the stored file, or none), else of the
 * backing entry, through its descriptor (attr_xattr).
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "resolve.h"

/*
 * Extended attributes of an overlay file (SPEC 4.1): those of the file an
 * open writer will store, else of the stored file; a computed value has
 * none (reads find none, a change is EPERM as its chmod is). op as
 * ovl_fxattr; the result likewise.
 */
static int overlay_xattr(struct node *n, enum attr_xop op, const char *name, void *value,
			 size_t size, int flags)
{
	char ns[NAME_MAX + 1] = "", id[NAME_MAX + 1] = "";
	struct handle *writer = handle_pin_writer(n);
	int ret = node_bundle_names(n, ns, id);

	/* A writer serves it even when the name is gone. */
	if (ret == 0 || writer)
		ret = ovl_xattr(n->conf, n->ov, ns, id, writer ? writer->ovf : NULL, op, name,
				value, size, flags);
	if (writer)
		handle_unpin(writer);
	return ret;
}

/*
 * The extended attribute call op on node n: an overlay file's as core
 * decides, else the backing entry's, reached the one way (resolve.c).
 */
static int node_xattr(struct node *n, enum attr_xop op, const char *name, void *value, size_t size,
		      int flags)
{
	int fd, ret;

	if (n->kind == NK_OVERLAY)
		return overlay_xattr(n, op, name, value, size, flags);
	fd = resolve_open(n, O_PATH, NULL);
	if (fd < 0)
		return fd;
	ret = attr_xattr(fd, op, name, value, size, flags);
	close(fd);
	return ret;
}

/* getxattr (name) or listxattr (name NULL): a size query when size is 0. */
static void xattr_read(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	char *buf = NULL;
	int len;
	struct node *n = node_or_reply(req, ino);

	if (!n)
		return;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	len = node_xattr(n, name ? ATTR_XGET : ATTR_XLIST, name, buf, size, 0);
	if (len < 0)
		fuse_reply_err(req, -len);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)len);
	else
		fuse_reply_xattr(req, (size_t)len);
	free(buf);
}

void bfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	xattr_read(req, ino, name, size);
}

void bfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_read(req, ino, NULL, size);
}

/* setxattr (value non-NULL) or removexattr of name. */
static void xattr_change(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	struct node *n = node_or_reply(req, ino);

	if (!n || refused_ro(req))
		return;
	reply_result(
	    req, node_xattr(n, value ? ATTR_XSET : ATTR_XREMOVE, name, (void *)value, size, flags));
}

void bfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		  int flags)
{
	/* A value of no bytes is still a value. */
	xattr_change(req, ino, name, value ? value : "", size, flags);
}

void bfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	xattr_change(req, ino, name, NULL, 0, 0);
}
