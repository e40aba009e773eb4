/*
 * etcd — etcd v3 JSON gateway client (see etcd.h).
 *
 * The gateway is grpc-gateway: int64 fields arrive as JSON strings, fields
 * with default values (type PUT, empty kvs, count 0) are omitted, and a watch
 * is a never-ending HTTP response carrying one JSON object per message.
 */
#include "etcd.h"

#include "buf.h"
#include "http.h"
#include "jstream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ETCD_MAX_ENDPOINTS 16
#define ETCD_MAX_SECRET 4096
#define ETCD_MAX_RESPONSE (256u * 1024 * 1024)
#define ETCD_PAGE 1000

struct etcd {
	char *endpoints[ETCD_MAX_ENDPOINTS];
	size_t n_endpoints;
	size_t cur;
	struct http_client *http;
	struct http_tls tls;
	char *cacert, *cert, *key;
	char *username, *password;  /* auth, or NULL */
	char *token;                /* from /v3/auth/authenticate, or NULL */
	long timeout_ms;
};

const char *etcd_default_endpoints(void)
{
	const char *v = getenv("KLANGK_ETCD_ENDPOINTS");

	return v && *v ? v : "http://127.0.0.1:2379";
}

struct etcd_opts etcd_opts_env(const char *endpoints)
{
	struct etcd_opts o = {
		.endpoints = endpoints ? endpoints : etcd_default_endpoints(),
		.cacert = getenv("KLANGK_ETCD_CACERT"),
		.cert = getenv("KLANGK_ETCD_CERT"),
		.key = getenv("KLANGK_ETCD_KEY"),
		.username = getenv("KLANGK_ETCD_USERNAME"),
		.password = getenv("KLANGK_ETCD_PASSWORD"),
		.password_file = getenv("KLANGK_ETCD_PASSWORD_FILE"),
	};

	/* Set but empty is unset (an empty file name loads nothing). */
	if (o.cacert && !*o.cacert)
		o.cacert = NULL;
	if (o.cert && !*o.cert)
		o.cert = NULL;
	if (o.key && !*o.key)
		o.key = NULL;
	if (o.username && !*o.username)
		o.username = NULL;
	if (o.password_file && !*o.password_file)
		o.password_file = NULL;
	return o;
}

/* Free a secret, overwriting it first. */
static void free_secret(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* The first line of a small file.  *out: new. */
static int read_secret_file(const char *path, char **out, struct err *e)
{
	char buf[ETCD_MAX_SECRET + 1];
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0) {
		err_set(e, "etcd password file %s: %s", path, strerror(errno));
		return -errno;
	}
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			err_set(e, "etcd password file %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		err_set(e, "etcd password file %s: empty", path);
		r = -EINVAL;
		goto out;
	}
	*out = strdup(buf);
	if (!*out)
		r = -ENOMEM;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return r;
}

int etcd_opts_password(const struct etcd_opts *o, char **out, struct err *e)
{
	if (o->password_file && *o->password_file)
		return read_secret_file(o->password_file, out, e);
	if (!o->password)
		return -ENOENT;
	*out = strdup(o->password);
	return *out ? 0 : -ENOMEM;
}

