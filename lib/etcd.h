/*
 * etcd — an etcd v3 client over its JSON gateway (/v3/kv/..., /v3/watch),
 * through libcurl.  Keys and values are base64 on the wire; here they are
 * plain C strings (values may hold any bytes; value_len says how many).
 *
 * A struct etcd is used by one thread at a time (it owns one http_client).
 * Give each thread its own; they are cheap.  Several endpoints may be given
 * (comma-separated); a request that cannot connect tries the next one.
 *
 * Security: https:// endpoints are verified against the CA given and
 * present the client certificate and key (mTLS).  With a user name, the
 * client authenticates through /v3/auth/authenticate on first use and sends
 * the token as the Authorization header; when etcd says the token is no
 * longer valid (it expired, or etcd restarted), the client authenticates
 * again and retries the request once.  A request etcd refuses for lack of
 * permission fails with -EACCES and etcd's own message.
 */
#ifndef KLANGK_ETCD_H
#define KLANGK_ETCD_H

#include "err.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct etcd;

struct etcd_opts {
	const char *endpoints;  /* "http://127.0.0.1:2379,..." */
	const char *cacert;     /* TLS: CA file, or NULL */
	const char *cert;       /* TLS: client certificate, or NULL */
	const char *key;        /* TLS: client key, or NULL */
	const char *username;   /* auth: etcd user, or NULL (no auth) */
	const char *password;   /* auth: the password, or NULL ... */
	const char *password_file; /* ... read from this file (first line) */
	const char *token;      /* auth: a token from etcd_token, used as is
				 * (without a user name: never renewed, a
				 * stale one fails with -EACCES), or NULL */
	long timeout_ms;        /* per unary request; 0 = 5000 */
};

struct etcd_kv {
	char *key;          /* owned */
	char *value;        /* owned, NUL-terminated for convenience */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
};

struct etcd_kvs {
	struct etcd_kv *kvs;  /* owned array */
	size_t n;
	int64_t revision;     /* store revision the range was read at */
};

enum etcd_event_type { ETCD_PUT = 0, ETCD_DELETE = 1 };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv;  /* for DELETE only key and mod_revision are set */
};

/* Endpoint list from KLANGK_ETCD_ENDPOINTS, defaulting to localhost. */
const char *etcd_default_endpoints(void);

/* Options for `endpoints` (NULL = the default) with TLS files from
 * KLANGK_ETCD_CACERT, KLANGK_ETCD_CERT and KLANGK_ETCD_KEY, and the
 * credentials from KLANGK_ETCD_USERNAME with KLANGK_ETCD_PASSWORD_FILE or
 * KLANGK_ETCD_PASSWORD.  The strings are borrowed from the environment. */
struct etcd_opts etcd_opts_env(const char *endpoints);

/* The password the options give: password, or the first line of
 * password_file; -ENOENT when neither is set.  out: new, the caller wipes
 * and frees it. */
int etcd_opts_password(const struct etcd_opts *o, char **out, struct err *e);

/* The client's auth token, authenticating first when it has none yet
 * (-EACCES when the user name and password are refused; -EINVAL without a
 * user name).  out: new, the caller wipes and frees it. */
int etcd_token(struct etcd *c, char **out, struct err *e);

/* new: free with etcd_free. */
int etcd_new(const struct etcd_opts *o, struct etcd **out, struct err *e);
void etcd_free(struct etcd *c);

/* Contents only; accepts NULL. */
void etcd_kv_clear(struct etcd_kv *kv);
void etcd_kvs_clear(struct etcd_kvs *kvs);

/* Read one key.  -ENOENT when absent (then *out is untouched; *revision is
 * still set if non-NULL).  out: caller-owned storage, filled on success. */
int etcd_get(struct etcd *c, const char *key, struct etcd_kv *out,
	     int64_t *revision, struct err *e);

/* Read every key under prefix, paginated, all at one revision. */
int etcd_list(struct etcd *c, const char *prefix, struct etcd_kvs *out,
	      struct err *e);

