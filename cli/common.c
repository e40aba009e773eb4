/* klangkc — helpers shared by the verbs (see cli.h). */
#include "cli.h"

#include "buf.h"
#include "ws.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_etcd_flag;

int cli_etcd(struct etcd **out)
{
	struct etcd_opts o = etcd_opts_env(cli_etcd_flag);
	struct err e = { "" };
	int r = etcd_new(&o, out, &e);

	if (r < 0)
		fprintf(stderr, "error: %s\n", e.msg);
	return r;
}

int cli_fail(const char *what, int r, const struct err *e)
{
	fprintf(stderr, "error: %s%s%s\n", what ? what : "", what ? ": " : "",
		e && e->msg[0] ? e->msg : strerror(-r));
	if (r == -ECONNREFUSED || r == -ETIMEDOUT)
		return EXIT_UNAVAILABLE;
	if (r == -ENOENT)
		return EXIT_NOTFOUND;
	return EXIT_FAIL;
}

const char *cli_namespace(const char *flag)
{
	return flag ? flag : WS_DEFAULT_NAMESPACE;
}

int cli_read_file(const char *path, char **data, size_t *len, struct err *e)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	struct buf b;
	char chunk[65536];
	ssize_t n;
	int r = 0;

	buf_init(&b, CLI_MAX_FILE);
	if (fd < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			err_set(e, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (buf_append(&b, chunk, (size_t)n) < 0) {
			r = -E2BIG;
			err_set(e, "%s: larger than %u bytes", path, CLI_MAX_FILE);
			goto out;
		}
	}
	*len = b.len;
	*data = buf_steal(&b);
out:
	if (fd != STDIN_FILENO)
		close(fd);
	buf_free(&b);
	return r;
}

json_t *cli_merge(const struct etcd_kv *spec, const struct etcd_kv *status)
{
	json_error_t jerr;
	json_t *obj = json_loadb(spec->value, spec->value_len, 0, &jerr);
	json_t *meta;
	char rv[32];

	if (!json_is_object(obj)) {
		/* Something that is not JSON was put straight into etcd: show
		 * it as it is rather than hiding it. */
		struct codec_docs docs = { 0 };

		json_decref(obj);
		obj = NULL;
		if (codec_yaml_load(spec->value, spec->value_len, &docs, NULL) == 0 &&
		    docs.n == 1 && json_is_object(docs.docs[0].value))
			obj = json_incref(docs.docs[0].value);
		codec_docs_clear(&docs);
		if (!obj)
			obj = json_pack("{s:s}", "raw", spec->value);
		if (!obj)
			return NULL;
	}
	meta = json_object_get(obj, "metadata");
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	snprintf(rv, sizeof(rv), "%lld", (long long)spec->mod_revision);
	json_object_set_new(meta, "resourceVersion", json_string(rv));
	json_object_set_new(meta, "generation", json_integer(spec->version));
	if (status) {
		json_t *st = json_loadb(status->value, status->value_len, 0, &jerr);

		if (json_is_object(st))
			json_object_set_new(obj, "status", st);
		else
			json_decref(st);
	}
	return obj;
}

int cli_get_object(struct etcd *c, const char *ns, const char *name,
		   json_t **out, struct err *e)
{
	char key[512];
	struct etcd_kv spec = { 0 }, status = { 0 };
	bool have_status;
	int r;

	if (ws_spec_key(ns, name, key, sizeof(key)) < 0)
		return -EINVAL;
	r = etcd_get(c, key, &spec, NULL, e);
	if (r == -ENOENT)
		err_set(e, "workspace \"%s\" not found in namespace \"%s\"", name, ns);
	if (r < 0)
		return r;
	ws_status_key(ns, name, key, sizeof(key));
	r = etcd_get(c, key, &status, NULL, e);
	if (r < 0 && r != -ENOENT)
		goto out;
	have_status = r == 0;
	*out = cli_merge(&spec, have_status ? &status : NULL);
	r = *out ? 0 : -ENOMEM;
out:
	etcd_kv_clear(&spec);
	etcd_kv_clear(&status);
	return r;
}
