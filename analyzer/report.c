/*
 * report.c -- incidents and the summary, for people and for machines.
 *
 * Human output explains each incident in the order a user asks: what
 * happened, who is at fault (the verdict), what was lost and whether it is
 * safe to retry, what to change; then the connection's timeline as
 * `tcpdump -n` lines.  Annotations sit on their own indented lines, so any
 * line that starts with a digit is a packet line, byte-identical to
 * tcpdump's.  JSON output is one object per incident per line and nothing
 * else on stdout.  Every byte that came off the wire goes through the
 * escaping appenders of strbuf.c.
 *
 * The per-server tally (connections, incidents by verdict) lives here,
 * fed by the flow table's release hook, in a small open-addressing table
 * bounded at HU_MAX_SERVERS entries.
 */
#include "hangup/report.h"
#include "hangup/tcpprint.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HU_MAX_SERVERS 65536

typedef struct hu_server {
    bool used;
    uint8_t ipver;
    uint8_t addr[16];
    uint16_t port;
    uint64_t connections, incidents, crossed, stale;
} hu_server;

struct hu_report {
    hu_report_cfg cfg;
    const char *file;
    hu_sb sb;
    hu_server *servers;
    size_t nservers, cap;
    uint64_t other_connections;   /* beyond HU_MAX_SERVERS */
    uint64_t files, packets, connections, incidents, crossed, stale;
};

hu_report *hu_report_new(const hu_report_cfg *cfg)
{
    hu_report *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = *cfg;
    return r;
}

void hu_report_free(hu_report *r)
{
    if (!r)
        return;
    hu_sb_free(&r->sb);
    free(r->servers);
    free(r);
}

uint64_t hu_report_incidents(const hu_report *r) { return r->incidents; }

void hu_endpoint_str(char *buf, size_t n, uint8_t ipver, const uint8_t *addr, uint16_t port)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(ipver == 4 ? AF_INET : AF_INET6, addr, a, sizeof a);
    snprintf(buf, n, ipver == 4 ? "%s:%u" : "[%s]:%u", a, port);
}

void hu_iso_time(hu_sb *sb, int64_t ts_us)
{
    int64_t sec = ts_us >= 0 ? ts_us / 1000000 : -((-ts_us + 999999) / 1000000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        hu_sb_puts(sb, "1970-01-01T00:00:00.000000Z");
        return;
    }
    hu_sb_printf(sb, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts_us - sec * 1000000);
}

/* Milliseconds with microsecond precision: "-0.412", "5001.250". */
static void put_ms(hu_sb *sb, int64_t us)
{
    uint64_t a = us < 0 ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    hu_sb_printf(sb, "%s%" PRIu64 ".%03" PRIu64, us < 0 ? "-" : "", a / 1000, a % 1000);
}

/* A duration for people: "412 us", "3.250 ms", "5.001 s". */
static void put_human_dur(hu_sb *sb, int64_t us)
{
    uint64_t a = us < 0 ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    const char *sign = us < 0 ? "-" : "";
    if (a < 1000)
        hu_sb_printf(sb, "%s%" PRIu64 " us", sign, a);
    else if (a < 1000000)
        hu_sb_printf(sb, "%s%" PRIu64 ".%03" PRIu64 " ms", sign, a / 1000, a % 1000);
    else
        hu_sb_printf(sb, "%s%" PRIu64 ".%03" PRIu64 " s", sign, a / 1000000, a / 1000 % 1000);
}

