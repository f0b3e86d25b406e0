/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line (SPEC 2): bundlefs's options, libfuse's, and the way
 * mount(8) and mount.fuse3 pass them; see opts.h. Whatever is refused here
 * is refused with one line on stderr before anything is mounted.
 *
 * The mount as mount(8), findmnt and df see it: type fuse.bundlefs
 * (subtype), nosuid,nodev unless dev or suid (allow_dev, allow_suid) is
 * asked for, whichever way it was started.
 */
#include "opts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gopath.h"
#include "log.h"

enum { KEY_RO, KEY_DEV, KEY_NODEV, KEY_SUID, KEY_NOSUID };

#define OPT(t, m)                                                                                  \
	{                                                                                          \
		t, offsetof(struct bfs_opts, m), 1                                                 \
	}

static const struct fuse_opt bfs_opt_spec[] = {
    OPT("state=%s", conf.state),
    OPT("work=%s", conf.work),
    OPT("daemon_address=%s", conf.daemon_address),
    OPT("socket_root=%s", conf.socket_root),
    OPT("runtime=%s", runtime),
    OPT("runtime_root=%s", conf.runtime_root),
    OPT("criu=%s", conf.criu),
    OPT("bundle_root=%s", conf.bundle_root),
    OPT("systemd_cgroup", systemd_cgroup),
    OPT("legacy_address", legacy_address),
    OPT("watch_limit=%ld", watch_limit),
    OPT("nouring", nouring),
    OPT("node", node),
    OPT("containerd_root=%s", containerd_root),
    FUSE_OPT_KEY("ro", KEY_RO),
    /*
     * mount(8) takes dev and suid for its own defaults and passes neither to
     * a helper; allow_dev and allow_suid reach the daemon through it.
     */
    FUSE_OPT_KEY("dev", KEY_DEV),
    FUSE_OPT_KEY("allow_dev", KEY_DEV),
    FUSE_OPT_KEY("nodev", KEY_NODEV),
    FUSE_OPT_KEY("suid", KEY_SUID),
    FUSE_OPT_KEY("allow_suid", KEY_SUID),
    FUSE_OPT_KEY("nosuid", KEY_NOSUID),
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
	case KEY_DEV:
	case KEY_NODEV:
		o->dev = key == KEY_DEV;
		return 0; /* given to libfuse once parsing is over */
	case KEY_SUID:
	case KEY_NOSUID:
		o->suid = key == KEY_SUID;
		return 0;
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
	    "usage: %s [STATE_DIR] MOUNTPOINT [options]\n"
	    "       %s [CONTAINERD_STATE] MOUNTPOINT -o node[,options]\n\n"
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
	    "    -o nouring             never FUSE over io_uring (used when the kernel offers\n"
	    "                           it: the fuse module's enable_uring parameter)\n"
	    "    -o dev, -o suid        device nodes and set-user/group-ID bits take effect\n"
	    "                           on the mount (default: nodev,nosuid)\n"
	    "    -o allow_dev, -o allow_suid\n"
	    "                           the same through mount(8) and fstab, which pass\n"
	    "                           no dev or suid option on to any helper\n"
	    "Without state= and work=, the embedded default store is used, below\n"
	    "/var/lib/bundlefs as root, else $XDG_DATA_HOME/bundlefs or\n"
	    "$HOME/.local/share/bundlefs (XDG_DATA_HOME unset or empty):\n"
	    "    v2/{state,work}        runtime v2 (the default)\n"
	    "    {state,work}           runtime=v1 (the default store of bundlefs before v2\n"
	    "                           became the default: mount it with -o runtime=v1)\n"
	    "The mount's source is the state directory, its type fuse.bundlefs.\n\n"
	    "The node view (-o node): one mount over a whole containerd node.\n"
	    "    -o node                serve the node view: a directory per runtime plugin of\n"
	    "                           CONTAINERD_STATE (default /run/containerd), pods/ and "
	    "leaks\n"
	    "    -o containerd_root=DIR containerd's root directory (default /var/lib/containerd)\n"
	    "With node, state=, work=, runtime= and bundle_root= are refused; socket_root\n"
	    "defaults to CONTAINERD_STATE and daemon_address to CONTAINERD_STATE/containerd.sock;\n"
	    "the v1-only options apply to the io.containerd.runtime.v1.linux subtree.\n\n",
	    prog, prog);
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
static int default_store(struct bfs_opts *o, enum bundle_runtime rt, bool explicit)
{
	const char *sub = rt == RUNTIME_V2 ? "/v2" : "";
	const char *base, *home;
	char buf[4096], *state, *work;

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
	if (asprintf(&state, "%s%s/state", base, sub) < 0)
		return -1;
	o->conf.state = state;
	if (asprintf(&work, "%s%s/work", base, sub) < 0)
		return -1;
	o->conf.work = work;
	if (rt == RUNTIME_V2 && !explicit)
		note_v1_default_store(base);
	return 0;
}

