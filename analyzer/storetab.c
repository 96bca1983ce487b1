/*
 * storetab.c -- hangup's tables as column tables (storecol.h): how an
 * incident, its timeline, a connection and a server summary become rows
 * and back.  Both stores use them, the SQLite one (store.c) and the
 * PostgreSQL one (storepg.c), so the two have the same columns with the
 * same meanings by construction.
 */
#include "storetab.h"
#include "hangup/incident.h"
#include "hangup/servers.h"
#include "hangup/storerow.h"
#include "hangup/tcpprint.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool always(const void *rec) { (void)rec; return true; }

static const hu_incident_rec *inc(const void *rec) { return rec; }
static bool is_race(const void *rec) { return inc(rec)->kindid == HU_KIND_RACE; }
static bool is_connect_timeout(const void *rec)
{
    return inc(rec)->kindid == HU_KIND_CONNECT_TIMEOUT;
}
static bool has_fin(const void *rec) { return inc(rec)->fin.num != 0; }
static bool has_rst(const void *rec) { return inc(rec)->rst.num != 0; }
static bool has_abort(const void *rec) { return inc(rec)->abort[0] != '\0'; }
static bool late_packet_known(const void *rec)
{
    return has_abort(rec) && inc(rec)->late_response_packet >= 0;
}
static bool retried(const void *rec) { return inc(rec)->retried; }
static bool ds_linked(const void *rec) { return inc(rec)->ds.candidates == 1; }
static bool has_cause(const void *rec) { return inc(rec)->cause != 0; }
static bool has_resp(const void *rec) { return inc(rec)->resp.num != 0; }
static bool ds_status(const void *rec) { return ds_linked(rec) && inc(rec)->ds.status; }
static bool ds_response(const void *rec) { return ds_linked(rec) && inc(rec)->ds.response.num; }
static bool ds_close(const void *rec) { return ds_linked(rec) && inc(rec)->ds.close.num; }
static bool ds_retry(const void *rec) { return ds_linked(rec) && inc(rec)->ds.retry.num; }

static void bind_ds_outcome(hu_sc_out *q, int i, const void *rec)
{
    if (ds_linked(rec))
        hu_sc_text(q, i, hu_ds_outcome_name(inc(rec)->ds.outcome), -1);
}

static bool load_ds_outcome(const hu_sc_in *q, int i, void *rec)
{
    ((hu_incident_rec *)rec)->ds.outcome = hu_ds_outcome_parse(hu_storecol_text(q, i));
    return true;
}

static void bind_kind(hu_sc_out *q, int i, const void *rec)
{
    hu_sc_text(q, i, inc(rec)->kind, -1);
}

static bool load_kind(const hu_sc_in *q, int i, void *rec)
{
    hu_incident_rec *r = rec;
    const char *t = hu_storecol_text(q, i);
    int kid = hu_kind_parse(t ? t : "");
    r->kindid = kid < 0 ? HU_KIND_RACE : (hu_kind)kid;
    r->kind = hu_kind_name(r->kindid);
    return true;
}

static void bind_verdict(hu_sc_out *q, int i, const void *rec)
{
    if (is_race(rec))
        hu_sc_text(q, i, hu_verdict_name(inc(rec)->verdict), -1);
}

static bool load_verdict(const hu_sc_in *q, int i, void *rec)
{
    const char *t = hu_storecol_text(q, i);
    bool stale = t && strcmp(t, hu_verdict_name(HU_VERDICT_STALE)) == 0;
    ((hu_incident_rec *)rec)->verdict = stale ? HU_VERDICT_STALE : HU_VERDICT_CROSSED;
    return true;
}

/* A loaded record owns its strings in one block, file_owned (which
 * hu_incident_rec_free frees): the file name, then the timeout hint. */
static bool own_strings(hu_incident_rec *r, const char *file, const char *hint)
{
    size_t fl = strlen(file) + 1, hl = hint ? strlen(hint) + 1 : 0;
    char *b = malloc(fl + hl);
    if (!b)
        return false;
    memcpy(b, file, fl);
    if (hint)
        memcpy(b + fl, hint, hl);
    free(r->file_owned);
    r->file_owned = b;
    r->file = b;
    r->timeout_hint = hint ? b + fl : NULL;
    return true;
}

