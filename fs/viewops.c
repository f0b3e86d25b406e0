/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The operations of a node-view mount (view.h): every request about a
 * plugin's store goes to the ordinary handlers, since a plugin directory is
 * the root of a store like MOUNT of a single-runtime mount; a request about
 * one of the view's own nodes (NK_VIEWROOT, NK_VIEW) goes to viewtree.c,
 * and a change to them is refused: MOUNT, pods/ and leaks are read-only in
 * every mode, EROFS on a read-only mount and EPERM otherwise (SPEC 8.2).
 * Requests with an open file are told apart by their handle (H_VIEW).
 */
#include "viewint.h"

#include <errno.h>

/* The node ino names when it is one of the view's own; NULL for any other. */
static struct node *own(fuse_ino_t ino)
{
	struct node *n = node_find(ino);

	return n && (n->kind == NK_VIEWROOT || n->kind == NK_VIEW) ? n : NULL;
}

static bool is_view(struct fuse_file_info *fi)
{
	return handle_of(fi)->kind == H_VIEW;
}

/* A change to the view's own nodes. */
static void refuse(fuse_req_t req)
{
	fuse_reply_err(req, bfs.ro ? EROFS : EPERM);
}

static void v_lookup(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	struct node *p = own(pino);

	if (p)
		vt_lookup(req, p, name);
	else
		bfs_lookup(req, pino, name);
}

static void v_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = own(ino);

	if (n)
		vt_getattr(req, n, fi);
	else
		bfs_getattr(req, ino, fi);
}

static void v_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		      struct fuse_file_info *fi)
{
	if (own(ino))
		refuse(req);
	else
		bfs_setattr(req, ino, attr, to_set, fi);
}

static void v_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct node *n = own(ino);

	if (n)
		vt_readlink(req, n);
	else
		bfs_readlink(req, ino);
}

static void v_mknod(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode, dev_t rdev)
{
	if (own(pino))
		refuse(req);
	else
		bfs_mknod(req, pino, name, mode, rdev);
}

static void v_mkdir(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode)
{
	if (own(pino))
		refuse(req);
	else
		bfs_mkdir(req, pino, name, mode);
}

static void v_symlink(fuse_req_t req, const char *target, fuse_ino_t pino, const char *name)
{
	if (own(pino))
		refuse(req);
	else
		bfs_symlink(req, target, pino, name);
}

static void v_unlink(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	if (own(pino))
		refuse(req);
	else
		bfs_unlink(req, pino, name);
}

static void v_rmdir(fuse_req_t req, fuse_ino_t pino, const char *name)
{
	if (own(pino))
		refuse(req);
	else
		bfs_rmdir(req, pino, name);
}

static void v_rename(fuse_req_t req, fuse_ino_t p1, const char *n1, fuse_ino_t p2, const char *n2,
		     unsigned int flags)
{
	if (own(p1) || own(p2))
		refuse(req);
	else
		bfs_rename(req, p1, n1, p2, n2, flags);
}

static void v_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t pino, const char *name)
{
	if (own(ino) || own(pino))
		refuse(req);
	else
		bfs_link(req, ino, pino, name);
}

static void v_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = own(ino);

	if (n)
		vt_open(req, n, fi);
	else
		bfs_open(req, ino, fi);
}

static void v_create(fuse_req_t req, fuse_ino_t pino, const char *name, mode_t mode,
		     struct fuse_file_info *fi)
{
	if (own(pino))
		refuse(req);
	else
		bfs_create(req, pino, name, mode, fi);
}

static void v_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	if (is_view(fi))
		vt_read(req, size, off, fi);
	else
		bfs_read(req, ino, size, off, fi);
}

static void v_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if (is_view(fi))
		refuse(req);
	else
		bfs_write(req, ino, buf, size, off, fi);
}

static void v_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_view(fi))
		fuse_reply_err(req, 0);
	else
		bfs_flush(req, ino, fi);
}

static void v_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_view(fi))
		vt_release(req, fi);
	else
		bfs_release(req, ino, fi);
}

static void v_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	if (is_view(fi))
		fuse_reply_err(req, 0); /* nothing of it is stored */
	else
		bfs_fsync(req, ino, datasync, fi);
}

static void v_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			struct fuse_file_info *fi)
{
	if (is_view(fi))
		refuse(req);
	else
		bfs_fallocate(req, ino, mode, off, len, fi);
}

static void v_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		    struct fuse_file_info *fi)
{
	if (is_view(fi))
		fuse_reply_err(req, EINVAL); /* computed text: SEEK_DATA/SEEK_HOLE mean nothing */
	else
		bfs_lseek(req, ino, off, whence, fi);
}

static void v_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node *n = own(ino);

	if (n)
		vt_opendir(req, n, fi);
	else
		bfs_opendir(req, ino, fi);
}

static void v_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct node *n;

	if (!is_view(fi))
		bfs_readdir(req, ino, size, off, fi);
	else if ((n = node_or_reply(req, ino)))
		vt_readdir(req, n, size, off, fi, false);
}

static void v_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct node *n;

	if (!is_view(fi))
		bfs_readdirplus(req, ino, size, off, fi);
	else if ((n = node_or_reply(req, ino)))
		vt_readdir(req, n, size, off, fi, true);
}

static void v_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (is_view(fi))
		vt_release(req, fi);
	else
		bfs_releasedir(req, ino, fi);
}

static void v_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	if (is_view(fi))
		fuse_reply_err(req, 0);
	else
		bfs_fsyncdir(req, ino, datasync, fi);
}

static void v_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		       size_t size, int flags)
{
	if (own(ino))
		refuse(req);
	else
		bfs_setxattr(req, ino, name, value, size, flags);
}

static void v_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	if (own(ino))
		fuse_reply_err(req, ENODATA);
	else
		bfs_getxattr(req, ino, name, size);
}

static void v_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	if (!own(ino))
		bfs_listxattr(req, ino, size);
	else if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static void v_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (own(ino))
		refuse(req);
	else
		bfs_removexattr(req, ino, name);
}

const struct fuse_lowlevel_ops view_ll_ops = {
    .init = bfs_init,
    .destroy = bfs_destroy,
    .lookup = v_lookup,
    .forget = bfs_forget,
    .forget_multi = bfs_forget_multi,
    .getattr = v_getattr,
    .setattr = v_setattr,
    .readlink = v_readlink,
    .mknod = v_mknod,
    .mkdir = v_mkdir,
    .unlink = v_unlink,
    .rmdir = v_rmdir,
    .symlink = v_symlink,
    .rename = v_rename,
    .link = v_link,
    .open = v_open,
    .read = v_read,
    .write = v_write,
    .flush = v_flush,
    .release = v_release,
    .fsync = v_fsync,
    .opendir = v_opendir,
    .readdir = v_readdir,
    .readdirplus = v_readdirplus,
    .releasedir = v_releasedir,
    .fsyncdir = v_fsyncdir,
    .statfs = bfs_statfs,
    .setxattr = v_setxattr,
    .getxattr = v_getxattr,
    .listxattr = v_listxattr,
    .removexattr = v_removexattr,
    .create = v_create,
    .fallocate = v_fallocate,
    .lseek = v_lseek,
};
