/*
 * live.c -- `hangup live`: the analyze pipeline fed from an interface.
 *
 * The capture is opened the way tcpdump opens one (pcap_create, snaplen
 * 262144, an optional kernel buffer size and promiscuous mode, the BPF
 * filter on the handle) and, like tcpdump, without immediate mode: on
 * Linux immediate mode makes libpcap fall back from TPACKET_V3's shared
 * blocks to TPACKET_V2's one slot per frame, each slot as large as the
 * snapshot length, so a 2 MiB buffer holds only about 30 loopback frames
 * and a burst is dropped.  The 100 ms timeout bounds how long a lone RST
 * waits in a partly filled block (docs/BENCHMARKS.md has the figures),
 * then every frame goes through the same hu_analyzer as a file's.  The
 * handle is non-blocking and the loop poll()s its descriptor for at most
 * 200 ms, so once a second it can commit the database (other terminals
 * see new incidents within a second), refresh the status line, and notice
 * a stop request even when no packet comes.  Signal handlers only set a
 * flag (poll returns EINTR); everything else happens in the loop.
 *
 * Root gives up its privileges once the capture and the files are open.
 * With a database, a root parent stays behind first (supervise): SQLite
 * removes its -wal and -shm files when the last connection closes, which
 * the unprivileged user cannot do in a directory it may not write, so the
 * parent opens and closes the database once the capture has ended.
 *
 * Into PostgreSQL, incidents go through a local spool (spool.h, chosen
 * here: --spool or a per-sensor file in the state directory) that keeps
 * them through a server outage; the status line, the metrics and the end
 * summary say how many wait, and only incidents still waiting at the end
 * (or dropped from a full spool) make the exit status 4.
 *
 * --metrics binds its port before anything else (a port in use ends live
 * before it captures), counts each incident through the analyzer's
 * observer and publishes the counters once a second on the same tick;
 * metrics.c serves them from a thread of its own (docs/DESIGN.md §3.12).
 */
#include "hangup/live.h"
#include "hangup/analyze.h"
#include "hangup/capture.h"
#include "hangup/cli.h"
#include "hangup/decode.h"
#include "hangup/incident.h"
#include "hangup/metrics.h"
#include "hangup/servers.h"
#include "hangup/spool.h"
#include "hangup/store.h"
#include "hangup/strbuf.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char hu_usage_live[] =
    "usage: hangup live [options] [EXPRESSION]\n"
    "\n"
    "Capture from an interface and report each keep-alive race the moment its\n"
    "RST is seen: the same explanation and tcpdump timeline as 'analyze',\n"
    "stored in the database (committed every second, so 'hangup report' in\n"
    "another terminal sees it at once).  Stops on Ctrl-C (SIGINT), SIGTERM,\n"
    "-c or --duration, then prints the summary (with each server's inferred\n"
    "keep-alive timeout) and the capture statistics.\n"
    "\n"
    "options:\n"
    "  -i, --interface IFACE   capture on IFACE ('any' for all; default: the\n"
    "                          first interface libpcap lists)\n"
    "  -f, --filter EXPR       BPF filter on the capture (quote it)\n"
    "  -c, --count N           stop after N packets\n"
    "      --duration S        stop after S seconds\n"
    "  -B, --buffer-size KIB   kernel capture buffer in KiB (default: libpcap's)\n"
    "  -s, --snaplen N         bytes kept per packet (default 262144)\n"
    "  -p, --promisc           put the interface in promiscuous mode\n"
    "  -D, --list-interfaces   list the interfaces to capture on, as tcpdump -D\n"
    "  EXPRESSION              a BPF filter after the options, as tcpdump's\n"
    "                          (live -i lo tcp port 80), or give it with -f\n"
    "      --json              JSON lines instead of explanations\n"
    "      --no-timeline       no tcpdump timeline in explanations\n"
    "      --summary           one line per group of identical incidents at the\n"
    "                          end, instead of each incident (see analyze)\n"
    "      --all               print every incident in full (by default, after 3\n"
    "                          identical ones the rest are only counted)\n"
    "      --tls-keylog FILE   decrypt TLS with this key log (see analyze); read\n"
    "                          again while it is being written\n"
    "      --kind K[,K...]     print only incidents of these kinds (see analyze)\n"
    "      --db PATH           database (default: hangup.db), or PostgreSQL as\n"
    "                          postgresql://USER@HOST:PORT/DB; --no-db for none\n"
    "      --sensor NAME       the sensor stored with each capture (default: the\n"
    "                          host name)\n"
    "      --spool FILE        with PostgreSQL: keep incidents in this local SQLite\n"
    "                          file while the server is unreachable and deliver\n"
    "                          them, in order and once each, when it is back\n"
    "                          (default: $STATE_DIRECTORY/spool-SENSOR.db, else\n"
    "                          /var/lib/hangup/ as root, else ~/.local/state/hangup/)\n"
    "      --spool-max N       incidents the spool keeps at most; when full the\n"
    "                          oldest are dropped (default 100000)\n"
    "      --no-spool          no spool: the database's first error stops storing\n"
    "      --deliver           capture nothing: deliver the spool to --db and exit\n"
    "  -w FILE                 write each incident's connection (its recent\n"
    "                          packets) to the pcapng FILE, in time order, each\n"
    "                          incident's explanation a packet comment; packets\n"
    "                          are written once no open connection holds older\n"
    "                          ones, and all of them when the capture stops\n"
    "      --idle-timeout SECS forget connections idle this long (default 3600)\n"
    "      --max-connections N track at most N connections (default 262144)\n"
    "      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
    "                          ([IPV6]:PORT for IPv6; PORT or :PORT alone listens\n"
    "                          on 127.0.0.1 only)\n"
    "  -Z, --user USER         once the capture and files are open, run as USER\n"
    "                          (default when started as root: 'tcpdump' if that\n"
    "                          user exists, else 'nobody'; -Z root keeps root)\n"
    "  -h, --help              show this help\n"
    "\n"
    "A status line (packets, connections, races, drops) is refreshed on stderr\n"
    "once a second when stderr is a terminal.\n"
    "\n"
    "Capturing needs root or CAP_NET_RAW (setcap cap_net_raw,cap_net_admin=eip).\n"
    "\n"
    "exit status: 0 stopped cleanly (an outage whose incidents were all delivered\n"
    "included); 2 usage error or bad filter; 3 out of memory; 4 database error\n"
    "(incidents still waiting in the spool, or dropped from it); 5 the capture\n"
    "could not be opened or failed.\n";

