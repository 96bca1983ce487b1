/*
 * incident.c -- the incident model: names, policies, and records.
 *
 * Everything that decides what an incident means lives here, once: the
 * kinds' and verdicts' names, which incidents are safe to retry, which
 * well-known server timeouts a wait matches, the reassembly paths' names,
 * and how a detector's finding on a live connection becomes a record that
 * outlives it (its timeline rendered as tcpdump -n lines while the
 * connection's ring still holds the packets).  Definitions:
 * docs/DESIGN.md §2.
 */
#include "hangup/incident.h"
#include "hangup/reasm.h"
#include "hangup/strbuf.h"
#include "hangup/tcpprint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[HU_KIND_COUNT] = {
    [HU_KIND_RACE] = "keepalive-race",
    [HU_KIND_SERVER_TIMEOUT] = "server-timeout",
    [HU_KIND_RESET] = "reset-before-response",
    [HU_KIND_ABORT] = "client-abort",
    [HU_KIND_REFUSED] = "refused",
    [HU_KIND_CONNECT_TIMEOUT] = "connect-timeout",
    [HU_KIND_TRUNCATED] = "truncated-response",
    [HU_KIND_CLOSED] = "closed-before-response",
    [HU_KIND_GATEWAY] = "gateway-error",
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

const char *hu_verdict_name(hu_verdict v)
{
    return v == HU_VERDICT_STALE ? "stale" : "crossed";
}

static const char *const ds_outcome_names[] = {
    [HU_DS_UNKNOWN] = "unknown", [HU_DS_RETRIED] = "retried",
    [HU_DS_BAD_GATEWAY] = "bad-gateway", [HU_DS_CLOSED] = "closed",
    [HU_DS_ANSWERED] = "answered",
};

const char *hu_ds_outcome_name(hu_ds_outcome o)
{
    return (unsigned)o < sizeof ds_outcome_names / sizeof *ds_outcome_names
               ? ds_outcome_names[o] : "unknown";
}

hu_ds_outcome hu_ds_outcome_parse(const char *s)
{
    for (unsigned i = 0; s && i < sizeof ds_outcome_names / sizeof *ds_outcome_names; i++)
        if (strcmp(s, ds_outcome_names[i]) == 0)
            return (hu_ds_outcome)i;
    return HU_DS_UNKNOWN;
}

const char *hu_reasm_name(uint8_t mode)
{
    switch (mode) {
    case HU_REASM_NIDS: return "libnids";
    case HU_REASM_SEGMENTS: return "segments";
    default: return "none";
    }
}

uint8_t hu_reasm_parse(const char *name)
{
    return strcmp(name, "libnids") == 0    ? HU_REASM_NIDS
           : strcmp(name, "segments") == 0 ? HU_REASM_SEGMENTS
                                           : HU_REASM_NONE;
}

const char *hu_reasm_explain(uint8_t mode)
{
    switch (mode) {
    case HU_REASM_NIDS: return "full (libnids)";
    case HU_REASM_SEGMENTS: return "per segment (handshake not captured or not followed by libnids)";
    default: return "none (no payload)";
    }
}

/* Well-known server-side timeouts a server-timeout's wait is matched
 * against, within 5 %. */
static const struct { int64_t us; const char *name; } known_timeouts[] = {
    { 120000000, "node server.timeout 120 s" },
    { 300000000, "node requestTimeout 300 s" },
    { 60000000, "node headersTimeout 60 s or a proxy's read timeout 60 s" },
};
#define N_KNOWN_TIMEOUTS (sizeof known_timeouts / sizeof known_timeouts[0])