int etcd_new(const struct etcd_opts *o, struct etcd **out, struct err *e)
{
	struct etcd *c;
	char *list = NULL, *save = NULL, *tok;
	int r = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	list = strdup(o->endpoints ? o->endpoints : etcd_default_endpoints());
	if (!list) {
		r = -ENOMEM;
		goto out;
	}
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t len;

		while (*tok == ' ')
			tok++;
		len = strlen(tok);
		while (len && (tok[len - 1] == '/' || tok[len - 1] == ' '))
			tok[--len] = '\0';
		if (!len)
			continue;
		if (strncmp(tok, "http://", 7) != 0 &&
		    strncmp(tok, "https://", 8) != 0) {
			err_set(e, "etcd endpoint %s: must start with http:// or https://",
				tok);
			r = -EINVAL;
			goto out;
		}
		if (c->n_endpoints == ETCD_MAX_ENDPOINTS) {
			err_set(e, "more than %d etcd endpoints", ETCD_MAX_ENDPOINTS);
			r = -EINVAL;
			goto out;
		}
		c->endpoints[c->n_endpoints] = strdup(tok);
		if (!c->endpoints[c->n_endpoints++]) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (c->n_endpoints == 0) {
		err_set(e, "no etcd endpoint given");
		r = -EINVAL;
		goto out;
	}
	if ((o->cacert && !(c->cacert = strdup(o->cacert))) ||
	    (o->cert && !(c->cert = strdup(o->cert))) ||
	    (o->key && !(c->key = strdup(o->key)))) {
		r = -ENOMEM;
		goto out;
	}
	c->tls.cacert = c->cacert;
	c->tls.cert = c->cert;
	c->tls.key = c->key;
	if (o->token && !(c->token = strdup(o->token))) {
		r = -ENOMEM;
		goto out;
	}
	if (o->username) {
		if (!(c->username = strdup(o->username))) {
			r = -ENOMEM;
			goto out;
		}
		if (o->password_file)
			r = read_secret_file(o->password_file, &c->password, e);
		else if (o->password && !(c->password = strdup(o->password)))
			r = -ENOMEM;
		else if (!o->password) {
			err_set(e, "etcd user %s: no password (set KLANGK_ETCD_PASSWORD_FILE "
				   "or KLANGK_ETCD_PASSWORD)", o->username);
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
	} else if (o->password || o->password_file) {
		err_set(e, "an etcd password was given without a user name "
			   "(KLANGK_ETCD_USERNAME)");
		r = -EINVAL;
		goto out;
	}
	r = http_client_new(&c->http);
out:
	free(list);
	if (r < 0) {
		etcd_free(c);
		return r;
	}
	*out = c;
	return 0;
}

void etcd_free(struct etcd *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_endpoints; i++)
		free(c->endpoints[i]);
	free(c->cacert);
	free(c->cert);
	free(c->key);
	free(c->username);
	free_secret(c->password);
	free_secret(c->token);
	http_client_free(c->http);
	free(c);
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_clear(struct etcd_kvs *kvs)
{
	if (!kvs)
		return;
	for (size_t i = 0; i < kvs->n; i++)
		etcd_kv_clear(&kvs->kvs[i]);
	free(kvs->kvs);
	memset(kvs, 0, sizeof(*kvs));
}

/* ---- base64 through OpenSSL ---- */

static char *b64_encode(const void *data, size_t len)
{
	size_t olen = 4 * ((len + 2) / 3) + 1;
	char *out = malloc(olen);

	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* new: decoded bytes, NUL-terminated; -EINVAL on bad input. */
int etcd_bytes_decode(const char *in, char **out, size_t *out_len)
{
	size_t len = strlen(in), pad = 0;
	unsigned char *buf;
	int n;

	if (len % 4 != 0)
		return -EINVAL;
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	n = len ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len) : 0;
	if (n < 0) {
		free(buf);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	n -= (int)pad;
	buf[n] = '\0';
	*out = (char *)buf;
	*out_len = (size_t)n;
	return 0;
}

json_t *etcd_bytes(const void *data, size_t len)
{
	char *s = b64_encode(data, len);
	json_t *j;

	if (!s)
		return NULL;
	j = json_string(s);
	free(s);
	return j;
}

/* The key that ends a prefix range: the prefix with its last byte + 1. */
char *etcd_range_end(const char *prefix)
{
	size_t len = strlen(prefix);
	char *end = strdup(prefix);

	if (!end)
		return NULL;
	while (len > 0) {
		if ((unsigned char)end[len - 1] < 0xff) {
			end[len - 1]++;
			end[len] = '\0';
			return end;
		}
		len--;
	}
	/* All 0xff: range to the end of the keyspace, "\0". */
	end[0] = '\0';
	return end;
}

static int64_t jint(const json_t *o, const char *field)
{
	const json_t *v = json_object_get(o, field);
	int64_t n = 0;

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v)) {
		char *endp;

		errno = 0;
		n = strtoll(json_string_value(v), &endp, 10);
		if (errno || *endp)
			return 0;
	}
	return n;
}

