/*
 * websess — sign-in sessions of the page (see websess.h).
 */
#include "websess.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int websess_init(struct websess *s, size_t max, long lifetime_s, struct err *e)
{
	memset(s, 0, sizeof(*s));
	s->v = calloc(max ? max : 1, sizeof(*s->v));
	if (!s->v) {
		err_set(e, "no memory for %zu page sessions", max);
		return -ENOMEM;
	}
	s->max = max;
	s->lifetime_s = lifetime_s;
	pthread_mutex_init(&s->mu, NULL);
	return 0;
}

static void entry_clear(struct websess_entry *x)
{
	if (x->sealed) {
		OPENSSL_cleanse(x->sealed, x->sealed_len);
		free(x->sealed);
	}
	OPENSSL_cleanse(x, sizeof(*x));
}

void websess_destroy(struct websess *s)
{
	if (!s || !s->v)
		return;
	for (size_t i = 0; i < s->max; i++)
		entry_clear(&s->v[i]);
	free(s->v);
	pthread_mutex_destroy(&s->mu);
	s->v = NULL;
}

static int random_hex(char *out)
{
	unsigned char b[WEBSESS_SECRET_HEX / 2];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	OPENSSL_cleanse(b, sizeof(b));
	return 0;
}

/* SHA-256 of what, prefixed with a label (so the id's hash, which the
 * store keeps, is not the key derived from it). */
static int hash(const char *label, const char *what, unsigned char out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(c, label, strlen(label) + 1) == 1 &&
		 EVP_DigestUpdate(c, what, strlen(what)) == 1 &&
		 EVP_DigestFinal_ex(c, out, NULL) == 1;

	EVP_MD_CTX_free(c);
	return ok ? 0 : -EIO;
}

/* AES-256-GCM of in under key: out (len bytes) and tag; or the reverse
 * (decrypt: the tag checked).  0 or -EIO. */
static int seal(bool decrypt, const unsigned char key[32], const unsigned char nonce[12],
		const unsigned char *in, size_t len, unsigned char *out, unsigned char tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce,
					       !decrypt) == 1 &&
			EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 && (size_t)n == len;

	if (ok && decrypt)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
	ok = ok && EVP_CipherFinal_ex(c, out + n, &n) == 1;
	if (ok && !decrypt)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EIO;
}

static bool expired(const struct websess *s, const struct websess_entry *x, time_t now)
{
	return x->used && now - x->created >= s->lifetime_s;
}

/* A slot for a new session of user: a free or expired one, else the
 * user's oldest when they have WEBSESS_MAX_PER_USER already.  NULL when
 * full.  Called locked. */
static struct websess_entry *free_slot(struct websess *s, const char *user, time_t now)
{
	struct websess_entry *slot = NULL, *oldest = NULL;
	size_t mine = 0;

	for (size_t i = 0; i < s->max; i++) {
		struct websess_entry *x = &s->v[i];

		if (expired(s, x, now))
			entry_clear(x);
		if (!x->used) {
			if (!slot)
				slot = x;
			continue;
		}
		if (strcmp(x->user, user) == 0) {
			mine++;
			if (!oldest || x->created < oldest->created)
				oldest = x;
		}
	}
	if (mine >= WEBSESS_MAX_PER_USER) {
		entry_clear(oldest);
		return oldest;
	}
	return slot;
}

