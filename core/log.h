/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One logging function with a switchable sink (as libfuse's fuse_log).
 *
 * The default sink writes "bundlefs: <message>\n" to stderr. The daemon
 * switches to syslog once it has daemonized. Messages are single lines: a
 * failure that the errno alone does not explain gets exactly one, naming the
 * bundle and the reason (SPEC 5.3).
 */
#ifndef BUNDLEFS_LOG_H
#define BUNDLEFS_LOG_H

enum blog_level { BLOG_ERR = 3, BLOG_WARNING = 4, BLOG_INFO = 6, BLOG_DEBUG = 7 };

/* A sink receives the level and the formatted message (no newline). */
typedef void (*blog_sink_fn)(enum blog_level level, const char *msg);

/* Replace the sink; NULL restores the stderr sink. Not thread-safe: call at start. */
void blog_set_sink(blog_sink_fn sink);

/* Log one line. Messages above BLOG_INFO are dropped unless blog_set_debug(1). */
void blog(enum blog_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void blog_set_debug(int on);

#endif
