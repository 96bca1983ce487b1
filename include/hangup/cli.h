/*
 * cli.h -- the command-line layer shared by every hangup command.
 *
 * `analyze` and `live` run the same pipeline and take the same options
 * for it (filter, output, kinds, database, -w, table limits); the
 * database commands take --kind too.  What a user types for those is
 * declared, parsed, checked and worded here once, so the commands cannot
 * drift apart: the exit codes, the default database, the number and kind
 * parsers with their error lines, and the options analyze and live share
 * (their getopt entries and the one function that applies them), and
 * the version text.  Each command keeps only its own options and its
 * help text.
 *
 * Nothing here exits: a bad value is reported on stderr (one line, as
 * before) and handed back, and the command returns HU_CLI_EXIT_USAGE.
 */
#ifndef HANGUP_CLI_H
#define HANGUP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* The exit status of every command (README, `hangup help COMMAND`, and
 * the EXIT STATUS table of docs/hangup.1, which test_cli checks). */
typedef enum hu_cli_exit {
    HU_CLI_EXIT_OK = 0,        /* every input read completely / stopped cleanly */
    HU_CLI_EXIT_INPUT = 1,     /* some input unreadable, or read only in part */
    HU_CLI_EXIT_USAGE = 2,     /* bad option or argument, bad filter, bad SQL */
    HU_CLI_EXIT_NOMEM = 3,     /* out of memory */
    HU_CLI_EXIT_DB = 4,        /* the database could not be opened or written */
    HU_CLI_EXIT_CAPTURE = 5,   /* live: the capture could not be opened or failed */
} hu_cli_exit;

/* The database every command uses unless told --db PATH. */
#define HU_CLI_DEFAULT_DB "hangup.db"

/* Whether s is a --sensor name (analyze, live, watch, report): 1 to 255
 * bytes; false with one line on stderr otherwise. */
bool hu_cli_check_sensor(const char *s);

/* Parse option value s as a whole number in [min, max] into *out; false
 * (with a message naming the option `what` on stderr) otherwise. */
bool hu_cli_parse_number(const char *s, const char *what, long long min, long long max,
                         long long *out);

/* Parse "--kind" values ("server-timeout,refused") into a mask (bit per
 * hu_kind, detect.h) added to *mask; false (with a message listing the
 * kinds on stderr) for an unknown kind. */
bool hu_cli_parse_kinds(const char *list, unsigned *mask);

struct hu_analyze_opts;

/* The options as analyze and live start from: the pipeline's defaults
 * (hu_analyze_opts_default) and the default database. */
void hu_cli_opts_default(struct hu_analyze_opts *o);

/*
 * The options analyze and live share.  A command's getopt_long tables
 * splice these in, and its own long-only options take `val`s from
 * HU_CLI_OPT_OWN up:
 *
 *     static const struct option lo[] = { HU_CLI_LONGOPTS, ..., { NULL, 0, NULL, 0 } };
 *     getopt_long(argc, argv, HU_CLI_SHORTOPTS "h", lo, NULL)
 *
 * The entries' order matters only to getopt's message for an ambiguous
 * abbreviation (it lists the candidates in table order): --no-timeline
 * comes before --no-db, and live puts --interface and --duration before
 * these.
 */
enum {
    HU_CLI_OPT_JSON = 256,
    HU_CLI_OPT_NO_TIMELINE,
    HU_CLI_OPT_DB,
    HU_CLI_OPT_NO_DB,
    HU_CLI_OPT_KIND,
    HU_CLI_OPT_MAX_CONNECTIONS,
    HU_CLI_OPT_IDLE_TIMEOUT,
    HU_CLI_OPT_SUMMARY,
    HU_CLI_OPT_ALL,
    HU_CLI_OPT_TLS_KEYLOG,
    HU_CLI_OPT_SENSOR,
    HU_CLI_OPT_OWN,            /* first value free for a command's own options */
};

#define HU_CLI_SHORTOPTS "f:w:"

#define HU_CLI_LONGOPTS                                                        \
    { "filter", required_argument, NULL, 'f' },                                \
    { "json", no_argument, NULL, HU_CLI_OPT_JSON },                            \
    { "no-timeline", no_argument, NULL, HU_CLI_OPT_NO_TIMELINE },              \
    { "db", required_argument, NULL, HU_CLI_OPT_DB },                          \
    { "no-db", no_argument, NULL, HU_CLI_OPT_NO_DB },                          \
    { "kind", required_argument, NULL, HU_CLI_OPT_KIND },                      \
    { "max-connections", required_argument, NULL, HU_CLI_OPT_MAX_CONNECTIONS }, \
    { "idle-timeout", required_argument, NULL, HU_CLI_OPT_IDLE_TIMEOUT },       \
    { "summary", no_argument, NULL, HU_CLI_OPT_SUMMARY },                      \
    { "all", no_argument, NULL, HU_CLI_OPT_ALL },                              \
    { "tls-keylog", required_argument, NULL, HU_CLI_OPT_TLS_KEYLOG },          \
    { "sensor", required_argument, NULL, HU_CLI_OPT_SENSOR }

/* What hu_cli_common_option did with an option. */
typedef enum hu_cli_opt_rc {
    HU_CLI_NOT_SHARED = 0,     /* not a shared option: the command's own (or unknown) */
    HU_CLI_HANDLED,            /* applied to the options */
    HU_CLI_BAD_VALUE,          /* a bad value, reported on stderr: exit HU_CLI_EXIT_USAGE */
} hu_cli_opt_rc;

/* Apply getopt_long's result `opt` (with its `arg`, optarg) to *o if it is
 * one of the shared options (HU_CLI_SHORTOPTS, HU_CLI_LONGOPTS).  A
 * command calls this first for each option and handles the rest itself. */
hu_cli_opt_rc hu_cli_common_option(int opt, const char *arg, struct hu_analyze_opts *o);

/* tcpdump's form: the words argv[from..argc) after the options are one
 * filter expression, joined by spaces, into o->filter (*owned: the
 * string, for the caller to free; NULL when there were no words).  False,
 * with one line on stderr, when -f gave a filter too or out of memory. */
bool hu_cli_trailing_filter(int argc, char **argv, int from, struct hu_analyze_opts *o,
                            char **owned);

/* `hangup --version`: four lines on out -- hangup's version (the first
 * line, "hangup 0.1.0", for scripts), then the libpcap, libnids and
 * SQLite it runs with: libpcap's and SQLite's as the libraries report
 * them at run time, libnids' as it was built (it has no run-time
 * version).  The caller checks out's errors (hu_cli_output_done). */
void hu_cli_version(FILE *out);

/* A command is done: flush standard output and check it was all written.
 * Returns status, or HU_CLI_EXIT_INPUT (after one line on stderr) when
 * the output failed and status was 0 (a full disk, a closed pipe). */
int hu_cli_output_done(int status);

#endif
