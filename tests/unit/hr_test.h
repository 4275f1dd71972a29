/*
 * hr_test.h — the unit tests' harness: TAP output ("ok N name" / "not ok N
 * name") that scripts/run_tests.sh counts. A test is a function; CHECK
 * records a failure with file:line and returns from the test.
 * HR_TEST_ONLY selects tests by name (see hr_test_selected).
 * Usage:  static void t_order(void) { CHECK(x == 1); }
 *         int main(void) { RUN(t_order); return hr_test_done(); }
 */
#ifndef HR_TEST_H
#define HR_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hr_t_count, hr_t_failed, hr_t_cur_failed;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stdout, "# %s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                                \
			hr_t_cur_failed = 1;                                     \
			return;                                                  \
		}                                                                \
	} while (0)

/* CHECK_RC(expr, expected): reports the value it got. */
#define CHECK_RC(expr, want)                                                        \
	do {                                                                        \
		long long got_ = (long long)(expr);                                 \
		if (got_ != (long long)(want)) {                                    \
			fprintf(stdout, "# %s:%d: %s = %lld, want %lld\n", __FILE__, \
				__LINE__, #expr, got_, (long long)(want));          \
			hr_t_cur_failed = 1;                                        \
			return;                                                     \
		}                                                                   \
	} while (0)

/* HR_TEST_ONLY=name[,name...] in the environment runs only those tests
 * (the others are neither run nor counted): for running one test of a
 * binary while developing, or many times in a loop. */
static inline int hr_test_selected(const char *name)
{
	const char *only = getenv("HR_TEST_ONLY");
	if (!only || !*only)
		return 1;
	size_t n = strlen(name);
	for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
		if ((p == only || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

#define RUN(fn)                                                                          \
	if (hr_test_selected(#fn))                                                       \
	do {                                                                             \
		hr_t_cur_failed = 0;                                                     \
		fn();                                                                    \
		hr_t_count++;                                                            \
		if (hr_t_cur_failed)                                                     \
			hr_t_failed++;                                                   \
		fprintf(stdout, "%s %d %s\n", hr_t_cur_failed ? "not ok" : "ok", hr_t_count, \
			#fn);                                                            \
		fflush(stdout);                                                          \
	} while (0)

static inline int hr_test_done(void)
{
	fprintf(stdout, "1..%d\n", hr_t_count);
	return hr_t_failed ? 1 : 0;
}

/* A fresh temporary directory under $TMPDIR (or /tmp), path in buf. */
static inline void hr_test_tmpdir(char *buf, size_t len, const char *tag)
{
	const char *base = getenv("TMPDIR");
	snprintf(buf, len, "%s/hrtest-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	if (!mkdtemp(buf)) {
		perror("mkdtemp");
		exit(2);
	}
}

static inline void hr_test_rmrf(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stdout, "# could not remove %s\n", path);
}

#endif
