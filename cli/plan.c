/*
 * klangkc — the plan of apply and create: read the live objects in bulk
 * (one range per namespace), compute what each object becomes (the
 * three-way merge for apply), validate every result before anything is
 * written, then write in transactions of up to CLI_TXN_MAX objects, each
 * comparing every object's mod_revision.  A transaction that fails its
 * compare is retried after reading the objects again and merging again, so
 * a concurrent writer's update is never lost and never overwritten blind.
 */
#include "cli.h"

#include "keys.h"
#include "merge.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_plan_clear(struct cli_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		json_decref(p->v[i].live);
		json_decref(p->v[i].next);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static void set_live(struct cli_plan_entry *pe, const struct etcd_kv *kv)
{
	json_decref(pe->live);
	pe->live = NULL;
	pe->exists = kv != NULL;
	pe->mod = kv ? kv->mod_revision : 0;
	if (kv)
		pe->live = cli_parse_stored(kv->value, kv->value_len);
}

/* Fill the entries of namespace ns with one get each. */
static int read_each(struct etcd *c, struct cli_items *items, struct cli_plan *p,
		     const char *ns, struct err *e)
{
	for (size_t j = 0; j < items->n; j++) {
		struct etcd_kv kv = { 0 };
		char key[512];
		int r;

		if (strcmp(items->v[j].ns, ns) != 0)
			continue;
		if (keys_ws(KEYS_SPEC, ns, items->v[j].name, key, sizeof(key)) < 0)
			return -EINVAL;
		r = etcd_get(c, key, &kv, NULL, e);
		if (r < 0 && r != -ENOENT)
			return r;
		err_clear(e);
		set_live(&p->v[j], r == 0 ? &kv : NULL);
		etcd_kv_clear(&kv);
	}
	return 0;
}

int cli_plan_read(struct etcd *c, struct cli_items *items, struct cli_plan *p,
		  struct err *e)
{
	json_t *done = json_object();
	int r = -ENOMEM;

	p->v = calloc(items->n ? items->n : 1, sizeof(*p->v));
	if (!p->v || !done)
		goto out;
	p->n = items->n;
	for (size_t i = 0; i < items->n; i++)
		p->v[i].it = &items->v[i];
	/* One range per namespace; each fills every entry of its namespace. */
	for (size_t i = 0; i < items->n; i++) {
		const char *ns = items->v[i].ns;
		struct etcd_kvs kvs = { 0 };
		json_t *index;
		char prefix[512];

		if (json_object_get(done, ns))
			continue;
		if (json_object_set_new(done, ns, json_true()) < 0)
			goto out;
		keys_ns_prefix(KEYS_SPEC, ns, prefix, sizeof(prefix));
		r = etcd_list(c, prefix, &kvs, e);
		if (r == -EACCES) {
			/* A member of a shared workspace may read its key but
			 * not its owner's namespace: read each object alone. */
			err_clear(e);
			r = read_each(c, items, p, ns, e);
			if (r < 0)
				goto out;
			continue;
		}
		if (r < 0)
			goto out;
		index = json_object();
		for (size_t k = 0; index && k < kvs.n; k++)
			json_object_set_new(index, kvs.kvs[k].key + strlen(prefix),
					    json_integer((json_int_t)k));
		for (size_t j = i; index && j < items->n; j++) {
			json_t *at;

			if (strcmp(items->v[j].ns, ns) != 0)
				continue;
			at = json_object_get(index, items->v[j].name);
			set_live(&p->v[j], at ? &kvs.kvs[json_integer_value(at)] : NULL);
		}
		etcd_kvs_clear(&kvs);
		if (!index) {
			r = -ENOMEM;
			goto out;
		}
		json_decref(index);
	}
	r = 0;
out:
	json_decref(done);
	return r;
}