/* A packet's file (hu_pktref.file) as its column: NULL for a capture of
 * one file; loaded back into the record's own list. */
static void bind_ref_file(hu_sc_out *q, int i, const hu_incident_rec *r, uint32_t idx)
{
    if (r->nfiles && idx)
        hu_sc_text(q, i, hu_incident_rec_file(r, idx), -1);
}

static bool load_ref_file(const hu_sc_in *q, int i, hu_incident_rec *r, uint32_t *idx)
{
    const char *t = hu_storecol_text(q, i);
    return !t || (*idx = hu_incident_rec_add_file(r, t)) != 0;
}

#define REF_FILE(name, field)                                                    \
    static void bind_##name(hu_sc_out *q, int i, const void *rec)             \
    {                                                                            \
        bind_ref_file(q, i, inc(rec), inc(rec)->field);                          \
    }                                                                            \
    static bool load_##name(const hu_sc_in *q, int i, void *rec)                   \
    {                                                                            \
        return load_ref_file(q, i, rec, &((hu_incident_rec *)rec)->field);       \
    }
REF_FILE(fin_file, fin.file)
REF_FILE(request_file, req.file)
REF_FILE(rst_file, rst.file)
REF_FILE(response_file, resp.file)
REF_FILE(late_response_file, late_response_file)
REF_FILE(ds_request_file, ds.request.file)
REF_FILE(ds_response_file, ds.response.file)
REF_FILE(ds_close_file, ds.close.file)
REF_FILE(ds_retry_file, ds.retry.file)
#undef REF_FILE

static void bind_file(hu_sc_out *q, int i, const void *rec)
{
    hu_sc_text(q, i, inc(rec)->file, -1);
}

static bool load_file(const hu_sc_in *q, int i, void *rec)
{
    hu_incident_rec *r = rec;
    const char *t = hu_storecol_text(q, i);
    return own_strings(r, t ? t : "", r->timeout_hint);
}

/* The hint is family.c's static string when the record was built, and is
 * stored as its text; a loaded record keeps its own copy (own_strings), so
 * the store needs no table of the hints and a reworded hint still shows. */
static void bind_timeout_hint(hu_sc_out *q, int i, const void *rec)
{
    if (inc(rec)->timeout_hint)
        hu_sc_text(q, i, inc(rec)->timeout_hint, -1);
}

static bool load_timeout_hint(const hu_sc_in *q, int i, void *rec)
{
    hu_incident_rec *r = rec;
    const char *t = hu_storecol_text(q, i);
    return !t || own_strings(r, r->file ? r->file : "", t);
}

static void bind_method(hu_sc_out *q, int i, const void *rec)
{
    if (inc(rec)->request.http)
        hu_sc_text(q, i, inc(rec)->request.method, -1);
}

static bool load_method(const hu_sc_in *q, int i, void *rec)
{
    hu_request *rq = &((hu_incident_rec *)rec)->request;
    const char *t = hu_storecol_text(q, i);
    if (t) {
        rq->http = true;
        snprintf(rq->method, sizeof rq->method, "%s", t);
    }
    return true;
}

/* Bytes of column i into buf (cap bytes); their length, 0 when they do
 * not fit. */
static size_t load_bytes(const hu_sc_in *q, int i, uint8_t *buf, size_t cap)
{
    size_t len;
    const void *b = hu_sc_get_text(q, i, &len);
    size_t n = len <= cap ? len : 0;
    if (b && n)
        memcpy(buf, b, n);
    return n;
}

static void bind_target(hu_sc_out *q, int i, const void *rec)
{
    const hu_request *rq = &inc(rec)->request;
    if (rq->http)
        hu_sc_text(q, i, (const char *)rq->target, (int)rq->target_len);
}