static int parse_kv(const json_t *j, struct etcd_kv *kv)
{
	const char *k = json_string_value(json_object_get(j, "key"));
	const char *v = json_string_value(json_object_get(j, "value"));
	size_t klen;
	int r;

	memset(kv, 0, sizeof(*kv));
	if (!k)
		return -EPROTO;
	r = etcd_bytes_decode(k, &kv->key, &klen);
	if (r < 0)
		return -EPROTO;
	r = etcd_bytes_decode(v ? v : "", &kv->value, &kv->value_len);
	if (r < 0) {
		etcd_kv_clear(kv);
		return -EPROTO;
	}
	kv->create_revision = jint(j, "create_revision");
	kv->mod_revision = jint(j, "mod_revision");
	kv->version = jint(j, "version");
	kv->lease = jint(j, "lease");
	return 0;
}

/* POST body to path on the current endpoint, failing over to the next
 * endpoints when one cannot be reached; the raw status and body in out. */
static int post(struct etcd *c, const char *path, const char *body,
		const char *auth, long *status, struct buf *out, struct err *e)
{
	struct buf url;
	int r = -EIO;

	buf_init(&url, 4096);
	for (size_t tries = 0; tries < c->n_endpoints; tries++) {
		const char *ep = c->endpoints[c->cur];
		struct http_request hr = {
			.method = "POST",
			.body = body,
			.body_len = strlen(body),
			.auth_header = auth,
			.timeout_ms = c->timeout_ms,
			.max_body = ETCD_MAX_RESPONSE,
			.tls = strncmp(ep, "https://", 8) == 0 ? &c->tls : NULL,
		};

		buf_reset(&url);
		buf_reset(out);
		buf_printf(&url, "%s%s", ep, path);
		hr.url = url.data;
		r = http_do(c->http, &hr, status, out, e);
		if (r == -ECONNREFUSED || r == -ETIMEDOUT) {
			c->cur = (c->cur + 1) % c->n_endpoints;
			continue;
		}
		break;
	}
	buf_free(&url);
	return r;
}

/* Does an error message from etcd say the token is no longer valid (it
 * expired, or etcd restarted and forgot its simple tokens)? */
static bool token_invalid(const char *msg)
{
	return msg && (strstr(msg, "invalid auth token") ||
		       strstr(msg, "Unauthenticated"));
}

/* Get a token with the user name and password. */
static int authenticate(struct etcd *c, struct err *e)
{
	json_t *req = json_pack("{s:s,s:s}", "name", c->username, "password",
				c->password);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	struct buf out;
	json_t *resp = NULL;
	json_error_t jerr;
	const char *tok, *msg;
	long status = 0;
	int r;

	buf_init(&out, 1024 * 1024);
	json_decref(req);
	if (!body)
		return -ENOMEM;
	r = post(c, "/v3/auth/authenticate", body, NULL, &status, &out, e);
	OPENSSL_cleanse(body, strlen(body));
	free(body);
	if (r < 0)
		goto out;
	resp = json_loadb(out.data ? out.data : "", out.len, 0, &jerr);
	tok = json_string_value(json_object_get(resp, "token"));
	if (status != 200 || !tok || !*tok) {
		msg = json_string_value(json_object_get(resp, "error"));
		err_set(e, "etcd: authentication as %s failed: %s", c->username,
			msg ? msg : (status == 200 ? "no token (is auth enabled?)" :
				     "unexpected answer"));
		r = -EACCES;
		goto out;
	}
	free_secret(c->token);
	c->token = strdup(tok);
	if (!c->token)
		r = -ENOMEM;
out:
	json_decref(resp);
	buf_free(&out);
	return r;
}

int etcd_token(struct etcd *c, char **out, struct err *e)
{
	char *t;
	int r;

	if (!c->username) {
		err_set(e, "etcd: no user name to authenticate with");
		return -EINVAL;
	}
	if (!c->token && (r = authenticate(c, e)) < 0)
		return r;
	t = strdup(c->token);
	if (!t)
		return -ENOMEM;
	*out = t;
	return 0;
}

/* POST a JSON request to path: authenticated when a user is configured
 * (again, once, when the token turns out to be stale).  resp: new. */
