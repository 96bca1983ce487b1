/*
 * family.c -- the socket-hang-up family beyond the keep-alive race.
 *
 * Each kind is a fact about one connection that its packets prove:
 *
 *   refused               a SYN answered by RST (ECONNREFUSED)
 *   connect-timeout       a SYN retransmitted, never answered (ETIMEDOUT)
 *   server-timeout        a request the server ACKed, no response byte,
 *                         then the server's FIN or RST at least 1 s later
 *   reset-before-response the same ended by an RST within 1 s, no FIN:
 *                         the application closed with unread data, crashed
 *                         or used SO_LINGER 0
 *   closed-before-response the same ended by the server's FIN within 1 s,
 *                         that FIN acknowledging all the client had sent
 *                         and the client not having given up (it may have
 *                         half-closed with its request): the application
 *                         read the request and chose to close (nginx's
 *                         return 444, a proxy whose upstream failed, a
 *                         request it refused, a server closing on its
 *                         client's half-close)
 *   client-abort          the client gave up waiting: its RST, or its FIN
 *                         after waiting (not a half-close sent with the
 *                         request), while its request was unanswered and
 *                         the server had not closed, and no response was
 *                         delivered after it (a late one met an RST)
 *   truncated-response    the server's FIN or RST in the middle of a body
 *   gateway-error         a 502, 503 or 504 response: a proxy's or load
 *                         balancer's own answer that its upstream failed,
 *                         the user's symptom of an upstream incident
 *
 * "Request" is an HTTP request line starting a new flight of client data
 * (the server had acknowledged everything before it); "answered" comes
 * from the HTTP parser.  A connection whose keep-alive race the detector
 * reported (or is waiting to report) is left to it.  Most kinds are
 * reported on the packet that proves them; connect-timeout and
 * client-abort only when the connection is released, since what follows
 * (more SYNs, a late response) is part of the story.
 *
 * The client's acknowledgements are evidence too (docs/DESIGN.md §2.13):
 * server bytes the client acknowledged that the capture does not hold
 * (gaps.h) were delivered, so no kind that says the server sent nothing,
 * stopped short, or had not closed is reported over them; a server close
 * while its stream has a hole not yet acknowledged waits for the
 * connection's end to be judged.  A client that acknowledges a SYN-ACK
 * got one, captured or not.
 */
#include "hangup/family.h"

#include <stdlib.h>
#include <string.h>

#define SERVER_TIMEOUT_MIN_US 1000000   /* below this, a close is a reset or a refusal */
#define HALF_CLOSE_MIN_US 20000         /* the half-close window when the RTT is shorter */

static const hu_pktsum *newest(const hu_flow *f)
{
    return f->ring_len ? hu_flow_ring_at(f, f->ring_len - 1u) : NULL;
}

/* Ring index of the summary for packet num into *at; false when the ring
 * no longer holds it. */
static bool ring_find(const hu_flow *f, uint64_t num, uint32_t *at)
{
    for (unsigned i = 0; i < f->ring_len; i++)
        if (hu_flow_ring_at(f, i)->num == num) {
            *at = i;
            return true;
        }
    return false;
}

/* Where a timeline starts: at packet num, or at the oldest summary kept
 * when num has left the ring (the incident's own packets are then shown
 * from their copies, never another packet in their place). */
static uint32_t ring_index(const hu_flow *f, uint64_t num)
{
    uint32_t i = 0;
    ring_find(f, num, &i);
    return i;
}

/* The client's SYN an incident names: the first one, or when it has left
 * the ring the oldest retransmission of it (same sequence number) still
 * held; NULL when the ring holds none, for no other packet may stand in
 * for it. */
static const hu_pktsum *syn_named(const hu_flow *f, const hu_family_conn *st, uint32_t *at)
{
    if (ring_find(f, st->syn_num, at))
        return hu_flow_ring_at(f, *at);
    for (unsigned i = 0; i < f->ring_len; i++) {
        const hu_pktsum *e = hu_flow_ring_at(f, i);
        if (e->side == f->client && (e->flags & (HU_TH_SYN | HU_TH_ACK)) == HU_TH_SYN &&
            e->rawseq == st->syn_isn) {
            *at = i;
            return e;
        }
    }
    return NULL;
}

