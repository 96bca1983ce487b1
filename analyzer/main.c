/*
 * main.c -- the hangup command line.
 *
 * Parses the subcommand and analyze's options (those it shares with live
 * through cli.c), then hands over to the pipeline (analyze.c), live
 * capture (live.c) or the database commands (query.c).  Exit status
 * (hu_cli_exit): 0 every input was read completely; 1 some input could
 * not be read, or only in part (the rest was still analysed and
 * reported); 2 usage error (unknown option, bad filter expression, bad
 * SQL); 3 out of memory; 4 the database could not be opened or written.
 */
#include "hangup/analyze.h"
#include "hangup/cli.h"
#include "hangup/fileset.h"
#include "hangup/heap.h"
#include "hangup/live.h"
#include "hangup/query.h"
#include "hangup/watch.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage_main[] =
    "usage: hangup <command> [options] [arguments]\n"
    "\n"
    "Why did my socket hang up?  hangup reads packet captures and explains\n"
    "every keep-alive race in them: a server closing an idle HTTP connection\n"
    "(FIN) just as the client reuses it, the request answered by RST, and the\n"
    "client reporting 'socket hang up' / ECONNRESET.\n"
    "\n"
    "commands:\n"
    "  analyze FILE...   find and explain the races in pcap/pcapng files, and\n"
    "                    store them in the database (hangup.db by default)\n"
    "  live              capture from an interface and report races as they\n"
    "                    happen\n"
    "  watch DIR         follow a directory tcpdump -G/-C is writing files\n"
    "                    into, and report races as the files are written\n"
    "  query SQL         run read-only SQL over the stored incidents\n"
    "  report            the usual questions answered from the database\n"
    "  show ID           print one stored incident with its timeline\n"
    "  help [COMMAND]    show help for a command\n"
    "\n"
    "  hangup --version  print the version, and those of libpcap, libnids and\n"
    "                    SQLite\n"
    "\n"
    "Run 'hangup help COMMAND' for the options of each command.\n";