const char *hu_timeout_hint(int64_t wait_us)
{
    for (size_t i = 0; i < N_KNOWN_TIMEOUTS; i++)
        if (wait_us >= known_timeouts[i].us * 95 / 100 &&
            wait_us <= known_timeouts[i].us * 105 / 100)
            return known_timeouts[i].name;
    return NULL;
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

bool hu_incident_safe_to_retry(const hu_incident *inc)
{
    bool idempotent = inc->request.http && hu_method_idempotent(inc->request.method);
    switch (inc->kindid) {
    case HU_KIND_RACE:
        return !inc->server_acked || idempotent;
    case HU_KIND_REFUSED:
    case HU_KIND_CONNECT_TIMEOUT:
        return true;
    default:
        return idempotent;
    }
}

/* Add one timeline entry for summary e of flow f; note may be NULL. */
static bool tl_add(hu_incident_rec *r, const hu_flow *f, const hu_pktsum *e, const char *note,
                   uint64_t omitted)
{
    hu_tl_entry *t = &r->timeline[r->ntimeline];
    memset(t, 0, sizeof *t);
    t->num = e->num;
    t->ts_us = e->ts_us;
    t->from_client = e->side == f->client;
    t->flags = e->flags;
    t->seq = e->seq;
    t->ack = e->ack;
    t->len = e->paylen;
    t->omitted_before = omitted;
    hu_tcpprint_ends ends = { f->ipver, { f->addr[0], f->addr[1] }, { f->port[0], f->port[1] } };
    hu_sb sb = {0};
    hu_tcpprint_line(&sb, &ends, e);
    t->line = sb.buf ? sb.buf : strdup("");
    t->note = note ? strdup(note) : NULL;
    r->ntimeline++;
    return t->line && (!note || t->note);
}

/* "packet N": the capture's packet num, named by its file and its number
 * there when the capture is a set of files (fs). */
static void put_packet(hu_sb *sb, const hu_fileset *fs, uint64_t num)
{
    uint64_t local;
    const char *file = hu_fileset_count(fs) > 1 ? hu_fileset_name(fs, num, &local) : NULL;
    if (file) {
        hu_sb_printf(sb, "packet %" PRIu64 " in ", local);
        hu_sb_safe(sb, (const uint8_t *)file, strlen(file));
    } else {
        hu_sb_printf(sb, "packet %" PRIu64, num);
    }
}

/* The timeline: the connection's packets from its last exchange before
 * the FIN to the RST, each exactly as tcpdump -n prints it, with notes on
 * the three packets of the incident (fs: as hu_incident_rec_new). */
static bool build_timeline(hu_incident_rec *r, const hu_incident *inc, const hu_fileset *fs)
{
    const hu_flow *f = inc->flow;
    uint32_t start = inc->timeline_start;
    const hu_pktsum *first = f->ring_len ? hu_flow_ring_at(f, start) : NULL;
    r->timeline = calloc(f->ring_len + 4u, sizeof *r->timeline);
    if (!r->timeline)
        return false;
    /* The notes on the incident's own packets. */
    hu_sb rq = {0}, fin_sb = {0}, rst_sb = {0}, resp_sb = {0};
    bool race = inc->kindid == HU_KIND_RACE;
    if (race) {
        hu_sb_puts(&rq, "late request: ");
        hu_request_describe(&rq, &inc->request);
        hu_sb_puts(&rq, " (");
        hu_sb_duration(&rq, inc->gap_us < 0 ? -inc->gap_us : inc->gap_us);
        hu_sb_printf(&rq, " %s the FIN, ", inc->gap_us < 0 ? "before" : "after");
        put_packet(&rq, fs, inc->req->num);
        hu_sb_putc(&rq, ')');
    } else if (inc->kindid == HU_KIND_REFUSED || inc->kindid == HU_KIND_CONNECT_TIMEOUT) {
        hu_sb_puts(&rq, "the client's SYN (");
        put_packet(&rq, fs, inc->req->num);
        hu_sb_putc(&rq, ')');
    } else {
        hu_sb_puts(&rq, "request: ");
        hu_request_describe(&rq, &inc->request);
        hu_sb_puts(&rq, " (");
        put_packet(&rq, fs, inc->req->num);
        hu_sb_putc(&rq, ')');
    }
    bool client_closes = inc->kindid == HU_KIND_ABORT;
    if (inc->fin) {
        hu_sb_printf(&fin_sb, "%s FIN: the %s closes the connection (",
                     client_closes ? "client" : "server", client_closes ? "client" : "server");
        put_packet(&fin_sb, fs, inc->fin->num);
        hu_sb_putc(&fin_sb, ')');
    }
    if (inc->rst) {
        hu_sb_printf(&rst_sb, "%s RST%s (", client_closes ? "client" : "server",
                     race ? ": the server's kernel rejects the request"
                     : inc->kindid == HU_KIND_REFUSED ? ": nothing listens on the port" : "");
        put_packet(&rst_sb, fs, inc->rst->num);
        hu_sb_putc(&rst_sb, ')');
    }
    if (inc->resp) {
        hu_sb_printf(&resp_sb, "response: %d, the server's answer (", inc->status);
        put_packet(&resp_sb, fs, inc->resp->num);
        hu_sb_putc(&resp_sb, ')');
    }
    const char *fin_note = hu_sb_cstr(&fin_sb), *rst_note = hu_sb_cstr(&rst_sb),
               *resp_note = hu_sb_cstr(&resp_sb);
    bool ok = !rq.oom && !fin_sb.oom && !rst_sb.oom && !resp_sb.oom;
    /* Incident packets that left the ring on a busy connection come first,
     * so the timeline always shows them. */
    const hu_pktsum *mine[4] = { inc->req, inc->fin, inc->rst, inc->resp };
    const char *notes[4] = { hu_sb_cstr(&rq), fin_note, rst_note, resp_note };
    bool pinned = false;
    for (int pass = 0; pass < 4; pass++) {
        const hu_pktsum *e = NULL;
        int which = -1;
        for (int k = 0; k < 4; k++)   /* the earliest not yet pinned, in packet order */
            if (mine[k] && (!first || mine[k]->num < first->num) &&
                (!e || mine[k]->num < e->num)) {
                e = mine[k];
                which = k;
            }
        if (!e)
            break;
        ok &= tl_add(r, f, e, notes[which], 0);
        mine[which] = NULL;
        pinned = true;
    }
    uint64_t omitted = pinned ? f->ring_dropped + start : 0;
    for (uint32_t i = start; ok && i < f->ring_len; i++) {
        const hu_pktsum *e = hu_flow_ring_at(f, i);
        const char *n = inc->fin && e->num == inc->fin->num   ? fin_note
                        : inc->req && e->num == inc->req->num ? hu_sb_cstr(&rq)
                        : inc->rst && e->num == inc->rst->num ? rst_note
                        : inc->resp && e->num == inc->resp->num ? resp_note
                                                                : NULL;
        ok &= tl_add(r, f, e, n && *n ? n : NULL, i == start ? omitted : 0);
    }
    hu_sb_free(&rq);
    hu_sb_free(&fin_sb);
    hu_sb_free(&rst_sb);
    hu_sb_free(&resp_sb);
    return ok;
}

/* A side's identity into the record's three strings (left "" when id is
 * NULL); the sizes are the record's. */
static void sw_copy(char name[HU_SW_NAME_MAX], char kind[16], char evidence[HU_SW_EVIDENCE_MAX],
                    const hu_sw_ident *id)
{
    if (!id)
        return;
    const char *k = hu_sw_kind_name((hu_sw_kind)id->kind);
    snprintf(name, HU_SW_NAME_MAX, "%s", id->name);
    snprintf(kind, 16, "%s", k ? k : "");
    snprintf(evidence, HU_SW_EVIDENCE_MAX, "%s", id->evidence);
}

hu_incident_rec *hu_incident_rec_new(const hu_incident *inc, const char *file, uint64_t number,
                                     const hu_fileset *fs)
{
    hu_incident_rec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    const hu_flow *f = inc->flow;
    r->number = number;
    r->kind = inc->kind;
    r->kindid = inc->kindid;
    r->verdict = inc->verdict;
    uint64_t local;
    const char *req_file = hu_fileset_count(fs) > 1 ? hu_fileset_name(fs, inc->req->num, &local)
                                                    : NULL;
    r->file = req_file ? req_file : file;
    r->ipver = f->ipver;
    memcpy(r->cli_addr, f->addr[inc->client], 16);
    memcpy(r->srv_addr, f->addr[inc->server], 16);
    r->cli_port = f->port[inc->client];
    r->srv_port = f->port[inc->server];
    r->conn_id = f->id;
    hu_cid_tcp(r->community_id, 0, r->ipver, r->cli_addr, r->cli_port, r->srv_addr,
               r->srv_port);
    if (inc->fin)
        r->fin = (hu_pktref){ inc->fin->num, inc->fin->ts_us, 0 };
    r->req = (hu_pktref){ inc->req->num, inc->req->ts_us, 0 };
    if (inc->rst)
        r->rst = (hu_pktref){ inc->rst->num, inc->rst->ts_us, 0 };
    r->gap_us = inc->gap_us;
    r->rtt_us = inc->rtt_us;
    r->rst_ack = inc->rst_ack;
    r->handshake_seen = inc->handshake_seen;
    r->server_acked = inc->server_acked;
    r->safe_to_retry = hu_incident_safe_to_retry(inc);
    r->request = inc->request;
    r->requests_before = inc->requests_before;
    r->idle_us = inc->idle_us;
    r->server_idle_close_us = inc->server_idle_close_us;
    r->close_announced = inc->close_announced;
    r->keepalive_hint_s = inc->keepalive_hint_s;
    if (inc->sni)
        snprintf(r->sni, sizeof r->sni, "%s", inc->sni);
    r->reasm = inc->reasm;
    r->retry_delay_us = -1;
    r->wait_us = inc->wait_us;
    snprintf(r->close, sizeof r->close, "%s", inc->close ? inc->close : "");
    snprintf(r->abort, sizeof r->abort, "%s", inc->abort ? inc->abort : "");
    r->timeout_hint = inc->kindid == HU_KIND_SERVER_TIMEOUT ? hu_timeout_hint(inc->wait_us) : NULL;
    r->late_response_rst = inc->late_response_rst;
    r->late_response_packet = inc->late_response_packet;
    r->tries = inc->tries;
    r->spent_us = inc->spent_us;
    r->expected_bytes = inc->expected_bytes;
    r->received_bytes = inc->received_bytes;
    r->status = inc->status ? inc->status : -1;
    if (inc->resp)
        r->resp = (hu_pktref){ inc->resp->num, inc->resp->ts_us, 0 };
    hu_gaps_count g0 = hu_gaps_of(f->gaps, 0), g1 = hu_gaps_of(f->gaps, 1);
    r->capture_gaps = g0.count + g1.count;
    r->capture_gap_bytes = g0.bytes + g1.bytes;
    int seen = hu_flow_one_sided(f);
    if (seen >= 0)
        snprintf(r->one_sided, sizeof r->one_sided, "%s",
                 seen == inc->client ? "client" : "server");
    sw_copy(r->client_software, r->client_kind, r->client_evidence, inc->client_sw);
    sw_copy(r->server_software, r->server_kind, r->server_evidence, inc->server_sw);
    if (!build_timeline(r, inc, fs)) {
        hu_incident_rec_free(r);
        return NULL;
    }
    return r;
}

void hu_incident_rec_free(hu_incident_rec *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ntimeline; i++) {
        free(r->timeline[i].line);
        free(r->timeline[i].note);
        free(r->timeline[i].file);
    }
    free(r->timeline);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    free(r->file_owned);
    free(r);
}