static bool load_target(const hu_sc_in *q, int i, void *rec)
{
    hu_request *rq = &((hu_incident_rec *)rec)->request;
    rq->target_len = load_bytes(q, i, rq->target, sizeof rq->target);
    return true;
}

static void bind_host(hu_sc_out *q, int i, const void *rec)
{
    const hu_request *rq = &inc(rec)->request;
    if (rq->has_host)
        hu_sc_text(q, i, (const char *)rq->host, (int)rq->host_len);
}

static bool load_host(const hu_sc_in *q, int i, void *rec)
{
    hu_request *rq = &((hu_incident_rec *)rec)->request;
    if (!hu_sc_null(q, i)) {
        rq->has_host = true;
        rq->host_len = load_bytes(q, i, rq->host, sizeof rq->host);
    }
    return true;
}

static void bind_reasm(hu_sc_out *q, int i, const void *rec)
{
    hu_sc_text(q, i, hu_reasm_name(inc(rec)->reasm), -1);
}

static bool load_reasm(const hu_sc_in *q, int i, void *rec)
{
    hu_incident_rec *r = rec;
    const char *t = hu_storecol_text(q, i);
    r->reasm = hu_reasm_parse(t ? t : "");
    return true;
}

/* A column's name, type and place; a custom column's functions. */
#define COL(n, t, o) .name = n, .type = t, .off = o
#define CUSTOM(n, f) .name = n, .type = HU_SC_CUSTOM, .bind = bind_##f, .load = load_##f

#define INC(field) offsetof(hu_incident_rec, field)
#define INC_STR(n, field) \
    COL(n, HU_SC_STR, INC(field)), .size = sizeof ((hu_incident_rec *)0)->field