/* As etcd_list, without the values (keys_only): revisions and versions
 * only, for callers that need to know what exists, not what it says. */
int etcd_list_keys(struct etcd *c, const char *prefix, struct etcd_kvs *out,
		   struct err *e);

/* Count keys under prefix (keys_only, count_only). */
int etcd_count(struct etcd *c, const char *prefix, int64_t *count,
	       struct err *e);

/* Unconditional put / delete (used for test set-up and leases' cleanup;
 * resources use transactions). */
int etcd_put(struct etcd *c, const char *key, const char *value, size_t len,
	     struct err *e);
int etcd_delete(struct etcd *c, const char *key, int64_t *deleted,
		struct err *e);

/*
 * Transactions.  The builders return new json_t; etcd_txn steals the three
 * arrays (each may be NULL for "none").  *succeeded tells which branch ran.
 * resp (new, may be NULL) is the raw gateway response, for reading the
 * failure branch's ranges.
 */
json_t *etcd_cmp_mod(const char *key, int64_t mod_revision); /* 0 = absent */
json_t *etcd_cmp_absent(const char *key);
json_t *etcd_cmp_exists(const char *key);
json_t *etcd_cmp_value(const char *key, const char *value);
/* No key under prefix was created or changed after revision (keys
 * deleted since are not seen: use it where a deletion cannot hurt). */
json_t *etcd_cmp_prefix_unchanged(const char *prefix, int64_t revision);
json_t *etcd_op_put(const char *key, const char *value, size_t len,
		    int64_t lease);
json_t *etcd_op_delete(const char *key);
json_t *etcd_op_get(const char *key);
int etcd_txn(struct etcd *c, json_t *compare, json_t *success,
	     json_t *failure, bool *succeeded, json_t **resp, struct err *e);

/*
 * Read n keys in one transaction, so all at one revision: out[i] (caller's
 * array of n) gets keys[i]'s kv, or stays zeroed (key NULL) when it is
 * absent.  The outputs are written only on success.
 */
int etcd_get_many(struct etcd *c, const char *const *keys, size_t n,
		  struct etcd_kv *out, struct err *e);

/* Leases: grant (ttl seconds) returns the id; keepalive renews once. */
int etcd_lease_grant(struct etcd *c, int64_t ttl, int64_t *id, struct err *e);
int etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl,
			 struct err *e);
int etcd_lease_revoke(struct etcd *c, int64_t id, struct err *e);

/*
 * Any other gateway call (the /v3/auth/... administration of
 * controller/rbac.c): POST req (borrowed) to path, authenticated and with
 * failover like every call here.  resp: new.
 */
int etcd_request(struct etcd *c, const char *path, const json_t *req,
		 json_t **resp, struct err *e);
/* The gateway's byte fields: base64 in a JSON string (new), and back
 * (*out new, NUL-terminated; -EINVAL when not base64). */
json_t *etcd_bytes(const void *data, size_t len);
int etcd_bytes_decode(const char *b64, char **out, size_t *len);
/* The range_end that makes [prefix, end) every key under prefix.  new. */
char *etcd_range_end(const char *prefix);

/* Compact the key-value history up to revision (tests use it). */
int etcd_compact(struct etcd *c, int64_t revision, struct err *e);

/*
 * Watch every key under prefix from start_rev, calling fn for each batch of
 * events (in order) and for progress notifications (n == 0).  *last_rev is
 * kept at the newest revision fully delivered, so the caller can resume at
 * *last_rev + 1.  Returns -ECANCELED when *cancel was set or fn returned
 * non-zero, -ESTALE when start_rev has been compacted (relist), or another
 * negative errno when the stream broke (reconnect with backoff).  Never 0.
 */
typedef int (*etcd_watch_fn)(void *ud, const struct etcd_event *ev, size_t n,
			     int64_t revision);
int etcd_watch(struct etcd *c, const char *prefix, int64_t start_rev,
	       etcd_watch_fn fn, void *ud, atomic_int *cancel,
	       int64_t *last_rev, struct err *e);

#endif
