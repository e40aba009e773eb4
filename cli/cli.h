/*
 * klangkc — shared declarations of the CLI verbs.
 *
 * Each verb lives in its own file and has the signature of main(), with the
 * table of its options (cliopt.h); the table in main.c maps names to verbs
 * and carries their help text.  Those tables are the one source of getopt's
 * options, --help, `klangkc help`, the man page and bash completion.
 */
#ifndef KLANGK_CLI_H
#define KLANGK_CLI_H

#include "cliopt.h"
#include "codec.h"
#include "etcd.h"
#include "keys.h"
#include "selector.h"
#include "status.h"
#include "table.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* Exit codes (documented in README.md, the man page and klangkc --help).
 * `diff` uses 1 for "there are differences" and 2 and above for errors. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,      /* invalid input, or the operation failed */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_CONFLICT = 3,  /* the object changed meanwhile (stale write) */
	EXIT_NOTFOUND = 4,  /* no such object (or member) */
	EXIT_UNAVAILABLE = 5, /* cannot reach etcd */
};

#define CLI_MAX_FILE (16u * 1024 * 1024)
/* etcd's default --max-txn-ops: the most puts (and compares) per txn. */
#define CLI_TXN_MAX 128
/* Read-modify-write attempts before a write gives up with a conflict. */
#define CLI_MAX_ATTEMPTS 30
#define CLI_RESTARTED_AT "klangk.io/restartedAt"

struct cli_verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *usage;    /* synopsis line, blank line, what it does */
	const struct cliopt *opts; /* its options */
};

/* The verb table (main.c). */
const struct cli_verb *cli_verbs(size_t *n);
/* The options of klangkc itself, before the verb (main.c). */
const struct cliopt *cli_global_opts(void);

/* The options shared by several verbs' tables. */
#define CLI_OPT_FILENAME { "filename", 'f', 0, "PATH", NULL, \
	"file, directory (*.yaml, *.yml, *.json) or - (stdin);\n" \
	"may be repeated" }
#define CLI_OPT_RECURSIVE { "recursive", 'R', 0, NULL, NULL, \
	"descend into subdirectories of -f's directories" }
#define CLI_OPT_DRY_RUN { "dry-run", 0, 'd', "MODE", "none client server", \
	"none (default) writes; client validates only, without\n" \
	"etcd; server also reads etcd and merges, writing nothing" }
#define CLI_OPT_SELECTOR(what) { "selector", 'l', 0, "SEL", NULL, what }
/* --timeout's key: a value no short option letter has (exec has -t). */
#define CLI_KEY_TIMEOUT 256
#define CLI_OPT_TIMEOUT(what) { "timeout", 0, CLI_KEY_TIMEOUT, "DURATION", NULL, what }
/* The gateway of the verbs that act inside a workspace (cli/gwclient.h). */
#define CLI_KEY_SERVER 257
#define CLI_OPT_SERVER { "server", 0, CLI_KEY_SERVER, "URL", NULL, \
	"the gateway (KLANGK_GATEWAY_URL; default\nhttp://127.0.0.1:8990)" }

/* Each verb's options (in the verb's file; common.c: cli_opts_names, the
 * options of the verbs that take only -n and --help). */
extern const struct cliopt cli_opts_apply[], cli_opts_create[], cli_opts_get[],
	cli_opts_delete[], cli_opts_diff[], cli_opts_wait[], cli_opts_exec[],
	cli_opts_export[], cli_opts_import[], cli_opts_share[], cli_opts_unshare[],
	cli_opts_members[], cli_opts_names[], cli_opts_logs[], cli_opts_top[];

