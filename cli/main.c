/*
 * klangkc — the command-line client for Klangk Workspaces, in kubectl's
 * habits.  This file holds the verb table and klangkc's own options; each
 * verb lives in its own file with the table of its options (cliopt.h).
 * Those tables are the one source of `klangkc --help`, `klangkc VERB
 * --help`, `klangkc help --man` (the man page, docs/klangkc.1, is its
 * output) and `klangkc completion bash`.
 */
#include "cli.h"

#include "http.h"

#include <stdio.h>
#include <string.h>

#ifndef KLANGK_VERSION
#define KLANGK_VERSION "0.1.0"
#endif

/* The options of klangkc itself, before the verb. */
static const struct cliopt opts_global[] = {
	{ "etcd-endpoints", 0, 'e', "URLS", NULL,
	  "comma-separated etcd URLs (default\n"
	  "KLANGK_ETCD_ENDPOINTS, else http://127.0.0.1:2379)" },
	{ "version", 0, 'V', NULL, NULL, "print the version" },
	CLIOPT_HELP,
	CLIOPT_END,
};

/* The options of version and completion. */
static const struct cliopt opts_help_only[] = {
	CLIOPT_HELP,
	CLIOPT_END,
};

/* The options of help. */
static const struct cliopt opts_help[] = {
	{ "man", 0, 'm', NULL, NULL, "print the man page (troff; docs/klangkc.1 is this)" },
	{ "options", 0, 'O', NULL, NULL,
	  "print every verb's options, one a line:\n"
	  "VERB -F|- --NAME ARG|- (klangkc: its own options)" },
	CLIOPT_HELP,
	CLIOPT_END,
};

/* The verbs: name, function, summary, then the synopsis and what it does
 * (--help and the man page add the options from the verb's table). */