static volatile sig_atomic_t g_stop;   /* set by the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct live_ctx {
    hu_analyzer *a;
    int dlt;
    uint64_t num, count;
    uint64_t bytes;           /* on the wire, of the frames captured */
    hu_capture_info *info;
    hu_metrics *metrics;      /* --metrics, or NULL */
} live_ctx;

/* pcap_dispatch callback: one frame into the pipeline; stops the dispatch
 * when -c is reached. */
static void live_frame(u_char *arg, const struct pcap_pkthdr *h, const u_char *data)
{
    live_ctx *lc = (live_ctx *)(void *)arg;
    if (lc->count && lc->num >= lc->count)
        return;
    hu_frame fr = { .num = ++lc->num, .ts_us = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec,
                    .caplen = h->caplen, .wirelen = h->len, .data = data, .bad = NULL };
    if (lc->num == 1)
        lc->info->first_us = fr.ts_us;
    lc->info->last_us = fr.ts_us;
    lc->bytes += h->len;
    hu_analyzer_frame(lc->a, lc->dlt, &fr);
}

/*
 * Give up root once the capture, the database and the -w file are open,
 * the way tcpdump's -Z does: supplementary groups, group, then user, and
 * make sure root cannot be had back.  false with a message in err.
 */
static bool drop_privileges(const char *user, char *err, size_t n)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        snprintf(err, n, "no user '%s' to run as (-Z USER, or -Z root to keep root)", user);
        return false;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(err, n, "cannot switch to user %s: %s", user, strerror(errno));
        return false;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        snprintf(err, n, "switched to %s but could regain root: refusing to go on", user);
        return false;
    }
    return true;
}

/* The user to drop to by default: tcpdump's own if it exists, else nobody. */
static const char *default_user(void)
{
    return getpwnam("tcpdump") ? "tcpdump" : getpwnam("nobody") ? "nobody" : NULL;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line explaining why the capture could not start, with the fix. */
static void activate_error(pcap_t *pc, int rc, const char *iface)
{
    const char *detail = pcap_geterr(pc);
    switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
        fprintf(stderr, "hangup: live: not permitted to capture on %s: run as root, or give "
                        "hangup CAP_NET_RAW (setcap cap_net_raw,cap_net_admin=eip hangup)\n",
                iface);
        break;
    case PCAP_ERROR_NO_SUCH_DEVICE:
        fprintf(stderr, "hangup: live: no such interface '%s' (see 'ip link' for the names)\n",
                iface);
        break;
    case PCAP_ERROR_IFACE_NOT_UP:
        fprintf(stderr, "hangup: live: interface %s is down (bring it up with 'ip link set %s "
                        "up')\n", iface, iface);
        break;
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        fprintf(stderr, "hangup: live: not permitted to put %s in promiscuous mode: run "
                        "without -p, or as root\n", iface);
        break;
    default:
        fprintf(stderr, "hangup: live: cannot capture on %s: %s\n", iface,
                detail && *detail ? detail : pcap_statustostr(rc));
        break;
    }
}

