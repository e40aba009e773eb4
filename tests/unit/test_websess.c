/* Unit tests for websess: a session needs its id and its CSRF token, the
 * store stays within its bound, a user's oldest session makes room for
 * their newest, and sessions end at sign-out and at their lifetime. */
#include "websess.h"
#include "t.h"

#include <stdlib.h>
#include <string.h>

static void test_check(void)
{
	struct websess s;
	struct err e = { "" };
	char id[WEBSESS_SECRET_HEX + 1], csrf[WEBSESS_SECRET_HEX + 1];
	char id2[WEBSESS_SECRET_HEX + 1], csrf2[WEBSESS_SECRET_HEX + 1];
	char user[256] = "", *token = NULL, wrong[WEBSESS_SECRET_HEX + 1];

	CHECK(websess_init(&s, 4, 3600, &e) == 0);
	CHECK(websess_create(&s, "alice", "tok-a", id, csrf, &e) == 0);
	CHECK(strlen(id) == WEBSESS_SECRET_HEX && strlen(csrf) == WEBSESS_SECRET_HEX);
	CHECK(strcmp(id, csrf) != 0);
	CHECK(websess_create(&s, "alice", "tok-b", id2, csrf2, &e) == 0);
	CHECK(strcmp(id, id2) != 0 && strcmp(csrf, csrf2) != 0);
	CHECK(websess_check(&s, id, csrf, user, &token, &e) == 0);
	CHECK(strcmp(user, "alice") == 0 && token && strcmp(token, "tok-a") == 0);
	/* The store keeps the password sealed, and neither secret. */
	for (size_t i = 0; i < s.max; i++) {
		const struct websess_entry *x = &s.v[i];

		CHECK(!memmem(x, sizeof(*x), "tok-a", 5) && !memmem(x, sizeof(*x), id, 16));
		CHECK(!x->sealed || !memmem(x->sealed, x->sealed_len, "tok", 3));
	}
	free(token);
	token = NULL;
	/* The cookie alone, or with another session's token, is refused. */
	CHECK(websess_check(&s, id, NULL, user, &token, &e) == -EPERM);
	CHECK_CONTAINS(e.msg, "CSRF");
	CHECK(websess_check(&s, id, csrf2, user, &token, &e) == -EPERM);
	snprintf(wrong, sizeof(wrong), "%s", id);
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	CHECK(websess_check(&s, wrong, csrf, user, &token, &e) == -ENOENT);
	CHECK(websess_check(&s, "short", csrf, user, &token, &e) == -ENOENT);
	CHECK(token == NULL);
	/* Sign-out needs the token too; then the session is gone. */
	CHECK(websess_end(&s, id, csrf2, &e) == -EPERM);
	CHECK(websess_end(&s, id, csrf, &e) == 0);
	CHECK(websess_check(&s, id, csrf, user, &token, &e) == -ENOENT);
	CHECK(websess_check(&s, id2, csrf2, user, &token, &e) == 0);
	free(token);
	websess_destroy(&s);
}

static void test_bounds(void)
{
	struct websess s;
	struct err e = { "" };
	char id[WEBSESS_MAX_PER_USER + 1][WEBSESS_SECRET_HEX + 1];
	char csrf[WEBSESS_MAX_PER_USER + 1][WEBSESS_SECRET_HEX + 1];
	char user[256], *token = NULL;

	/* Full of others' live sessions: refused, with the setting named. */
	CHECK(websess_init(&s, 2, 3600, &e) == 0);
	CHECK(websess_create(&s, "alice", NULL, id[0], csrf[0], &e) == 0);
	CHECK(websess_create(&s, "bob", NULL, id[1], csrf[1], &e) == 0);
	CHECK(websess_create(&s, "carol", NULL, id[2], csrf[2], &e) == -EBUSY);
	CHECK_CONTAINS(e.msg, "KLANGK_GATEWAY_PAGE_SESSIONS");
	/* Anonymous (etcd auth off): no token. */
	CHECK(websess_check(&s, id[0], csrf[0], user, &token, &e) == 0 && token == NULL);
	websess_destroy(&s);

	/* A user's oldest makes room for their newest. */
	CHECK(websess_init(&s, 64, 3600, &e) == 0);
	for (int i = 0; i <= WEBSESS_MAX_PER_USER; i++)
		CHECK(websess_create(&s, "alice", "t", id[i], csrf[i], &e) == 0);
	CHECK(websess_check(&s, id[0], csrf[0], user, &token, &e) == -ENOENT);
	CHECK(websess_check(&s, id[WEBSESS_MAX_PER_USER], csrf[WEBSESS_MAX_PER_USER], user,
			    &token, &e) == 0);
	free(token);
	websess_destroy(&s);

	/* A lifetime of 0 s: over at once, and its slot free again. */
	CHECK(websess_init(&s, 1, 0, &e) == 0);
	CHECK(websess_create(&s, "alice", "t", id[0], csrf[0], &e) == 0);
	CHECK(websess_check(&s, id[0], csrf[0], user, &token, &e) == -ENOENT);
	CHECK(websess_create(&s, "bob", "t", id[1], csrf[1], &e) == 0);
	websess_destroy(&s);
}

int main(void)
{
	test_check();
	test_bounds();
	return T_DONE("websess");
}
