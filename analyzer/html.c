/*
 * html.c -- the HTML report: incidents as packet ladders, servers as
 * timeout pictures, in one self-contained page.
 *
 * The SVG is written by hand: a ladder is two time lines and a few dozen
 * arrows, which no charting library draws, and hand-written markup keeps
 * the page free of scripts and of anything fetched from elsewhere
 * (docs/DESIGN.md §3.13).  The words beside each picture are report.c's
 * (hu_incident_render, hu_incident_json, hu_report_summary_text), so the
 * page and the text output never disagree.
 *
 * Size is bounded by construction: the first HU_HTML_DETAIL_MAX incidents
 * are drawn in full inside collapsed <details>, the rest get one table row
 * each; a ladder draws at most HU_HTML_ARROWS_MAX arrows (and says how
 * many it left out); a server's time plot marks at most MARKS_PER_SERVER
 * incidents.  Incidents are spooled to temporary files as they come, so
 * the summary, which needs them all, can still stand at the top.
 *
 * Escaping: every string that may hold bytes from the wire or a file name
 * goes through hu_html_esc, in text and in attributes alike; anchors are
 * built from numbers and endpoint strings mapped to [a-z0-9-] only.
 */
#include "hangup/html.h"
#include "hangup/packet.h"
#include "hangup/report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MARKS_MAX 200000      /* incidents remembered for the server plots */
#define MARKS_PER_SERVER 2000 /* dots on one server's time plot */

/* What a server's plots need of one incident. */
typedef struct mark {
    char server[64];
    int64_t ts_us;
    uint8_t kind;
    uint32_t cap;
    uint64_t number;
} mark;

typedef struct capture {
    char *file;
    int64_t packets, connections;
    uint64_t incidents;
} capture;

struct hu_html {
    FILE *out;
    char *path, *title;
    FILE *spool;              /* incidents drawn in full */
    FILE *rows;               /* one table row each for the rest */
    capture *caps;
    size_t ncaps, capcap;
    uint64_t total, detailed, crossed, stale;
    uint64_t by_kind[HU_KIND_COUNT];
    mark *marks;
    size_t nmarks, capmarks;
    uint64_t marks_dropped;
    hu_sb sb;
    bool failed;              /* a spool write or an allocation failed */
};

/* ---- escaping and small helpers ---------------------------------------- */

void hu_html_esc(hu_sb *sb, const char *p, size_t n)
{
    size_t run = 0;   /* bytes passed through as they are, not yet appended */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                rep = "&#xFFFD;";
        }
        if (!rep)
            continue;
        hu_sb_put(sb, p + run, i - run);
        hu_sb_puts(sb, rep);
        run = i + 1;
    }
    hu_sb_put(sb, p + run, n - run);
}

static void esc(hu_sb *sb, const char *s) { hu_html_esc(sb, s, strlen(s)); }

/* An anchor made of [a-z0-9-] only, from any text (an endpoint). */
static void anchor_part(hu_sb *sb, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            hu_sb_putc(sb, c);
        else if (c >= 'A' && c <= 'Z')
            hu_sb_putc(sb, (char)(c - 'A' + 'a'));
        else
            hu_sb_putc(sb, '-');
    }
}

static void inc_anchor(hu_sb *sb, uint32_t cap, uint64_t number)
{
    hu_sb_printf(sb, "i%" PRIu32 "-%" PRIu64, cap, number);
}

static void srv_anchor(hu_sb *sb, const char *ep)
{
    hu_sb_puts(sb, "s-");
    anchor_part(sb, ep);
}

/* The index of capture `file`, added when new. */
static uint32_t cap_index(hu_html *h, const char *file)
{
    for (size_t i = 0; i < h->ncaps; i++)
        if (strcmp(h->caps[i].file, file) == 0)
            return (uint32_t)i;
    if (h->ncaps == h->capcap) {
        size_t nc = h->capcap ? h->capcap * 2 : 8;
        capture *n = realloc(h->caps, nc * sizeof *n);
        if (!n) {
            h->failed = true;
            return 0;
        }
        h->caps = n;
        h->capcap = nc;
    }
    char *dup = strdup(file);
    if (!dup) {
        h->failed = true;
        return 0;
    }
    h->caps[h->ncaps] = (capture){ .file = dup, .packets = -1, .connections = -1 };
    return (uint32_t)h->ncaps++;
}

/* The lost request's method and target (at most max bytes of it, then an
 * ellipsis), escaped. */
static void request_line(hu_sb *sb, const hu_incident_rec *rec, size_t max)
{
    esc(sb, rec->request.method);
    hu_sb_putc(sb, ' ');
    size_t tl = rec->request.target_len > max ? max : rec->request.target_len;
    hu_html_esc(sb, (const char *)rec->request.target, tl);
    if (tl < rec->request.target_len)
        hu_sb_puts(sb, "&#8230;");
}

static void flags_str(char *buf, uint8_t fl)
{
    static const struct { uint8_t bit; char c; } tok[] = {
        { HU_TH_FIN, 'F' }, { HU_TH_SYN, 'S' }, { HU_TH_RST, 'R' }, { HU_TH_PUSH, 'P' },
        { HU_TH_ACK, '.' }, { HU_TH_URG, 'U' }, { HU_TH_ECE, 'E' }, { 0x80, 'W' },
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof tok / sizeof tok[0]; i++)
        if (fl & tok[i].bit)
            buf[n++] = tok[i].c;
    if (!n) {
        strcpy(buf, "none");
        return;
    }
    buf[n] = 0;
}

/* ---- the ladder -------------------------------------------------------- */

enum { LX_CLIENT = 210, LX_SERVER = 690, L_WIDTH = 900, L_TOP = 62 };

/* A packet's part in the incident, for its colour and label. */
enum role { R_PLAIN, R_REQ, R_FIN, R_RST, R_RESP, R_LATE, R_SYN };
static const char *const role_class[] = { "", " req", " fin", " rst", " resp", " late", " syn" };

typedef struct arrow {
    const hu_tl_entry *e;
    int64_t t_from, t_to;     /* leaving its sender, reaching its receiver */
    enum role role;
} arrow;

typedef struct tmap {
    int64_t *t;
    double *y;
    size_t n;
} tmap;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Pixels for a step of dt microseconds: small steps stay visible, long
 * waits are compressed (and marked as breaks by the caller). */
static double step_px(int64_t dt)
{
    if (dt <= 0)
        return 0;
    double px = 7 + 13 * log10(1 + (double)dt / 50.0);
    return px > 64 ? 64 : px;
}

#define BREAK_US 200000   /* steps longer than this are drawn as a break */

static double ymap(const tmap *m, int64_t t)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->t[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n ? m->y[lo] : (m->n ? m->y[m->n - 1] : L_TOP);
}