static size_t server_hash(uint8_t ipver, const uint8_t *addr, uint16_t port)
{
    uint64_t h = 1469598103934665603ull ^ ipver;
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 1099511628211ull;
    h = (h ^ port) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* Find or add the server entry; NULL when the table is full or on OOM. */
static hu_server *server_get(hu_report *r, uint8_t ipver, const uint8_t *addr16, uint16_t port)
{
    uint8_t addr[16] = {0};
    memcpy(addr, addr16, ipver == 4 ? 4 : 16);
    if (r->nservers * 2 >= r->cap) {
        if (r->nservers >= HU_MAX_SERVERS)
            goto lookup_only;
        size_t ncap = r->cap ? r->cap * 2 : 64;
        hu_server *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            goto lookup_only;
        for (size_t i = 0; i < r->cap; i++) {
            if (!r->servers[i].used)
                continue;
            size_t j = server_hash(r->servers[i].ipver, r->servers[i].addr, r->servers[i].port);
            while (ns[j & (ncap - 1)].used)
                j++;
            ns[j & (ncap - 1)] = r->servers[i];
        }
        free(r->servers);
        r->servers = ns;
        r->cap = ncap;
    }
lookup_only:
    if (r->cap == 0)
        return NULL;
    for (size_t j = server_hash(ipver, addr, port);; j++) {
        hu_server *s = &r->servers[j & (r->cap - 1)];
        if (!s->used) {
            if (r->nservers * 2 >= r->cap)
                return NULL;   /* full: counted under "other servers" */
            s->used = true;
            s->ipver = ipver;
            memcpy(s->addr, addr, 16);
            s->port = port;
            r->nservers++;
            return s;
        }
        if (s->ipver == ipver && s->port == port && memcmp(s->addr, addr, 16) == 0)
            return s;
    }
}

void hu_report_connection(hu_report *r, const hu_flow *f)
{
    r->connections++;
    uint8_t srv = (uint8_t)!f->client;
    hu_server *s = server_get(r, f->ipver, f->addr[srv], f->port[srv]);
    if (s)
        s->connections++;
    else
        r->other_connections++;
}

void hu_report_begin_file(hu_report *r, const char *path)
{
    r->file = path;
    r->files++;
}

void hu_report_end_file(hu_report *r, uint64_t packets)
{
    r->packets += packets;
}

static void json_incident(hu_report *r, const hu_incident *inc)
{
    hu_sb *sb = &r->sb;
    const hu_flow *f = inc->flow;
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, f->ipver, f->addr[inc->client], f->port[inc->client]);
    hu_endpoint_str(srv, sizeof srv, f->ipver, f->addr[inc->server], f->port[inc->server]);
    hu_sb_printf(sb, "{\"kind\":\"%s\",\"verdict\":\"%s\",\"client\":\"%s\",\"server\":\"%s\","
                     "\"ip_version\":%u,\"file\":",
                 inc->kind, hu_verdict_name(inc->verdict), cli, srv, f->ipver);
    hu_sb_json_str(sb, (const uint8_t *)r->file, strlen(r->file));
    hu_sb_printf(sb, ",\"fin_packet\":%" PRIu64 ",\"request_packet\":%" PRIu64
                     ",\"rst_packet\":%" PRIu64 ",\"fin_time\":\"",
                 inc->fin->num, inc->req->num, inc->rst->num);
    hu_iso_time(sb, inc->fin->ts_us);
    hu_sb_puts(sb, "\",\"request_time\":\"");
    hu_iso_time(sb, inc->req->ts_us);
    hu_sb_puts(sb, "\",\"rst_time\":\"");
    hu_iso_time(sb, inc->rst->ts_us);
    hu_sb_puts(sb, "\",\"gap_ms\":");
    put_ms(sb, inc->gap_us);
    hu_sb_puts(sb, ",\"rtt_ms\":");
    if (inc->rtt_us >= 0)
        put_ms(sb, inc->rtt_us);
    else
        hu_sb_puts(sb, "null");
    hu_sb_printf(sb, ",\"rst_ack\":%s,\"method\":", inc->rst_ack ? "true" : "false");
    const hu_request *rq = &inc->request;
    if (rq->http) {
        hu_sb_json_str(sb, (const uint8_t *)rq->method, strlen(rq->method));
        hu_sb_puts(sb, ",\"target\":");
        hu_sb_json_str(sb, rq->target, rq->target_len);
    } else {
        hu_sb_puts(sb, "null,\"target\":null");
    }
    hu_sb_printf(sb, ",\"tls\":%s,\"handshake_seen\":%s,\"safe_to_retry\":%s}\n",
                 rq->tls ? "true" : "false", inc->handshake_seen ? "true" : "false",
                 inc->safe_to_retry ? "true" : "false");
}

