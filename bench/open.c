/*
 * open.c -- how many TCP connections a capture holds open at once.
 *
 * Reads each FILE with libpcap (the TCP header found by tcphdr.h) and
 * follows every connection by its address and port pair, either
 * direction.  A connection opens at its first packet in the file (a
 * handshake or, for one already established when the capture started,
 * any packet) and closes at its first RST or once both sides have sent a
 * FIN; packets of a closed connection after that (the last ACK, a second
 * RST) open nothing, unless one is a SYN without ACK, which starts a new
 * connection on the same pair.  Connections still open at the end of the
 * file stay open.  The peak is the largest number open after any packet:
 * the state an analyser of the file must hold at least, so bench/run
 * divides peak RSS by it.
 *
 * Build: cc -O2 -o open open.c -lpcap   (tcphdr.h beside it)
 * Usage: open FILE...   prints "<peak> open at peak (TCP packet <n>),
 *        <connections> connections, <tcp> TCP packets, <open> open at the end"
 */
#include "tcphdr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One connection: its key (the lower endpoint first, so both directions
 * find it), which sides sent a FIN, whether it is closed. */
typedef struct {
    uint8_t key[36]; /* address A (16), address B (16), port A, port B */
    uint8_t used;
    uint8_t fins;    /* bit 0: A sent a FIN, bit 1: B did */
    uint8_t closed;
} conn;

typedef struct {
    conn *slot;
    size_t cap, used; /* cap a power of two; used <= cap / 2 */
} table;

static uint64_t hash_key(const uint8_t *k)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 36; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return h ^ h >> 29;
}

static conn *find(table *t, const uint8_t *k, bool *fresh);

static bool grow(table *t)
{
    table n = { calloc(t->cap * 2, sizeof(conn)), t->cap * 2, 0 };
    if (!n.slot)
        return false;
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i].used)
            continue;
        bool fresh;
        *find(&n, t->slot[i].key, &fresh) = t->slot[i];
    }
    free(t->slot);
    *t = n;
    return true;
}

/* The slot of key k, claimed (and *fresh set) when it was empty; NULL only
 * when the table cannot grow. */
static conn *find(table *t, const uint8_t *k, bool *fresh)
{
    if (t->used * 2 >= t->cap && !grow(t))
        return NULL;
    size_t i = (size_t)hash_key(k) & (t->cap - 1);
    while (t->slot[i].used) {
        if (memcmp(t->slot[i].key, k, sizeof t->slot[i].key) == 0) {
            *fresh = false;
            return &t->slot[i];
        }
        i = (i + 1) & (t->cap - 1);
    }
    memset(&t->slot[i], 0, sizeof t->slot[i]);
    memcpy(t->slot[i].key, k, sizeof t->slot[i].key);
    t->slot[i].used = 1;
    t->used++;
    *fresh = true;
    return &t->slot[i];
}

/* The connection key of a TCP packet: the two endpoints ordered so that
 * both directions give the same key; *side is 0 when the sender is the
 * first endpoint, 1 otherwise. */
static void make_key(const uint8_t *ip, const uint8_t *tcp, uint8_t key[36], int *side)
{
    uint8_t a[18] = { 0 }, b[18] = { 0 };
    if ((ip[0] >> 4) == 4) {
        memcpy(a + 12, ip + 12, 4);
        memcpy(b + 12, ip + 16, 4);
        a[10] = b[10] = 0xff; /* as IPv4-mapped IPv6, so families never collide */
        a[11] = b[11] = 0xff;
    } else {
        memcpy(a, ip + 8, 16);
        memcpy(b, ip + 24, 16);
    }
    memcpy(a + 16, tcp, 2);
    memcpy(b + 16, tcp + 2, 2);
    *side = memcmp(a, b, sizeof a) > 0;
    const uint8_t *lo = *side ? b : a, *hi = *side ? a : b;
    memcpy(key, lo, 16);
    memcpy(key + 16, hi, 16);
    memcpy(key + 32, lo + 16, 2);
    memcpy(key + 34, hi + 16, 2);
}

typedef struct {
    table t;
    uint64_t packets, conns, open, peak, peak_at;
    bool oom;
} census;

/* One TCP packet: open, close or pass its connection. */
static void see(void *arg, const uint8_t *tcp, const uint8_t *ip)
{
    census *cs = arg;
    uint8_t key[36];
    int side;
    bool fresh;
    cs->packets++;
    make_key(ip, tcp, key, &side);
    conn *c = find(&cs->t, key, &fresh);
    if (!c) {
        cs->oom = true;
        return;
    }
    uint8_t flags = tcp[13];
    if (!fresh && c->closed && (flags & 0x12) == 0x02) {
        c->closed = 0; /* a new connection on the same pair */
        c->fins = 0;
        fresh = true;
    }
    if (fresh) {
        cs->conns++;
        if (++cs->open > cs->peak) {
            cs->peak = cs->open;
            cs->peak_at = cs->packets;
        }
    }
    if (c->closed)
        return;
    if (flags & 0x01)
        c->fins |= (uint8_t)(1u << side);
    if ((flags & 0x04) || c->fins == 3) {
        c->closed = 1;
        cs->open--;
    }
}

int main(int argc, char **argv)
{
    census cs = { { calloc(1024, sizeof(conn)), 1024, 0 }, 0, 0, 0, 0, 0, false };
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: open FILE...\n");
        return 2;
    }
    for (int a = 1; a < argc && cs.t.slot && !cs.oom; a++) {
        int64_t n = bench_read("open", argv[a], see, &cs);
        if (n < 0)
            rc = 1;
    }
    if (!cs.t.slot || cs.oom) {
        fprintf(stderr, "open: out of memory\n");
        return 1;
    }
    printf("%llu open at peak (TCP packet %llu), %llu connections, %llu TCP packets, "
           "%llu open at the end\n",
           (unsigned long long)cs.peak, (unsigned long long)cs.peak_at,
           (unsigned long long)cs.conns, (unsigned long long)cs.packets,
           (unsigned long long)cs.open);
    free(cs.t.slot);
    return rc;
}
