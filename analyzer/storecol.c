/*
 * storecol.c -- records mapped to table rows by a column table (see
 * storecol.h for the contract).
 *
 * Binding by index is what makes a prepared statement cheap to reuse, so
 * the index of each bound column is its place among the bound columns;
 * hu_storecol_check proves, once per prepared statement, that the
 * generated SQL numbers its named parameters the same way (SQLite numbers
 * them in the order they first appear).  PostgreSQL gets the same values
 * as text parameters ($1, ...), in the order of its INSERT's columns.
 */
#include "storecol.h"
#include "hangup/strbuf.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record's field at the column's offset (offsetof of that very field,
 * so aligned for its type: the cast through void says so). */
#define FIELD(rec, c, type) ((type *)(void *)((char *)(rec) + (c)->off))
#define CFIELD(rec, c, type) ((const type *)(const void *)((const char *)(rec) + (c)->off))
typedef const char *cstr;   /* CFIELD of a const char * field */

/* Whether the n bytes at t are valid UTF-8 without NUL: the length of
 * the valid sequence at t, 0 when it is not one. */
static size_t utf8_seq(const unsigned char *t, size_t n)
{
    unsigned char c = t[0];
    size_t len = c == 0 ? 0 : c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                 : (c >> 3) == 30 ? 4 : 0;
    if (!len || len > n)
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((t[k] & 0xc0) != 0x80)
            return 0;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1fu : len == 3 ? c & 0x0fu : c & 0x07u;
    for (size_t k = 1; k < len; k++)
        cp = cp << 6 | (t[k] & 0x3fu);
    static const uint32_t least[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;   /* overlong, beyond Unicode, or a surrogate */
    return len;
}

/* t as PostgreSQL text (see hu_sc_text), malloc'd. */
static char *pg_text(const char *t, size_t n)
{
    char *b = malloc(n * 4 + 1), *w = b;
    if (!b)
        return NULL;
    const unsigned char *u = (const unsigned char *)t;
    for (size_t k = 0; k < n;) {
        size_t l = utf8_seq(u + k, n - k);
        if (l) {
            memcpy(w, u + k, l);
            w += l;
            k += l;
        } else {
            w += sprintf(w, "\\x%02x", u[k]);
            k++;
        }
    }
    *w = '\0';
    return b;
}

static void put_val(hu_sc_out *o, int i, char *v)
{
    if (i < 1 || i > HU_SC_MAXVALS) {
        free(v);
        o->oom = true;   /* more columns than a PostgreSQL out holds */
        return;
    }
    free(o->vals[i]);
    o->vals[i] = v;
    if (!v)
        o->oom = true;
    if (i > o->nvals)
        o->nvals = i;
}

void hu_sc_text(hu_sc_out *o, int i, const char *t, int len)
{
    size_t n = len < 0 ? strlen(t) : (size_t)len;
    if (o->q)
        sqlite3_bind_text(o->q, i, t, (int)n, SQLITE_TRANSIENT);
    else
        put_val(o, i, pg_text(t, n));
}

void hu_sc_int(hu_sc_out *o, int i, int64_t v)
{
    if (o->q) {
        sqlite3_bind_int64(o->q, i, v);
        return;
    }
    char b[24];
    snprintf(b, sizeof b, "%lld", (long long)v);
    put_val(o, i, strdup(b));
}

void hu_sc_out_clear(hu_sc_out *o)
{
    for (int i = 0; i <= HU_SC_MAXVALS; i++) {
        free(o->vals[i]);
        o->vals[i] = NULL;
    }
    o->nvals = 0;
    o->oom = false;
}

bool hu_sc_null(const hu_sc_in *in, int i)
{
    if (in->q)
        return sqlite3_column_type(in->q, i) == SQLITE_NULL;
    return PQgetisnull(in->res, in->row, i) != 0;
}

const char *hu_sc_get_text(const hu_sc_in *in, int i, size_t *len)
{
    const char *t;
    size_t n;
    if (in->q) {
        t = (const char *)sqlite3_column_text(in->q, i);
        n = (size_t)sqlite3_column_bytes(in->q, i);
    } else if (PQgetisnull(in->res, in->row, i)) {
        t = NULL;
        n = 0;
    } else {
        t = PQgetvalue(in->res, in->row, i);
        n = (size_t)PQgetlength(in->res, in->row, i);
    }
    if (len)
        *len = t ? n : 0;
    return t;
}

int64_t hu_sc_get_int(const hu_sc_in *in, int i)
{
    if (in->q)
        return sqlite3_column_int64(in->q, i);
    const char *t = hu_sc_get_text(in, i, NULL);
    return t ? strtoll(t, NULL, 10) : 0;
}

static bool bound(const hu_storecol *c) { return c->type != HU_SC_ENDPOINT; }
static bool selected(const hu_storecol *c) { return !c->param_only; }

static char *finish(hu_sb *sb)
{
    if (sb->oom) {
        hu_sb_free(sb);
        return NULL;
    }
    char *s = strdup(hu_sb_cstr(sb));
    hu_sb_free(sb);
    return s;
}

/* The SQL value of endpoint column name: its text from :name_addr and
 * :name_port, as the report prints endpoints. */
static void endpoint_sql(hu_sb *sb, const char *name)
{
    hu_sb_printf(sb, "CASE WHEN :ip_version = 4 THEN :%s_addr || ':' || :%s_port"
                     " ELSE '[' || :%s_addr || ']:' || :%s_port END",
                 name, name, name, name);
}

char *hu_storecol_insert_sql(const hu_storecol_table *t)
{
    hu_sb sb = { 0 };
    hu_sb_printf(&sb, "INSERT INTO %s (", t->name);
    const char *sep = "";
    for (size_t i = 0; i < t->ncols; i++)
        if (selected(&t->cols[i])) {
            hu_sb_printf(&sb, "%s%s", sep, t->cols[i].name);
            sep = ", ";
        }
    hu_sb_puts(&sb, ") VALUES (");
    sep = "";
    for (size_t i = 0; i < t->ncols; i++) {
        const hu_storecol *c = &t->cols[i];
        if (!selected(c))
            continue;
        hu_sb_puts(&sb, sep);
        if (c->type == HU_SC_ENDPOINT)
            endpoint_sql(&sb, c->name);
        else
            hu_sb_printf(&sb, ":%s", c->name);
        sep = ", ";
    }
    hu_sb_puts(&sb, ")");
    return finish(&sb);
}

char *hu_storecol_select_sql(const hu_storecol_table *t, const char *where)
{
    hu_sb sb = { 0 };
    hu_sb_puts(&sb, "SELECT ");
    const char *sep = "";
    for (size_t i = 0; i < t->ncols; i++)
        if (selected(&t->cols[i])) {
            hu_sb_printf(&sb, "%s%s", sep, t->cols[i].name);
            sep = ", ";
        }
    hu_sb_printf(&sb, " FROM %s WHERE %s", t->name, where);
    return finish(&sb);
}

bool hu_storecol_check(sqlite3_stmt *q, const hu_storecol_table *t)
{
    int k = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (!bound(&t->cols[i]))
            continue;
        char param[80];
        snprintf(param, sizeof param, ":%s", t->cols[i].name);
        if (sqlite3_bind_parameter_index(q, param) != ++k)
            return false;
    }
    return sqlite3_bind_parameter_count(q) == k;
}

