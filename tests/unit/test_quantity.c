/* Unit tests for quantity: Kubernetes quantities to bytes and nano-CPUs,
 * exactly, rounded up, with overflow refused. */
#include "quantity.h"
#include "t.h"

#include <stdint.h>

static void ok(const char *s, int scale, int64_t want)
{
	int64_t v = -12345;
	int r = quantity_parse(s, scale, &v);

	if (r != 0 || v != want) {
		fprintf(stderr, "quantity_parse(\"%s\", %d): r=%d v=%lld, want %lld\n",
			s, scale, r, (long long)v, (long long)want);
		t_fail++;
	} else {
		t_pass++;
	}
}

static void bad(const char *s, int scale, int want_r)
{
	int64_t v = -12345;
	int r = quantity_parse(s, scale, &v);

	if (r != want_r || v != -12345) {
		fprintf(stderr, "quantity_parse(\"%s\", %d): r=%d v=%lld, want r=%d "
				"and *out untouched\n", s, scale, r, (long long)v, want_r);
		t_fail++;
	} else {
		t_pass++;
	}
}

static void test_cpu(void)
{
	ok("2", QUANTITY_SCALE_NANO, 2000000000);
	ok("500m", QUANTITY_SCALE_NANO, 500000000);
	ok("0.5", QUANTITY_SCALE_NANO, 500000000);
	ok(".25", QUANTITY_SCALE_NANO, 250000000);
	ok("1.", QUANTITY_SCALE_NANO, 1000000000);
	ok("100u", QUANTITY_SCALE_NANO, 100000);
	ok("1n", QUANTITY_SCALE_NANO, 1);
	/* Finer than a nano-CPU rounds up, never to 0. */
	ok("0.5n", QUANTITY_SCALE_NANO, 1);
	ok("1e-20", QUANTITY_SCALE_NANO, 1);
	ok("1e-100000000000", QUANTITY_SCALE_NANO, 1);
	ok("1.0000000001", QUANTITY_SCALE_NANO, 1000000001);
	ok("+3", QUANTITY_SCALE_NANO, 3000000000);
	ok("0", QUANTITY_SCALE_NANO, 0);
	ok("0.000m", QUANTITY_SCALE_NANO, 0);
	ok("-1", QUANTITY_SCALE_NANO, -1000000000);
	ok("9", QUANTITY_SCALE_NANO, 9000000000);
	/* 9223372036 CPUs are the most nano-CPUs int64 holds. */
	ok("9223372036", QUANTITY_SCALE_NANO, 9223372036000000000);
	bad("9223372037", QUANTITY_SCALE_NANO, -ERANGE);
	bad("1E", QUANTITY_SCALE_NANO, -ERANGE);
}

static void test_memory(void)
{
	ok("8Gi", 0, 8589934592LL);
	ok("1.5Gi", 0, 1610612736LL);
	ok(".5Ki", 0, 512);
	ok("1Ki", 0, 1024);
	ok("1k", 0, 1000);
	ok("1M", 0, 1000000);
	ok("1e3", 0, 1000);
	ok("1E3", 0, 1000);
	ok("1e+3", 0, 1000);
	ok("12e-1", 0, 2);
	ok("1.1", 0, 2);
	ok("1m", 0, 1);
	ok("00001", 0, 1);
	ok("1.0000000000000000000000000000000000000000000001", 0, 2);
	ok("0.000000000000000000000000000000001Ei", 0, 1);
	ok("7Ei", 0, 8070450532247928832LL);
	ok("1E", 0, 1000000000000000000LL);
	ok("9223372036854775807", 0, INT64_MAX);
	ok("-9223372036854775807", 0, -INT64_MAX);
	ok("9223372036854775806.5", 0, INT64_MAX);
	bad("9223372036854775807.5", 0, -ERANGE);
	bad("9223372036854775808", 0, -ERANGE);
	bad("8Ei", 0, -ERANGE);
	bad("1e19", 0, -ERANGE);
	bad("1e100", 0, -ERANGE);
	bad("1e99999999999999999999", 0, -ERANGE);
	ok("0e99999999999999999999", 0, 0);
	ok("9.223372036854775807e18", 0, INT64_MAX);
}

static void test_syntax(void)
{
	static const char *const no[] = {
		"", "+", "-", ".", "+.", "1.2.3", "1 Gi", " 1", "1 ", "1e", "1e+",
		"1e1.5", "1Gib", "1ki", "1K", "1KI", "1gi", "1x", "Gi", "e3", "1ee3",
		"1E+", "2e3m", "--1", "+-1", "1,5", "0x10", "1i", "1mi", "1Ei3", "1e3Gi",
		"١", "1\n",
		"1000000000000000000000000000000000000000000000000000000000000000k",
	};

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		bad(no[i], 0, -EINVAL);
	/* 64 characters is the longest accepted. */
	ok("0000000000000000000000000000000000000000000000000000000000000001", 0, 1);
	bad("1", 19, -EINVAL);
}

static void fmt(int64_t v, int scale, const char *want)
{
	char buf[32];

	CHECK(quantity_format(v, scale, buf, sizeof(buf)) == 0);
	CHECK_CONTAINS(buf, want);
	CHECK(strlen(buf) == strlen(want));
}

static void test_format(void)
{
	char small[4];

	fmt(8589934592LL, 0, "8Gi");
	fmt(1610612736LL, 0, "1536Mi");
	fmt(1000, 0, "1000");
	fmt(0, 0, "0");
	fmt(2000000000, QUANTITY_SCALE_NANO, "2");
	fmt(500000000, QUANTITY_SCALE_NANO, "500m");
	fmt(1500000, QUANTITY_SCALE_NANO, "1500u");
	fmt(7, QUANTITY_SCALE_NANO, "7n");
	CHECK(quantity_format(8589934592LL, 0, small, sizeof(small)) == 0);
	CHECK(quantity_format(1000, 0, small, sizeof(small)) == -ENAMETOOLONG);
	CHECK(quantity_format(1, 1, small, sizeof(small)) == -EINVAL);
	/* What is formatted parses back to the same value. */
	{
		const int64_t vs[] = { 1, 1023, 1024, 6291456, 8589934592LL, INT64_MAX };

		for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
			char b[32];
			int64_t back = 0;

			CHECK(quantity_format(vs[i], 0, b, sizeof(b)) == 0);
			CHECK(quantity_parse(b, 0, &back) == 0 && back == vs[i]);
		}
	}
}

int main(void)
{
	test_cpu();
	test_memory();
	test_syntax();
	test_format();
	return T_DONE("quantity");
}
