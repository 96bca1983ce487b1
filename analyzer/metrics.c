/*
 * metrics.c -- `live --metrics`: Prometheus metrics served over HTTP.
 *
 * Two threads meet here and share as little as possible.  The analysis
 * thread owns the tallies (incidents by kind, verdict and server) and, once
 * a second, renders the whole exposition into a buffer of its own; it then
 * swaps that buffer with the published one under the mutex, a pointer swap.
 * libmicrohttpd's thread, on each scrape, copies the published text under
 * the same mutex into the response and answers.  So no counter is ever read
 * half-written, a scrape sees one consistent moment (every family from the
 * same publication), the analysis thread never waits on a slow client, and
 * the lock is held for a swap or a memcpy of a few kilobytes.  The spool
 * depth is an atomic instead, because the spool may set it from a thread of
 * its own.  docs/DESIGN.md §3.12 has the reasons and the alternatives.
 *
 * The HTTP side is libmicrohttpd's (request parsing, keep-alive, timeouts,
 * connection limits): hangup only binds the listening socket itself, so a
 * port in use or an address not on this host is one clear line before the
 * capture starts, and answers GET and HEAD /metrics.
 *
 * Counters never go down: a server that has a `server` label keeps it, and
 * an incident counts in exactly one series, so the series of a kind always
 * add up to the incidents printed.
 */
#include "hangup/metrics.h"
#include "hangup/incident.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A series of hangup_incidents_total for one server: the keep-alive race's
 * two verdicts, then every other kind (no verdict). */
#define SLOTS (HU_KIND_COUNT + 1)

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct labelled {
    char *server;              /* the label value, as given */
    uint64_t n[SLOTS];
    bool seen[SLOTS];          /* a series written (from its first incident on) */
} labelled;

struct hu_metrics {
    char *version;
    /* Analysis thread only: */
    labelled top[HU_METRICS_TOP_SERVERS];
    size_t ntop;
    uint64_t other[SLOTS];     /* servers without a label of their own */
    hu_sb work;                /* the next publication, rendered */
    /* Shared with the HTTP thread, under lock: */
    pthread_mutex_t lock;
    hu_sb published;
    bool has_text;
    atomic_uint_fast64_t spool;
    struct MHD_Daemon *daemon; /* NULL until hu_metrics_listen; owns the socket */
};

static int slot_of(int kind, int verdict)
{
    if (kind == HU_KIND_RACE)
        return verdict == HU_VERDICT_STALE ? 1 : 0;
    return kind + 1;
}

static const char *slot_kind(int slot)
{
    return hu_kind_name(slot < 2 ? HU_KIND_RACE : (hu_kind)(slot - 1));
}

static const char *slot_verdict(int slot)
{
    return slot < 2 ? hu_verdict_name((hu_verdict)slot) : "";
}

/* A whole number 1..65535 spanning s exactly; -1 otherwise. */
static long parse_port(const char *s)
{
    if (!*s || strlen(s) > 5)
        return -1;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v >= 1 && v <= 65535 ? v : -1;
}

bool hu_metrics_parse_addr(const char *s, hu_metrics_addr *out, char *err, size_t n)
{
    memset(out, 0, sizeof *out);
    char host[64] = "";
    const char *port = s;
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host) {
            snprintf(err, n, "--metrics '%s': give [IPV6]:PORT, e.g. [::1]:9464", s);
            return false;
        }
        memcpy(host, s + 1, (size_t)(close - s - 1));
        port = close + 2;
        out->family = AF_INET6;
    } else if (colon) {
        if (colon != strchr(s, ':')) {
            snprintf(err, n, "--metrics '%s': put an IPv6 address in brackets, e.g. "
                             "[::1]:9464", s);
            return false;
        }
        if ((size_t)(colon - s) >= sizeof host) {
            snprintf(err, n, "--metrics '%s': the address is too long", s);
            return false;
        }
        memcpy(host, s, (size_t)(colon - s));
        port = colon + 1;
        out->family = AF_INET;
    } else {
        out->family = AF_INET;
    }
    long p = parse_port(port);
    if (p < 0) {
        snprintf(err, n, "--metrics '%s': the port must be a whole number from 1 to 65535 "
                         "(ADDR:PORT, [IPV6]:PORT or PORT)", s);
        return false;
    }
    out->port = (uint16_t)p;
    if (!host[0] && out->family == AF_INET6) {
        snprintf(err, n, "--metrics '%s': no address between the brackets", s);
        return false;
    }
    const char *h = host[0] ? host : "127.0.0.1";   /* loopback unless told */
    if (inet_pton(out->family, h, out->addr) != 1) {
        snprintf(err, n, "--metrics '%s': '%s' is not a numeric %s address", s, h,
                 out->family == AF_INET ? "IPv4" : "IPv6");
        return false;
    }
    return true;
}

hu_metrics *hu_metrics_new(const char *version)
{
    hu_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->version = strdup(version);
    if (!m->version || pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m->version);
        free(m);
        return NULL;
    }
    atomic_init(&m->spool, 0);
    return m;
}