/* Whether rec has a value for c, by the rules of storecol.h. */
static bool present(const hu_storecol *c, const void *rec)
{
    if (c->when)
        return c->when(rec);
    switch (c->type) {
    case HU_SC_OPT: return *CFIELD(rec, c, int64_t) >= 0;
    case HU_SC_OPT_INT: return *CFIELD(rec, c, int) >= 0;
    case HU_SC_STR: return CFIELD(rec, c, char)[0] != '\0';
    case HU_SC_CSTR: return *CFIELD(rec, c, cstr) != NULL;
    default: return true;
    }
}

static void bind_addr(hu_sc_out *q, int i, const hu_storecol *c, const void *rec)
{
    uint8_t ipver = *((const uint8_t *)rec + c->size);
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(ipver == 4 ? AF_INET : AF_INET6, CFIELD(rec, c, uint8_t), a, sizeof a))
        hu_sc_text(q, i, a, -1);
}

static void bind_col(hu_sc_out *q, int i, const hu_storecol *c, const void *rec,
                     int64_t owner, int64_t pos)
{
    switch (c->type) {
    case HU_SC_OWNER: hu_sc_int(q, i, owner); break;
    case HU_SC_POS: hu_sc_int(q, i, pos); break;
    case HU_SC_U64: hu_sc_int(q, i, (int64_t)*CFIELD(rec, c, uint64_t)); break;
    case HU_SC_I64:
    case HU_SC_OPT: hu_sc_int(q, i, *CFIELD(rec, c, int64_t)); break;
    case HU_SC_U32: hu_sc_int(q, i, *CFIELD(rec, c, uint32_t)); break;
    case HU_SC_U16: hu_sc_int(q, i, *CFIELD(rec, c, uint16_t)); break;
    case HU_SC_U8: hu_sc_int(q, i, *CFIELD(rec, c, uint8_t)); break;
    case HU_SC_BOOL: hu_sc_int(q, i, *CFIELD(rec, c, bool)); break;
    case HU_SC_OPT_INT: hu_sc_int(q, i, *CFIELD(rec, c, int)); break;
    case HU_SC_STR: hu_sc_text(q, i, CFIELD(rec, c, char), -1); break;
    case HU_SC_CSTR: hu_sc_text(q, i, *CFIELD(rec, c, cstr), -1); break;
    case HU_SC_ADDR: bind_addr(q, i, c, rec); break;
    case HU_SC_CUSTOM: c->bind(q, i, rec); break;
    case HU_SC_ENDPOINT: break;
    }
}