const char *hu_incident_rec_file(const hu_incident_rec *r, uint32_t idx)
{
    return idx && idx <= r->nfiles ? r->files[idx - 1] : r->file;
}

uint32_t hu_incident_rec_add_file(hu_incident_rec *r, const char *path)
{
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i], path) == 0)
            return (uint32_t)i + 1;
    char **nf = realloc(r->files, (r->nfiles + 1) * sizeof *nf);
    if (!nf)
        return 0;
    r->files = nf;
    if (!(r->files[r->nfiles] = strdup(path)))
        return 0;
    return (uint32_t)++r->nfiles;
}

/* One reference made local: its number in its file, and which file. */
static bool localize_ref(hu_incident_rec *r, const hu_fileset *fs, hu_pktref *p)
{
    if (!p->num)
        return true;
    uint64_t local;
    const char *path = hu_fileset_name(fs, p->num, &local);
    uint32_t k = hu_incident_rec_add_file(r, path);
    if (!k)
        return false;
    p->num = local;
    p->file = k;
    return true;
}

bool hu_incident_rec_localize(hu_incident_rec *r, const hu_fileset *fs)
{
    if (hu_fileset_count(fs) < 2)
        return true;
    /* Every file is looked up first (the only step that can fail), then
     * every number rewritten. */
    hu_pktref *refs[] = { &r->fin, &r->req, &r->rst, &r->resp, &r->ds.request,
                          &r->ds.response, &r->ds.close, &r->ds.retry };
    hu_pktref late = { r->late_response_packet > 0 ? (uint64_t)r->late_response_packet : 0, 0,
                       0 };
    bool ok = true;
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
        ok &= localize_ref(r, fs, refs[i]);
    ok &= localize_ref(r, fs, &late);
    if (late.num) {
        r->late_response_packet = (int64_t)late.num;
        r->late_response_file = late.file;
    }
    for (size_t i = 0; ok && i < r->ntimeline; i++) {
        hu_tl_entry *t = &r->timeline[i];
        uint64_t local;
        const char *path = hu_fileset_name(fs, t->num, &local);
        ok = (t->file = strdup(path)) != NULL;
        t->num = local;
    }
    r->file = hu_incident_rec_file(r, r->req.file);
    return ok;
}

