/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status (SPEC 4.9): complete, shim, init and stale of one bundle, read from
 * the bundle, the shim's socket, /proc and runc's state.json. Read-only
 * everywhere: files are opened for reading (or O_PATH), the socket is
 * connected and closed without a byte sent.
 */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "addr.h"
#include "gojson.h"
#include "gopath.h"
#include "shimproc.h"
#include "store.h"

/* runc's state.json embeds the whole container config: be generous. */
#define STATUS_STATE_MAX_BYTES (16u << 20)
#define STATUS_EAGAIN_SLEEP_MS 2

/* shim.listening's three values, in the order ts_text names them. */
#define TS_NULL STATUS_LISTEN_NULL
#define TS_FALSE STATUS_LISTEN_FALSE
#define TS_TRUE STATUS_LISTEN_TRUE

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Connect a non-blocking stream socket to sa within timeout_ms; true on
 * success. A full backlog (EAGAIN) is retried with short sleeps until the
 * deadline; EINPROGRESS is polled for writability, then SO_ERROR decides.
 */
static bool status_connect(const struct sockaddr_un *sa, socklen_t salen, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms, left;
	bool ok = false;
	int fd, err;
	socklen_t errlen = sizeof(err);
	struct pollfd pfd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, salen) == 0) {
			ok = true;
			break;
		}
		if (errno == EINTR)
			continue;
		left = deadline - now_ms();
		if (errno == EAGAIN) {
			if (left <= 0)
				break;
			poll(NULL, 0,
			     (int)(left < STATUS_EAGAIN_SLEEP_MS ? left : STATUS_EAGAIN_SLEEP_MS));
			continue;
		}
		if (errno != EINPROGRESS)
			break;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		while (left > 0) {
			int n = poll(&pfd, 1, (int)left);

			if (n > 0) {
				ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 &&
				     err == 0;
				break;
			}
			if (n < 0 && errno != EINTR)
				break;
			left = deadline - now_ms();
		}
		break;
	}
	close(fd);
	return ok;
}

/*
 * The unix socket <socket_root>/s/<name>: opened O_PATH|O_NOFOLLOW below the
 * socket directory so that a symlink there is never followed, then connected
 * through /proc/self/fd/N (which names that very inode, whatever its path's
 * length). Missing or not a socket: false, nothing connected.
 */
static bool status_listening_unix(const char *socket_root, const char *name, int timeout_ms,
				  struct stat *file)
{
	const char *elem[] = {socket_root, "s"};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	char *dir;
	int dfd, fd;
	bool ok = false;

	dir = gopath_join(elem, 2);
	if (dir == NULL)
		return false;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return false;
	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return false;
	if (fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode)) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", fd);
		ok = status_connect(&sa, (socklen_t)sizeof(sa), timeout_ms);
		if (file != NULL)
			*file = sb;
	}
	close(fd);
	return ok;
}

/* containerd's dial of a legacy address: the abstract socket "\0" + address. */
static bool status_listening_abstract(const char *address, size_t len, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memcpy(sa.sun_path + 1, address, len);
	/* Go counts no trailing NUL for an abstract name. */
	return status_connect(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len),
			      timeout_ms);
}

/*
 * The paths /proc/net/unix shows for the socket status dialed (shimproc.h):
 * the path as the address spells it and as Clean spells it (a shim binds the
 * path its address names), or "@" + the legacy abstract name. malloc'd.
 * For a path, the socket file that was connected to (file_known): the
 * socket bound at it is the one that listens.
 */
struct status_bound {
	char *paths[2];
	size_t n;
	bool file_known;
	struct stat file;
};

static void status_bound_free(struct status_bound *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->paths[i]);
	b->n = 0;
}

static int status_bound_add(struct status_bound *b, const char *prefix, const char *s, size_t len)
{
	char *p;

	if (asprintf(&p, "%s%.*s", prefix, (int)len, s) < 0)
		return -ENOMEM;
	b->paths[b->n++] = p;
	return 0;
}

/*
 * status_unix_listening, with the socket's NAME in <socket_root>/s/ into
 * name when the address names one.
 */