void hu_storecol_bind(hu_sc_out *q, const hu_storecol_table *t, const void *rec,
                      int64_t owner, int64_t pos)
{
    int k = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        const hu_storecol *c = &t->cols[i];
        if (!bound(c))
            continue;
        k++;
        if (present(c, rec))
            bind_col(q, k, c, rec, owner, pos);
    }
}

const char *hu_storecol_text(const hu_sc_in *q, int i)
{
    return hu_sc_get_text(q, i, NULL);
}

/* The place (1-based) among the bound columns of the column named
 * name, 0 when there is none. */
static int bound_index(const hu_storecol_table *t, const char *name)
{
    int k = 0;
    for (size_t i = 0; i < t->ncols; i++) {
        if (!bound(&t->cols[i]))
            continue;
        k++;
        if (strcmp(t->cols[i].name, name) == 0)
            return k;
    }
    return 0;
}

char *hu_storecol_pg_insert_rows_sql(const hu_storecol_table *t, unsigned rows)
{
    hu_sb sb = { 0 };
    hu_sb_printf(&sb, "INSERT INTO %s (", t->name);
    const char *sep = "";
    int n = 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (selected(&t->cols[i])) {
            hu_sb_printf(&sb, "%s%s", sep, t->cols[i].name);
            sep = ", ";
            n++;
        }
    hu_sb_puts(&sb, ") VALUES ");
    for (unsigned r = 0; r < rows; r++) {
        hu_sb_puts(&sb, r ? ", (" : "(");
        for (int k = 1; k <= n; k++)
            hu_sb_printf(&sb, "%s$%d", k > 1 ? ", " : "", (int)r * n + k);
        hu_sb_puts(&sb, ")");
    }
    return finish(&sb);
}

char *hu_storecol_pg_insert_sql(const hu_storecol_table *t)
{
    return hu_storecol_pg_insert_rows_sql(t, 1);
}

/* Endpoint column name's text from the bound values of name_addr,
 * name_port and ip_version in o, as endpoint_sql makes it. */
