/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/shimcfg: the shim-config text (SPEC 4.4), exactly as
 * Go's json.Marshal(shim.Config) + "\n" writes it, including Go's string
 * escaping (HTML-safe, U+2028/U+2029, invalid UTF-8, control characters
 * as Go 1.21 and earlier write them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shimcfg.h"
#include "check.h"

#define STATE "/run/containerd/io.containerd.runtime.v1.linux"
#define WORK "/var/lib/containerd/io.containerd.runtime.v1.linux"

/* runc options; NULL fields make the case use no runc options at all. */
struct ro_in {
	const char *runtime, *runtime_root, *criu_path;
	bool systemd_cgroup;
};

struct render_case {
	const char *what;
	struct shimcfg_node node;
	const char *ns, *id;
	bool has_ro;
	struct ro_in ro;
	const char *want;
};

static const struct render_case cases[] = {
    {"containerd defaults, no runc options",
     {STATE, WORK, "", "", false},
     "default",
     "redis",
     false,
     {0},
     "{\"Path\":\"" STATE "/default/redis\",\"Namespace\":\"default\",\"WorkDir\":\"" WORK
     "/default/redis\",\"Criu\":\"\",\"RuntimeRoot\":\"\",\"SystemdCgroup\":false}\n"},
    {"node options, no runc options",
     {STATE, WORK, "/usr/sbin/criu", "/run/rr", true},
     "k8s.io",
     "web-1",
     false,
     {0},
     "{\"Path\":\"" STATE "/k8s.io/web-1\",\"Namespace\":\"k8s.io\",\"WorkDir\":\"" WORK
     "/k8s.io/web-1\",\"Criu\":\"/usr/sbin/criu\",\"RuntimeRoot\":\"/run/rr\","
     "\"SystemdCgroup\":true}\n"},
    {"runc options with empty runtime_root keep the node runtime_root",
     {STATE, WORK, "/usr/sbin/criu", "/run/rr", true},
     "default",
     "redis",
     true,
     {"runc", "", "", false},
     "{\"Path\":\"" STATE "/default/redis\",\"Namespace\":\"default\",\"WorkDir\":\"" WORK
     "/default/redis\",\"Criu\":\"\",\"RuntimeRoot\":\"/run/rr\",\"SystemdCgroup\":false}\n"},
    {"runc options with runtime_root replace everything",
     {STATE, WORK, "/usr/sbin/criu", "/run/rr", false},
     "default",
     "redis",
     true,
     {"", "/run/mine", "/opt/criu", true},
     "{\"Path\":\"" STATE "/default/redis\",\"Namespace\":\"default\",\"WorkDir\":\"" WORK
     "/default/redis\",\"Criu\":\"/opt/criu\",\"RuntimeRoot\":\"/run/mine\","
     "\"SystemdCgroup\":true}\n"},
    {"runc options over empty node options",
     {STATE, WORK, "", "", false},
     "default",
     "redis",
     true,
     {"", "", "", false},
     "{\"Path\":\"" STATE "/default/redis\",\"Namespace\":\"default\",\"WorkDir\":\"" WORK
     "/default/redis\",\"Criu\":\"\",\"RuntimeRoot\":\"\",\"SystemdCgroup\":false}\n"},
    {"roots are Joined and Cleaned",
     {"/mnt/b//./", "/srv/w/../work/", "", "", false},
     "default",
     "redis",
     false,
     {0},
     "{\"Path\":\"/mnt/b/default/redis\",\"Namespace\":\"default\",\"WorkDir\":"
     "\"/srv/work/default/redis\",\"Criu\":\"\",\"RuntimeRoot\":\"\",\"SystemdCgroup\":false}\n"},
    {"HTML-safe escaping in paths and values",
     {"/a<b>&c", "/w\"q\\", "<criu>", "&rr", false},
     "n",
     "i",
     false,
     {0},
     "{\"Path\":\"/a\\u003cb\\u003e\\u0026c/n/i\",\"Namespace\":\"n\",\"WorkDir\":"
     "\"/w\\\"q\\\\/n/i\",\"Criu\":\"\\u003ccriu\\u003e\",\"RuntimeRoot\":\"\\u0026rr\","
     "\"SystemdCgroup\":false}\n"},
    {"control characters: short forms only for \\n \\r \\t; DEL passes",
     {"/s", "/w", "a\nb\rc\td\be\ff\x01g\x1fh\x7fi\x1bj", "", false},
     "n",
     "i",
     false,
     {0},
     "{\"Path\":\"/s/n/i\",\"Namespace\":\"n\",\"WorkDir\":\"/w/n/i\",\"Criu\":"
     "\"a\\nb\\rc\\td\\u0008e\\u000cf\\u0001g\\u001fh\x7fi\\u001bj\",\"RuntimeRoot\":\"\","
     "\"SystemdCgroup\":false}\n"},
    {"UTF-8: valid passes, U+2028/U+2029 escaped, each invalid byte is \\ufffd",
     {"/s", "/w",
      /* e-acute, U+2028, U+2029, U+1F600, literal U+FFFD */
      "\xc3\xa9|\xe2\x80\xa8|\xe2\x80\xa9|\xf0\x9f\x98\x80|\xef\xbf\xbd|"
      /* lone 0xff, truncated 3-byte, surrogate U+D800, overlong '/', above U+10FFFF */
      "\xff|\xe2\x82|\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80|"
      /* lone continuation, truncated at the end */
      "\x80|\xf0\x9f\x98",
      "\xe2\x80\xa7\xe2\x80\xaa", false},
     "n",
     "i",
     false,
     {0},
     "{\"Path\":\"/s/n/i\",\"Namespace\":\"n\",\"WorkDir\":\"/w/n/i\",\"Criu\":"
     "\"\xc3\xa9|\\u2028|\\u2029|\xf0\x9f\x98\x80|\xef\xbf\xbd|"
     "\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
     "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd|\\ufffd\\ufffd\\ufffd\","
     "\"RuntimeRoot\":\"\xe2\x80\xa7\xe2\x80\xaa\",\"SystemdCgroup\":false}\n"},
    {"escaping applies to runc option values too",
     {"/s", "/w", "", "", false},
     "n",
     "i",
     true,
     {"", "/r\xe2\x80\xa8", "c&\n", true},
     "{\"Path\":\"/s/n/i\",\"Namespace\":\"n\",\"WorkDir\":\"/w/n/i\",\"Criu\":"
     "\"c\\u0026\\n\",\"RuntimeRoot\":\"/r\\u2028\",\"SystemdCgroup\":true}\n"},
};

static char *dup_or_die(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		perror("strdup");
		exit(1);
	}
	return d;
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct render_case *t = &cases[i];
		struct ropts ro = {0};
		size_t len = (size_t)-1;
		char *text;

		if (t->has_ro) {
			ro.runtime = dup_or_die(t->ro.runtime);
			ro.runtime_root = dup_or_die(t->ro.runtime_root);
			ro.criu_path = dup_or_die(t->ro.criu_path);
			ro.systemd_cgroup = t->ro.systemd_cgroup;
		}
		text = shimcfg_render(&t->node, t->ns, t->id, t->has_ro ? &ro : NULL, &len);
		CHECK(text != NULL, "%s: shimcfg_render returned NULL", t->what);
		/* The remaining checks of a case read the text. */
		if (text != NULL) {
			CHECK(strcmp(text, t->want) == 0, "%s:\n got: %s want: %s", t->what, text,
			      t->want);
			CHECK(len == strlen(t->want), "%s: len %zu, want %zu", t->what, len,
			      strlen(t->want));
		}
		free(text);
		free(ro.runtime);
		free(ro.runtime_root);
		free(ro.criu_path);
	}

	/* A worst-case value (every byte expands to six) stays inside the buffer. */
	{
		struct shimcfg_node node = {"/s", "/w", NULL, NULL, false};
		char big[3001];
		size_t len = 0;
		char *text;

		memset(big, '\xff', 1500);
		memset(big + 1500, '<', 1500);
		big[3000] = '\0';
		node.criu = big;
		text = shimcfg_render(&node, "n", "i", NULL, &len);
		CHECK(text != NULL && len == strlen(text), "worst case: NULL or wrong len");
		if (text == NULL)
			return check_report();
		CHECK(strstr(text, "\"Criu\":\"\\ufffd") != NULL &&
			  strstr(text, "\\u003c\",\"RuntimeRoot\":\"\"") != NULL,
		      "worst case: unexpected text");
		CHECK(len ==
			  strlen("{\"Path\":\"/s/n/i\",\"Namespace\":\"n\",\"WorkDir\":\"/w/n/i\","
				 "\"Criu\":\"\",\"RuntimeRoot\":\"\",\"SystemdCgroup\":false}\n") +
			      6 * 3000,
		      "worst case: len %zu", len);
		free(text);
	}

	return check_report();
}
