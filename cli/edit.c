/*
 * klangkc edit — open a workspace in $EDITOR as YAML and store the result.
 *
 * The object is read with its mod_revision; the edited object is
 * validated and written with a transaction comparing that mod_revision, so
 * an edit based on an object that changed meanwhile is refused (exit 3)
 * rather than silently undoing someone else's change.  On any refusal the
 * edited file is kept and its path printed, so no typing is lost.  The
 * editor is $KLANGKC_EDITOR, $EDITOR or vi, run by /bin/sh (it may carry
 * arguments, like "code --wait").
 */
#include "cli.h"

#include "buf.h"
#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char header[] =
	"# Please edit the workspace below. Lines beginning with '#' are ignored,\n"
	"# and an unchanged file cancels the edit. Status is the controller's and\n"
	"# is not written. If the workspace changes in etcd before you save, the\n"
	"# edit is refused and this file is kept.\n";

static int run_editor(const char *path)
{
	const char *ed = getenv("KLANGKC_EDITOR");
	char *args[] = { "sh", "-c", NULL, "sh", (char *)path, NULL };
	struct buf cmd;
	int status = 0;
	pid_t pid;

	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	buf_init(&cmd, 8192);
	if (buf_printf(&cmd, "%s \"$1\"", ed) < 0) {
		buf_free(&cmd);
		return -1;
	}
	args[2] = cmd.data;
	fflush(stdout);
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ) != 0) {
		buf_free(&cmd);
		return -1;
	}
	buf_free(&cmd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int verb_edit(int argc, char **argv)
{
	const char *ns, *name;
	struct etcd_kv kv = { 0 };
	struct codec_docs docs = { 0 };
	json_t *orig = NULL, *canon = NULL;
	struct ws *w = NULL;
	struct etcd *c = NULL;
	struct err e = { "" };
	struct buf yaml;
	char path[PATH_MAX] = "", key[512], *data = NULL, *text = NULL;
	bool keep = false, ok = false, created = false;
	size_t len = 0;
	int opt, first, fd = -1, r, ret = EXIT_FAIL;

	opt = cli_name_args("edit", argc, argv, 1, 1, 1, &ns, &first);
	if (opt >= 0)
		return opt;
	name = argv[first];
	buf_init(&yaml, 0);
	if (cli_etcd(&c) < 0)
		return EXIT_FAIL;
	keys_ws(KEYS_SPEC, ns, name, key, sizeof(key));
	r = etcd_get(c, key, &kv, NULL, &e);
	if (r == -ENOENT)
		err_set(&e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
	if (r < 0) {
		ret = cli_fail(NULL, r, &e);
		goto out;
	}
	orig = cli_parse_stored(kv.value, kv.value_len);
	if (!orig)
		orig = json_object(); /* not an object: start from nothing */
	fd = cli_temp_template("klangkc-edit-", ".yaml", path, sizeof(path)) < 0 ? -1 :
	     mkstemps(path, 5);
	created = fd >= 0;
	if (!orig || fd < 0 || buf_puts(&yaml, header) < 0 ||
	    codec_yaml_dump(orig, &yaml, &e) < 0 ||
	    write(fd, yaml.data, yaml.len) != (ssize_t)yaml.len) {
		ret = cli_fail("edit", -EIO, &e);
		goto out;
	}
	close(fd);
	fd = -1;
	keep = true;
	r = run_editor(path);
	if (r != 0) {
		fprintf(stderr, "error: the editor exited with status %d; the file is "
				"kept at %s\n", r, path);
		goto out;
	}
	if (cli_read_file(path, &data, &len, &e) < 0) {
		ret = cli_fail(NULL, -EIO, &e);
		goto out;
	}
	r = codec_yaml_load(data, len, &docs, &e);
	if (r < 0 || docs.n != 1) {
		fprintf(stderr, "error: %s: %s%s; the file is kept\n", path,
			r < 0 ? "not valid YAML: " : "", r < 0 ? e.msg : "must hold one object");
		goto out;
	}
	if (json_equal(docs.docs[0].value, orig)) {
		printf("Edit cancelled, no changes made.\n");
		keep = false;
		ret = EXIT_OK;
		goto out;
	}
	r = ws_parse(docs.docs[0].value, ns, &w, &e);
	if (r == 0 && (strcmp(w->name, name) != 0 || strcmp(w->ns, ns) != 0)) {
		err_set(&e, "metadata.name, metadata.namespace: cannot be changed by edit "
			    "(apply a new object instead)");
		r = -EINVAL;
	}
	if (r < 0) {
		char where[PATH_MAX + 8];

		snprintf(where, sizeof(where), "%s[0]", path);
		cli_print_problems(where, e.msg, "");
		fprintf(stderr, "error: nothing was written; the file is kept at %s\n", path);
		goto out;
	}
	canon = ws_canonical(docs.docs[0].value, ns);
	text = canon ? json_dumps(canon, JSON_COMPACT) : NULL;
	if (!text) {
		ret = cli_fail(NULL, -ENOMEM, NULL);
		goto out;
	}
	r = cli_txn_if(c, key, kv.mod_revision, etcd_op_put(key, text, strlen(text), 0),
		       &ok, &e);
	if (r < 0) {
		ret = cli_fail("edit", r, &e);
		fprintf(stderr, "error: the file is kept at %s\n", path);
		goto out;
	}
	if (!ok) {
		fprintf(stderr, "error: workspace %s/%s was changed by someone else while "
				"you edited it (conflict); nothing was written; your version is "
				"kept at %s\n", ns, name, path);
		ret = EXIT_CONFLICT;
		goto out;
	}
	printf("workspace.klangk.io/%s edited\n", name);
	keep = false;
	ret = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	if (created && !keep)
		unlink(path);
	ws_free(w);
	free(text);
	free(data);
	json_decref(canon);
	json_decref(orig);
	codec_docs_clear(&docs);
	buf_free(&yaml);
	etcd_kv_clear(&kv);
	etcd_free(c);
	return ret;
}