static char *endpoint_text(const hu_sc_out *o, const hu_storecol_table *t, const char *name)
{
    char an[80], pn[80];
    snprintf(an, sizeof an, "%s_addr", name);
    snprintf(pn, sizeof pn, "%s_port", name);
    int ia = bound_index(t, an), ip = bound_index(t, pn), iv = bound_index(t, "ip_version");
    const char *a = ia ? o->vals[ia] : NULL, *p = ip ? o->vals[ip] : NULL;
    const char *v = iv ? o->vals[iv] : NULL;
    if (!a || !p || !v)
        return NULL;
    size_t len = strlen(a) + strlen(p) + 4;
    char *b = malloc(len);
    if (b)
        snprintf(b, len, strcmp(v, "4") == 0 ? "%s:%s" : "[%s]:%s", a, p);
    return b;
}

bool hu_storecol_pg_values(hu_sc_out *o, const hu_storecol_table *t, const void *rec,
                           int64_t owner, int64_t pos, const char **params, int *n)
{
    hu_storecol_bind(o, t, rec, owner, pos);
    int nb = 0;
    for (size_t i = 0; i < t->ncols; i++)
        nb += bound(&t->cols[i]);
    int k = 0, extra = nb;
    for (size_t i = 0; i < t->ncols && !o->oom; i++) {
        const hu_storecol *c = &t->cols[i];
        if (!selected(c))
            continue;
        if (c->type == HU_SC_ENDPOINT) {
            if (++extra > HU_SC_MAXVALS)
                return false;
            o->vals[extra] = endpoint_text(o, t, c->name);
            if (!o->vals[extra])
                return false;
            params[k++] = o->vals[extra];
        } else
            params[k++] = o->vals[bound_index(t, c->name)];
    }
    *n = k;
    return !o->oom;
}

/* Address text back into 16 bytes (IPv4 in the first 4). */
static void load_addr(const hu_sc_in *q, int i, const hu_storecol *c, void *rec)
{
    const char *a = hu_storecol_text(q, i);
    uint8_t *addr = FIELD(rec, c, uint8_t);
    memset(addr, 0, 16);
    if (a && inet_pton(AF_INET, a, addr) != 1)
        inet_pton(AF_INET6, a, addr);
}

static bool load_col(const hu_sc_in *q, int i, const hu_storecol *c, void *rec)
{
    bool null = hu_sc_null(q, i);
    int64_t v = hu_sc_get_int(q, i);
    switch (c->type) {
    case HU_SC_U64: *FIELD(rec, c, uint64_t) = (uint64_t)v; break;
    case HU_SC_I64: *FIELD(rec, c, int64_t) = v; break;
    case HU_SC_U32: *FIELD(rec, c, uint32_t) = (uint32_t)v; break;
    case HU_SC_U16: *FIELD(rec, c, uint16_t) = (uint16_t)v; break;
    case HU_SC_U8: *FIELD(rec, c, uint8_t) = (uint8_t)v; break;
    case HU_SC_BOOL: *FIELD(rec, c, bool) = v != 0; break;
    case HU_SC_OPT: *FIELD(rec, c, int64_t) = null ? -1 : v; break;
    case HU_SC_OPT_INT: *FIELD(rec, c, int) = null ? -1 : (int)v; break;
    case HU_SC_STR:
        if (!null)
            snprintf(FIELD(rec, c, char), c->size, "%s", hu_storecol_text(q, i));
        break;
    case HU_SC_ADDR: load_addr(q, i, c, rec); break;
    case HU_SC_CUSTOM: return !c->load || c->load(q, i, rec);
    case HU_SC_OWNER:
    case HU_SC_POS:
    case HU_SC_CSTR:
    case HU_SC_ENDPOINT: break;
    }
    return true;
}

bool hu_storecol_load(const hu_sc_in *q, const hu_storecol_table *t, void *rec)
{
    int k = 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (selected(&t->cols[i]) && !load_col(q, k++, &t->cols[i], rec))
            return false;
    return true;
}
