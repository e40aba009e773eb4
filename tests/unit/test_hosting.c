/* Unit tests for hosting: the domain setting and the two URL forms. */
#include "hosting.h"
#include "t.h"

#include <stdbool.h>

static void test_domain(void)
{
	char name[HOSTING_DOMAIN_MAX + 1], big[300];
	long port = -1;

	CHECK(hosting_is_domain("apps.example.com"));
	CHECK(hosting_is_domain("apps.localhost:8995"));
	CHECK(hosting_is_domain("a-b.c0"));
	/* Lowercase only, two labels or more, no empty or hyphen-edged label,
	 * no trailing dot, a port 1..65535 without a leading zero. */
	CHECK(!hosting_is_domain(""));
	CHECK(!hosting_is_domain("localhost"));
	CHECK(!hosting_is_domain("Apps.example.com"));
	CHECK(!hosting_is_domain("apps..example.com"));
	CHECK(!hosting_is_domain(".example.com"));
	CHECK(!hosting_is_domain("apps.example.com."));
	CHECK(!hosting_is_domain("-apps.example.com"));
	CHECK(!hosting_is_domain("apps-.example.com"));
	CHECK(!hosting_is_domain("apps_x.example.com"));
	CHECK(!hosting_is_domain("apps.example.com; }"));
	CHECK(!hosting_is_domain("apps.example.com:"));
	CHECK(!hosting_is_domain("apps.example.com:0"));
	CHECK(!hosting_is_domain("apps.example.com:08995"));
	CHECK(!hosting_is_domain("apps.example.com:65536"));
	CHECK(!hosting_is_domain("apps.example.com:80:80"));
	CHECK(!hosting_is_domain("*.example.com"));
	memset(big, 'a', sizeof(big));
	big[63] = '.';
	big[127] = '.';
	big[191] = '.';
	big[200] = '\0';
	CHECK(hosting_is_domain(big));
	big[200] = 'a';
	big[201] = '\0';
	CHECK(!hosting_is_domain(big));
	big[63] = 'a';
	big[64] = '.';
	big[200] = '\0';
	CHECK(!hosting_is_domain(big));   /* a 64-character label */

	CHECK(hosting_split_domain("apps.localhost:8995", name, sizeof(name), &port) == 0);
	CHECK(strcmp(name, "apps.localhost") == 0 && port == 8995);
	CHECK(hosting_split_domain("apps.example.com", name, sizeof(name), &port) == 0);
	CHECK(strcmp(name, "apps.example.com") == 0 && port == 0);
	CHECK(hosting_split_domain("apps.example.com", name, 5, &port) == -ENAMETOOLONG);
	CHECK(hosting_split_domain("localhost", name, sizeof(name), &port) == -EINVAL);
}

static void test_url(void)
{
	char u[128] = "unchanged";

	CHECK(hosting_app_url("http", "localhost:8995", "", "", "3f9c1a2b7d4e", 9000,
			      u, sizeof(u)) == 0);
	CHECK(strcmp(u, "http://localhost:8995/hosted/3f9c1a2b7d4e/9000/") == 0);
	CHECK(hosting_app_url("https", "example.com", "/klangk", NULL, "3f9c1a2b7d4e", 9001,
			      u, sizeof(u)) == 0);
	CHECK(strcmp(u, "https://example.com/klangk/hosted/3f9c1a2b7d4e/9001/") == 0);
	/* Origin mode: hostname and base path play no part. */
	CHECK(hosting_app_url("https", "example.com", "/klangk", "apps.example.com",
			      "3f9c1a2b7d4e", 9001, u, sizeof(u)) == 0);
	CHECK(strcmp(u, "https://3f9c1a2b7d4e-9001.apps.example.com/") == 0);
	CHECK(hosting_app_url("http", "localhost:8995", "", "apps.localhost:8995",
			      "3f9c1a2b7d4e", 9000, u, sizeof(u)) == 0);
	CHECK(strcmp(u, "http://3f9c1a2b7d4e-9000.apps.localhost:8995/") == 0);
	/* Bad input and a short buffer leave the output alone. */
	CHECK(hosting_app_url("http", "h", "", "", "3F9C1A2B7D4E", 9000, u, sizeof(u)) == -EINVAL);
	CHECK(hosting_app_url("http", "h", "", "", "3f9c1a2b7d4e", 0, u, sizeof(u)) == -EINVAL);
	CHECK(hosting_app_url("http", "h", "", "", "3f9c1a2b7d4e", 65536, u, sizeof(u)) == -EINVAL);
	CHECK(hosting_app_url("http", "h", "", "apps.example.com", "3f9c1a2b7d4e", 9000,
			      u, 20) == -ENAMETOOLONG);
	CHECK(strcmp(u, "http://3f9c1a2b7d4e-9000.apps.localhost:8995/") == 0);
}

int main(void)
{
	test_domain();
	test_url();
	return T_DONE("hosting");
}