static void status_line(hu_analyzer *a, pcap_t *pc, const char *iface)
{
    hu_analyzer_progress pr;
    hu_analyzer_progress_get(a, &pr);
    struct pcap_stat ps;
    unsigned drops = pcap_stats(pc, &ps) == 0 ? ps.ps_drop : 0;
    fprintf(stderr, "\r\033[K[%s] %" PRIu64 " packets, %" PRIu64 " connections (%" PRIu64
                    " open), %" PRIu64 " race%s, %u dropped by kernel",
            iface, pr.packets, pr.connections, pr.active, pr.incidents,
            pr.incidents == 1 ? "" : "s", drops);
    hu_spool_stats ss;
    if (hu_analyzer_spool_stats(a, &ss) && (ss.waiting || ss.outages))
        fprintf(stderr, ", %" PRIu64 " waiting in the spool", ss.waiting);
    fflush(stderr);
}

/* The analyzer's observer: an incident for the metrics. */
static void count_incident(void *arg, const hu_incident_rec *rec)
{
    char server[64];
    hu_endpoint_str(server, sizeof server, rec->ipver, rec->srv_addr, rec->srv_port);
    hu_metrics_incident(arg, (int)rec->kindid, (int)rec->verdict, server);
}

/* Publish the metrics as the capture stands: the analyzer's counters,
 * libpcap's drops and the busiest servers' inferred timeouts. */
static void publish_metrics(live_ctx *lc, pcap_t *pc)
{
    hu_analyzer_progress pr;
    hu_analyzer_progress_get(lc->a, &pr);
    struct pcap_stat ps;
    memset(&ps, 0, sizeof ps);
    pcap_stats(pc, &ps);
    hu_metrics_counts c = { .packets = lc->num, .bytes = lc->bytes,
                            .connections = pr.connections, .open_connections = pr.active,
                            .evicted = pr.evicted, .kernel_drops = ps.ps_drop,
                            .interface_drops = ps.ps_ifdrop };
    size_t n = 0;
    hu_server_summary *top = hu_analyzer_top_servers(lc->a, HU_METRICS_TOP_SERVERS, &n);
    hu_metrics_server sv[HU_METRICS_TOP_SERVERS];
    char names[HU_METRICS_TOP_SERVERS][64];
    for (size_t i = 0; i < n; i++) {
        hu_endpoint_str(names[i], sizeof names[i], top[i].ipver, top[i].addr, top[i].port);
        sv[i] = (hu_metrics_server){ .server = names[i],
                                     .idle_timeout_us = top[i].idle_timeout_us,
                                     .race_risk = top[i].race_risk };
    }
    free(top);
    hu_spool_stats ss;
    if (hu_analyzer_spool_stats(lc->a, &ss))
        hu_metrics_set_spool(lc->metrics, ss.waiting);
    hu_metrics_publish(lc->metrics, &c, sv, n);   /* out of memory: the last one stays */
}

/* What the command line asked for. */
typedef struct live_args {
    hu_analyze_opts o;
    const char *iface;        /* NULL: the first interface libpcap lists */
    long long count, duration, bufsize, snaplen;
    bool promisc;
    const char *run_as;
    char *filter_owned;       /* a trailing filter expression, joined */
    bool metrics;             /* --metrics: listen on maddr */
    hu_metrics_addr maddr;
    const char *spool;        /* --spool, or NULL: the default (PostgreSQL only) */
    bool no_spool, deliver;   /* --no-spool, --deliver */
    char spool_buf[4096];     /* the default spool path */
} live_args;

/* -D: the interfaces libpcap can capture on, numbered, as tcpdump -D
 * prints them; the exit status. */