/*
 * SPEC 2: the runtime, from the state dir's name when it is one of
 * containerd's plugin directories (an explicit runtime= must agree), else
 * from runtime=, else v2 (the only runtime of containerd 2.x); the v1 shim's
 * options are refused with v2.
 */
static int decide_runtime(const struct bfs_opts *o, enum bundle_runtime *rt)
{
	int named = o->conf.state ? conf_runtime_of(o->conf.state) : -ENOENT;

	if (named == -ENOMEM)
		return -1;
	*rt = named >= 0 ? (enum bundle_runtime)named : RUNTIME_V2;
	if (o->runtime) {
		enum bundle_runtime want;

		if (!strcmp(o->runtime, "v1")) {
			want = RUNTIME_V1;
		} else if (!strcmp(o->runtime, "v2")) {
			want = RUNTIME_V2;
		} else {
			fprintf(stderr, "bundlefs: runtime=%s: not v1 or v2\n", o->runtime);
			return -1;
		}
		if (named >= 0 && (enum bundle_runtime)named != want) {
			fprintf(stderr, "bundlefs: runtime=%s contradicts the state directory %s\n",
				o->runtime, named == RUNTIME_V1 ? CONF_V1_PLUGIN : CONF_V2_PLUGIN);
			return -1;
		}
		*rt = want;
	}
	if (*rt == RUNTIME_V2) {
		const char *v1only = o->conf.runtime_root ? "runtime_root"
				     : o->conf.criu	  ? "criu"
				     : o->systemd_cgroup  ? "systemd_cgroup"
				     : o->legacy_address  ? "legacy_address"
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

/*
 * mount.fuse3 (mount -t fuse.bundlefs) runs us as "/bin/sh -c CMD", CMD being
 * every argument in single quotes ('\'' for a quote) joined by spaces, and
 * appends "dev" to the options unless they hold "nodev", then "suid" unless
 * they hold "nosuid": mount(8)'s defaults, added whether or not anyone asked
 * (mount(8) passes neither to a helper). Whether @argv came that way: the
 * parent is that shell with exactly our command line, or, where the shell
 * replaced itself with us, mount(8), which runs nothing but mount.<type>
 * helpers (mount.bundlefs forks and waits: its children have it as parent).
 */
static bool run_by_mount_fuse(int argc, char *argv[])
{
	char path[64], buf[65536], *cmd = NULL;
	bool ret = false;
	size_t cap = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)getppid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n == 6 && !memcmp(buf, "mount\n", 6))
			return true;
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)getppid());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* shell NUL "-c" NUL CMD NUL, and nothing after it */
	const char *c = buf + strlen(buf) + 1;

	if (c >= buf + n || strcmp(c, "-c"))
		return false;
	c += 3;
	if (c >= buf + n || c + strlen(c) + 1 != buf + n)
		return false;
	FILE *f = open_memstream(&cmd, &cap);

	if (!f)
		return false;
	for (int i = 0; i < argc; i++) {
		fputs(i ? " '" : "'", f);
		for (const char *a = argv[i]; *a; a++) {
			if (*a == '\'')
				fputs("'\\''", f);
			else
				fputc(*a, f);
		}
		fputc('\'', f);
	}
	if (fclose(f) == 0)
		ret = !strcmp(cmd, c);
	free(cmd);
	return ret;
}