/* A server close's incident held until the client's acknowledgements are
 * in: the finding, and the close it names. */
typedef struct hu_family_held {
    hu_incident inc;
    hu_pktsum close;
} hu_family_held;

/* The server's stream position when the request was sent (the request's
 * ack; without one, the server's first sequence number): the response,
 * and anything after it, lies at or beyond it. */
static uint32_t request_pos(const hu_flow *f, const hu_family_conn *st)
{
    const hu_pktsum *r = &st->pk->freq;
    return (r->flags & HU_TH_ACK) ? r->rawack : f->side[!f->client].isn;
}

/* The client acknowledged server bytes sent since the request that the
 * capture does not hold: a response (or a FIN) was delivered. */
static bool response_in_gap(const hu_flow *f, const hu_family_conn *st)
{
    return hu_gaps_acked_from(f->gaps, (uint8_t)!f->client, request_pos(f, st));
}

/* The server's stream has a hole since the request that the client has
 * not acknowledged yet. */
static bool response_hole_open(const hu_flow *f, const hu_family_conn *st)
{
    return hu_gaps_open_from(f->gaps, (uint8_t)!f->client, request_pos(f, st));
}

static bool unanswered(const hu_family_conn *fc, const hu_http *http)
{
    if (http && !hu_http_unparsable(http))
        return hu_http_outstanding(http) > 0;
    return !fc->resp_seen;
}

static void emit(hu_family *fm, hu_family_conn *fc, hu_incident *inc)
{
    fc->done = true;
    if (fm->emit)
        fm->emit(fm->arg, inc);
}

/* Did the client's FIN p give up waiting for an answer, rather than
 * half-close with its request?  A FIN sent within one round trip of the
 * request's last byte (the same segment, or the next write: a tool's
 * shutdown(SHUT_WR) after its request) came before any answer could have,
 * so the client was not waiting yet; the round trip is the handshake's,
 * at least HALF_CLOSE_MIN_US (loopback, or no handshake captured): a
 * stack's write and its shutdown can be milliseconds apart on a busy host
 * (Node's end(data) shuts down after the write completes: 6.5 ms measured
 * under load), while no client's response timeout is that short.  Later,
 * with nothing answered, it gave up.  An RST always gives up: nothing can
 * be delivered to it. */
static bool client_gave_up(const hu_flow *f, const hu_pkt *p)
{
    if (p->flags & HU_TH_RST)
        return true;
    int64_t window = f->rtt_us > HALF_CLOSE_MIN_US ? f->rtt_us : HALF_CLOSE_MIN_US;
    const hu_side *cli = &f->side[f->client];
    return p->ts_us - cli->last_data_ts > window;
}

/* A client packet (not a SYN): a new request starts, or the client gives
 * up on the one outstanding (an abort, proven at release), or half-closes
 * with it (the server's close then tells what happened). */
static void client_packet(const hu_flow *f, hu_family_conn *st, const hu_family_in *in,
                          const hu_pkt *p, const hu_pktsum *cur)
{
    uint8_t c = f->client;
    bool fin = p->flags & HU_TH_FIN, rst = p->flags & HU_TH_RST;
    /* A new request: new data at the stream front, everything before it
     * acknowledged, an HTTP method first. */
    const hu_side *srv = &f->side[!c];
    if (p->paylen > 0 && p->seq + p->paylen == f->side[c].snd_max - (fin ? 1u : 0u) &&
        (!srv->ack_seen || srv->last_ack == p->seq) &&
        hu_request_starts(p->payload, p->capturedlen, false) && !st->abort &&
        (st->pk || (st->pk = calloc(1, sizeof *st->pk)))) {
        st->req_active = true;
        st->req_acked = false;
        st->resp_seen = false;
        hu_pktsum_clear(&st->pk->freq);
        hu_pktsum_copy(&st->pk->freq, cur);
    }
    if (st->req_active && !st->resp_seen && p->paylen > 0)
        st->req_end = f->side[c].snd_max - (fin ? 1u : 0u);
    if (st->abort) {
        if (rst && !st->pk->late_rst.num) {   /* the client's first RST after it */
            hu_pktsum_copy(&st->pk->late_rst, cur);
            st->late_rst = st->late_resp_num != 0;
        }
        return;
    }
    /* Only an abort if the server had not closed first (a client
     * answering the server's FIN with its own is a clean close). */
    bool server_closed = st->server_closed || srv->fin_seen || srv->rst_seen;
    if ((fin || rst) && st->req_active && !server_closed && unanswered(st, in->http)) {
        st->abort = rst ? 'r' : 'f';
        st->half_closed = !client_gave_up(f, p);
        hu_pktsum_copy(&st->pk->abort, cur);
    }
}

