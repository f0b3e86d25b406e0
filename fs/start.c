/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bundlefs start-up (SPEC 2): options, checks that refuse a bad start with
 * one line on stderr before anything is mounted, the start-up sweep, a stale
 * mount left by a crashed daemon, then mount, daemonize (once the mount is
 * live) and serve the low-level session with a pool of worker threads.
 */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "gopath.h"
#include "log.h"
#include "tree.h"
#include "watch.h"

struct bfs bfs;

struct bfs_opts {
	char *state, *work, *daemon_address, *socket_root, *runtime_root, *criu, *bundle_root;
	char *runtime;
	int systemd_cgroup, legacy_address, ro;
	long watch_limit; /* -1: no cap of our own */
	char *positional[3];
	int npositional;
};

enum { KEY_RO, KEY_HELP, KEY_VERSION };

#define OPT(t, m)                                                                                  \
	{                                                                                          \
		t, offsetof(struct bfs_opts, m), 1                                                 \
	}
static const struct fuse_opt bfs_opt_spec[] = {
    OPT("state=%s", state),
    OPT("work=%s", work),
    OPT("daemon_address=%s", daemon_address),
    OPT("socket_root=%s", socket_root),
    OPT("runtime=%s", runtime),
    OPT("runtime_root=%s", runtime_root),
    OPT("criu=%s", criu),
    OPT("bundle_root=%s", bundle_root),
    OPT("systemd_cgroup", systemd_cgroup),
    OPT("legacy_address", legacy_address),
    OPT("watch_limit=%ld", watch_limit),
    FUSE_OPT_KEY("ro", KEY_RO),
    FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct bfs_opts *o = data;

	(void)outargs;
	switch (key) {
	case KEY_RO:
		o->ro = 1;
		return 1; /* also to the kernel: a read-only mount */
	case FUSE_OPT_KEY_NONOPT:
		if (o->npositional == 2) {
			fprintf(stderr, "bundlefs: too many arguments: %s\n", arg);
			return -1;
		}
		o->positional[o->npositional++] = strdup(arg);
		return 0;
	default:
		return 1;
	}
}

static void usage(const char *prog)
{
	printf(
	    "usage: %s [STATE_DIR] MOUNTPOINT [options]\n\n"
	    "Presents containerd's bundles (runtime v1 and v2) as a directory tree.\n\n"
	    "bundlefs options:\n"
	    "    -o state=DIR           state root S (bundles: S/<ns>/<id>)\n"
	    "    -o work=DIR            work root W (work dirs: W/<ns>/<id>)\n"
	    "    -o ro                  read-only: every change fails with EROFS\n"
	    "    -o daemon_address=PATH containerd's gRPC address "
	    "(default /run/containerd/containerd.sock)\n"
	    "    -o socket_root=DIR     shim sockets live in DIR/s (default /run/containerd)\n"
	    "    -o runtime=v1|v2       the bundle format: containerd's "
	    "io.containerd.runtime.v1.linux\n"
	    "                           or io.containerd.runtime.v2.task (default: from the state\n"
	    "                           dir's name when it is one of these, else v2)\n"
	    "    -o runtime_root=DIR    v1: containerd's RuntimeRoot (default \"\")\n"
	    "    -o criu=PATH           v1: node-wide criu path (default \"\")\n"
	    "    -o systemd_cgroup      v1: node-wide SystemdCgroup\n"
	    "    -o legacy_address      v1: absent address falls back to the legacy address\n"
	    "    -o bundle_root=DIR     prefix of bundle paths in shim-config "
	    "(default: the state dir)\n"
	    "    -o watch_limit=N       for tests: add at most N inotify watches, as if\n"
	    "                           /proc/sys/fs/inotify/max_user_watches were reached\n"
	    "Without state= and work=, the embedded default store is used, below\n"
	    "/var/lib/bundlefs as root, else $XDG_DATA_HOME/bundlefs or ~/.local/share/bundlefs:\n"
	    "    v2/{state,work}        runtime v2 (the default)\n"
	    "    {state,work}           runtime=v1 (the default store of bundlefs before v2\n"
	    "                           became the default: mount it with -o runtime=v1)\n\n",
	    prog);
}

static void syslog_sink(enum blog_level level, const char *msg)
{
	syslog((int)level, "%s", msg);
}

/*
 * A v1 store below base that holds something, while the default v2 store is
 * mounted: say once how to reach it (it was the default store before v2).
 */
