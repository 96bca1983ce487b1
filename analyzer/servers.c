/*
 * servers.c -- what each server endpoint did, and its keep-alive timeout.
 *
 * A server's keep-alive (idle) timeout shows in its idle closes: the time
 * from its last byte to a FIN it sends on a connection with nothing
 * outstanding.  The median of those is the timeout; their spread says how
 * sharp it is.  Clients' idle times before reusing a connection are the
 * other half: when a client reuses after idling longer than the server's
 * timeout minus one RTT, a race is only a matter of time, and the advice
 * says which side to change and by how much.
 *
 * Samples are kept per server in arrays bounded at HU_SAMPLES_MAX (beyond
 * that, reservoir sampling with a fixed seed keeps the median honest and
 * the run reproducible); the table itself is bounded at HU_MAX_SERVERS.
 */
#include "hangup/servers.h"
#include "hangup/incident.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HU_MAX_SERVERS 65536
#define HU_SAMPLES_MAX 4096

typedef struct samples {
    int64_t *v;
    size_t n, cap;
    uint64_t seen;
    int64_t min, max;
    uint64_t rng;
} samples;

typedef struct srv {
    bool used;
    uint8_t ipver;
    uint8_t addr[16];
    uint16_t port;
    uint64_t connections, requests, incidents, crossed, stale;
    uint64_t felt, absorbed;
    samples idle, rtt;
    samples reuse;            /* clients' idle before a reuse (keep_reuse only) */
    int64_t max_reuse;
    hu_sw_ident *sw;          /* what its responses say it is, or NULL */
} srv;

struct hu_servers {
    srv *tab;
    size_t n, cap;
    uint64_t overflow;
    bool keep_reuse;          /* sample reuse idle times too (the HTML report's plot) */
};

hu_servers *hu_servers_new(void)
{
    return calloc(1, sizeof(hu_servers));
}

void hu_servers_free(hu_servers *sv)
{
    if (!sv)
        return;
    for (size_t i = 0; i < sv->cap; i++) {
        free(sv->tab[i].idle.v);
        free(sv->tab[i].rtt.v);
        free(sv->tab[i].reuse.v);
        free(sv->tab[i].sw);
    }
    free(sv->tab);
    free(sv);
}

uint64_t hu_servers_overflow(const hu_servers *sv) { return sv->overflow; }

