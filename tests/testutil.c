/*
 * testutil.c -- see testutil.h.
 */
#include "testutil.h"
#include "hangup/analyze.h"
#include "hangup/strbuf.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void tu_conv_v4(tu_conv *c, const char *cli, uint16_t cport, const char *srv, uint16_t sport)
{
    memset(c, 0, sizeof *c);
    c->ipver = 4;
    inet_pton(AF_INET, cli, c->cli);
    inet_pton(AF_INET, srv, c->srv);
    c->cport = cport;
    c->sport = sport;
}

void tu_conv_v6(tu_conv *c, const char *cli, uint16_t cport, const char *srv, uint16_t sport)
{
    memset(c, 0, sizeof *c);
    c->ipver = 6;
    inet_pton(AF_INET6, cli, c->cli);
    inet_pton(AF_INET6, srv, c->srv);
    c->cport = cport;
    c->sport = sport;
}

void tu_pkt(hu_pkt *p, const tu_conv *c, bool from_client, uint64_t num, int64_t t_us,
            uint8_t flags, uint32_t seq, uint32_t ack, const char *payload, uint32_t len)
{
    memset(p, 0, sizeof *p);   /* l3 NULL: reassembly rebuilds the header */
    p->num = num;
    p->ts_us = t_us;
    p->pkttype = HU_PKTTYPE_NONE;
    p->ipver = c->ipver;
    memcpy(p->src, from_client ? c->cli : c->srv, 16);
    memcpy(p->dst, from_client ? c->srv : c->cli, 16);
    p->sport = from_client ? c->cport : c->sport;
    p->dport = from_client ? c->sport : c->cport;
    p->seq = seq;
    p->ack = ack;
    p->flags = flags;
    p->win = 512;
    p->paylen = p->capturedlen = len;
    p->payload = (const uint8_t *)payload;
}

static void collect(void *arg, hu_incident_rec *rec)
{
    tu_run *r = arg;
    if (r->ninc < 64) {
        tu_inc *t = &r->inc[r->ninc++];
        memset(t, 0, sizeof *t);
        t->kind = rec->kindid;
        t->verdict = rec->verdict;
        t->fin = rec->fin.num;
        t->req = rec->req.num;
        t->rst = rec->rst.num;
        t->gap_us = rec->gap_us;
        t->rtt_us = rec->rtt_us;
        t->rst_ack = rec->rst_ack;
        t->tls = rec->request.tls;
        t->http = rec->request.http;
        t->handshake_seen = rec->handshake_seen;
        t->safe = rec->safe_to_retry;
        t->retried = rec->retried;
        snprintf(t->method, sizeof t->method, "%s", rec->request.method);
        size_t n = rec->request.target_len < sizeof t->target - 1 ? rec->request.target_len
                                                                  : sizeof t->target - 1;
        memcpy(t->target, rec->request.target, n);
        t->target[n] = '\0';
    }
    hu_incident_rec_free(rec);
}

void tu_run_init(tu_run *r)
{
    memset(r, 0, sizeof *r);
    r->servers = hu_servers_new();
    hu_pipeline_cfg cfg = { .max_flows = 1000, .idle_us = 3600000000LL,
                            .halfclosed_us = 300000000LL, .closed_us = 60000000LL,
                            .streams = 1024, .source = "test", .dlt = -1,
                            .servers = r->servers, .sink = { .incident = collect, .arg = r } };
    const char *warn;
    r->pl = hu_pipeline_new(&cfg, &warn);
}

void tu_run_feed(tu_run *r, const hu_pkt *p)
{
    hu_pipeline_packet(r->pl, p, NULL);
}

void tu_run_end(tu_run *r)
{
    if (r->pl)
        hu_pipeline_end(r->pl);
}

void tu_run_fini(tu_run *r)
{
    hu_pipeline_free(r->pl);
    r->pl = NULL;
    hu_servers_free(r->servers);
    r->servers = NULL;
}

/* The sink of tu_analyze_file: keep the record whole. */
static void keep_rec(void *arg, hu_incident_rec *rec)
{
    tu_analysis *a = arg;
    hu_incident_rec **r = realloc(a->recs, (a->nrecs + 1) * sizeof *r);
    if (!r) {
        a->lost++;
        hu_incident_rec_free(rec);
        return;
    }
    a->recs = r;
    a->recs[a->nrecs++] = rec;
}

/* analyze.c's sizes, which it keeps to itself: libnids' table at most,
 * and how long a half-closed connection is kept. */
#define TU_NIDS_STREAMS_MAX 16384
#define TU_HALFCLOSED_US (300LL * 1000000)