/* A quick server FIN is a refusal (closed-before-response) only when it
 * acknowledges every byte the client had sent, so the server read them
 * all and closed on purpose -- a FIN that misses some crossed them, the
 * keep-alive race's start -- and the client had not given up first (its
 * half-close with the request is no giving up: the server that closes on
 * it without answering hung up). */
static bool refused_by_fin(const hu_flow *f, const hu_family_conn *st, const hu_pkt *p)
{
    const hu_side *cli = &f->side[f->client];
    return (p->flags & HU_TH_ACK) && hu_seq_geq(p->ack, st->req_end) &&
           (!cli->fin_seen || st->half_closed) && !cli->rst_seen;
}

/* The server's first FIN or RST with a request outstanding: which kind
 * it proves, into inc; false when none. */
static bool server_close_kind(const hu_flow *f, const hu_family_conn *st,
                              const hu_family_in *in, uint8_t s, const hu_pkt *p,
                              hu_incident *inc)
{
    bool ack = p->flags & HU_TH_ACK, rst = p->flags & HU_TH_RST;
    if (st->req_active && !st->resp_seen) {
        bool acked = st->req_acked || (rst && ack && hu_seq_geq(p->ack, st->req_end));
        if (!acked)
            return false;
        int64_t wait = p->ts_us - st->pk->freq.ts_us;
        if (wait >= SERVER_TIMEOUT_MIN_US) {
            hu_incident_init(inc, HU_KIND_SERVER_TIMEOUT, f, &st->pk->freq);
            inc->close = rst ? "rst" : "fin";
        } else if (rst && !f->side[s].fin_seen) {
            hu_incident_init(inc, HU_KIND_RESET, f, &st->pk->freq);
        } else if (!rst && refused_by_fin(f, st, p)) {
            hu_incident_init(inc, HU_KIND_CLOSED, f, &st->pk->freq);
            inc->close = "fin";
        } else {
            return false;
        }
        inc->wait_us = wait;
        return true;
    }
    int64_t expected, received;
    if (!st->req_active || !in->http ||
        !hu_http_in_body(in->http, HU_HTTP_SERVER, &expected, &received))
        return false;
    hu_incident_init(inc, HU_KIND_TRUNCATED, f, &st->pk->freq);
    inc->close = rst ? "rst" : "fin";
    inc->expected_bytes = expected;
    inc->received_bytes = received;
    return true;
}

/* A server close's incident against the client's acknowledgements: true
 * when it is not reported now -- contradicted (the client acknowledged
 * response bytes the capture lacks) or held until the connection's end
 * (a hole in the server's stream whose acknowledgement may still come). */
static bool judged_by_acks(hu_family_conn *st, const hu_flow *f, hu_incident *inc,
                           const hu_pktsum *cur)
{
    if (response_in_gap(f, st))
        return true;
    if (!response_hole_open(f, st))
        return false;
    hu_family_held *h = calloc(1, sizeof *h);
    if (!h)
        return false;   /* out of memory: judged on what is known now */
    h->inc = *inc;
    hu_pktsum_copy(&h->close, cur);
    st->pk->held = h;
    return true;
}