static const struct cli_verb verbs[] = {
	{ "apply", verb_apply, "Create or update workspaces from YAML or JSON files",
	  "klangkc apply -f FILE|DIR|- [-f ...] [-R] [-n NS] [--dry-run=none|client|server]\n"
	  "              [--prune -l SELECTOR [-A]]\n"
	  "\n"
	  "  A three-way merge with the last applied configuration (the annotation\n"
	  "  klangk.io/last-applied-configuration): fields the file sets win, fields\n"
	  "  removed from the file since the last apply are removed, fields only\n"
	  "  other writers set (start/stop, share) are kept. Lists are replaced whole.\n"
	  "  Every document of every file, and every merged result, is validated\n"
	  "  before anything is written; one invalid document means nothing is\n"
	  "  written. Writes are transactions comparing each object's revision; an\n"
	  "  object changed meanwhile is read and merged again. A file that sets\n"
	  "  metadata.resourceVersion is written only over that revision (exit 3).\n",
	  cli_opts_apply },
	{ "create", verb_create, "Create workspaces from files; existing ones are an error",
	  "klangkc create -f FILE|DIR|- [-R] [-n NS] [--dry-run=...] [--save-config]\n"
	  "\n"
	  "  Nothing is written when any object already exists or is invalid.\n",
	  cli_opts_create },
	{ "get", verb_get, "Show workspaces",
	  "klangkc get [NAME...] [-n NS | -A] [-l SELECTOR] [-o FORMAT] [--watch]\n"
	  "\n"
	  "  A table by default, its columns as wide as their contents.\n",
	  cli_opts_get },
	{ "describe", verb_describe, "Show a workspace in detail",
	  "klangkc describe NAME... [-n NS]\n"
	  "\n"
	  "  Spec, status, conditions, ports and URLs, the container as the\n"
	  "  controller last saw it (state, exit code, start and finish times, from\n"
	  "  the status: klangkc does not ask the engine), the volumes it owns (named\n"
	  "  after KLANGK_INSTANCE_ID), and recent events.\n",
	  cli_opts_names },
	{ "delete", verb_delete, "Delete workspaces",
	  "klangkc delete NAME...|-f FILE|DIR|-|-l SELECTOR [-R] [-n NS]\n"
	  "               [--ignore-not-found] [--wait [--timeout=60s]]\n"
	  "\n"
	  "  Removes the desired object; the controller then removes the container,\n"
	  "  volumes (per reclaimPolicy), port leases and finally the status.\n",
	  cli_opts_delete },
	{ "diff", verb_diff, "Show what apply would change",
	  "klangkc diff -f FILE|DIR|- [-R] [-n NS]\n"
	  "\n"
	  "  A unified diff of the live objects against the objects apply would\n"
	  "  store. KLANGKC_EXTERNAL_DIFF replaces \"diff -u -N\".\n"
	  "  Exit 0: no differences; 1: differences; 2 or more: error.\n",
	  cli_opts_diff },
	{ "wait", verb_wait, "Wait for a condition or for deletion",
	  "klangkc wait NAME...|-l SELECTOR --for=condition=TYPE[=VALUE]|delete\n"
	  "             [--timeout=30s] [-n NS]\n"
	  "\n"
	  "  Watches etcd (no polling). A condition counts once the controller has\n"
	  "  observed the current generation. delete: both the workspace and its\n"
	  "  status (the controller's finalizer) are gone. Exit 1 on timeout.\n",
	  cli_opts_wait },
	{ "edit", verb_edit, "Edit a workspace in $EDITOR",
	  "klangkc edit NAME [-n NS]\n"
	  "\n"
	  "  Opens the stored object as YAML in $KLANGKC_EDITOR, $EDITOR or vi. The\n"
	  "  result is validated and written only if the workspace did not change\n"
	  "  meanwhile (else exit 3); a refused edit keeps the file.\n",
	  cli_opts_names },
	{ "start", verb_start, "Start workspaces (spec.running: true)",
	  "klangkc start NAME... [-n NS]\n"
	  "\n"
	  "  Also records activity, which starts a workspace that its idle timeout\n"
	  "  stopped.\n",
	  cli_opts_names },
	{ "stop", verb_stop, "Stop workspaces (spec.running: false)",
	  "klangkc stop NAME... [-n NS]\n"
	  "\n"
	  "  The container stops; home, work and the leased ports are kept.\n",
	  cli_opts_names },
	{ "restart", verb_restart, "Restart workspaces (recreate the container)",
	  "klangkc restart NAME... [-n NS]\n"
	  "\n"
	  "  Sets the annotation klangk.io/restartedAt and spec.running: true; the\n"
	  "  controller recreates the container (home and work survive).\n",
	  cli_opts_names },
	{ "exec", verb_exec, "Open a terminal in a workspace, or run a command",
	  "klangkc exec NAME [-n NS] [-t|-T] [--timeout DURATION] [--server URL] [-- CMD [ARG...]]\n"
	  "\n"
	  "  Without CMD, the workspace's terminal: spec.command if set, else a tmux\n"
	  "  session \"main\" with a login shell (attached again by the next exec).\n"
	  "  It runs as the image's workspace user in the home, /home/NS. With a\n"
	  "  terminal the session is interactive (raw mode, window size followed);\n"
	  "  else stdout and stderr stay apart and stdin's end reaches CMD. The exit\n"
	  "  status is CMD's. Counts as activity; a workspace stopped for idleness\n"
	  "  is started and waited for (--timeout, default 60s). Through the gateway,\n"
	  "  as the etcd user: the owner and members who work in it (not spectators).\n",
	  cli_opts_exec },
	{ "logs", verb_logs, "Print a workspace container's output",
	  "klangkc logs NAME [-n NS] [-f] [--tail N] [--server URL]\n"
	  "\n"
	  "  Through the gateway, as the etcd user: the owner and every member.\n",
	  cli_opts_logs },
	{ "top", verb_top, "Show a workspace's CPU and memory use",
	  "klangkc top NAME [-n NS] [--server URL]\n"
	  "\n"
	  "  One sample from the engine's stats, through the gateway, as the etcd\n"
	  "  user: the owner and every member.\n",
	  cli_opts_top },
	{ "touch", verb_touch, "Record activity on workspaces (idle timeout)",
	  "klangkc touch NAME... [-n NS]\n"
	  "\n"
	  "  Writes the current time to /klangk/activity/NS/NAME: the idle timeout\n"
	  "  counts from it, and a workspace stopped for idleness starts again.\n",
	  cli_opts_names },
	{ "export", verb_export, "Write a workspace and its files to an archive",
	  "klangkc export NAME -o FILE.tar.gz [-n NS] [--server URL]\n"
	  "\n"
	  "  The archive holds workspace.yaml (apiVersion, kind, name, namespace,\n"
	  "  labels, spec) and home/ (the home, with the work directory as\n"
	  "  home/work/), read by the gateway from the workspace's container (as the\n"
	  "  etcd user: the owner and working members). FILE appears only once\n"
	  "  complete; progress shows on a terminal. Stop a workspace first for a\n"
	  "  consistent copy of files that change.\n",
	  cli_opts_export },
	{ "import", verb_import, "Create a workspace from an export archive",
	  "klangkc import FILE --name NEW [-n NS] [--max-size SIZE] [--timeout DURATION]\n"
	  "               [--server URL]\n"
	  "\n"
	  "  Checks everything first, and creates nothing when anything is wrong:\n"
	  "  the size, every member (no absolute path, no .., no link out of the\n"
	  "  home, no device; set-uid bits dropped), the object by apply's rules\n"
	  "  (reserved environment variables dropped with a warning) and the image.\n"
	  "  The workspace is created stopped, its files restored into its new\n"
	  "  container (through the gateway, with progress on a terminal), then\n"
	  "  started as the archive says. Interrupted, the same command run again\n"
	  "  finishes it.\n",
	  cli_opts_import },
	{ "url", verb_url, "Print a workspace's hosted-app URLs",
	  "klangkc url NAME [PORT] [-n NS]\n"
	  "\n"
	  "  PORT: a container port (8000..8004) or a leased host port.\n",
	  cli_opts_names },
	{ "share", verb_share, "Add a member or change a member's role",
	  "klangkc share NAME USER [--role=owner|collaborator|coder|spectator] [-n NS]\n",
	  cli_opts_share },
	{ "unshare", verb_unshare, "Remove a member",
	  "klangkc unshare NAME USER [-n NS]\n"
	  "\n"
	  "  Exit 4 when USER is not a member.\n",
	  cli_opts_unshare },
	{ "members", verb_members, "List a workspace's members",
	  "klangkc members NAME [-n NS] [-o table|json|yaml]\n",
	  cli_opts_members },
	{ "version", verb_version, "Print the version", "klangkc version\n", opts_help_only },
	{ "completion", verb_completion, "Print a shell completion script",
	  "klangkc completion bash\n"
	  "\n"
	  "  source <(klangkc completion bash)\n",
	  opts_help_only },
	{ "help", verb_help, "Help about a verb (help --man: the man page)",
	  "klangkc help [VERB | --man | --options]\n",
	  opts_help },
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

const struct cli_verb *cli_verbs(size_t *n)
{
	*n = N_VERBS;
	return verbs;
}

static const char exit_codes[] =
	"  0  success\n"
	"  1  invalid input, or the operation failed (also: wait timed out)\n"
	"  2  bad command line\n"
	"  3  conflict: the object changed meanwhile (a stale edit, a stale\n"
	"     metadata.resourceVersion, or a write that kept losing the race)\n"
	"  4  not found (workspace, or member for unshare)\n"
	"  5  etcd unreachable\n"
	"  diff: 0 no differences, 1 differences, 2 and above errors\n";

const struct cliopt *cli_global_opts(void)
{
	return opts_global;
}

static const struct cli_verb *find_verb(const char *name)
{
	for (size_t i = 0; i < N_VERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

void cli_usage(const char *verb, bool to_stderr)
{
	FILE *f = to_stderr ? stderr : stdout;
	const struct cli_verb *v = find_verb(verb);

	if (!v)
		return;
	fprintf(f, "%s\n\nUsage:\n  %s", v->summary, v->usage);
	cliopt_print_help(f, v->opts);
}

static void usage(FILE *f)
{
	fprintf(f,
		"klangkc — manage Klangk workspaces\n\n"
		"Usage: klangkc [--etcd-endpoints URLS] VERB [ARGS...]\n\n"
		"Verbs:\n");
	for (size_t i = 0; i < N_VERBS; i++)
		fprintf(f, "  %-11s %s\n", verbs[i].name, verbs[i].summary);
	cliopt_print_help(f, opts_global);
	fprintf(f,
		"\nRun 'klangkc VERB --help' for a verb's options.\n\n"
		"Errors name the file, the document (from 0) and the field:\n"
		"  error: ws.yaml[2]: spec.mounts[1].target: must be an absolute path\n\n"
		"Environment:\n"
		"  KLANGK_ETCD_ENDPOINTS  comma-separated etcd URLs "
		"(default http://127.0.0.1:2379)\n"
		"  KLANGK_ETCD_CACERT, KLANGK_ETCD_CERT, KLANGK_ETCD_KEY  TLS to etcd\n"
		"  KLANGK_ETCD_USERNAME, KLANGK_ETCD_PASSWORD_FILE (or _PASSWORD)\n"
		"                         your etcd user; etcd decides what you may write\n\n"
		"Exit codes:\n%s", exit_codes);
}

/* Print s with troff's special characters escaped. */
static void troff(const char *s)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", stdout);
		if (*s == '\\')
			fputs("\\e", stdout);
		else if (*s == '-')
			fputs("\\-", stdout);
		else
			putchar(*s);
		bol = *s == '\n';
	}
}

/* A table's options as a man page's tagged paragraphs. */
static void man_options(const struct cliopt *opts)
{
	for (const struct cliopt *o = opts; o->name; o++) {
		printf(".TP\n");
		if (o->flag)
			printf("\\fB\\-%c\\fR, ", o->flag);
		printf("\\fB");
		troff("--");
		troff(o->name);
		printf("\\fR");
		if (o->arg) {
			printf(" \\fI");
			troff(o->arg);
			printf("\\fR");
		}
		printf("\n");
		troff(o->help);
		printf("\n");
	}
}

/* The man page, generated from the tables (docs/klangkc.1 is this). */
static void man(void)
{
	printf(".\\\" Generated by `klangkc help --man` from the verb and option tables of cli/.\n"
	       ".TH KLANGKC 1 \"\" \"klangkc " KLANGK_VERSION "\" \"Klangk\"\n"
	       ".SH NAME\nklangkc \\- manage Klangk workspaces\n"
	       ".SH SYNOPSIS\n.B klangkc\n[\\-\\-etcd\\-endpoints \\fIURLS\\fR] "
	       "\\fIVERB\\fR [\\fIARGS\\fR...]\n"
	       ".SH DESCRIPTION\n"
	       "klangkc reads and writes Workspace objects (klangk.io/v1alpha1) in etcd,\n"
	       "in kubectl's habits. Workspaces live at /klangk/workspaces/\\fINS\\fR/"
	       "\\fINAME\\fR;\nthe controller writes their status at /klangk/status/"
	       "\\fINS\\fR/\\fINAME\\fR.\nEvery write is an etcd transaction comparing "
	       "the object's mod_revision,\nshown as metadata.resourceVersion.\n"
	       ".SH OPTIONS\n");
	man_options(opts_global);
	printf(".SH VERBS\n");
	for (size_t i = 0; i < N_VERBS; i++) {
		printf(".SS %s\n", verbs[i].name);
		troff(verbs[i].summary);
		printf(".\n.PP\n.nf\n");
		troff(verbs[i].usage);
		printf(".fi\n");
		man_options(verbs[i].opts);
	}
	printf(".SH ERRORS\nEvery problem names the file, the document index "
	       "(from 0) and the field path:\n.PP\n.nf\n"
	       "error: ws.yaml[2]: spec.mounts[1].target: must be an absolute path\n"
	       "error: 1 invalid document; nothing was applied\n.fi\n"
	       ".SH EXIT STATUS\n.nf\n");
	troff(exit_codes);
	printf(".fi\n.SH ENVIRONMENT\n.TP\n.B KLANGK_ETCD_ENDPOINTS\n"
	       "comma\\-separated etcd URLs (default http://127.0.0.1:2379)\n"
	       ".TP\n.B KLANGK_ETCD_CACERT, KLANGK_ETCD_CERT, KLANGK_ETCD_KEY\nTLS to etcd\n"
	       ".TP\n.B KLANGK_ETCD_USERNAME, KLANGK_ETCD_PASSWORD_FILE, KLANGK_ETCD_PASSWORD\n"
	       "your etcd user (password from the file, or the variable); etcd's roles "
	       "decide what you may write\n"
	       ".TP\n.B KLANGK_INSTANCE_ID\nnames of containers and volumes (describe)\n"
	       ".TP\n.B DOCKER_HOST\nthe engine exec, export and import use\n"
	       ".TP\n.B KLANGKC_EDITOR, EDITOR\nthe editor of edit\n"
	       ".TP\n.B KLANGKC_EXTERNAL_DIFF\nthe diff program of diff\n"
	       ".SH SEE ALSO\ncrds/workspace.yaml (the schema), README.md\n");
}

/* `help --options`: one line per option of every table, for scripts (the
 * test that every option is accepted, documented and completed). */
static void dump_options(const char *verb, const struct cliopt *opts)
{
	for (const struct cliopt *o = opts; o->name; o++) {
		if (o->flag)
			printf("%s -%c --%s %s\n", verb, o->flag, o->name, o->arg ? o->arg : "-");
		else
			printf("%s - --%s %s\n", verb, o->name, o->arg ? o->arg : "-");
	}
}

int verb_help(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = opts_help };
	int opt;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'm':
			man();
			return EXIT_OK;
		case 'O':
			dump_options("klangkc", opts_global);
			for (size_t i = 0; i < N_VERBS; i++)
				dump_options(verbs[i].name, verbs[i].opts);
			return EXIT_OK;
		case 'h':
			cli_usage("help", false);
			return EXIT_OK;
		default:
			cli_usage("help", true);
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		cli_usage("help", true);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		if (!find_verb(argv[optind])) {
			fprintf(stderr, "klangkc: unknown verb \"%s\"\n", argv[optind]);
			return EXIT_USAGE;
		}
		cli_usage(argv[optind], false);
		return EXIT_OK;
	}
	usage(stdout);
	return EXIT_OK;
}