tu_analysis *tu_analyze_file(const char *path)
{
    tu_analysis *a = calloc(1, sizeof *a);
    hu_servers *sv = hu_servers_new();
    if (!a || !sv || !(a->path = strdup(path))) {
        hu_servers_free(sv);
        tu_analysis_free(a);
        return NULL;
    }
    hu_analyze_opts o;
    hu_analyze_opts_default(&o);
    struct stat stt;   /* hu_analyzer_file: a stream per 4 KiB of file */
    size_t streams = stat(path, &stt) == 0 ? (size_t)(stt.st_size / 4096) : 0;
    if (streams > TU_NIDS_STREAMS_MAX)
        streams = TU_NIDS_STREAMS_MAX;
    hu_pipeline_cfg cfg = {
        .max_flows = o.max_flows, .idle_us = o.idle_us,
        .halfclosed_us = o.idle_us < TU_HALFCLOSED_US ? o.idle_us : TU_HALFCLOSED_US,
        .closed_us = o.closed_us, .streams = streams, .hold_incidents = true,
        .source = a->path, .dlt = -1, .servers = sv,
        .sink = { .incident = keep_rec, .arg = a },
    };
    hu_pipeline *pl = hu_pipeline_new(&cfg, &a->warn);
    if (!pl) {
        hu_servers_free(sv);
        tu_analysis_free(a);
        return NULL;
    }
    hu_sb prep_scratch = { 0 };
    hu_capture_cbs cb;
    hu_pipeline_capture_cbs(pl, &cb, &prep_scratch);
    a->rc = hu_capture_file(path, NULL, &cb, NULL, a->err, sizeof a->err);
    hu_sb_free(&prep_scratch);
    hu_pipeline_end(pl);
    hu_pipeline_stats_get(pl, &a->st);
    hu_pipeline_free(pl);
    a->servers = hu_servers_list(sv, &a->nservers);
    hu_servers_free(sv);
    return a;
}

void tu_analysis_free(tu_analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nrecs; i++)
        hu_incident_rec_free(a->recs[i]);
    free(a->recs);
    free(a->servers);
    free(a->path);
    free(a);
}

size_t tu_count(const tu_analysis *a, hu_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nrecs; i++)
        n += a->recs[i]->kindid == k;
    return n;
}

const hu_incident_rec *tu_find(const tu_analysis *a, hu_kind k)
{
    for (size_t i = 0; i < a->nrecs; i++)
        if (a->recs[i]->kindid == k)
            return a->recs[i];
    return NULL;
}

bool tu_bytes_is(const uint8_t *p, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(p, s, n) == 0;
}

/* The first field of a and b named in the list that differs. */
#define DIFF(field)                                                                    \
    do {                                                                               \
        if (a->field != b->field)                                                      \
            return #field;                                                             \
    } while (0)
#define DIFF_STR(field)                                                                \
    do {                                                                               \
        if (strcmp(a->field ? a->field : "", b->field ? b->field : "") != 0)           \
            return #field;                                                             \
    } while (0)
#define DIFF_BYTES(field, len)                                                         \
    do {                                                                               \
        if (a->len != b->len || memcmp(a->field, b->field, a->len) != 0)               \
            return #field;                                                             \
    } while (0)

static const char *tl_diff(const hu_tl_entry *a, const hu_tl_entry *b, bool endpoints)
{
    DIFF(num);
    DIFF(ts_us);
    DIFF(from_client);
    DIFF(flags);
    DIFF(seq);
    DIFF(ack);
    DIFF(len);
    DIFF(omitted_before);
    if (endpoints)
        DIFF_STR(line);
    DIFF_STR(note);
    return NULL;
}

static const char *request_diff(const hu_request *a, const hu_request *b)
{
    DIFF(http);
    DIFF(tls);
    DIFF(complete);
    DIFF_STR(method);
    DIFF_BYTES(target, target_len);
    DIFF_STR(version);
    DIFF(has_host);
    DIFF_BYTES(host, host_len);
    DIFF(content_length);
    return NULL;
}

