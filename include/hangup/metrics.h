/*
 * metrics.h -- `live --metrics`: Prometheus metrics of a running capture.
 *
 * The analysis thread counts incidents into the metrics context as they
 * are final, and about once a second publishes what it knows (packet,
 * byte, connection and drop counters, each server's inferred idle timeout
 * and race risk) as a complete text exposition (Prometheus text format
 * 0.0.4).  An HTTP server on libmicrohttpd's own thread answers GET and
 * HEAD /metrics with the text last published, and 404 or 405 otherwise.
 * The two threads share only that text, swapped under a mutex, and the
 * spool depth, an atomic (docs/DESIGN.md §3.12 says why).
 *
 * Label cardinality is bounded: at most HU_METRICS_TOP_SERVERS servers get
 * a `server` label of their own, the first to have incidents (the most
 * incidents first when several wait at one publication) and, once given,
 * kept, so that no counter ever goes down; every other server's incidents
 * count under server="other".  The working table behind that is bounded
 * too (HU_METRICS_TRACKED servers; later ones count as other at once).
 *
 * Every function but hu_metrics_set_spool belongs to the analysis thread
 * (the one that made the context); hu_metrics_set_spool may be called
 * from any thread.
 */
#ifndef HANGUP_METRICS_H
#define HANGUP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/strbuf.h"

#define HU_METRICS_TOP_SERVERS 20   /* servers with a label of their own */
#define HU_METRICS_TRACKED 4096     /* servers whose incidents are tallied */

typedef struct hu_metrics hu_metrics;

/* Where --metrics listens: a numeric IPv4 or IPv6 address and a port. */
typedef struct hu_metrics_addr {
    int family;                     /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    uint16_t port;
} hu_metrics_addr;

/*
 * Parse a --metrics value: "ADDR:PORT" with a numeric IPv4 address,
 * "[ADDR6]:PORT", ":PORT" or "PORT" (the last two listen on 127.0.0.1).
 * PORT is 1..65535.  false with one line's reason in err (no newline)
 * otherwise.
 */
bool hu_metrics_parse_addr(const char *s, hu_metrics_addr *out, char *err, size_t n);

/* A new context for `version` (the hangup_build_info label; copied); NULL
 * when out of memory.  Nothing listens yet. */
hu_metrics *hu_metrics_new(const char *version);

/*
 * Listen on `addr` and serve /metrics from libmicrohttpd's thread.  The
 * socket is bound here, so a port in use or an address not on this host
 * fails now: false with one line's reason in err (no newline), nothing
 * left open.  Until the first hu_metrics_publish, /metrics answers 503.
 */
bool hu_metrics_listen(hu_metrics *m, const hu_metrics_addr *addr, char *err, size_t n);

/* Stop the server (waits for its thread) and free everything; NULL is
 * ignored. */
void hu_metrics_free(hu_metrics *m);

/*
 * One final incident: its kind (hu_kind), its verdict (hu_verdict) for a
 * keep-alive race, else ignored, and its server as the label should read
 * ("10.0.0.1:80", "[::1]:8080"; any bytes: they are escaped when
 * written).  Counted at once; seen by scrapers at the next publication.
 */
void hu_metrics_incident(hu_metrics *m, int kind, int verdict, const char *server);

/* The capture's counters as they stand (each only ever grows, but for
 * open_connections). */
typedef struct hu_metrics_counts {
    uint64_t packets, bytes;        /* captured frames and their bytes on the wire */
    uint64_t connections;           /* TCP connections seen */
    uint64_t open_connections;      /* tracked now */
    uint64_t evicted;               /* dropped from a full connection table */
    uint64_t kernel_drops;          /* libpcap's ps_drop */
    uint64_t interface_drops;       /* libpcap's ps_ifdrop */
} hu_metrics_counts;

/* A server's inferred facts (servers.h), for the gauges. */
typedef struct hu_metrics_server {
    const char *server;             /* label value, any bytes (escaped) */
    int64_t idle_timeout_us;        /* inferred keep-alive timeout; < 0 unknown */
    bool race_risk;
} hu_metrics_server;

/*
 * Publish: render the whole exposition from the incidents counted so far,
 * `c`, and the servers (the first HU_METRICS_TOP_SERVERS of `sv`, in the
 * order given: most interesting first), and hand it to the HTTP thread.
 * Servers waiting for a label of their own get one here.  false when out
 * of memory (the text published before stays).
 */
bool hu_metrics_publish(hu_metrics *m, const hu_metrics_counts *c, const hu_metrics_server *sv,
                        size_t nsv);

/* The number of incidents waiting in the spool (the gauge
 * hangup_spool_incidents; 0 until set).  Any thread. */
void hu_metrics_set_spool(hu_metrics *m, uint64_t incidents);

/* The text the last hu_metrics_publish rendered, appended to out (for
 * tests and for a scrape); false when nothing was published yet. */
bool hu_metrics_text(hu_metrics *m, hu_sb *out);

#endif