static const char usage_analyze[] =
    "usage: hangup analyze [options] FILE...\n"
    "       hangup analyze [options] -r FILE [-r FILE...] [EXPRESSION]\n"
    "\n"
    "Read each pcap or pcapng FILE (as written by tcpdump, Wireshark, tshark),\n"
    "track every TCP connection (IPv4 and IPv6, with or without the handshake\n"
    "in the capture) and report each keep-alive race: the server's FIN, the\n"
    "request the client sent on the closing connection, and the server's RST.\n"
    "Each race comes with a verdict:\n"
    "  crossed  the request and the FIN crossed in flight (nobody misbehaved)\n"
    "  stale    the client had already received the FIN and still reused the\n"
    "           connection (a client bug)\n"
    "the lost request, whether it is safe to retry, what to change, and the\n"
    "connection's timeline printed exactly as 'tcpdump -n' prints it.  Files\n"
    "that continue each other (a set rotated by tcpdump -C or -G: the same link\n"
    "type, snapshot length and interface, each starting at or after the last\n"
    "packet of the one before, and a TCP connection going on from one into the\n"
    "next) are read as one capture, in time order; every other FILE is a\n"
    "capture of its own (files that overlap in time are two vantages, never\n"
    "joined).  A summary over all of them comes last.\n"
    "\n"
    "options:\n"
    "  -f, --filter EXPR       only look at packets matching the BPF expression\n"
    "                          EXPR (pcap-filter(7) syntax, quote it)\n"
    "  -r, --read FILE         read FILE (again for more files), as tcpdump -r;\n"
    "                          the words after the options are then the filter\n"
    "                          expression, as tcpdump's: analyze -r F tcp port 80\n"
    "  -c, --count N           stop after N packets (those the filter passes),\n"
    "                          counted over all the files, as tcpdump -c\n"
    "      --json              print one JSON object per race per line on\n"
    "                          stdout, and nothing else there\n"
    "      --no-timeline       leave the tcpdump timeline out of each race\n"
    "      --summary           one line per group of identical incidents (same\n"
    "                          kind, server, verdict, request method and target)\n"
    "                          with its count and first and last time, instead\n"
    "                          of each incident; with --json, {\"type\":\"group\"}\n"
    "                          lines instead of incidents\n"
    "      --all               print every incident in full (by default, after 3\n"
    "                          identical ones the rest are only counted, and\n"
    "                          listed before the summary)\n"
    "      --tls-keylog FILE   decrypt TLS 1.2/1.3 with this NSS key log\n"
    "                          (SSLKEYLOGFILE; repeatable); a pcapng's injected\n"
    "                          secrets are used without it\n"
    "      --kind K[,K...]     print only incidents of these kinds (all are\n"
    "                          stored): keepalive-race, server-timeout,\n"
    "                          reset-before-response, client-abort, refused,\n"
    "                          connect-timeout, truncated-response,\n"
    "                          closed-before-response, gateway-error\n"
    "      --db PATH           store incidents in the SQLite database PATH\n"
    "                          (default: hangup.db in the current directory;\n"
    "                          created if missing), or in PostgreSQL given as\n"
    "                          postgresql://USER@HOST:PORT/DB or key=value\n"
    "                          (libpq: PG* variables and ~/.pgpass apply)\n"
    "      --sensor NAME       the sensor stored with each capture (default:\n"
    "                          this host's name), for report --sensor\n"
    "      --no-db             do not store anything\n"
    "  -w FILE                 write each incident's connection (its recent\n"
    "                          packets, original link type and times) to the\n"
    "                          pcapng FILE, every capture in one file in time\n"
    "                          order, each incident's explanation a packet\n"
    "                          comment on the packets it names, for Wireshark\n"
    "      --html FILE         also write the incidents printed as one\n"
    "                          self-contained HTML page: a packet ladder per\n"
    "                          incident, each server's timeout picture\n"
    "      --max-connections N track at most N connections at once; the least\n"
    "                          recently active is evicted beyond that\n"
    "                          (default 262144)\n"
    "      --idle-timeout SECS forget a connection after SECS seconds without a\n"
    "                          packet, in capture time (default 3600)\n"
    "      --separate          read every FILE as a capture of its own, even\n"
    "                          files that continue each other\n"
    "      --join              join files on time, link type and interface alone,\n"
    "                          without a connection going on between them (a\n"
    "                          rotated set of a quiet link)\n"
    "  -h, --help              show this help\n"
    "\n"
    "Link types: Ethernet (with 802.1Q/QinQ tags), LINUX_SLL, LINUX_SLL2\n"
    "(tcpdump -i any), NULL, LOOP, RAW, IPV4, IPV6.\n"
    "\n"
    "Times in timelines are local, as tcpdump prints them (set TZ=UTC to\n"
    "compare with a UTC tcpdump run); JSON times are UTC.\n"
    "\n"
    "Each incident names its connection's Community ID (the flow ID Zeek,\n"
    "Suricata, Arkime and Wireshark compute: JSON community_id) and, when\n"
    "stored, the ID 'hangup show' takes (JSON incident_id).  Analysing the\n"
    "same packets again replaces their stored incidents.\n"
    "\n"
    "exit status: 0 all files read completely; 1 a file could not be read,\n"
    "or only in part (what was read is still reported); 2 usage error or bad\n"
    "filter; 3 out of memory; 4 the database could not be opened or written\n"
    "(the analysis is still printed; nothing of the failed capture is kept).\n"
    "\n"
    "example:\n"
    "  hangup analyze -f 'tcp port 3000' capture.pcap\n"
    "  hangup analyze --json a.pcap b.pcapng | jq .verdict\n";

/* The progress line for long files on a terminal: bytes read of total,
 * packets/s, ETA.  Driven by capture.c every 65536 frames. */
typedef struct progress {
    const hu_analyzer *a;
    const char *file;
    struct timespec start;
    bool shown;
} progress;

static void on_progress(void *arg, uint64_t bytes, uint64_t total, uint64_t frames)
{
    progress *pg = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - pg->start.tv_sec) + (now.tv_nsec - pg->start.tv_nsec) / 1e9;
    if (el < 1.0 || total == 0)
        return;
    double frac = (double)bytes / (double)total;
    double eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "\r\033[K%s: %.0f%% of %.0f MB, %.0f packets/s, %llu incidents, ETA %.0f s",
            pg->file, frac * 100, (double)total / 1e6, (double)frames / el,
            (unsigned long long)hu_analyzer_incidents(pg->a), eta);
    pg->shown = true;
}

/* What analyze's command line asked for. */
typedef struct analyze_args {
    hu_analyze_opts o;
    char **files;             /* the captures, in order */
    int nfiles;
    char **rfiles;            /* -r FILE..., owned array (the strings are argv's) */
    char *filter_owned;       /* a trailing expression, joined */
    hu_fileset_mode join;     /* --separate, --join: how files become captures */
} analyze_args;

static void analyze_args_free(analyze_args *aa)
{
    free(aa->rfiles);
    free(aa->filter_owned);
}

/* Parse analyze's command line: files as operands, or tcpdump's form --
 * -r FILE (repeatable) and the words after the options as the filter
 * expression.  -1 to go on, else the exit status (message printed). */
