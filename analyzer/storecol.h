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
    void (*bind)(sqlite3_stmt *q, int i, const void *rec);
    bool (*load)(sqlite3_stmt *q, int i, void *rec);
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

/* Bind record rec's values to the insert statement q (bindings cleared
 * beforehand); owner and pos fill HU_SC_OWNER and HU_SC_POS. */
void hu_storecol_bind(sqlite3_stmt *q, const hu_storecol_table *t, const void *rec, int64_t owner,
                   int64_t pos);

/* Load the current row of select statement q into rec (fields of columns
 * that are NULL or not loaded are left as they were).  False when out of
 * memory (a custom load's). */
bool hu_storecol_load(sqlite3_stmt *q, const hu_storecol_table *t, void *rec);

/* Column i as text, or NULL when it is NULL. */
const char *hu_storecol_text(sqlite3_stmt *q, int i);

#endif
