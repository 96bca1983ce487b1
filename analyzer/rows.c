/*
 * rows.c -- a read-only result set over either store (see rows.h).
 *
 * SQLite's rows are stepped from the prepared statement as they come.
 * PostgreSQL's result arrives whole (PQexecParams) and is walked row by
 * row; its cells are text, typed by their column's type OID and rendered
 * as SQLite renders the corresponding value, so query.c's printer needs
 * no knowledge of either.
 */
#include "hangup/rows.h"
#include "storepg.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL type OIDs (pg_type.h, stable across versions). */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_NUMERIC = 1700,
};

struct hu_rows {
    sqlite3_stmt *q;          /* SQLite, or */
    PGconn *conn;             /* PostgreSQL: res's row `row` */
    PGresult *res;
    int row;
    bool in_tx;               /* a user statement's read-only transaction */
    char cell[64];            /* a float's or boolean's text */
    uint8_t *blob;            /* a bytea cell, decoded */
    char err[512];
};

static hu_rows *pg_open(PGconn *conn, const char *sql, const hu_param *p, int np, char *err,
                        size_t n)
{
    hu_rows *r = calloc(1, sizeof *r);
    const char *vals[16];
    char ints[16][24];
    Oid types[16];
    if (!r || np > 16) {
        free(r);
        snprintf(err, n, "out of memory");
        return NULL;
    }
    for (int i = 0; i < np; i++) {
        types[i] = p[i].is_text ? 25 : OID_INT8;   /* text, bigint */
        if (p[i].is_text)
            vals[i] = p[i].text;
        else {
            snprintf(ints[i], sizeof ints[i], "%lld", (long long)p[i].i);
            vals[i] = ints[i];
        }
    }
    r->conn = conn;
    r->row = -1;
    r->res = PQexecParams(conn, sql, np, types, vals, NULL, NULL, 0);
    if (PQresultStatus(r->res) != PGRES_TUPLES_OK) {
        hu_storepg_line(err, n, r->res ? PQresultErrorMessage(r->res) : PQerrorMessage(conn));
        hu_rows_close(r);
        return NULL;
    }
    return r;
}

hu_rows *hu_rows_open(hu_store *s, const char *sql, const hu_param *p, int np, char *err,
                      size_t n)
{
    if (hu_store_pg(s))
        return pg_open(hu_store_pg(s), sql, p, np, err, n);
    hu_rows *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    if (sqlite3_prepare_v2(hu_store_db(s), sql, -1, &r->q, NULL) != SQLITE_OK) {
        snprintf(err, n, "%s", sqlite3_errmsg(hu_store_db(s)));
        hu_rows_close(r);
        return NULL;
    }
    /* $N (the form both databases take) is a named parameter to SQLite,
     * numbered by first appearance: bound by its name.  ?N by its number. */
    const char *first = sqlite3_bind_parameter_name(r->q, 1);
    bool named = first && first[0] == '$';
    for (int i = 0; i < np; i++) {
        char name[16];
        snprintf(name, sizeof name, "$%d", i + 1);
        int at = named ? sqlite3_bind_parameter_index(r->q, name) : i + 1;
        if (at == 0)
            continue;
        if (!p[i].is_text)
            sqlite3_bind_int64(r->q, at, p[i].i);
        else if (p[i].text)
            sqlite3_bind_text(r->q, at, p[i].text, -1, SQLITE_TRANSIENT);
    }
    return r;
}

/* SQLite's authorizer for a user's statement: reading only.  Attaching
 * another database and loading an extension are refused when the
 * statement is prepared, like every other statement that is not a read,
 * so they are a usage error (exit 2), not a database failure. */
static int authorize_read(void *arg, int action, const char *a, const char *b, const char *db,
                          const char *trigger)
{
    (void)arg; (void)a; (void)db; (void)trigger;
    if (action == SQLITE_ATTACH || action == SQLITE_DETACH)
        return SQLITE_DENY;
    if (action == SQLITE_FUNCTION && b && strcmp(b, "load_extension") == 0)
        return SQLITE_DENY;
    return SQLITE_OK;
}

