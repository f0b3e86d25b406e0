// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of core/pods.c against core/pods.h (SPEC 8.3): the claims
 * decoded from CRI annotations and their corner cases, the link names
 * (collisions, the same id twice, names that clash), generations, and the
 * index kept on real bundle directories in a private temporary directory:
 * a rescan reads only the config.json files that changed, follows nothing,
 * forgets what went; and a scale run of 5,000 bundles in 1,000 pods.
 */
#include "pods.h"

#include "check.h"
#include "fsfixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spec.h"

#define V2 "io.containerd.runtime.v2.task"
#define V1 "io.containerd.runtime.v1.linux"
#define SB "io.containerd.sandbox.controller.v1.shim"

#define NS "\"io.kubernetes.cri.sandbox-namespace\""
#define NAME "\"io.kubernetes.cri.sandbox-name\""
#define UID "\"io.kubernetes.cri.sandbox-uid\""
#define TYPE "\"io.kubernetes.cri.container-type\""
#define CNAME "\"io.kubernetes.cri.container-name\""
#define POD3 NS ":\"default\"," NAME ":\"web\"," UID ":\"u1\""

static bool str_or_null_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* ---- claims ---- */

struct ccase {
	const char *in;
	enum pods_kind kind;
	const char *pod, *name;
};

static const struct ccase ccases[] = {
    /* the two types */
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\"}}", PODS_SANDBOX_KIND, "default_web_u1",
     NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"app\"}}", PODS_CONTAINER_KIND,
     "default_web_u1", "app"},
    /* a sandbox needs no container name, and ignores one */
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\"," CNAME ":\"x\"}}", PODS_SANDBOX_KIND,
     "default_web_u1", NULL},
    /* missing annotations */
    {"{\"ociVersion\":\"1.1.0\"}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" NS ":\"default\"," NAME ":\"web\"," TYPE ":\"sandbox\"}}", PODS_NONE,
     NULL, NULL},
    {"{\"annotations\":{" NS ":\"default\"," UID ":\"u1\"," TYPE ":\"sandbox\"}}", PODS_NONE, NULL,
     NULL},
    {"{\"annotations\":{" NAME ":\"web\"," UID ":\"u1\"," TYPE ":\"sandbox\"}}", PODS_NONE, NULL,
     NULL},
    {"{\"annotations\":{" POD3 "}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"}}", PODS_NONE, NULL, NULL},
    /* a value that is not a string: Go's decode fails, whichever name holds it */
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\"," UID ":1}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\",\"io.kubernetes.cri.image-name\":{}}}",
     PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":[\"sandbox\"]}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":true}}", PODS_NONE, NULL, NULL},
    /* other types, matched exactly */
    {"{\"annotations\":{" POD3 "," TYPE ":\"Sandbox\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"podsandbox\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\\u0000\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"\"}}", PODS_NONE, NULL, NULL},
    /* a repeated annotations key adds to the map; a later null empties it */
    {"{\"annotations\":{" NS ":\"default\"," NAME ":\"web\"},\"Annotations\":{" UID ":\"u1\"," TYPE
     ":\"sandbox\"}}",
     PODS_SANDBOX_KIND, "default_web_u1", NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\"},\"annotations\":null}", PODS_NONE, NULL,
     NULL},
    {"{\"annotations\":null,\"annotations\":{" POD3 "," TYPE ":\"sandbox\"}}", PODS_SANDBOX_KIND,
     "default_web_u1", NULL},
    /* a repeated name keeps its last value */
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"a\"," CNAME ":\"b\"}}",
     PODS_CONTAINER_KIND, "default_web_u1", "b"},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"a\"},\"annotations\":{" TYPE
     ":\"sandbox\"}}",
     PODS_SANDBOX_KIND, "default_web_u1", NULL},
    /* names that no directory entry can have */
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"a/b\"}}", PODS_NONE, NULL,
     NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"/\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\".\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"..\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"\"}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":null}}", PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"a\\u0000\"}}", PODS_NONE, NULL,
     NULL},
    {"{\"annotations\":{" NS ":\"default\"," NAME ":\"w/eb\"," UID ":\"u1\"," TYPE ":\"sandbox\"}}",
     PODS_NONE, NULL, NULL},
    {"{\"annotations\":{" NS ":\"default\"," NAME ":\"web\"," UID ":\"u\\u00001\"," TYPE
     ":\"sandbox\"}}",
     PODS_NONE, NULL, NULL},
    /* ... while "..." or a leading dot are names like any other */
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"...\"}}", PODS_CONTAINER_KIND,
     "default_web_u1", "..."},
    {"{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\".app\"}}", PODS_CONTAINER_KIND,
     "default_web_u1", ".app"},
    /* a null pod annotation is the empty string, as in Go: still a pod name */
    {"{\"annotations\":{" NS ":null," NAME ":\"web\"," UID ":\"u1\"," TYPE ":\"sandbox\"}}",
     PODS_SANDBOX_KIND, "_web_u1", NULL},
    {"{\"annotations\":{" NS ":\"\"," NAME ":\"\"," UID ":\"\"," TYPE ":\"sandbox\"}}",
     PODS_SANDBOX_KIND, "__", NULL},
    /* the key folds, the names do not; values are unquoted */
    {"{\"ANNOTATIONS\":{" POD3 "," TYPE ":\"sandbox\"}}", PODS_SANDBOX_KIND, "default_web_u1",
     NULL},
    {"{\"annotations\":{" POD3 ",\"io.kubernetes.cri.Container-type\":\"sandbox\"}}", PODS_NONE,
     NULL, NULL},
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\"," NAME ":\"w\\u00e9b\"}}", PODS_SANDBOX_KIND,
     "default_w\xc3\xa9"
     "b_u1",
     NULL},
    /* not JSON, not an object */
    {"{\"annotations\":{" POD3 "," TYPE ":\"sandbox\"}", PODS_NONE, NULL, NULL},
    {"[]", PODS_NONE, NULL, NULL},
    {"null", PODS_NONE, NULL, NULL},
};

