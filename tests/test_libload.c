/*
 * test_libload.c -- libload.c when a library cannot be loaded.
 *
 * This suite compiles analyzer/libload.c with sonames that exist on no
 * machine (tests/CMakeLists.txt), so every call takes the missing-library
 * path: the functions fail as libpq and libmicrohttpd fail without a
 * server, PQerrorMessage says in one line which library is missing, and
 * nothing crashes.  That the real libraries load, and only when used, is
 * test_cli's postgresql_and_metrics_libraries_load_only_when_used.
 */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <string.h>

#include "hangup/libload.h"

Test(libload, missing_libpq_fails_like_an_absent_server)
{
    const char *why = hu_libload_pq_error();
    cr_assert_not_null(why);
    cr_expect(strstr(why, "libhangup-absent-pq.so.0"), "names the library: %s", why);
    cr_expect_str_eq(hu_libload_pq_error(), why, "loading is tried once");
    cr_expect_null(PQconnectdb("postgresql://u@127.0.0.1:1/d"));
    const char *const k[] = { "host", NULL }, *const v[] = { "127.0.0.1", NULL };
    PGconn *c = PQconnectdbParams(k, v, 0);
    cr_expect_null(c);
    cr_expect_eq(PQstatus(c), CONNECTION_BAD);
    const char *msg = PQerrorMessage(c);
    cr_expect(strncmp(msg, "cannot load libpq: ", 19) == 0, "%s", msg);
    cr_expect(strchr(msg, '\n') == msg + strlen(msg) - 1, "one line: %s", msg);
    cr_expect_null(PQexec(c, "SELECT 1"));
    cr_expect_eq(PQresultStatus(NULL), PGRES_FATAL_ERROR);
    cr_expect_null(PQconndefaults());
    cr_expect_eq(PQlibVersion(), 0);
    PQclear(NULL);
    PQfinish(c);
}

Test(libload, missing_libmicrohttpd_starts_no_daemon)
{
    const char *why = hu_libload_mhd_error();
    cr_assert_not_null(why);
    cr_expect(strstr(why, "libhangup-absent-mhd.so.0"), "names the library: %s", why);
    cr_expect_null(MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, NULL, NULL,
                                    MHD_OPTION_END));
    cr_expect_null(MHD_get_version());
    cr_expect_null(MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
    MHD_stop_daemon(NULL);
    MHD_destroy_response(NULL);
}
