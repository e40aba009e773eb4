/* cliopt — getopt_long and --help made from an option table (cliopt.h). */
#include "cliopt.h"

#include <string.h>

/* Help's second column starts here; a longer left column gets a line of
 * its own. */
#define HELP_COL 24

/* The value cliopt_next returns for o. */
static int value_of(const struct cliopt *o)
{
	return o->flag ? o->flag : o->key;
}

/* Fill p's getopt arguments from its table; -1 (printed) when the table
 * is too long or two options would return the same value. */
static int build(struct cliopt_parser *p)
{
	size_t n = 0, s = 0;

	if (p->in_order)
		p->shortopts[s++] = '+';
	for (const struct cliopt *o = p->opts; o->name; o++, n++) {
		if (n == CLIOPT_MAX) {
			fprintf(stderr, "klangkc: internal error: more than %d options\n", CLIOPT_MAX);
			return -1;
		}
		for (const struct cliopt *q = p->opts; q < o; q++)
			if (value_of(q) == value_of(o)) {
				fprintf(stderr, "klangkc: internal error: --%s and --%s share "
						"a value\n", q->name, o->name);
				return -1;
			}
		p->longopts[n] = (struct option){ o->name, o->arg ? required_argument : no_argument,
						  NULL, value_of(o) };
		if (o->flag) {
			p->shortopts[s++] = o->flag;
			if (o->arg)
				p->shortopts[s++] = ':';
		}
	}
	p->longopts[n] = (struct option){ 0 };
	p->shortopts[s] = '\0';
	p->ready = true;
	/* 0, not 1: glibc then reads the ordering ('+') again, and a scan
	 * of another argv (main's, then the verb's) starts afresh. */
	optind = 0;
	return 0;
}

int cliopt_next(struct cliopt_parser *p, int argc, char **argv)
{
	if (p->broken)
		return -1;
	if (!p->ready && build(p) < 0) {
		p->broken = true;
		return '?';
	}
	/* getopt prints what is wrong, after argv[0] (the verb). */
	return getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
}

void cliopt_synopsis(const struct cliopt *o, char *out, size_t len)
{
	const char *sp = o->arg ? " " : "", *arg = o->arg ? o->arg : "";

	if (o->flag)
		snprintf(out, len, "-%c, --%s%s%s", o->flag, o->name, sp, arg);
	else
		snprintf(out, len, "--%s%s%s", o->name, sp, arg);
}

void cliopt_print_help(FILE *f, const struct cliopt *opts)
{
	fprintf(f, "\nOptions:\n");
	for (const struct cliopt *o = opts; o->name; o++) {
		char left[128];
		const char *h = o->help;
		int w;

		cliopt_synopsis(o, left, sizeof(left));
		w = fprintf(f, "  %s", left);
		/* One help line per "\n"-separated part, the first beside
		 * the option when it fits. */
		if (w > HELP_COL - 2) {
			fputc('\n', f);
			w = 0;
		}
		for (;;) {
			const char *nl = strchr(h, '\n');
			int n = nl ? (int)(nl - h) : (int)strlen(h);

			fprintf(f, "%*s%.*s\n", HELP_COL - w, "", n, h);
			w = 0;
			if (!nl)
				break;
			h = nl + 1;
		}
	}
}