static void test_claims(void)
{
	for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		const struct ccase *c = &ccases[i];
		struct pods_claim cl;
		int ret = pods_claim_decode(c->in, strlen(c->in), &cl);

		CHECK(ret == 0 && cl.kind == c->kind && str_or_null_eq(cl.pod, c->pod) &&
			  str_or_null_eq(cl.name, c->name),
		      "claim of %s: ret %d kind %d pod '%s' name '%s'", c->in, ret, cl.kind,
		      cl.pod ? cl.pod : "(null)", cl.name ? cl.name : "(null)");
		pods_claim_free(&cl);
	}
}

/* ---- link names and generations, with claims set directly ---- */

static struct pods_claim sandbox_of(const char *pod)
{
	return (struct pods_claim){PODS_SANDBOX_KIND, (char *)pod, NULL};
}

static struct pods_claim container_of(const char *pod, const char *name)
{
	return (struct pods_claim){PODS_CONTAINER_KIND, (char *)pod, (char *)name};
}

static void set(struct pods *p, const char *plugin, const char *ns, const char *id,
		struct pods_claim c)
{
	int ret = pods_set(p, plugin, ns, id, &c);

	CHECK(ret == 0, "pods_set %s/%s/%s: %d", plugin, ns, id, ret);
}

/*
 * The links of a directory as "name>target;name>target;..." (a static
 * buffer), or "ENOENT".
 */
static const char *links_of(struct pods *p, const char *pod, enum pods_dir dir)
{
	static char buf[8192];
	struct pods_links l;
	size_t o = 0;
	int ret = pods_links(p, pod, dir, &l);

	if (ret < 0) {
		snprintf(buf, sizeof(buf), "%s", strerror(-ret));
		return buf;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < l.n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s>%s;", l.v[i].name,
				      l.v[i].target);
	pods_links_free(&l);
	return buf;
}