static int unix_listening(const char *address, size_t len, const char *socket_root, int timeout_ms,
			  enum status_listen *res, char *name, size_t namesz, struct stat *file)
{
	size_t sun_path_max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int ret;

	*res = TS_NULL;
	/* Go's net.Dial refuses a path longer than sun_path (108 bytes, no NUL needed). */
	if (address == NULL || len > sizeof("unix://") - 1 + sun_path_max)
		return 0;
	ret = addr_socket_name(address, len, socket_root, name, namesz);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0)
		return 0;
	*res = status_listening_unix(socket_root, name, timeout_ms, file) ? TS_TRUE : TS_FALSE;
	return 0;
}

int status_unix_listening(const char *address, size_t len, const char *socket_root, int timeout_ms,
			  enum status_listen *res)
{
	char name[256];

	return unix_listening(address, len, socket_root,
			      timeout_ms > 0 ? timeout_ms : STATUS_CONNECT_TIMEOUT_MS, res, name,
			      sizeof(name), NULL);
}

static int status_listening(const struct status_input *in, int timeout_ms, enum status_listen *res,
			    struct status_bound *bound)
{
	size_t sun_path_max = sizeof(((struct sockaddr_un *)0)->sun_path);
	char name[256];
	const char *clean_elem[] = {in->socket_root, "s", name};
	char *legacy, *clean;
	bool is_legacy;
	int ret;

	*res = TS_NULL;
	if (in->address == NULL)
		return 0;
	if (in->legacy_address && in->ns != NULL && in->id != NULL) {
		legacy = addr_legacy(in->ns, in->id);
		if (legacy == NULL)
			return -ENOMEM;
		is_legacy = strlen(legacy) == in->address_len &&
			    memcmp(legacy, in->address, in->address_len) == 0;
		free(legacy);
		/* Go's net.Dial refuses a name longer than sun_path. */
		if (is_legacy && in->address_len + 1 <= sun_path_max) {
			*res = status_listening_abstract(in->address, in->address_len, timeout_ms)
				   ? TS_TRUE
				   : TS_FALSE;
			if (*res != TS_TRUE)
				return 0;
			return status_bound_add(bound, "@", in->address, in->address_len);
		}
	}
	ret = unix_listening(in->address, in->address_len, in->socket_root, timeout_ms, res, name,
			     sizeof(name), &bound->file);
	if (ret < 0 || *res != TS_TRUE)
		return ret;
	bound->file_known = true;
	/* addr_socket_name found no NUL in the address. */
	ret = status_bound_add(bound, "", in->address + sizeof("unix://") - 1,
			       in->address_len - (sizeof("unix://") - 1));
	if (ret < 0)
		return ret;
	clean = gopath_join(clean_elem, 3);
	if (clean == NULL)
		return -ENOMEM;
	ret = status_bound_add(bound, "", clean, strlen(clean));
	free(clean);
	return ret;
}

/*
 * strconv.Atoi on the whole text (an optional sign, then decimal digits, no
 * white space), restricted to 1..INT32_MAX, fed in pieces: Atoi takes any
 * number of leading zeros, so no length of the file alone makes it malformed.
 */
struct status_atoi {
	uint64_t v;
	size_t n; /* bytes seen */
	bool neg, bad, digits;
};

static void status_atoi_feed(struct status_atoi *a, const char *s, size_t len)
{
	for (size_t i = 0; i < len && !a->bad; i++, a->n++) {
		if (a->n == 0 && (s[i] == '+' || s[i] == '-')) {
			a->neg = s[i] == '-';
			continue;
		}
		if (s[i] < '0' || s[i] > '9') {
			a->bad = true;
			break;
		}
		a->digits = true;
		a->v = a->v * 10 + (uint64_t)(s[i] - '0');
		if (a->v > INT32_MAX)
			a->bad = true;
	}
}

/* The pid, or 0 when the text is no such pid. */
static int32_t status_atoi_end(const struct status_atoi *a)
{
	return a->bad || !a->digits || a->neg ? 0 : (int32_t)a->v;
}