/* A server packet: the response's progress, and the server's close. */
static void server_packet(hu_family *fm, const hu_flow *f, hu_family_conn *st,
                          const hu_family_in *in, uint8_t s, const hu_pkt *p,
                          const hu_pktsum *cur)
{
    bool ack = p->flags & HU_TH_ACK;
    bool fin = p->flags & HU_TH_FIN, rst = p->flags & HU_TH_RST;
    if (st->abort) {
        if (p->paylen > 0 && st->late_resp_num == 0)
            st->late_resp_num = p->num;
        if (!st->half_closed)
            return;   /* what follows giving up is its aftermath */
    }
    if (st->req_active) {
        if (ack && st->req_end && hu_seq_geq(p->ack, st->req_end))
            st->req_acked = true;
        if (p->paylen > 0)
            st->resp_seen = true;
    }
    bool first_fin = fin && f->side[s].fin_num == p->num;
    if (st->server_closed || !(first_fin || rst))
        return;
    st->server_closed = true;
    hu_incident inc;
    if (!server_close_kind(f, st, in, s, p, &inc))
        return;
    st->abort = 0;   /* the half-close's story is the server's close */
    if (rst) {
        inc.rst = cur;
        inc.rst_ack = ack;
    } else {
        inc.fin = cur;
    }
    inc.timeline_start = ring_index(f, st->pk->freq.num);
    if (!judged_by_acks(st, f, &inc, cur))
        emit(fm, st, &inc);
}

void hu_family_packet(hu_family *fm, const hu_flow *f, hu_family_conn *st,
                      const hu_family_in *in, uint8_t s, const hu_pkt *p)
{
    const hu_pktsum *cur = newest(f);
    if (!cur || cur->num != p->num)
        return;
    bool from_client = s == f->client;
    bool syn = p->flags & HU_TH_SYN, ack = p->flags & HU_TH_ACK;
    bool rst = p->flags & HU_TH_RST;

    /* Connection attempts. */
    if (from_client && syn && !ack) {
        if (st->syns == 0) {
            st->syn_isn = p->seq;
            st->syn_num = p->num;
            st->syn_ts = p->ts_us;
        }
        if (p->seq == st->syn_isn) {
            st->syns++;
            st->last_syn_num = p->num;
            st->last_syn_ts = p->ts_us;
        }
        return;
    }
    if (st->done || in->race_claimed)
        return;
    uint32_t i;
    const hu_pktsum *first_syn;
    if (!from_client && rst && ack && st->syns > 0 && !f->synack_seen &&
        !f->side[f->client].ack_seen && p->ack == st->syn_isn + 1 &&
        (first_syn = syn_named(f, st, &i))) {
        hu_incident inc;
        hu_incident_init(&inc, HU_KIND_REFUSED, f, first_syn);
        inc.rst = cur;
        inc.rst_ack = true;
        inc.timeline_start = i;
        emit(fm, st, &inc);
        return;
    }
    if (from_client)
        client_packet(f, st, in, p, cur);
    else
        server_packet(fm, f, st, in, s, p, cur);
}

static bool gateway_status(int status)
{
    return status == 502 || status == 503 || status == 504;
}

void hu_family_response(hu_family *fm, const hu_flow *f, const hu_family_conn *fc,
                        const hu_family_in *in, int status)
{
    /* The request answered is the one this layer copied only when it is
     * the only one outstanding (not pipelined) and still followed: the
     * copy stops with another family incident or the race detector's
     * claim. */
    const hu_pktsum *cur = newest(f);
    if (!gateway_status(status) || fc->done || in->race_claimed || !fc->req_active ||
        !fc->pk || !fc->pk->freq.num || !cur || !in->http || hu_http_unparsable(in->http) ||
        hu_http_outstanding(in->http) != 1)
        return;
    hu_incident inc;
    hu_incident_init(&inc, HU_KIND_GATEWAY, f, &fc->pk->freq);
    inc.status = status;
    inc.resp = cur;
    inc.wait_us = cur->ts_us - fc->pk->freq.ts_us;
    inc.timeline_start = ring_index(f, fc->pk->freq.num);
    if (fm->emit)
        fm->emit(fm->arg, &inc);
}

/* The held server close, now that every acknowledgement is in: reported
 * unless the client acknowledged response bytes the capture lacks. */