/* The pod names as "a;b;c;". */
static const char *pods_of(struct pods *p)
{
	static char buf[8192];
	struct pods_names n;
	size_t o = 0;

	buf[0] = '\0';
	if (pods_list(p, &n) < 0)
		return "ENOMEM";
	for (size_t i = 0; i < n.n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s;", n.v[i]);
	pods_names_free(&n);
	return buf;
}

static uint64_t gen_of(struct pods *p, const char *pod)
{
	uint64_t gen = 0;

	if (pods_stat(p, pod, &gen) < 0)
		return 0;
	return gen;
}

static void test_links(void)
{
	struct pods *p;
	char *target;
	uint64_t g0, g1, lg, pg;
	const char *l;

	CHECK(pods_new(&p) == 0, "pods_new");
	CHECK(!strcmp(pods_of(p), ""), "empty index: %s", pods_of(p));
	CHECK(pods_stat(p, NULL, NULL) == 0, "pods/ is always there");
	CHECK(pods_stat(p, "x", NULL) == -ENOENT, "no pod x");

	/* one sandbox, two containers, relative targets into their own plugin and ns */
	set(p, V2, "k8s.io", "sb1", sandbox_of("default_web_u1"));
	set(p, V2, "k8s.io", "c1", container_of("default_web_u1", "app"));
	set(p, V1, "other", "c2", container_of("default_web_u1", "db"));
	l = links_of(p, "default_web_u1", PODS_DIR_POD);
	CHECK(!strcmp(l, "sandbox>../../" V2 "/k8s.io/sb1;"), "sandbox link: %s", l);
	l = links_of(p, "default_web_u1", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "app>../../../" V2 "/k8s.io/c1;db>../../../" V1 "/other/c2;"),
	      "container links: %s", l);
	CHECK(pods_readlink(p, "default_web_u1", PODS_DIR_CONTAINERS, "db", &target) == 0 &&
		  !strcmp(target, "../../../" V1 "/other/c2"),
	      "readlink db");
	free(target);
	CHECK(pods_readlink(p, "default_web_u1", PODS_DIR_CONTAINERS, "sandbox", &target) ==
		      -ENOENT &&
		  !target,
	      "no container named sandbox");
	CHECK(pods_readlink(p, "nopod", PODS_DIR_POD, "sandbox", &target) == -ENOENT,
	      "readlink in no pod");

	/* a pod without its sandbox bundle; a pod with no container */
	set(p, V2, "k8s.io", "c3", container_of("kube-system_dns_u2", "coredns"));
	set(p, SB, "k8s.io", "sb4", sandbox_of("kube-system_proxy_u3"));
	CHECK(!strcmp(links_of(p, "kube-system_dns_u2", PODS_DIR_POD), ""), "no sandbox link: %s",
	      links_of(p, "kube-system_dns_u2", PODS_DIR_POD));
	CHECK(!strcmp(links_of(p, "kube-system_proxy_u3", PODS_DIR_CONTAINERS), ""),
	      "empty containers/: %s", links_of(p, "kube-system_proxy_u3", PODS_DIR_CONTAINERS));
	CHECK(!strcmp(pods_of(p), "default_web_u1;kube-system_dns_u2;kube-system_proxy_u3;"),
	      "pods in byte order: %s", pods_of(p));

	/* two bundles claiming one name: neither is bare */
	g0 = pods_generation(p);
	lg = gen_of(p, NULL);
	pg = gen_of(p, "kube-system_dns_u2");
	set(p, V2, "k8s.io", "c5", container_of("default_web_u1", "app"));
	l = links_of(p, "default_web_u1", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "app.c1>../../../" V2 "/k8s.io/c1;app.c5>../../../" V2
			 "/k8s.io/c5;db>../../../" V1 "/other/c2;"),
	      "app claimed twice: %s", l);
	CHECK(pods_readlink(p, "default_web_u1", PODS_DIR_CONTAINERS, "app", &target) == -ENOENT,
	      "no bare app");
	CHECK(pods_generation(p) > g0 && gen_of(p, "default_web_u1") > g0, "generation bumped");
	CHECK(gen_of(p, NULL) == lg && gen_of(p, "kube-system_dns_u2") == pg,
	      "other pods and pods/ itself unchanged");

	/* two sandboxes */
	set(p, V2, "k8s.io", "sb6", sandbox_of("default_web_u1"));
	l = links_of(p, "default_web_u1", PODS_DIR_POD);
	CHECK(
	    !strcmp(l, "sandbox.sb1>../../" V2 "/k8s.io/sb1;sandbox.sb6>../../" V2 "/k8s.io/sb6;"),
	    "sandbox claimed twice: %s", l);

	/* the same claim again changes no generation */
	g0 = pods_generation(p);
	set(p, V2, "k8s.io", "sb6", sandbox_of("default_web_u1"));
	CHECK(pods_generation(p) == g0, "same claim: generation %llu, was %llu",
	      (unsigned long long)pods_generation(p), (unsigned long long)g0);

	/* back to one claimant: bare again */
	set(p, V2, "k8s.io", "sb6", (struct pods_claim){PODS_NONE, NULL, NULL});
	CHECK(!strcmp(links_of(p, "default_web_u1", PODS_DIR_POD),
		      "sandbox>../../" V2 "/k8s.io/sb1;"),
	      "bare sandbox again: %s", links_of(p, "default_web_u1", PODS_DIR_POD));
	CHECK(pods_remove(p, V2, "k8s.io", "c5") == 0, "remove c5");
	CHECK(!strcmp(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS),
		      "app>../../../" V2 "/k8s.io/c1;db>../../../" V1 "/other/c2;"),
	      "bare app again: %s", links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));

	/* the same name and id in two plugins: listed once, the first plugin's */
	set(p, SB, "k8s.io", "c1", container_of("default_web_u1", "app"));
	l = links_of(p, "default_web_u1", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "app.c1>../../../" V2 "/k8s.io/c1;db>../../../" V1 "/other/c2;"),
	      "same name and id: %s", l);
	set(p, V1, "k8s.io", "c1", container_of("default_web_u1", "app"));
	l = links_of(p, "default_web_u1", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "app.c1>../../../" V1 "/k8s.io/c1;db>../../../" V1 "/other/c2;"),
	      "same name and id, three plugins: %s", l);
	CHECK(pods_remove(p, SB, "k8s.io", "c1") == 0 && pods_remove(p, V1, "k8s.io", "c1") == 0,
	      "remove the copies");

	/* names that clash after the suffix: the bare one is listed */
	set(p, V2, "k8s.io", "b", container_of("clash_x_u", "a"));
	set(p, V2, "k8s.io", "c", container_of("clash_x_u", "a"));
	set(p, V2, "k8s.io", "z", container_of("clash_x_u", "a.b"));
	l = links_of(p, "clash_x_u", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "a.b>../../../" V2 "/k8s.io/z;a.c>../../../" V2 "/k8s.io/c;"), "clash: %s",
	      l);

	/* a bundle moving from one pod to another; a pod goes with its last claimant */
	lg = gen_of(p, NULL);
	set(p, V2, "k8s.io", "c3", container_of("default_web_u1", "coredns"));
	CHECK(pods_stat(p, "kube-system_dns_u2", NULL) == -ENOENT, "empty pod gone");
	CHECK(gen_of(p, NULL) > lg, "pods/ changed");
	CHECK(strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "coredns>") != NULL,
	      "moved: %s", links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));
	/* a container becoming the sandbox of its pod */
	set(p, V2, "k8s.io", "c3", sandbox_of("default_web_u1"));
	CHECK(!strcmp(links_of(p, "default_web_u1", PODS_DIR_POD),
		      "sandbox.c3>../../" V2 "/k8s.io/c3;sandbox.sb1>../../" V2 "/k8s.io/sb1;"),
	      "now a sandbox: %s", links_of(p, "default_web_u1", PODS_DIR_POD));
	CHECK(!strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "coredns"),
	      "no longer a container");

	/* removing by namespace, by plugin */
	g1 = pods_generation(p);
	CHECK(pods_remove(p, V2, "nothing", NULL) == 0 && pods_generation(p) == g1,
	      "removing nothing changes nothing");
	CHECK(pods_remove(p, V1, "other", NULL) == 0, "remove V1 other/");
	CHECK(!strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "db>"), "db gone");
	CHECK(pods_remove(p, V2, NULL, NULL) == 0, "remove all of V2");
	CHECK(!strcmp(pods_of(p), "kube-system_proxy_u3;"), "only the SB pod is left: %s",
	      pods_of(p));
	{
		struct pods_stats st;

		pods_get_stats(p, &st);
		CHECK(st.bundles == 1 && st.pods == 1 && st.reads == 0,
		      "stats: %zu bundles %zu pods %llu reads", st.bundles, st.pods,
		      (unsigned long long)st.reads);
	}
	CHECK(pods_set(p, V2, "", "x", NULL) == -EINVAL, "empty ns");
	CHECK(pods_set(p, V2, "k8s.io", "a/b", NULL) == -EINVAL, "an id holding '/'");
	CHECK(pods_rescan(p, "a/b", -1) == -EINVAL, "a plugin holding '/'");
	CHECK(pods_set(p, V2, "k8s.io", "x",
		       &(struct pods_claim){PODS_CONTAINER_KIND, "p", NULL}) == -EINVAL,
	      "a container claim without a name");
	pods_free(p);
}