/* Whether the comma-separated option at @p is @name. */
static bool opt_is(const char *p, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0');
}

/*
 * Drop the "dev" and "suid" that mount.fuse3 appended to @opts (see
 * run_by_mount_fuse), so that its mounts get the nodev,nosuid default of
 * every other way of mounting; a dev or suid given before them stays.
 * @opts is modified; returns false when nothing is left of it.
 */
static bool drop_mount_fuse_defaults(char *opts)
{
	const char *added[2];
	bool nodev = false, nosuid = false;
	int n = 0, nadded = 0;
	char *opt[64];

	for (char *p = opts;; p++) {
		if (n == 64)
			return true; /* more than mount.fuse3 is ever given: leave it */
		opt[n++] = p;
		nodev |= opt_is(p, "nodev");
		nosuid |= opt_is(p, "nosuid");
		p += strcspn(p, ",");
		if (!*p)
			break;
	}
	if (!nodev)
		added[nadded++] = "dev";
	if (!nosuid)
		added[nadded++] = "suid";
	if (nadded == 0 || nadded > n)
		return true; /* nothing appended (nodev and nosuid given), or not by it */
	for (int i = 0; i < nadded; i++)
		if (!opt_is(opt[n - nadded + i], added[i]))
			return true; /* not what mount.fuse3 appends: leave it */
	if (nadded == n)
		return false;
	opt[n - nadded][-1] = '\0';
	return true;
}

/*
 * SPEC 8.1: the node view's options. C_S is the source (default
 * /run/containerd), C_R containerd_root= (default /var/lib/containerd);
 * what names a single store contradicts it. 0, or -1 after one line on
 * stderr.
 */
static int node_options(struct bfs_opts *o)
{
	const char *cs = o->npositional == 2 && strcmp(o->positional[0], "none")
			     ? o->positional[0]
			     : "/run/containerd";
	const char *bad = o->conf.state		? "state="
			  : o->conf.work	? "work="
			  : o->runtime		? "runtime="
			  : o->conf.bundle_root ? "bundle_root="
						: NULL;

	if (bad) {
		fprintf(stderr,
			"bundlefs: %s contradicts -o node (each runtime plugin of the node is a "
			"store of its own)\n",
			bad);
		return -1;
	}
	o->conf.state = strdup(cs);
	o->conf.work = strdup(o->containerd_root ? o->containerd_root : "/var/lib/containerd");
	if (!o->conf.socket_root)
		o->conf.socket_root = strdup(cs);
	if (!o->conf.daemon_address)
		o->conf.daemon_address = gopath_join((const char *[]){cs, "containerd.sock"}, 2);
	if (!o->conf.state || !o->conf.work || !o->conf.socket_root || !o->conf.daemon_address) {
		fprintf(stderr, "bundlefs: out of memory\n");
		return -1;
	}
	o->conf.runtime = RUNTIME_V2;
	o->conf.systemd_cgroup = o->systemd_cgroup;
	o->conf.legacy_address = o->legacy_address;
	return 0;
}