static const hu_storecol incident_cols[] = {
    { COL("capture_id", HU_SC_OWNER, 0) },
    { COL("number", HU_SC_U64, INC(number)) },
    { CUSTOM("kind", kind) },
    { CUSTOM("verdict", verdict) },
    { COL("ip_version", HU_SC_U8, INC(ipver)) },
    { COL("client_addr", HU_SC_ADDR, INC(cli_addr)), .size = INC(ipver) },
    { COL("client_port", HU_SC_U16, INC(cli_port)) },
    { COL("server_addr", HU_SC_ADDR, INC(srv_addr)), .size = INC(ipver) },
    { COL("server_port", HU_SC_U16, INC(srv_port)) },
    { CUSTOM("file", file) },
    { COL("fin_packet", HU_SC_U64, INC(fin.num)), .when = has_fin },
    { COL("request_packet", HU_SC_U64, INC(req.num)) },
    { COL("rst_packet", HU_SC_U64, INC(rst.num)), .when = has_rst },
    { COL("fin_time", HU_SC_I64, INC(fin.ts_us)), .when = has_fin },
    { COL("request_time", HU_SC_I64, INC(req.ts_us)) },
    { COL("rst_time", HU_SC_I64, INC(rst.ts_us)), .when = has_rst },
    { COL("gap_us", HU_SC_I64, INC(gap_us)), .when = is_race },
    { COL("rtt_us", HU_SC_OPT, INC(rtt_us)) },
    { COL("rst_ack", HU_SC_BOOL, INC(rst_ack)), .when = has_rst },
    { CUSTOM("method", method) },
    { CUSTOM("target", target) },
    { COL("tls", HU_SC_BOOL, INC(request.tls)) },
    { COL("tls_decrypted", HU_SC_BOOL, INC(request.decrypted)) },
    { COL("handshake_seen", HU_SC_BOOL, INC(handshake_seen)) },
    { COL("safe_to_retry", HU_SC_BOOL, INC(safe_to_retry)) },
    { CUSTOM("host", host) },
    { INC_STR("http_version", request.version) },
    { COL("content_length", HU_SC_OPT, INC(request.content_length)) },
    { COL("requests_before", HU_SC_OPT, INC(requests_before)) },
    { COL("idle_us", HU_SC_OPT, INC(idle_us)) },
    { COL("server_idle_close_us", HU_SC_OPT, INC(server_idle_close_us)) },
    { COL("close_announced", HU_SC_BOOL, INC(close_announced)) },
    { COL("keepalive_hint_s", HU_SC_OPT_INT, INC(keepalive_hint_s)) },
    { INC_STR("sni", sni) },
    { COL("retried", HU_SC_BOOL, INC(retried)) },
    { COL("retry_delay_us", HU_SC_OPT, INC(retry_delay_us)), .when = retried },
    { CUSTOM("reassembly", reasm) },
    { COL("server_acked", HU_SC_BOOL, INC(server_acked)) },
    { COL("request_complete", HU_SC_BOOL, INC(request.complete)) },
    { COL("connection", HU_SC_U64, INC(conn_id)) },
    { INC_STR("community_id", community_id) },
    { COL("wait_us", HU_SC_OPT, INC(wait_us)) },
    { INC_STR("close", close) },
    { CUSTOM("timeout_hint", timeout_hint) },
    { INC_STR("abort", abort) },
    { COL("late_response_rst", HU_SC_BOOL, INC(late_response_rst)), .when = has_abort },
    { COL("late_response_packet", HU_SC_OPT, INC(late_response_packet)),
      .when = late_packet_known },
    { COL("tries", HU_SC_OPT_INT, INC(tries)), .when = is_connect_timeout },
    { COL("spent_us", HU_SC_OPT, INC(spent_us)) },
    { COL("expected_bytes", HU_SC_OPT, INC(expected_bytes)) },
    { COL("received_bytes", HU_SC_OPT, INC(received_bytes)) },
    { INC_STR("client_software", client_software) },
    { INC_STR("client_kind", client_kind) },
    { INC_STR("client_evidence", client_evidence) },
    { INC_STR("server_software", server_software) },
    { INC_STR("server_kind", server_kind) },
    { INC_STR("server_evidence", server_evidence) },
    { COL("downstream_candidates", HU_SC_U32, INC(ds.candidates)) },
    { COL("downstream_ip_version", HU_SC_U8, INC(ds.ipver)), .when = ds_linked },
    { COL("downstream_client_addr", HU_SC_ADDR, INC(ds.cli_addr)), .size = INC(ds.ipver),
      .when = ds_linked },
    { COL("downstream_client_port", HU_SC_U16, INC(ds.cli_port)), .when = ds_linked },
    { COL("downstream_proxy_addr", HU_SC_ADDR, INC(ds.srv_addr)), .size = INC(ds.ipver),
      .when = ds_linked },
    { COL("downstream_proxy_port", HU_SC_U16, INC(ds.srv_port)), .when = ds_linked },
    { COL("downstream_connection", HU_SC_U64, INC(ds.conn_id)), .when = ds_linked },
    { COL("downstream_request_packet", HU_SC_U64, INC(ds.request.num)), .when = ds_linked },
    { COL("downstream_request_time", HU_SC_I64, INC(ds.request.ts_us)), .when = ds_linked },
    { CUSTOM("downstream_outcome", ds_outcome) },
    { COL("downstream_status", HU_SC_OPT_INT, INC(ds.status)), .when = ds_status },
    { COL("downstream_response_packet", HU_SC_U64, INC(ds.response.num)), .when = ds_response },
    { COL("downstream_response_time", HU_SC_I64, INC(ds.response.ts_us)), .when = ds_response },
    { COL("downstream_close_packet", HU_SC_U64, INC(ds.close.num)), .when = ds_close },
    { COL("downstream_close_time", HU_SC_I64, INC(ds.close.ts_us)), .when = ds_close },
    { COL("downstream_retry_packet", HU_SC_U64, INC(ds.retry.num)), .when = ds_retry },
    { COL("downstream_retry_time", HU_SC_I64, INC(ds.retry.ts_us)), .when = ds_retry },
    { COL("cause", HU_SC_U64, INC(cause)), .when = has_cause },
    { COL("status", HU_SC_OPT_INT, INC(status)) },
    { COL("response_packet", HU_SC_U64, INC(resp.num)), .when = has_resp },
    { COL("response_time", HU_SC_I64, INC(resp.ts_us)), .when = has_resp },
    { COL("capture_gaps", HU_SC_U32, INC(capture_gaps)) },
    { COL("capture_gap_bytes", HU_SC_U64, INC(capture_gap_bytes)) },
    { INC_STR("one_sided", one_sided) },
    { INC_STR("spool_key", spool_key) },
    { CUSTOM("fin_file", fin_file) },
    { CUSTOM("request_file", request_file) },
    { CUSTOM("rst_file", rst_file) },
    { CUSTOM("response_file", response_file) },
    { CUSTOM("late_response_file", late_response_file) },
    { CUSTOM("downstream_request_file", ds_request_file) },
    { CUSTOM("downstream_response_file", ds_response_file) },
    { CUSTOM("downstream_close_file", ds_close_file) },
    { CUSTOM("downstream_retry_file", ds_retry_file) },
    { COL("client", HU_SC_ENDPOINT, 0) },
    { COL("server", HU_SC_ENDPOINT, 0) },
};

