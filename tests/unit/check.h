/*
 * check.h - the assertion plumbing every tests/unit/test_*.c shares.
 *
 * CHECK(cond, fmt, ...) counts a pass when cond holds; otherwise it prints
 * "FAIL file:line: <message>" to stderr, counts a failure and carries on, so one run reports
 * every broken case. A check that guards a later dereference (a returned pointer that may be
 * NULL) must therefore be followed by an explicit early return or skip in its test.
 *
 * check_report() prints the closing line "N passed, M failed" to stdout and returns 0 when
 * nothing failed, 1 otherwise: main ends with `return check_report();`.
 *
 * Each test is one executable built from one translation unit, so the counters live here as
 * file-scope statics; a forked child that runs checks starts its own count by zeroing them.
 */
#ifndef BUNDLEFS_TESTS_UNIT_CHECK_H
#define BUNDLEFS_TESTS_UNIT_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int check_passed, check_failed;

static inline void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void check_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	check_failed++;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The format is the first variadic argument, so a message without arguments is valid C11. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond)                                                                          \
			check_passed++;                                                            \
		else                                                                               \
			check_fail(__FILE__, __LINE__, __VA_ARGS__);                               \
	} while (0)

static inline int check_report(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif /* BUNDLEFS_TESTS_UNIT_CHECK_H */