int opts_parse(int argc, char *argv[], struct bfs_opts *o)
{
	o->watch_limit = -1;
	/* mount.fuse3 puts "-o OPTIONS" last (see run_by_mount_fuse). */
	if (argc >= 3 && !strcmp(argv[argc - 2], "-o") && run_by_mount_fuse(argc, argv)) {
		o->av = calloc((size_t)argc + 1, sizeof(*o->av));
		o->fuse3_opts = strdup(argv[argc - 1]);
		if (!o->av || !o->fuse3_opts) {
			fprintf(stderr, "bundlefs: out of memory\n");
			return -1;
		}
		memcpy(o->av, argv, (size_t)argc * sizeof(*o->av));
		if (drop_mount_fuse_defaults(o->fuse3_opts))
			o->av[argc - 1] = o->fuse3_opts;
		else
			argc -= 2;
		o->av[argc] = NULL;
		argv = o->av;
	}
	o->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(&o->args, o, bfs_opt_spec, opt_proc) < 0)
		return -1;
	/*
	 * nosuid,nodev unless asked otherwise (bundlefs(8), THE MOUNT): a
	 * set-user-ID file or a device node that a container writes into its
	 * bundle must not become usable through the mount. libfuse's default
	 * too, but said here.
	 */
	if (fuse_opt_add_arg(&o->args, o->dev ? "-odev" : "-onodev") < 0 ||
	    fuse_opt_add_arg(&o->args, o->suid ? "-osuid" : "-onosuid") < 0)
		return -1;
	/*
	 * Type fuse.bundlefs whatever the program's name (libfuse would take
	 * its basename); before the caller's options, so a subtype= there wins.
	 */
	if (fuse_opt_insert_arg(&o->args, 1, "-osubtype=bundlefs") < 0)
		return -1;
	/* [STATE_DIR] MOUNTPOINT: the source is the state dir ("none" is no source,
	 * as fstab lines write it). */
	if (o->npositional == 2 && strcmp(o->positional[0], "none") && !o->node) {
		if (o->conf.state && strcmp(o->conf.state, o->positional[0])) {
			fprintf(stderr, "bundlefs: state given twice (%s and %s)\n",
				o->positional[0], o->conf.state);
			return -1;
		}
		free((char *)o->conf.state);
		o->conf.state = strdup(o->positional[0]);
	}
	if (o->npositional)
		fuse_opt_add_arg(&o->args, o->positional[o->npositional - 1]);
	if (fuse_parse_cmdline(&o->args, &o->cmd) != 0)
		return -1;
	if (o->cmd.show_version) {
		/*
		 * Not fuse_lowlevel_version(): it runs "fusermount3 --version",
		 * whose line reaches a pipe before anything buffered here.
		 */
		printf("bundlefs version %s\nFUSE library version %s\n", BUNDLEFS_VERSION,
		       fuse_pkgversion());
		return 1;
	}
	if (o->cmd.show_help) {
		usage(argv[0]);
		printf("FUSE options:\n");
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 1;
	}
	if (!o->cmd.mountpoint) {
		fprintf(stderr, "bundlefs: no mountpoint given (see %s --help)\n", argv[0]);
		return -1;
	}
	if (o->node)
		return node_options(o);
	if (o->containerd_root) {
		fprintf(stderr,
			"bundlefs: containerd_root= is an option of the node view (-o node)\n");
		return -1;
	}
	if (decide_runtime(o, &o->conf.runtime) < 0)
		return -1;
	if (!o->conf.state && !o->conf.work) {
		if (default_store(o, o->conf.runtime, o->runtime != NULL) < 0)
			return -1;
		o->embedded = true;
	} else if (!o->conf.state || !o->conf.work) {
		fprintf(stderr, "bundlefs: state= and work= go together (%s= is missing)\n",
			o->conf.state ? "work" : "state");
		return -1;
	}
	o->conf.systemd_cgroup = o->systemd_cgroup;
	o->conf.legacy_address = o->legacy_address;
	return 0;
}

void opts_free(struct bfs_opts *o)
{
	free((char *)o->conf.state);
	free((char *)o->conf.work);
	free((char *)o->conf.daemon_address);
	free((char *)o->conf.socket_root);
	free((char *)o->conf.runtime_root);
	free((char *)o->conf.criu);
	free((char *)o->conf.bundle_root);
	free(o->runtime);
	free(o->containerd_root);
	for (int i = 0; i < o->npositional; i++)
		free(o->positional[i]);
	free(o->cmd.mountpoint);
	fuse_opt_free_args(&o->args);
	free(o->av);
	free(o->fuse3_opts);
}