static int parse_analyze(int argc, char **argv, analyze_args *aa)
{
    hu_cli_opts_default(&aa->o);
    static const struct option longopts[] = {
        HU_CLI_LONGOPTS,
        { "read", required_argument, NULL, 'r' },
        { "count", required_argument, NULL, 'c' },
        { "separate", no_argument, NULL, HU_CLI_OPT_OWN },
        { "join", no_argument, NULL, HU_CLI_OPT_OWN + 1 },
        { "html", required_argument, NULL, HU_CLI_OPT_OWN + 2 },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c, nr = 0;
    long long count;
    while ((c = getopt_long(argc, argv, HU_CLI_SHORTOPTS "c:r:h", longopts, NULL)) != -1) {
        hu_cli_opt_rc shared = hu_cli_common_option(c, optarg, &aa->o);
        if (shared == HU_CLI_BAD_VALUE)
            return HU_CLI_EXIT_USAGE;
        if (shared == HU_CLI_HANDLED)
            continue;
        switch (c) {
        case 'r': {
            char **nf = realloc(aa->rfiles, (size_t)(nr + 1) * sizeof *nf);
            if (!nf) {
                fputs("hangup: out of memory\n", stderr);
                return HU_CLI_EXIT_NOMEM;
            }
            aa->rfiles = nf;
            aa->rfiles[nr++] = optarg;
            break;
        }
        case 'c':
            if (!hu_cli_parse_number(optarg, "-c", 1, LLONG_MAX, &count))
                return HU_CLI_EXIT_USAGE;
            aa->o.max_packets = (uint64_t)count;
            break;
        case HU_CLI_OPT_OWN:
            aa->join = HU_FILESET_SEPARATE;
            break;
        case HU_CLI_OPT_OWN + 1:
            aa->join = HU_FILESET_JOIN;
            break;
        case HU_CLI_OPT_OWN + 2:
            aa->o.html_path = optarg;
            break;
        case 'h':
            fputs(usage_analyze, stdout);
            return 0;
        default:
            fputs("Run 'hangup help analyze' for usage.\n", stderr);
            return HU_CLI_EXIT_USAGE;
        }
    }
    if (nr) {   /* tcpdump's form: what follows the options is the filter */
        if (!hu_cli_trailing_filter(argc, argv, optind, &aa->o, &aa->filter_owned))
            return HU_CLI_EXIT_USAGE;
        aa->files = aa->rfiles;
        aa->nfiles = nr;
    } else {
        aa->files = argv + optind;
        aa->nfiles = argc - optind;
    }
    if (aa->nfiles == 0) {
        fputs("hangup: analyze needs at least one capture FILE\n"
              "Run 'hangup help analyze' for usage.\n", stderr);
        return HU_CLI_EXIT_USAGE;
    }
    return -1;
}

/* A file's result folded into the command's exit status. */
static int fold_status(int status, hu_file_rc rc)
{
    if (rc == HU_FILE_NOMEM)
        return HU_CLI_EXIT_NOMEM;
    if (rc == HU_FILE_STORE)
        return HU_CLI_EXIT_DB;
    if (rc != HU_FILE_OK && status == 0)
        return HU_CLI_EXIT_INPUT;
    return status;
}

/* Read one file (of a capture, or a capture alone), with the progress
 * line. */
static hu_file_rc one_file(hu_analyzer *a, progress *pg, const char *file, bool in_set)
{
    pg->file = file;
    pg->shown = false;
    clock_gettime(CLOCK_MONOTONIC, &pg->start);
    hu_file_rc rc = in_set ? hu_analyzer_set_file(a, file) : hu_analyzer_file(a, file);
    if (pg->shown)
        fputs("\r\033[K", stderr);
    return rc;
}

/* The files of one set, read as one capture; the command's status so
 * far, or HU_CLI_EXIT_USAGE for a bad filter.  The user is told which
 * files were joined, before anything of them is printed. */
static int analyze_set(hu_analyzer *a, progress *pg, char **files, const size_t *set, size_t n,
                       int status)
{
    uint64_t bytes = 0;
    struct stat st;
    fputs("hangup: one capture of", stderr);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "%s %s", i ? "," : "", files[set[i]]);
        if (stat(files[set[i]], &st) == 0)
            bytes += (uint64_t)st.st_size;
    }
    fputs(" (each continues the one before; --separate reads them apart)\n", stderr);
    if (!hu_analyzer_set_begin(a, bytes)) {
        fputs("hangup: out of memory\n", stderr);
        return HU_CLI_EXIT_NOMEM;
    }
    for (size_t i = 0; i < n && !hu_analyzer_limit_reached(a); i++) {
        hu_file_rc rc = one_file(a, pg, files[set[i]], true);
        if (rc == HU_FILE_BADFILTER) {
            hu_analyzer_set_end(a);
            return HU_CLI_EXIT_USAGE;
        }
        status = fold_status(status, rc);
    }
    return fold_status(status, hu_analyzer_set_end(a));
}