static bool entry_is(const hu_incident_rec *rec, const hu_tl_entry *e, hu_pktref p)
{
    if (!p.num || e->num != p.num)
        return false;
    if (!rec->nfiles || !e->file)
        return true;
    return strcmp(e->file, hu_incident_rec_file(rec, p.file)) == 0;
}

static enum role role_of(const hu_incident_rec *rec, const hu_tl_entry *e)
{
    if ((e->flags & HU_TH_SYN) && rec->kindid == HU_KIND_CONNECT_TIMEOUT)
        return R_SYN;   /* its request is its first SYN */
    if (entry_is(rec, e, rec->req))
        return R_REQ;
    if (entry_is(rec, e, rec->rst))
        return R_RST;
    if (entry_is(rec, e, rec->fin))
        return R_FIN;
    if (entry_is(rec, e, rec->resp))
        return R_RESP;
    if (rec->late_response_packet > 0 &&
        entry_is(rec, e, (hu_pktref){ (uint64_t)rec->late_response_packet, 0,
                                      rec->late_response_file }))
        return R_LATE;
    return R_PLAIN;
}

/* Which side the capture was taken near: the side that answers the other
 * fastest (its answers leave where they are captured, the peer's take a
 * round trip).  The client when nothing tells. */
static bool near_is_client(const hu_incident_rec *rec)
{
    int64_t best[2] = { INT64_MAX, INT64_MAX };   /* [0] server answers, [1] client answers */
    for (size_t i = 1; i < rec->ntimeline; i++) {
        const hu_tl_entry *a = &rec->timeline[i - 1], *b = &rec->timeline[i];
        if (a->from_client == b->from_client || b->ts_us < a->ts_us)
            continue;
        int64_t d = b->ts_us - a->ts_us;
        if (d < best[b->from_client])
            best[b->from_client] = d;
    }
    return best[1] <= best[0];
}

/* A vertical span beside a time line: [t0, t1] on the client's side
 * (left of it) or the server's (right of it), labelled. */
static void span(hu_sb *sb, const tmap *m, bool client_side, int64_t t0, int64_t t1,
                 const char *cls, const char *label)
{
    double y0 = ymap(m, t0), y1 = ymap(m, t1);
    if (y1 < y0) {
        double t = y0;
        y0 = y1;
        y1 = t;
    }
    double x = client_side ? LX_CLIENT - 14 : LX_SERVER + 14;
    double tick = client_side ? 5 : -5;
    hu_sb_printf(sb, "<g class=\"span %s\"><path d=\"M%.1f %.1f H%.1f V%.1f H%.1f\"/>", cls,
                 x + tick, y0, x, y1, x + tick);
    /* The label in lines of at most 30 characters, broken at spaces,
     * centred on the span: the margin beside a time line is narrow. */
    const char *lines[6];
    size_t lens[6], nl = 0;
    for (const char *p = label; *p && nl < 6;) {
        size_t len = strlen(p), cut = len;
        if (len > 30) {
            cut = 30;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (!cut)
                cut = 30;
        }
        lines[nl] = p;
        lens[nl++] = cut;
        p += cut;
        while (*p == ' ')
            p++;
    }
    double tx = client_side ? x - 5 : x + 5;
    hu_sb_printf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", tx,
                 (y0 + y1) / 2 + 4 - 6.5 * (double)(nl - 1), client_side ? "end" : "start");
    for (size_t i = 0; i < nl; i++) {
        hu_sb_printf(sb, "<tspan x=\"%.1f\" dy=\"%s\">", tx, i ? "13" : "0");
        hu_html_esc(sb, lines[i], lens[i]);
        hu_sb_puts(sb, "</tspan>");
    }
    hu_sb_puts(sb, "</text></g>");
}

/* The times an incident's spans need, as send/arrival times on a side. */
typedef struct spans {
    int n;
    struct { bool client_side; int64_t t0, t1; const char *cls; char label[160]; } s[3];
} spans;

static void span_add(spans *sp, bool client_side, int64_t t0, int64_t t1, const char *cls,
                     const char *label, int64_t dur_us, const char *after)
{
    if (sp->n >= 3)
        return;
    hu_sb d = { 0 };
    hu_sb_duration(&d, dur_us);
    snprintf(sp->s[sp->n].label, sizeof sp->s[sp->n].label, "%s%s%s", label, hu_sb_cstr(&d),
             after ? after : "");
    hu_sb_free(&d);
    sp->s[sp->n].client_side = client_side;
    sp->s[sp->n].t0 = t0;
    sp->s[sp->n].t1 = t1;
    sp->s[sp->n].cls = cls;
    sp->n++;
}

/* The arrow of a packet whose role is r, if the timeline has it. */
static const arrow *arrow_of(const arrow *a, size_t n, enum role r)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].role == r)
            return &a[i];
    return NULL;
}

/* What each kind's ladder shows beside the arrows (docs/DESIGN.md §2):
 * a race's idle times, a timeout's wait, an abort's patience, the SYN
 * retries, the cut body. */
static void kind_spans(spans *sp, const hu_incident_rec *rec, const arrow *a, size_t n)
{
    const arrow *req = arrow_of(a, n, R_REQ), *fin = arrow_of(a, n, R_FIN),
                *rst = arrow_of(a, n, R_RST);
    const arrow *close = fin ? fin : rst;
    switch (rec->kindid) {
    case HU_KIND_RACE:
        if (req && rec->idle_us >= 0)
            span_add(sp, true, req->t_from - rec->idle_us, req->t_from, "idle",
                     "client idle ", rec->idle_us, " before reusing");
        if (fin && rec->server_idle_close_us >= 0)
            span_add(sp, false, fin->t_from - rec->server_idle_close_us, fin->t_from, "timeout",
                     "server idle ", rec->server_idle_close_us,
                     " then FIN: its keep-alive timeout");
        break;
    case HU_KIND_SERVER_TIMEOUT:
    case HU_KIND_RESET:
    case HU_KIND_CLOSED:
        if (req && close && rec->wait_us >= 0)
            span_add(sp, false, req->t_to, close->t_from, "timeout",
                     rec->kindid == HU_KIND_SERVER_TIMEOUT ? "server waited " : "server held it ",
                     rec->wait_us, rec->kindid == HU_KIND_SERVER_TIMEOUT
                                       ? " without answering, then closed"
                                       : ", then closed unanswered");
        break;
    case HU_KIND_GATEWAY: {
        const arrow *resp = arrow_of(a, n, R_RESP);
        if (req && resp && rec->wait_us >= 0)
            span_add(sp, false, req->t_to, resp->t_from, "timeout", "upstream tried for ",
                     rec->wait_us, ", then answered the 5xx");
        break;
    }
    case HU_KIND_ABORT:
        if (req && close)
            span_add(sp, true, req->t_from, close->t_from, "idle", "client waited ",
                     close->t_from - req->t_from, ", then gave up");
        break;
    case HU_KIND_CONNECT_TIMEOUT: {
        const arrow *first = NULL, *last = NULL;
        for (size_t i = 0; i < n; i++)
            if (a[i].role == R_SYN) {
                if (!first)
                    first = &a[i];
                last = &a[i];
            }
        if (first && last != first) {
            char l[64];
            snprintf(l, sizeof l, "%d SYNs unanswered over ", rec->tries);
            span_add(sp, true, first->t_from, last->t_from, "timeout", l,
                     rec->spent_us >= 0 ? rec->spent_us : last->t_from - first->t_from, NULL);
        }
        break;
    }
    case HU_KIND_TRUNCATED: {
        const arrow *body = NULL;
        for (size_t i = 0; req && i < n; i++)
            if (!a[i].e->from_client && a[i].e->len && a[i].t_from >= req->t_to) {
                body = &a[i];
                break;
            }
        if (body && close) {
            char l[96];
            snprintf(l, sizeof l, "body cut: %" PRId64 " of %" PRId64 " bytes in ",
                     rec->received_bytes, rec->expected_bytes);
            span_add(sp, false, body->t_from, close->t_from, "cut", l,
                     close->t_from - body->t_from, NULL);
        }
        break;
    }
    default:
        break;
    }
}