/*
 * The pid in the regular file bundle_fd/name (never through a symlink, a
 * FIFO opened without waiting); 0 when there is none. Read to EOF in pieces.
 * *stored (when not NULL): such a regular file exists, valid or not.
 */
static int status_read_pid(int bundle_fd, const char *name, int32_t *pid, bool *stored)
{
	struct status_atoi a = {0};
	struct stat sb;
	char buf[4096];
	ssize_t n;
	int fd;

	*pid = 0;
	if (stored != NULL)
		*stored = false;
	fd = store_open_beneath(bundle_fd, name, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		goto out;
	if (stored != NULL)
		*stored = true;
	while (!a.bad) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		status_atoi_feed(&a, buf, (size_t)n);
	}
	*pid = status_atoi_end(&a);
out:
	close(fd);
	return 0;
}

/*
 * Whether /proc/<pid>/stat shows a live process (state neither Z nor X), and
 * its start time (field 22). The state follows the last ')': comm may hold
 * anything, ')' and spaces included.
 */
static bool status_proc(int32_t pid, unsigned long long *start)
{
	char path[64], buf[1024], *p, *end;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%" PRId32 "/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return false;
	p += 2;
	if (*p == 'Z' || *p == 'X' || *p == 'x')
		return false;
	/* p is field 3; skip to field 22. */
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return false;
		p++;
	}
	errno = 0;
	*start = strtoull(p, &end, 10);
	return end != p && errno == 0 && (*end == ' ' || *end == '\n' || *end == '\0');
}

/*
 * runc's init_process_start from the state file at path (last component
 * opened O_NOFOLLOW; a regular file holding a JSON object, as Go would
 * accept it). -ENOENT when it is missing, unreadable or malformed.
 */
static int status_runc_start(const char *path, unsigned long long *start)
{
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *v;
	char *buf = NULL, *dir;
	const char *slash;
	size_t len;
	int dfd, ret;

	if (path == NULL || path[0] != '/')
		return -ENOENT;
	/*
	 * The directory is configuration (runc's root) and is reached as given;
	 * only the last component is opened without following a symlink.
	 */
	slash = strrchr(path, '/');
	dir = strndup(path, (size_t)(slash - path) + 1);
	if (dir == NULL)
		return -ENOMEM;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dfd < 0)
		return -ENOENT;
	ret = store_read_regular(dfd, slash + 1, STATUS_STATE_MAX_BYTES, &buf, &len);
	close(dfd);
	if (ret < 0)
		return ret == -ENOMEM ? ret : -ENOENT;

	ret = -ENOENT;
	if (gojson_check(buf, len, NULL, 0) < 0)
		goto out;
	tok = json_tokener_new_ex(GOJSON_MAX_DEPTH);
	if (tok == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "init_process_start", &v) ||
	    !json_object_is_type(v, json_type_int))
		goto out;
	/* json-c keeps integers up to UINT64_MAX; a negative one is no start time. */
	if (json_object_get_int64(v) < 0)
		goto out;
	*start = (unsigned long long)json_object_get_uint64(v);
	ret = 0;
out:
	json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	free(buf);
	return ret;
}

static int status_running(const struct status_input *in, int32_t pid, bool *running)
{
	unsigned long long proc_start = 0, runc_start = 0;
	int ret;

	*running = false;
	if (pid <= 0 || !status_proc(pid, &proc_start))
		return 0;
	ret = status_runc_start(in->runc_state, &runc_start);
	if (ret == -ENOMEM)
		return ret;
	*running = ret < 0 || runc_start == proc_start;
	return 0;
}

static bool status_complete(int bundle_fd)
{
	struct stat sb;
	int fd;

	fd = store_open_beneath(bundle_fd, "config.json", O_PATH, 0);
	if (fd < 0)
		return false;
	if (fstat(fd, &sb) < 0)
		sb.st_mode = 0;
	close(fd);
	return S_ISREG(sb.st_mode);
}

/*
 * Whether the bundle directory was last modified more than
 * STATUS_MAKING_S seconds ago (CLOCK_REALTIME, as the kernel stamps it): an
 * incomplete bundle modified since then may still be being made.
 */
