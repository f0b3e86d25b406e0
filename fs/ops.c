/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The operations of the mount: the table libfuse dispatches from, and the
 * session's init and destroy.
 */
#include "daemon.h"
#include "devio.h"

void bfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	devio_init(conn);
	/*
	 * POSIX ACLs as the backing store keeps them: the kernel checks them
	 * and drops its cached mode when one is set (default_permissions is on).
	 */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK)) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		bfs.apply_umask = true;
	}
	/* Reads and writes go to the backing file as they come: no writeback cache. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
}

void bfs_destroy(void *userdata)
{
	(void)userdata;
}

const struct fuse_lowlevel_ops bfs_ll_ops = {
    .init = bfs_init,
    .destroy = bfs_destroy,
    .lookup = bfs_lookup,
    .forget = bfs_forget,
    .forget_multi = bfs_forget_multi,
    .getattr = bfs_getattr,
    .setattr = bfs_setattr,
    .readlink = bfs_readlink,
    .mknod = bfs_mknod,
    .mkdir = bfs_mkdir,
    .unlink = bfs_unlink,
    .rmdir = bfs_rmdir,
    .symlink = bfs_symlink,
    .rename = bfs_rename,
    .link = bfs_link,
    .open = bfs_open,
    .read = bfs_read,
    .write = bfs_write,
    .flush = bfs_flush,
    .release = bfs_release,
    .fsync = bfs_fsync,
    .opendir = bfs_opendir,
    .readdir = bfs_readdir,
    .readdirplus = bfs_readdirplus,
    .releasedir = bfs_releasedir,
    .fsyncdir = bfs_fsyncdir,
    .statfs = bfs_statfs,
    .setxattr = bfs_setxattr,
    .getxattr = bfs_getxattr,
    .listxattr = bfs_listxattr,
    .removexattr = bfs_removexattr,
    .create = bfs_create,
    .fallocate = bfs_fallocate,
    .lseek = bfs_lseek,
};