/* The label of a highlighted arrow: number, flags, seq/ack, and for the
 * request its request line. */
static void arrow_label(hu_sb *sb, const hu_incident_rec *rec, const arrow *a)
{
    static const char *const word[] = { "", "request", "FIN", "RST", "response", "late response",
                                        "SYN" };
    char fl[12];
    flags_str(fl, a->e->flags);
    const char *w = word[a->role];
    if (a->role == R_FIN && (a->e->flags & HU_TH_RST))
        w = "RST";
    hu_sb_printf(sb, "#%" PRIu64 " %s%s[%s] seq %" PRIu32, a->e->num, w, *w ? " " : "", fl,
                 a->e->seq);
    if (a->e->flags & HU_TH_ACK)
        hu_sb_printf(sb, " ack %" PRIu32, a->e->ack);
    if (a->role == R_REQ && rec->request.http) {
        hu_sb_puts(sb, ": ");
        request_line(sb, rec, 48);
    } else if (a->role == R_RESP && rec->status > 0) {
        hu_sb_printf(sb, ": %d", rec->status);
    } else if (a->role == R_PLAIN && a->e->len) {
        hu_sb_printf(sb, " len %" PRIu32, a->e->len);
    }
    if (a->role != R_PLAIN) {   /* the capture's time, from the timeline's first packet */
        int64_t rel = a->e->ts_us - rec->timeline[0].ts_us;
        hu_sb_printf(sb, " at +%" PRId64 ".%06" PRId64 " s", rel / 1000000, rel % 1000000);
    }
}

/* Which timeline entries get arrows (every highlighted one, and the last
 * plain ones up to HU_HTML_ARROWS_MAX), with their send and arrival
 * times: a packet leaves the near side at its capture time and reaches
 * the far side owd later, and the other way round.  The count. */
static size_t pick_arrows(arrow *a, const hu_incident_rec *rec, bool nc, int64_t owd)
{
    size_t n = rec->ntimeline, na = 0, plain_seen = 0, highlighted = 0;
    for (size_t i = 0; i < n; i++)
        if (role_of(rec, &rec->timeline[i]) != R_PLAIN)
            highlighted++;
    size_t room = HU_HTML_ARROWS_MAX > highlighted ? HU_HTML_ARROWS_MAX - highlighted : 0;
    size_t plain = n - highlighted, skip = plain > room ? plain - room : 0;
    for (size_t i = 0; i < n; i++) {
        const hu_tl_entry *e = &rec->timeline[i];
        enum role r = role_of(rec, e);
        if (r == R_PLAIN && plain_seen++ < skip)
            continue;
        bool from_near = e->from_client == nc;
        a[na] = (arrow){ .e = e, .role = r, .t_from = from_near ? e->ts_us : e->ts_us - owd,
                         .t_to = from_near ? e->ts_us + owd : e->ts_us };
        na++;
    }
    return na;
}

/* The time map: every instant drawn, sorted and unique, each step in
 * pixels (step_px), from y0.  False when out of memory. */
static bool build_map(tmap *m, const arrow *a, size_t na, const spans *sp, double y0)
{
    size_t nt = 2 * na + 2 * (size_t)sp->n;
    m->t = malloc(nt * sizeof *m->t);
    m->y = malloc(nt * sizeof *m->y);
    m->n = 0;
    if (!m->t || !m->y)
        return false;
    for (size_t i = 0; i < na; i++) {
        m->t[m->n++] = a[i].t_from;
        m->t[m->n++] = a[i].t_to;
    }
    for (int i = 0; i < sp->n; i++) {
        m->t[m->n++] = sp->s[i].t0;
        m->t[m->n++] = sp->s[i].t1;
    }
    qsort(m->t, m->n, sizeof *m->t, cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < m->n; i++)
        if (!u || m->t[i] != m->t[u - 1])
            m->t[u++] = m->t[i];
    m->n = u;
    double y = y0;
    for (size_t i = 0; i < m->n; i++) {
        if (i)
            y += step_px(m->t[i] - m->t[i - 1]);
        m->y[i] = y;
    }
    return true;
}

/* The ladder's frame: who is who, the scale, the two time lines (the
 * near one solid, the far one dashed) and the compressed waits. */
