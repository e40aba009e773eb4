/* Unit tests for table: klangkc's column-aligned tables (cli/table.c). */
#include "table.h"
#include "t.h"

#include <stdlib.h>

/* What table_flush prints, as a new string. */
static char *flushed(struct table *t)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	if (!f)
		return NULL;
	table_flush(t, f);
	fclose(f);
	return s;
}

static void check_flush(struct table *t, const char *want)
{
	char *got = flushed(t);

	CHECK(got && strcmp(got, want) == 0);
	if (got && strcmp(got, want) != 0)
		fprintf(stderr, "want:\n%sgot:\n%s", want, got);
	free(got);
}

static void test_ascii(void)
{
	struct table *t = NULL;

	CHECK(table_new(3, "", &t) == 0);
	CHECK(table_add(t, 3, "NAME", "PHASE", "PORTS") == 0);
	CHECK(table_add(t, 3, "a", "Running", "27469,27470") == 0);
	CHECK(table_add(t, 3, "a-much-longer-name", "Pending", "-") == 0);
	check_flush(t,
		    "NAME                 PHASE     PORTS\n"
		    "a                    Running   27469,27470\n"
		    "a-much-longer-name   Pending   -\n");
	table_free(t);
}

static void test_long_and_empty(void)
{
	struct table *t = NULL;
	char big[301], want[1024];

	memset(big, 'x', 300);
	big[300] = '\0';
	CHECK(table_new(3, "  ", &t) == 0);
	CHECK(table_add(t, 3, "A", "B", "C") == 0);
	CHECK(table_add(t, 3, big, "", "c") == 0);     /* an empty middle cell */
	CHECK(table_add(t, 3, "", "b", NULL) == 0);    /* NULL: empty; trailing: unpadded */
	snprintf(want, sizeof(want), "  A%*sB   C\n  %s       c\n  %*sb\n", 300 - 1 + 3, "", big,
		 300 + 3, "");
	check_flush(t, want);
	table_free(t);
}

static void test_multibyte(void)
{
	struct table *t = NULL;

	CHECK(table_width("abc") == 3);
	CHECK(table_width("") == 0);
	CHECK(table_width("j\xc3\xbcrgen") == 6);               /* ü: 2 bytes, 1 column */
	CHECK(table_width("\xe6\x97\xa5\xe6\x9c\xac") == 4);     /* 日本: wide */
	CHECK(table_width("e\xcc\x81") == 1);                   /* e + combining acute */
	CHECK(table_width("\xff" "a") == 2);                    /* invalid byte: 1 column */
	CHECK(table_width("\xe6\x97") == 2);                    /* truncated sequence */
	CHECK(table_new(2, "", &t) == 0);
	CHECK(table_add(t, 2, "USER", "ROLE") == 0);
	CHECK(table_add(t, 2, "j\xc3\xbcrgen", "coder") == 0);
	CHECK(table_add(t, 2, "\xe6\x97\xa5\xe6\x9c\xac", "owner") == 0);
	check_flush(t,
		    "USER     ROLE\n"
		    "j\xc3\xbcrgen   coder\n"
		    "\xe6\x97\xa5\xe6\x9c\xac     owner\n");
	table_free(t);
}

static void test_control_chars(void)
{
	struct table *t = NULL;

	CHECK(table_new(2, "", &t) == 0);
	CHECK(table_add(t, 2, "a\nb", "\x1b[31mred") == 0);
	check_flush(t, "a b    [31mred\n"); /* ESC is a space too */
	table_free(t);
}

/* get --watch: later flushes keep the widths of the first one, widening
 * only for a longer cell; an incomplete row waits for its cells. */
static void test_flush_keeps_widths(void)
{
	struct table *t = NULL;

	CHECK(table_new(2, "", &t) == 0);
	CHECK(table_add(t, 2, "NAME", "PHASE") == 0);
	CHECK(table_add(t, 2, "longname", "Running") == 0);
	check_flush(t, "NAME       PHASE\nlongname   Running\n");
	CHECK(table_add(t, 2, "a", "Stopped") == 0);
	CHECK(table_cell(t, "b") == 0);
	check_flush(t, "a          Stopped\n");
	CHECK(table_cellf(t, "%s-%d", "x", 1) == 0);
	CHECK(table_add(t, 2, "a-longer-name", "Deleted") == 0);
	check_flush(t, "b               x-1\na-longer-name   Deleted\n");
	table_free(t);
}

static void test_bad_args(void)
{
	struct table *t = NULL;

	CHECK(table_new(0, "", &t) == -EINVAL);
	CHECK(table_new(TABLE_MAX_COLS + 1, "", &t) == -EINVAL);
	CHECK(t == NULL);
	table_free(NULL);
}

int main(void)
{
	test_ascii();
	test_long_and_empty();
	test_multibyte();
	test_control_chars();
	test_flush_keeps_widths();
	test_bad_args();
	return T_DONE("table");
}