int verb_apply(int argc, char **argv);
int verb_create(int argc, char **argv);
int verb_get(int argc, char **argv);
int verb_describe(int argc, char **argv);
int verb_delete(int argc, char **argv);
int verb_diff(int argc, char **argv);
int verb_wait(int argc, char **argv);
int verb_edit(int argc, char **argv);
int verb_start(int argc, char **argv);
int verb_stop(int argc, char **argv);
int verb_restart(int argc, char **argv);
int verb_exec(int argc, char **argv);
int verb_export(int argc, char **argv);
int verb_import(int argc, char **argv);
int verb_touch(int argc, char **argv);
int verb_logs(int argc, char **argv);
int verb_top(int argc, char **argv);
int verb_url(int argc, char **argv);
int verb_share(int argc, char **argv);
int verb_unshare(int argc, char **argv);
int verb_members(int argc, char **argv);
int verb_version(int argc, char **argv);
int verb_completion(int argc, char **argv);
int verb_help(int argc, char **argv);

/* Print the verb's usage and options from the tables (to stderr when
 * to_stderr). */
void cli_usage(const char *verb, bool to_stderr);
/* The options of a verb that takes none but --help: the exit code after
 * printing its help or a usage error, or -1 to go on (optind: the first
 * argument). */
int cli_help_only(const char *verb, int argc, char **argv);

/* ---- common.c ---- */

extern const char *cli_etcd_flag;

/* Connect to etcd (KLANGK_ETCD_ENDPOINTS or --etcd-endpoints). new. */
int cli_etcd(struct etcd **out);
/* Print "error: what: reason" and map a negative errno to an exit code:
 * -EAGAIN conflict, -ENOENT not found, connection errors unavailable. */
int cli_fail(const char *what, int r, const struct err *e);
/* The namespace flag value, or "default". */
const char *cli_namespace(const char *flag);
/* Check a namespace / name argument, printing why not (false). */
bool cli_check_ns(const char *ns);
bool cli_check_name(const char *name);
/*
 * The options of the verbs that take only -n and --help (cli_opts_names),
 * then between min and max arguments (max 0: any); the first n_names of them (-1: all) are
 * workspace names.  Prints what is wrong.  Returns -1 to go on (*ns and
 * *first, the index of the first argument, set) or the exit code.
 */
int cli_name_args(const char *verb, int argc, char **argv, int min, int max,
		  int n_names, const char **ns, int *first);
/* Print "error: where: LINE suffix" for each line of a validation message. */
void cli_print_problems(const char *where, const char *msg, const char *suffix);
/*
 * One transaction: run op (stolen) if key's mod_revision is still mod (0:
 * absent).  *ok: whether it ran.  A compare that fails to build is never
 * sent as an unconditional write.
 */
int cli_txn_if(struct etcd *c, const char *key, int64_t mod, json_t *op,
	       bool *ok, struct err *e);
/* Parse --selector text (NULL → NULL selector), printing errors. */
int cli_selector(const char *text, struct selector **out);

enum cli_dry { DRY_NONE, DRY_CLIENT, DRY_SERVER };
/* --dry-run=none|client|server; prints the problem (-1). */
int cli_parse_dry_run(const char *s, int *out);

/* A mkstemp/mkdtemp template in $TMPDIR (default /tmp):
 * DIR/<name>XXXXXX<suffix>, in out (len bytes).  -ENAMETOOLONG when it does
 * not fit. */
int cli_temp_template(const char *name, const char *suffix, char *out, size_t len);

/* Write all of p to fd (retrying short writes); 0 or -errno. */
int cli_write_all(int fd, const char *p, size_t n);
/* An unnamed temporary file (O_TMPFILE) in dir, gone when closed: the fd
 * or -errno. */
int cli_temp_fd(const char *dir);

/* Read a file ("-" = stdin) of at most CLI_MAX_FILE bytes.  data: new. */
int cli_read_file(const char *path, char **data, size_t *len, struct err *e);

/* A stored value (compact JSON, or YAML put there by hand) as an object.
 * new, or NULL when it is not a mapping. */
json_t *cli_parse_stored(const char *value, size_t len);

/*
 * The object a user sees: the stored object plus server metadata
 * (resourceVersion = mod_revision, generation = version) and the status
 * written by the controller.  spec may be NULL when only the status
 * remains (the controller is tearing the workspace down): the view then
 * has phase Terminating.  ns/name name the object in that case.  new.
 */
json_t *cli_view(const char *ns, const char *name, const struct etcd_kv *spec,
		 const struct etcd_kv *status);
