/* table — column-aligned tables for klangkc (see table.h). */
#include "table.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GAP 3   /* spaces between columns, as kubectl */

struct table {
	size_t ncols;
	const char *indent;
	char **cells;       /* row-major, n of them */
	size_t n, cap;
	size_t width[TABLE_MAX_COLS];
};

int table_new(size_t ncols, const char *indent, struct table **out)
{
	struct table *t;

	if (ncols == 0 || ncols > TABLE_MAX_COLS)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncols = ncols;
	t->indent = indent ? indent : "";
	*out = t;
	return 0;
}


void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int table_cell(struct table *t, const char *s)
{
	char *copy;

	if (t->n / t->ncols >= TABLE_MAX_ROWS)
		return -E2BIG;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8 * t->ncols;
		char **cells = realloc(t->cells, cap * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	copy = strdup(s ? s : "");
	if (!copy)
		return -ENOMEM;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	t->cells[t->n++] = copy;
	return 0;
}

int table_cellf(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n, r;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	r = table_cell(t, s);
	free(s);
	return r;
}

int table_add(struct table *t, size_t n, ...)
{
	va_list ap;
	int r = 0;

	va_start(ap, n);
	for (size_t i = 0; i < n && r == 0; i++)
		r = table_cell(t, va_arg(ap, const char *));
	va_end(ap);
	return r;
}

/* The next code point of UTF-8 text at *p (advanced past it); a byte that
 * does not start a valid sequence counts as one code point of its own. */
static uint32_t next_cp(const unsigned char **p)
{
	const unsigned char *s = *p;
	int len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		  (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	uint32_t cp = len == 1 ? s[0] : len == 2 ? s[0] & 0x1f : len == 3 ? s[0] & 0x0f : s[0] & 0x07;

	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			len = 0;
			break;
		}
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (len == 0) {
		*p = s + 1;
		return 0xfffd;
	}
	*p = s + len;
	return cp;
}

/* Columns a code point takes: the ranges of wcwidth that matter here,
 * without depending on the locale klangkc runs in. */
static int cp_width(uint32_t cp)
{
	static const struct { uint32_t lo, hi; } zero[] = {
		{ 0x0300, 0x036f }, { 0x200b, 0x200f }, { 0x20d0, 0x20ff }, { 0xfe00, 0xfe0f },
		{ 0xfe20, 0xfe2f },
	}, wide[] = {
		{ 0x1100, 0x115f }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff }, { 0x3400, 0x4dbf },
		{ 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xac00, 0xd7a3 }, { 0xf900, 0xfaff },
		{ 0xfe30, 0xfe4f }, { 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x1f300, 0x1f64f },
		{ 0x1f900, 0x1f9ff }, { 0x20000, 0x3fffd },
	};

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (cp >= zero[i].lo && cp <= zero[i].hi)
			return 0;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (cp >= wide[i].lo && cp <= wide[i].hi)
			return 2;
	return 1;
}

size_t table_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	while (*p)
		w += (size_t)cp_width(next_cp(&p));
	return w;
}

void table_flush(struct table *t, FILE *f)
{
	size_t rows = t->n / t->ncols;

	for (size_t i = 0; i < rows * t->ncols; i++) {
		size_t w = table_width(t->cells[i]);

		if (w > t->width[i % t->ncols])
			t->width[i % t->ncols] = w;
	}
	for (size_t r = 0; r < rows; r++) {
		char **row = t->cells + r * t->ncols;
		size_t last = t->ncols;

		/* Trailing empty cells would only print spaces. */
		while (last > 1 && !row[last - 1][0])
			last--;
		fputs(t->indent, f);
		for (size_t c = 0; c < last; c++) {
			fputs(row[c], f);
			if (c + 1 < last)
				fprintf(f, "%*s", (int)(t->width[c] - table_width(row[c]) + GAP), "");
		}
		fputc('\n', f);
	}
	/* An incomplete row stays for the next cells. */
	for (size_t i = 0; i < rows * t->ncols; i++)
		free(t->cells[i]);
	memmove(t->cells, t->cells + rows * t->ncols, (t->n - rows * t->ncols) * sizeof(*t->cells));
	t->n -= rows * t->ncols;
}