static void note(hu_sb *sb, const char *text)
{
    hu_sb_puts(sb, "    ^ ");
    hu_sb_puts(sb, text);
}

/* The lost request for people: `GET /x` with wire bytes escaped. */
static void put_request(hu_sb *sb, const hu_request *rq)
{
    if (rq->http) {
        hu_sb_safe(sb, (const uint8_t *)rq->method, strlen(rq->method));
        hu_sb_putc(sb, ' ');
        hu_sb_safe(sb, rq->target, rq->target_len);
        if (!rq->complete)
            hu_sb_puts(sb, " (request line cut short in the capture)");
    } else if (rq->tls) {
        hu_sb_puts(sb, "a TLS record (encrypted HTTPS request)");
    } else {
        hu_sb_puts(sb, "data that is not an HTTP request line");
    }
}

static void human_timeline(hu_report *r, const hu_incident *inc)
{
    hu_sb *sb = &r->sb;
    const hu_flow *f = inc->flow;
    hu_sb_puts(sb, "\n  Timeline (as tcpdump -n prints it):\n");
    uint32_t start = inc->timeline_start;
    const hu_pktsum *first = f->ring_len ? hu_flow_ring_at(f, start) : NULL;
    /* The FIN or request may have left the ring on a busy connection:
     * print them first so the timeline always shows the three packets. */
    const hu_pktsum *pinned[2] = { NULL, NULL };
    int np = 0;
    const hu_pktsum *a = inc->fin->num < inc->req->num ? inc->fin : inc->req;
    const hu_pktsum *b = a == inc->fin ? inc->req : inc->fin;
    if (!first || a->num < first->num)
        pinned[np++] = a;
    if (!first || b->num < first->num)
        pinned[np++] = b;
    uint64_t skipped = f->ring_dropped + start;
    for (int i = 0; i < np; i++) {
        hu_tcpprint_line(sb, f, pinned[i]);
        hu_sb_putc(sb, '\n');
        note(sb, pinned[i] == inc->fin ? "server FIN\n" : "late request\n");
    }
    if (skipped > 0 && np > 0)
        hu_sb_printf(sb, "    ... (%" PRIu64 " earlier packets of this connection not shown)\n",
                     skipped);
    for (uint32_t i = start; i < f->ring_len; i++) {
        const hu_pktsum *e = hu_flow_ring_at(f, i);
        hu_tcpprint_line(sb, f, e);
        hu_sb_putc(sb, '\n');
        if (e->num == inc->fin->num) {
            note(sb, "server FIN: the server closes the connection (packet ");
            hu_sb_printf(sb, "%" PRIu64 ")\n", e->num);
        } else if (e->num == inc->req->num) {
            note(sb, "late request: ");
            put_request(sb, &inc->request);
            hu_sb_puts(sb, " (");
            put_human_dur(sb, inc->gap_us < 0 ? -inc->gap_us : inc->gap_us);
            hu_sb_printf(sb, " %s the FIN, packet %" PRIu64 ")\n",
                         inc->gap_us < 0 ? "before" : "after", e->num);
        } else if (e->num == inc->rst->num) {
            note(sb, "server RST: the server's kernel rejects the request (packet ");
            hu_sb_printf(sb, "%" PRIu64 ")\n", e->num);
        }
    }
}

/* Append text to dst with every line longer than `width` folded at
 * spaces; continuation lines are indented two more than the text's
 * indentation.  Lines are never cut inside a word. */
static void reflow(hu_sb *dst, const char *text, size_t width)
{
    while (*text) {
        const char *eol = strchr(text, '\n');
        size_t len = eol ? (size_t)(eol - text) : strlen(text);
        size_t indent = 0;
        while (indent < len && text[indent] == ' ')
            indent++;
        size_t col = 0, pos = 0;
        bool first = true;
        while (pos < len) {
            size_t start = pos;
            while (pos < len && text[pos] == ' ')
                pos++;
            size_t wstart = pos;
            while (pos < len && text[pos] != ' ')
                pos++;
            size_t wlen = pos - wstart;
            if (wlen == 0)
                break;
            if (first) {
                hu_sb_put(dst, text, wstart);   /* the line's own indentation */
                col = wstart;
                first = false;
            } else if (col + (wstart - start) + wlen > width) {
                hu_sb_putc(dst, '\n');
                for (size_t i = 0; i < indent + 2; i++)
                    hu_sb_putc(dst, ' ');
                col = indent + 2;
            } else {
                hu_sb_put(dst, text + start, wstart - start);
                col += wstart - start;
            }
            hu_sb_put(dst, text + wstart, wlen);
            col += wlen;
        }
        hu_sb_putc(dst, '\n');
        text += len + (eol ? 1 : 0);
    }
}