/* What one entry becomes; prints its problem.  Returns an exit code. */
static int compute_one(struct cli_plan_entry *pe, enum cli_mode mode)
{
	struct cli_item *it = pe->it;
	struct err e = { "" };
	struct ws *w = NULL;
	char *text;
	int r;

	json_decref(pe->next);
	pe->next = NULL;
	if (mode != MODE_APPLY) {
		if (pe->exists) {
			fprintf(stderr, "error: %s: workspace %s/%s already exists\n",
				it->where, it->ns, it->name);
			return EXIT_FAIL;
		}
		if (mode == MODE_CREATE_SAVE)
			r = merge_apply(NULL, it->obj, &pe->next, &e);
		else
			r = (pe->next = json_deep_copy(it->obj)) ? 0 : -ENOMEM;
		if (r < 0)
			return cli_fail(it->where, r, &e);
		pe->change = CHANGE_CREATE;
		return EXIT_OK;
	}
	if (it->rv && (!pe->exists || it->rv != pe->mod)) {
		fprintf(stderr, "error: %s: workspace %s/%s has been modified: the file "
				"was written for resourceVersion %lld, etcd has %lld "
				"(conflict)\n", it->where, it->ns, it->name,
			(long long)it->rv, (long long)pe->mod);
		return EXIT_CONFLICT;
	}
	if (pe->exists && !pe->live)
		fprintf(stderr, "warning: %s: the stored workspace %s/%s is not an "
				"object; replacing it\n", it->where, it->ns, it->name);
	r = merge_apply(pe->live, it->obj, &pe->next, &e);
	if (r < 0)
		return cli_fail(it->where, r, &e);
	/* The file was valid on its own; fields kept from the live object
	 * may still make the result invalid. */
	r = ws_parse(pe->next, it->ns, &w, &e);
	ws_free(w);
	if (r == -ENOMEM)
		return cli_fail(it->where, r, NULL);
	if (r < 0) {
		cli_print_problems(it->where, e.msg, " (after merging with the live object)");
		return EXIT_FAIL;
	}
	text = json_dumps(pe->next, JSON_COMPACT);
	if (!text)
		return cli_fail(it->where, -ENOMEM, NULL);
	r = strlen(text) > WS_MAX_OBJECT;
	free(text);
	if (r) {
		fprintf(stderr, "error: %s: the stored object would be larger than %u "
				"bytes\n", it->where, WS_MAX_OBJECT);
		return EXIT_FAIL;
	}
	if (!pe->exists)
		pe->change = CHANGE_CREATE;
	else if (pe->live && json_equal(pe->live, pe->next))
		pe->change = CHANGE_NONE;
	else
		pe->change = CHANGE_UPDATE;
	return EXIT_OK;
}

int cli_plan_compute(struct cli_plan *p, enum cli_mode mode)
{
	int ret = EXIT_OK;

	for (size_t i = 0; i < p->n; i++) {
		int r = compute_one(&p->v[i], mode);

		/* A conflict outranks invalid input: the file may be right
		 * for a newer object. */
		if (r != EXIT_OK && ret != EXIT_CONFLICT)
			ret = r;
	}
	return ret;
}

static void print_result(const struct cli_plan_entry *pe, bool dry)
{
	static const char *const what[] = { "unchanged", "created", "configured" };

	printf("workspace.klangk.io/%s %s%s\n", pe->it->name, what[pe->change],
	       dry ? " (server dry run)" : "");
}

/* Read the entries [from, to) again, one by one (after a failed compare). */
static int refresh(struct etcd *c, struct cli_plan *p, size_t from, size_t to,
		   enum cli_mode mode)
{
	for (size_t i = from; i < to; i++) {
		struct cli_plan_entry *pe = &p->v[i];
		struct etcd_kv kv = { 0 };
		struct err e = { "" };
		char key[512];
		int r;

		keys_ws(KEYS_SPEC, pe->it->ns, pe->it->name, key, sizeof(key));
		r = etcd_get(c, key, &kv, NULL, &e);
		if (r < 0 && r != -ENOENT)
			return cli_fail(pe->it->where, r, &e);
		set_live(pe, r == 0 ? &kv : NULL);
		etcd_kv_clear(&kv);
		r = compute_one(pe, mode);
		if (r != EXIT_OK)
			return r;
	}
	return EXIT_OK;
}

