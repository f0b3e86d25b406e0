/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration of a store; see conf.h. */
#include "conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gopath.h"

static const char *dup_or(const char *v, const char *dflt)
{
	return strdup(v ? v : dflt);
}

int conf_open(struct bundle_conf *c, const struct conf_options *o)
{
	int ret;

	memset(c, 0, sizeof(*c));
	ret = store_open(&c->st, o->state, o->work, o->work_optional ? STORE_WORK_OPTIONAL : 0);
	if (ret < 0)
		return ret;
	c->runtime = o->runtime;
	c->daemon_address = dup_or(o->daemon_address, "/run/containerd/containerd.sock");
	c->socket_root = dup_or(o->socket_root, "/run/containerd");
	c->runtime_root = dup_or(o->runtime_root, "");
	c->criu = dup_or(o->criu, "");
	c->bundle_root = o->bundle_root ? gopath_clean(o->bundle_root) : strdup(c->st.state_path);
	c->systemd_cgroup = o->systemd_cgroup;
	c->legacy_address = o->legacy_address;
	c->euid = geteuid();
	c->egid = getegid();
	c->is_root = c->euid == 0;
	if (!c->daemon_address || !c->socket_root || !c->runtime_root || !c->criu ||
	    !c->bundle_root) {
		conf_close(c);
		return -ENOMEM;
	}
	return 0;
}

void conf_close(struct bundle_conf *c)
{
	store_close(&c->st);
	free((char *)c->daemon_address);
	free((char *)c->socket_root);
	free((char *)c->runtime_root);
	free((char *)c->criu);
	free((char *)c->bundle_root);
	memset(c, 0, sizeof(*c));
	c->st.state_fd = c->st.work_fd = -1;
}

int conf_runtime_of(const char *state)
{
	char *clean = gopath_clean(state);
	const char *name;
	int ret = -ENOENT;

	if (!clean)
		return -ENOMEM;
	name = strrchr(clean, '/') ? strrchr(clean, '/') + 1 : clean;
	if (!strcmp(name, CONF_V1_PLUGIN))
		ret = RUNTIME_V1;
	else if (!strcmp(name, CONF_V2_PLUGIN))
		ret = RUNTIME_V2;
	free(clean);
	return ret;
}