static bool status_old(int bundle_fd)
{
	struct timespec now;
	struct stat sb;
	int64_t age_ns;

	if (fstat(bundle_fd, &sb) < 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
		return false;
	age_ns = ((int64_t)now.tv_sec - (int64_t)sb.st_mtim.tv_sec) * 1000000000 +
		 (now.tv_nsec - sb.st_mtim.tv_nsec);
	return age_ns > (int64_t)STATUS_MAKING_S * 1000000000;
}

int status_stale(const struct status_input *in, bool *stale)
{
	int timeout_ms =
	    in->connect_timeout_ms > 0 ? in->connect_timeout_ms : STATUS_CONNECT_TIMEOUT_MS;
	struct status_bound bound = {.n = 0};
	enum status_listen listening = TS_NULL;
	int32_t init_pid = 0;
	bool running = false;
	int ret;

	*stale = false;
	ret = status_listening(in, timeout_ms, &listening, &bound);
	status_bound_free(&bound);
	if (ret < 0 || listening == TS_TRUE)
		return ret;
	ret = status_read_pid(in->bundle_fd, "init.pid", &init_pid, NULL);
	if (ret == 0)
		ret = status_running(in, init_pid, &running);
	if (ret < 0)
		return ret;
	*stale = !running && (status_complete(in->bundle_fd) || status_old(in->bundle_fd));
	return 0;
}

static char *status_put_pid(char *p, int32_t pid)
{
	if (pid <= 0)
		return p + sprintf(p, "null");
	return p + sprintf(p, "%" PRId32, pid);
}

int status_render(const struct status_input *in, char **out, size_t *len)
{
	static const char *const ts_text[] = {"null", "false", "true"};
	int timeout_ms =
	    in->connect_timeout_ms > 0 ? in->connect_timeout_ms : STATUS_CONNECT_TIMEOUT_MS;
	struct status_bound bound = {.n = 0};
	enum status_listen listening = TS_NULL;
	int32_t shim_pid = 0, init_pid = 0;
	bool complete, shim_pid_stored = false, running = false, stale;
	char *text, *p;
	size_t max;
	int ret;

	*out = NULL;
	complete = status_complete(in->bundle_fd);
	ret = status_listening(in, timeout_ms, &listening, &bound);
	if (ret == 0)
		ret = status_read_pid(in->bundle_fd, "shim.pid", &shim_pid, &shim_pid_stored);
	/* No pid file (the v2 shim writes none): the holder of the listening socket. */
	if (ret == 0 && !shim_pid_stored && listening == TS_TRUE)
		ret = shimproc_listener((const char *const *)bound.paths, bound.n,
					bound.file_known ? &bound.file : NULL, &shim_pid);
	status_bound_free(&bound);
	if (ret == 0)
		ret = status_read_pid(in->bundle_fd, "init.pid", &init_pid, NULL);
	if (ret == 0)
		ret = status_running(in, init_pid, &running);
	if (ret < 0)
		return ret;
	stale = listening != TS_TRUE && !running && (complete || status_old(in->bundle_fd));

	max = sizeof("{\"complete\":false,\"shim\":{\"address\":,\"listening\":false,\"pid\":"
		     "-2147483648},\"init\":{\"pid\":-2147483648,\"running\":false},"
		     "\"stale\":false}\n") +
	      gojson_string_max(in->address ? in->address_len : 0);
	text = malloc(max);
	if (text == NULL)
		return -ENOMEM;
	p = text +
	    sprintf(text, "{\"complete\":%s,\"shim\":{\"address\":", complete ? "true" : "false");
	p = gojson_put_string(p, in->address ? in->address : "", in->address ? in->address_len : 0);
	p += sprintf(p, ",\"listening\":%s,\"pid\":", ts_text[listening]);
	p = status_put_pid(p, shim_pid);
	p += sprintf(p, "},\"init\":{\"pid\":");
	p = status_put_pid(p, init_pid);
	p += sprintf(p, ",\"running\":%s},\"stale\":%s}\n", running ? "true" : "false",
		     stale ? "true" : "false");
	*out = text;
	if (len != NULL)
		*len = (size_t)(p - text);
	return 0;
}
