/* Unit tests for cliopt: getopt_long and --help made from an option table. */
#include "cliopt.h"
#include "t.h"

#include <stdlib.h>

static const struct cliopt opts[] = {
	{ "namespace", 'n', 0, "NS", NULL, "the namespace" },
	{ "recursive", 'R', 0, NULL, NULL, "descend" },
	{ "timeout", 0, 256, "DURATION", NULL, "how long\nat most" },
	CLIOPT_HELP,
	CLIOPT_END,
};

/* Parse argv (NULL-terminated) with opts; the values returned, as a
 * string of letters ('T' for the key 256), and optind at the end. */
static void parse(const struct cliopt *table, char **argv, char *seen, size_t len, int *ind)
{
	struct cliopt_parser p = { .opts = table };
	int argc = 0, opt;
	size_t n = 0;

	while (argv[argc])
		argc++;
	while ((opt = cliopt_next(&p, argc, argv)) != -1 && n + 1 < len)
		seen[n++] = opt == 256 ? 'T' : (char)opt;
	seen[n] = '\0';
	*ind = optind;
}

static void test_parse(void)
{
	char a0[] = "get", a1[] = "-n", a2[] = "ns", a3[] = "NAME", a4[] = "--timeout=5s",
	     a5[] = "--recursive", a6[] = "-x";
	char *argv[] = { a0, a1, a2, a3, a4, a5, NULL };
	char *bad[] = { a0, a6, NULL };
	char seen[16];
	int ind;

	parse(opts, argv, seen, sizeof(seen), &ind);
	CHECK(strcmp(seen, "nTR") == 0);
	/* Options after an argument are permuted before it, as getopt does. */
	CHECK(ind == 5 && strcmp(argv[5], "NAME") == 0);
	/* A second scan (another verb) starts afresh. */
	parse(opts, bad, seen, sizeof(seen), &ind);
	CHECK(strcmp(seen, "?") == 0);
}

static void test_bad_table(void)
{
	static const struct cliopt twice[] = {
		{ "one", 'a', 0, NULL, NULL, "" },
		{ "two", 0, 'a', NULL, NULL, "" },
		CLIOPT_END,
	};
	char a0[] = "v";
	char *argv[] = { a0, NULL };
	char seen[4];
	int ind;

	parse(twice, argv, seen, sizeof(seen), &ind);
	CHECK(strcmp(seen, "?") == 0);
}

static void test_help(void)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	char left[64];

	cliopt_print_help(f, opts);
	fclose(f);
	CHECK_CONTAINS(s, "\n  -n, --namespace NS    the namespace\n");
	CHECK_CONTAINS(s, "\n  -R, --recursive       descend\n");
	CHECK_CONTAINS(s, "\n  --timeout DURATION    how long\n                        at most\n");
	free(s);
	cliopt_synopsis(&opts[2], left, sizeof(left));
	CHECK(strcmp(left, "--timeout DURATION") == 0);
}

int main(void)
{
	test_parse();
	test_bad_table();
	test_help();
	return T_DONE("cliopt");
}