static void draw_frame(hu_sb *sb, const hu_incident_rec *rec, const tmap *m, bool nc, int64_t owd,
                       double height)
{
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, rec->ipver, rec->cli_addr, rec->cli_port);
    hu_endpoint_str(srv, sizeof srv, rec->ipver, rec->srv_addr, rec->srv_port);
    hu_sb_printf(sb, "<svg class=\"ladder k-%s\" xmlns=\"http://www.w3.org/2000/svg\" "
                     "width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" role=\"img\">",
                 hu_kind_name(rec->kindid), L_WIDTH, height, L_WIDTH, height);
    hu_sb_printf(sb, "<title>packet ladder of %s #%" PRIu64 "</title>",
                 hu_kind_name(rec->kindid), rec->number);
    hu_sb_printf(sb, "<text class=\"who\" x=\"%d\" y=\"18\" text-anchor=\"middle\">"
                     "client %s%s</text><text class=\"who\" x=\"%d\" y=\"18\" "
                     "text-anchor=\"middle\">server %s%s</text>",
                 LX_CLIENT, cli, nc ? " (capture here)" : "", LX_SERVER, srv,
                 nc ? "" : " (capture here)");
    hu_sb_printf(sb, "<text class=\"sub\" x=\"%d\" y=\"34\" text-anchor=\"middle\">", L_WIDTH / 2);
    if (owd >= 0) {
        hu_sb_puts(sb, "arrows sloped by the one-way delay RTT/2 = ");
        hu_sb_duration(sb, owd);
    } else {
        hu_sb_puts(sb, "handshake not captured: one-way delay unknown, arrows drawn with a "
                       "nominal slope");
    }
    hu_sb_puts(sb, "; long waits compressed</text>");
    hu_sb_printf(sb, "<line class=\"life%s\" x1=\"%d\" y1=\"44\" x2=\"%d\" y2=\"%.0f\"/>"
                     "<line class=\"life%s\" x1=\"%d\" y1=\"44\" x2=\"%d\" y2=\"%.0f\"/>",
                 nc ? " near" : " far", LX_CLIENT, LX_CLIENT, height - 8, nc ? " far" : " near",
                 LX_SERVER, LX_SERVER, height - 8);
    for (size_t i = 1; i < m->n; i++) {   /* waits longer than BREAK_US */
        int64_t dt = m->t[i] - m->t[i - 1];
        if (dt < BREAK_US)
            continue;
        double y0 = m->y[i - 1] + 3, y1 = m->y[i] - 3;
        hu_sb_printf(sb, "<g class=\"brk\"><rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>"
                         "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">",
                     LX_CLIENT + 1, y0, LX_SERVER - LX_CLIENT - 2, y1 - y0 > 1 ? y1 - y0 : 1,
                     (LX_CLIENT + LX_SERVER) / 2, (y0 + y1) / 2 + 4);
        hu_sb_puts(sb, "&#8942; ");
        hu_sb_duration(sb, dt);
        hu_sb_puts(sb, " &#8942;</text></g>");
    }
}

/* One packet's arrow: its tcpdump line as the <title> (shown on hover),
 * the line and its head, and its label at the sending end (plain ones
 * only where they do not overlap the previous label on that side). */
static void draw_arrow(hu_sb *sb, const hu_incident_rec *rec, const tmap *m, const arrow *ar,
                       bool nc, bool owd_known, double last_label[2])
{
    const hu_tl_entry *e = ar->e;
    double x0 = e->from_client ? LX_CLIENT : LX_SERVER, x1 = e->from_client ? LX_SERVER : LX_CLIENT;
    double y0 = ymap(m, ar->t_from), y1 = ymap(m, ar->t_to);
    if (!owd_known) {   /* nominal slope: the far end 12 px off */
        if (e->from_client == nc)
            y1 += 12;
        else
            y0 -= 12;
    }
    hu_sb_printf(sb, "<g class=\"pkt%s%s\"><title>", role_class[ar->role],
                 e->from_client ? " c2s" : " s2c");
    if (e->omitted_before)
        hu_sb_printf(sb, "(%" PRIu64 " packets before this one not kept)\n", e->omitted_before);
    esc(sb, e->line);
    if (e->note) {
        hu_sb_putc(sb, '\n');
        esc(sb, e->note);
    }
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    double ux = dx / len, uy = dy / len;
    double hx = x1 - 9 * ux, hy = y1 - 9 * uy;
    hu_sb_printf(sb, "</title><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                     "<path d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f Z\"/>",
                 x0, y0, hx, hy, x1, y1, hx - 4 * uy, hy + 4 * ux, hx + 4 * uy, hy - 4 * ux);
    int side = e->from_client ? 0 : 1;
    if (ar->role != R_PLAIN || y0 - last_label[side] >= 11) {
        double lx = e->from_client ? LX_CLIENT + 6 : LX_SERVER - 6;
        hu_sb_printf(sb, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", lx,
                     y0 - 3, e->from_client ? "start" : "end");
        arrow_label(sb, rec, ar);
        hu_sb_puts(sb, "</text>");
        last_label[side] = y0;
    }
    hu_sb_puts(sb, "</g>");
}

/* The incident's ladder diagram (nothing but a note without packets). */
static void ladder(hu_sb *sb, const hu_incident_rec *rec)
{
    size_t n = rec->ntimeline;
    if (!n) {
        hu_sb_puts(sb, "<p class=\"note\">No packets of this incident were kept: no ladder.</p>");
        return;
    }
    bool nc = near_is_client(rec);
    bool owd_known = rec->rtt_us >= 0;
    int64_t owd = owd_known ? rec->rtt_us / 2 : 0;
    arrow *a = calloc(n, sizeof *a);
    tmap m = { 0 };
    if (!a)
        return;
    size_t na = pick_arrows(a, rec, nc, owd);
    spans sp = { 0 };
    kind_spans(&sp, rec, a, na);
    if (!build_map(&m, a, na, &sp, L_TOP + (owd_known ? 0 : 14))) {
        free(m.t);
        free(m.y);
        free(a);
        return;
    }
    double height = m.y[m.n - 1] + 46 + (owd_known ? 0 : 14);
    draw_frame(sb, rec, &m, nc, owd_known ? owd : -1, height);
    if (na < n)
        hu_sb_printf(sb, "<text class=\"sub\" x=\"%d\" y=\"52\" text-anchor=\"middle\">%zu earlier "
                         "packets of the timeline not drawn (see the tcpdump lines)</text>",
                     L_WIDTH / 2, n - na);
    for (int i = 0; i < sp.n; i++)
        span(sb, &m, sp.s[i].client_side, sp.s[i].t0, sp.s[i].t1, sp.s[i].cls, sp.s[i].label);
    double last_label[2] = { -100, -100 };
    for (size_t i = 0; i < na; i++)
        draw_arrow(sb, rec, &m, &a[i], nc, owd_known, last_label);
    hu_sb_printf(sb, "<text class=\"sub\" x=\"%d\" y=\"%.0f\" text-anchor=\"middle\">",
                 L_WIDTH / 2, height - 14);
    if (rec->kindid == HU_KIND_RACE)
        hu_sb_puts(sb, rec->verdict == HU_VERDICT_CROSSED
                           ? "crossed: the request left the client before the FIN reached it"
                           : "stale: the request acknowledges the FIN the client had received");
    else
        esc(sb, hu_kind_name(rec->kindid));
    hu_sb_puts(sb, "</text></svg>");
    free(m.t);
    free(m.y);
    free(a);
}

/* ---- incidents --------------------------------------------------------- */

