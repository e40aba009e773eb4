/* timefmt — RFC 3339 UTC timestamps (see timefmt.h). */
#include "timefmt.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

int timefmt_emit(time_t t, char *buf, size_t len)
{
	struct tm tm;
	char tmp[TIMEFMT_MAX];
	size_t n;

	if (!gmtime_r(&t, &tm))
		return -EINVAL;
	n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (n == 0)
		return -EINVAL;
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, tmp, n + 1);
	return 0;
}

int timefmt_now(char *buf, size_t len)
{
	return timefmt_emit(time(NULL), buf, len);
}

/* Two digits at s, as a number; -1 if they are not digits. */
static int two(const char *s)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* The zone after the seconds (and fraction): "Z" or "+hh:mm"/"-hh:mm",
 * ending the string; seconds east of UTC into *off. */
static int zone(const char *s, long *off)
{
	int hh, mm;

	if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
		*off = 0;
		return 0;
	}
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':')
		return -EINVAL;
	hh = two(s + 1);
	mm = two(s + 4);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59)
		return -EINVAL;
	*off = (s[0] == '-' ? -1 : 1) * (hh * 3600L + mm * 60L);
	return 0;
}

int timefmt_parse(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;
	long off;
	time_t t;

	if (!s)
		return -EINVAL;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	/* strptime skips spaces and takes one-digit fields; RFC 3339 has
	 * neither, and its date-time is exactly 19 characters. */
	if (!end || end - s != 19 || !isdigit((unsigned char)s[0]) || s[4] != '-' ||
	    s[10] != 'T')
		return -EINVAL;
	if (*end == '.') {
		if (!isdigit((unsigned char)end[1]))
			return -EINVAL;
		for (end++; isdigit((unsigned char)*end); end++)
			;
	}
	if (zone(end, &off) < 0)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - off;
	return 0;
}