static void release_held(hu_family *fm, const hu_flow *f, hu_family_conn *st)
{
    hu_family_held *h = st->pk->held;
    if (response_in_gap(f, st))
        return;
    hu_incident inc = h->inc;
    inc.flow = f;
    inc.req = &st->pk->freq;
    if (inc.rst)
        inc.rst = &h->close;
    else
        inc.fin = &h->close;
    inc.timeline_start = ring_index(f, st->pk->freq.num);
    emit(fm, st, &inc);
}

/* Does the end prove the client's pending abort?  An RST does, and so
 * does its host's RST meeting a late response (the client had gone).  A
 * FIN only ends the client's sending: a response that arrived whole
 * after it (the parser saw it end; a body framed by the close ends with
 * the server's FIN) and met no RST was read, so the client had not given
 * up.  A half-close with the request shows no giving up by itself. */
static bool abort_proven(const hu_family_conn *st, const hu_family_in *in)
{
    if (st->abort == 'r' || st->late_rst)
        return true;
    if (st->half_closed)
        return false;
    return !in->http || hu_http_unparsable(in->http) || hu_http_outstanding(in->http) > 0;
}

bool hu_family_release_may_report(const hu_family_conn *st, const hu_family_in *in)
{
    return !st->done && !in->race_claimed &&
           (st->syns >= 2 || (st->pk && st->pk->held) || st->abort);
}

void hu_family_release(hu_family *fm, const hu_flow *f, hu_family_conn *st,
                       const hu_family_in *in)
{
    /* The branches below are the cases hu_family_release_may_report
     * names: keep the two in step. */
    if (!hu_family_release_may_report(st, in))
        return;
    hu_incident inc;
    uint32_t i;
    const hu_pktsum *syn;
    /* A client that acknowledged the server got its SYN-ACK, captured or
     * not (a capture of one direction). */
    if (st->syns >= 2 && !f->synack_seen && !f->side[!f->client].seen &&
        !f->side[f->client].ack_seen && (syn = syn_named(f, st, &i))) {
        hu_incident_init(&inc, HU_KIND_CONNECT_TIMEOUT, f, syn);
        inc.tries = st->syns;
        inc.spent_us = st->last_syn_ts - st->syn_ts;
        inc.timeline_start = i;
        emit(fm, st, &inc);
        return;
    }
    if (st->pk && st->pk->held) {
        release_held(fm, f, st);
        return;
    }
    if (st->abort && !response_in_gap(f, st) && abort_proven(st, in)) {
        const hu_family_pkts *pk = st->pk;
        hu_incident_init(&inc, HU_KIND_ABORT, f, &pk->freq);
        inc.abort = st->abort == 'r' ? "rst" : "fin";
        if (st->abort == 'r')
            inc.rst = &pk->abort;
        else
            inc.fin = &pk->abort;
        if (pk->late_rst.num)   /* the client's first RST at or after the abort */
            inc.rst = &pk->late_rst;
        inc.late_response_rst = st->late_rst;
        inc.late_response_packet = st->late_rst ? (int64_t)st->late_resp_num : -1;
        inc.timeline_start = ring_index(f, pk->freq.num);
        emit(fm, st, &inc);
    }
}

bool hu_family_waiting(const hu_flow *f, const hu_family_conn *fc)
{
    return !fc->done &&
           (fc->abort || (fc->syns > 0 && !f->synack_seen) || (fc->pk && fc->pk->held));
}

bool hu_family_reported(const hu_family_conn *fc) { return fc->done; }

void hu_family_idle(hu_family_conn *fc)
{
    if (!fc->pk || fc->abort || fc->pk->held)
        return;
    hu_family_conn_free(fc);
    fc->req_active = false;
    fc->req_acked = false;
    fc->resp_seen = false;
}

void hu_family_conn_free(hu_family_conn *fc)
{
    if (fc->pk) {
        hu_pktsum_clear(&fc->pk->freq);
        hu_pktsum_clear(&fc->pk->abort);
        hu_pktsum_clear(&fc->pk->late_rst);
        if (fc->pk->held) {
            hu_pktsum_clear(&fc->pk->held->close);
            free(fc->pk->held);
        }
        free(fc->pk);
        fc->pk = NULL;
    }
}
