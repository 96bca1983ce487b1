/*
 * rows.h -- a read-only result set over either store, SQLite or
 * PostgreSQL (store.h), for query, report and show.
 *
 * Cells are typed as SQLite types them (NULL, integer, float, text,
 * blob) and rendered as text as SQLite renders them, so that one printer
 * (query.c) prints the same bytes for the same answer from either
 * database: PostgreSQL's integers, booleans (as 1 and 0) and whole
 * numerics (a sum of integers) become integers, its floats and other
 * numerics REALs (printed as SQLite prints them: 15 significant digits,
 * at least one after the point).  Column names and NULLs' place in an
 * ORDER BY are each database's own (PostgreSQL names count(*) "count"
 * and sorts NULL last).
 */
#ifndef HANGUP_ROWS_H
#define HANGUP_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/store.h"

typedef struct hu_rows hu_rows;

typedef enum hu_cell {
    HU_CELL_NULL,
    HU_CELL_INT,
    HU_CELL_FLOAT,
    HU_CELL_TEXT,
    HU_CELL_BLOB,
} hu_cell;

/* A parameter: text (NULL: SQL NULL) when is_text, else the integer i. */
typedef struct hu_param {
    bool is_text;
    const char *text;
    int64_t i;
} hu_param;

/* Run hangup's own statement sql with params p[0..np) (p[i] is $i+1).
 * Parameters written $N work on both databases (SQLite binds them by
 * name), so SQL both dialects accept is written once; SQLite's ?N form
 * works on SQLite only.  On PostgreSQL a parameter is typed bigint or
 * text, as p[i] is.  Not in $N (SQLite would take "$1::bigint" as one
 * name): a cast written on a parameter.  NULL with one line in err on
 * failure. */
hu_rows *hu_rows_open(hu_store *s, const char *sql, const hu_param *p, int np, char *err,
                      size_t n);

/* Run the user's statement sql, which must be one statement that only
 * reads (SQLite: checked when it is prepared, ATTACH and load_extension
 * refused; PostgreSQL: run in a read-only transaction that is rolled back
 * at hu_rows_close).  NULL with one line in err on failure, *usage true
 * when the statement is at fault (refused, does not compile, empty, more
 * than one) rather than the database. */
hu_rows *hu_rows_user(hu_store *s, const char *sql, bool *usage, char *err, size_t n);

int hu_rows_ncols(const hu_rows *r);
const char *hu_rows_name(const hu_rows *r, int i);
/* The next row: 1 one is there, 0 the end, -1 an error (hu_rows_error). */
int hu_rows_next(hu_rows *r);
const char *hu_rows_error(const hu_rows *r);
/* Cell i of the current row: its type; its text as SQLite renders it
 * (*len its bytes; NULL for NULL) or its blob bytes; its value as an
 * integer or a float.  Strings are valid until the next hu_rows_next. */
hu_cell hu_rows_type(const hu_rows *r, int i);
const char *hu_rows_text(hu_rows *r, int i, size_t *len);
const uint8_t *hu_rows_blob(hu_rows *r, int i, size_t *len);
int64_t hu_rows_int(const hu_rows *r, int i);
double hu_rows_double(const hu_rows *r, int i);
/* Free (a PostgreSQL user statement's transaction rolled back).  NULL: no-op. */
void hu_rows_close(hu_rows *r);

#endif
