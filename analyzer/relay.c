/*
 * relay.c -- proxies recognised from the capture's structure (see relay.h
 * for the contract).
 *
 * Each request head is keyed by the address of the endpoint that received
 * it and a hash of its method and target.  The same key looked up with a
 * later request's *client* address finds the request this client, acting
 * as a server a moment earlier, had received: it is forwarding it.  The
 * table is direct-mapped on that key, so the work per request head is one
 * hash and one slot whatever the traffic.
 */
#include "hangup/relay.h"
#include "hangup/strbuf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct recent {
    bool used;
    uint8_t ipver;
    uint8_t addr[16];         /* the endpoint that received the request */
    uint16_t port;
    uint64_t key;             /* method and target */
    uint64_t conn;            /* its connection's number */
    int64_t ts;
} recent;

typedef struct pair {
    hu_relay_ends e;
    uint32_t forwarded;       /* requests seen forwarded along it */
} pair;

struct hu_relay {
    recent slot[HU_RELAY_RECENT];
    pair pairs[HU_RELAY_PAIRS];
    unsigned npairs;
};

hu_relay *hu_relay_new(void) { return calloc(1, sizeof(hu_relay)); }
void hu_relay_free(hu_relay *r) { free(r); }

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static size_t slot_of(uint8_t ipver, const uint8_t *addr, uint64_t key)
{
    uint64_t h = fnv(key ^ ipver, addr, ipver == 4 ? 4 : 16);
    return (size_t)((h ^ (h >> 31)) % HU_RELAY_RECENT);
}

/* The pair (listening endpoint, upstream endpoint), added when new;
 * 0 when the table is full. */
static unsigned pair_get(hu_relay *r, uint8_t ipver, const uint8_t *addr, uint16_t port,
                         const uint8_t *up_addr, uint16_t up_port)
{
    for (unsigned i = 0; i < r->npairs; i++) {
        const hu_relay_ends *e = &r->pairs[i].e;
        if (e->ipver == ipver && e->port == port && e->up_port == up_port &&
            hu_addr_eq(ipver, e->addr, addr) && hu_addr_eq(ipver, e->up_addr, up_addr))
            return i + 1;
    }
    if (r->npairs == HU_RELAY_PAIRS)
        return 0;
    pair *p = &r->pairs[r->npairs++];
    memset(p, 0, sizeof *p);
    p->e.ipver = ipver;
    memcpy(p->e.addr, addr, ipver == 4 ? 4 : 16);
    p->e.port = port;
    memcpy(p->e.up_addr, up_addr, ipver == 4 ? 4 : 16);
    p->e.up_port = up_port;
    return r->npairs;
}

unsigned hu_relay_request(hu_relay *r, const hu_flow *f, const char *method,
                          const uint8_t *target, size_t tlen, int64_t ts)
{
    uint8_t cs = f->client, ss = (uint8_t)!f->client;
    uint64_t key = fnv(fnv(1469598103934665603ull, method, strlen(method) + 1), target, tlen);
    /* Forwarded: the client's address received this request as a server
     * (on another endpoint, another connection) no more than 1 s ago. */
    unsigned found = 0;
    const recent *e = &r->slot[slot_of(f->ipver, f->addr[cs], key)];
    if (e->used && e->ipver == f->ipver && e->key == key && e->conn != f->id &&
        hu_addr_eq(f->ipver, e->addr, f->addr[cs]) &&
        !(e->port == f->port[ss] && hu_addr_eq(f->ipver, e->addr, f->addr[ss])) && ts >= e->ts &&
        ts - e->ts <= HU_RELAY_WINDOW_US) {
        found = pair_get(r, f->ipver, e->addr, e->port, f->addr[ss], f->port[ss]);
        if (found)
            r->pairs[found - 1].forwarded++;
    }
    recent *n = &r->slot[slot_of(f->ipver, f->addr[ss], key)];
    n->used = true;
    n->ipver = f->ipver;
    memset(n->addr, 0, 16);
    memcpy(n->addr, f->addr[ss], f->ipver == 4 ? 4 : 16);
    n->port = f->port[ss];
    n->key = key;
    n->conn = f->id;
    n->ts = ts;
    return found;
}

bool hu_relay_pair(const hu_relay *r, unsigned p, hu_relay_ends *out)
{
    if (p == 0 || p > r->npairs || r->pairs[p - 1].forwarded < HU_RELAY_CONFIRM)
        return false;
    *out = r->pairs[p - 1].e;
    return true;
}

unsigned hu_relay_listener(const hu_relay *r, uint8_t ipver, const uint8_t *addr, uint16_t port)
{
    for (unsigned i = 0; i < r->npairs; i++) {
        const pair *p = &r->pairs[i];
        if (p->forwarded >= HU_RELAY_CONFIRM && p->e.ipver == ipver && p->e.port == port &&
            hu_addr_eq(ipver, p->e.addr, addr))
            return i + 1;
    }
    return 0;
}

void hu_relay_evidence(char *buf, size_t n, const hu_relay_ends *e, const char *answering)
{
    char from[64], to[64];
    hu_endpoint_str(from, sizeof from, e->ipver, e->addr, e->port);
    hu_endpoint_str(to, sizeof to, e->ipver, e->up_addr, e->up_port);
    snprintf(buf, n, "accepts connections on %s%s%s%s and forwards the same requests to %s", from,
             answering ? " (answering as " : "", answering ? answering : "", answering ? ")" : "",
             to);
}