static size_t key_hash(uint8_t ipver, const uint8_t *a, uint16_t port)
{
    uint64_t h = 1469598103934665603ull ^ ipver;
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 1099511628211ull;
    h = (h ^ port) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* Find without adding; NULL when absent. */
static const srv *find(const hu_servers *sv, uint8_t ipver, const uint8_t *addr16, uint16_t port)
{
    uint8_t a[16] = {0};
    memcpy(a, addr16, ipver == 4 ? 4 : 16);
    for (size_t j = key_hash(ipver, a, port); sv->cap; j++) {
        const srv *s = &sv->tab[j & (sv->cap - 1)];
        if (!s->used)
            return NULL;
        if (s->ipver == ipver && s->port == port && memcmp(s->addr, a, 16) == 0)
            return s;
    }
    return NULL;
}

/* Find or add; NULL when the table is full (counted as overflow) or OOM. */
static srv *get(hu_servers *sv, uint8_t ipver, const uint8_t *addr16, uint16_t port)
{
    uint8_t a[16] = {0};
    memcpy(a, addr16, ipver == 4 ? 4 : 16);
    if ((sv->n + 1) * 2 > sv->cap && sv->n < HU_MAX_SERVERS) {
        size_t ncap = sv->cap ? sv->cap * 2 : 64;
        srv *nt = calloc(ncap, sizeof *nt);
        if (nt) {
            for (size_t i = 0; i < sv->cap; i++) {
                if (!sv->tab[i].used)
                    continue;
                size_t j = key_hash(sv->tab[i].ipver, sv->tab[i].addr, sv->tab[i].port);
                while (nt[j & (ncap - 1)].used)
                    j++;
                nt[j & (ncap - 1)] = sv->tab[i];
            }
            free(sv->tab);
            sv->tab = nt;
            sv->cap = ncap;
        }
    }
    if (sv->cap == 0)
        return NULL;
    for (size_t j = key_hash(ipver, a, port);; j++) {
        srv *s = &sv->tab[j & (sv->cap - 1)];
        if (!s->used) {
            if ((sv->n + 1) * 2 > sv->cap) {
                sv->overflow++;
                return NULL;
            }
            memset(s, 0, sizeof *s);
            s->used = true;
            s->ipver = ipver;
            memcpy(s->addr, a, 16);
            s->port = port;
            s->max_reuse = -1;
            s->idle.rng = s->rtt.rng = s->reuse.rng = 0x9e3779b97f4a7c15ull;
            sv->n++;
            return s;
        }
        if (s->ipver == ipver && s->port == port && memcmp(s->addr, a, 16) == 0)
            return s;
    }
}

static srv *get_flow(hu_servers *sv, const hu_flow *f)
{
    uint8_t s = (uint8_t)!f->client;
    return get(sv, f->ipver, f->addr[s], f->port[s]);
}

static void sample_add(samples *s, int64_t v)
{
    if (s->seen == 0 || v < s->min)
        s->min = v;
    if (s->seen == 0 || v > s->max)
        s->max = v;
    s->seen++;
    if (s->n < HU_SAMPLES_MAX) {
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 8;
            int64_t *nv = realloc(s->v, ncap * sizeof *nv);
            if (!nv)
                return;
            s->v = nv;
            s->cap = ncap;
        }
        s->v[s->n++] = v;
        return;
    }
    /* Reservoir: keep each of the `seen` samples with equal chance. */
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    uint64_t k = s->rng % s->seen;
    if (k < HU_SAMPLES_MAX)
        s->v[k] = v;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median (the lower middle for an even count), -1 when empty. */
static int64_t median(const samples *s)
{
    if (s->n == 0)
        return -1;
    int64_t *tmp = malloc(s->n * sizeof *tmp);
    if (!tmp)
        return -1;
    memcpy(tmp, s->v, s->n * sizeof *tmp);
    qsort(tmp, s->n, sizeof *tmp, cmp64);
    int64_t m = s->n % 2 ? tmp[s->n / 2] : (tmp[s->n / 2 - 1] + tmp[s->n / 2]) / 2;
    free(tmp);
    return m;
}

void hu_servers_connection(hu_servers *sv, const hu_flow *f)
{
    srv *s = get_flow(sv, f);
    if (!s)
        return;
    s->connections++;
    if (f->handshake_seen && f->rtt_us >= 0)
        sample_add(&s->rtt, f->rtt_us);
}

void hu_servers_request(hu_servers *sv, const hu_flow *f, int64_t reuse_idle_us)
{
    srv *s = get_flow(sv, f);
    if (!s)
        return;
    s->requests++;
    if (reuse_idle_us >= 0 && reuse_idle_us > s->max_reuse)
        s->max_reuse = reuse_idle_us;
    if (reuse_idle_us >= 0 && sv->keep_reuse)
        sample_add(&s->reuse, reuse_idle_us);
}

void hu_servers_keep_reuse(hu_servers *sv) { sv->keep_reuse = true; }

void hu_servers_samples(const hu_servers *sv, uint8_t ipver, const uint8_t *addr, uint16_t port,
                        const int64_t **idle, size_t *nidle, const int64_t **reuse,
                        size_t *nreuse)
{
    const srv *s = find(sv, ipver, addr, port);
    *idle = s ? s->idle.v : NULL;
    *nidle = s ? s->idle.n : 0;
    *reuse = s ? s->reuse.v : NULL;
    *nreuse = s ? s->reuse.n : 0;
}

void hu_servers_idle_close(hu_servers *sv, const hu_flow *f, int64_t delay_us)
{
    srv *s = get_flow(sv, f);
    if (s)
        sample_add(&s->idle, delay_us);
}

/* Keep id in *slot when it is stronger than what the slot holds. */
static void sw_keep(hu_sw_ident **slot, const hu_sw_ident *id)
{
    if (*slot && (*slot)->strength >= id->strength)
        return;
    if (!*slot && !(*slot = malloc(sizeof **slot)))
        return;
    **slot = *id;
}

void hu_servers_software(hu_servers *sv, const hu_flow *f, const hu_sw_ident *id)
{
    srv *s = get_flow(sv, f);
    if (s)
        sw_keep(&s->sw, id);
}

const hu_sw_ident *hu_servers_software_of(const hu_servers *sv, uint8_t ipver, const uint8_t *addr,
                                          uint16_t port)
{
    const srv *s = find(sv, ipver, addr, port);
    return s ? s->sw : NULL;
}

void hu_servers_incident(hu_servers *sv, uint8_t ipver, const uint8_t *addr, uint16_t port,
                         int kind, int verdict)
{
    srv *s = get(sv, ipver, addr, port);
    if (!s)
        return;
    s->incidents++;
    if (kind == HU_KIND_RACE) {
        if (verdict == HU_VERDICT_STALE)
            s->stale++;
        else
            s->crossed++;
    }
}

void hu_servers_downstream(hu_servers *sv, uint8_t ipver, const uint8_t *addr, uint16_t port,
                           bool felt)
{
    srv *s = get(sv, ipver, addr, port);
    if (!s)
        return;
    if (felt)
        s->felt++;
    else
        s->absorbed++;
}

/* Seconds to the nearest millisecond: 286993 us is "0.287 s". */
static void fmt_s(char *b, size_t n, int64_t us)
{
    int64_t ms = (us + 500) / 1000;
    snprintf(b, n, "%" PRId64 ".%03" PRId64 " s", ms / 1000, ms % 1000);
}

static void advise(hu_server_summary *o)
{
    char to[32], reuse[32], safe[32];
    if (o->requests == 0) {
        /* Refused or never-answered connects: no request, so no reuse
         * that could race and no keep-alive timeout to infer. */
        snprintf(o->advice, sizeof o->advice,
                 "no request reached it, so there is no keep-alive timeout to infer; see its "
                 "incidents for why connections failed");
        return;
    }
    if (o->idle_timeout_us < 0) {
        if (o->incidents)
            snprintf(o->advice, sizeof o->advice,
                     "no idle close seen, so the server's keep-alive timeout is unknown; make "
                     "clients retry requests that fail on a reused connection");
        else
            snprintf(o->advice, sizeof o->advice,
                     "no idle close seen: the server's keep-alive timeout is unknown");
        return;
    }
    fmt_s(to, sizeof to, o->idle_timeout_us);
    int64_t rtt = o->rtt_us > 0 ? o->rtt_us : 0;
    int64_t margin = rtt * 2 > 100000 ? rtt * 2 : 100000;   /* at least 100 ms */
    fmt_s(safe, sizeof safe, o->idle_timeout_us > margin ? o->idle_timeout_us - margin : 0);
    if (o->max_reuse_idle_us < 0) {
        snprintf(o->advice, sizeof o->advice,
                 "closes idle connections after %s; no client reused a connection in this "
                 "capture",
                 to);
        return;
    }
    fmt_s(reuse, sizeof reuse, o->max_reuse_idle_us);
    /* Both thresholds keep the same margin (at least two RTTs): a reused
     * connection's request needs about one RTT to reach the server, so a
     * client idle for less than the server's timeout can still cross its
     * FIN.  Raising the server's timeout to the reuse idle plus the margin
     * is always above what it is now (race risk: reuse > timeout - RTT). */
    char above[32];
    fmt_s(above, sizeof above, o->max_reuse_idle_us + margin);
    if (o->race_risk && o->max_reuse_idle_us < o->idle_timeout_us) {
        char rtt_s[32];
        fmt_s(rtt_s, sizeof rtt_s, rtt);
        snprintf(o->advice, sizeof o->advice,
                 "races will recur: clients reuse connections after up to %s idle, too close "
                 "to this server's %s idle timeout: a request needs about one RTT (%s) to "
                 "reach it, so it can cross the server's FIN. Set the clients' idle timeout "
                 "below %s (Node.js http.Agent 'timeout', undici 'keepAliveTimeout', Go "
                 "IdleConnTimeout), or raise the server's keep-alive timeout above %s",
                 reuse, to, rtt_s, safe, above);
    } else if (o->race_risk) {
        snprintf(o->advice, sizeof o->advice,
                 "races will recur: clients reuse connections after up to %s idle, but this "
                 "server closes idle connections after %s. Set the clients' idle timeout "
                 "below %s (Node.js http.Agent 'timeout', undici 'keepAliveTimeout', Go "
                 "IdleConnTimeout), or raise the server's keep-alive timeout above %s",
                 reuse, to, safe, above);
    } else
        snprintf(o->advice, sizeof o->advice,
                 "no race expected from idle closes: clients reuse connections after at most "
                 "%s idle, below this server's %s keep-alive timeout",
                 reuse, to);
}

static int cmp_summary(const void *a, const void *b)
{
    const hu_server_summary *x = a, *y = b;
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

/* Server s's summary into o (o zeroed by the caller). */
static void summarize(const srv *s, hu_server_summary *o)
{
    o->ipver = s->ipver;
    memcpy(o->addr, s->addr, 16);
    o->port = s->port;
    o->connections = s->connections;
    o->requests = s->requests;
    o->idle_closes = s->idle.seen;
    o->incidents = s->incidents;
    o->crossed = s->crossed;
    o->users_felt = s->felt;
    o->proxy_absorbed = s->absorbed;
    o->stale = s->stale;
    o->idle_timeout_us = median(&s->idle);
    o->idle_timeout_spread_us = s->idle.seen ? s->idle.max - s->idle.min : -1;
    o->max_reuse_idle_us = s->max_reuse;
    o->rtt_us = median(&s->rtt);
    int64_t rtt = o->rtt_us > 0 ? o->rtt_us : 0;
    o->race_risk = o->idle_timeout_us >= 0 && o->max_reuse_idle_us >= 0 &&
                   o->max_reuse_idle_us > o->idle_timeout_us - rtt;
    if (s->sw)
        snprintf(o->software, sizeof o->software, "%s", s->sw->name);
    o->idle_timeout_default = hu_sw_idle_default(o->software, o->idle_timeout_us);
    advise(o);
    if (o->idle_timeout_default) {
        size_t l = strlen(o->advice);
        snprintf(o->advice + l, sizeof o->advice - l,
                 "; its idle timeout is the default of its software, %s (%s)", o->software,
                 o->idle_timeout_default);
    }
}

hu_server_summary *hu_servers_list(const hu_servers *sv, size_t *n)
{
    *n = 0;
    if (sv->n == 0)
        return NULL;
    hu_server_summary *out = calloc(sv->n, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < sv->cap; i++) {
        if (sv->tab[i].used)
            summarize(&sv->tab[i], &out[(*n)++]);
    }
    qsort(out, *n, sizeof *out, cmp_summary);
    return out;
}

/* Whether x ranks before y in hu_servers_list's order. */
static bool ranks_before(const srv *x, const srv *y)
{
    if (x->incidents != y->incidents)
        return x->incidents > y->incidents;
    if (x->connections != y->connections)
        return x->connections > y->connections;
    if (x->ipver != y->ipver)
        return x->ipver < y->ipver;
    int c = memcmp(x->addr, y->addr, 16);
    if (c)
        return c < 0;
    return x->port < y->port;
}

hu_server_summary *hu_servers_top(const hu_servers *sv, size_t max, size_t *n)
{
    *n = 0;
    size_t want = sv->n < max ? sv->n : max;
    if (want == 0)
        return NULL;
    const srv **best = malloc(want * sizeof *best);
    hu_server_summary *out = calloc(want, sizeof *out);
    if (!best || !out) {
        free(best);
        free(out);
        return NULL;
    }
    size_t nb = 0;   /* best[0..nb) in rank order: an insertion into a short list */
    for (size_t i = 0; i < sv->cap; i++) {
        const srv *s = &sv->tab[i];
        if (!s->used || (nb == want && !ranks_before(s, best[nb - 1])))
            continue;
        size_t j = nb < want ? nb++ : want - 1;
        for (; j > 0 && ranks_before(s, best[j - 1]); j--)
            best[j] = best[j - 1];
        best[j] = s;
    }
    for (size_t i = 0; i < nb; i++)
        summarize(best[i], &out[i]);
    free(best);
    *n = nb;
    return out;
}

void hu_servers_merge(hu_servers *dst, const hu_servers *src)
{
    dst->overflow += src->overflow;
    for (size_t i = 0; i < src->cap; i++) {
        const srv *s = &src->tab[i];
        if (!s->used)
            continue;
        srv *d = get(dst, s->ipver, s->addr, s->port);
        if (!d)
            continue;
        d->connections += s->connections;
        d->requests += s->requests;
        d->incidents += s->incidents;
        d->crossed += s->crossed;
        d->felt += s->felt;
        d->absorbed += s->absorbed;
        d->stale += s->stale;
        if (s->max_reuse > d->max_reuse)
            d->max_reuse = s->max_reuse;
        if (s->sw)
            sw_keep(&d->sw, s->sw);
        const samples *from[3] = { &s->idle, &s->rtt, &s->reuse };
        samples *to[3] = { &d->idle, &d->rtt, &d->reuse };
        for (int k = 0; k < 3; k++) {
            if (from[k]->seen == 0)
                continue;
            for (size_t j = 0; j < from[k]->n; j++)
                sample_add(to[k], from[k]->v[j]);
            /* Samples the source had already thinned out still count. */
            to[k]->seen += from[k]->seen - from[k]->n;
            if (from[k]->min < to[k]->min)
                to[k]->min = from[k]->min;
            if (from[k]->max > to[k]->max)
                to[k]->max = from[k]->max;
        }
    }
}