const char *tu_rec_diff(const hu_incident_rec *a, const hu_incident_rec *b, bool endpoints)
{
    if (endpoints) {
        DIFF_STR(file);
        DIFF(ipver);
        DIFF(cli_port);
        DIFF(srv_port);
        if (memcmp(a->cli_addr, b->cli_addr, 16) || memcmp(a->srv_addr, b->srv_addr, 16))
            return "address";
        DIFF_STR(community_id);
    }
    DIFF_STR(kind);
    DIFF(kindid);
    DIFF(verdict);
    DIFF(conn_id);
    DIFF(fin.num);
    DIFF(fin.ts_us);
    DIFF(req.num);
    DIFF(req.ts_us);
    DIFF(rst.num);
    DIFF(rst.ts_us);
    DIFF(gap_us);
    DIFF(rtt_us);
    DIFF(rst_ack);
    DIFF(handshake_seen);
    DIFF(server_acked);
    DIFF(safe_to_retry);
    if (request_diff(&a->request, &b->request))
        return "request";
    DIFF(requests_before);
    DIFF(idle_us);
    DIFF(server_idle_close_us);
    DIFF(close_announced);
    DIFF(keepalive_hint_s);
    DIFF_STR(sni);
    DIFF(reasm);
    DIFF(retried);
    DIFF(retry_delay_us);
    DIFF(wait_us);
    DIFF_STR(close);
    DIFF_STR(abort);
    DIFF_STR(timeout_hint);
    DIFF(late_response_rst);
    DIFF(late_response_packet);
    DIFF(tries);
    DIFF(spent_us);
    DIFF(expected_bytes);
    DIFF(received_bytes);
    DIFF(status);
    DIFF(resp.num);
    DIFF(resp.ts_us);
    DIFF(number);
    DIFF(ntimeline);
    for (size_t i = 0; i < a->ntimeline; i++)
        if (tl_diff(&a->timeline[i], &b->timeline[i], endpoints))
            return "timeline";
    return NULL;
}

static const char *server_diff(const hu_server_summary *a, const hu_server_summary *b,
                               bool endpoints)
{
    if (endpoints) {
        DIFF(ipver);
        DIFF(port);
        if (memcmp(a->addr, b->addr, 16))
            return "addr";
    }
    DIFF(connections);
    DIFF(requests);
    DIFF(idle_closes);
    DIFF(incidents);
    DIFF(crossed);
    DIFF(stale);
    DIFF(idle_timeout_us);
    DIFF(idle_timeout_spread_us);
    DIFF(max_reuse_idle_us);
    DIFF(rtt_us);
    DIFF(race_risk);
    DIFF_STR(advice);
    return NULL;
}

static const char *stats_diff(const hu_pipeline_stats *a, const hu_pipeline_stats *b)
{
    DIFF(packets);
    DIFF(bad);
    DIFF(first_bad_num);
    DIFF(nomem);
    DIFF(incidents);
    DIFF(flows.flows);
    DIFF(flows.evicted);
    DIFF(flows.peak);
    DIFF(reasm.nids_streams);
    DIFF(reasm.segment_flows);
    DIFF(reasm.gaps);
    return NULL;
}

const char *tu_analysis_diff(const tu_analysis *a, const tu_analysis *b, bool endpoints)
{
    static char why[128];
    const char *d;
    DIFF(rc);
    DIFF(nrecs);
    DIFF(nservers);
    for (size_t i = 0; i < a->nrecs; i++)
        if ((d = tu_rec_diff(a->recs[i], b->recs[i], endpoints))) {
            snprintf(why, sizeof why, "record %zu: %s", i + 1, d);
            return why;
        }
    for (size_t i = 0; i < a->nservers; i++)
        if ((d = server_diff(&a->servers[i], &b->servers[i], endpoints))) {
            snprintf(why, sizeof why, "server %zu: %s", i + 1, d);
            return why;
        }
    if ((d = stats_diff(&a->st, &b->st))) {
        snprintf(why, sizeof why, "stats: %s", d);
        return why;
    }
    return NULL;
}

#undef DIFF
#undef DIFF_STR
#undef DIFF_BYTES

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static size_t tcp_hdr(uint8_t *t, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
                      uint32_t ack, const uint8_t *opts, size_t optlen, const char *payload,
                      size_t len)
{
    size_t hl = 20 + ((optlen + 3) & ~(size_t)3);
    memset(t, 0, hl);
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = (uint8_t)((hl / 4) << 4);
    t[13] = flags;
    put16(t + 14, 512);
    if (optlen)
        memcpy(t + 20, opts, optlen);
    if (len)
        memcpy(t + hl, payload, len);
    return hl + len;
}

size_t tu_ip4_tcp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                  uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts, size_t optlen,
                  const char *payload, size_t len)
{
    memset(buf, 0, 20);
    buf[0] = 0x45;
    buf[8] = 64;
    buf[9] = 6;
    inet_pton(AF_INET, src, buf + 12);
    inet_pton(AF_INET, dst, buf + 16);
    size_t tl = tcp_hdr(buf + 20, sport, dport, flags, seq, ack, opts, optlen, payload, len);
    put16(buf + 2, (uint16_t)(20 + tl));
    return 20 + tl;
}