static int etcd_call(struct etcd *c, const char *path, const json_t *req,
		     json_t **resp, struct err *e)
{
	char *body = json_dumps(req, JSON_COMPACT);
	struct buf out;
	json_error_t jerr;
	long status = 0;
	int r = -EIO;

	buf_init(&out, ETCD_MAX_RESPONSE);
	if (!body)
		return -ENOMEM;
	for (int attempt = 0; attempt < 2; attempt++) {
		json_t *j;
		const char *msg;

		if (c->username && !c->token && (r = authenticate(c, e)) < 0)
			goto out;
		r = post(c, path, body, c->token, &status, &out, e);
		if (r < 0)
			goto out;
		*resp = NULL;
		if (status == 200)
			break;
		j = json_loadb(out.data ? out.data : "", out.len, 0, &jerr);
		msg = json_string_value(json_object_get(j, "error"));
		if (!msg)
			msg = json_string_value(json_object_get(j, "message"));
		err_set(e, "etcd %s: HTTP %ld: %s", path, status,
			msg ? msg : (out.data ? out.data : ""));
		if (msg && strstr(msg, "user name is empty"))
			err_prefix(e, "etcd requires authentication (set "
				      "KLANGK_ETCD_USERNAME and a password)");
		r = status == 401 || status == 403 ? -EACCES : -EIO;
		if (c->username && status == 401 && token_invalid(msg) && attempt == 0) {
			free_secret(c->token);
			c->token = NULL;
			json_decref(j);
			continue;
		}
		json_decref(j);
		goto out;
	}
	*resp = json_loadb(out.data ? out.data : "", out.len, 0, &jerr);
	if (!*resp) {
		err_set(e, "etcd %s: bad JSON in response: %s", path, jerr.text);
		r = -EPROTO;
	}
out:
	free(body);
	buf_free(&out);
	return r;
}

int etcd_request(struct etcd *c, const char *path, const json_t *req,
		 json_t **resp, struct err *e)
{
	return etcd_call(c, path, req, resp, e);
}

static int parse_kvs(const json_t *arr, struct etcd_kvs *out)
{
	size_t i, n = json_array_size(arr);
	struct etcd_kv *kvs;

	if (!n)
		return 0;
	kvs = realloc(out->kvs, (out->n + n) * sizeof(*kvs));
	if (!kvs)
		return -ENOMEM;
	out->kvs = kvs;
	for (i = 0; i < n; i++) {
		int r = parse_kv(json_array_get(arr, i), &out->kvs[out->n]);

		if (r < 0)
			return r;
		out->n++;
	}
	return 0;
}

int etcd_get(struct etcd *c, const char *key, struct etcd_kv *out,
	     int64_t *revision, struct err *e)
{
	json_t *req = json_pack("{s:o}", "key", etcd_bytes(key, strlen(key)));
	json_t *resp = NULL;
	struct etcd_kvs kvs = { 0 };
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/kv/range", req, &resp, e);
	if (r < 0)
		goto out;
	if (revision)
		*revision = jint(json_object_get(resp, "header"), "revision");
	r = parse_kvs(json_object_get(resp, "kvs"), &kvs);
	if (r < 0) {
		err_set(e, "etcd range %s: malformed response", key);
		goto out;
	}
	if (kvs.n == 0) {
		r = -ENOENT;
		goto out;
	}
	*out = kvs.kvs[0];
	memset(&kvs.kvs[0], 0, sizeof(kvs.kvs[0]));
out:
	etcd_kvs_clear(&kvs);
	json_decref(req);
	json_decref(resp);
	return r;
}

static int range_prefix(struct etcd *c, const char *prefix, bool count_only,
			bool keys_only, struct etcd_kvs *out, int64_t *count,
			struct err *e)
{
	char *end = etcd_range_end(prefix);
	struct etcd_kvs acc = { 0 };
	json_t *resp = NULL;
	struct buf from;   /* raw key bytes where the next page starts */
	int64_t rev = 0;
	int r = 0;

	buf_init(&from, 64 * 1024);
	if (!end || buf_puts(&from, prefix) < 0) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		json_t *req = json_pack("{s:o,s:o}", "key",
					etcd_bytes(from.data, from.len), "range_end",
					etcd_bytes(end, strlen(end)));
		const char *last;