static void note_v1_default_store(const char *base)
{
	struct dirent *de;
	char *state;
	bool used = false;
	DIR *d;
	int fd;

	if (asprintf(&state, "%s/state", base) < 0)
		return;
	fd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (d == NULL && fd >= 0)
		close(fd);
	while (d != NULL && !used && (de = readdir(d)) != NULL)
		used = de->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	if (used)
		blog(BLOG_INFO,
		     "serving the v2 default store; the v1 store in %s is mounted with "
		     "-o runtime=v1",
		     state);
	free(state);
}

/*
 * The embedded default store: no set-up, created on first use. v2 (the
 * default runtime) in <base>/v2/{state,work}; v1 in <base>/{state,work},
 * where the default store was when v1 was the default, so that such a store
 * keeps working once named with runtime=v1. explicit: runtime= was given.
 */
static int default_store(struct bfs_opts *o, enum ovl_runtime rt, bool explicit)
{
	const char *sub = rt == OVL_V2 ? "/v2" : "";
	const char *base, *home;
	char buf[4096];

	if (geteuid() == 0) {
		base = "/var/lib/bundlefs";
	} else if ((base = getenv("XDG_DATA_HOME")) && *base) {
		snprintf(buf, sizeof(buf), "%s/bundlefs", base);
		base = buf;
	} else if ((home = getenv("HOME")) && *home) {
		snprintf(buf, sizeof(buf), "%s/.local/share/bundlefs", home);
		base = buf;
	} else {
		fprintf(stderr, "bundlefs: no state= and work= given, and no HOME for the "
				"default store\n");
		return -1;
	}
	if (asprintf(&o->state, "%s%s/state", base, sub) < 0 ||
	    asprintf(&o->work, "%s%s/work", base, sub) < 0)
		return -1;
	if (rt == OVL_V2 && !explicit)
		note_v1_default_store(base);
	return 0;
}

#define V1_PLUGIN "io.containerd.runtime.v1.linux"
#define V2_PLUGIN "io.containerd.runtime.v2.task"

/*
 * SPEC 2: the runtime, from the state dir's name when it is one of
 * containerd's plugin directories (an explicit runtime= must agree), else
 * from runtime=, else v2 (the only runtime of containerd 2.x); the v1 shim's
 * options are refused with v2.
 */
static int decide_runtime(const struct bfs_opts *o, enum ovl_runtime *rt)
{
	const char *name = NULL;
	char *clean = NULL;
	int named = -1;

	if (o->state) {
		clean = gopath_clean(o->state);
		if (!clean)
			return -1;
		name = strrchr(clean, '/') ? strrchr(clean, '/') + 1 : clean;
		if (!strcmp(name, V1_PLUGIN))
			named = OVL_V1;
		else if (!strcmp(name, V2_PLUGIN))
			named = OVL_V2;
	}
	*rt = named >= 0 ? (enum ovl_runtime)named : OVL_V2;
	if (o->runtime) {
		enum ovl_runtime want;

		if (!strcmp(o->runtime, "v1")) {
			want = OVL_V1;
		} else if (!strcmp(o->runtime, "v2")) {
			want = OVL_V2;
		} else {
			fprintf(stderr, "bundlefs: runtime=%s: not v1 or v2\n", o->runtime);
			free(clean);
			return -1;
		}
		if (named >= 0 && (enum ovl_runtime)named != want) {
			fprintf(stderr, "bundlefs: runtime=%s contradicts the state directory %s\n",
				o->runtime, name);
			free(clean);
			return -1;
		}
		*rt = want;
	}
	free(clean);
	if (*rt == OVL_V2) {
		const char *v1only = o->runtime_root	 ? "runtime_root"
				     : o->criu		 ? "criu"
				     : o->systemd_cgroup ? "systemd_cgroup"
				     : o->legacy_address ? "legacy_address"
							 : NULL;

		if (v1only) {
			fprintf(stderr,
				"bundlefs: %s is an option of the v1 shim; not with runtime=v2\n",
				v1only);
			return -1;
		}
	}
	return 0;
}

static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(dir, "/"))
		return true;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

/*
 * A mountpoint left by a crashed daemon answers ENOTCONN (or ECONNABORTED):
 * detach it so the new mount goes on the directory itself. statfs always
 * reaches the file system (stat may be answered from the kernel's cache for
 * a moment after the crash); mounts stacked by earlier attempts go too.
 */