/* The options of verbs that take none but --help (version, completion):
 * EXIT_OK after printing the help, EXIT_USAGE for anything else, -1 to go
 * on with the arguments from optind. */
int cli_help_only(const char *verb, int argc, char **argv)
{
	struct cliopt_parser p = { .opts = opts_help_only };
	int opt = cliopt_next(&p, argc, argv);

	if (opt == 'h') {
		cli_usage(verb, false);
		return EXIT_OK;
	}
	if (opt != -1) {
		cli_usage(verb, true);
		return EXIT_USAGE;
	}
	return -1;
}

int verb_version(int argc, char **argv)
{
	int r = cli_help_only("version", argc, argv);

	if (r >= 0)
		return r;
	if (optind < argc) {
		cli_usage("version", true);
		return EXIT_USAGE;
	}
	printf("klangkc %s\n", KLANGK_VERSION);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct cliopt_parser p = { .opts = opts_global, .in_order = true };
	int opt;

	while ((opt = cliopt_next(&p, argc, argv)) != -1) {
		switch (opt) {
		case 'e':
			cli_etcd_flag = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("klangkc %s\n", KLANGK_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (http_global_init() < 0) {
		fprintf(stderr, "klangkc: cannot initialise libcurl\n");
		return EXIT_FAIL;
	}
	for (size_t v = 0; v < N_VERBS; v++)
		if (strcmp(verbs[v].name, argv[optind]) == 0)
			return verbs[v].fn(argc - optind, argv + optind);
	fprintf(stderr, "klangkc: unknown verb \"%s\"\n\n", argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}