		if (!req) {
			r = -ENOMEM;
			goto out;
		}
		if (count_only) {
			json_object_set_new(req, "count_only", json_true());
		} else {
			if (keys_only)
				json_object_set_new(req, "keys_only", json_true());
			json_object_set_new(req, "limit", json_integer(ETCD_PAGE));
			/* Every page is read at the first page's revision, so
			 * the list is one consistent snapshot. */
			if (rev)
				json_object_set_new(req, "revision", json_integer(rev));
		}
		json_decref(resp);
		resp = NULL;
		r = etcd_call(c, "/v3/kv/range", req, &resp, e);
		json_decref(req);
		if (r < 0)
			goto out;
		if (count_only) {
			*count = jint(resp, "count");
			goto out;
		}
		if (!rev)
			rev = jint(json_object_get(resp, "header"), "revision");
		r = parse_kvs(json_object_get(resp, "kvs"), &acc);
		if (r < 0) {
			err_set(e, "etcd range %s: malformed response", prefix);
			goto out;
		}
		if (!json_is_true(json_object_get(resp, "more")) || acc.n == 0)
			break;
		/* The smallest key after the last one is that key plus a NUL
		 * byte; keys travel as base64, so the NUL survives. */
		last = acc.kvs[acc.n - 1].key;
		buf_reset(&from);
		if (buf_append(&from, last, strlen(last) + 1) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	acc.revision = rev;
	*out = acc;
	memset(&acc, 0, sizeof(acc));
out:
	etcd_kvs_clear(&acc);
	json_decref(resp);
	free(end);
	buf_free(&from);
	return r;
}

int etcd_list(struct etcd *c, const char *prefix, struct etcd_kvs *out,
	      struct err *e)
{
	return range_prefix(c, prefix, false, false, out, NULL, e);
}

int etcd_list_keys(struct etcd *c, const char *prefix, struct etcd_kvs *out,
		   struct err *e)
{
	return range_prefix(c, prefix, false, true, out, NULL, e);
}

int etcd_count(struct etcd *c, const char *prefix, int64_t *count,
	       struct err *e)
{
	return range_prefix(c, prefix, true, false, NULL, count, e);
}

int etcd_put(struct etcd *c, const char *key, const char *value, size_t len,
	     struct err *e)
{
	json_t *req = json_pack("{s:o,s:o}", "key", etcd_bytes(key, strlen(key)),
				"value", etcd_bytes(value, len));
	json_t *resp = NULL;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/kv/put", req, &resp, e);
	json_decref(req);
	json_decref(resp);
	return r;
}

int etcd_delete(struct etcd *c, const char *key, int64_t *deleted,
		struct err *e)
{
	json_t *req = json_pack("{s:o}", "key", etcd_bytes(key, strlen(key)));
	json_t *resp = NULL;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/kv/deleterange", req, &resp, e);
	if (r == 0 && deleted)
		*deleted = jint(resp, "deleted");
	json_decref(req);
	json_decref(resp);
	return r;
}

json_t *etcd_cmp_mod(const char *key, int64_t mod_revision)
{
	if (mod_revision == 0)
		return etcd_cmp_absent(key);
	return json_pack("{s:s,s:s,s:o,s:I}", "result", "EQUAL", "target", "MOD",
			 "key", etcd_bytes(key, strlen(key)), "mod_revision",
			 (json_int_t)mod_revision);
}

json_t *etcd_cmp_absent(const char *key)
{
	/* create_revision 0 is the default value, which the gateway would
	 * omit; EQUAL with it omitted still compares against 0. */
	return json_pack("{s:s,s:s,s:o,s:I}", "result", "EQUAL", "target",
			 "CREATE", "key", etcd_bytes(key, strlen(key)),
			 "create_revision", (json_int_t)0);
}

json_t *etcd_cmp_exists(const char *key)
{
	/* An absent key compares as create_revision 0. */
	return json_pack("{s:s,s:s,s:o,s:I}", "result", "GREATER", "target",
			 "CREATE", "key", etcd_bytes(key, strlen(key)),
			 "create_revision", (json_int_t)0);
}

json_t *etcd_cmp_value(const char *key, const char *value)
{
	return json_pack("{s:s,s:s,s:o,s:o}", "result", "EQUAL", "target",
			 "VALUE", "key", etcd_bytes(key, strlen(key)), "value",
			 etcd_bytes(value, strlen(value)));
}

json_t *etcd_cmp_prefix_unchanged(const char *prefix, int64_t revision)
{
	/* A range compare holds when every key in the range satisfies it
	 * (and an empty range compares as one absent key: mod 0). */
	char *end = etcd_range_end(prefix);
	json_t *c = end ? json_pack("{s:s,s:s,s:o,s:o,s:I}", "result", "LESS",
				    "target", "MOD", "key",
				    etcd_bytes(prefix, strlen(prefix)), "range_end",
				    etcd_bytes(end, strlen(end)), "mod_revision",
				    (json_int_t)revision + 1) : NULL;

	free(end);
	return c;
}

json_t *etcd_op_put(const char *key, const char *value, size_t len,
		    int64_t lease)
{
	json_t *put = json_pack("{s:o,s:o}", "key", etcd_bytes(key, strlen(key)),
				"value", etcd_bytes(value, len));

	if (put && lease)
		json_object_set_new(put, "lease", json_integer(lease));
	return json_pack("{s:o}", "request_put", put);
}

json_t *etcd_op_delete(const char *key)
{
	return json_pack("{s:{s:o}}", "request_delete_range", "key",
			 etcd_bytes(key, strlen(key)));
}

json_t *etcd_op_get(const char *key)
{
	return json_pack("{s:{s:o}}", "request_range", "key",
			 etcd_bytes(key, strlen(key)));
}

int etcd_txn(struct etcd *c, json_t *compare, json_t *success,
	     json_t *failure, bool *succeeded, json_t **resp, struct err *e)
{
	json_t *req = json_object();
	json_t *out = NULL;
	int r;

	if (!req) {
		json_decref(compare);
		json_decref(success);
		json_decref(failure);
		return -ENOMEM;
	}
	json_object_set_new(req, "compare", compare ? compare : json_array());
	json_object_set_new(req, "success", success ? success : json_array());
	json_object_set_new(req, "failure", failure ? failure : json_array());
	r = etcd_call(c, "/v3/kv/txn", req, &out, e);
	json_decref(req);
	if (r < 0)
		return r;
	*succeeded = json_is_true(json_object_get(out, "succeeded"));
	if (resp)
		*resp = out;
	else
		json_decref(out);
	return 0;
}

/* The kv of the i-th range response of a txn response into out (zeroed
 * when the key is absent). */
static int txn_range_kv(const json_t *resp, size_t i, struct etcd_kv *out)
{
	const json_t *rr = json_object_get(json_array_get(json_object_get(resp, "responses"), i),
					   "response_range");
	struct etcd_kvs kvs = { 0 };
	int r;

	if (!json_is_object(rr))
		return -EPROTO;
	r = parse_kvs(json_object_get(rr, "kvs"), &kvs);
	if (r == 0 && kvs.n) {
		*out = kvs.kvs[0];
		memset(&kvs.kvs[0], 0, sizeof(kvs.kvs[0]));
	}
	etcd_kvs_clear(&kvs);
	return r;
}

int etcd_get_many(struct etcd *c, const char *const *keys, size_t n,
		  struct etcd_kv *out, struct err *e)
{
	json_t *ops = json_array(), *resp = NULL;
	struct etcd_kv *got = calloc(n ? n : 1, sizeof(*got));
	bool ok = false;
	size_t i;
	int r = 0;