static void human_incident(hu_report *r, const hu_incident *inc)
{
    hu_sb para = {0};
    hu_sb *sb = &para;
    const hu_flow *f = inc->flow;
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, f->ipver, f->addr[inc->client], f->port[inc->client]);
    hu_endpoint_str(srv, sizeof srv, f->ipver, f->addr[inc->server], f->port[inc->server]);
    const hu_request *rq = &inc->request;
    bool stale = inc->verdict == HU_VERDICT_STALE;

    hu_sb_printf(sb, "Keep-alive race #%" PRIu64 " (%s) in ", r->incidents,
                 hu_verdict_name(inc->verdict));
    hu_sb_safe(sb, (const uint8_t *)r->file, strlen(r->file));
    hu_sb_printf(sb, "\n  client %s -> server %s, IPv%u, ", cli, srv, f->ipver);
    if (inc->handshake_seen && inc->rtt_us >= 0) {
        hu_sb_puts(sb, "handshake captured, RTT ");
        put_human_dur(sb, inc->rtt_us);
    } else {
        hu_sb_puts(sb, "handshake not in the capture (RTT unknown)");
    }
    hu_sb_puts(sb, "\n\n  What happened: the server closed the connection (FIN, packet ");
    hu_sb_printf(sb, "%" PRIu64 ") while the client reused it for ", inc->fin->num);
    put_request(sb, rq);
    hu_sb_printf(sb, " (packet %" PRIu64 ", ", inc->req->num);
    put_human_dur(sb, inc->gap_us < 0 ? -inc->gap_us : inc->gap_us);
    hu_sb_printf(sb, " %s the FIN in this capture); the server's kernel answered with %s "
                     "(packet %" PRIu64 ").\n",
                 inc->gap_us < 0 ? "before" : "after",
                 inc->rst_ack ? "RST+ACK" : "a bare RST", inc->rst->num);
    hu_sb_puts(sb, "  The client saw: Node.js 'socket hang up' / ECONNRESET, Python "
                   "ConnectionResetError or RemoteDisconnected, Go 'connection reset by peer', "
                   "curl (56) 'Recv failure: Connection reset by peer'.\n");
    if (stale)
        hu_sb_puts(sb, "  Verdict: stale. The request acknowledges the FIN: the client's kernel had "
                       "already received the close when the HTTP client wrote the request on that "
                       "socket. The client reused a connection it had been told was closing.\n");
    else
        hu_sb_puts(sb, "  Verdict: crossed. The request does not acknowledge the FIN: it was "
                       "sent before the client could know about the close. A true in-flight race; "
                       "nobody misbehaved.\n");
    hu_sb_puts(sb, "  Lost request: ");
    put_request(sb, rq);
    if (inc->server_acked) {
        hu_sb_puts(sb, "\n  Safe to retry: ");
        if (rq->http && hu_method_idempotent(rq->method))
            hu_sb_puts(sb, "yes (the server's kernel acknowledged the request before the RST, "
                           "but the method is idempotent).\n");
        else
            hu_sb_puts(sb, "not proven: the server's kernel acknowledged the request before "
                           "resetting, so its application may have read it.\n");
    } else {
        hu_sb_puts(sb, "\n  Safe to retry: yes. The RST shows the server's kernel discarded the "
                       "request; the server application never read it");
        if (rq->http && !hu_method_idempotent(rq->method))
            hu_sb_puts(sb, ", so even this non-idempotent method can be retried");
        hu_sb_puts(sb, ".\n");
    }
    if (stale)
        hu_sb_puts(sb, "  Fix: use an HTTP client that notices the peer's FIN before reusing an "
                       "idle socket, or keep the client's idle "
                       "timeout well below the server's keep-alive timeout; retry requests that "
                       "fail on a reused connection.\n");
    else
        hu_sb_puts(sb, "  Fix: make the client drop idle pooled connections sooner than the "
                       "server does, by more than one RTT (Node.js http.Agent 'timeout', undici "
                       "'keepAliveTimeout', Go Transport.IdleConnTimeout), or raise the server's "
                       "keep-alive timeout above the clients'; and retry requests that fail on a "
                       "reused connection.\n");
    reflow(&r->sb, hu_sb_cstr(&para), 78);
    hu_sb_free(&para);
    if (r->cfg.timeline)
        human_timeline(r, inc);
    hu_sb_putc(&r->sb, '\n');
}