void hu_metrics_free(hu_metrics *m)
{
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);   /* joins its thread, closes the socket */
    for (size_t i = 0; i < m->ntop; i++)
        free(m->top[i].server);
    hu_sb_free(&m->work);
    hu_sb_free(&m->published);
    pthread_mutex_destroy(&m->lock);
    free(m->version);
    free(m);
}

void hu_metrics_incident(hu_metrics *m, int kind, int verdict, const char *server)
{
    if (kind < 0 || kind >= HU_KIND_COUNT)
        return;
    int slot = slot_of(kind, verdict);
    for (size_t i = 0; i < m->ntop; i++) {
        if (strcmp(m->top[i].server, server) == 0) {
            m->top[i].n[slot]++;
            m->top[i].seen[slot] = true;
            return;
        }
    }
    /* A label of its own while there are any left (kept for good: a
     * counter that moved to "other" and back would read as a restart). */
    char *copy = m->ntop < HU_METRICS_TOP_SERVERS && strcmp(server, "other") != 0
                     ? strdup(server) : NULL;
    if (!copy) {
        m->other[slot]++;
        return;
    }
    labelled *l = &m->top[m->ntop++];
    l->server = copy;
    l->n[slot] = 1;
    l->seen[slot] = true;
}

void hu_metrics_set_spool(hu_metrics *m, uint64_t incidents)
{
    atomic_store(&m->spool, incidents);
}