	if (!ops || !got) {
		json_decref(ops);
		free(got);
		return -ENOMEM;
	}
	for (i = 0; r == 0 && i < n; i++)
		if (json_array_append_new(ops, etcd_op_get(keys[i])) < 0)
			r = -ENOMEM;
	if (r < 0) {
		json_decref(ops);
		goto out;
	}
	r = etcd_txn(c, NULL, ops, NULL, &ok, &resp, e);
	for (i = 0; r == 0 && i < n; i++) {
		r = txn_range_kv(resp, i, &got[i]);
		if (r < 0)
			err_set(e, "etcd txn reading %s: malformed response", keys[i]);
	}
	if (r == 0) {
		memcpy(out, got, n * sizeof(*got));
		n = 0;   /* handed over */
	}
out:
	for (i = 0; i < n; i++)
		etcd_kv_clear(&got[i]);
	free(got);
	json_decref(resp);
	return r;
}

int etcd_lease_grant(struct etcd *c, int64_t ttl, int64_t *id, struct err *e)
{
	json_t *req = json_pack("{s:I}", "TTL", (json_int_t)ttl);
	json_t *resp = NULL;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/lease/grant", req, &resp, e);
	if (r == 0) {
		*id = jint(resp, "ID");
		if (!*id) {
			err_set(e, "etcd lease grant: no lease id in response");
			r = -EPROTO;
		}
	}
	json_decref(req);
	json_decref(resp);
	return r;
}

int etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl,
			 struct err *e)
{
	json_t *req = json_pack("{s:I}", "ID", (json_int_t)id);
	json_t *resp = NULL, *res;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/lease/keepalive", req, &resp, e);
	if (r == 0) {
		/* The gateway streams keepalive responses; one request gives
		 * one {"result": {...}} message. */
		res = json_object_get(resp, "result");
		*ttl = jint(res ? res : resp, "TTL");
		if (*ttl <= 0) {
			err_set(e, "etcd lease %" PRId64 " has expired", id);
			r = -ENOENT;
		}
	}
	json_decref(req);
	json_decref(resp);
	return r;
}

