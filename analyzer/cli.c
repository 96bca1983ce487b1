/*
 * cli.c -- the command-line layer shared by every hangup command.
 *
 * The value parsers every command uses (whole numbers with a range,
 * incident kinds) and the options `analyze` and `live` both take, applied
 * to the pipeline's hu_analyze_opts in one place so that the two commands
 * accept the same spellings, ranges and error lines; and the version
 * text, with the libraries' versions each layer reports for its own.
 * Errors are reported on stderr and returned; the commands choose the
 * exit status (cli.h).
 */
#include "hangup/cli.h"
#include "hangup/analyze.h"
#include "hangup/capture.h"
#include "hangup/incident.h"
#include "hangup/libload.h"
#include "hangup/metrics.h"
#include "hangup/reasm.h"
#include "hangup/store.h"
#include "hangup/zfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HANGUP_VERSION
#define HANGUP_VERSION "0.1.0"
#endif

bool hu_cli_check_sensor(const char *s)
{
    if (*s && strlen(s) <= 255)
        return true;
    fprintf(stderr, "hangup: --sensor takes a name of 1 to 255 bytes\n");
    return false;
}

bool hu_cli_parse_number(const char *s, const char *what, long long min, long long max,
                         long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "hangup: %s must be a whole number from %lld to %lld, not '%s'\n", what,
                min, max, s);
        return false;
    }
    *out = v;
    return true;
}

bool hu_cli_parse_kinds(const char *list, unsigned *mask)
{
    char buf[256];
    size_t n = strlen(list);
    if (n == 0 || list[0] == ',' || list[n - 1] == ',' || strstr(list, ",,")) {
        fprintf(stderr, "hangup: --kind '%s' has an empty kind; give kinds separated by single "
                        "commas, e.g. --kind refused,connect-timeout\n", list);
        return false;
    }
    if (n >= sizeof buf) {
        fprintf(stderr, "hangup: --kind: the list is too long\n");
        return false;
    }
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        int id = hu_kind_parse(k);
        if (id < 0) {
            fprintf(stderr, "hangup: unknown incident kind '%s'; the kinds are:", k);
            for (int i = 0; i < HU_KIND_COUNT; i++)
                fprintf(stderr, " %s", hu_kind_name((hu_kind)i));
            fputc('\n', stderr);
            return false;
        }
        *mask |= 1u << id;
    }
    return true;
}

void hu_cli_opts_default(hu_analyze_opts *o)
{
    hu_analyze_opts_default(o);
    o->db_path = HU_CLI_DEFAULT_DB;
}

hu_cli_opt_rc hu_cli_common_option(int opt, const char *arg, hu_analyze_opts *o)
{
    long long v;
    switch (opt) {
    case 'f':
        o->filter = arg;
        return HU_CLI_HANDLED;
    case 'w':
        o->write_path = arg;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_JSON:
        o->json = true;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_NO_TIMELINE:
        o->timeline = false;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_DB:
        o->db_path = arg;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_NO_DB:
        o->db_path = NULL;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_KIND:
        return hu_cli_parse_kinds(arg, &o->kinds) ? HU_CLI_HANDLED : HU_CLI_BAD_VALUE;
    case HU_CLI_OPT_MAX_CONNECTIONS:
        if (!hu_cli_parse_number(arg, "--max-connections", 1, 100000000, &v))
            return HU_CLI_BAD_VALUE;
        o->max_flows = (size_t)v;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_IDLE_TIMEOUT:
        if (!hu_cli_parse_number(arg, "--idle-timeout", 1, 365LL * 86400, &v))
            return HU_CLI_BAD_VALUE;
        o->idle_us = v * 1000000;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_SUMMARY:
        o->group = HU_GROUP_SUMMARY;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_ALL:
        o->group = HU_GROUP_ALL;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_SENSOR:
        if (!hu_cli_check_sensor(arg))
            return HU_CLI_BAD_VALUE;
        o->sensor = arg;
        return HU_CLI_HANDLED;
    case HU_CLI_OPT_TLS_KEYLOG:
        if (o->n_tls_keylog == HU_TLS_KEYLOGS_MAX) {
            fprintf(stderr, "hangup: --tls-keylog: at most %d key logs\n", HU_TLS_KEYLOGS_MAX);
            return HU_CLI_BAD_VALUE;
        }
        o->tls_keylog[o->n_tls_keylog++] = arg;
        return HU_CLI_HANDLED;
    default:
        return HU_CLI_NOT_SHARED;
    }
}

int hu_cli_output_done(int status)
{
    errno = 0;
    int rc = fflush(stdout);
    if (rc == 0 && !ferror(stdout))
        return status;
    /* errno is the flush's own only when the flush failed; an earlier
     * write's was left in the stream's error flag alone. */
    fprintf(stderr, "hangup: error writing output%s%s\n", rc ? ": " : "",
            rc ? strerror(errno) : "");
    return status ? status : HU_CLI_EXIT_INPUT;
}

bool hu_cli_trailing_filter(int argc, char **argv, int from, struct hu_analyze_opts *o,
                            char **owned)
{
    *owned = NULL;
    if (from >= argc)
        return true;
    if (o->filter) {
        fprintf(stderr, "hangup: a filter expression after the options and -f '%s' as well: "
                        "give the filter once\n", o->filter);
        return false;
    }
    size_t n = 0;
    for (int i = from; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *f = malloc(n);
    if (!f) {
        fputs("hangup: out of memory\n", stderr);
        return false;
    }
    f[0] = '\0';
    for (int i = from; i < argc; i++) {
        if (i > from)
            strcat(f, " ");
        strcat(f, argv[i]);
    }
    o->filter = f;
    *owned = f;
    return true;
}

void hu_cli_version(FILE *out)
{
    fprintf(out, "hangup %s\n", HANGUP_VERSION);
    fprintf(out, "%s\n", hu_capture_lib_version());
    fprintf(out, "libnids version %s (as built: libnids reports no version at run time)\n",
            hu_reasm_lib_version());
    fprintf(out, "SQLite version %s\n", hu_store_lib_version());
    /* Both are opened on first use (libload.h): here, to name them. */
    if (hu_libload_pq_error())
        fprintf(out, "libpq: cannot load: %s\n", hu_libload_pq_error());
    else {
        int pq = hu_store_pg_lib_version();
        fprintf(out, "libpq version %d.%d\n", pq / 10000, pq % 10000);
    }
    if (hu_libload_mhd_error())
        fprintf(out, "libmicrohttpd: cannot load: %s\n", hu_libload_mhd_error());
    else
        fprintf(out, "libmicrohttpd version %s\n", hu_metrics_lib_version());
    char z[128];
    hu_zfile_lib_versions(z, sizeof z);
    fprintf(out, "decompression: %s\n", z);
}