static int list_interfaces(void)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_if_t *all = NULL;
    if (pcap_findalldevs(&all, ebuf) != 0) {
        fprintf(stderr, "hangup: live: cannot list the interfaces: %s\n", ebuf);
        return HU_CLI_EXIT_CAPTURE;
    }
    int n = 0;
    for (pcap_if_t *d = all; d; d = d->next) {
        printf("%d.%s", ++n, d->name);
        if (d->description)
            printf(" (%s)", d->description);
        printf(" [%s%s]\n", d->flags & PCAP_IF_UP ? "Up" : "Down",
               d->flags & PCAP_IF_RUNNING ? ", Running" : "");
    }
    pcap_freealldevs(all);
    if (n == 0)
        fputs("hangup: live: no interface to capture on\n", stderr);
    return n ? 0 : HU_CLI_EXIT_CAPTURE;
}

/* mkdir -p dir (mode 0750 for what it makes); false with errno. */
static bool make_dirs(char *dir)
{
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        bool ok = mkdir(dir, 0750) == 0 || errno == EEXIST;
        *p = c;
        if (!ok)
            return false;
        if (!c)
            return true;
    }
}

/* The spool for a PostgreSQL --db (la->o.spool_path): --spool, or one
 * file per sensor in the state directory systemd gives
 * ($STATE_DIRECTORY), else /var/lib/hangup as root, else the user's
 * ($XDG_STATE_HOME or ~/.local/state)/hangup, made if missing.  -1 to go
 * on, else the exit status (message printed). */
static int choose_spool(live_args *la)
{
    if (!la->o.db_path || !hu_store_is_pg(la->o.db_path) || la->no_spool) {
        if (la->deliver) {
            fputs("hangup: live: --deliver needs a PostgreSQL --db and its spool\n", stderr);
            return HU_CLI_EXIT_USAGE;
        }
        return -1;
    }
    if (la->spool) {
        la->o.spool_path = la->spool;
        return -1;
    }
    char sensor[256] = "", dir[3800] = "";
    if (la->o.sensor)
        snprintf(sensor, sizeof sensor, "%s", la->o.sensor);
    else if (gethostname(sensor, sizeof sensor - 1) != 0)
        sensor[0] = '\0';
    for (char *c = sensor; *c; c++)   /* a file name, whatever the sensor is called */
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
            *c = '_';
    const char *state = getenv("STATE_DIRECTORY"), *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    if (state && *state)
        snprintf(dir, sizeof dir, "%.*s", (int)strcspn(state, ":"), state);
    else if (geteuid() == 0)
        snprintf(dir, sizeof dir, "/var/lib/hangup");
    else if (xdg && *xdg == '/')
        snprintf(dir, sizeof dir, "%s/hangup", xdg);
    else if (home && *home == '/')
        snprintf(dir, sizeof dir, "%s/.local/state/hangup", home);
    else
        snprintf(dir, sizeof dir, ".");
    if (!make_dirs(dir)) {
        fprintf(stderr, "hangup: live: cannot make the spool's directory %s: %s (give "
                        "--spool FILE, or --no-spool)\n", dir, strerror(errno));
        return HU_CLI_EXIT_DB;
    }
    snprintf(la->spool_buf, sizeof la->spool_buf, "%s/spool-%s.db", dir,
             sensor[0] ? sensor : "hangup");
    la->o.spool_path = la->spool_buf;
    return -1;
}

/* Parse the command line into la; -1 to go on, else the exit status
 * (a message printed, or the help). */