/* One timeline entry (hu_tl_entry). */
static const hu_tl_entry *tle(const void *rec) { return rec; }

static void bind_sender(hu_sc_out *q, int i, const void *rec)
{
    hu_sc_text(q, i, tle(rec)->from_client ? "client" : "server", -1);
}

static bool load_sender(const hu_sc_in *q, int i, void *rec)
{
    const char *t = hu_storecol_text(q, i);
    ((hu_tl_entry *)rec)->from_client = t && strcmp(t, "client") == 0;
    return true;
}

/* tcpdump's flag letters, as the timeline's lines print them. */
static void bind_flags(hu_sc_out *q, int i, const void *rec)
{
    char b[9];
    size_t k = hu_tcpprint_flags(tle(rec)->flags, b);
    hu_sc_text(q, i, b, (int)k);
}

static void bind_line(hu_sc_out *q, int i, const void *rec)
{
    hu_sc_text(q, i, tle(rec)->line, -1);
}

static bool load_line(const hu_sc_in *q, int i, void *rec)
{
    const char *t = hu_storecol_text(q, i);
    return (((hu_tl_entry *)rec)->line = strdup(t ? t : "")) != NULL;
}

static void bind_note(hu_sc_out *q, int i, const void *rec)
{
    if (tle(rec)->note)
        hu_sc_text(q, i, tle(rec)->note, -1);
}

static bool load_note(const hu_sc_in *q, int i, void *rec)
{
    const char *t = hu_storecol_text(q, i);
    return !t || (((hu_tl_entry *)rec)->note = strdup(t)) != NULL;
}

static void bind_tlfile(hu_sc_out *q, int i, const void *rec)
{
    if (tle(rec)->file)
        hu_sc_text(q, i, tle(rec)->file, -1);
}

static bool load_tlfile(const hu_sc_in *q, int i, void *rec)
{
    const char *t = hu_storecol_text(q, i);
    return !t || (((hu_tl_entry *)rec)->file = strdup(t)) != NULL;
}

#define TL(field) offsetof(hu_tl_entry, field)

static const hu_storecol packet_cols[] = {
    { COL("incident_id", HU_SC_OWNER, 0) },
    { COL("idx", HU_SC_POS, 0) },
    { COL("packet", HU_SC_U64, TL(num)) },
    { COL("time", HU_SC_I64, TL(ts_us)) },
    { CUSTOM("sender", sender) },
    /* not read back: the line shows them */
    { .name = "flags", .type = HU_SC_CUSTOM, .bind = bind_flags },
    { COL("seq", HU_SC_U32, TL(seq)) },
    { COL("ack", HU_SC_U32, TL(ack)) },
    { COL("length", HU_SC_U32, TL(len)) },
    { COL("omitted_before", HU_SC_U64, TL(omitted_before)) },
    { CUSTOM("line", line) },
    { CUSTOM("note", note) },
    { CUSTOM("file", tlfile) },
};