/* ---- on real bundle directories ---- */

static struct timespec ts_ms(long ms)
{
	return (struct timespec){ms / 1000, (ms % 1000) * 1000000L};
}

/* Wait until what was written now is older than PODS_RACY_MS. */
static void settle(void)
{
	struct timespec d = ts_ms(PODS_RACY_MS + 50);

	nanosleep(&d, NULL);
}

static uint64_t reads_of(struct pods *p)
{
	struct pods_stats st;

	pods_get_stats(p, &st);
	return st.reads;
}

static size_t bundles_of(struct pods *p)
{
	struct pods_stats st;

	pods_get_stats(p, &st);
	return st.bundles;
}

/* A CRI spec text of a sandbox (name NULL) or a container. */
static const char *cri_spec(const char *ns, const char *pod, const char *uid, const char *name)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf),
		 "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"/pause\"]},\"annotations\":{"
		 "\"io.kubernetes.cri.sandbox-namespace\":\"%s\","
		 "\"io.kubernetes.cri.sandbox-name\":\"%s\","
		 "\"io.kubernetes.cri.sandbox-uid\":\"%s\","
		 "\"io.kubernetes.cri.container-type\":\"%s\"%s%s%s}}",
		 ns, pod, uid, name ? "container" : "sandbox",
		 name ? ",\"io.kubernetes.cri.container-name\":\"" : "", name ? name : "",
		 name ? "\"" : "");
	return buf;
}

