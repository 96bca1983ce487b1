/*
 * servers.h -- per-server summary: traffic counts and the inferred
 * keep-alive timeout, with the verdict on whether races will recur.
 */
#ifndef HANGUP_SERVERS_H
#define HANGUP_SERVERS_H

#include <stdbool.h>
#include <stdint.h>
#include "hangup/flow.h"
#include "hangup/software.h"

typedef struct hu_servers hu_servers;

/* One server endpoint's summary, computed by hu_servers_list. */
typedef struct hu_server_summary {
    uint8_t ipver;
    uint8_t addr[16];
    uint16_t port;
    uint64_t connections, requests, idle_closes;
    uint64_t incidents;             /* of every kind */
    uint64_t crossed, stale;        /* keep-alive races by verdict */
    uint64_t users_felt;            /* incidents a proxy's user got as a 5xx or a
                                       dropped connection (legs.h) */
    uint64_t proxy_absorbed;        /* ... that the proxy retried or answered */
    int64_t idle_timeout_us;        /* median idle-close delay, -1 unknown */
    int64_t idle_timeout_spread_us; /* max - min of those delays, -1 unknown */
    int64_t max_reuse_idle_us;      /* longest client idle before a reuse, -1 none */
    int64_t rtt_us;                 /* median handshake RTT, -1 unknown */
    bool race_risk;
    char advice[640];
    /* What the server's responses say it is (software.h; "" unknown), and
     * the documented default its idle timeout matches (a static string
     * from hu_sw_idle_default), or NULL. */
    char software[HU_SW_NAME_MAX];
    const char *idle_timeout_default;
} hu_server_summary;

hu_servers *hu_servers_new(void);   /* NULL on OOM */
void hu_servers_free(hu_servers *sv);

/* Accounting, each keyed by the flow's server endpoint. */
void hu_servers_connection(hu_servers *sv, const hu_flow *f);          /* on release */
void hu_servers_request(hu_servers *sv, const hu_flow *f, int64_t reuse_idle_us);
void hu_servers_idle_close(hu_servers *sv, const hu_flow *f, int64_t delay_us);
/* What flow f's server said it is, from its responses (id is copied when
 * it is stronger evidence than the server's so far); and that, or NULL,
 * for the server endpoint (ipver, addr, port). */
void hu_servers_software(hu_servers *sv, const hu_flow *f, const hu_sw_ident *id);
const hu_sw_ident *hu_servers_software_of(const hu_servers *sv, uint8_t ipver, const uint8_t *addr,
                                          uint16_t port);
/* An incident of any kind at this server; races count as crossed/stale. */
void hu_servers_incident(hu_servers *sv, uint8_t ipver, const uint8_t *addr, uint16_t port,
                         int kind, int verdict);

/* An incident at this server whose downstream leg was linked (legs.h):
 * `felt` when the user got a 5xx or a dropped connection, else absorbed
 * by the proxy (retried or answered). */
void hu_servers_downstream(hu_servers *sv, uint8_t ipver, const uint8_t *addr, uint16_t port,
                           bool felt);

/* Every server, most incidents first then most connections; *n gets the
 * count.  The array is malloc'd (NULL when empty or on OOM). */
hu_server_summary *hu_servers_list(const hu_servers *sv, size_t *n);
/* The first `max` of hu_servers_list's order, without summarising the
 * rest (a live capture's metrics, once a second); malloc'd, *n the count
 * (NULL when empty or on OOM). */
hu_server_summary *hu_servers_top(const hu_servers *sv, size_t max, size_t *n);

/* Keep samples of the clients' idle times before a reuse too (bounded
 * as the idle closes' are), for hu_servers_samples; off by default. */
void hu_servers_keep_reuse(hu_servers *sv);

/* The samples kept for a server endpoint: the delays of its idle closes
 * and (with hu_servers_keep_reuse) its clients' idle times before a
 * reuse, in microseconds, at most 4096 of each (a uniform sample beyond).
 * Borrowed: valid until sv next changes; NULL and 0 when none. */
void hu_servers_samples(const hu_servers *sv, uint8_t ipver, const uint8_t *addr, uint16_t port,
                        const int64_t **idle, size_t *nidle, const int64_t **reuse,
                        size_t *nreuse);

/* Add everything src counted into dst (a run's total over its files). */
void hu_servers_merge(hu_servers *dst, const hu_servers *src);

/* Servers beyond the table bound, whose traffic was not itemised. */
uint64_t hu_servers_overflow(const hu_servers *sv);

#endif
