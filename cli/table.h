/*
 * table — klangkc's tables (get, members, describe's conditions and
 * events): cells are collected row by row and printed with each column as
 * wide as its widest cell (in terminal columns, UTF-8 aware), three spaces
 * apart, the last column unpadded.  A table flushed more than once (get
 * --watch) keeps the widths it has printed so far, so later rows line up
 * with the earlier ones as long as they fit.
 */
#ifndef KLANGK_TABLE_H
#define KLANGK_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* A table of ncols columns (1..TABLE_MAX_COLS), each printed row starting
 * with indent (borrowed; "" for none).  out: new. */
#define TABLE_MAX_COLS 16
int table_new(size_t ncols, const char *indent, struct table **out);
void table_free(struct table *t);

/* Append one cell (copied; NULL is an empty cell) to the current row; the
 * row is complete after ncols cells.  Control characters are shown as
 * spaces, so that a cell stays on its line.  -ENOMEM, or -E2BIG beyond
 * TABLE_MAX_ROWS rows. */
#define TABLE_MAX_ROWS 1000000
int table_cell(struct table *t, const char *s);
int table_cellf(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* table_cell of each of the n const char * arguments, up to the first
 * failure. */
int table_add(struct table *t, size_t n, ...);

/* Print the complete rows to f and forget them (the widths stay). */
void table_flush(struct table *t, FILE *f);

/* The width of s in terminal columns: code points, wide East Asian ones
 * counted twice and combining marks not at all. */
size_t table_width(const char *s);

#endif
