/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static blog_sink_fn blog_sink;
static int blog_debug;

static void blog_stderr(enum blog_level level, const char *msg)
{
	(void)level;
	fprintf(stderr, "bundlefs: %s\n", msg);
}

void blog_set_sink(blog_sink_fn sink)
{
	blog_sink = sink;
}

void blog_set_debug(int on)
{
	blog_debug = on;
}

void blog(enum blog_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > BLOG_INFO && !blog_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(blog_sink ? blog_sink : blog_stderr)(level, msg);
}