size_t tu_ip6_tcp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                  uint8_t flags, uint32_t seq, uint32_t ack, const char *payload, size_t len)
{
    memset(buf, 0, 40);
    buf[0] = 0x60;
    buf[6] = 6;
    buf[7] = 64;
    inet_pton(AF_INET6, src, buf + 8);
    inet_pton(AF_INET6, dst, buf + 24);
    size_t tl = tcp_hdr(buf + 40, sport, dport, flags, seq, ack, NULL, 0, payload, len);
    put16(buf + 4, (uint16_t)tl);
    return 40 + tl;
}

struct tu_pcap {
    FILE *fp;
};

tu_pcap *tu_pcap_open(const char *path, uint32_t linktype, uint32_t snaplen)
{
    tu_pcap *w = calloc(1, sizeof *w);
    w->fp = fopen(path, "wb");
    if (!w->fp) {
        free(w);
        return NULL;
    }
    uint32_t hdr[6] = { 0xa1b2c3d4, 2 | (4u << 16), 0, 0, snaplen, linktype };
    fwrite(hdr, sizeof hdr, 1, w->fp);
    return w;
}

void tu_pcap_add(tu_pcap *w, int64_t t_us, const uint8_t *data, uint32_t caplen, uint32_t len)
{
    uint32_t rec[4] = { (uint32_t)(t_us / 1000000), (uint32_t)(t_us % 1000000), caplen, len };
    fwrite(rec, sizeof rec, 1, w->fp);
    fwrite(data, 1, caplen, w->fp);
}

void tu_pcap_close(tu_pcap *w)
{
    fclose(w->fp);
    free(w);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **tu_sample_captures(size_t *n)
{
    DIR *d = opendir(HANGUP_SAMPLES);
    cr_assert_not_null(d, "%s", HANGUP_SAMPLES);
    char **names = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (!(l > 5 && strcmp(e->d_name + l - 5, ".pcap") == 0) &&
            !(l > 7 && strcmp(e->d_name + l - 7, ".pcapng") == 0))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            cr_assert_not_null(names);
        }
        names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof *names, name_cmp);
    return names;
}

void tu_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

const char *tu_sample(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", HANGUP_SAMPLES, name);
    return buf;
}

const char *tu_tmp(const char *suffix)
{
    static char buf[256];
    static int n;
    snprintf(buf, sizeof buf, "/tmp/hangup-test-%d-%d%s", (int)getpid(), n++, suffix);
    return buf;
}

char *tu_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n - 1, fp)) > 0) {
        n += r;
        if (cap - n - 1 == 0)
            b = realloc(b, cap *= 2);
    }
    fclose(fp);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

void tu_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

pid_t tu_spawn(char *const argv[], const char *out, const char *err)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr))
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

bool tu_wait_exit(pid_t pid, int timeout_ms, int *status)
{
    for (int t = 0; t < timeout_ms; t += 20) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return true;
        tu_sleep_ms(20);
    }
    return false;
}

