/*
 * detect.c -- the incident state machine (docs/DESIGN.md §2.4).
 *
 * Per connection:
 *
 *   IDLE --P's first FIN--> FIN --C's late payload--> LATE --P's RST--> DONE
 *
 * "Late" is decided in sequence space, not capture order: C's segment is
 * late when its first byte is not covered by the FIN's ack (fin.ack <=
 * seq).  At a vantage near the client, a request that crossed the FIN in
 * flight is captured *before* the FIN, so on the FIN we also look back
 * through the connection's ring for such a segment.  Keep-alive probes
 * (at snd.nxt - 1) and retransmissions of data P had acknowledged start
 * below fin.ack and can never be late; a TLS alert (the client closing
 * its TLS session in answer to the FIN) is not a request.  An RST from P with no late payload
 * (an idle connection reset, never reused) ends the machine quietly, as
 * does a clean close.  The verdict compares the request's ack with the
 * FIN's sequence number: covering it means the client had received the
 * FIN when it wrote (stale), otherwise the two crossed.
 */
#include "hangup/detect.h"
#include "hangup/history.h"

#include <string.h>

enum { ST_IDLE = 0, ST_FIN, ST_LATE, ST_DONE };

static const char *const kind_names[HU_KIND_COUNT] = {
    [HU_KIND_RACE] = "keepalive-race",
    [HU_KIND_SERVER_TIMEOUT] = "server-timeout",
    [HU_KIND_RESET] = "reset-before-response",
    [HU_KIND_ABORT] = "client-abort",
    [HU_KIND_REFUSED] = "refused",
    [HU_KIND_CONNECT_TIMEOUT] = "connect-timeout",
    [HU_KIND_TRUNCATED] = "truncated-response",
};

const char *hu_kind_name(hu_kind k)
{
    return (unsigned)k < HU_KIND_COUNT ? kind_names[k] : "unknown";
}