int etcd_lease_revoke(struct etcd *c, int64_t id, struct err *e)
{
	json_t *req = json_pack("{s:I}", "ID", (json_int_t)id);
	json_t *resp = NULL;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/lease/revoke", req, &resp, e);
	json_decref(req);
	json_decref(resp);
	return r;
}

int etcd_compact(struct etcd *c, int64_t revision, struct err *e)
{
	json_t *req = json_pack("{s:I,s:b}", "revision", (json_int_t)revision,
				"physical", 1);
	json_t *resp = NULL;
	int r;

	if (!req)
		return -ENOMEM;
	r = etcd_call(c, "/v3/kv/compaction", req, &resp, e);
	json_decref(req);
	json_decref(resp);
	return r;
}

/* ---- watch ---- */

#define WATCH_MAX_MESSAGE (64u * 1024 * 1024)

struct watch_state {
	etcd_watch_fn fn;
	void *ud;
	struct jstream js;      /* splits the stream into messages */
	int64_t *last_rev;
	int result;             /* what ended the stream, when we ended it */
	struct err *e;
	bool created;
	bool stale_token;       /* etcd refused the token: authenticate again */
};

/* Handle one complete gateway message; non-zero stops the stream. */
static int watch_message(struct watch_state *w, json_t *msg)
{
	json_t *res = json_object_get(msg, "result");
	json_t *evs;
	struct etcd_event *events = NULL;
	size_t n = 0, i;
	int64_t rev;
	int r = 0;

	if (!res) {
		const json_t *err = json_object_get(msg, "error");
		/* A stream error ({"error": {"http_code": ..., "message": ...}})
		 * or a whole refused request ({"error": "...", "code": 16}). */
		const char *m = json_is_string(err) ? json_string_value(err) :
			json_string_value(json_object_get(err, "message"));
		json_int_t code = json_integer_value(json_object_get(err, "http_code"));
		json_int_t grpc = json_integer_value(json_object_get(msg, "code"));

		if (grpc == 16)
			code = 401;
		else if (grpc == 7)
			code = 403;

		err_set(w->e, "etcd watch: %s", m ? m : "stream error");
		w->stale_token = token_invalid(m);
		w->result = code == 401 || code == 403 ? -EACCES : -EIO;
		return 1;
	}
	if (jint(res, "compact_revision") > 0) {
		err_set(w->e, "etcd watch: revision compacted (oldest is %" PRId64 ")",
			jint(res, "compact_revision"));
		w->result = -ESTALE;
		return 1;
	}
	if (json_is_true(json_object_get(res, "canceled"))) {
		const char *why = json_string_value(json_object_get(res, "cancel_reason"));

		err_set(w->e, "etcd watch cancelled by server: %s", why ? why : "");
		w->stale_token = token_invalid(why);
		w->result = w->stale_token || (why && strstr(why, "PermissionDenied")) ?
			-EACCES : -EIO;
		return 1;
	}
	if (json_is_true(json_object_get(res, "created")))
		w->created = true;
	rev = jint(json_object_get(res, "header"), "revision");
	evs = json_object_get(res, "events");
	n = json_array_size(evs);
	if (n) {
		events = calloc(n, sizeof(*events));
		if (!events) {
			w->result = -ENOMEM;
			return 1;
		}
		for (i = 0; i < n; i++) {
			json_t *ev = json_array_get(evs, i);
			const char *type = json_string_value(json_object_get(ev, "type"));

			events[i].type = type && strcmp(type, "DELETE") == 0 ?
				ETCD_DELETE : ETCD_PUT;
			if (parse_kv(json_object_get(ev, "kv"), &events[i].kv) < 0) {
				err_set(w->e, "etcd watch: malformed event");
				w->result = -EPROTO;
				r = 1;
				goto out;
			}
		}
		/* Events of one message may span revisions; the message's
		 * last event is the newest revision delivered. */
		rev = events[n - 1].kv.mod_revision;
	}
	if (w->fn(w->ud, events, n, rev) != 0) {
		w->result = -ECANCELED;
		r = 1;
		goto out;
	}
	/* A progress notification (no events, not the creation message)
	 * tells us every revision up to header.revision has been seen. */
	if (n || !json_is_true(json_object_get(res, "created")))
		if (rev > *w->last_rev)
			*w->last_rev = rev;
out:
	for (i = 0; i < n; i++)
		etcd_kv_clear(&events[i].kv);
	free(events);
	return r;
}