static hu_rows *sqlite_user(sqlite3 *db, const char *sql, bool *usage, char *err, size_t n)
{
    hu_rows *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    *usage = true;
    const char *tail = NULL;
    sqlite3_set_authorizer(db, authorize_read, NULL);
    if (sqlite3_prepare_v2(db, sql, -1, &r->q, &tail) != SQLITE_OK) {
        bool auth = sqlite3_errcode(db) == SQLITE_AUTH;
        snprintf(err, n, "%s%s", sqlite3_errmsg(db),
                 auth ? " (only reading this database is allowed)" : "");
    } else if (!r->q) {
        snprintf(err, n, "the SQL is empty");
    } else {
        while (tail && (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == ';'))
            tail++;
        if (tail && *tail)
            snprintf(err, n, "one statement at a time, please");
        else if (!sqlite3_stmt_readonly(r->q))
            snprintf(err, n, "only read-only statements are allowed (the database is opened "
                             "read-only)");
        else
            return r;
    }
    hu_rows_close(r);
    return NULL;
}

/* The user's statement on PostgreSQL: in a transaction that is read-only
 * (on top of the session's default_transaction_read_only) and is rolled
 * back at the end, so nothing it does stays. */
static hu_rows *pg_user(PGconn *conn, const char *sql, bool *usage, char *err, size_t n)
{
    *usage = false;
    PGresult *b = PQexec(conn, "BEGIN READ ONLY");
    bool began = PQresultStatus(b) == PGRES_COMMAND_OK;
    if (!began)
        hu_storepg_line(err, n, PQresultErrorMessage(b));
    PQclear(b);
    if (!began)
        return NULL;
    hu_rows *r = calloc(1, sizeof *r);
    if (!r) {
        PQclear(PQexec(conn, "ROLLBACK"));
        snprintf(err, n, "out of memory");
        return NULL;
    }
    r->conn = conn;
    r->in_tx = true;
    r->row = -1;
    r->res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r->res);
    if (st == PGRES_TUPLES_OK)
        return r;
    const char *state = PQresultErrorField(r->res, PG_DIAG_SQLSTATE);
    *usage = true;
    if (st == PGRES_EMPTY_QUERY)
        snprintf(err, n, "the SQL is empty");
    else if (st == PGRES_COMMAND_OK)
        snprintf(err, n, "only read-only statements that return rows are allowed");
    else if (state && strcmp(state, "42601") == 0 && strstr(PQresultErrorMessage(r->res),
                                                            "multiple commands"))
        snprintf(err, n, "one statement at a time, please");
    else if (state && strcmp(state, "25006") == 0) {
        char m[400];
        hu_storepg_line(m, sizeof m, PQresultErrorMessage(r->res));
        snprintf(err, n, "%s (only reading this database is allowed)", m);
    } else {
        /* Class 42 (syntax, unknown names, privileges) and 0A (not
         * supported) are the statement's fault; the rest the database's. */
        *usage = state && (strncmp(state, "42", 2) == 0 || strncmp(state, "0A", 2) == 0);
        const char *primary = PQresultErrorField(r->res, PG_DIAG_MESSAGE_PRIMARY);
        hu_storepg_line(err, n, primary ? primary : PQerrorMessage(conn));
    }
    hu_rows_close(r);
    return NULL;
}

hu_rows *hu_rows_user(hu_store *s, const char *sql, bool *usage, char *err, size_t n)
{
    if (hu_store_pg(s))
        return pg_user(hu_store_pg(s), sql, usage, err, n);
    return sqlite_user(hu_store_db(s), sql, usage, err, n);
}

int hu_rows_ncols(const hu_rows *r)
{
    return r->q ? sqlite3_column_count(r->q) : PQnfields(r->res);
}

const char *hu_rows_name(const hu_rows *r, int i)
{
    return r->q ? sqlite3_column_name(r->q, i) : PQfname(r->res, i);
}

int hu_rows_next(hu_rows *r)
{
    PQfreemem(r->blob);
    r->blob = NULL;
    if (!r->q)
        return ++r->row < PQntuples(r->res) ? 1 : 0;
    int rc = sqlite3_step(r->q);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    snprintf(r->err, sizeof r->err, "%s", sqlite3_errmsg(sqlite3_db_handle(r->q)));
    return -1;
}

