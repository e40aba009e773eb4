/*
 * klangkc — the command-line client for Klangk Workspaces, in kubectl's
 * habits.  This file holds the verb table (the one source of help text) and
 * the global options; each verb lives in its own file.
 */
#include "cli.h"

#include "http.h"

#include <stdio.h>
#include <string.h>

#ifndef KLANGK_VERSION
#define KLANGK_VERSION "0.1.0"
#endif

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage;
};

static const struct verb verbs[] = {
	{ "apply", verb_apply, "Create or update workspaces from YAML or JSON files",
	  "klangkc apply -f FILE|DIR|- [-f ...] [-R] [-n NS] [--dry-run=none|client|server]\n"
	  "\n"
	  "  Every document of every file is validated before anything is written;\n"
	  "  one invalid document means nothing is written (exit 1). Errors name the\n"
	  "  file, the document index (from 0) and the field path.\n"
	  "\n"
	  "  -f, --filename   file, directory (*.yaml, *.yml, *.json) or - for stdin\n"
	  "  -R, --recursive  descend into subdirectories of a directory\n"
	  "  -n, --namespace  namespace for objects that do not name one\n"
	  "  --dry-run        client: validate only; server: also read etcd\n" },
	{ "get", verb_get, "Show workspaces",
	  "klangkc get [NAME...] [-n NS | -A] [-o table|wide|json|yaml|name]\n"
	  "\n"
	  "  -n, --namespace       namespace (default \"default\")\n"
	  "  -A, --all-namespaces  every namespace\n"
	  "  -o, --output          output format (default table)\n" },
	{ "delete", verb_delete, "Delete workspaces",
	  "klangkc delete NAME... [-n NS] [--ignore-not-found]\n"
	  "\n"
	  "  Removes the desired object; the controller then removes the container,\n"
	  "  volumes (per reclaimPolicy), port leases and status.\n" },
	{ "version", verb_version, "Print the version", "klangkc version\n" },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

void cli_usage(const char *verb, bool to_stderr)
{
	FILE *f = to_stderr ? stderr : stdout;

	for (size_t i = 0; i < N_VERBS; i++)
		if (strcmp(verbs[i].name, verb) == 0) {
			fprintf(f, "%s\n\nUsage:\n  %s", verbs[i].summary, verbs[i].usage);
			return;
		}
}

static void usage(FILE *f)
{
	fprintf(f,
		"klangkc — manage Klangk workspaces\n\n"
		"Usage: klangkc [--etcd-endpoints URLS] VERB [ARGS...]\n\n"
		"Verbs:\n");
	for (size_t i = 0; i < N_VERBS; i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(f,
		"\nRun 'klangkc VERB --help' for a verb's options.\n\n"
		"Environment:\n"
		"  KLANGK_ETCD_ENDPOINTS  comma-separated etcd URLs "
		"(default http://127.0.0.1:2379)\n"
		"  KLANGK_ETCD_CACERT, KLANGK_ETCD_CERT, KLANGK_ETCD_KEY  TLS to etcd\n"
		"  KLANGK_ETCD_USERNAME, KLANGK_ETCD_PASSWORD_FILE (or _PASSWORD)\n"
		"                         your etcd user; etcd decides what you may write\n\n"
		"Exit codes:\n"
		"  0 success   1 invalid input or failed operation   2 usage\n"
		"  3 conflict (the object changed meanwhile)   4 not found\n"
		"  5 etcd unreachable\n");
}

int verb_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("klangkc %s\n", KLANGK_VERSION);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--etcd-endpoints") == 0 && i + 1 < argc) {
			cli_etcd_flag = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--etcd-endpoints=", 17) == 0) {
			cli_etcd_flag = argv[i] + 17;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "klangkc: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 < argc)
			cli_usage(argv[i + 1], false);
		else
			usage(stdout);
		return EXIT_OK;
	}
	if (http_global_init() < 0) {
		fprintf(stderr, "klangkc: cannot initialise libcurl\n");
		return EXIT_FAIL;
	}
	for (size_t v = 0; v < N_VERBS; v++)
		if (strcmp(verbs[v].name, argv[i]) == 0)
			return verbs[v].fn(argc - i, argv + i);
	fprintf(stderr, "klangkc: unknown verb \"%s\"\n\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
