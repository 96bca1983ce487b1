/*
 * libload.c -- libpq and libmicrohttpd, loaded on first use (see
 * libload.h for the contract and why).
 *
 * Each library is one table: its soname, its dlopen handle, why loading
 * failed, and a pointer per function.  The tables are the process's, as
 * the dynamic linker's own state is: the functions defined here carry no
 * context, since their callers use the libraries' APIs unchanged.  They
 * are written once, under pthread_once, and only read after.
 *
 * A list macro names each function once with its return type, parameters,
 * arguments and the value it returns when its library is missing; the
 * pointer fields, the dlsym calls and the forwarding definitions are all
 * made from that one list, so adding a function is one line.  The
 * definitions are checked against the libraries' headers by the compiler.
 */
#include "hangup/libload.h"

#include <dlfcn.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef HANGUP_LIBPQ_SONAME
#define HANGUP_LIBPQ_SONAME "libpq.so.5"
#endif
#ifndef HANGUP_LIBMHD_SONAME
#define HANGUP_LIBMHD_SONAME "libmicrohttpd.so.12"
#endif

typedef struct lib {
    const char *soname;
    void *handle;             /* NULL until loaded, and when loading failed */
    char err[256];            /* why it failed, when it did */
} lib;

/* Open l->soname and fill the n pointers at fns with the named symbols;
 * on any failure close it again and say why in l->err. */
static void load(lib *l, void **fns, const char *const *names, size_t n)
{
    void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(l->err, sizeof l->err, "%s", e ? e : l->soname);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fns[i] = dlsym(h, names[i]);
        if (!fns[i]) {
            snprintf(l->err, sizeof l->err, "%s: no symbol %s", l->soname, names[i]);
            dlclose(h);
            return;
        }
    }
    l->handle = h;
}

/* ---- libpq ------------------------------------------------------------ */

/* X(return type, name, (parameters), (arguments), value when missing);
 * XV the same for functions returning nothing. */
#define PQ_FUNCS(X, XV)                                                                     \
    XV(PQclear, (PGresult * r), (r))                                                        \
    X(PQconninfoOption *, PQconndefaults, (void), (), NULL)                                 \
    X(PGconn *, PQconnectdb, (const char *c), (c), NULL)                                    \
    X(PGconn *, PQconnectdbParams, (const char *const *k, const char *const *v, int e),    \
      (k, v, e), NULL)                                                                      \
    XV(PQconninfoFree, (PQconninfoOption * o), (o))                                         \
    X(char *, PQdb, (const PGconn *c), (c), NULL)                                           \
    X(char *, PQerrorMessage, (const PGconn *c), (c), pq_missing())                         \
    X(PGresult *, PQexec, (PGconn * c, const char *q), (c, q), NULL)                        \
    X(PGresult *, PQexecParams,                                                             \
      (PGconn * c, const char *q, int n, const Oid *t, const char *const *v, const int *l, \
       const int *f, int rf),                                                               \
      (c, q, n, t, v, l, f, rf), NULL)                                                      \
    X(PGresult *, PQprepare, (PGconn * c, const char *s, const char *q, int n, const Oid *t), \
      (c, s, q, n, t), NULL)                                                                \
    X(PGresult *, PQexecPrepared,                                                           \
      (PGconn * c, const char *s, int n, const char *const *v, const int *l, const int *f,  \
       int rf),                                                                             \
      (c, s, n, v, l, f, rf), NULL)                                                         \
    XV(PQfinish, (PGconn * c), (c))                                                         \
    X(char *, PQfname, (const PGresult *r, int i), (r, i), NULL)                            \
    XV(PQfreemem, (void *p), (p))                                                           \
    X(Oid, PQftype, (const PGresult *r, int i), (r, i), 0)                                  \
    X(int, PQgetisnull, (const PGresult *r, int t, int f), (r, t, f), 1)                    \
    X(int, PQgetlength, (const PGresult *r, int t, int f), (r, t, f), 0)                    \
    X(char *, PQgetvalue, (const PGresult *r, int t, int f), (r, t, f), NULL)               \
    X(char *, PQhost, (const PGconn *c), (c), NULL)                                         \
    X(int, PQlibVersion, (void), (), 0)                                                     \
    X(int, PQnfields, (const PGresult *r), (r), 0)                                          \
    X(int, PQntuples, (const PGresult *r), (r), 0)                                          \
    X(char *, PQport, (const PGconn *c), (c), NULL)                                         \
    XV(PQreset, (PGconn * c), (c))                                                          \
    X(char *, PQresultErrorField, (const PGresult *r, int f), (r, f), NULL)                 \
    X(char *, PQresultErrorMessage, (const PGresult *r), (r), "")                           \
    X(ExecStatusType, PQresultStatus, (const PGresult *r), (r), PGRES_FATAL_ERROR)          \
    X(char *, PQcmdTuples, (PGresult * r), (r), "")                                         \
    X(int, PQsetClientEncoding, (PGconn * c, const char *e), (c, e), -1)                    \
    X(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn * c, PQnoticeProcessor p, void *a),  \
      (c, p, a), NULL)                                                                      \
    X(ConnStatusType, PQstatus, (const PGconn *c), (c), CONNECTION_BAD)                     \
    X(PGTransactionStatusType, PQtransactionStatus, (const PGconn *c), (c), PQTRANS_UNKNOWN) \
    X(unsigned char *, PQunescapeBytea, (const unsigned char *s, size_t *n), (s, n), NULL)  \
    X(char *, PQuser, (const PGconn *c), (c), NULL)