#define CONN(field) offsetof(hu_conn_row, field)

static const hu_storecol connection_cols[] = {
    { COL("capture_id", HU_SC_OWNER, 0) },
    { COL("number", HU_SC_U64, CONN(number)) },
    { COL("ip_version", HU_SC_U8, CONN(ipver)) },
    { COL("client_addr", HU_SC_ADDR, CONN(cli_addr)), .size = CONN(ipver) },
    { COL("client_port", HU_SC_U16, CONN(cli_port)) },
    { COL("server_addr", HU_SC_ADDR, CONN(srv_addr)), .size = CONN(ipver) },
    { COL("server_port", HU_SC_U16, CONN(srv_port)) },
    { COL("first_time", HU_SC_I64, CONN(first_ts)) },
    { COL("last_time", HU_SC_I64, CONN(last_ts)) },
    { COL("packets", HU_SC_U64, CONN(packets)) },
    { COL("handshake_seen", HU_SC_BOOL, CONN(handshake_seen)) },
    { COL("rtt_us", HU_SC_OPT, CONN(rtt_us)) },
    { COL("reassembly", HU_SC_CSTR, CONN(reassembly)) },
    { COL("idle_close_us", HU_SC_OPT, CONN(idle_close_us)) },
    { COL("incident", HU_SC_BOOL, CONN(incident)) },
    { COL("capture_gaps", HU_SC_U32, CONN(capture_gaps)) },
    { COL("capture_gap_bytes", HU_SC_U64, CONN(capture_gap_bytes)) },
    { COL("one_sided", HU_SC_CSTR, CONN(one_sided)) },
    { COL("client", HU_SC_ENDPOINT, 0) },
    { COL("server", HU_SC_ENDPOINT, 0) },
};

#define SRV(field) offsetof(hu_server_summary, field)

static const hu_storecol server_cols[] = {
    { COL("capture_id", HU_SC_OWNER, 0) },
    { COL("ip_version", HU_SC_U8, SRV(ipver)) },
    { COL("connections", HU_SC_U64, SRV(connections)) },
    { COL("requests", HU_SC_U64, SRV(requests)) },
    { COL("idle_closes", HU_SC_U64, SRV(idle_closes)) },
    { COL("incidents", HU_SC_U64, SRV(incidents)) },
    { COL("crossed", HU_SC_U64, SRV(crossed)) },
    { COL("stale", HU_SC_U64, SRV(stale)) },
    { COL("idle_timeout_us", HU_SC_OPT, SRV(idle_timeout_us)) },
    { COL("idle_timeout_spread_us", HU_SC_OPT, SRV(idle_timeout_spread_us)) },
    { COL("max_reuse_idle_us", HU_SC_OPT, SRV(max_reuse_idle_us)) },
    { COL("rtt_us", HU_SC_OPT, SRV(rtt_us)) },
    { COL("race_risk", HU_SC_BOOL, SRV(race_risk)) },
    { COL("advice", HU_SC_STR, SRV(advice)), .size = sizeof ((hu_server_summary *)0)->advice,
      .when = always },
    { COL("software", HU_SC_STR, SRV(software)),
      .size = sizeof ((hu_server_summary *)0)->software },
    { COL("idle_timeout_default", HU_SC_CSTR, SRV(idle_timeout_default)) },
    /* the servers table keeps only the endpoint's text */
    { COL("server_addr", HU_SC_ADDR, SRV(addr)), .size = SRV(ipver), .param_only = true },
    { COL("server_port", HU_SC_U16, SRV(port)), .param_only = true },
    { COL("server", HU_SC_ENDPOINT, 0) },
};

const hu_storecol_table hu_store_incidents = HU_STORECOL_TABLE("incidents", incident_cols);
const hu_storecol_table hu_store_incident_packets =
    HU_STORECOL_TABLE("incident_packets", packet_cols);
const hu_storecol_table hu_store_connections = HU_STORECOL_TABLE("connections", connection_cols);
const hu_storecol_table hu_store_servers = HU_STORECOL_TABLE("servers", server_cols);

