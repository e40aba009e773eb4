/* test_timefmt — RFC 3339 timestamps: the exact form written, what reads
 * back, and what is refused. */
#include "timefmt.h"
#include "t.h"

#include <errno.h>
#include <string.h>

int main(void)
{
	char buf[TIMEFMT_MAX];
	time_t t = 0;

	CHECK(timefmt_emit(1738326896, buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "2025-01-31T12:34:56Z") == 0);
	CHECK(timefmt_parse(buf, &t) == 0 && t == 1738326896);
	CHECK(timefmt_emit(1738326896, buf, 20) == -ENAMETOOLONG);
	CHECK(timefmt_emit(1738326896, buf, 21) == 0);
	CHECK(timefmt_now(buf, sizeof(buf)) == 0 && timefmt_parse(buf, &t) == 0);
	CHECK(t > 1738326896);

	/* Fractions (the engines write nanoseconds) and offsets. */
	CHECK(timefmt_parse("2025-01-31T12:34:56.123456789Z", &t) == 0 && t == 1738326896);
	CHECK(timefmt_parse("2025-01-31T13:34:56+01:00", &t) == 0 && t == 1738326896);
	CHECK(timefmt_parse("2025-01-31T11:04:56-01:30", &t) == 0 && t == 1738326896);

	/* Refused, and *out untouched. */
	t = 42;
	CHECK(timefmt_parse(NULL, &t) == -EINVAL);
	CHECK(timefmt_parse("", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-01-31T12:34:56", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-01-31 12:34:56Z", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-1-31T12:34:56Z", &t) == -EINVAL);
	CHECK(timefmt_parse(" 025-01-31T12:34:56Z", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-01-31T12:34:56.Z", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-01-31T12:34:56Zjunk", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-01-31T12:34:56+1:00", &t) == -EINVAL);
	CHECK(timefmt_parse("2025-01-31T12:34:56+24:00", &t) == -EINVAL);
	CHECK(timefmt_parse("yesterday", &t) == -EINVAL);
	CHECK(t == 42);
	return T_DONE("timefmt");
}
