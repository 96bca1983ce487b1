/*
 * relay.h -- proxies recognised from the capture's structure, across the
 * connections of one capture (docs/DESIGN.md §2.10).
 *
 * An address that accepts connections on one endpoint and opens others
 * carrying the same requests is a proxy, whatever headers it sends.  Each
 * request head is remembered under the endpoint that received it; a
 * request that the address of such an endpoint then sends on, to another
 * endpoint, with the same method and target, no more than 1 s later, is
 * that request forwarded.  The Host header is not compared: nginx, for
 * one, rewrites it to the upstream's name.  A pair (listening endpoint,
 * upstream endpoint) counts as a proxy once two requests were forwarded
 * along it, so one coincidence does not make one.
 *
 * Memory is bounded: the recent requests live in a direct-mapped table
 * of HU_RELAY_RECENT slots (a newer request may push out an older one:
 * a forwarded request can then be missed, never invented), and at most
 * HU_RELAY_PAIRS pairs are kept.
 */
#ifndef HANGUP_RELAY_H
#define HANGUP_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hangup/flow.h"

#define HU_RELAY_RECENT 4096
#define HU_RELAY_PAIRS 256
#define HU_RELAY_WINDOW_US 1000000
#define HU_RELAY_CONFIRM 1        /* requests forwarded along a pair to make it a proxy */

typedef struct hu_relay hu_relay;

hu_relay *hu_relay_new(void);   /* NULL on OOM */
void hu_relay_free(hu_relay *r);

/* A request head on flow f (method, target[0..tlen), the time of its
 * first byte): remembered as one f's server received; when it is one
 * that f's client address received as a server and now forwards, the
 * pair's number (from 1) is returned, else 0. */
unsigned hu_relay_request(hu_relay *r, const hu_flow *f, const char *method,
                          const uint8_t *target, size_t tlen, int64_t ts);

/* Pair p's endpoints when it is a proxy (HU_RELAY_CONFIRM requests
 * forwarded along it); false otherwise (p 0 included). */
typedef struct hu_relay_ends {
    uint8_t ipver;
    uint8_t addr[16];         /* the proxy's address (both endpoints' IP version) */
    uint16_t port;            /* where it accepts connections */
    uint8_t up_addr[16];      /* where it forwards them */
    uint16_t up_port;
} hu_relay_ends;
bool hu_relay_pair(const hu_relay *r, unsigned p, hu_relay_ends *out);

/* The structural evidence for pair e, into buf (n bytes, printable
 * ASCII): "accepts connections on A:x and forwards the same requests to
 * B:y", with " (answering as EVIDENCE)" after A:x when `answering` (what
 * the listening endpoint's responses say it is) is not NULL. */
void hu_relay_evidence(char *buf, size_t n, const hu_relay_ends *e, const char *answering);

/* A proxy pair whose listening endpoint is (ipver, addr, port): its
 * number, or 0. */
unsigned hu_relay_listener(const hu_relay *r, uint8_t ipver, const uint8_t *addr, uint16_t port);

#endif