static int watch_value(void *ud, json_t *msg)
{
	return watch_message(ud, msg);
}

static int watch_chunk(void *ud, const char *data, size_t len)
{
	struct watch_state *w = ud;
	int r = jstream_feed(&w->js, data, len, w->e);

	if (r < 0)
		w->result = r;
	return r != 0;
}

int etcd_watch(struct etcd *c, const char *prefix, int64_t start_rev,
	       etcd_watch_fn fn, void *ud, atomic_int *cancel,
	       int64_t *last_rev, struct err *e)
{
	struct watch_state w = { .fn = fn, .ud = ud, .last_rev = last_rev, .e = e };
	char *end = etcd_range_end(prefix);
	json_t *req = NULL;
	char *body = NULL;
	struct buf url;
	long status = 0;
	const char *ep;
	int r;

	buf_init(&url, 4096);
	jstream_init(&w.js, WATCH_MAX_MESSAGE, watch_value, &w);
	if (!end) {
		r = -ENOMEM;
		goto out;
	}
	req = json_pack("{s:{s:o,s:o,s:I,s:b}}", "create_request", "key",
			etcd_bytes(prefix, strlen(prefix)), "range_end",
			etcd_bytes(end, strlen(end)), "start_revision",
			(json_int_t)start_rev, "progress_notify", 1);
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!body) {
		r = -ENOMEM;
		goto out;
	}
	/* A stream that lives on keeps working when its token expires; only
	 * a new stream needs a valid one.  So a refused token is renewed and
	 * the stream opened once more, before any event was delivered. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->username && !c->token && (r = authenticate(c, e)) < 0)
			goto out;
		ep = c->endpoints[c->cur];
		buf_reset(&url);
		buf_reset(&w.js.pending);  /* a new stream */
		buf_printf(&url, "%s/v3/watch", ep);
		w.result = 0;
		w.stale_token = false;
		{
			struct http_request hr = {
				.method = "POST",
				.url = url.data,
				.body = body,
				.body_len = strlen(body),
				.auth_header = c->token,
				.on_chunk = watch_chunk,
				.ud = &w,
				.cancel = cancel,
				.tls = strncmp(ep, "https://", 8) == 0 ? &c->tls : NULL,
			};

			r = http_do(c->http, &hr, &status, NULL, e);
		}
		if (w.stale_token && c->username) {
			free_secret(c->token);
			c->token = NULL;
			if (attempt == 0)
				continue;
		}
		break;
	}
	if (w.result) {
		r = w.result;
		goto out;
	}
	if (r == -ECONNREFUSED || r == -ETIMEDOUT)
		c->cur = (c->cur + 1) % c->n_endpoints;
	if (r < 0)
		goto out;
	if (status != 200)
		err_set(e, "etcd watch: HTTP %ld", status);
	else
		err_set(e, "etcd watch: stream closed by server");
	r = status == 401 || status == 403 ? -EACCES : -ECONNRESET;
out:
	if (r == -ECANCELED && cancel && *cancel)
		err_set(e, "etcd watch: stopped");
	buf_free(&url);
	jstream_free(&w.js);
	json_decref(req);
	free(body);
	free(end);
	return r;
}