void hu_report_incident(void *arg, const hu_incident *inc)
{
    hu_report *r = arg;
    r->incidents++;
    if (inc->verdict == HU_VERDICT_STALE)
        r->stale++;
    else
        r->crossed++;
    const hu_flow *f = inc->flow;
    hu_server *s = server_get(r, f->ipver, f->addr[inc->server], f->port[inc->server]);
    if (s) {
        s->incidents++;
        if (inc->verdict == HU_VERDICT_STALE)
            s->stale++;
        else
            s->crossed++;
    }
    hu_sb_reset(&r->sb);
    if (r->cfg.json)
        json_incident(r, inc);
    else
        human_incident(r, inc);
    hu_sb_write(&r->sb, r->cfg.out);
}

static int server_cmp(const void *a, const void *b)
{
    const hu_server *x = a, *y = b;
    if (x->incidents != y->incidents)
        return x->incidents > y->incidents ? -1 : 1;
    if (x->connections != y->connections)
        return x->connections > y->connections ? -1 : 1;
    if (x->ipver != y->ipver)
        return x->ipver < y->ipver ? -1 : 1;
    int c = memcmp(x->addr, y->addr, 16);
    if (c)
        return c;
    return x->port < y->port ? -1 : x->port > y->port;
}

void hu_report_summary(hu_report *r)
{
    if (r->cfg.json)
        return;
    hu_sb *sb = &r->sb;
    hu_sb_reset(sb);
    hu_sb_printf(sb, "Summary: %" PRIu64 " file%s, %" PRIu64 " packets, %" PRIu64
                     " TCP connections, %" PRIu64 " keep-alive race%s (%" PRIu64 " crossed, %" PRIu64
                     " stale)\n",
                 r->files, r->files == 1 ? "" : "s", r->packets, r->connections, r->incidents,
                 r->incidents == 1 ? "" : "s", r->crossed, r->stale);
    hu_server *list = NULL;
    size_t n = 0;
    if (r->nservers) {
        list = malloc(r->nservers * sizeof *list);
        if (list) {
            for (size_t i = 0; i < r->cap; i++)
                if (r->servers[i].used)
                    list[n++] = r->servers[i];
            qsort(list, n, sizeof *list, server_cmp);
        }
    }
    size_t shown = n < 20 ? n : 20;
    for (size_t i = 0; i < shown; i++) {
        char ep[64];
        hu_endpoint_str(ep, sizeof ep, list[i].ipver, list[i].addr, list[i].port);
        hu_sb_printf(sb, "  server %-28s %6" PRIu64 " connection%s, %" PRIu64 " race%s",
                     ep, list[i].connections, list[i].connections == 1 ? " " : "s",
                     list[i].incidents, list[i].incidents == 1 ? "" : "s");
        if (list[i].incidents)
            hu_sb_printf(sb, " (%" PRIu64 " crossed, %" PRIu64 " stale)", list[i].crossed,
                         list[i].stale);
        hu_sb_putc(sb, '\n');
    }
    if (n > shown)
        hu_sb_printf(sb, "  ... and %zu more servers\n", n - shown);
    if (r->other_connections)
        hu_sb_printf(sb, "  (%" PRIu64 " connections to servers beyond the first %d not itemised)\n",
                     r->other_connections, HU_MAX_SERVERS);
    free(list);
    hu_sb_write(sb, r->cfg.out);
}
