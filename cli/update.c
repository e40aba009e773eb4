/*
 * klangkc — targeted read-modify-write of one workspace (start, stop,
 * restart, share, unshare): read the object and its mod_revision, change
 * it, validate it, and write it with a transaction that compares the
 * mod_revision.  When someone else wrote in between, read again and apply
 * the change again: the change is re-based, never written over a newer
 * object.
 */
#include "cli.h"

#include "keys.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_update(struct etcd *c, const char *ns, const char *name,
	       cli_mutate_fn fn, void *ud, bool *changed, struct err *e)
{
	char key[512];
	int r = -EAGAIN;

	if (keys_ws(KEYS_SPEC, ns, name, key, sizeof(key)) < 0)
		return -EINVAL;
	for (int attempt = 1; attempt <= CLI_MAX_ATTEMPTS; attempt++) {
		struct etcd_kv kv = { 0 };
		struct ws *w = NULL;
		json_t *obj = NULL;
		char *text = NULL;
		bool ok = false;

		r = etcd_get(c, key, &kv, NULL, e);
		if (r == -ENOENT)
			err_set(e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
		if (r < 0)
			return r;
		obj = cli_parse_stored(kv.value, kv.value_len);
		if (!obj) {
			err_set(e, "the stored workspace %s/%s is not an object; fix it "
				   "with apply or edit", ns, name);
			r = -EINVAL;
			goto next;
		}
		r = fn(obj, ud, e);
		if (r < 0)
			goto next;
		if (r == 1) {
			*changed = false;
			r = 0;
			goto next;
		}
		r = ws_parse(obj, ns, &w, e);
		ws_free(w);
		if (r < 0)
			goto next;
		text = json_dumps(obj, JSON_COMPACT);
		if (!text) {
			r = -ENOMEM;
			goto next;
		}
		r = cli_txn_if(c, key, kv.mod_revision,
			       etcd_op_put(key, text, strlen(text), 0), &ok, e);
		if (r == 0 && ok)
			*changed = true;
		else if (r == 0)
			r = -EAGAIN;
next:
		free(text);
		json_decref(obj);
		etcd_kv_clear(&kv);
		if (r != -EAGAIN)
			return r;
		cli_backoff(attempt, CLI_RETRY_CAP_MS);
	}
	err_set(e, "workspace %s/%s kept changing while being written (conflict "
		   "after %d attempts)", ns, name, CLI_MAX_ATTEMPTS);
	return -EAGAIN;
}
