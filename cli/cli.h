/*
 * klangkc — shared declarations of the CLI verbs.
 *
 * Each verb lives in its own file and has the signature of main(); the
 * table in main.c maps names to verbs and carries their help text.
 */
#ifndef KLANGK_CLI_H
#define KLANGK_CLI_H

#include "codec.h"
#include "etcd.h"

#include <jansson.h>
#include <stdbool.h>

/* Exit codes (documented in README.md and klangkc --help). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,      /* invalid input, or the operation failed */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_CONFLICT = 3,  /* the object changed meanwhile (stale write) */
	EXIT_NOTFOUND = 4,  /* no such object */
	EXIT_UNAVAILABLE = 5, /* cannot reach etcd */
};

#define CLI_MAX_FILE (16u * 1024 * 1024)

int verb_apply(int argc, char **argv);
int verb_get(int argc, char **argv);
int verb_delete(int argc, char **argv);
int verb_version(int argc, char **argv);

/* Print the verb's usage from the table (to stderr when err). */
void cli_usage(const char *verb, bool to_stderr);

/* Connect to etcd (KLANGK_ETCD_ENDPOINTS or --etcd-endpoints). new. */
int cli_etcd(struct etcd **out);
/* Map a negative errno from etcd to an exit code, printing e. */
int cli_fail(const char *what, int r, const struct err *e);
/* The namespace flag value, or "default". */
const char *cli_namespace(const char *flag);

/*
 * Read a file ("-" = stdin) of at most CLI_MAX_FILE bytes.  data: new.
 */
int cli_read_file(const char *path, char **data, size_t *len, struct err *e);

/*
 * The object a user sees: the stored spec object plus server metadata
 * (resourceVersion, generation) and the status written by the controller.
 * -ENOENT when the workspace does not exist.  out: new.
 */
int cli_get_object(struct etcd *c, const char *ns, const char *name,
		   json_t **out, struct err *e);
/* Same from already-read key-values (status may be NULL). new. */
json_t *cli_merge(const struct etcd_kv *spec, const struct etcd_kv *status);

extern const char *cli_etcd_flag;

#endif