/* cli_view of one workspace read from etcd; -ENOENT when neither key
 * exists.  out: new. */
int cli_get_object(struct etcd *c, const char *ns, const char *name,
		   json_t **out, struct err *e);
/* Every workspace of ns (NULL = all namespaces) as views, in key order,
 * matching sel (may be NULL).  *rev: the store revision of the read.
 * Without full, the stored objects are not parsed (only what the table
 * shows: name and namespace from the key, revisions, status), which is
 * most of the time of a large list; sel needs full. */
int cli_list_objects(struct etcd *c, const char *ns, const struct selector *sel,
		     bool full, json_t *list, int64_t *rev, struct err *e);

/* The store's current revision (to watch from revision + 1), read with a
 * get of `key` (borrowed), which need not exist: pick one the user may
 * read (a workspace's spec key), since etcd's roles may refuse others. */
int cli_revision(struct etcd *c, const char *key, int64_t *rev, struct err *e);

/* Sleep a random while, up to 2^attempt ms but at most cap_ms, before
 * attempt `attempt` (from 1) of a retry. */
void cli_backoff(int attempt, unsigned cap_ms);
#define CLI_RETRY_CAP_MS 100    /* compare failures: retry soon */
#define CLI_WATCH_CAP_MS 5000   /* a broken watch stream: etcd may be down */

/* ---- output.c ---- */

enum cli_fmt { FMT_TABLE, FMT_WIDE, FMT_JSON, FMT_YAML, FMT_NAME };

int cli_parse_fmt(const char *s, enum cli_fmt *out);
/* Print a list of views; single: one object asked for by name (printed
 * bare, not wrapped in a List). */
int cli_print_list(const json_t *list, enum cli_fmt fmt, bool all_ns, bool single);
/* The table of get (with its header row) for fmt, or NULL (*out) when fmt
 * is not a table.  out: new. */
int cli_view_table(enum cli_fmt fmt, bool all_ns, struct table **out);
/* One view: a row of t (table formats: printed at table_flush), or printed
 * at once (the other formats; t may be NULL). */
int cli_print_row(struct table *t, const json_t *obj, enum cli_fmt fmt, bool all_ns);
/* One object as YAML or JSON (JSON when json), then a newline. */
int cli_print_value(const json_t *v, bool json);
/* A JSON value's string member, or dflt. */
const char *cli_jstr(const json_t *o, const char *k, const char *dflt);
/* The status of an object built by cli_view (lib/status.h), empty when it
 * has none; status_clear it. */
void cli_status(const json_t *obj, struct status *out);
/* The name of its container as the status records it; -ENOENT when the
 * controller has not made one yet, -ENAMETOOLONG. */
int cli_container(const json_t *obj, char *buf, size_t len);

/* ---- manifest.c ---- */

struct cli_item {
	char *where;      /* "file[doc]" for messages */
	char *ns;
	char *name;
	json_t *obj;      /* owned: the canonical object (ws_canonical) */
	int64_t rv;       /* metadata.resourceVersion of the file, 0 if none */
};

struct cli_items {
	struct cli_item *v;
	size_t n;
};

struct cli_paths {
	char **v;
	size_t n;
};

int cli_paths_add(struct cli_paths *p, const char *path);

/* The file options of apply, create, diff and delete. */
struct cli_file_opts {
	struct cli_paths paths;   /* -f, --filename (clear with cli_paths_clear) */
	bool recursive;           /* -R */
	const char *ns_flag;      /* -n, --namespace */
	int dry;                  /* --dry-run (key 'd'): enum cli_dry */
};

/* Take opt (from getopt_long) if it is one of those: EXIT_OK when taken,
 * -1 when it is not one of them, else the exit code of its error. */
int cli_file_opt(struct cli_file_opts *fo, int opt, const char *arg);
void cli_paths_clear(struct cli_paths *p);
void cli_items_clear(struct cli_items *it);

