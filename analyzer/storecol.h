/*
 * storecol.h -- records mapped to table rows by a column table (private
 * to the store).
 *
 * A table is an array of columns, each naming its SQL column and saying
 * where its value lives in the C record and how it is kept there.  From
 * that one array come the INSERT text, the SELECT column list, every bind
 * and every load, so a column is added, moved or dropped in one place and
 * no statement depends on positions written by hand.
 *
 * Every value is bound to a named parameter, :column, never spliced into
 * SQL text.  A column whose value SQL derives from other parameters (the
 * "addr:port" endpoint text) is not bound; a parameter that only feeds
 * such a derivation is not a column.
 */
#ifndef HANGUP_STORECOL_H
#define HANGUP_STORECOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

/* Where a record's bound values go: an SQLite statement's parameters
 * (q), or, for the PostgreSQL store (q NULL), vals[1..nvals] as text
 * (malloc'd, NULL for SQL NULL; oom once a copy failed).  Index i is
 * the 1-based place of the value's column among the bound ones. */
#define HU_SC_MAXVALS 128
typedef struct hu_sc_out {
    sqlite3_stmt *q;
    char *vals[HU_SC_MAXVALS + 1];
    int nvals;
    bool oom;
} hu_sc_out;

/* Where loaded values come from: an SQLite statement's current row (q),
 * or row `row` of a PostgreSQL result (res, a PGresult *: text format). */
typedef struct hu_sc_in {
    sqlite3_stmt *q;
    const void *res;
    int row;
} hu_sc_in;

/* Bind text t (len bytes, or up to its NUL with len < 0) or an integer
 * to parameter i.  For PostgreSQL, text is stored as valid UTF-8 without
 * NUL: each byte that is not part of valid UTF-8 (and NUL) becomes the
 * four characters \xHH. */
void hu_sc_text(hu_sc_out *o, int i, const char *t, int len);
void hu_sc_int(hu_sc_out *o, int i, int64_t v);
/* Free a PostgreSQL out's values (an SQLite out holds none). */
void hu_sc_out_clear(hu_sc_out *o);

/* Column i of the row: NULL-ness, text (NULL when NULL; *len its bytes
 * when len is not NULL) and integer (0 when NULL). */
bool hu_sc_null(const hu_sc_in *in, int i);
const char *hu_sc_get_text(const hu_sc_in *in, int i, size_t *len);
int64_t hu_sc_get_int(const hu_sc_in *in, int i);

/* How a column's value is kept in its record. */
typedef enum hu_storecol_type {
    HU_SC_OWNER,    /* the id of the row this one belongs to; not in the record */
    HU_SC_POS,      /* the row's position among its owner's; not in the record */
    HU_SC_U64,      /* uint64_t */
    HU_SC_I64,      /* int64_t */
    HU_SC_U32,      /* uint32_t */
    HU_SC_U16,      /* uint16_t */
    HU_SC_U8,       /* uint8_t */
    HU_SC_BOOL,     /* bool */
    HU_SC_OPT,      /* int64_t, -1 (unknown) stored as NULL */
    HU_SC_OPT_INT,  /* int, -1 (unknown) stored as NULL */
    HU_SC_STR,      /* char[size], "" stored as NULL */
    HU_SC_CSTR,     /* const char * to a static string, NULL as NULL; never loaded */
    HU_SC_ADDR,     /* uint8_t[16] stored as address text; size: the offset of
                        the record's uint8_t IP version (4 or 6) */
    HU_SC_ENDPOINT, /* text derived by SQL from the parameters :name_addr,
                        :name_port and :ip_version: "addr:port", "[addr6]:port";
                        not bound, not loaded */
    HU_SC_CUSTOM,   /* bind and load below */
} hu_storecol_type;

typedef struct hu_storecol {
    const char *name;         /* the column, bound to parameter :name */
    hu_storecol_type type;
    size_t off;               /* of the value in the record */
    size_t size;              /* HU_SC_STR: the array's size; HU_SC_ADDR: see above */
    /* Whether the record has a value (else NULL is stored).  NULL: always,
     * except as the types above say for -1, "" and NULL. */
    bool (*when)(const void *rec);
    /* HU_SC_CUSTOM: bind the value to parameter i (leave it unbound for
     * NULL); load it from result column i, false when out of memory.
     * A NULL load leaves the record's field as it was. */
    void (*bind)(hu_sc_out *q, int i, const void *rec);
    bool (*load)(const hu_sc_in *q, int i, void *rec);
    bool param_only;          /* bound for an endpoint derivation; not a column */
} hu_storecol;

typedef struct hu_storecol_table {
    const char *name;
    const hu_storecol *cols;
    size_t ncols;
} hu_storecol_table;

#define HU_STORECOL_TABLE(name, cols) { name, cols, sizeof cols / sizeof cols[0] }

/* The statement texts, malloc'd (NULL when out of memory):
 * "INSERT INTO t (columns) VALUES (:columns and derivations)" and
 * "SELECT columns FROM t WHERE where" (where names its own parameters). */
char *hu_storecol_insert_sql(const hu_storecol_table *t);
char *hu_storecol_select_sql(const hu_storecol_table *t, const char *where);

/* True when insert statement q numbers its parameters as hu_storecol_bind
 * binds them (each bound column's :name is the next index). */
bool hu_storecol_check(sqlite3_stmt *q, const hu_storecol_table *t);

/* Bind record rec's values to q (an SQLite statement's bindings cleared
 * beforehand; a PostgreSQL out empty); owner and pos fill HU_SC_OWNER and
 * HU_SC_POS. */
void hu_storecol_bind(hu_sc_out *q, const hu_storecol_table *t, const void *rec, int64_t owner,
                      int64_t pos);

/* Load the current row of a select into rec (fields of columns that are
 * NULL or not loaded are left as they were).  False when out of memory
 * (a custom load's). */
bool hu_storecol_load(const hu_sc_in *q, const hu_storecol_table *t, void *rec);

/* Column i as text, or NULL when it is NULL. */
const char *hu_storecol_text(const hu_sc_in *q, int i);

/* PostgreSQL: the INSERT with parameters $1.. in the order of the
 * selected columns (an endpoint column is a parameter too, its text made
 * by hu_storecol_pg_values from its address, port and IP version), and
 * the values for it: params[0..*n) (pointers into o, valid until
 * hu_sc_out_clear(o)).  False when out of memory. */
char *hu_storecol_pg_insert_sql(const hu_storecol_table *t);
/* The same INSERT for `rows` records at once: row r's parameters are
 * $(r*n + 1).. for n selected columns, each row's values in turn. */
char *hu_storecol_pg_insert_rows_sql(const hu_storecol_table *t, unsigned rows);
bool hu_storecol_pg_values(hu_sc_out *o, const hu_storecol_table *t, const void *rec,
                           int64_t owner, int64_t pos, const char **params, int *n);

#endif