static int parse_args(int argc, char **argv, live_args *la)
{
    hu_cli_opts_default(&la->o);
    la->o.live = true;
    la->snaplen = 262144;
    enum { OPT_DURATION = HU_CLI_OPT_OWN, OPT_METRICS, OPT_SPOOL, OPT_SPOOL_MAX, OPT_NO_SPOOL,
           OPT_DELIVER };
    /* --interface and --duration before the shared ones: see cli.h */
    static const struct option lo[] = {
        { "interface", required_argument, NULL, 'i' },
        { "count", required_argument, NULL, 'c' },
        { "duration", required_argument, NULL, OPT_DURATION },
        { "buffer-size", required_argument, NULL, 'B' },
        { "snaplen", required_argument, NULL, 's' },
        { "promisc", no_argument, NULL, 'p' },
        { "list-interfaces", no_argument, NULL, 'D' },
        HU_CLI_LONGOPTS,
        { "metrics", required_argument, NULL, OPT_METRICS },
        { "spool", required_argument, NULL, OPT_SPOOL },
        { "spool-max", required_argument, NULL, OPT_SPOOL_MAX },
        { "no-spool", no_argument, NULL, OPT_NO_SPOOL },
        { "deliver", no_argument, NULL, OPT_DELIVER },
        { "user", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "i:c:B:s:pZ:D" HU_CLI_SHORTOPTS "h", lo, NULL)) != -1) {
        hu_cli_opt_rc shared = hu_cli_common_option(c, optarg, &la->o);
        if (shared == HU_CLI_BAD_VALUE)
            return HU_CLI_EXIT_USAGE;
        if (shared == HU_CLI_HANDLED)
            continue;
        switch (c) {
        case 'i': la->iface = optarg; break;
        case 'c':
            if (!hu_cli_parse_number(optarg, "-c", 1, INT64_MAX, &la->count))
                return HU_CLI_EXIT_USAGE;
            break;
        case OPT_DURATION:
            if (!hu_cli_parse_number(optarg, "--duration", 1, 100LL * 365 * 86400,
                                     &la->duration))
                return HU_CLI_EXIT_USAGE;
            break;
        case 'B':
            if (!hu_cli_parse_number(optarg, "-B", 1, 4 * 1024 * 1024, &la->bufsize))
                return HU_CLI_EXIT_USAGE;
            break;
        case 's':
            if (!hu_cli_parse_number(optarg, "-s", 64, 262144, &la->snaplen))
                return HU_CLI_EXIT_USAGE;
            break;
        case 'p': la->promisc = true; break;
        case OPT_METRICS: {
            char merr[256];
            if (!hu_metrics_parse_addr(optarg, &la->maddr, merr, sizeof merr)) {
                fprintf(stderr, "hangup: live: %s\n", merr);
                return HU_CLI_EXIT_USAGE;
            }
            la->metrics = true;
            break;
        }
        case OPT_SPOOL: la->spool = optarg; break;
        case OPT_SPOOL_MAX: {
            long long v;
            if (!hu_cli_parse_number(optarg, "--spool-max", 1, 1000000000, &v))
                return HU_CLI_EXIT_USAGE;
            la->o.spool_max = (uint64_t)v;
            break;
        }
        case OPT_NO_SPOOL: la->no_spool = true; break;
        case OPT_DELIVER: la->deliver = true; break;
        case 'D': return list_interfaces();
        case 'Z': la->run_as = optarg; break;
        case 'h': fputs(hu_usage_live, stdout); return 0;
        default: fputs("Run 'hangup help live' for usage.\n", stderr); return HU_CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 == argc && access(argv[optind], F_OK) == 0) {
        /* One word naming a file: a capture to analyse, not a filter. */
        fprintf(stderr, "hangup: live captures from an interface; to read the file %s, run "
                        "'hangup analyze %s'\n", argv[optind], argv[optind]);
        return HU_CLI_EXIT_USAGE;
    }
    /* tcpdump's form: the words after the options are the filter. */
    if (!hu_cli_trailing_filter(argc, argv, optind, &la->o, &la->filter_owned))
        return HU_CLI_EXIT_USAGE;
    return choose_spool(la);
}

/* Apply the BPF filter to pc; 0, or the exit status (message printed). */
static int set_filter(pcap_t *pc, const char *filter)
{
    struct bpf_program prog;
    if (pcap_compile(pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        fprintf(stderr, "hangup: live: bad filter expression '%s': %s (quote the whole "
                        "expression)\n", filter, pcap_geterr(pc));
        return HU_CLI_EXIT_USAGE;
    }
    int frc = pcap_setfilter(pc, &prog);
    pcap_freecode(&prog);
    if (frc < 0) {
        fprintf(stderr, "hangup: live: cannot apply the filter: %s\n", pcap_geterr(pc));
        return HU_CLI_EXIT_CAPTURE;
    }
    return 0;
}

/* Open and activate the capture la asks for (la->iface chosen when
 * unset, into defname); *pcp and *dlt on success.  0, or the exit status
 * (message printed, nothing left open). */
static int open_capture(live_args *la, char *defname, size_t n, pcap_t **pcp, int *dlt)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    if (!la->iface) {
        pcap_if_t *all = NULL;
        if (pcap_findalldevs(&all, ebuf) != 0 || !all) {
            fprintf(stderr, "hangup: live: no interface to capture on%s%s (name one with -i)\n",
                    ebuf[0] ? ": " : "", ebuf);
            if (all)
                pcap_freealldevs(all);
            return HU_CLI_EXIT_CAPTURE;
        }
        snprintf(defname, n, "%s", all->name);
        pcap_freealldevs(all);
        la->iface = defname;
    }
    const char *iface = la->iface;
    pcap_t *pc = pcap_create(iface, ebuf);
    if (!pc) {
        fprintf(stderr, "hangup: live: cannot capture on %s: %s\n", iface, ebuf);
        return HU_CLI_EXIT_CAPTURE;
    }
    pcap_set_snaplen(pc, (int)la->snaplen);
    pcap_set_promisc(pc, la->promisc);
    pcap_set_timeout(pc, 100);
    if (la->bufsize)
        pcap_set_buffer_size(pc, (int)(la->bufsize * 1024));
    int rc = pcap_activate(pc);
    if (rc < 0) {
        activate_error(pc, rc, iface);
        pcap_close(pc);
        return HU_CLI_EXIT_CAPTURE;
    }
    if (rc > 0)   /* a warning: capture goes on */
        fprintf(stderr, "hangup: live: %s: %s\n", iface, pcap_geterr(pc));
    *dlt = pcap_datalink(pc);
    if (!hu_decode_link_supported(*dlt)) {
        char name[128];
        hu_capture_dlt_name(*dlt, name, sizeof name);
        fprintf(stderr, "hangup: live: %s has link type %s, which hangup cannot decode\n",
                iface, name);
        pcap_close(pc);
        return HU_CLI_EXIT_CAPTURE;
    }
    int frc = la->o.filter ? set_filter(pc, la->o.filter) : 0;
    if (frc) {
        pcap_close(pc);
        return frc;
    }
    *pcp = pc;
    return 0;
}