/* Analyse every file, those that continue each other as one capture
 * (fileset.h, by mode); the command's exit status. */
static int analyze_files(hu_analyzer *a, progress *pg, char **files, int n,
                         hu_fileset_mode mode)
{
    int status = 0;
    hu_fileset_plan plan;
    if (!hu_fileset_plan_make(files, (size_t)n, mode, &plan)) {
        fputs("hangup: out of memory\n", stderr);
        return HU_CLI_EXIT_NOMEM;
    }
    for (size_t k = 0; k < plan.nsets && !hu_analyzer_limit_reached(a); k++) {
        if (plan.set_len[k] > 1) {
            status = analyze_set(a, pg, files, plan.sets[k], plan.set_len[k], status);
            if (status == HU_CLI_EXIT_USAGE)
                break;
            continue;
        }
        hu_file_rc rc = one_file(a, pg, files[plan.sets[k][0]], false);
        if (rc == HU_FILE_BADFILTER) {
            status = HU_CLI_EXIT_USAGE;
            break;
        }
        status = fold_status(status, rc);
    }
    hu_fileset_plan_free(&plan);
    return status;
}

static int cmd_analyze(int argc, char **argv)
{
    analyze_args aa = { 0 };
    int status = parse_analyze(argc, argv, &aa);
    if (status >= 0) {
        analyze_args_free(&aa);
        return status;
    }
    tzset();
    progress pg = { 0 };
    if (isatty(STDERR_FILENO)) {
        aa.o.progress = (hu_progress){ on_progress, &pg };
        aa.o.status_tty = stderr;   /* the progress line stands there */
    }
    hu_file_rc why;
    hu_analyzer *a = hu_analyzer_new(&aa.o, &why);
    if (!a) {   /* the reason is printed */
        analyze_args_free(&aa);
        return why == HU_FILE_FAILED ? HU_CLI_EXIT_INPUT : HU_CLI_EXIT_NOMEM;
    }
    pg.a = a;
    status = analyze_files(a, &pg, aa.files, aa.nfiles, aa.join);
    if (status != HU_CLI_EXIT_USAGE && !hu_analyzer_finish(a) && status == 0)
        status = HU_CLI_EXIT_INPUT;   /* the -w file is not whole */
    hu_analyzer_free(a);
    analyze_args_free(&aa);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return HU_CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    /* getopt names argv[0] in its messages: "hangup: unrecognized option",
     * like every other error line, not "analyze: ...". */
    argv[1] = (char *)"hangup";
    /* The commands that track connections: their state is the heap. */
    if (strcmp(cmd, "analyze") == 0 || strcmp(cmd, "live") == 0 || strcmp(cmd, "watch") == 0)
        hu_heap_prefer_huge_pages();
    /* Every command's output is checked once it is written. */
    if (strcmp(cmd, "analyze") == 0)
        return hu_cli_output_done(cmd_analyze(argc - 1, argv + 1));
    if (strcmp(cmd, "live") == 0)
        return hu_cli_output_done(hu_cmd_live(argc - 1, argv + 1));
    if (strcmp(cmd, "watch") == 0)
        return hu_cli_output_done(hu_cmd_watch(argc - 1, argv + 1));
    if (strcmp(cmd, "query") == 0)
        return hu_cli_output_done(hu_cmd_query(argc - 1, argv + 1));
    if (strcmp(cmd, "report") == 0)
        return hu_cli_output_done(hu_cmd_report(argc - 1, argv + 1));
    if (strcmp(cmd, "show") == 0)
        return hu_cli_output_done(hu_cmd_show(argc - 1, argv + 1));
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        hu_cli_version(stdout);
        return hu_cli_output_done(0);
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(argv[2], "analyze") == 0)
            fputs(usage_analyze, stdout);
        else if (argc > 2 && strcmp(argv[2], "live") == 0)
            fputs(hu_usage_live, stdout);
        else if (argc > 2 && strcmp(argv[2], "watch") == 0)
            fputs(hu_usage_watch, stdout);
        else if (argc > 2 && strcmp(argv[2], "query") == 0)
            fputs(hu_usage_query, stdout);
        else if (argc > 2 && strcmp(argv[2], "report") == 0)
            fputs(hu_usage_report, stdout);
        else if (argc > 2 && strcmp(argv[2], "show") == 0)
            fputs(hu_usage_show, stdout);
        else if (argc > 2) {   /* a usage error, as an unknown command is */
            fprintf(stderr, "hangup: no help for '%s': there is no such command\n\n%s", argv[2],
                    usage_main);
            return HU_CLI_EXIT_USAGE;
        } else
            fputs(usage_main, stdout);
        return 0;
    }
    fprintf(stderr, "hangup: unknown command '%s'\n\n%s", cmd, usage_main);
    return HU_CLI_EXIT_USAGE;
}
