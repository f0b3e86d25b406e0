/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of core/conf.c: the runtime a state directory's name says it holds, and a store's
 * configuration with its defaults, on a private base/state and base/work.
 */
#include "conf.h"

#include "check.h"
#include "fsfixture.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void test_runtime_of(void)
{
	static const struct {
		const char *state;
		int want;
	} cases[] = {
	    {"/var/lib/containerd/" CONF_V1_PLUGIN, RUNTIME_V1},
	    {"/run/containerd/" CONF_V2_PLUGIN, RUNTIME_V2},
	    {"/run/containerd/" CONF_V2_PLUGIN "/", RUNTIME_V2},
	    {"/run/containerd/" CONF_V2_PLUGIN "/.", RUNTIME_V2},
	    {"/run/x/../" CONF_V1_PLUGIN, RUNTIME_V1},
	    {CONF_V1_PLUGIN, RUNTIME_V1},
	    {"/run/containerd/" CONF_V2_PLUGIN "/ns", -ENOENT},
	    {"/var/lib/bundlefs/state", -ENOENT},
	    {"/", -ENOENT},
	    {"", -ENOENT},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = conf_runtime_of(cases[i].state);

		CHECK(got == cases[i].want, "runtime of %s: %d, want %d", cases[i].state, got,
		      cases[i].want);
	}
}

static void test_open(void)
{
	struct bundle_conf c;
	int ret;

	ret = conf_open(&c, &(struct conf_options){.state = P("state"), .work = P("work")});
	CHECK(ret == 0, "conf_open: %d", ret);
	if (ret < 0)
		return;
	CHECK(c.st.state_fd >= 0 && c.st.work_fd >= 0 && !strcmp(c.st.state_path, P("state")),
	      "the roots");
	CHECK(c.runtime == RUNTIME_V1 &&
		  !strcmp(c.daemon_address, "/run/containerd/containerd.sock") &&
		  !strcmp(c.socket_root, "/run/containerd") && !strcmp(c.runtime_root, "") &&
		  !strcmp(c.criu, "") && !c.systemd_cgroup && !c.legacy_address,
	      "the defaults");
	CHECK(!strcmp(c.bundle_root, c.st.state_path), "bundle_root defaults to S: %s",
	      c.bundle_root);
	CHECK(c.euid == geteuid() && c.egid == getegid() && c.is_root == (geteuid() == 0),
	      "the process's identity");
	conf_close(&c);
	CHECK(c.st.state_fd == -1 && c.st.work_fd == -1 && !c.bundle_root, "conf_close");

	ret = conf_open(&c, &(struct conf_options){.state = P("state"),
						   .work = P("work"),
						   .runtime = RUNTIME_V2,
						   .socket_root = "/s",
						   .bundle_root = "/b//c/../d/"});
	CHECK(ret == 0 && c.runtime == RUNTIME_V2 && !strcmp(c.socket_root, "/s") &&
		  !strcmp(c.bundle_root, "/b/d"),
	      "given options, bundle_root cleaned: %d", ret);
	if (ret == 0)
		conf_close(&c);
	ret = conf_open(&c, &(struct conf_options){.state = P("nothere"), .work = P("work")});
	CHECK(ret == -ENOENT, "a missing state root: %d", ret);
}

int main(void)
{
	struct store st;

	if (fx_store_base(&st, "test_conf", count_sink) < 0)
		return 1;
	test_runtime_of();
	test_open();
	return fx_store_end(&st);
}