hu_html *hu_html_open(const char *path, const char *title, char *err, size_t errlen)
{
    hu_html *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->path = strdup(path);
    h->title = strdup(title);
    h->out = fopen(path, "w");
    if (!h->out) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        hu_html_free(h);
        return NULL;
    }
    h->spool = tmpfile();
    h->rows = tmpfile();
    if (!h->path || !h->title || !h->spool || !h->rows) {
        snprintf(err, errlen, "%s: %s", path,
                 h->path && h->title ? "cannot create a temporary file" : "out of memory");
        hu_html_free(h);
        return NULL;
    }
    return h;
}

void hu_html_capture(hu_html *h, const char *file, int64_t packets, int64_t connections)
{
    uint32_t k = cap_index(h, file);
    if (k < h->ncaps) {
        h->caps[k].packets = packets;
        h->caps[k].connections = connections;
    }
}

static void remember(hu_html *h, const hu_incident_rec *rec, const char *srv, uint32_t cap)
{
    if (h->nmarks == MARKS_MAX) {
        h->marks_dropped++;
        return;
    }
    if (h->nmarks == h->capmarks) {
        size_t nc = h->capmarks ? h->capmarks * 2 : 256;
        mark *n = realloc(h->marks, nc * sizeof *n);
        if (!n) {
            h->marks_dropped++;
            return;
        }
        h->marks = n;
        h->capmarks = nc;
    }
    if (rec->kindid >= HU_KIND_COUNT)   /* no lane to put it in */
        return;
    mark *m = &h->marks[h->nmarks++];
    snprintf(m->server, sizeof m->server, "%s", srv);
    m->ts_us = rec->req.num   ? rec->req.ts_us
               : rec->rst.num ? rec->rst.ts_us
               : rec->fin.num ? rec->fin.ts_us
               : rec->ntimeline ? rec->timeline[0].ts_us : 0;
    m->kind = (uint8_t)rec->kindid;
    m->cap = cap;
    m->number = rec->number;
}

/* The line every incident gets in its <summary> (and a row beyond the
 * detail cap): kind, verdict, request, server, capture, time. */
static void inc_head(hu_sb *sb, const hu_incident_rec *rec, const char *srv, uint32_t cap,
                     bool row)
{
    const char *sep = row ? "</td><td>" : " &#8212; ";
    if (row) {
        hu_sb_puts(sb, "<tr id=\"");
        inc_anchor(sb, cap, rec->number);
        hu_sb_puts(sb, "\"><td>");
    }
    const char *kind = hu_kind_name(rec->kindid);   /* never the stored text */
    hu_sb_printf(sb, "<span class=\"k k-%s\">%s</span> #%" PRIu64, kind, kind, rec->number);
    if (rec->kindid == HU_KIND_RACE)
        hu_sb_printf(sb, " (%s)", hu_verdict_name(rec->verdict));
    hu_sb_puts(sb, sep);
    if (rec->request.http) {
        request_line(sb, rec, 80);
    } else {
        hu_sb_puts(sb, rec->request.tls ? "(TLS)" : "(no request)");
    }
    hu_sb_printf(sb, "%sserver <a href=\"#", sep);
    srv_anchor(sb, srv);
    hu_sb_printf(sb, "\">%s</a>%scapture <a href=\"#c%" PRIu32 "\">", srv, sep, cap);
    esc(sb, rec->file);
    hu_sb_printf(sb, "</a>%s", sep);
    int64_t ts = rec->req.num ? rec->req.ts_us : rec->ntimeline ? rec->timeline[0].ts_us : 0;
    hu_iso_time(sb, ts);
    if (rec->db_id > 0)
        hu_sb_printf(sb, "%sid %" PRId64, sep, rec->db_id);
    if (row)
        hu_sb_puts(sb, "</td></tr>\n");
}

void hu_html_incident(hu_html *h, const hu_incident_rec *rec)
{
    if (h->failed)
        return;
    uint32_t cap = cap_index(h, rec->file);
    if (cap < h->ncaps)
        h->caps[cap].incidents++;
    char srv[64];
    hu_endpoint_str(srv, sizeof srv, rec->ipver, rec->srv_addr, rec->srv_port);
    h->total++;
    if (rec->kindid < HU_KIND_COUNT)
        h->by_kind[rec->kindid]++;
    if (rec->kindid == HU_KIND_RACE)
        *(rec->verdict == HU_VERDICT_STALE ? &h->stale : &h->crossed) += 1;
    remember(h, rec, srv, cap);
    hu_sb *sb = &h->sb;
    hu_sb_reset(sb);
    if (h->detailed >= HU_HTML_DETAIL_MAX) {
        inc_head(sb, rec, srv, cap, true);
        if (sb->oom || !hu_sb_write(sb, h->rows))
            h->failed = true;
        return;
    }
    /* The first incident open, as the page's example of a ladder. */
    hu_sb_printf(sb, "<details class=\"inc\"%s id=\"", h->detailed++ ? "" : " open");
    inc_anchor(sb, cap, rec->number);
    hu_sb_puts(sb, "\"><summary>");
    inc_head(sb, rec, srv, cap, false);
    hu_sb_puts(sb, "</summary>\n<div class=\"body\">");
    ladder(sb, rec);
    if (rec->cause) {
        hu_sb_puts(sb, "<p>Caused by the proxy's upstream incident <a href=\"#");
        inc_anchor(sb, cap, rec->cause);
        hu_sb_printf(sb, "\">#%" PRIu64 "</a>.</p>", rec->cause);
    }
    hu_sb text = { 0 };
    hu_incident_render(&text, rec, true);
    hu_sb_puts(sb, "\n<pre class=\"expl\">");
    hu_html_esc(sb, text.buf ? text.buf : "", text.len);
    hu_sb_reset(&text);
    hu_incident_json(&text, rec);
    hu_sb_puts(sb, "</pre>\n<details class=\"json\"><summary>JSON</summary><pre>");
    hu_html_esc(sb, text.buf ? text.buf : "", text.len);
    hu_sb_puts(sb, "</pre></details></div></details>\n");
    if (text.oom)
        h->failed = true;
    hu_sb_free(&text);
    if (sb->oom || !hu_sb_write(sb, h->spool))
        h->failed = true;
}

/* ---- servers ----------------------------------------------------------- */

enum { P_WIDTH = 720, P_LEFT = 50, P_RIGHT = 700 };