/* The new session's secrets and its sealed password into x (cleared). */
static int fill(struct websess_entry *x, const char *user, const char *password, char *id,
		char *csrf)
{
	unsigned char key[32];
	size_t n = password ? strlen(password) : 0;
	int r;

	if ((r = random_hex(id)) < 0 || (r = random_hex(csrf)) < 0 ||
	    (r = hash("id", id, x->id_hash)) < 0 || (r = hash("csrf", csrf, x->csrf_hash)) < 0 ||
	    (r = hash("key", id, key)) < 0)
		goto out;
	if (n) {
		r = -ENOMEM;
		if (!(x->sealed = malloc(n)))
			goto out;
		x->sealed_len = n;
		r = RAND_bytes(x->nonce, sizeof(x->nonce)) == 1 ? 0 : -EIO;
		if (r == 0)
			r = seal(false, key, x->nonce, (const unsigned char *)password, n, x->sealed,
				 x->tag);
		if (r < 0)
			goto out;
	}
	snprintf(x->user, sizeof(x->user), "%s", user);
	x->created = time(NULL);
	x->used = true;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

int websess_create(struct websess *s, const char *user, const char *password, char *id,
		   char *csrf, struct err *e)
{
	char sid[WEBSESS_SECRET_HEX + 1], stok[WEBSESS_SECRET_HEX + 1];
	struct websess_entry *x;
	int r = 0;

	pthread_mutex_lock(&s->mu);
	x = free_slot(s, user, time(NULL));
	if (!x) {
		err_set(e, "the gateway holds %zu page sessions, its most "
			   "(KLANGK_GATEWAY_PAGE_SESSIONS); try again later", s->max);
		r = -EBUSY;
		goto out;
	}
	r = fill(x, user, password, sid, stok);
	if (r < 0) {
		entry_clear(x);
		err_set(e, "cannot make a session: %s", strerror(-r));
		goto out;
	}
	memcpy(id, sid, sizeof(sid));
	memcpy(csrf, stok, sizeof(stok));
out:
	pthread_mutex_unlock(&s->mu);
	OPENSSL_cleanse(sid, sizeof(sid));
	OPENSSL_cleanse(stok, sizeof(stok));
	return r;
}

/* The live session of id and csrf, locked; NULL with the reason in e and
 * *r. */
static struct websess_entry *find(struct websess *s, const char *id, const char *csrf,
				  int *r, struct err *e)
{
	unsigned char h[32];
	time_t now = time(NULL);

	if (!id || strlen(id) != WEBSESS_SECRET_HEX || hash("id", id, h) < 0)
		goto none;
	for (size_t i = 0; i < s->max; i++) {
		struct websess_entry *x = &s->v[i];

		if (!x->used || CRYPTO_memcmp(x->id_hash, h, sizeof(h)) != 0)
			continue;
		if (expired(s, x, now)) {
			entry_clear(x);
			break;
		}
		if (!csrf || strlen(csrf) != WEBSESS_SECRET_HEX || hash("csrf", csrf, h) < 0 ||
		    CRYPTO_memcmp(x->csrf_hash, h, sizeof(h)) != 0) {
			err_set(e, "the request lacks the page's CSRF token (or has a wrong one)");
			*r = -EPERM;
			return NULL;
		}
		return x;
	}
none:
	err_set(e, "no such session (signed out or expired); sign in again");
	*r = -ENOENT;
	return NULL;
}

/* The password of x, unsealed with the key of id.  *out new or NULL. */
static int unseal(const struct websess_entry *x, const char *id, char **out)
{
	unsigned char key[32], tag[16];
	char *p;
	int r;

	*out = NULL;
	if (!x->sealed_len)
		return 0;
	if (!(p = malloc(x->sealed_len + 1)))
		return -ENOMEM;
	memcpy(tag, x->tag, sizeof(tag));
	r = hash("key", id, key);
	if (r == 0)
		r = seal(true, key, x->nonce, x->sealed, x->sealed_len, (unsigned char *)p, tag);
	OPENSSL_cleanse(key, sizeof(key));
	if (r < 0) {
		OPENSSL_cleanse(p, x->sealed_len);
		free(p);
		return r;
	}
	p[x->sealed_len] = '\0';
	*out = p;
	return 0;
}

int websess_check(struct websess *s, const char *id, const char *csrf, char *user,
		  char **password, struct err *e)
{
	struct websess_entry *x;
	char *p = NULL;
	int r = 0;

	pthread_mutex_lock(&s->mu);
	x = find(s, id, csrf, &r, e);
	if (x && (r = unseal(x, id, &p)) < 0)
		err_set(e, "the session's secret cannot be read: %s", strerror(-r));
	if (x && r == 0) {
		snprintf(user, 256, "%s", x->user);
		*password = p;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

int websess_end(struct websess *s, const char *id, const char *csrf, struct err *e)
{
	struct websess_entry *x;
	int r = 0;

	pthread_mutex_lock(&s->mu);
	x = find(s, id, csrf, &r, e);
	if (x)
		entry_clear(x);
	pthread_mutex_unlock(&s->mu);
	return r;
}