/* One transaction for the entries [from, to).  *ok: committed. */
static int write_batch(struct etcd *c, struct cli_plan *p, size_t from, size_t to,
		       bool *ok)
{
	json_t *cmp = json_array(), *ops = json_array();
	struct err e = { "" };
	int r;

	*ok = false;
	if (!cmp || !ops)
		goto nomem;
	for (size_t i = from; i < to; i++) {
		const struct cli_plan_entry *pe = &p->v[i];
		char key[512], *text;

		if (pe->change == CHANGE_NONE)
			continue;
		keys_ws(KEYS_SPEC, pe->it->ns, pe->it->name, key, sizeof(key));
		text = json_dumps(pe->next, JSON_COMPACT);
		if (!text)
			goto nomem;
		/* Never send a transaction whose compare failed to build:
		 * it would be an unconditional write. */
		r = json_array_append_new(cmp, etcd_cmp_mod(key, pe->exists ? pe->mod : 0));
		r |= json_array_append_new(ops, etcd_op_put(key, text, strlen(text), 0));
		free(text);
		if (r < 0)
			goto nomem;
	}
	if (json_array_size(ops) == 0) {
		json_decref(cmp);
		json_decref(ops);
		*ok = true;
		return EXIT_OK;
	}
	r = etcd_txn(c, cmp, ops, NULL, ok, NULL, &e);
	if (r < 0)
		return cli_fail("write", r, &e);
	return EXIT_OK;
nomem:
	json_decref(cmp);
	json_decref(ops);
	return cli_fail("write", -ENOMEM, NULL);
}

int cli_plan_write(struct etcd *c, struct cli_plan *p, enum cli_mode mode,
		   bool dry)
{
	for (size_t from = 0; from < p->n; from += CLI_TXN_MAX) {
		size_t to = from + CLI_TXN_MAX < p->n ? from + CLI_TXN_MAX : p->n;
		bool ok = dry;
		int r;

		for (int attempt = 1; !ok && attempt <= CLI_MAX_ATTEMPTS; attempt++) {
			r = write_batch(c, p, from, to, &ok);
			if (r != EXIT_OK)
				return r;
			if (ok)
				break;
			/* Someone wrote one of these objects between our read
			 * and our write: read them again, merge again. */
			cli_backoff(attempt, CLI_RETRY_CAP_MS);
			r = refresh(c, p, from, to, mode);
			if (r != EXIT_OK)
				return r;
		}
		if (!ok) {
			fprintf(stderr, "error: %s: the workspaces kept changing while being "
					"written (conflict after %d attempts)\n",
				p->v[from].it->where, CLI_MAX_ATTEMPTS);
			return EXIT_CONFLICT;
		}
		for (size_t i = from; i < to; i++)
			print_result(&p->v[i], dry);
	}
	return EXIT_OK;
}

int cli_plan_prepare(const struct cli_paths *paths, bool recursive,
		     const char *ns_flag, enum cli_mode mode, bool client_only,
		     const char *what, struct cli_items *items,
		     struct cli_plan *plan, struct etcd **c)
{
	struct err e = { "" };
	int bad = 0, r;

	if (ns_flag && !cli_check_ns(ns_flag))
		return EXIT_USAGE;
	if (cli_load_manifests(paths, recursive, ns_flag, items, &bad) < 0)
		return cli_fail(NULL, -ENOMEM, NULL);
	if (bad) {
		fprintf(stderr, "error: %d invalid document%s; nothing was %s\n", bad,
			bad == 1 ? "" : "s", what);
		return EXIT_FAIL;
	}
	if (client_only)
		return EXIT_OK;
	if (cli_etcd(c) < 0)
		return EXIT_FAIL;
	if ((r = cli_plan_read(*c, items, plan, &e)) < 0)
		return cli_fail("read", r, &e);
	r = cli_plan_compute(plan, mode);
	if (r != EXIT_OK)
		fprintf(stderr, "error: nothing was %s\n", what);
	return r;
}