const char *hu_rows_error(const hu_rows *r) { return r->err; }

hu_cell hu_rows_type(const hu_rows *r, int i)
{
    if (r->q) {
        switch (sqlite3_column_type(r->q, i)) {
        case SQLITE_NULL: return HU_CELL_NULL;
        case SQLITE_INTEGER: return HU_CELL_INT;
        case SQLITE_FLOAT: return HU_CELL_FLOAT;
        case SQLITE_BLOB: return HU_CELL_BLOB;
        default: return HU_CELL_TEXT;
        }
    }
    if (PQgetisnull(r->res, r->row, i))
        return HU_CELL_NULL;
    switch (PQftype(r->res, i)) {
    case OID_BOOL:
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID: return HU_CELL_INT;
    case OID_NUMERIC: {
        /* A whole numeric (sum() of integers) is what SQLite's integer
         * sum is; one with a point or exponent, a REAL. */
        const char *t = PQgetvalue(r->res, r->row, i);
        return strpbrk(t, ".eEN") ? HU_CELL_FLOAT : HU_CELL_INT;
    }
    case OID_FLOAT4:
    case OID_FLOAT8: return HU_CELL_FLOAT;
    case OID_BYTEA: return HU_CELL_BLOB;
    default: return HU_CELL_TEXT;
    }
}

/* A REAL as SQLite's "%!.15g" writes it: 15 significant digits, and a
 * decimal point with a digit after it always ("287.0", "1.0e+20"). */
static void real_text(char *b, size_t n, double v)
{
    char t[48];
    snprintf(t, sizeof t, "%.15g", v);
    if (strchr(t, '.') || strchr(t, 'n') || strchr(t, 'N')) {   /* has a point, inf, nan */
        snprintf(b, n, "%s", t);
        return;
    }
    char *e = strchr(t, 'e');
    if (e)
        snprintf(b, n, "%.*s.0%s", (int)(e - t), t, e);
    else
        snprintf(b, n, "%s.0", t);
}

const char *hu_rows_text(hu_rows *r, int i, size_t *len)
{
    const char *t;
    if (r->q) {
        t = (const char *)sqlite3_column_text(r->q, i);
        *len = (size_t)sqlite3_column_bytes(r->q, i);
        return t;
    }
    if (PQgetisnull(r->res, r->row, i)) {
        *len = 0;
        return NULL;
    }
    t = PQgetvalue(r->res, r->row, i);
    switch (hu_rows_type(r, i)) {
    case HU_CELL_FLOAT:
        real_text(r->cell, sizeof r->cell, hu_rows_double(r, i));
        t = r->cell;
        break;
    case HU_CELL_INT:
        if (PQftype(r->res, i) == OID_BOOL)
            t = t[0] == 't' ? "1" : "0";
        break;
    default:
        *len = (size_t)PQgetlength(r->res, r->row, i);
        return t;
    }
    *len = strlen(t);
    return t;
}

const uint8_t *hu_rows_blob(hu_rows *r, int i, size_t *len)
{
    if (r->q) {
        *len = (size_t)sqlite3_column_bytes(r->q, i);
        return sqlite3_column_blob(r->q, i);
    }
    PQfreemem(r->blob);
    r->blob = PQunescapeBytea((const unsigned char *)PQgetvalue(r->res, r->row, i), len);
    if (!r->blob)
        *len = 0;
    return r->blob;
}

int64_t hu_rows_int(const hu_rows *r, int i)
{
    if (r->q)
        return sqlite3_column_int64(r->q, i);
    const char *t = PQgetvalue(r->res, r->row, i);
    if (PQftype(r->res, i) == OID_BOOL)
        return t[0] == 't';
    return strtoll(t, NULL, 10);
}

double hu_rows_double(const hu_rows *r, int i)
{
    if (r->q)
        return sqlite3_column_double(r->q, i);
    return strtod(PQgetvalue(r->res, r->row, i), NULL);
}

void hu_rows_close(hu_rows *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->q);
    PQclear(r->res);
    if (r->in_tx)
        PQclear(PQexec(r->conn, "ROLLBACK"));
    PQfreemem(r->blob);
    free(r);
}