#define FIELD(ret, name, params, args, fail) ret(*name) params;
#define FIELDV(name, params, args) void(*name) params;
#define NAME(ret, name, params, args, fail) #name,
#define NAMEV(name, params, args) #name,
/* A library's table: its functions' pointers as fields (f), and the same
 * storage as the array dlsym fills (p). */
#define TABLE(FUNCS)                                                                         \
    struct {                                                                                 \
        pthread_once_t once;                                                                 \
        lib l;                                                                               \
        union {                                                                              \
            struct { FUNCS(FIELD, FIELDV) } f;                                               \
            void *p[sizeof(struct { FUNCS(FIELD, FIELDV) }) / sizeof(void *)];               \
        } u;                                                                                 \
    }
/* A forwarding definition: load (once) with check, then call through
 * table tab, or return fail. */
#define FORWARD(check, tab, ret, name, params, args, fail)                                   \
    ret name params { return check() ? (fail) : tab.u.f.name args; }
#define FORWARDV(check, tab, name, params, args)                                             \
    void name params                                                                         \
    {                                                                                        \
        if (!check())                                                                        \
            tab.u.f.name args;                                                               \
    }

static TABLE(PQ_FUNCS) g_pq = { PTHREAD_ONCE_INIT, { HANGUP_LIBPQ_SONAME, NULL, "" }, { { 0 } } };

static const char *const pq_names[] = { PQ_FUNCS(NAME, NAMEV) };
_Static_assert(sizeof pq_names / sizeof pq_names[0] == sizeof g_pq.u.p / sizeof g_pq.u.p[0],
               "one name per libpq function pointer");

static void pq_load(void) { load(&g_pq.l, g_pq.u.p, pq_names, sizeof pq_names / sizeof *pq_names); }

const char *hu_libload_pq_error(void)
{
    pthread_once(&g_pq.once, pq_load);
    return g_pq.l.handle ? NULL : g_pq.l.err;
}

/* PQerrorMessage's text without libpq: why it is missing, as one line
 * ending in a newline as libpq's messages do. */
static char *pq_missing(void)
{
    static _Thread_local char msg[300];
    snprintf(msg, sizeof msg, "cannot load libpq: %s\n", g_pq.l.err);
    return msg;
}

#define PQ_DEFINE(ret, name, params, args, fail)                                            \
    FORWARD(hu_libload_pq_error, g_pq, ret, name, params, args, fail)
#define PQ_DEFINEV(name, params, args) FORWARDV(hu_libload_pq_error, g_pq, name, params, args)
PQ_FUNCS(PQ_DEFINE, PQ_DEFINEV)

/* ---- libmicrohttpd ---------------------------------------------------- */

/* MHD_start_daemon is variadic: it is defined below through
 * MHD_start_daemon_va, which is loaded instead. */
#define MHD_FUNCS(X, XV)                                                                    \
    X(struct MHD_Daemon *, MHD_start_daemon_va,                                             \
      (unsigned int fl, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,         \
       MHD_AccessHandlerCallback dh, void *dh_cls, va_list ap),                             \
      (fl, port, apc, apc_cls, dh, dh_cls, ap), NULL)                                       \
    XV(MHD_stop_daemon, (struct MHD_Daemon * d), (d))                                       \
    X(enum MHD_Result, MHD_queue_response,                                                  \
      (struct MHD_Connection * c, unsigned int code, struct MHD_Response *r), (c, code, r), \
      MHD_NO)                                                                               \
    X(struct MHD_Response *, MHD_create_response_from_buffer,                               \
      (size_t n, void *b, enum MHD_ResponseMemoryMode m), (n, b, m), NULL)                  \
    X(struct MHD_Response *, MHD_create_response_from_buffer_with_free_callback,            \
      (size_t n, void *b, MHD_ContentReaderFreeCallback f), (n, b, f), NULL)                \
    XV(MHD_destroy_response, (struct MHD_Response * r), (r))                                \
    X(enum MHD_Result, MHD_add_response_header,                                             \
      (struct MHD_Response * r, const char *h, const char *v), (r, h, v), MHD_NO)           \
    X(const char *, MHD_get_version, (void), (), NULL)

static TABLE(MHD_FUNCS) g_mhd = { PTHREAD_ONCE_INIT, { HANGUP_LIBMHD_SONAME, NULL, "" },
                                  { { 0 } } };

static const char *const mhd_names[] = { MHD_FUNCS(NAME, NAMEV) };
_Static_assert(sizeof mhd_names / sizeof mhd_names[0] == sizeof g_mhd.u.p / sizeof g_mhd.u.p[0],
               "one name per libmicrohttpd function pointer");

static void mhd_load(void)
{
    load(&g_mhd.l, g_mhd.u.p, mhd_names, sizeof mhd_names / sizeof *mhd_names);
}

const char *hu_libload_mhd_error(void)
{
    pthread_once(&g_mhd.once, mhd_load);
    return g_mhd.l.handle ? NULL : g_mhd.l.err;
}

#define MHD_DEFINE(ret, name, params, args, fail)                                           \
    FORWARD(hu_libload_mhd_error, g_mhd, ret, name, params, args, fail)
#define MHD_DEFINEV(name, params, args) FORWARDV(hu_libload_mhd_error, g_mhd, name, params, args)
MHD_FUNCS(MHD_DEFINE, MHD_DEFINEV)

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
                                    MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    va_list ap;
    va_start(ap, dh_cls);
    struct MHD_Daemon *d = MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}