/* What the packets prove, per kind, in the words of the report's "What
 * happened" (report.c), shortened to one line. */
void hu_incident_rec_oneline(hu_sb *sb, const hu_incident_rec *r)
{
    hu_sb_printf(sb, "hangup #%" PRIu64 " %s", r->number, r->kind);
    if (r->kindid == HU_KIND_RACE)
        hu_sb_printf(sb, " (%s)", hu_verdict_name(r->verdict));
    hu_sb_puts(sb, " in ");
    hu_sb_safe(sb, (const uint8_t *)r->file, strlen(r->file));
    hu_sb_puts(sb, ": ");
    const hu_request *rq = &r->request;
    const char *closed = r->rst.num ? "RST" : "FIN";
    switch (r->kindid) {
    case HU_KIND_RACE:
        hu_request_describe(sb, rq);
        hu_sb_puts(sb, " captured ");
        hu_sb_duration(sb, r->gap_us < 0 ? -r->gap_us : r->gap_us);
        hu_sb_printf(sb, " %s the server's FIN; the server's kernel answered with %s",
                     r->gap_us < 0 ? "before" : "after", r->rst_ack ? "RST+ACK" : "a bare RST");
        if (r->server_acked)
            hu_sb_puts(sb, " after acknowledging request bytes");
        break;
    case HU_KIND_SERVER_TIMEOUT:
    case HU_KIND_RESET:
    case HU_KIND_CLOSED:
        hu_sb_puts(sb, "the server acknowledged ");
        hu_request_describe(sb, rq);
        hu_sb_puts(sb, " and never answered; ");
        hu_sb_duration(sb, r->wait_us);
        hu_sb_printf(sb, " later it closed with %s", closed);
        if (r->timeout_hint)
            hu_sb_printf(sb, " (that is %s)", r->timeout_hint);
        break;
    case HU_KIND_ABORT:
        hu_sb_puts(sb, "the client gave up on ");
        hu_request_describe(sb, rq);
        hu_sb_printf(sb, " with its %s before the answer", r->abort[0] == 'r' ? "RST" : "FIN");
        if (r->late_response_packet > 0)
            hu_sb_printf(sb, "; the server's response came later%s",
                         r->late_response_rst ? " and met an RST" : "");
        break;
    case HU_KIND_REFUSED:
        hu_sb_puts(sb, "the client's SYN was answered by RST: nothing listened on the port");
        break;
    case HU_KIND_CONNECT_TIMEOUT:
        hu_sb_printf(sb, "the client sent its SYN %d times over ", r->tries);
        hu_sb_duration(sb, r->spent_us);
        hu_sb_puts(sb, " and never got an answer");
        break;
    case HU_KIND_TRUNCATED:
        hu_sb_puts(sb, "the response to ");
        hu_request_describe(sb, rq);
        hu_sb_printf(sb, " stopped after %" PRId64 " body bytes", r->received_bytes);
        if (r->expected_bytes >= 0)
            hu_sb_printf(sb, " of %" PRId64, r->expected_bytes);
        else
            hu_sb_puts(sb, " of a chunked body that never ended");
        hu_sb_printf(sb, "; the server closed with %s", closed);
        break;
    case HU_KIND_GATEWAY:
        hu_sb_puts(sb, "the server answered ");
        hu_request_describe(sb, rq);
        hu_sb_printf(sb, " with %d: a proxy's or load balancer's own answer that its upstream "
                         "failed", r->status);
        if (r->cause)
            hu_sb_printf(sb, " (incident #%" PRIu64 ")", r->cause);
        break;
    default:
        break;
    }
    hu_sb_printf(sb, "; safe to retry: %s", r->safe_to_retry ? "yes" : "not proven");
}
