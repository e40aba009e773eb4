/*
 * quantity — Kubernetes resource quantities (see quantity.h).
 *
 * The mantissa's digits are kept as a decimal number of at most
 * QUANTITY_MAX_LEN digits; a binary suffix doubles it (at most 60 times,
 * adding at most 19 digits) and the decimal exponent then only moves the
 * decimal point, so the result is exact whatever the input's precision.
 */
#include "quantity.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Digits of the mantissa plus what 2^60 can add. */
#define MAX_DIGITS (QUANTITY_MAX_LEN + 20)
/* |decimal exponent| beyond which every non-zero value over- or
 * underflows anyway (keeps the exponent's arithmetic in range). */
#define EXP_CLAMP 100000

/* A parsed quantity: sign * digits * 10^exp10 * 2^exp2. */
struct parsed {
	bool negative;
	unsigned char dig[MAX_DIGITS]; /* most significant first, no leading 0 */
	size_t n;                      /* 0 means the value is zero */
	long exp10;
	int exp2;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* [+-]digits: saturated at +-EXP_CLAMP.  -EINVAL if not all digits. */
static int parse_exponent(const char *s, long *out)
{
	bool neg = false;
	long v = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!is_digit(*s))
			return -EINVAL;
		if (v < EXP_CLAMP)
			v = v * 10 + (*s - '0');
	}
	if (v > EXP_CLAMP)
		v = EXP_CLAMP;
	*out = neg ? -v : v;
	return 0;
}

/* The suffix's power of ten (exp10) or of two (exp2). */
static int parse_suffix(const char *s, long *exp10, int *exp2)
{
	static const char decimal[] = "num kMGTPE";  /* 10^-9 .. 10^18, ' ' = 1 */
	static const char binary[] = "KMGTPE";       /* 2^10 .. 2^60 */
	const char *p;

	*exp10 = 0;
	*exp2 = 0;
	if (!*s)
		return 0;
	/* "E" alone and "Ei" are suffixes; "E" with a number an exponent. */
	if ((s[0] == 'e' || s[0] == 'E') && s[1] && s[1] != 'i')
		return parse_exponent(s + 1, exp10);
	if (s[1] == 'i' && !s[2] && (p = strchr(binary, s[0])) && *p) {
		*exp2 = 10 * (int)(p - binary + 1);
		return 0;
	}
	if (!s[1] && s[0] != ' ' && (p = strchr(decimal, s[0])) && *p) {
		*exp10 = 3 * (long)(p - decimal) - 9;
		return 0;
	}
	return -EINVAL;
}

static int parse(const char *s, struct parsed *q)
{
	size_t len = strnlen(s, QUANTITY_MAX_LEN + 1), frac = 0;
	bool any = false, point = false;
	long exp10;
	int r;

	if (len > QUANTITY_MAX_LEN)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	if (*s == '+' || *s == '-')
		q->negative = *s++ == '-';
	for (; is_digit(*s) || (*s == '.' && !point); s++) {
		if (*s == '.') {
			point = true;
			continue;
		}
		any = true;
		frac += point;
		if (q->n == 0 && *s == '0')
			continue;
		q->dig[q->n++] = (unsigned char)(*s - '0');
	}
	if (!any)
		return -EINVAL;
	r = parse_suffix(s, &exp10, &q->exp2);
	if (r < 0)
		return r;
	q->exp10 = exp10 - (long)frac;
	return 0;
}

/* dig *= 2, in place (the array may grow by one digit). */
static void double_digits(struct parsed *q)
{
	unsigned carry = 0;

	for (size_t i = q->n; i-- > 0;) {
		unsigned d = q->dig[i] * 2u + carry;

		q->dig[i] = (unsigned char)(d % 10);
		carry = d / 10;
	}
	if (carry) {
		memmove(q->dig + 1, q->dig, q->n);
		q->dig[0] = (unsigned char)carry;
		q->n++;
	}
}

/* The first k digits as an integer; -ERANGE above INT64_MAX. */
static int leading(const struct parsed *q, size_t k, uint64_t *out)
{
	uint64_t v = 0;

	if (k > 19)
		return -ERANGE;
	for (size_t i = 0; i < k; i++)
		v = v * 10 + q->dig[i];
	if (v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*out = v;
	return 0;
}

int quantity_parse(const char *s, int scale, int64_t *out)
{
	struct parsed q;
	uint64_t v = 0;
	long e;
	int r;

	if (scale < 0 || scale > 18)
		return -EINVAL;
	r = parse(s, &q);
	if (r < 0)
		return r;
	for (int i = 0; i < q.exp2 && q.n; i++)
		double_digits(&q);
	e = q.exp10 + scale;
	if (q.n == 0) {
		v = 0;
	} else if (e >= 0) {
		if ((long)q.n + e > 19)
			return -ERANGE;
		r = leading(&q, q.n, &v);
		for (long i = 0; r == 0 && i < e; i++) {
			if (v > (uint64_t)INT64_MAX / 10)
				return -ERANGE;
			v *= 10;
		}
	} else {
		/* Keep the integer part; a non-zero digit after the point
		 * rounds up.  With nothing kept, the value is a non-zero
		 * fraction (the leading digit is never 0): it rounds up to 1. */
		long keep = (long)q.n + e;
		bool rest = false;

		if (keep <= 0) {
			v = 0;
			rest = true;
		} else {
			r = leading(&q, (size_t)keep, &v);
			for (size_t i = (size_t)keep; i < q.n; i++)
				rest |= q.dig[i] != 0;
		}
		if (r == 0 && rest && v == (uint64_t)INT64_MAX)
			return -ERANGE;
		v += rest;
	}
	if (r < 0)
		return r;
	*out = q.negative ? -(int64_t)v : (int64_t)v;
	return 0;
}

int quantity_format(int64_t v, int scale, char *buf, size_t len)
{
	static const char binary[] = "KMGTPE";
	static const char decimal[] = "num";   /* 10^-9, 10^-6, 10^-3 */
	const char *sfx = "";
	char one[3] = "";
	int n;

	if (scale == 0) {
		int k = 0;

		while (k < 6 && v != 0 && v % 1024 == 0) {
			v /= 1024;
			k++;
		}
		if (k) {
			one[0] = binary[k - 1];
			one[1] = 'i';
			sfx = one;
		}
	} else if (scale == 3 || scale == 6 || scale == 9) {
		/* Drop units of a thousand while exact: 10^-9 is n, 10^-6 u,
		 * 10^-3 m. */
		int s = scale;

		while (s > 0 && v % 1000 == 0) {
			v /= 1000;
			s -= 3;
		}
		if (s > 0) {
			one[0] = decimal[(9 - s) / 3];
			sfx = one;
		}
	} else {
		return -EINVAL;
	}
	n = snprintf(buf, len, "%lld%s", (long long)v, sfx);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