/* The user root will become once the capture is open (-Z, else an
 * unprivileged default), or NULL when it stays root or is not root. */
static const char *drop_target(const char *run_as)
{
    if (geteuid() != 0)
        return NULL;
    const char *user = run_as ? run_as : default_user();
    return user && strcmp(user, "root") != 0 ? user : NULL;
}

/* Running as root: become run_as (default: an unprivileged user) now that
 * the capture and the files are open.  False (message printed) when that
 * fails. */
static bool become_user(const char *run_as)
{
    if (geteuid() == 0) {
        const char *user = drop_target(run_as);
        char perr[256];
        if (user) {
            if (!drop_privileges(user, perr, sizeof perr)) {
                fprintf(stderr, "hangup: live: %s\n", perr);
                return false;
            }
            fprintf(stderr, "hangup: live: running as %s from now on\n", user);
        }
    } else if (run_as && strcmp(run_as, "root") != 0) {
        fprintf(stderr, "hangup: live: -Z %s needs root; going on as the current user\n",
                run_as);
    }
    return true;
}

/* Capture until a signal, the count or the duration; lc counts the
 * frames.  HU_CAP_OK, or HU_CAP_PARTIAL with the reason in err. */
static hu_capture_rc capture_loop(pcap_t *pc, const live_args *la, live_ctx *lc, char *err,
                                  size_t errlen)
{
    bool tty = isatty(STDERR_FILENO);
    hu_capture_rc crc = HU_CAP_OK;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    uint64_t count = (uint64_t)la->count;
    int64_t start = mono_ms(), last_tick = start;
    int fd = pcap_get_selectable_fd(pc);
    if (pcap_setnonblock(pc, 1, ebuf) < 0 || fd < 0) {
        fprintf(stderr, "hangup: live: cannot poll the capture on %s: %s\n", la->iface, ebuf);
        crc = HU_CAP_PARTIAL;
        g_stop = 1;
    }
    while (!g_stop && !(count && lc->num >= count)) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int pr = poll(&pfd, 1, 200);
        if (pr < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll failed: %s", strerror(errno));
            crc = HU_CAP_PARTIAL;
            break;
        }
        if (pr > 0) {
            int n = pcap_dispatch(pc, -1, live_frame, (u_char *)lc);
            if (n < 0) {
                snprintf(err, errlen, "the capture failed after %" PRIu64 " packets: %s "
                                      "(did the interface go down?)",
                         lc->num, pcap_geterr(pc));
                crc = HU_CAP_PARTIAL;
                break;
            }
        }
        int64_t now = mono_ms();
        if (now - last_tick >= 1000) {
            last_tick = now;
            hu_analyzer_tick(lc->a);
            if (lc->metrics)
                publish_metrics(lc, pc);
            if (tty)
                status_line(lc->a, pc, la->iface);
        }
        if (la->duration && now - start >= la->duration * 1000)
            break;
    }
    if (tty)
        fputs("\r\033[K", stderr);
    return crc;
}

/* libpcap's counters as the capture stopped, as tcpdump prints them, and
 * advice when the kernel dropped packets. */