/* A family's HELP and TYPE lines. */
static void family(hu_sb *sb, const char *name, const char *type, const char *help)
{
    hu_sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label(hu_sb *sb, const char *name, const char *value, bool first)
{
    hu_sb_printf(sb, "%s%s=\"", first ? "" : ",", name);
    hu_sb_prom_label(sb, (const uint8_t *)value, strlen(value));
    hu_sb_putc(sb, '"');
}

static void incident_series(hu_sb *sb, int slot, const char *server, uint64_t v)
{
    hu_sb_puts(sb, "hangup_incidents_total{");
    label(sb, "kind", slot_kind(slot), true);
    label(sb, "verdict", slot_verdict(slot), false);
    label(sb, "server", server, false);
    hu_sb_printf(sb, "} %" PRIu64 "\n", v);
}

static void counter(hu_sb *sb, const char *name, const char *help, uint64_t v)
{
    family(sb, name, "counter", help);
    hu_sb_printf(sb, "%s %" PRIu64 "\n", name, v);
}

static void gauge(hu_sb *sb, const char *name, const char *help, uint64_t v)
{
    family(sb, name, "gauge", help);
    hu_sb_printf(sb, "%s %" PRIu64 "\n", name, v);
}

/* The server gauges: one series per server of sv[0..n). */
static void server_gauges(hu_sb *sb, const hu_metrics_server *sv, size_t n)
{
    family(sb, "hangup_server_idle_timeout_seconds", "gauge",
           "The keep-alive timeout inferred for the server: the median delay from its last "
           "byte to its FIN on idle connections (only servers where it is known).");
    for (size_t i = 0; i < n; i++) {
        int64_t us = sv[i].idle_timeout_us;
        if (us < 0)
            continue;
        hu_sb_puts(sb, "hangup_server_idle_timeout_seconds{");
        label(sb, "server", sv[i].server, true);
        hu_sb_printf(sb, "} %" PRId64 ".%06" PRId64 "\n", us / 1000000, us % 1000000);
    }
    family(sb, "hangup_server_race_risk", "gauge",
           "1 when the server's clients reuse connections after idling within an RTT of its "
           "idle timeout, so keep-alive races will recur; else 0.");
    for (size_t i = 0; i < n; i++) {
        hu_sb_puts(sb, "hangup_server_race_risk{");
        label(sb, "server", sv[i].server, true);
        hu_sb_printf(sb, "} %d\n", sv[i].race_risk ? 1 : 0);
    }
}

/* The whole exposition into sb, families in a fixed order. */
static void render(hu_metrics *m, hu_sb *sb, const hu_metrics_counts *c,
                   const hu_metrics_server *sv, size_t nsv)
{
    family(sb, "hangup_build_info", "gauge", "The running hangup's version; always 1.");
    hu_sb_puts(sb, "hangup_build_info{");
    label(sb, "version", m->version, true);
    hu_sb_puts(sb, "} 1\n");
    family(sb, "hangup_incidents_total", "counter",
           "Incidents found, by kind, verdict (keep-alive races only; empty for other kinds) "
           "and server (the first 20 servers with incidents each have a label of their own; "
           "the rest count as \"other\").");
    for (int s = 0; s < SLOTS; s++)
        incident_series(sb, s, "other", m->other[s]);
    for (size_t i = 0; i < m->ntop; i++)
        for (int s = 0; s < SLOTS; s++)
            if (m->top[i].seen[s])
                incident_series(sb, s, m->top[i].server, m->top[i].n[s]);
    counter(sb, "hangup_packets_total", "Packets captured.", c->packets);
    counter(sb, "hangup_captured_bytes_total",
            "Bytes on the wire of the packets captured (before the snapshot length).", c->bytes);
    counter(sb, "hangup_connections_total", "TCP connections seen.", c->connections);
    gauge(sb, "hangup_open_connections", "TCP connections tracked now.", c->open_connections);
    counter(sb, "hangup_evicted_connections_total",
            "Connections dropped from a full table (--max-connections) before they ended.",
            c->evicted);
    counter(sb, "hangup_kernel_dropped_packets_total",
            "Packets the kernel dropped for want of capture buffer (libpcap's ps_drop; raise "
            "-B).", c->kernel_drops);
    counter(sb, "hangup_interface_dropped_packets_total",
            "Packets the interface dropped (libpcap's ps_ifdrop).", c->interface_drops);
    server_gauges(sb, sv, nsv < HU_METRICS_TOP_SERVERS ? nsv : HU_METRICS_TOP_SERVERS);
    gauge(sb, "hangup_spool_incidents",
          "Incidents waiting in the local spool for the database.",
          (uint64_t)atomic_load(&m->spool));
}

bool hu_metrics_publish(hu_metrics *m, const hu_metrics_counts *c, const hu_metrics_server *sv,
                        size_t nsv)
{
    hu_sb_reset(&m->work);
    m->work.oom = false;
    render(m, &m->work, c, sv, nsv);
    if (m->work.oom)
        return false;
    pthread_mutex_lock(&m->lock);
    hu_sb t = m->published;
    m->published = m->work;
    m->work = t;
    m->has_text = true;
    pthread_mutex_unlock(&m->lock);
    return true;
}

bool hu_metrics_text(hu_metrics *m, hu_sb *out)
{
    pthread_mutex_lock(&m->lock);
    bool has = m->has_text;
    if (has)
        hu_sb_put(out, m->published.buf, m->published.len);
    pthread_mutex_unlock(&m->lock);
    return has;
}

/* A short plain-text answer with status `code`. */
static enum MHD_Result answer(struct MHD_Connection *conn, unsigned code, const char *text,
                              const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                             MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result rc = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return rc;
}

/* libmicrohttpd's request handler, on its thread: /metrics by GET or HEAD
 * (libmicrohttpd leaves out a HEAD answer's body itself). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **req)
{
    (void)version;
    (void)upload;
    (void)req;
    hu_metrics *m = cls;
    *upload_size = 0;   /* a body is not read */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
    if (strcmp(url, "/metrics") != 0)
        return answer(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
                      NULL);
    hu_sb copy = { 0 };
    if (!hu_metrics_text(m, &copy)) {
        hu_sb_free(&copy);
        return answer(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics yet: try again in a "
                                                          "second\n", NULL);
    }
    if (copy.oom) {
        hu_sb_free(&copy);
        return answer(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
    }
    /* The response takes the buffer and frees it. */
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback(copy.len, copy.buf, free);
    if (!r) {
        hu_sb_free(&copy);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* A socket listening on addr, or -1 with the reason in err. */
static int listen_on(const hu_metrics_addr *addr, char *err, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    char shown[64];
    hu_endpoint_str(shown, sizeof shown, addr->family == AF_INET6 ? 6 : 4, addr->addr,
                    addr->port);
    if (addr->family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        *s6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons(addr->port) };
        memcpy(&s6->sin6_addr, addr->addr, 16);
        len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        *s4 = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(addr->port) };
        memcpy(&s4->sin_addr, addr->addr, 4);
        len = sizeof *s4;
    }
    int fd = socket(addr->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, n, "--metrics %s: cannot make a socket: %s", shown,
                 strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);   /* a restart's TIME_WAIT */
    if (addr->family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 16) != 0) {
        int e = errno;
        snprintf(err, n, "--metrics %s: cannot listen: %s%s", shown,
                 strerror(e),
                 e == EADDRINUSE      ? " (another program has that port: choose another)"
                 : e == EADDRNOTAVAIL ? " (no interface of this host has that address)"
                 : e == EACCES        ? " (ports below 1024 need root)"
                                      : "");
        close(fd);
        return -1;
    }
    return fd;
}

bool hu_metrics_listen(hu_metrics *m, const hu_metrics_addr *addr, char *err, size_t n)
{
    int fd = listen_on(addr, err, n);
    if (fd < 0)
        return false;
    /* Its thread takes no signal: SIGINT and SIGTERM go to the capture's
     * poll loop, whose handler stops it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     (addr->family == AF_INET6 ? MHD_USE_IPv6 : 0);
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)8,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
                                 MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!m->daemon) {
        /* The socket is left to the process's end (which this failure
         * brings): whether libmicrohttpd closed it already is not said. */
        snprintf(err, n, "--metrics: libmicrohttpd could not start its server");
        return false;
    }
    return true;
}
