/*
 * storecol.c -- records mapped to table rows by a column table (see
 * storecol.h for the contract).
 *
 * Binding by index is what makes a prepared statement cheap to reuse, so
 * the index of each bound column is its place among the bound columns;
 * hu_storecol_check proves, once per prepared statement, that the
 * generated SQL numbers its named parameters the same way (SQLite numbers
 * them in the order they first appear).
 */
#include "storecol.h"
#include "hangup/strbuf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record's field at the column's offset (offsetof of that very field,
 * so aligned for its type: the cast through void says so). */
#define FIELD(rec, c, type) ((type *)(void *)((char *)(rec) + (c)->off))
#define CFIELD(rec, c, type) ((const type *)(const void *)((const char *)(rec) + (c)->off))
typedef const char *cstr;   /* CFIELD of a const char * field */

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

static void bind_addr(sqlite3_stmt *q, int i, const hu_storecol *c, const void *rec)
{
    uint8_t ipver = *((const uint8_t *)rec + c->size);
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(ipver == 4 ? AF_INET : AF_INET6, CFIELD(rec, c, uint8_t), a, sizeof a))
        sqlite3_bind_text(q, i, a, -1, SQLITE_TRANSIENT);
}

static void bind_col(sqlite3_stmt *q, int i, const hu_storecol *c, const void *rec,
                     int64_t owner, int64_t pos)
{
    switch (c->type) {
    case HU_SC_OWNER: sqlite3_bind_int64(q, i, owner); break;
    case HU_SC_POS: sqlite3_bind_int64(q, i, pos); break;
    case HU_SC_U64: sqlite3_bind_int64(q, i, (int64_t)*CFIELD(rec, c, uint64_t)); break;
    case HU_SC_I64:
    case HU_SC_OPT: sqlite3_bind_int64(q, i, *CFIELD(rec, c, int64_t)); break;
    case HU_SC_U32: sqlite3_bind_int64(q, i, *CFIELD(rec, c, uint32_t)); break;
    case HU_SC_U16: sqlite3_bind_int(q, i, *CFIELD(rec, c, uint16_t)); break;
    case HU_SC_U8: sqlite3_bind_int(q, i, *CFIELD(rec, c, uint8_t)); break;
    case HU_SC_BOOL: sqlite3_bind_int(q, i, *CFIELD(rec, c, bool)); break;
    case HU_SC_OPT_INT: sqlite3_bind_int64(q, i, *CFIELD(rec, c, int)); break;
    case HU_SC_STR: sqlite3_bind_text(q, i, CFIELD(rec, c, char), -1, SQLITE_TRANSIENT); break;
    case HU_SC_CSTR:
        sqlite3_bind_text(q, i, *CFIELD(rec, c, cstr), -1, SQLITE_STATIC);
        break;
    case HU_SC_ADDR: bind_addr(q, i, c, rec); break;
    case HU_SC_CUSTOM: c->bind(q, i, rec); break;
    case HU_SC_ENDPOINT: break;
    }
}

void hu_storecol_bind(sqlite3_stmt *q, const hu_storecol_table *t, const void *rec,
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

const char *hu_storecol_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

/* Address text back into 16 bytes (IPv4 in the first 4). */
static void load_addr(sqlite3_stmt *q, int i, const hu_storecol *c, void *rec)
{
    const char *a = hu_storecol_text(q, i);
    uint8_t *addr = FIELD(rec, c, uint8_t);
    memset(addr, 0, 16);
    if (a && inet_pton(AF_INET, a, addr) != 1)
        inet_pton(AF_INET6, a, addr);
}

static bool load_col(sqlite3_stmt *q, int i, const hu_storecol *c, void *rec)
{
    bool null = sqlite3_column_type(q, i) == SQLITE_NULL;
    switch (c->type) {
    case HU_SC_U64: *FIELD(rec, c, uint64_t) = (uint64_t)sqlite3_column_int64(q, i); break;
    case HU_SC_I64: *FIELD(rec, c, int64_t) = sqlite3_column_int64(q, i); break;
    case HU_SC_U32: *FIELD(rec, c, uint32_t) = (uint32_t)sqlite3_column_int64(q, i); break;
    case HU_SC_U16: *FIELD(rec, c, uint16_t) = (uint16_t)sqlite3_column_int(q, i); break;
    case HU_SC_U8: *FIELD(rec, c, uint8_t) = (uint8_t)sqlite3_column_int(q, i); break;
    case HU_SC_BOOL: *FIELD(rec, c, bool) = sqlite3_column_int(q, i) != 0; break;
    case HU_SC_OPT: *FIELD(rec, c, int64_t) = null ? -1 : sqlite3_column_int64(q, i); break;
    case HU_SC_OPT_INT: *FIELD(rec, c, int) = null ? -1 : sqlite3_column_int(q, i); break;
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

bool hu_storecol_load(sqlite3_stmt *q, const hu_storecol_table *t, void *rec)
{
    int k = 0;
    for (size_t i = 0; i < t->ncols; i++)
        if (selected(&t->cols[i]) && !load_col(q, k++, &t->cols[i], rec))
            return false;
    return true;
}
