// SPDX-License-Identifier: Apache-2.0
/*
 * The pods index (pods.h): what one config.json claims, decoded as the
 * runc v2 shim decodes its annotations (spec_annotations).
 */
#include "podsint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* The CRI annotations of SPEC 8.3, in the order spec_annotations is asked. */
enum { A_NS, A_NAME, A_UID, A_TYPE, A_CNAME, A_COUNT };
static const char *const cri_names[A_COUNT] = {
    "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-name",
    "io.kubernetes.cri.sandbox-uid",	   "io.kubernetes.cri.container-type",
    "io.kubernetes.cri.container-name",
};

/* A name a directory entry can have and that is neither "." nor "..". */
static bool entry_name_ok(const char *s, size_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	return !memchr(s, '/', len) && !memchr(s, '\0', len);
}

static bool value_is(const struct spec_annotation *a, const char *s)
{
	return a->present && a->vlen == strlen(s) && !memcmp(a->value, s, a->vlen);
}

void pods_claim_free(struct pods_claim *c)
{
	free(c->pod);
	free(c->name);
	c->pod = c->name = NULL;
	c->kind = PODS_NONE;
}

int pods_claim_decode(const char *buf, size_t len, struct pods_claim *c)
{
	struct spec_annotation a[A_COUNT];
	enum pods_kind kind = PODS_NONE;
	size_t plen;
	int ret;

	c->kind = PODS_NONE;
	c->pod = c->name = NULL;
	for (size_t i = 0; i < A_COUNT; i++)
		a[i].name = cri_names[i];
	ret = spec_annotations(buf, len, a, A_COUNT);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0 || !a[A_NS].present || !a[A_NAME].present || !a[A_UID].present)
		goto out;
	if (value_is(&a[A_TYPE], "sandbox"))
		kind = PODS_SANDBOX_KIND;
	else if (value_is(&a[A_TYPE], "container") && a[A_CNAME].present &&
		 entry_name_ok(a[A_CNAME].value, a[A_CNAME].vlen))
		kind = PODS_CONTAINER_KIND;
	else
		goto out;
	plen = a[A_NS].vlen + 1 + a[A_NAME].vlen + 1 + a[A_UID].vlen;
	c->pod = malloc(plen + 1);
	if (!c->pod) {
		ret = -ENOMEM;
		goto out;
	}
	/* kubelet's pod log directory: namespace_name_uid */
	memcpy(c->pod, a[A_NS].value, a[A_NS].vlen);
	c->pod[a[A_NS].vlen] = '_';
	memcpy(c->pod + a[A_NS].vlen + 1, a[A_NAME].value, a[A_NAME].vlen);
	c->pod[a[A_NS].vlen + 1 + a[A_NAME].vlen] = '_';
	memcpy(c->pod + a[A_NS].vlen + 1 + a[A_NAME].vlen + 1, a[A_UID].value, a[A_UID].vlen);
	c->pod[plen] = '\0';
	if (!entry_name_ok(c->pod, plen)) {
		free(c->pod);
		c->pod = NULL;
		goto out;
	}
	if (kind == PODS_CONTAINER_KIND) {
		c->name = a[A_CNAME].value; /* no NUL inside: entry_name_ok */
		a[A_CNAME].value = NULL;
	}
	c->kind = kind;
	ret = 0;
out:
	spec_annotations_free(a, A_COUNT);
	return ret == -ENOMEM ? ret : 0;
}

int pidx_claim_copy(const struct pods_claim *from, struct pods_claim *to)
{
	to->kind = PODS_NONE;
	to->pod = to->name = NULL;
	if (!from || from->kind == PODS_NONE)
		return 0;
	if (!from->pod || (from->kind == PODS_CONTAINER_KIND && !from->name))
		return -EINVAL;
	to->pod = strdup(from->pod);
	to->name = from->name && from->kind == PODS_CONTAINER_KIND ? strdup(from->name) : NULL;
	if (!to->pod || (from->kind == PODS_CONTAINER_KIND && !to->name)) {
		pods_claim_free(to);
		return -ENOMEM;
	}
	to->kind = from->kind;
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

bool pidx_claim_eq(const struct pods_claim *a, const struct pods_claim *b)
{
	return a->kind == b->kind && str_eq(a->pod, b->pod) && str_eq(a->name, b->name);
}
