/*
 * t.h — the smallest test harness that does the job: CHECK counts passes
 * and failures, and T_DONE prints "NAME: N passed, M failed" and returns
 * the exit status.  One test program per module.
 */
#ifndef KLANGK_T_H
#define KLANGK_T_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (cond) {                                                \
			t_pass++;                                          \
		} else {                                                   \
			t_fail++;                                          \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n",       \
				__FILE__, __LINE__, #cond);                \
		}                                                          \
	} while (0)

/* Does haystack contain needle?  For error message checks. */
#define CONTAINS(hay, needle) (strstr((hay), (needle)) != NULL)

#define CHECK_CONTAINS(hay, needle)                                        \
	do {                                                               \
		if (CONTAINS(hay, needle)) {                               \
			t_pass++;                                          \
		} else {                                                   \
			t_fail++;                                          \
			fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", \
				__FILE__, __LINE__, (hay), (needle));      \
		}                                                          \
	} while (0)

#define T_DONE(name)                                                       \
	(printf("%s: %d passed, %d failed\n", (name), t_pass, t_fail),     \
	 t_fail ? 1 : 0)

#endif