static void clear_stale_mount(const char *mnt)
{
	struct statfs sfs;

	for (int i = 0; i < 16; i++) {
		if (statfs(mnt, &sfs) == 0 || (errno != ENOTCONN && errno != ECONNABORTED))
			return;
		if (umount2(mnt, MNT_DETACH) == 0)
			continue;
		if (errno != EPERM)
			return;
		pid_t pid = fork();

		if (pid == 0) {
			execlp("fusermount3", "fusermount3", "-u", "-z", "--", mnt, (char *)NULL);
			_exit(127);
		}
		if (pid < 0)
			return;
		int status;

		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			return;
	}
}

static int check_root_dir(const char *what, const char *path, const char *real_mnt, bool ro)
{
	char *real;
	int ret = 0;

	real = realpath(path, NULL);
	if (!real) {
		fprintf(stderr, "bundlefs: %s directory %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	if (path_within(real, real_mnt)) {
		fprintf(stderr, "bundlefs: %s directory %s is inside the mountpoint %s\n", what,
			path, real_mnt);
		ret = -1;
	} else if (access(real, ro ? (R_OK | X_OK) : (R_OK | W_OK | X_OK)) < 0) {
		fprintf(stderr, "bundlefs: %s directory %s: %s\n", what, path, strerror(errno));
		ret = -1;
	}
	free(real);
	return ret;
}

/* Everything main allocated, so that a sanitizer run ends without a report. */
static void bfs_free(struct bfs_opts *o, char *real_mnt)
{
	free(o->state);
	free(o->work);
	free(o->daemon_address);
	free(o->socket_root);
	free(o->runtime);
	free(o->runtime_root);
	free(o->criu);
	free(o->bundle_root);
	for (int i = 0; i < o->npositional; i++)
		free(o->positional[i]);
	if (bfs.mountpoint) {
		store_close(&bfs.st);
		free(bfs.daemon_address);
		free(bfs.socket_root);
		free(bfs.runtime_root);
		free(bfs.criu);
		free(bfs.bundle_root);
	}
	free(real_mnt);
	memset(&bfs, 0, sizeof(bfs));
}

static char *dup_or(const char *v, const char *dflt)
{
	return strdup(v ? v : dflt);
}

static void ovl_conf_init(void)
{
	bfs.ovl = (struct ovl_conf){
	    .st = &bfs.st,
	    .runtime = bfs.runtime,
	    .daemon_address = bfs.daemon_address,
	    .socket_root = bfs.socket_root,
	    .runtime_root = bfs.runtime_root,
	    .criu = bfs.criu,
	    .bundle_root = bfs.bundle_root,
	    .systemd_cgroup = bfs.systemd_cgroup,
	    .legacy_address = bfs.legacy_address,
	    .is_root = bfs.is_root,
	    .euid = bfs.euid,
	    .egid = bfs.egid,
	};
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct fuse_loop_config *loop = NULL;
	struct bfs_opts o = {.watch_limit = -1};
	struct fuse_session *se = NULL;
	char *real_mnt = NULL;
	enum ovl_runtime runtime;
	bool embedded = false;
	struct stat root;
	int ret = 1;

	umask(0); /* modes come from the caller (the kernel applied its umask) */
	if (fuse_opt_parse(&args, &o, bfs_opt_spec, opt_proc) < 0)
		goto out;
	/* [STATE_DIR] MOUNTPOINT: the source is the state dir ("none" is no source,
	 * as fstab lines write it). */
	if (o.npositional == 2 && strcmp(o.positional[0], "none")) {
		if (o.state && strcmp(o.state, o.positional[0])) {
			fprintf(stderr, "bundlefs: state given twice (%s and %s)\n",
				o.positional[0], o.state);
			goto out;
		}
		free(o.state);
		o.state = strdup(o.positional[0]);
	}
	if (o.npositional)
		fuse_opt_add_arg(&args, o.positional[o.npositional - 1]);
	if (fuse_parse_cmdline(&args, &cmd) != 0)
		goto out;
	if (cmd.show_version) {
		printf("bundlefs version %s\nFUSE library version %s\n", BUNDLEFS_VERSION,
		       fuse_pkgversion());
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	if (cmd.show_help) {
		usage(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		ret = 0;
		goto out;
	}
	if (!cmd.mountpoint) {
		fprintf(stderr, "bundlefs: no mountpoint given (see %s --help)\n", argv[0]);
		goto out;
	}
	if (decide_runtime(&o, &runtime) < 0)
		goto out;
	if (!o.state && !o.work) {
		if (default_store(&o, runtime, o.runtime != NULL) < 0)
			goto out;
		embedded = true;
	} else if (!o.state || !o.work) {
		fprintf(stderr, "bundlefs: state= and work= go together (%s= is missing)\n",
			o.state ? "work" : "state");
		goto out;
	}
	if (cmd.debug)
		blog_set_debug(1);

	clear_stale_mount(cmd.mountpoint);
	real_mnt = realpath(cmd.mountpoint, NULL);
	if (!real_mnt) {
		fprintf(stderr, "bundlefs: mountpoint %s: %s\n", cmd.mountpoint, strerror(errno));
		goto out;
	}
	if (embedded && store_open(&bfs.st, o.state, o.work, true) == 0)
		store_close(&bfs.st);
	if (check_root_dir("state", o.state, real_mnt, o.ro) < 0 ||
	    check_root_dir("work", o.work, real_mnt, o.ro) < 0)
		goto out;
	ret = store_open(&bfs.st, o.state, o.work, false);
	if (ret < 0) {
		fprintf(stderr, "bundlefs: cannot open the backing store: %s\n", strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = 1;
	bfs.mountpoint = real_mnt;
	bfs.daemon_address = dup_or(o.daemon_address, "/run/containerd/containerd.sock");
	bfs.socket_root = dup_or(o.socket_root, "/run/containerd");
	bfs.runtime_root = dup_or(o.runtime_root, "");
	bfs.criu = dup_or(o.criu, "");
	bfs.bundle_root = o.bundle_root ? gopath_clean(o.bundle_root) : strdup(bfs.st.state_path);
	bfs.systemd_cgroup = o.systemd_cgroup;
	bfs.legacy_address = o.legacy_address;
	bfs.ro = o.ro;
	bfs.is_root = geteuid() == 0;
	bfs.euid = geteuid();
	bfs.egid = getegid();
	bfs.runtime = runtime;
	ovl_conf_init();
	if (fstat(bfs.st.state_fd, &root) < 0 || nodes_init(&root) < 0) {
		fprintf(stderr, "bundlefs: cannot set up: %s\n", strerror(errno));
		goto out;
	}
	watch_init(o.watch_limit);

	/* Every check is made by the kernel against the mode bits we report. */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	se = fuse_session_new(&args, &bfs_ll_ops, sizeof(bfs_ll_ops), NULL);
	if (!se)
		goto out;
	bfs.se = se;
	if (!bfs.ro) {
		int n = tree_sweep(bfs.st.state_fd, bfs.st.work_fd);

		if (n > 0)
			blog(BLOG_INFO, "removed %d leftovers of interrupted operations", n);
	}
	if (fuse_session_mount(se, cmd.mountpoint) != 0)
		goto out_destroy;
	if (fuse_daemonize(cmd.foreground) != 0)
		goto out_unmount;
	if (!cmd.foreground) {
		openlog("bundlefs", LOG_PID, LOG_DAEMON);
		blog_set_sink(syslog_sink);
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_unmount;
	/* A thread of its own, after daemonizing (the fork keeps no threads). */
	watch_start(se);
	if (cmd.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, cmd.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, cmd.max_threads);
		if (cmd.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop, cmd.max_idle_threads);
		ret = fuse_session_loop_mt(se, loop);
	}
	ret = ret ? 1 : 0;
	fuse_remove_signal_handlers(se);
out_unmount:
	fuse_session_unmount(se);
out_destroy:
	/*
	 * The watcher sends notifications on the session: joined before it goes.
	 * Still blocked in one (the kernel waits for a reply the stopped loop
	 * never sends): leave everything as it is; the exit closes /dev/fuse,
	 * which ends the wait.
	 */
	if (watch_stop() < 0) {
		blog(BLOG_WARNING, "the watcher did not stop: exiting without clean-up");
		_exit(ret);
	}
	fuse_session_destroy(se);
out:
	watch_stop();
	watch_close();
	nodes_free_all();
	if (loop)
		fuse_loop_cfg_destroy(loop);
	free(cmd.mountpoint);
	fuse_opt_free_args(&args);
	bfs_free(&o, real_mnt);
	return ret;
}