/* A round step for about `want` ticks over [0, max]. */
static double nice_step(double max, int want)
{
    double raw = max / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void seconds(hu_sb *sb, double s)
{
    if (s >= 10 || s == floor(s))
        hu_sb_printf(sb, "%.0f s", s);
    else if (s >= 1)
        hu_sb_printf(sb, "%.1f s", s);
    else
        hu_sb_printf(sb, "%.0f ms", s * 1000);
}

/* The idle closes against the clients' idle before reuse, over one axis
 * of seconds, with the race window (timeout minus RTT to timeout). */
static void timeout_plot(hu_sb *sb, const hu_html_server *v)
{
    const hu_server_summary *s = v->s;
    if (!v->nidle && !v->nreuse && s->idle_timeout_us < 0) {
        hu_sb_puts(sb, "<p class=\"note\">No idle close and no reuse of an idle connection in "
                       "the capture: nothing to plot.</p>");
        return;
    }
    double max = 0;
    for (size_t i = 0; i < v->nidle; i++)
        max = fmax(max, v->idle[i] / 1e6);
    for (size_t i = 0; i < v->nreuse; i++)
        max = fmax(max, v->reuse[i] / 1e6);
    max = fmax(max, s->idle_timeout_us / 1e6);
    max = fmax(max, s->max_reuse_idle_us / 1e6);
    max = max <= 0 ? 1 : max * 1.1;
    double stepv = nice_step(max, 8);
    max = ceil(max / stepv) * stepv;
    enum { BINS = 60, AXIS = 104, BAR = 62, H = 206 };
    unsigned up[BINS] = { 0 }, down[BINS] = { 0 }, top = 1;
    for (size_t i = 0; i < v->nidle; i++) {
        int b = (int)(v->idle[i] / 1e6 / max * BINS);
        b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
        if (++up[b] > top)
            top = up[b];
    }
    for (size_t i = 0; i < v->nreuse; i++) {
        int b = (int)(v->reuse[i] / 1e6 / max * BINS);
        b = b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
        if (++down[b] > top)
            top = down[b];
    }
    double w = P_RIGHT - P_LEFT, bw = w / BINS;
#define PX(sec) (P_LEFT + (sec) / max * w)
    hu_sb_printf(sb, "<svg class=\"tplot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                     "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>idle closes against "
                     "clients' idle before reuse</title>",
                 P_WIDTH, H, P_WIDTH, H);
    if (s->idle_timeout_us >= 0) {
        double t = s->idle_timeout_us / 1e6, rtt = s->rtt_us > 0 ? s->rtt_us / 1e6 : 0;
        double x0 = PX(t - rtt > 0 ? t - rtt : 0), x1 = PX(t);
        /* Reusing after idling longer than the timeout minus one RTT
         * races the server's FIN: that side of the axis is shaded. */
        hu_sb_printf(sb, "<rect class=\"racewin\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                         "height=\"%d\"><title>race window: a request sent after idling longer "
                         "than the timeout minus one RTT can cross the server's FIN</title></rect>"
                         "<text class=\"sub\" x=\"%.1f\" y=\"%d\">reuse here races</text>",
                     x0, AXIS - BAR - 4, P_RIGHT - x0 < 2 ? 2 : P_RIGHT - x0, 2 * BAR + 8,
                     x0 + 4, AXIS + BAR + 2);
        hu_sb_printf(sb, "<line class=\"tmo\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                         "<text class=\"sub\" x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">"
                         "keep-alive timeout ", x1, AXIS - BAR - 4, x1, AXIS + BAR + 4,
                     x1 < P_RIGHT - 150 ? x1 + 4 : x1 - 4, AXIS - BAR + 6,
                     x1 < P_RIGHT - 150 ? "start" : "end");
        hu_sb_duration(sb, s->idle_timeout_us);
        hu_sb_puts(sb, "</text>");
    }
    for (int b = 0; b < BINS; b++) {
        if (up[b])
            hu_sb_printf(sb, "<rect class=\"idlec\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                             "height=\"%.1f\"><title>%u idle close%s</title></rect>",
                         P_LEFT + b * bw, AXIS - (double)up[b] / top * BAR, bw - 1,
                         (double)up[b] / top * BAR, up[b], up[b] == 1 ? "" : "s");
        if (down[b])
            hu_sb_printf(sb, "<rect class=\"reuse\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                             "height=\"%.1f\"><title>%u reuse%s</title></rect>",
                         P_LEFT + b * bw, AXIS, bw - 1, (double)down[b] / top * BAR, down[b],
                         down[b] == 1 ? "" : "s");
    }
    if (s->max_reuse_idle_us >= 0) {   /* the longest reuse, which the advice speaks of */
        double x = PX(s->max_reuse_idle_us / 1e6);
        hu_sb_printf(sb, "<line class=\"maxreuse\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\">"
                         "<title>the longest idle before a reuse: ", x, AXIS, x, AXIS + BAR);
        hu_sb_duration(sb, s->max_reuse_idle_us);
        hu_sb_puts(sb, "</title></line>");
    }
    hu_sb_printf(sb, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", P_LEFT, AXIS,
                 P_RIGHT, AXIS);
    for (double t = 0; t <= max + stepv / 2; t += stepv) {
        hu_sb_printf(sb, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                     PX(t), AXIS + BAR + 16);
        seconds(sb, t);
        hu_sb_puts(sb, "</text>");
    }
    hu_sb_printf(sb, "<text class=\"sub\" x=\"%d\" y=\"12\">&#9650; server's idle closes "
                     "(%zu)</text><text class=\"sub\" x=\"%d\" y=\"%d\">&#9660; clients' idle "
                     "before reusing a connection (%zu; the line: the longest)</text>"
                     "<text class=\"sub\" x=\"%d\" y=\"%d\" text-anchor=\"end\">idle time</text>",
                 P_LEFT, v->nidle, P_LEFT, H - 3, v->nreuse, P_RIGHT, H - 3);
    hu_sb_puts(sb, "</svg>");
#undef PX
}

static int cmp_mark(const void *a, const void *b)
{
    const mark *x = a, *y = b;
    int c = strcmp(x->server, y->server);
    return c ? c : x->ts_us < y->ts_us ? -1 : x->ts_us > y->ts_us;
}

/* The server's incidents over time, one lane per kind, each dot a link. */
static void time_plot(hu_sb *sb, const mark *m, size_t n)
{
    if (!n)
        return;
    int64_t t0 = m[0].ts_us, t1 = m[n - 1].ts_us;
    double span_s = (t1 - t0) / 1e6;
    if (span_s <= 0)
        span_s = 1;
    int lane[HU_KIND_COUNT], nl = 0;
    for (int k = 0; k < HU_KIND_COUNT; k++)
        lane[k] = -1;
    for (size_t i = 0; i < n; i++)
        if (m[i].kind < HU_KIND_COUNT && lane[m[i].kind] < 0)
            lane[m[i].kind] = nl++;
    int H = 30 + 18 * nl;
    hu_sb_printf(sb, "<svg class=\"iplot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                     "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>incidents over "
                     "time</title>", P_WIDTH, H, P_WIDTH, H);
    for (int k = 0; k < HU_KIND_COUNT; k++)
        if (lane[k] >= 0)
            hu_sb_printf(sb, "<text class=\"tick\" x=\"4\" y=\"%d\">%s</text>", 16 + 18 * lane[k],
                         hu_kind_name((hu_kind)k));
    double left = 150, w = P_RIGHT - left;
    size_t shown = n < MARKS_PER_SERVER ? n : MARKS_PER_SERVER;
    for (size_t j = 0; j < shown; j++) {
        size_t i = shown == n ? j : j * n / shown;   /* evenly over time beyond the cap */
        double x = left + (m[i].ts_us - t0) / 1e6 / span_s * w;
        hu_sb_puts(sb, "<a href=\"#");
        inc_anchor(sb, m[i].cap, m[i].number);
        hu_sb_printf(sb, "\"><circle class=\"k-%s\" cx=\"%.1f\" cy=\"%d\" r=\"4\">"
                         "<title>%s #%" PRIu64
                         " ", hu_kind_name((hu_kind)m[i].kind), x, 12 + 18 * lane[m[i].kind],
                     hu_kind_name((hu_kind)m[i].kind), m[i].number);
        hu_iso_time(sb, m[i].ts_us);
        hu_sb_puts(sb, "</title></circle></a>");
    }
    double stepv = nice_step(span_s, 6);
    for (double t = 0; t <= span_s + stepv / 2; t += stepv) {
        hu_sb_printf(sb, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">+",
                     left + t / span_s * w, H - 2);
        seconds(sb, t);
        hu_sb_puts(sb, "</text>");
    }
    hu_sb_puts(sb, "</svg><p class=\"note\">From ");
    hu_iso_time(sb, t0);
    if (shown < n)
        hu_sb_printf(sb, "; %zu of its %zu incidents marked, evenly over time", shown, n);
    hu_sb_puts(sb, ".</p>");
}

static void server_section(hu_html *h, hu_sb *sb, const hu_html_server *v, const mark *m,
                           size_t nm)
{
    const hu_server_summary *s = v->s;
    char ep[64];
    hu_endpoint_str(ep, sizeof ep, s->ipver, s->addr, s->port);
    hu_sb_puts(sb, "<section class=\"srv\" id=\"");
    srv_anchor(sb, ep);
    hu_sb_printf(sb, "\"><h3>server %s", ep);
    if (s->software[0]) {
        hu_sb_puts(sb, " (");
        esc(sb, s->software);
        hu_sb_putc(sb, ')');
    }
    hu_sb_printf(sb, "</h3><p>%" PRIu64 " connections, %" PRIu64 " requests, %" PRIu64
                     " idle closes, %" PRIu64 " incidents (%" PRIu64 " crossed races, %" PRIu64
                     " stale)", s->connections, s->requests, s->idle_closes, s->incidents,
                 s->crossed, s->stale);
    if (s->idle_timeout_us >= 0) {
        hu_sb_puts(sb, "; inferred keep-alive timeout ");
        hu_sb_duration(sb, s->idle_timeout_us);
        hu_sb_puts(sb, " (spread ");
        hu_sb_duration(sb, s->idle_timeout_spread_us);
        hu_sb_putc(sb, ')');
        if (s->idle_timeout_default) {
            hu_sb_puts(sb, ", ");
            esc(sb, s->idle_timeout_default);
        }
    }
    if (s->rtt_us >= 0) {
        hu_sb_puts(sb, "; RTT ");
        hu_sb_duration(sb, s->rtt_us);
    }
    hu_sb_puts(sb, ".</p><div class=\"plots\"><div><p class=\"note\">Idle closes against "
                   "the clients' idle before reuse; reusing a connection idle longer than the "
                   "timeout minus one RTT races the server's FIN (shaded):</p>");
    timeout_plot(sb, v);
    if (nm)
        hu_sb_puts(sb, "<p class=\"note\">Its incidents over time (each dot links to its "
                       "incident):</p>");
    time_plot(sb, m, nm);
    hu_sb_printf(sb, "</div><p class=\"advice%s\">%s", s->race_risk ? " risk" : "",
                 s->race_risk ? "<b>Race risk.</b> " : "");
    esc(sb, s->advice);
    hu_sb_puts(sb, ".</p></div></section>\n");
    (void)h;
}

/* ---- the page ---------------------------------------------------------- */

static const char css[] =
    "body{font:14px/1.4 sans-serif;margin:1em auto;max-width:1100px;color:#222;padding:0 1em}"
    "h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:1.5em}"
    "h3{font-size:1.05em;margin-bottom:.2em}"
    "pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:12px;white-space:pre-wrap}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;"
    "vertical-align:top}"
    "details.inc{border:1px solid #ddd;margin:.3em 0;padding:.2em .5em}"
    "details.inc>summary{cursor:pointer}"
    ".k{font-weight:bold;padding:0 4px;border-radius:3px;background:#eee}"
    ".note{color:#666;font-size:12px}"
    ".advice{background:#eef6ee;padding:.5em;border-left:4px solid #6a6}"
    ".advice.risk{background:#fbeeee;border-color:#c44}"
    "svg text{font:11px sans-serif;fill:#333}svg .who{font-weight:bold;font-size:12px}"
    "svg .sub,svg .tick,svg .ts{fill:#666}svg .ts{font:10px monospace}"
    "svg .lbl{font:10.5px monospace}"
    ".life{stroke:#555;stroke-width:1.5}.life.near{stroke:#000;stroke-width:3}"
    ".life.far{stroke-dasharray:5 4}"
    ".pkt line{stroke:#888;stroke-width:1.2}.pkt path{fill:#888}"
    ".pkt.req line{stroke:#1565c0;stroke-width:2.5}.pkt.req path{fill:#1565c0}"
    ".pkt.fin line{stroke:#e65100;stroke-width:2.5}.pkt.fin path{fill:#e65100}"
    ".pkt.rst line{stroke:#c62828;stroke-width:2.5}.pkt.rst path{fill:#c62828}"
    ".pkt.resp line,.pkt.late line{stroke:#6a1b9a;stroke-width:2.5}"
    ".pkt.resp path,.pkt.late path{fill:#6a1b9a}"
    ".pkt.syn line{stroke:#555;stroke-width:2;stroke-dasharray:6 3}"
    ".pkt:hover line{stroke-width:4}"
    ".pkt.req .lbl{fill:#1565c0}.pkt.fin .lbl{fill:#e65100}.pkt.rst .lbl{fill:#c62828}"
    ".span path{fill:none;stroke:#2e7d32;stroke-width:2}.span.timeout path{stroke:#e65100}"
    ".span.cut path{stroke:#c62828}.span text{font-size:10.5px}"
    ".brk rect{fill:#f3f3f3}.brk text{fill:#888}"
    ".racewin{fill:#c62828;fill-opacity:.18}.tmo{stroke:#c62828;stroke-dasharray:4 3}"
    ".idlec{fill:#e65100}.reuse{fill:#1565c0}.axis{stroke:#333}"
    ".maxreuse{stroke:#1565c0;stroke-width:2;stroke-dasharray:3 2}"
    "circle{fill:#888}circle.k-keepalive-race{fill:#c62828}circle.k-server-timeout{fill:#e65100}"
    "circle.k-client-abort{fill:#1565c0}circle.k-truncated-response{fill:#6a1b9a}"
    ".plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
    ".plots>p{flex:1;min-width:220px}"
    "@media print{details.inc{break-inside:avoid}details::details-content{content-visibility:"
    "visible;display:contents}body{max-width:none}}";

static bool copy_file(FILE *from, FILE *to)
{
    char buf[65536];
    rewind(from);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, from)) > 0)
        if (fwrite(buf, 1, n, to) != n)
            return false;
    return !ferror(from);
}

