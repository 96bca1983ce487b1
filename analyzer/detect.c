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
#include "hangup/tls.h"

#include <stdlib.h>

#include <string.h>

enum { ST_IDLE = HU_DET_IDLE, ST_FIN = HU_DET_FIN, ST_LATE = HU_DET_LATE, ST_DONE = HU_DET_DONE };

void hu_detect_conn_free(hu_detect_conn *dc)
{
    if (dc->pk) {
        hu_pktsum_clear(&dc->pk->fin);
        hu_pktsum_clear(&dc->pk->req);
        free(dc->pk);
        dc->pk = NULL;
    }
}

void hu_detect_compact(hu_detect_conn *dc)
{
    hu_detect_conn_free(dc);
    dc->state = ST_DONE;
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
    if (n < 5)
        return false;
    int type = hu_tls_record_type(d, n);
    uint32_t reclen = (uint32_t)d[3] << 8 | d[4];
    if (type == HU_TLS_ALERT)
        return true;
    return f->tls && type == HU_TLS_APPDATA && reclen == 19 && paylen == 24;
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
static void take_request(const hu_flow *f, hu_detect_conn *dc, const hu_pktsum *e, unsigned i)
{
    hu_pktsum_copy(&dc->pk->req, e);
    dc->req_idle_us = idle_before(f, i, 2, e->ts_us);
    dc->state = ST_LATE;
}

/* Where the timeline starts: the last exchange before the FIN and the
 * late request, i.e. the newest earlier client request and its segments. */
static uint32_t timeline_start(const hu_flow *f, uint8_t c, uint64_t first_num,
                               uint32_t req_seq)
{
    int anchor = hu_flow_exchange_start(f, c, first_num, req_seq);
    return anchor < 0 ? 0 : (uint32_t)anchor;
}

static void emit(hu_detect *d, const hu_flow *f, hu_detect_conn *st, const hu_pktsum *rst)
{
    const hu_detect_pkts *pk = st->pk;
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
    uint64_t first = pk->fin.num < pk->req.num ? pk->fin.num : pk->req.num;
    inc.timeline_start = timeline_start(f, c, first, pk->req.rawseq);
    inc.idle_us = st->req_idle_us;
    inc.server_idle_close_us = st->fin_idle_us;
    d->incidents++;
    st->emitted = true;
    if (d->emit)
        d->emit(d->arg, &inc);
}

void hu_detect_packet(hu_detect *d, const hu_flow *f, hu_detect_conn *st, uint8_t s,
                      const hu_pkt *p)
{
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
        if (!st->pk && !(st->pk = calloc(1, sizeof *st->pk))) {
            st->state = ST_DONE;   /* out of memory: this connection goes unjudged */
            return;
        }
        st->fin_side = s;
        hu_pktsum_copy(&st->pk->fin, cur);
        st->state = ST_FIN;
        st->fin_idle_us = idle_before(f, f->ring_len - 1u, s, p->ts_us);
        if (st->fin_idle_us < 0 && f->side[s].data_seen && f->side[s].last_data_ts < p->ts_us)
            st->fin_idle_us = p->ts_us - f->side[s].last_data_ts;   /* beyond the ring */
        {
            /* A request captured before the FIN can still be late. */
            uint8_t c = (uint8_t)!s;
            uint32_t fin_ack = (p->flags & HU_TH_ACK) ? p->ack : f->side[s].last_ack;
            st->pk->fin.rawack = fin_ack;
            for (unsigned i = 0; i + 1 < f->ring_len; i++) {
                const hu_pktsum *e = hu_flow_ring_at(f, i);
                if (is_late(f, e, c, fin_ack, NULL, 0)) {
                    take_request(f, st, e, i);
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
        if (is_late(f, cur, s, st->pk->fin.rawack, p->payload, p->capturedlen))
            take_request(f, st, cur, f->ring_len - 1u);
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
                emit(d, f, st, cur);
            return;
        }
        if ((p->flags & HU_TH_ACK) && hu_seq_gt(p->ack, st->pk->req.rawseq))
            st->req_acked = true;
        return;
    default:
        return;
    }
}