/* S/<ns>/<id> with config.json text (NULL: none), mode 0700 as containerd makes it. */
static void bundle(const char *plugin, const char *ns, const char *id, const char *text)
{
	mkd(P("%s", plugin), 0711);
	mkd(P("%s/%s", plugin, ns), 0711);
	mkd(P("%s/%s/%s", plugin, ns, id), 0700);
	if (text)
		put(P("%s/%s/%s/config.json", plugin, ns, id), text);
}

static int opendir_path(const char *path)
{
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int rescan(struct pods *p, const char *plugin)
{
	int fd = opendir_path(P("%s", plugin));
	int ret = pods_rescan(p, plugin, fd);

	if (fd >= 0)
		close(fd);
	return ret;
}

static int refresh(struct pods *p, const char *plugin, const char *ns, const char *id)
{
	int fd = opendir_path(P("%s/%s/%s", plugin, ns, id));
	int ret = pods_refresh(p, plugin, ns, id, fd);

	if (fd >= 0)
		close(fd);
	return ret;
}

static void test_disk(void)
{
	struct pods *p;
	uint64_t r, g;
	const char *l;

	CHECK(pods_new(&p) == 0, "pods_new");
	bundle(V2, "k8s.io", "sb1", cri_spec("default", "web", "u1", NULL));
	bundle(V2, "k8s.io", "c1", cri_spec("default", "web", "u1", "app"));
	bundle(V2, "k8s.io", "c2", cri_spec("default", "web", "u1", "sidecar"));
	/* a plain ctr container, and an incomplete bundle */
	bundle(V2, "default", "ctr1", "{\"ociVersion\":\"1.1.0\"}");
	bundle(V2, "default", "making", NULL);
	/* hidden: a delete in progress, a hidden namespace */
	bundle(V2, "k8s.io", ".c9", cri_spec("default", "web", "u1", "hidden"));
	bundle(V2, ".ns", "c8", cri_spec("default", "web", "u1", "hiddenns"));
	/* symlinks are never followed: a namespace, a bundle, a config.json */
	bundle("elsewhere", "k8s.io", "c7", cri_spec("default", "web", "u1", "linked"));
	must(symlink(P("elsewhere/k8s.io"), P("%s/linkns", V2)), "symlink ns");
	must(symlink(P("elsewhere/k8s.io/c7"), P("%s/k8s.io/c7", V2)), "symlink bundle");
	bundle(V2, "k8s.io", "c6", NULL);
	must(symlink(P("elsewhere/k8s.io/c7/config.json"), P("%s/k8s.io/c6/config.json", V2)),
	     "symlink config.json");
	/* a non-string value, a name holding '/' */
	bundle(V2, "k8s.io", "c10",
	       "{\"annotations\":{" POD3 "," TYPE ":\"container\"," CNAME ":\"x\",\"n\":5}}");
	bundle(V2, "k8s.io", "c11", cri_spec("default", "web", "u1", "a/b"));
	/* a file where a namespace or a bundle would be */
	put(P("%s/file", V2), "x");
	put(P("%s/k8s.io/file", V2), "x");

	CHECK(rescan(p, V2) == 0, "rescan");
	r = reads_of(p);
	CHECK(r == 6, "first rescan: %llu reads, want 6", (unsigned long long)r);
	CHECK(bundles_of(p) == 6, "complete bundles: %zu", bundles_of(p));
	CHECK(!strcmp(pods_of(p), "default_web_u1;"), "pods: %s", pods_of(p));
	l = links_of(p, "default_web_u1", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "app>../../../" V2 "/k8s.io/c1;sidecar>../../../" V2 "/k8s.io/c2;"),
	      "containers: %s", l);
	l = links_of(p, "default_web_u1", PODS_DIR_POD);
	CHECK(!strcmp(l, "sandbox>../../" V2 "/k8s.io/sb1;"), "sandbox: %s", l);
	/* the bundles without a regular config.json, for a caller that follows them */
	{
		struct pods_keys inc = {0};
		int fd = opendir_path(P("%s", V2));
		char seen[256] = "";

		CHECK(pods_rescan_incomplete(p, V2, fd, &inc) == 0, "rescan_incomplete");
		close(fd);
		for (size_t i = 0; i < inc.n; i++)
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s/%s;",
				 inc.v[i].ns, inc.v[i].id);
		/* "making" has none, c6's is a symlink; hidden and linked ones are no bundles */
		CHECK(inc.n == 2 && strstr(seen, "default/making;") && strstr(seen, "k8s.io/c6;"),
		      "incomplete: %s", seen);
		pods_keys_free(&inc);
		CHECK(inc.n == 0 && !inc.v, "pods_keys_free");
		r = reads_of(p);
	}

	/* what was just written is racy: read once more, then trusted */
	settle();
	CHECK(rescan(p, V2) == 0, "rescan 2");
	CHECK(reads_of(p) == r + 6, "racy entries read again: %llu",
	      (unsigned long long)(reads_of(p) - r));
	r = reads_of(p);
	g = pods_generation(p);
	for (int i = 0; i < 3; i++)
		CHECK(rescan(p, V2) == 0, "rescan 3+");
	CHECK(refresh(p, V2, "k8s.io", "c1") == 0, "refresh c1");
	CHECK(reads_of(p) == r, "nothing changed: %llu reads",
	      (unsigned long long)(reads_of(p) - r));
	CHECK(pods_generation(p) == g, "nothing changed: same generation");

	/* a write in place changes the identity: that one file is read */
	put(P("%s/k8s.io/c2/config.json", V2), cri_spec("default", "web", "u1", "sidecar2"));
	CHECK(rescan(p, V2) == 0, "rescan after a write");
	CHECK(reads_of(p) == r + 1, "one read: %llu", (unsigned long long)(reads_of(p) - r));
	CHECK(strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "sidecar2>") != NULL,
	      "renamed container: %s", links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));
	/* a rename over it (a new inode), through pods_refresh */
	r = reads_of(p);
	put(P("%s/k8s.io/c2/.tmp", V2), cri_spec("default", "web", "u1", "sidecar3"));
	must(rename(P("%s/k8s.io/c2/.tmp", V2), P("%s/k8s.io/c2/config.json", V2)), "rename");
	CHECK(refresh(p, V2, "k8s.io", "c2") == 0, "refresh c2");
	CHECK(reads_of(p) == r + 1 &&
		  strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "sidecar3>"),
	      "rename over config.json: %s", links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));

	/* two bundles claiming one name, seen on disk */
	bundle(V2, "k8s.io", "c12", cri_spec("default", "web", "u1", "app"));
	CHECK(refresh(p, V2, "k8s.io", "c12") == 0, "refresh c12");
	l = links_of(p, "default_web_u1", PODS_DIR_CONTAINERS);
	CHECK(!strcmp(l, "app.c1>../../../" V2 "/k8s.io/c1;app.c12>../../../" V2
			 "/k8s.io/c12;sidecar3>../../../" V2 "/k8s.io/c2;"),
	      "claimed twice: %s", l);

	/* config.json replaced by what is not a regular file: no longer complete */
	unlink(P("%s/k8s.io/c12/config.json", V2));
	must(mkfifo(P("%s/k8s.io/c12/config.json", V2), 0600), "mkfifo");
	CHECK(refresh(p, V2, "k8s.io", "c12") == 0, "refresh FIFO");
	CHECK(strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "app>") != NULL,
	      "FIFO is no config.json: %s", links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));
	unlink(P("%s/k8s.io/c12/config.json", V2));
	must(symlink(P("%s/k8s.io/c1/config.json", V2), P("%s/k8s.io/c12/config.json", V2)),
	     "symlink");
	CHECK(refresh(p, V2, "k8s.io", "c12") == 0, "refresh symlink");
	CHECK(strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "app>") != NULL,
	      "symlink is no config.json: %s", links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));

	/* larger than SPEC_MAX_SIZE: complete, claims nothing, not read again */
	{
		char *big = malloc(SPEC_MAX_SIZE + 2);
		const char *head = cri_spec("default", "web", "u1", "big");

		if (!big)
			abort();
		memset(big, ' ', SPEC_MAX_SIZE + 1);
		memcpy(big, head, strlen(head));
		big[SPEC_MAX_SIZE + 1] = '\0';
		bundle(V2, "k8s.io", "c13", NULL);
		putn(P("%s/k8s.io/c13/config.json", V2), big, SPEC_MAX_SIZE + 1);
		CHECK(refresh(p, V2, "k8s.io", "c13") == 0 &&
			  !strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "big"),
		      "too large claims nothing");
		/* exactly SPEC_MAX_SIZE is read */
		putn(P("%s/k8s.io/c13/config.json", V2), big, SPEC_MAX_SIZE);
		CHECK(refresh(p, V2, "k8s.io", "c13") == 0 &&
			  strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "big>"),
		      "SPEC_MAX_SIZE bytes: %s",
		      links_of(p, "default_web_u1", PODS_DIR_CONTAINERS));
		free(big);
	}

	/* a pod whose sandbox bundle goes: no sandbox link; the bundle's entry goes */
	rmrf(P("%s/k8s.io/sb1", V2));
	CHECK(refresh(p, V2, "k8s.io", "sb1") == 0, "refresh of a removed bundle");
	CHECK(!strcmp(links_of(p, "default_web_u1", PODS_DIR_POD), ""), "no sandbox: %s",
	      links_of(p, "default_web_u1", PODS_DIR_POD));
	/* bundles removed beside the index: the rescan forgets them */
	rmrf(P("%s/k8s.io/c1", V2));
	rmrf(P("%s/default", V2));
	CHECK(rescan(p, V2) == 0, "rescan after removals");
	CHECK(!strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "c1;"), "c1 forgotten");
	/* pods_refresh with -1: the bundle is gone */
	CHECK(pods_refresh(p, V2, "k8s.io", "c2", -1) == 0 &&
		  !strstr(links_of(p, "default_web_u1", PODS_DIR_CONTAINERS), "sidecar3"),
	      "refresh -1");
	/* the plugin directory gone: everything of it forgotten */
	CHECK(pods_rescan(p, V2, -1) == 0 && bundles_of(p) == 0 && !strcmp(pods_of(p), ""),
	      "plugin gone: %zu bundles, pods %s", bundles_of(p), pods_of(p));
	pods_free(p);
}