/*
 * Read every document of every file (directories expanded to their
 * *.yaml, *.yml and *.json files, sorted; -R descends), validate each,
 * and collect the valid ones.  Problems are printed ("error: file[doc]:
 * field: message") and counted in *bad; the same object twice is a
 * problem too.  Returns <0 only for a failure that is not the input's
 * (memory).
 */
int cli_load_manifests(const struct cli_paths *paths, bool recursive,
		       const char *ns_flag, struct cli_items *out, int *bad);
/* The result lines of a client dry run. */
void cli_print_valid(const struct cli_items *items);

/* ---- plan.c: what apply and create write, and writing it ---- */

enum cli_mode { MODE_APPLY, MODE_CREATE, MODE_CREATE_SAVE };
enum cli_change { CHANGE_NONE, CHANGE_CREATE, CHANGE_UPDATE };

struct cli_plan_entry {
	struct cli_item *it;   /* borrowed */
	bool exists;
	int64_t mod;           /* live mod_revision, 0 when absent */
	json_t *live;          /* owned: the stored object, NULL if absent */
	json_t *next;          /* owned: what will be stored */
	enum cli_change change;
};

struct cli_plan {
	struct cli_plan_entry *v;
	size_t n;
};

void cli_plan_clear(struct cli_plan *p);
/*
 * The common start of apply, create and diff: read and validate every file
 * (printing problems; "nothing was <what>"), then, unless client_only,
 * connect, read the live objects and compute the plan.  items, plan and *c
 * are the caller's to clear and free (whatever the result).  Returns an
 * exit code.
 */
int cli_plan_prepare(const struct cli_paths *paths, bool recursive,
		     const char *ns_flag, enum cli_mode mode, bool client_only,
		     const char *what, struct cli_items *items,
		     struct cli_plan *plan, struct etcd **c);
/* Read the live objects of items, one range per namespace. */
int cli_plan_read(struct etcd *c, struct cli_items *items, struct cli_plan *p,
		  struct err *e);
/* Compute what each entry will store, validating the result; prints the
 * problems.  Returns an exit code (EXIT_OK when all is well). */
int cli_plan_compute(struct cli_plan *p, enum cli_mode mode);
/* Write the plan in transactions of up to CLI_TXN_MAX objects, each
 * comparing every object's mod_revision; an object that changed meanwhile
 * is read again, merged again and written again (up to CLI_MAX_ATTEMPTS).
 * Prints kubectl's result lines.  dry: print only ("server dry run").
 * Returns an exit code. */
int cli_plan_write(struct etcd *c, struct cli_plan *p, enum cli_mode mode,
		   bool dry);

/* ---- update.c: targeted read-modify-write of one object ---- */

/* Change obj in place; return 0 changed, 1 unchanged, <0 error (say why
 * in e; -ENOENT for a missing member and the like). */
typedef int (*cli_mutate_fn)(json_t *obj, void *ud, struct err *e);

/*
 * Read the object, call fn, validate, and write it back with a compare on
 * its mod_revision; on a conflict, read again and call fn again (up to
 * CLI_MAX_ATTEMPTS, then -EAGAIN).  -ENOENT when the workspace does not
 * exist.  *changed: whether anything was written.
 */
int cli_update(struct etcd *c, const char *ns, const char *name,
	       cli_mutate_fn fn, void *ud, bool *changed, struct err *e);


/* ---- wait.c ---- */

enum cli_wait_kind { WAIT_CONDITION, WAIT_DELETE };

struct cli_wait_target {
	char ns[64];
	char name[64];
};

/*
 * Wait, with an etcd watch, until every target satisfies the condition
 * (type = value, with observedGeneration caught up with the generation)
 * or is gone (both its keys deleted), or timeout_ms passes.  Prints one
 * line per target as it is satisfied.  Returns an exit code (EXIT_FAIL on
 * timeout).
 */
int cli_wait(struct etcd *c, const struct cli_wait_target *t, size_t n,
	     enum cli_wait_kind kind, const char *type, const char *value,
	     long timeout_ms, bool quiet);
/* "30s", "2m", "500ms", "1h", or bare seconds; -1 on error. */
long cli_parse_duration(const char *s);

#endif