static void print_capture_stats(const struct pcap_stat *st, const char *iface, bool json)
{
    struct pcap_stat ps = *st;
    fprintf(json ? stderr : stdout,
            "Capture statistics on %s: %u packets received by filter, %u dropped by kernel, "
            "%u dropped by interface\n", iface, ps.ps_recv, ps.ps_drop, ps.ps_ifdrop);
    if (ps.ps_drop)
        fprintf(stderr, "hangup: live: the kernel dropped %u packets (bursts larger than the "
                        "capture buffer): raise it with -B, e.g. -B 32768 for 32 MiB, and "
                        "narrow the capture with -f\n", ps.ps_drop);
}

/* The spool's line of the end summary, after the capture statistics,
 * when it was used: how many incidents wait, were delivered after
 * waiting, were dropped; nothing in a run it never had to keep one. */
static void print_spool_stats(const hu_analyzer *a, const char *path, bool json)
{
    hu_spool_stats ss;
    if (!hu_analyzer_spool_stats(a, &ss) ||
        !(ss.waiting || ss.spooled || ss.delivered || ss.dropped || ss.outages))
        return;
    fprintf(json ? stderr : stdout,
            "Spool %s: %" PRIu64 " incidents waiting, %" PRIu64 " delivered after waiting, %"
            PRIu64 " dropped (full), %" PRIu64 " database outage%s\n",
            path, ss.waiting, ss.delivered, ss.dropped, ss.outages,
            ss.outages == 1 ? "" : "s");
}

/* --deliver: the spool's incidents into the database, then exit (0 when
 * none is left waiting, else 4). */
static int deliver_only(live_args *la)
{
    hu_file_rc why;
    hu_analyzer *a = hu_analyzer_new(&la->o, &why);
    if (!a)
        return why == HU_FILE_STORE ? HU_CLI_EXIT_DB : HU_CLI_EXIT_NOMEM;
    bool ok = hu_analyzer_deliver(a);
    hu_spool_stats ss;
    memset(&ss, 0, sizeof ss);
    hu_analyzer_spool_stats(a, &ss);
    hu_analyzer_free(a);
    if (ok)
        fprintf(stderr, "hangup: live: delivered %" PRIu64 " incidents from the spool %s\n",
                ss.delivered, la->o.spool_path);
    return ok ? 0 : HU_CLI_EXIT_DB;
}

/* hu_cmd_live once its arguments are parsed into *la (what they own is
 * the caller's to free). */
static int run_live(live_args *la);

/*
 * The root parent of a capture that drops privileges with a database
 * open: wait for the child (passing it SIGINT, SIGTERM and SIGHUP, which
 * are blocked here since before the fork: `old` is the mask to restore),
 * then, if the database has them, open and close it so SQLite checkpoints
 * it and removes its -wal and -shm files.  Returns the child's exit status (128 + the
 * signal that killed it).
 */
static void tidy(const char *db_path);

static int supervise(pid_t child, const char *db_path, const char *spool_path,
                     const sigset_t *wait_for, const sigset_t *old)
{
    int status = 0;
    for (;;) {
        int sig = sigwaitinfo(wait_for, NULL);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
            kill(child, sig == SIGHUP ? SIGTERM : sig);
        pid_t r = waitpid(child, &status, WNOHANG);
        if (r == child || (r < 0 && errno != EINTR))
            break;
    }
    sigprocmask(SIG_SETMASK, old, NULL);
    tidy(db_path);
    if (spool_path)
        tidy(spool_path);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : HU_CLI_EXIT_CAPTURE;
}

/* Open and close db_path if the capture left -wal or -shm files beside
 * it, so that SQLite checkpoints it and removes them.  Only a database the
 * capture left its files beside: one that was never opened (the interface
 * could not be) is not created now. */
static void tidy(const char *db_path)
{
    char side[4096], err[512];
    snprintf(side, sizeof side, "%s-wal", db_path);
    bool left = access(side, F_OK) == 0;
    snprintf(side, sizeof side, "%s-shm", db_path);
    left = left || access(side, F_OK) == 0;
    hu_store *s = left ? hu_store_open(db_path, false, err, sizeof err) : NULL;
    if (s)
        hu_store_close(s);
    else if (left)
        fprintf(stderr, "hangup: live: tidying the database after the capture: %s\n", err);
}

int hu_cmd_live(int argc, char **argv)
{
    live_args la = { 0 };
    int st = parse_args(argc, argv, &la);
    if (st < 0 && la.o.db_path && drop_target(la.run_as)) {
        sigset_t wait_for, old;
        sigemptyset(&wait_for);
        sigaddset(&wait_for, SIGCHLD);
        sigaddset(&wait_for, SIGINT);
        sigaddset(&wait_for, SIGTERM);
        sigaddset(&wait_for, SIGHUP);
        sigprocmask(SIG_BLOCK, &wait_for, &old);
        fflush(NULL);
        pid_t child = fork();
        if (child > 0) {
            st = supervise(child, la.o.db_path, la.o.spool_path, &wait_for, &old);
            free(la.filter_owned);
            return st;
        }
        sigprocmask(SIG_SETMASK, &old, NULL);   /* the child, or no fork: capture here */
    }
    if (st < 0)
        st = run_live(&la);
    free(la.filter_owned);
    return st;
}