int hu_kind_parse(const char *s)
{
    for (int k = 0; k < HU_KIND_COUNT; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

void hu_incident_init(hu_incident *inc, hu_kind k, const hu_flow *f, const hu_pktsum *req)
{
    memset(inc, 0, sizeof *inc);
    inc->kindid = k;
    inc->kind = hu_kind_name(k);
    inc->flow = f;
    inc->client = f->client;
    inc->server = (uint8_t)!f->client;
    inc->req = req;
    inc->rtt_us = f->rtt_us;
    inc->handshake_seen = f->handshake_seen;
    inc->reasm = f->reasm;
    inc->requests_before = inc->idle_us = inc->server_idle_close_us = -1;
    inc->keepalive_hint_s = -1;
    inc->wait_us = inc->spent_us = inc->expected_bytes = inc->received_bytes = -1;
    inc->late_response_packet = -1;
    if (req) {
        uint32_t n;
        const uint8_t *bytes = hu_flow_reqbytes(f, req->rawseq, &n);
        hu_request_decode(bytes, bytes ? n : 0, &inc->request);
        if (!inc->request.http && !inc->request.tls && f->tls)
            inc->request.tls = true;
    } else {
        inc->request.content_length = -1;
    }
}

bool hu_detect_waiting(const hu_flow *f)
{
    /* Only a server's FIN can end in a keep-alive race. */
    return f->det.state == ST_LATE && f->det.fin_side != f->client;
}

const char *hu_verdict_name(hu_verdict v)
{
    return v == HU_VERDICT_STALE ? "stale" : "crossed";
}

static const hu_pktsum *ring_newest(const hu_flow *f)
{
    return f->ring_len ? hu_flow_ring_at(f, f->ring_len - 1u) : NULL;
}

/*
 * A TLS alert is the client closing too, not a request: TLS <= 1.2 sends
 * it as a plaintext alert record (type 21); TLS 1.3 hides it in an
 * application-data record, which for close_notify is exactly 19 bytes
 * (type, two alert bytes, 16-byte AEAD tag), so a lone 24-byte record on
 * a TLS connection is one.  Node's TLS client sends one when the server
 * closes an idle connection, and the server's kernel answers with RST.
 */
static bool tls_alert(const hu_flow *f, const uint8_t *d, uint32_t n, uint32_t paylen)
{
    if (n < 5 || d[1] != 0x03)
        return false;
    uint32_t reclen = (uint32_t)d[3] << 8 | d[4];
    if (d[0] == 0x15)
        return true;
    return f->tls && d[0] == 0x17 && reclen == 19 && paylen == 24;
}

static bool is_late(const hu_flow *f, const hu_pktsum *e, uint8_t c, uint32_t fin_ack,
                    const uint8_t *payload, uint32_t captured)
{
    if (e->side != c || e->paylen == 0 || !hu_seq_geq(e->rawseq, fin_ack))
        return false;
    if (!payload)
        payload = hu_flow_reqbytes(f, e->rawseq, &captured);
    return !(payload && tls_alert(f, payload, captured, e->paylen));
}

/* Time from the newest payload-carrying summary before ring index `at`
 * (sent by `side`, or by either side when side > 1) to `ts`; -1 if the
 * ring holds none. */
static int64_t idle_before(const hu_flow *f, unsigned at, int side, int64_t ts)
{
    for (unsigned i = at; i-- > 0;) {
        const hu_pktsum *e = hu_flow_ring_at(f, i);
        if (e->paylen > 0 && (side > 1 || e->side == side))
            return ts - e->ts_us;
    }
    return -1;
}

/* Remember e (ring index i) as the late request. */
static void take_request(hu_flow *f, const hu_pktsum *e, unsigned i)
{
    hu_pktsum_copy(&f->pk->req, e);
    f->det.req_idle_us = idle_before(f, i, 2, e->ts_us);
    f->det.state = ST_LATE;
}

/* Where the timeline starts: the last exchange before the FIN and the
 * late request, i.e. the newest earlier client request and its segments. */
static uint32_t timeline_start(const hu_flow *f, uint8_t c, uint64_t first_num,
                               uint32_t req_seq)
{
    int anchor = -1;
    for (int i = (int)f->ring_len - 1; i >= 0; i--) {
        const hu_pktsum *e = hu_flow_ring_at(f, (unsigned)i);
        if (e->num >= first_num)
            continue;
        if (e->side == c && e->paylen > 0 && hu_seq_lt(e->rawseq, req_seq)) {
            anchor = i;
            break;
        }
    }
    if (anchor < 0)
        return 0;
    /* Back over the earlier segments of that same request. */
    while (anchor > 0) {
        const hu_pktsum *prev = hu_flow_ring_at(f, (unsigned)anchor - 1);
        if (prev->side != c || prev->paylen == 0)
            break;
        anchor--;
    }
    return (uint32_t)anchor;
}

static void emit(hu_detect *d, hu_flow *f, const hu_pktsum *rst)
{
    hu_detect_state *st = &f->det;
    const hu_flow_pkts *pk = f->pk;
    uint8_t p = st->fin_side, c = (uint8_t)!p;
    hu_incident inc;
    hu_incident_init(&inc, HU_KIND_RACE, f, &pk->req);
    inc.client = c;
    inc.server = p;
    inc.fin = &pk->fin;
    inc.rst = rst;
    uint32_t fin_seq = pk->fin.rawseq + pk->fin.paylen;
    bool covers = (pk->req.flags & HU_TH_ACK) && hu_seq_gt(pk->req.rawack, fin_seq);
    inc.verdict = covers ? HU_VERDICT_STALE : HU_VERDICT_CROSSED;
    inc.gap_us = pk->req.ts_us - pk->fin.ts_us;
    inc.rst_ack = (rst->flags & HU_TH_ACK) != 0;
    inc.server_acked = st->req_acked;
    /* The RST shows the server's kernel discarded the request: its
     * application never read it, so it can be retried whatever the
     * method.  If the server ACKed the bytes first, only an idempotent
     * method is safe. */
    inc.safe_to_retry = !st->req_acked ||
                        (inc.request.http && hu_method_idempotent(inc.request.method));
    uint64_t first = pk->fin.num < pk->req.num ? pk->fin.num : pk->req.num;
    inc.timeline_start = timeline_start(f, c, first, pk->req.rawseq);

    hu_hist_view v;
    hu_history_view(f, pk->req.ts_us, &v);
    /* Counted from parsed HTTP only: for TLS the exchanges are hidden. */
    inc.requests_before = v.http ? v.requests_before : -1;
    inc.idle_us = st->req_idle_us;
    inc.server_idle_close_us = st->fin_idle_us;
    inc.close_announced = v.close_announced;
    inc.keepalive_hint_s = v.keepalive_hint_s;
    inc.sni = v.sni;
    d->incidents++;
    st->emitted = true;
    if (d->emit)
        d->emit(d->arg, &inc);
}

void hu_detect_packet(hu_detect *d, hu_flow *f, uint8_t s, const hu_pkt *p)
{
    hu_detect_state *st = &f->det;
    const hu_pktsum *cur = ring_newest(f);
    if (st->state == ST_DONE || !cur || cur->num != p->num)
        return;   /* finished, or the ring could not record this packet */

    switch (st->state) {
    case ST_IDLE:
        if (p->flags & HU_TH_RST) {
            st->state = ST_DONE;
            return;
        }
        if (!(p->flags & HU_TH_FIN))
            return;
        if (!hu_flow_pkts_get(f)) {
            st->state = ST_DONE;   /* out of memory: this connection goes unjudged */
            return;
        }
        st->fin_side = s;
        hu_pktsum_copy(&f->pk->fin, cur);
        st->state = ST_FIN;
        st->fin_idle_us = idle_before(f, f->ring_len - 1u, s, p->ts_us);
        if (st->fin_idle_us < 0 && f->side[s].data_seen && f->side[s].last_data_ts < p->ts_us)
            st->fin_idle_us = p->ts_us - f->side[s].last_data_ts;   /* beyond the ring */
        {
            /* A request captured before the FIN can still be late. */
            uint8_t c = (uint8_t)!s;
            uint32_t fin_ack = (p->flags & HU_TH_ACK) ? p->ack : f->side[s].last_ack;
            f->pk->fin.rawack = fin_ack;
            for (unsigned i = 0; i + 1 < f->ring_len; i++) {
                const hu_pktsum *e = hu_flow_ring_at(f, i);
                if (is_late(f, e, c, fin_ack, NULL, 0)) {
                    take_request(f, e, i);
                    break;
                }
            }
        }
        return;
    case ST_FIN:
        if (s == st->fin_side) {
            if (p->flags & HU_TH_RST)
                st->state = ST_DONE;   /* reset while idle: not an incident */
            return;
        }
        if (p->flags & HU_TH_RST) {
            st->state = ST_DONE;
            return;
        }
        if (is_late(f, cur, s, f->pk->fin.rawack, p->payload, p->capturedlen))
            take_request(f, cur, f->ring_len - 1u);
        return;
    case ST_LATE:
        if (s != st->fin_side) {
            if (p->flags & HU_TH_RST)
                st->state = ST_DONE;   /* the client gave up first */
            return;
        }
        if (p->flags & HU_TH_RST) {
            st->state = ST_DONE;
            if (st->fin_side != f->client)
                emit(d, f, cur);
            return;
        }
        if ((p->flags & HU_TH_ACK) && hu_seq_gt(p->ack, f->pk->req.rawseq))
            st->req_acked = true;
        return;
    default:
        return;
    }
}