static bool flush_sb(hu_html *h, hu_sb *sb)
{
    bool ok = !sb->oom && hu_sb_write(sb, h->out);
    hu_sb_reset(sb);
    return ok;
}

bool hu_html_finish(hu_html *h, const char *summary_text, const hu_html_server *sv, size_t n,
                    char *err, size_t errlen)
{
    hu_sb *sb = &h->sb;
    hu_sb_reset(sb);
    hu_sb_puts(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width\">"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'; img-src data:\"><title>");
    esc(sb, h->title);
    hu_sb_printf(sb, "</title><style>%s</style></head><body>\n<h1>", css);
    esc(sb, h->title);
    hu_sb_puts(sb, "</h1>\n<h2 id=\"summary\">Summary</h2>\n<table class=\"counts\"><tr><th>kind"
                   "</th><th>incidents</th></tr>");
    for (int k = 0; k < HU_KIND_COUNT; k++) {
        if (!h->by_kind[k])
            continue;
        hu_sb_printf(sb, "<tr><td><span class=\"k k-%s\">%s</span>", hu_kind_name((hu_kind)k),
                     hu_kind_name((hu_kind)k));
        if (k == HU_KIND_RACE)
            hu_sb_printf(sb, " (%" PRIu64 " crossed, %" PRIu64 " stale)", h->crossed, h->stale);
        hu_sb_printf(sb, "</td><td>%" PRIu64 "</td></tr>", h->by_kind[k]);
    }
    hu_sb_printf(sb, "<tr><th>total</th><th>%" PRIu64 "</th></tr></table>\n", h->total);
    if (h->total > h->detailed)
        hu_sb_printf(sb, "<p class=\"note\">The first %" PRIu64 " incidents are drawn in full; "
                         "the other %" PRIu64 " are listed one line each after them.</p>",
                     h->detailed, h->total - h->detailed);
    if (summary_text) {
        hu_sb_puts(sb, "<pre class=\"summary\">");
        esc(sb, summary_text);
        hu_sb_puts(sb, "</pre>\n");
    }
    hu_sb_puts(sb, "<h2 id=\"captures\">Captures</h2>\n<table><tr><th>capture</th><th>packets</th>"
                   "<th>connections</th><th>incidents</th></tr>");
    for (size_t i = 0; i < h->ncaps; i++) {
        hu_sb_printf(sb, "<tr id=\"c%zu\"><td>", i);
        esc(sb, h->caps[i].file);
        hu_sb_puts(sb, "</td><td>");
        if (h->caps[i].packets >= 0)
            hu_sb_printf(sb, "%" PRId64, h->caps[i].packets);
        hu_sb_puts(sb, "</td><td>");
        if (h->caps[i].connections >= 0)
            hu_sb_printf(sb, "%" PRId64, h->caps[i].connections);
        hu_sb_printf(sb, "</td><td>%" PRIu64 "</td></tr>", h->caps[i].incidents);
    }
    hu_sb_puts(sb, "</table>\n");
    bool ok = flush_sb(h, sb);
    if (h->nmarks)   /* none: marks is NULL, which qsort may not be given */
        qsort(h->marks, h->nmarks, sizeof *h->marks, cmp_mark);
    hu_sb_printf(sb, "<h2 id=\"servers\">Servers</h2>\n");
    if (!n)
        hu_sb_puts(sb, "<p class=\"note\">No server summary.</p>");
    for (size_t i = 0; i < n && ok; i++) {
        char ep[64];
        hu_endpoint_str(ep, sizeof ep, sv[i].s->ipver, sv[i].s->addr, sv[i].s->port);
        size_t lo = 0;
        while (lo < h->nmarks && strcmp(h->marks[lo].server, ep) < 0)
            lo++;
        size_t hi = lo;
        while (hi < h->nmarks && strcmp(h->marks[hi].server, ep) == 0)
            hi++;
        server_section(h, sb, &sv[i], h->marks + lo, hi - lo);
        ok = flush_sb(h, sb);
    }
    if (h->marks_dropped)
        hu_sb_printf(sb, "<p class=\"note\">%" PRIu64 " incidents beyond %d are not marked on the "
                         "plots.</p>", h->marks_dropped, MARKS_MAX);
    hu_sb_puts(sb, "<h2 id=\"incidents\">Incidents</h2>\n");
    if (!h->total)
        hu_sb_puts(sb, "<p>No incident.</p>\n");
    ok = ok && flush_sb(h, sb) && fflush(h->spool) == 0 && copy_file(h->spool, h->out);
    if (h->total > h->detailed) {
        hu_sb_puts(sb, "<h3>Further incidents</h3>\n<table class=\"rows\"><tr><th>incident</th>"
                       "<th>request</th><th>server</th><th>capture</th><th>time</th>");
        ok = ok && flush_sb(h, sb) && fflush(h->rows) == 0 && copy_file(h->rows, h->out);
        hu_sb_puts(sb, "</table>\n");
    }
    hu_sb_puts(sb, "<p class=\"note\">Written by hangup. Hover an arrow for its tcpdump line.</p>"
                   "\n</body></html>\n");
    ok = ok && flush_sb(h, sb) && !h->failed;
    if (fclose(h->out) != 0)
        ok = false;
    h->out = NULL;
    if (!ok)
        snprintf(err, errlen, "%s: %s", h->path,
                 h->failed ? "out of memory or temporary file full" : "write failed");
    return ok;
}

void hu_html_free(hu_html *h)
{
    if (!h)
        return;
    if (h->out)
        fclose(h->out);
    if (h->spool)
        fclose(h->spool);
    if (h->rows)
        fclose(h->rows);
    for (size_t i = 0; i < h->ncaps; i++)
        free(h->caps[i].file);
    free(h->caps);
    free(h->marks);
    free(h->path);
    free(h->title);
    hu_sb_free(&h->sb);
    free(h);
}