/* The capture itself, once --metrics listens (m, or NULL): run_live's
 * body. */
static int run_capture(live_args *la, hu_metrics *m)
{
    char defname[256];
    pcap_t *pc = NULL;
    int dlt = -1;
    int st;
    if ((st = open_capture(la, defname, sizeof defname, &pc, &dlt)) != 0)
        return st;
    const char *iface = la->iface;

    tzset();
    if (isatty(STDERR_FILENO))
        la->o.status_tty = stderr;   /* the status line stands there */
    hu_file_rc why;
    hu_analyzer *a = hu_analyzer_new(&la->o, &why);
    if (!a) {   /* the reason is printed */
        pcap_close(pc);
        return why == HU_FILE_FAILED ? HU_CLI_EXIT_INPUT
               : why == HU_FILE_STORE ? HU_CLI_EXIT_DB : HU_CLI_EXIT_NOMEM;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char source[300];
    snprintf(source, sizeof source, "%s", iface);
    if (!hu_analyzer_begin(a, source, "live", dlt, 16384)) {
        hu_analyzer_free(a);
        pcap_close(pc);
        return HU_CLI_EXIT_NOMEM;
    }
    if (!become_user(la->run_as)) {
        hu_analyzer_free(a);
        pcap_close(pc);
        return HU_CLI_EXIT_USAGE;
    }
    const char *filter = la->o.filter;
    fprintf(stderr, "hangup: capturing on %s (link type %s)%s%s%s; Ctrl-C to stop\n", iface,
            pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?",
            filter ? ", filter '" : "", filter ? filter : "", filter ? "'" : "");

    hu_capture_info info;
    memset(&info, 0, sizeof info);
    info.dlt = dlt;
    snprintf(info.link_name, sizeof info.link_name, "%s",
             pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "unknown");
    char err[512] = "";
    live_ctx lc = { .a = a, .dlt = dlt, .count = (uint64_t)la->count, .info = &info,
                    .metrics = m };
    if (m)
        publish_metrics(&lc, pc);   /* zeros until the first tick, not a 503 */
    hu_capture_rc crc = capture_loop(pc, la, &lc, err, sizeof err);
    info.frames = lc.num;
    struct pcap_stat ps;
    bool have_stats = pcap_stats(pc, &ps) == 0;
    hu_file_rc frc = hu_analyzer_end(a, crc, &info, err);
    bool written = hu_analyzer_finish(a);
    if (have_stats)
        print_capture_stats(&ps, iface, la->o.json);
    print_spool_stats(a, la->o.spool_path, la->o.json);
    hu_analyzer_free(a);
    pcap_close(pc);
    fflush(stdout);
    if (frc == HU_FILE_STORE)
        return HU_CLI_EXIT_DB;
    if (frc == HU_FILE_NOMEM)
        return HU_CLI_EXIT_NOMEM;
    if (crc != HU_CAP_OK)
        return HU_CLI_EXIT_CAPTURE;
    return written ? 0 : HU_CLI_EXIT_INPUT;
}

static int run_live(live_args *la)
{
    if (la->deliver)
        return deliver_only(la);
    if (!la->metrics)
        return run_capture(la, NULL);
    /* Listening first: a port in use stops live before it captures. */
    hu_metrics *m = hu_metrics_new(HANGUP_VERSION);
    if (!m) {
        fputs("hangup: live: out of memory\n", stderr);
        return HU_CLI_EXIT_NOMEM;
    }
    char err[512], url[64];
    if (!hu_metrics_listen(m, &la->maddr, err, sizeof err)) {
        fprintf(stderr, "hangup: live: %s\n", err);
        hu_metrics_free(m);
        return HU_CLI_EXIT_USAGE;
    }
    hu_endpoint_str(url, sizeof url, la->maddr.family == AF_INET6 ? 6 : 4, la->maddr.addr,
                    la->maddr.port);
    fprintf(stderr, "hangup: live: serving Prometheus metrics at http://%s/metrics\n", url);
    la->o.observe = count_incident;
    la->o.observe_arg = m;
    int st = run_capture(la, m);
    hu_metrics_free(m);
    return st;
}