int tu_sh(const char *cmd, char **out, char **err)
{
    const char *o = strdup(tu_tmp(".out")), *e = strdup(tu_tmp(".err"));
    char *full = malloc(strlen(cmd) + 600);
    sprintf(full, "(%s) >%s 2>%s </dev/null", cmd, o, e);
    int st = system(full);
    free(full);
    if (out)
        *out = tu_slurp(o, NULL);
    if (err)
        *err = tu_slurp(e, NULL);
    unlink(o);
    unlink(e);
    free((void *)o);
    free((void *)e);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

#include "hangup/capture.h"
#include "hangup/decode.h"
#include "hangup/tcpprint.h"

typedef struct render_ctx {
    hu_flowtab *ft;
    char **lines;
    size_t n, cap;
} render_ctx;

static void render_frame(void *arg, int dlt, const hu_frame *fr)
{
    render_ctx *rc = arg;
    while (rc->n < fr->num) {
        if (rc->n == rc->cap) {
            rc->cap = rc->cap ? rc->cap * 2 : 64;
            rc->lines = realloc(rc->lines, rc->cap * sizeof *rc->lines);
        }
        rc->lines[rc->n++] = NULL;
    }
    hu_pkt p;
    const char *why;
    if (fr->bad || hu_decode_wire(dlt, fr->data, fr->caplen, fr->wirelen, &p, &why) != HU_DEC_TCP)
        return;
    p.num = fr->num;
    p.ts_us = fr->ts_us;
    hu_sb sb = {0};
    p.suffix_ready = true;   /* the tracker keeps the text rendered here */
    p.suffix_len = 0;
    if (hu_tcpprint_packet_text(&p, &sb, &p.suffix_pre, &p.suffix_ext)) {
        p.suffix = sb.buf;
        p.suffix_len = (uint32_t)sb.len;
    }
    uint8_t s;
    hu_flow *f = hu_flowtab_track(rc->ft, &p, &s);
    hu_flow *g;
    while ((g = hu_flowtab_released(rc->ft)))
        hu_flowtab_dispose(rc->ft, g);
    hu_sb_reset(&sb);
    if (!f || !f->ring_len) {
        hu_sb_free(&sb);
        return;
    }
    const hu_tcpprint_ends ends = { f->ipver, { f->addr[0], f->addr[1] },
                                    { f->port[0], f->port[1] } };
    hu_tcpprint_line(&sb, &ends, hu_flow_ring_at(f, f->ring_len - 1u));
    rc->lines[fr->num - 1] = strdup(hu_sb_cstr(&sb));
    hu_sb_free(&sb);
}

static char **render_with(const char *path, const hu_flowtab_cfg *cfg, size_t *n)
{
    render_ctx rc = {0};
    hu_flowtab_cfg c = *cfg;
    c.convs = hu_tcpprint_convs_new(HU_TCPPRINT_CONVS_MAX);
    rc.ft = hu_flowtab_new(&c);
    char err[256];
    hu_capture_cbs cb = { .frame = render_frame, .arg = &rc };
    hu_capture_file(path, NULL, &cb, NULL, err, sizeof err);
    hu_flowtab_free(rc.ft);
    hu_tcpprint_convs_free(c.convs);
    *n = rc.n;
    return rc.lines;
}

char **tu_render_file(const char *path, size_t *n)
{
    hu_analyze_opts o;
    hu_analyze_opts_default(&o);
    hu_flowtab_cfg cfg = { .max_flows = o.max_flows, .idle_us = o.idle_us,
                           .halfclosed_us = TU_HALFCLOSED_US, .closed_us = o.closed_us };
    return render_with(path, &cfg, n);
}

char **tu_render_file_releasing(const char *path, int64_t idle_us, size_t max_flows, size_t *n)
{
    hu_flowtab_cfg cfg = { .max_flows = max_flows, .idle_us = idle_us,
                           .halfclosed_us = idle_us, .closed_us = idle_us };
    return render_with(path, &cfg, n);
}

static char **split_text(char *out, size_t *n);

char **tu_tcpdump_lines(const char *path, size_t *n)
{
    char cmd[4200], *out = NULL;
    snprintf(cmd, sizeof cmd, "TZ=UTC tcpdump -n -r '%s'", path);
    tu_sh(cmd, &out, NULL);
    char **l = split_text(out, n);
    *n = tu_join_continuations(l, *n);
    return l;
}

char **tu_golden_lines(const char *capture, size_t *n)
{
    char path[4200];
    const char *dot = strrchr(capture, '.');
    snprintf(path, sizeof path, "%.*s.tcpdump", (int)(dot ? dot - capture : (long)strlen(capture)),
             capture);
    char *text = tu_slurp(path, NULL);
    if (!text)
        return NULL;
    char **l = split_text(text, n);
    *n = tu_join_continuations(l, *n);
    return l;
}

/* Split (and free) text into malloc'd lines. */
static char **split_text(char *out, size_t *n)
{
    size_t cap = 64;
    char **lines = malloc(cap * sizeof *lines);
    *n = 0;
    for (char *s = out, *nl; s && *s; s = nl + 1) {
        nl = strchr(s, '\n');
        if (!nl)
            nl = s + strlen(s) - 1 + 1;
        if (*n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[(*n)++] = strndup(s, (size_t)(nl - s));
        if (!*nl)
            break;
    }
    free(out);
    return lines;
}

size_t tu_join_continuations(char **lines, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool cont = k > 0 && lines[k - 1] && lines[i] && lines[k - 1][0] >= '0' &&
                    lines[k - 1][0] <= '9' && !(lines[i][0] >= '0' && lines[i][0] <= '9');
        if (!cont) {
            lines[k++] = lines[i];
            continue;
        }
        size_t a = strlen(lines[k - 1]), b = strlen(lines[i]);
        char *j = realloc(lines[k - 1], a + b + 2);
        if (!j)
            abort();
        j[a] = '\n';
        memcpy(j + a + 1, lines[i], b + 1);
        lines[k - 1] = j;
        free(lines[i]);
    }
    return k;
}

bool tu_tcpdump_same(const char *hu, const char *td)
{
    if (strcmp(hu, td) == 0)
        return true;
    size_t n = strlen(td);
    /* IPv4 total length 0 (TSO, BIG TCP): tcpdump gives up, hangup
     * decodes the packet with the wire's length */
    static const char badlen[] = " IP bad-len 0";
    size_t b = sizeof badlen - 1;
    if (n > b && strcmp(td + n - b, badlen) == 0 && strncmp(hu, td, n - b + 1) == 0 &&
        strstr(hu + n - b, "IP "))
        return true;
    static const char *const erspan[] = { "gre-proto-0x88be", "gre-proto-0x22eb" };
    for (int i = 0; i < 2; i++) {
        size_t e = strlen(erspan[i]);
        if (n >= e && strcmp(td + n - e, erspan[i]) == 0 && strncmp(hu, td, n) == 0 &&
            strncmp(hu + n, ": IP", 4) == 0)
            return true;
    }
    return false;
}

void tu_lines_free(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* One race on connection i (distinct client address and port) into w. */
static void write_race_conn(tu_pcap *w, uint32_t i, const char *request_line, int64_t *t)
{
    static uint8_t buf[4096];
    static const char req1[] = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    uint32_t l1 = sizeof req1 - 1, lr = sizeof resp - 1, l2 = (uint32_t)strlen(request_line);
    uint32_t c = 100 + i, s = 9000 + i;
    char C[32];
    snprintf(C, sizeof C, "127.0.%u.%u", (i / 60000) / 250 % 250, (i / 60000) % 250 + 1);
    const char *S = "127.0.0.2";
    uint16_t cp = (uint16_t)(1024 + i % 60000);
    size_t n;
#define P(src, sp, dst, dp, fl, sq, ak, d, l)                                          \
    do {                                                                               \
        n = tu_ip4_tcp(buf, src, sp, dst, dp, fl, sq, ak, NULL, 0, d, l);              \
        tu_pcap_add(w, *t += 1000, buf, (uint32_t)n, (uint32_t)n);                     \
    } while (0)
    P(C, cp, S, 3000, HU_TH_SYN, c, 0, NULL, 0);
    P(S, 3000, C, cp, HU_TH_SYN | HU_TH_ACK, s, c + 1, NULL, 0);
    P(C, cp, S, 3000, HU_TH_ACK, c + 1, s + 1, NULL, 0);
    P(C, cp, S, 3000, HU_TH_PUSH | HU_TH_ACK, c + 1, s + 1, req1, l1);
    P(S, 3000, C, cp, HU_TH_PUSH | HU_TH_ACK, s + 1, c + 1 + l1, resp, lr);
    P(C, cp, S, 3000, HU_TH_ACK, c + 1 + l1, s + 1 + lr, NULL, 0);
    *t += 5000000;
    P(S, 3000, C, cp, HU_TH_FIN | HU_TH_ACK, s + 1 + lr, c + 1 + l1, NULL, 0);
    P(C, cp, S, 3000, HU_TH_ACK, c + 1 + l1, s + 2 + lr, NULL, 0);
    P(C, cp, S, 3000, HU_TH_PUSH | HU_TH_ACK, c + 1 + l1, s + 2 + lr, request_line, l2);
    P(S, 3000, C, cp, HU_TH_RST, s + 2 + lr, 0, NULL, 0);
#undef P
}

int tu_write_race(const char *path, const char *request_line)
{
    tu_pcap *w = tu_pcap_open(path, 101, 65535);
    if (!w)
        return -1;
    int64_t t = 1763740800000000LL;
    /* The historical single race: client 127.0.0.1:45000. */
    static uint8_t buf[4096];
    (void)buf;
    write_race_conn(w, 45000 - 1024, request_line, &t);
    tu_pcap_close(w);
    return 10;
}

long tu_write_races(const char *path, uint32_t n)
{
    tu_pcap *w = tu_pcap_open(path, 101, 65535);
    if (!w)
        return -1;
    int64_t t = 1763740800000000LL;
    for (uint32_t i = 0; i < n; i++) {
        char req[64];
        snprintf(req, sizeof req, "POST /item/%u HTTP/1.1\r\n\r\n", i);
        write_race_conn(w, i, req, &t);
        t -= 5000000;   /* keep the capture short in time: connections overlap */
    }
    tu_pcap_close(w);
    return (long)n * 10;
}

static uint8_t cvbuf[70000];

void tu_cv_emit(tu_cv *c, bool from_client, uint8_t fl, uint32_t seq, uint32_t ack,
                const char *data, size_t len)
{
    size_t n = c->v6 ? tu_ip6_tcp(cvbuf, from_client ? c->cli : c->srv,
                                  from_client ? c->cport : c->sport,
                                  from_client ? c->srv : c->cli,
                                  from_client ? c->sport : c->cport, fl, seq, ack, data, len)
                     : tu_ip4_tcp(cvbuf, from_client ? c->cli : c->srv,
                                  from_client ? c->cport : c->sport,
                                  from_client ? c->srv : c->cli,
                                  from_client ? c->sport : c->cport, fl, seq, ack, NULL, 0, data,
                                  len);
    c->t += 1000;
    tu_pcap_add(c->w, c->t, cvbuf, (uint32_t)n, (uint32_t)n);
    c->packets++;
}

void tu_cv_send(tu_cv *c, bool from_client, const char *data, size_t mss)
{
    size_t len = strlen(data);
    for (size_t off = 0; off < len; off += mss) {
        size_t n = len - off < mss ? len - off : mss;
        if (from_client) {
            tu_cv_emit(c, true, HU_TH_PUSH | HU_TH_ACK, c->cseq, c->sseq, data + off, n);
            c->cseq += (uint32_t)n;
        } else {
            tu_cv_emit(c, false, HU_TH_PUSH | HU_TH_ACK, c->sseq, c->cseq, data + off, n);
            c->sseq += (uint32_t)n;
        }
    }
}

void tu_cv_ack(tu_cv *c, bool from_client)
{
    tu_cv_emit(c, from_client, HU_TH_ACK, from_client ? c->cseq : c->sseq,
               from_client ? c->sseq : c->cseq, NULL, 0);
}

void tu_cv_handshake(tu_cv *c)
{
    tu_cv_emit(c, true, HU_TH_SYN, c->cseq - 1, 0, NULL, 0);
    tu_cv_emit(c, false, HU_TH_SYN | HU_TH_ACK, c->sseq - 1, c->cseq, NULL, 0);
    tu_cv_ack(c, true);
}

/* ---------------------------------------------------------------- pcapng */

static uint32_t ng32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t ng16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

/* The options at p (n bytes) of a block of type `type`, into f. */
static void ng_options(tu_pcapng *f, uint32_t type, const uint8_t *p, size_t n, tu_ng_iface *in,
                       tu_ng_pkt *pk)
{
    size_t off = 0;
    while (off + 4 <= n) {
        uint16_t code = ng16(p + off), len = ng16(p + off + 2);
        off += 4;
        if (code == 0)
            return;
        if (off + len > n) {
            snprintf(f->err, sizeof f->err, "option %u of block type %u overruns it", code, type);
            return;
        }
        const char *v = (const char *)p + off;
        if (in && code == 2)
            snprintf(in->name, sizeof in->name, "%.*s", (int)len, v);
        else if (in && code == 3)
            snprintf(in->desc, sizeof in->desc, "%.*s", (int)len, v);
        else if (in && code == 9 && len == 1)
            in->tsresol = p[off];
        else if (pk && code == 1 && pk->ncomments < 4)
            pk->comment[pk->ncomments++] = strndup(v, len);
        off += (len + 3u) & ~3u;
    }
}

tu_pcapng *tu_pcapng_read(const char *path)
{
    tu_pcapng *f = calloc(1, sizeof *f);
    if (!f || !(f->buf = (uint8_t *)tu_slurp(path, &f->len))) {
        free(f);
        return NULL;
    }
    size_t cap = 0;
    for (size_t off = 0; off < f->len && !f->err[0];) {
        if (f->len - off < 12) {
            snprintf(f->err, sizeof f->err, "%zu stray bytes at the end", f->len - off);
            break;
        }
        const uint8_t *b = f->buf + off;
        uint32_t type = ng32(b), total = ng32(b + 4);
        if (total < 12 || total % 4 || total > f->len - off || ng32(b + total - 4) != total) {
            snprintf(f->err, sizeof f->err, "block at %zu: bad length %u", off, total);
            break;
        }
        const uint8_t *body = b + 8;
        size_t blen = total - 12;
        if (type == 0x0A0D0D0A) {
            if (blen < 16 || ng32(body) != 0x1A2B3C4D || ng16(body + 4) != 1)
                snprintf(f->err, sizeof f->err, "section header at %zu: bad magic or version",
                         off);
            else
                ng_options(f, type, body + 16, blen - 16, NULL, NULL);
            f->sections++;
        } else if (!f->sections) {
            snprintf(f->err, sizeof f->err, "block type %u before the section header", type);
        } else if (type == 1) {
            if (blen < 8 || f->nifaces == 64) {
                snprintf(f->err, sizeof f->err, "interface block at %zu: short or too many", off);
                break;
            }
            tu_ng_iface *in = &f->iface[f->nifaces++];
            memset(in, 0, sizeof *in);
            in->linktype = ng16(body);
            in->tsresol = 6;
            ng_options(f, type, body + 8, blen - 8, in, NULL);
        } else if (type == 6) {
            uint32_t caplen = blen >= 20 ? ng32(body + 12) : 0;
            size_t padded = ((size_t)caplen + 3) & ~(size_t)3;
            if (blen < 20 || padded > blen - 20 || ng32(body) >= f->nifaces) {
                snprintf(f->err, sizeof f->err, "packet block at %zu: short, or no interface %u",
                         off, blen >= 20 ? ng32(body) : 0);
                break;
            }
            if (f->npkts == cap) {
                cap = cap ? cap * 2 : 64;
                f->pkt = realloc(f->pkt, cap * sizeof *f->pkt);
            }
            tu_ng_pkt *pk = &f->pkt[f->npkts++];
            memset(pk, 0, sizeof *pk);
            pk->iface = ng32(body);
            uint64_t ticks = (uint64_t)ng32(body + 4) << 32 | ng32(body + 8);
            int res = f->iface[pk->iface].tsresol;
            pk->ts_us = res == 9 ? (int64_t)(ticks / 1000) : (int64_t)ticks;
            pk->caplen = caplen;
            pk->wirelen = ng32(body + 16);
            pk->data = body + 20;
            ng_options(f, type, body + 20 + padded, blen - 20 - padded, NULL, pk);
        } else {
            f->other++;
        }
        off += total;
    }
    return f;
}

void tu_pcapng_free(tu_pcapng *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->npkts; i++)
        for (int k = 0; k < f->pkt[i].ncomments; k++)
            free(f->pkt[i].comment[k]);
    free(f->pkt);
    free(f->buf);
    free(f);
}

/* Value of "key" in a flat JSON object line, as raw JSON text (strings
 * keep their quotes); NULL if absent.  Good enough for our own output and
 * the ground-truth files, which hold no nested objects. */
char *tu_json_get(const char *line, const char *key)
{
    /* The key is a quoted string followed by a colon (a value that
     * happens to equal the key is followed by a comma or brace). */
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = line;
    for (;;) {
        p = strstr(p, pat);
        if (!p)
            return NULL;
        p += strlen(pat);
        while (*p == ' ')
            p++;
        if (*p == ':')
            break;
    }
    p++;
    while (*p == ' ')
        p++;
    const char *e = p;
    if (*e == '"') {
        for (e++; *e && *e != '"'; e++)
            if (*e == '\\' && e[1])
                e++;
        e++;
    } else {
        while (*e && *e != ',' && *e != '}' && *e != ' ')
            e++;
    }
    return strndup(p, (size_t)(e - p));
}

bool tu_wait_text(const char *path, const char *needle, int timeout_ms)
{
    for (int64_t end = tu_now_ms() + timeout_ms;; tu_sleep_ms(50)) {
        char *t = tu_slurp(path, NULL);
        bool found = t && strstr(t, needle);
        free(t);
        if (found || tu_now_ms() >= end)
            return found;
    }
}

int tu_free_port(int p)
{
    for (;; p++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return p;
    }
}

hu_conn_row tu_conn_row(uint64_t number)
{
    hu_conn_row r = { .number = number, .ipver = 4, .cli_port = 40000, .srv_port = 80,
                      .first_ts = (int64_t)number, .last_ts = (int64_t)number + 1,
                      .packets = 3, .rtt_us = -1, .reassembly = "libnids",
                      .idle_close_us = number % 2 ? -1 : 5, .incident = number == 8 };
    r.cli_addr[0] = 10, r.cli_addr[3] = 1;
    r.srv_addr[0] = 10, r.srv_addr[3] = 2;
    return r;
}

void tu_expect_conn_rows(const char *db, int64_t n, int64_t (*scalar)(const char *db,
                                                                        const char *sql))
{
    cr_assert_eq(scalar(db, "SELECT count(*) FROM connections"), n);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM connections WHERE number != id"), 0,
                 "rows in the order they were given");
    cr_assert_eq(scalar(db, "SELECT count(*) FROM connections WHERE idle_close_us = 5"), n / 2);
    cr_assert_eq(scalar(db, "SELECT number FROM connections WHERE incident = 1"), 8);
    cr_assert_eq(scalar(db, "SELECT count(*) FROM connections WHERE client = '10.0.0.1:40000' "
                            "AND server = '10.0.0.2:80' AND reassembly = 'libnids' AND "
                            "client_addr = '10.0.0.1' AND client_port = 40000 AND "
                            "server_addr = '10.0.0.2' AND server_port = 80"), n);
}