/* 5,000 bundles of 1,000 pods: one sandbox and four containers each. */
static void test_scale(void)
{
	struct timespec t0, t1, t2;
	struct pods_names names;
	struct pods *p;
	uint64_t r;
	size_t links = 0;
	char id[64], pod[64];

	mkd(P("scale"), 0711);
	mkd(P("scale/k8s.io"), 0711);
	for (int i = 0; i < 1000; i++) {
		snprintf(pod, sizeof(pod), "pod%04d", i);
		for (int k = 0; k < 5; k++) {
			snprintf(id, sizeof(id), "%04d%d", i, k);
			mkd(P("scale/k8s.io/%s", id), 0700);
			put(P("scale/k8s.io/%s/config.json", id),
			    cri_spec("ns", pod, "uid",
				     k == 0
					 ? NULL
					 : (const char *[]){"", "app", "db", "cache", "log"}[k]));
		}
	}
	settle();
	CHECK(pods_new(&p) == 0, "pods_new");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(rescan(p, "scale") == 0, "scale: first rescan");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r = reads_of(p);
	CHECK(r == 5000, "scale: %llu reads", (unsigned long long)r);
	CHECK(rescan(p, "scale") == 0, "scale: second rescan");
	clock_gettime(CLOCK_MONOTONIC, &t2);
	CHECK(reads_of(p) == r, "scale: the second rescan read %llu",
	      (unsigned long long)(reads_of(p) - r));
	CHECK(pods_list(p, &names) == 0 && names.n == 1000, "scale: 1000 pods");
	for (size_t i = 0; i < names.n; i++) {
		struct pods_links l;

		if (pods_links(p, names.v[i], PODS_DIR_CONTAINERS, &l) == 0) {
			links += l.n;
			pods_links_free(&l);
		}
	}
	pods_names_free(&names);
	CHECK(links == 4000 && reads_of(p) == r, "scale: 4000 container links, no read");
	printf("scale: first rescan %.1f ms, unchanged rescan %.1f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	       (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
	pods_free(p);
}

/* Listings while another thread changes the index: consistent snapshots. */
struct race {
	struct pods *p;
	atomic_bool stop;
	int bad;
};

static void *lister(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		struct pods_links l;

		if (pods_links(r->p, "r_p_u", PODS_DIR_CONTAINERS, &l) == 0) {
			/* one claimant of "a": bare; two: both suffixed */
			if (l.n == 1 && strcmp(l.v[0].name, "a"))
				r->bad++;
			if (l.n == 2 && (strcmp(l.v[0].name, "a.x") || strcmp(l.v[1].name, "a.y")))
				r->bad++;
			pods_links_free(&l);
		}
	}
	return NULL;
}

static void test_threads(void)
{
	struct race r = {.p = NULL};
	pthread_t t[2];

	CHECK(pods_new(&r.p) == 0, "pods_new");
	set(r.p, V2, "k8s.io", "x", container_of("r_p_u", "a"));
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, lister, &r);
	for (int i = 0; i < 20000; i++) {
		struct pods_claim c = container_of("r_p_u", "a");

		if (i % 2 ? pods_remove(r.p, V2, "k8s.io", "y")
			  : pods_set(r.p, V2, "k8s.io", "y", &c))
			r.bad++;
	}
	r.stop = true;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK(r.bad == 0, "threads: %d inconsistent listings", r.bad);
	pods_free(r.p);
}

int main(void)
{
	umask(0);
	test_claims();
	test_links();
	test_threads();
	if (fx_private_base("test_pods") < 0)
		return 2;
	must(chdir(base), base);
	test_disk();
	test_scale();
	must(chdir("/"), "/");
	rmrf(base);
	return check_report();
}
