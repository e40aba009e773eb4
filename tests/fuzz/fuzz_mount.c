/*
 * libFuzzer target: the mount policy's parsing and checks.
 *
 * The input is "source\ntarget".  Whatever it is, the checks must not
 * crash, and what they accept must really be allowed: a source accepted
 * by mount_check_source is a normal absolute path without control
 * characters that is neither inside nor above a built-in protected path;
 * a path accepted by mount_check_resolved is, component by component,
 * neither inside nor above any protected path of the policy, and under an
 * allowed root.  These facts are checked here with independent code.
 */
#include "mountpolicy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct mount_policy P;

/* Component-wise: is a equal to b or an ancestor of it? */
static bool above(const char *a, const char *b)
{
	if (strcmp(a, "/") == 0)
		return true;
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == '\0' && (*b == '\0' || *b == '/');
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const extra[] = { "/srv/klangk-data", "/srv/state/etcd", NULL };

	(void)argc, (void)argv;
	if (mount_policy_init(&P, "/srv,/home", extra, NULL) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *tgt, why[MOUNT_WHY_MAX];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	tgt = strchr(s, '\n');
	if (tgt)
		*tgt++ = '\0';

	if (mount_check_source(s, why, sizeof(why)) == 0) {
		if (!mount_is_normal_path(s) || mount_has_control(s))
			abort();
		for (const char *const *p = mount_builtin_protected; *p; p++)
			if (above(s, *p) || above(*p, s))
				abort();
	}
	if (mount_check_resolved(&P, s, why, sizeof(why)) == 0) {
		bool under = false;

		for (size_t i = 0; i < P.n_protected; i++)
			if (above(s, P.protected[i]) || above(P.protected[i], s))
				abort();
		for (size_t i = 0; i < P.n_roots; i++)
			under |= above(P.roots[i], s);
		if (!under)
			abort();
	}
	if (tgt && mount_check_target(tgt, "/home/fuzz", "/home/fuzz/work", why,
				      sizeof(why)) == 0) {
		if (!mount_is_normal_path(tgt) || strcmp(tgt, "/") == 0 ||
		    above(tgt, "/home/fuzz") || above("/proc", tgt) || above(tgt, "/proc") ||
		    above("/sys", tgt) || above("/dev", tgt))
			abort();
	}
	free(s);
	return 0;
}
