/*
 * cliopt — klangkc's options declared once.  Each verb has one table of
 * struct cliopt; getopt_long's arguments, the option block of `--help`,
 * the man page's option lists (main.c) and bash completion (completion.c)
 * are all made from it, so an option cannot be accepted without being
 * documented and completed.
 */
#ifndef KLANGK_CLIOPT_H
#define KLANGK_CLIOPT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

struct cliopt {
	const char *name;   /* the long option, without "--" */
	char flag;          /* its short option letter, 0 when it has none */
	int key;            /* what cliopt_next returns when flag is 0 */
	const char *arg;    /* the argument's name in help (NS, FILE), NULL: none */
	const char *values; /* completion words for the argument, space-separated;
			     * NULL: none, or file names when arg is FILE, PATH
			     * or DIR */
	const char *help;   /* what it does; "\n" continues on another line */
};

/* The options most verbs share, and the end of every table. */
#define CLIOPT_NAMESPACE { "namespace", 'n', 0, "NS", NULL, "the namespace (default \"default\")" }
#define CLIOPT_HELP { "help", 'h', 0, NULL, NULL, "print this help" }
#define CLIOPT_END { NULL, 0, 0, NULL, NULL, NULL }

#define CLIOPT_MAX 24

/* getopt_long's arguments, made from a table at the first cliopt_next. */
struct cliopt_parser {
	const struct cliopt *opts;  /* borrowed; set before the first call */
	bool in_order;              /* stop at the first argument (the verb) */
	bool ready, broken;
	struct option longopts[CLIOPT_MAX + 1];
	char shortopts[1 + 2 * CLIOPT_MAX + 1];
};

/*
 * The next option of argv, as getopt_long (optarg, optind): the option's
 * flag, or its key when it has no flag; '?' for an unknown option or a
 * missing argument (getopt printed which) and for a table that cannot be
 * used (too long, one value twice; printed; then -1); -1 after the last
 * option.
 * The first call restarts getopt's scan.
 */
int cliopt_next(struct cliopt_parser *p, int argc, char **argv);

/* The option's left column in help, "-f, --filename PATH" (at most len-1
 * bytes, always terminated). */
void cliopt_synopsis(const struct cliopt *o, char *out, size_t len);

/* "Options:" and one entry per option of the table, to f. */
void cliopt_print_help(FILE *f, const struct cliopt *opts);

#endif
