/*
 * report.c -- incidents and the summary, for people and for machines.
 *
 * Human output explains each incident in the order a user asks: what
 * happened, who is at fault (the verdict), what was lost and whether it is
 * safe to retry, what to change; then the connection's timeline as
 * `tcpdump -n` lines.  Annotations sit on their own indented lines, so any
 * line that starts with a digit is a packet line, byte-identical to
 * tcpdump's.  JSON output is one object per incident per line and nothing
 * else on stdout.  Every byte that came off the wire goes through the
 * escaping appenders of strbuf.c.
 *
 * The per-server tally (connections, incidents by verdict) lives here,
 * fed by the flow table's release hook, in a small open-addressing table
 * bounded at HU_MAX_SERVERS entries.
 */
#include "hangup/report.h"
#include "hangup/software.h"
#include "hangup/tcpprint.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * What each kind looks like from the client's side in the common stacks,
 * and what fixes it: the one table behind every explanation (and the
 * README's).  Strings are the errors those stacks print; see
 * samples/README.md for the ones observed in this project's captures.
 */
typedef struct hu_kind_info {
    const char *title;
    const char *node, *python, *go, *java, *curl;
    const char *fix;
} hu_kind_info;

static const hu_kind_info kind_info[HU_KIND_COUNT] = {
    [HU_KIND_RACE] = {
        "Keep-alive race",
        "'socket hang up' (ECONNRESET)", "RemoteDisconnected or ConnectionResetError",
        "'connection reset by peer' or 'server closed idle connection'",
        "NoHttpResponseException or SocketException: Connection reset",
        "(56) Recv failure: Connection reset by peer, or (52) Empty reply from server",
        NULL },
    [HU_KIND_SERVER_TIMEOUT] = {
        "Server timeout",
        "'socket hang up' (ECONNRESET)", "RemoteDisconnected('Remote end closed connection "
        "without response')", "'EOF' or 'connection reset by peer'",
        "NoHttpResponseException", "(52) Empty reply from server",
        "the server gave up on a request it never answered: make the handler answer (or "
        "fail) within the server's request timeout, or raise that timeout (Node.js "
        "server.timeout / requestTimeout, a proxy's read timeout) above the slowest answer; "
        "give the client a shorter timeout of its own so it fails clearly" },
    [HU_KIND_RESET] = {
        "Reset before response",
        "'read ECONNRESET'", "ConnectionResetError: [Errno 104] Connection reset by peer",
        "'read: connection reset by peer'", "SocketException: Connection reset",
        "(56) Recv failure: Connection reset by peer",
        "the server received the request and reset the connection without answering: it "
        "closed the socket with the request unread, crashed, or closes with SO_LINGER 0; look "
        "at the server's logs at that time, and make it read requests before closing" },
    [HU_KIND_ABORT] = {
        "Client abort",
        "'socket hang up' on the client (it destroyed the request); 'aborted' / ECONNRESET "
        "on the server", "TimeoutError / socket.timeout on the client",
        "'context deadline exceeded (Client.Timeout exceeded while awaiting headers)'",
        "SocketTimeoutException: Read timed out", "(28) Operation timed out",
        "the client stopped waiting before the server answered: raise the client's timeout "
        "above the server's response time, or make the server answer faster" },
    [HU_KIND_REFUSED] = {
        "Connection refused",
        "'connect ECONNREFUSED'", "ConnectionRefusedError: [Errno 111] Connection refused",
        "'connect: connection refused'", "ConnectException: Connection refused",
        "(7) Failed to connect: Connection refused",
        "nothing listened on that address and port: check the server is running and "
        "listening there (address family too: IPv4 vs IPv6), and its accept backlog" },
    [HU_KIND_CONNECT_TIMEOUT] = {
        "Connect timeout",
        "'connect ETIMEDOUT'", "TimeoutError: timed out", "'dial tcp: i/o timeout'",
        "ConnectException: Connection timed out", "(28) Connection timed out",
        "the SYN was never answered: a firewall dropping it, a wrong address, or a server "
        "whose SYN backlog is full; check reachability and the server's listen backlog" },
    [HU_KIND_TRUNCATED] = {
        "Truncated response",
        "'aborted' (ECONNRESET) on the response", "http.client.IncompleteRead",
        "'unexpected EOF'", "ConnectionClosedException: Premature end of Content-Length "
        "delimited message body", "(18) transfer closed with outstanding read data remaining",
        "the server (or a proxy) closed in the middle of the response body: look for a crash, "
        "a write timeout or a proxy's limit on the server side; only idempotent requests can "
        "be retried" },
    [HU_KIND_CLOSED] = {
        "Closed before response",
        "'socket hang up' (ECONNRESET)", "RemoteDisconnected('Remote end closed connection "
        "without response')", "'EOF' (on a reused connection after one silent retry)",
        "NoHttpResponseException (Apache HttpClient, after its own retries) or 'Unexpected "
        "end of file from server' (HttpURLConnection)", "(52) Empty reply from server",
        "the server (or a proxy in front of it) read the request and closed without a word, "
        "too soon for a timeout: nginx's 'return 444', HAProxy when its upstream failed, or a "
        "server refusing a header, a size or a client, or one closing when its client "
        "half-closes (shutdown(SHUT_WR) after the request: Node.js http with allowHalfOpen "
        "false); find the request in that server's or "
        "proxy's log at that time to see why, and retry only idempotent requests" },
    [HU_KIND_GATEWAY] = {
        "Gateway error",
        "no socket error: the response's statusCode is the 5xx (fetch: response.ok false)",
        "no exception from http.client (the status is the 5xx); requests' raise_for_status() "
        "raises HTTPError: 502 Server Error: Bad Gateway",
        "no error: resp.StatusCode is the 5xx",
        "no exception from HttpClient (statusCode() is the 5xx); HttpURLConnection's "
        "getInputStream() throws IOException: Server returned HTTP response code: 502",
        "exit 0 with the 5xx page, or with --fail (22) The requested URL returned error: 502",
        "the server, a proxy or load balancer, answered 502 Bad Gateway / 503 / 504 for an "
        "upstream that failed, refused, closed or timed out; look at the proxy's upstream: its "
        "error log at that time says why (nginx's 'upstream prematurely closed connection', "
        "HAProxy's termination state), and capture its upstream leg too" },
};

/*
 * What an identified client does when a request of its fails, and what
 * fixes a keep-alive race for it (software.h names the families).  An
 * application's errors for the other kinds are its stack's column of
 * kind_info; a proxy or load balancer answers its own client instead
 * (proxy_saw).
 */
enum { COL_NODE, COL_PYTHON, COL_GO, COL_JAVA, COL_CURL, COL_PROXY };

typedef struct hu_client_info {
    uint8_t family;           /* hu_sw_family */
    uint8_t col;              /* COL_*: where its errors for the other kinds are */
    const char *race_saw;     /* NULL: its column's string */
    const char *race_fix;
    const char *fail_saw;     /* a proxy's answer to a failed upstream, when not proxy_saw's */
} hu_client_info;

static const hu_client_info client_info[] = {
    { .family = HU_SWF_CURL, .col = COL_CURL, .race_saw = NULL,
      "curl checks a pooled connection before reusing it, but a FIN in flight still races: "
      "in libcurl programs keep CURLOPT_MAXAGE_CONN (118 s by default) below the server's "
      "keep-alive timeout, and retry (curl --retry, --retry-all-errors for a POST)" },
    { .family = HU_SWF_WGET, .col = COL_CURL, .race_saw =
      "'Read error (Connection reset by peer) in headers', then Wget retries by itself "
      "(--tries, 20 by default)",
      "Wget retries by itself; raise the server's keep-alive timeout if the retries matter" },
    { .family = HU_SWF_PY_REQUESTS, .col = COL_PYTHON, .race_saw =
      "requests.exceptions.ConnectionError: ('Connection aborted.', "
      "RemoteDisconnected('Remote end closed connection without response')) or "
      "ConnectionResetError(104)",
      "requests pools connections without an idle timeout of its own: mount an "
      "HTTPAdapter(max_retries=urllib3.util.Retry(...)) so a request that fails on a reused "
      "connection is sent again, or close the Session's idle connections before the "
      "server's keep-alive timeout" },
    { .family = HU_SWF_PY_URLLIB, .col = COL_PYTHON, .race_saw = NULL,
      "keep Python's idle connections (http.client.HTTPConnection) below the server's "
      "keep-alive timeout: close and reopen them after idling, and retry" },
    { .family = HU_SWF_GO, .col = COL_GO, .race_saw =
      "nothing when the request is idempotent (GET, HEAD, OPTIONS, TRACE, or with an "
      "Idempotency-Key header): Go's Transport sends it again on a new connection by itself; "
      "otherwise 'http: server closed idle connection', 'EOF' or 'connection reset by peer'",
      "set Transport.IdleConnTimeout below the server's keep-alive timeout (the default 90 s "
      "is above most servers'); requests Go does not retry need the application's retry" },
    { .family = HU_SWF_NODE, .col = COL_NODE, .race_saw = NULL,
      "give the http.Agent a 'timeout' below the server's keep-alive timeout (Node.js 20 drops "
      "a pooled socket 1 s before the server's Keep-Alive: timeout hint, but only when the "
      "server sends one), and retry requests that fail on a reused connection" },
    { .family = HU_SWF_NODE_FETCH, .col = COL_NODE, .race_saw =
      "TypeError: fetch failed, caused by SocketError: other side closed (UND_ERR_SOCKET)",
      "give fetch a dispatcher whose keepAliveTimeout is below the server's keep-alive "
      "timeout (new undici.Agent({ keepAliveTimeout }); the default 4 s applies when the "
      "server sends no Keep-Alive: timeout hint), and retry" },
    { .family = HU_SWF_JAVA, .col = COL_JAVA, .race_saw = NULL,
      "close pooled connections before the server's keep-alive timeout (the JDK keeps them "
      "5 s for HttpURLConnection, 1200 s for HttpClient: jdk.httpclient.keepalive.timeout) "
      "and retry" },
    { .family = HU_SWF_JAVA_AHC, .col = COL_JAVA, .race_saw = "org.apache.http.NoHttpResponseException: The target server "
      "failed to respond",
      "evict idle connections before the server's keep-alive timeout "
      "(HttpClientBuilder.evictIdleConnections) and validate them after inactivity "
      "(setValidateAfterInactivity)" },
    { .family = HU_SWF_OKHTTP, .col = COL_JAVA, .race_saw = "java.io.IOException: unexpected end of stream (OkHttp retries "
      "it by itself when retryOnConnectionFailure is on, the default)",
      "make the ConnectionPool's keepAliveDuration (5 min by default) shorter than the "
      "server's keep-alive timeout" },
    { .family = HU_SWF_NGINX, .col = COL_PROXY, .race_saw =
      "nothing when the request is idempotent: nginx sends it again on another upstream "
      "connection (proxy_next_upstream error, the default); a POST or another non-idempotent "
      "request is not retried and nginx answers its own client 502 Bad Gateway, logging "
      "'upstream prematurely closed connection' or 'recv() failed (104: Connection reset by "
      "peer)'",
      "in nginx's upstream block set keepalive_timeout below the target's keep-alive timeout, "
      "by more than one RTT (nginx's default 60 s is above many servers')" },
    { .family = HU_SWF_HAPROXY, .col = COL_PROXY, .race_saw =
      "HAProxy answers its own client 502 Bad Gateway (or closes that connection) unless "
      "retry-on covers the failure",
      "set HAProxy's timeout http-keep-alive below the target's keep-alive timeout, or add "
      "'retry-on conn-failure empty-response' with 'retries'" },
    { .family = HU_SWF_AWS_LB, .col = COL_PROXY, .race_saw =
      "the load balancer answers its own client 502 Bad Gateway (Server: awselb/2.0)",
      "set the target's keep-alive timeout above the load balancer's idle timeout (60 s by "
      "default), so that the load balancer, not the target, closes idle connections" },
    { .family = HU_SWF_GOOGLE_LB, .col = COL_PROXY, .race_saw =
      "the load balancer answers its own client 502 "
      "(backend_connection_closed_before_data_sent_to_client)",
      "set the backend's keep-alive timeout above the load balancer's (600 s)" },
    { .family = HU_SWF_ENVOY, .col = COL_PROXY, .race_saw =
      "Envoy answers its own client 503 'upstream connect error or disconnect/reset before "
      "headers' unless a retry policy covers 'reset'",
      "set Envoy's idle_timeout for the upstream (common_http_protocol_options) below the "
      "upstream's keep-alive timeout, or a retry_policy with retry_on: reset",
      "Envoy answers its own client 503 (upstream connect error or disconnect/reset before "
      "headers)" },
    { .family = HU_SWF_VARNISH, .col = COL_PROXY, .race_saw =
      "Varnish retries a GET or HEAD once on a new connection; otherwise it answers its client "
      "503 Backend fetch failed",
      "set Varnish's backend_idle_timeout (60 s by default) below the backend's keep-alive "
      "timeout",
      "Varnish answers its own client 503 Backend fetch failed" },
    { .family = HU_SWF_CADDY, .col = COL_PROXY, .race_saw = "Caddy answers its own client 502 Bad Gateway",
      "set reverse_proxy's transport http { keepalive } (2 min by default) below the "
      "upstream's keep-alive timeout" },
    { .family = HU_SWF_APACHE, .col = COL_PROXY, .race_saw = "Apache httpd answers its own client 502 Proxy Error",
      "set the ProxyPass worker's ttl below the backend's keep-alive timeout" },
    { .family = HU_SWF_CLOUDFLARE, .col = COL_PROXY, .race_saw =
      "Cloudflare answers its own client 502 Bad Gateway or 520",
      "set the origin's keep-alive timeout above Cloudflare's (900 s)" },
};

/* What any proxy or load balancer does for the other kinds: it answers
 * its own client. */
static const char *const proxy_saw[HU_KIND_COUNT] = {
    [HU_KIND_RACE] = "a proxy answers its own client 502 Bad Gateway unless it retries",
    [HU_KIND_SERVER_TIMEOUT] = "it answers its own client 502 Bad Gateway (504 Gateway Timeout "
                               "when its own read timeout fires first)",
    [HU_KIND_RESET] = "it answers its own client 502 Bad Gateway",
    [HU_KIND_ABORT] = "it gave up waiting (its read timeout) and answers its own client 504 "
                      "Gateway Timeout",
    [HU_KIND_REFUSED] = "it answers its own client 502 Bad Gateway (or 503)",
    [HU_KIND_CONNECT_TIMEOUT] = "it answers its own client 504 Gateway Timeout",
    [HU_KIND_TRUNCATED] = "it cuts its own client's response short at the same point",
    [HU_KIND_GATEWAY] = "it passes the 5xx on to its own client, or answers it its own 502",
};

/* The identified client's row, or NULL. */
static const hu_client_info *client_of(const hu_incident_rec *rec)
{
    hu_sw_family f = hu_sw_family_of(rec->client_software);
    for (size_t i = 0; f != HU_SWF_NONE && i < sizeof client_info / sizeof client_info[0]; i++)
        if (client_info[i].family == f)
            return &client_info[i];
    return NULL;
}

struct hu_report {
    hu_report_cfg cfg;
    hu_groups *groups;        /* identical incidents, as printed */
    hu_sb sb;
    uint64_t files, packets, connections, incidents, crossed, stale;
    uint64_t by_kind[HU_KIND_COUNT];
    uint64_t nids_streams, segment_flows;
    uint64_t gap_conns, gap_bytes, one_sided;
};

hu_report *hu_report_new(const hu_report_cfg *cfg)
{
    hu_report *r = calloc(1, sizeof *r);
    if (!r || !(r->groups = hu_groups_new())) {
        free(r);
        return NULL;
    }
    r->cfg = *cfg;
    return r;
}

void hu_report_free(hu_report *r)
{
    if (!r)
        return;
    hu_sb_free(&r->sb);
    hu_groups_free(r->groups);
    free(r);
}

uint64_t hu_report_incidents(const hu_report *r) { return r->incidents; }

void hu_report_file_done(hu_report *r, uint64_t packets, uint64_t connections,
                         uint64_t nids_streams, uint64_t segment_flows)
{
    r->files++;
    r->packets += packets;
    r->connections += connections;
    r->nids_streams += nids_streams;
    r->segment_flows += segment_flows;
}

void hu_report_gaps_done(hu_report *r, uint64_t gap_conns, uint64_t gap_bytes,
                         uint64_t one_sided)
{
    r->gap_conns += gap_conns;
    r->gap_bytes += gap_bytes;
    r->one_sided += one_sided;
}


void hu_iso_time(hu_sb *sb, int64_t ts_us)
{
    int64_t sec = ts_us >= 0 ? ts_us / 1000000 : -((-ts_us + 999999) / 1000000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        hu_sb_puts(sb, "1970-01-01T00:00:00.000000Z");
        return;
    }
    hu_sb_printf(sb, "%04d-%02d-%02dT%02d:%02d:%02d.%06" PRId64 "Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts_us - sec * 1000000);
}

/* Milliseconds with microsecond precision: "-0.412", "5001.250". */
static void put_ms(hu_sb *sb, int64_t us)
{
    uint64_t a = us < 0 ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    hu_sb_printf(sb, "%s%" PRIu64 ".%03" PRIu64, us < 0 ? "-" : "", a / 1000, a % 1000);
}

/* Append text to dst with every line longer than `width` folded at
 * spaces; continuation lines are indented two more than the text's
 * indentation.  Lines are never cut inside a word. */
static void reflow(hu_sb *dst, const char *text, size_t width)
{
    while (*text) {
        const char *eol = strchr(text, '\n');
        size_t len = eol ? (size_t)(eol - text) : strlen(text);
        size_t indent = 0;
        while (indent < len && text[indent] == ' ')
            indent++;
        size_t col = 0, pos = 0;
        bool first = true;
        while (pos < len) {
            size_t start = pos;
            while (pos < len && text[pos] == ' ')
                pos++;
            size_t wstart = pos;
            while (pos < len && text[pos] != ' ')
                pos++;
            size_t wlen = pos - wstart;
            if (wlen == 0)
                break;
            if (first) {
                hu_sb_put(dst, text, wstart);   /* the line's own indentation */
                col = wstart;
                first = false;
            } else if (col + (wstart - start) + wlen > width) {
                hu_sb_putc(dst, '\n');
                for (size_t i = 0; i < indent + 2; i++)
                    hu_sb_putc(dst, ' ');
                col = indent + 2;
            } else {
                hu_sb_put(dst, text + start, wstart - start);
                col += wstart - start;
            }
            hu_sb_put(dst, text + wstart, wlen);
            col += wlen;
        }
        hu_sb_putc(dst, '\n');
        text += len + (eol ? 1 : 0);
    }
}

static void json_ms_or_null(hu_sb *sb, const char *key, int64_t us)
{
    hu_sb_printf(sb, ",\"%s\":", key);
    if (us >= 0)
        put_ms(sb, us);
    else
        hu_sb_puts(sb, "null");
}

/* ,"NAME_file":"..." for packet p of a capture of several files (null when
 * the incident has no such packet); nothing for a capture of one file, so
 * its lines are what they always were. */
static void json_pkt_file(hu_sb *sb, const hu_incident_rec *rec, const char *name, hu_pktref p)
{
    if (!rec->nfiles)
        return;
    hu_sb_printf(sb, ",\"%s_file\":", name);
    if (p.num) {
        const char *f = hu_incident_rec_file(rec, p.file);
        hu_sb_json_str(sb, (const uint8_t *)f, strlen(f));
    } else {
        hu_sb_puts(sb, "null");
    }
}

static void json_pkt(hu_sb *sb, const hu_incident_rec *rec, const char *name, hu_pktref p)
{
    if (p.num) {
        hu_sb_printf(sb, ",\"%s_packet\":%" PRIu64 ",\"%s_time\":\"", name, p.num, name);
        hu_iso_time(sb, p.ts_us);
        hu_sb_putc(sb, '"');
    } else {
        hu_sb_printf(sb, ",\"%s_packet\":null,\"%s_time\":null", name, name);
    }
    json_pkt_file(sb, rec, name, p);
}

/* "N" for packet p of rec, or "N in FILE" when the capture is a set of
 * files and p is not in the file the incident is named by (its
 * request's), into buf (n bytes, wire bytes of the name escaped). */
static const char *pkt_str(char *buf, size_t n, const hu_incident_rec *rec, hu_pktref p)
{
    const char *f = hu_incident_rec_file(rec, p.file);
    if (!rec->nfiles || !p.num || strcmp(f, rec->file) == 0) {
        snprintf(buf, n, "%" PRIu64, p.num);
        return buf;
    }
    hu_sb sb = { 0 };
    hu_sb_safe(&sb, (const uint8_t *)f, strlen(f));
    snprintf(buf, n, "%" PRIu64 " in %s", p.num, hu_sb_cstr(&sb));
    hu_sb_free(&sb);
    return buf;
}
#define PKT_BUF 4200

static void json_str_or_null(hu_sb *sb, const char *key, const char *v)
{
    hu_sb_printf(sb, ",\"%s\":", key);
    if (v && *v)
        hu_sb_json_str(sb, (const uint8_t *)v, strlen(v));
    else
        hu_sb_puts(sb, "null");
}

/* The identities as JSON: name, kind and evidence of each side, null when
 * unknown. */
static void json_software(hu_sb *sb, const hu_incident_rec *rec)
{
    json_str_or_null(sb, "client_software", rec->client_software);
    json_str_or_null(sb, "client_kind", rec->client_kind);
    json_str_or_null(sb, "client_evidence", rec->client_evidence);
    json_str_or_null(sb, "server_software", rec->server_software);
    json_str_or_null(sb, "server_kind", rec->server_kind);
    json_str_or_null(sb, "server_evidence", rec->server_evidence);
}

static void json_int_or_null(hu_sb *sb, const char *key, int64_t v)
{
    if (v >= 0)
        hu_sb_printf(sb, ",\"%s\":%" PRId64, key, v);
    else
        hu_sb_printf(sb, ",\"%s\":null", key);
}

/* What every incident line starts with: type, kind (and a race's
 * verdict), the endpoints, the IP version, the file, the connection's
 * Community ID and the incident's database id (null when not stored). */
/* "downstream": the proxy's downstream leg (legs.h), or null; then how
 * many downstream requests fitted. */
static void json_downstream(hu_sb *sb, const hu_incident_rec *rec)
{
    const hu_downstream *ds = &rec->ds;
    json_int_or_null(sb, "cause", rec->cause ? (int64_t)rec->cause : -1);
    hu_sb_puts(sb, ",\"downstream\":");
    if (ds->candidates != 1) {
        hu_sb_printf(sb, "null,\"downstream_candidates\":%u", ds->candidates);
        return;
    }
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, ds->ipver, ds->cli_addr, ds->cli_port);
    hu_endpoint_str(srv, sizeof srv, ds->ipver, ds->srv_addr, ds->srv_port);
    hu_sb_printf(sb, "{\"client\":\"%s\",\"proxy\":\"%s\"", cli, srv);
    json_pkt(sb, rec, "request", ds->request);
    hu_sb_printf(sb, ",\"outcome\":\"%s\"", hu_ds_outcome_name(ds->outcome));
    json_int_or_null(sb, "status", ds->status ? ds->status : -1);
    json_pkt(sb, rec, "response", ds->response);
    json_pkt(sb, rec, "close", ds->close);
    json_pkt(sb, rec, "retry_request", ds->retry);
    json_ms_or_null(sb, "retry_added_ms", ds->retry.num && ds->retry.ts_us >= rec->req.ts_us
                                              ? ds->retry.ts_us - rec->req.ts_us : -1);
    hu_sb_printf(sb, "},\"downstream_candidates\":%u", ds->candidates);
}

static void json_head(hu_sb *sb, const hu_incident_rec *rec)
{
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, rec->ipver, rec->cli_addr, rec->cli_port);
    hu_endpoint_str(srv, sizeof srv, rec->ipver, rec->srv_addr, rec->srv_port);
    hu_sb_printf(sb, "{\"type\":\"incident\",\"kind\":\"%s\"", rec->kind);
    if (rec->kindid == HU_KIND_RACE)
        hu_sb_printf(sb, ",\"verdict\":\"%s\"", hu_verdict_name(rec->verdict));
    hu_sb_printf(sb, ",\"client\":\"%s\",\"server\":\"%s\",\"ip_version\":%u,\"file\":", cli,
                 srv, rec->ipver);
    hu_sb_json_str(sb, (const uint8_t *)rec->file, strlen(rec->file));
    json_str_or_null(sb, "community_id", rec->community_id);
    json_int_or_null(sb, "incident_id", rec->db_id > 0 ? rec->db_id : -1);
    if (rec->spooled)   /* live's spool keeps it for a database that is down */
        hu_sb_puts(sb, ",\"spooled\":true");
    json_software(sb, rec);
}

/* The values of "method" (its key already written) and "target": the
 * lost request's, or null for both when it was not HTTP. */
static void json_method_target(hu_sb *sb, bool http, const char *method, const uint8_t *target,
                               size_t target_len)
{
    if (http) {
        hu_sb_json_str(sb, (const uint8_t *)method, strlen(method));
        hu_sb_puts(sb, ",\"target\":");
        hu_sb_json_str(sb, target, target_len);
    } else {
        hu_sb_puts(sb, "null,\"target\":null");
    }
}

/* The connection's capture gaps (docs/DESIGN.md §2.13): how many, how
 * many bytes, and the side a one-sided capture holds (or null). */
static void json_gaps(hu_sb *sb, const hu_incident_rec *rec)
{
    hu_sb_printf(sb, ",\"capture_gaps\":%" PRIu32 ",\"capture_gap_bytes\":%" PRIu64,
                 rec->capture_gaps, rec->capture_gap_bytes);
    json_str_or_null(sb, "one_sided", rec->one_sided);
}

/* The explanation's line on the capture's own losses, when it has any:
 * the incident stands on what the capture holds, and says so. */
static void render_gaps(hu_sb *sb, const hu_incident_rec *rec)
{
    if (rec->capture_gaps)
        hu_sb_printf(sb, "  Capture gaps: the capture misses %" PRIu64 " byte%s of this "
                         "connection in %" PRIu32 " place%s that the receiving side "
                         "acknowledged (lost by the capture, not by the network); this "
                         "incident is what the packets it holds still prove.\n",
                     rec->capture_gap_bytes, rec->capture_gap_bytes == 1 ? "" : "s",
                     rec->capture_gaps, rec->capture_gaps == 1 ? "" : "s");
    if (rec->one_sided[0])
        hu_sb_printf(sb, "  One-sided capture: only the %s's packets are in it (an asymmetric "
                         "route or a one-way tap); judged from what that side's sequence "
                         "numbers and acknowledgements prove.\n", rec->one_sided);
}

/* An incident of a kind other than the keep-alive race. */
/* "tls_decrypted": only when the request was read with the key log, so
 * the lines of every other incident stay as they were. */
static void json_decrypted(hu_sb *sb, const hu_request *rq)
{
    if (rq->decrypted)
        hu_sb_puts(sb, ",\"tls_decrypted\":true");
}

static void json_family(hu_sb *sb, const hu_incident_rec *rec)
{
    json_head(sb, rec);
    json_pkt(sb, rec, "request", rec->req);
    json_pkt(sb, rec, "fin", rec->fin);
    json_pkt(sb, rec, "rst", rec->rst);
    const hu_request *rq = &rec->request;
    hu_sb_puts(sb, ",\"method\":");
    json_method_target(sb, rq->http, rq->method, rq->target, rq->target_len);
    hu_sb_puts(sb, ",\"host\":");
    if (rq->has_host)
        hu_sb_json_str(sb, rq->host, rq->host_len);
    else
        hu_sb_puts(sb, "null");
    hu_sb_printf(sb, ",\"tls\":%s", rq->tls ? "true" : "false");
    json_decrypted(sb, rq);
    hu_sb_printf(sb, ",\"handshake_seen\":%s", rec->handshake_seen ? "true" : "false");
    json_ms_or_null(sb, "rtt_ms", rec->rtt_us);
    hu_sb_printf(sb, ",\"safe_to_retry\":%s", rec->safe_to_retry ? "true" : "false");
    switch (rec->kindid) {
    case HU_KIND_SERVER_TIMEOUT:
        json_ms_or_null(sb, "wait_ms", rec->wait_us);
        json_str_or_null(sb, "close", rec->close);
        json_str_or_null(sb, "timeout_hint", rec->timeout_hint);
        break;
    case HU_KIND_RESET:
        json_ms_or_null(sb, "wait_ms", rec->wait_us);
        break;
    case HU_KIND_CLOSED:
        json_ms_or_null(sb, "wait_ms", rec->wait_us);
        json_str_or_null(sb, "close", rec->close);
        break;
    case HU_KIND_ABORT:
        json_str_or_null(sb, "abort", rec->abort);
        hu_sb_printf(sb, ",\"late_response_rst\":%s", rec->late_response_rst ? "true" : "false");
        json_int_or_null(sb, "late_response_packet", rec->late_response_packet);
        json_pkt_file(sb, rec, "late_response",
                      (hu_pktref){ rec->late_response_packet > 0
                                       ? (uint64_t)rec->late_response_packet : 0,
                                   0, rec->late_response_file });
        break;
    case HU_KIND_CONNECT_TIMEOUT:
        hu_sb_printf(sb, ",\"tries\":%d", rec->tries);
        json_ms_or_null(sb, "spent_ms", rec->spent_us);
        break;
    case HU_KIND_TRUNCATED:
        json_str_or_null(sb, "close", rec->close);
        json_int_or_null(sb, "expected_bytes", rec->expected_bytes);
        json_int_or_null(sb, "received_bytes", rec->received_bytes);
        break;
    case HU_KIND_GATEWAY:
        hu_sb_printf(sb, ",\"status\":%d", rec->status);
        json_pkt(sb, rec, "response", rec->resp);
        json_ms_or_null(sb, "wait_ms", rec->wait_us);
        break;
    default:
        break;
    }
    json_gaps(sb, rec);
    hu_sb_printf(sb, ",\"reassembly\":\"%s\"", hu_reasm_name(rec->reasm));
    json_downstream(sb, rec);   /* last: its members repeat top-level names */
    hu_sb_puts(sb, "}\n");
}

void hu_incident_json(hu_sb *sb, const hu_incident_rec *rec)
{
    if (rec->kindid != HU_KIND_RACE) {
        json_family(sb, rec);
        return;
    }
    json_head(sb, rec);
    hu_sb_printf(sb, ",\"fin_packet\":%" PRIu64 ",\"request_packet\":%" PRIu64
                     ",\"rst_packet\":%" PRIu64 ",\"fin_time\":\"",
                 rec->fin.num, rec->req.num, rec->rst.num);
    hu_iso_time(sb, rec->fin.ts_us);
    hu_sb_puts(sb, "\",\"request_time\":\"");
    hu_iso_time(sb, rec->req.ts_us);
    hu_sb_puts(sb, "\",\"rst_time\":\"");
    hu_iso_time(sb, rec->rst.ts_us);
    hu_sb_putc(sb, '"');
    json_pkt_file(sb, rec, "fin", rec->fin);
    json_pkt_file(sb, rec, "request", rec->req);
    json_pkt_file(sb, rec, "rst", rec->rst);
    hu_sb_puts(sb, ",\"gap_ms\":");
    put_ms(sb, rec->gap_us);
    json_ms_or_null(sb, "rtt_ms", rec->rtt_us);
    hu_sb_printf(sb, ",\"rst_ack\":%s,\"method\":", rec->rst_ack ? "true" : "false");
    const hu_request *rq = &rec->request;
    json_method_target(sb, rq->http, rq->method, rq->target, rq->target_len);
    hu_sb_printf(sb, ",\"tls\":%s", rq->tls ? "true" : "false");
    json_decrypted(sb, rq);
    hu_sb_printf(sb, ",\"handshake_seen\":%s,\"safe_to_retry\":%s,\"host\":",
                 rec->handshake_seen ? "true" : "false", rec->safe_to_retry ? "true" : "false");
    if (rq->has_host)
        hu_sb_json_str(sb, rq->host, rq->host_len);
    else
        hu_sb_puts(sb, "null");
    hu_sb_puts(sb, ",\"http_version\":");
    if (rq->version[0])
        hu_sb_printf(sb, "\"%s\"", rq->version);
    else
        hu_sb_puts(sb, "null");
    hu_sb_puts(sb, ",\"content_length\":");
    if (rq->content_length >= 0)
        hu_sb_printf(sb, "%" PRId64, rq->content_length);
    else
        hu_sb_puts(sb, "null");
    hu_sb_puts(sb, ",\"requests_before\":");
    if (rec->requests_before >= 0)
        hu_sb_printf(sb, "%" PRId64, rec->requests_before);
    else
        hu_sb_puts(sb, "null");
    json_ms_or_null(sb, "idle_ms", rec->idle_us);
    json_ms_or_null(sb, "server_idle_close_ms", rec->server_idle_close_us);
    hu_sb_printf(sb, ",\"close_announced\":%s,\"keepalive_hint_s\":",
                 rec->close_announced ? "true" : "false");
    if (rec->keepalive_hint_s >= 0)
        hu_sb_printf(sb, "%d", rec->keepalive_hint_s);
    else
        hu_sb_puts(sb, "null");
    hu_sb_puts(sb, ",\"sni\":");
    if (rec->sni[0])
        hu_sb_json_str(sb, (const uint8_t *)rec->sni, strlen(rec->sni));
    else
        hu_sb_puts(sb, "null");
    hu_sb_printf(sb, ",\"retried\":%s", rec->retried ? "true" : "false");
    json_ms_or_null(sb, "retry_delay_ms", rec->retried ? rec->retry_delay_us : -1);
    json_gaps(sb, rec);
    hu_sb_printf(sb, ",\"reassembly\":\"%s\"", hu_reasm_name(rec->reasm));
    json_downstream(sb, rec);   /* last: its members repeat top-level names */
    hu_sb_puts(sb, "}\n");
}

/* What the user behind a proxy got (legs.h): a paragraph line when the
 * downstream leg is linked or ambiguous, nothing when it is not in the
 * capture. */
static void user_got(hu_sb *sb, const hu_incident_rec *rec)
{
    const hu_downstream *ds = &rec->ds;
    if (rec->cause)
        hu_sb_printf(sb, "  Cause: the proxy's own upstream connection failed first: incident #%"
                         PRIu64 " in this capture, whose request this was.\n", rec->cause);
    if (ds->candidates > 1) {
        hu_sb_printf(sb, "  Downstream: %u user requests for the same method and target came "
                         "in shortly before this one; which of them it carried cannot be told, "
                         "so none is linked.\n", ds->candidates);
        return;
    }
    if (ds->candidates != 1)
        return;
    char user[64], proxy[64];
    hu_endpoint_str(user, sizeof user, ds->ipver, ds->cli_addr, ds->cli_port);
    hu_endpoint_str(proxy, sizeof proxy, ds->ipver, ds->srv_addr, ds->srv_port);
    char pa[PKT_BUF], pb[PKT_BUF];
    hu_sb_printf(sb, "  What the user got: this request was a proxy's, carrying user %s's "
                     "request to %s (packet %s); ", user, proxy,
                 pkt_str(pa, sizeof pa, rec, ds->request));
    switch (ds->outcome) {
    case HU_DS_RETRIED:
        hu_sb_printf(sb, "the proxy sent it again on another connection (packet %s, ",
                     pkt_str(pa, sizeof pa, rec, ds->retry));
        hu_sb_duration(sb, ds->retry.ts_us - rec->req.ts_us);
        hu_sb_puts(sb, " after the first try)");
        if (ds->status)
            hu_sb_printf(sb, " and the user got %d (packet %s): the proxy absorbed the "
                             "race, at the cost of that delay.\n", ds->status,
                         pkt_str(pb, sizeof pb, rec, ds->response));
        else
            hu_sb_puts(sb, "; the user's response is not in the capture.\n");
        break;
    case HU_DS_BAD_GATEWAY:
        hu_sb_printf(sb, "the proxy answered the user %d (packet %s): the user felt "
                         "the race as a bad gateway.\n", ds->status,
                     pkt_str(pb, sizeof pb, rec, ds->response));
        break;
    case HU_DS_CLOSED:
        hu_sb_printf(sb, "the proxy closed the user's connection without a response (packet "
                         "%s): the user felt the race as a dropped connection.\n",
                     pkt_str(pb, sizeof pb, rec, ds->close));
        break;
    case HU_DS_ANSWERED:
        hu_sb_printf(sb, "the user got %d (packet %s), with no retry upstream in the "
                         "capture.\n", ds->status, pkt_str(pb, sizeof pb, rec, ds->response));
        break;
    default:
        hu_sb_puts(sb, "the capture shows no answer to the user.\n");
        break;
    }
}

/* "The client saw: ...": the identified client's own behaviour, a
 * proxy's when the client is one, else every common stack's. */
static void client_saw(hu_sb *sb, const hu_incident_rec *rec)
{
    const hu_kind_info *ki = &kind_info[rec->kindid];
    const hu_client_info *ci = client_of(rec);
    bool proxy = strcmp(rec->client_kind, "proxy") == 0 ||
                 strcmp(rec->client_kind, "load-balancer") == 0;
    const char *cols[COL_PROXY] = { ki->node, ki->python, ki->go, ki->java, ki->curl };
    const char *saw = NULL;
    if (ci && rec->kindid == HU_KIND_RACE && ci->race_saw)
        saw = ci->race_saw;
    else if (ci && ci->col < COL_PROXY)
        saw = cols[ci->col];
    else if (ci && ci->fail_saw && rec->kindid != HU_KIND_ABORT &&
             rec->kindid != HU_KIND_CONNECT_TIMEOUT)
        saw = ci->fail_saw;
    else if (ci || proxy)
        saw = proxy_saw[rec->kindid];
    if (!saw) {
        hu_sb_printf(sb, "  The client saw: Node.js %s; Python %s; Go %s; Java %s; curl %s.\n",
                     ki->node, ki->python, ki->go, ki->java, ki->curl);
        return;
    }
    hu_sb_puts(sb, "  The client saw: ");
    if (rec->client_software[0])
        hu_sb_printf(sb, "%s: ", rec->client_software);
    else
        hu_sb_puts(sb, "a proxy: ");
    hu_sb_printf(sb, "%s.\n", saw);
}

/* The fix of a race for the identified client, or NULL. */
static const char *client_race_fix(const hu_incident_rec *rec)
{
    const hu_client_info *ci = client_of(rec);
    return ci ? ci->race_fix : NULL;
}

/* "Client: ..." and "Server: ...": who they are and the evidence, when
 * the capture shows it. */
static void render_software(hu_sb *sb, const hu_incident_rec *rec)
{
    const char *who[2] = { "Client", "Server" };
    const char *name[2] = { rec->client_software, rec->server_software };
    const char *kind[2] = { rec->client_kind, rec->server_kind };
    const char *ev[2] = { rec->client_evidence, rec->server_evidence };
    for (int i = 0; i < 2; i++) {
        if (!ev[i][0])
            continue;
        hu_sb_printf(sb, "  %s: ", who[i]);
        if (name[i][0])
            hu_sb_printf(sb, "%s%s%s%s", name[i], kind[i][0] ? " (" : "", kind[i],
                         kind[i][0] ? ")" : "");
        else
            hu_sb_printf(sb, "a %s, software unknown", kind[i][0] ? kind[i] : "program");
        hu_sb_printf(sb, "; evidence: %s\n", ev[i]);
    }
}

static void render_timeline(hu_sb *out, const hu_incident_rec *rec)
{
    hu_sb_puts(out, "\n  Timeline (as tcpdump -n prints it):\n");
    const char *file = NULL;   /* a set of files: where the lines below are from */
    for (size_t i = 0; i < rec->ntimeline; i++) {
        const hu_tl_entry *t = &rec->timeline[i];
        if (t->omitted_before)
            hu_sb_printf(out, "    ... (%" PRIu64 " earlier packets of this connection not "
                              "shown)\n", t->omitted_before);
        if (t->file && (!file || strcmp(file, t->file) != 0)) {
            file = t->file;
            hu_sb_puts(out, "    (in ");
            hu_sb_safe(out, (const uint8_t *)file, strlen(file));
            hu_sb_puts(out, ")\n");
        }
        hu_sb_puts(out, t->line);
        hu_sb_putc(out, '\n');
        if (t->note) {
            hu_sb_puts(out, "    ^ ");
            hu_sb_puts(out, t->note);
            hu_sb_putc(out, '\n');
        }
    }
}

/* The header's second line: the connection's Community ID, to find it in
 * other tools' logs, and the command that prints the incident again when
 * it was stored.  Nothing when there is neither. */
static void render_ids(hu_sb *sb, const hu_incident_rec *rec)
{
    const char *sep = "  ";
    if (rec->community_id[0]) {
        hu_sb_printf(sb, "%sCommunity ID %s", sep, rec->community_id);
        sep = "; ";
    }
    if (rec->db_id > 0) {
        hu_sb_printf(sb, "%sstored: hangup show %" PRId64, sep, rec->db_id);
        sep = "; ";
    } else if (rec->spooled) {
        hu_sb_printf(sb, "%sspooled: stored when the database is back", sep);
        sep = "; ";
    }
    if (sep[0] == ';')
        hu_sb_putc(sb, '\n');
}

/* A gateway-error's status in words. */
static const char *gateway_reason(int status)
{
    return status == 502 ? "Bad Gateway" : status == 503 ? "Service Unavailable"
                                                         : "Gateway Timeout";
}

/* A client-abort's "what happened": the request, the abort -- the FIN
 * when there is one; the RST named after the late response is its host's
 * answer to that response. */
static void explain_abort(hu_sb *sb, const hu_incident_rec *rec)
{
    hu_sb_puts(sb, "the client sent ");
    hu_request_describe(sb, &rec->request);
    bool by_fin = rec->abort[0] != 'r' && rec->fin.num;
    char pa[PKT_BUF], pb[PKT_BUF], pc[PKT_BUF];
    hu_pktref late = { rec->late_response_packet > 0 ? (uint64_t)rec->late_response_packet : 0,
                       0, rec->late_response_file };
    hu_sb_printf(sb, " (packet %s) and gave up before the answer: its %s (packet %s)",
                 pkt_str(pa, sizeof pa, rec, rec->req), by_fin ? "FIN" : "RST",
                 pkt_str(pb, sizeof pb, rec, by_fin ? rec->fin : rec->rst));
    if (rec->late_response_packet > 0 && rec->late_response_rst && rec->rst.num)
        hu_sb_printf(sb, "; the server's response came later (packet %s) and met an RST "
                         "(packet %s)",
                     pkt_str(pc, sizeof pc, rec, late), pkt_str(pb, sizeof pb, rec, rec->rst));
    else if (rec->late_response_packet > 0)
        hu_sb_printf(sb, "; the server's response came later (packet %s)",
                     pkt_str(pc, sizeof pc, rec, late));
    hu_sb_puts(sb, ".\n");
}

/* The other kinds: what happened, what the client saw, retry, fix. */
static void render_family(hu_sb *out, const hu_incident_rec *rec, bool timeline)
{
    hu_sb para = {0};
    hu_sb *sb = &para;
    const hu_kind_info *ki = &kind_info[rec->kindid];
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, rec->ipver, rec->cli_addr, rec->cli_port);
    hu_endpoint_str(srv, sizeof srv, rec->ipver, rec->srv_addr, rec->srv_port);
    const hu_request *rq = &rec->request;
    hu_sb_printf(sb, "%s #%" PRIu64 " (%s) in ", ki->title, rec->number, rec->kind);
    hu_sb_safe(sb, (const uint8_t *)rec->file, strlen(rec->file));
    hu_sb_printf(sb, "\n  client %s -> server %s, IPv%u\n", cli, srv, rec->ipver);
    render_ids(sb, rec);
    render_software(sb, rec);
    hu_sb_puts(sb, "\n  What happened: ");
    char pa[PKT_BUF], pb[PKT_BUF];
    hu_pktref closing = rec->rst.num ? rec->rst : rec->fin;
    switch (rec->kindid) {
    case HU_KIND_SERVER_TIMEOUT:
    case HU_KIND_RESET:
    case HU_KIND_CLOSED:
        hu_sb_puts(sb, "the server received ");
        hu_request_describe(sb, rq);
        hu_sb_printf(sb, " (packet %s, acknowledged) and never answered; ",
                     pkt_str(pa, sizeof pa, rec, rec->req));
        hu_sb_duration(sb, rec->wait_us);
        hu_sb_printf(sb, " later it closed the connection with %s (packet %s)",
                     rec->rst.num ? "RST" : "FIN", pkt_str(pb, sizeof pb, rec, closing));
        if (rec->timeout_hint)
            hu_sb_printf(sb, ": that is %s", rec->timeout_hint);
        if (rec->kindid == HU_KIND_CLOSED)
            hu_sb_puts(sb, ", having read all of it: too soon for a timeout, the server chose "
                           "to close");
        hu_sb_puts(sb, ".\n");
        break;
    case HU_KIND_ABORT:
        explain_abort(sb, rec);
        break;
    case HU_KIND_REFUSED:
        hu_sb_printf(sb, "the client's SYN (packet %s) was answered by RST (packet %s): "
                         "nothing listened on %s.\n", pkt_str(pa, sizeof pa, rec, rec->req),
                     pkt_str(pb, sizeof pb, rec, rec->rst), srv);
        break;
    case HU_KIND_CONNECT_TIMEOUT:
        hu_sb_printf(sb, "the client sent its SYN %d times (first packet %s) over ",
                     rec->tries, pkt_str(pa, sizeof pa, rec, rec->req));
        hu_sb_duration(sb, rec->spent_us);
        hu_sb_puts(sb, " and never got an answer.\n");
        break;
    case HU_KIND_TRUNCATED:
        hu_sb_puts(sb, "the response to ");
        hu_request_describe(sb, rq);
        hu_sb_printf(sb, " (packet %s) stopped after %" PRId64 " body bytes",
                     pkt_str(pa, sizeof pa, rec, rec->req), rec->received_bytes);
        if (rec->expected_bytes >= 0)
            hu_sb_printf(sb, " of the %" PRId64 " its Content-Length announced",
                         rec->expected_bytes);
        else
            hu_sb_puts(sb, " of a chunked body that never ended");
        hu_sb_printf(sb, ": the server closed with %s (packet %s).\n",
                     rec->rst.num ? "RST" : "FIN", pkt_str(pb, sizeof pb, rec, closing));
        break;
    case HU_KIND_GATEWAY:
        hu_sb_puts(sb, "the server answered ");
        hu_request_describe(sb, rq);
        hu_sb_printf(sb, " (packet %s) with %d %s (packet %s, ",
                     pkt_str(pa, sizeof pa, rec, rec->req), rec->status,
                     gateway_reason(rec->status), pkt_str(pb, sizeof pb, rec, rec->resp));
        hu_sb_duration(sb, rec->wait_us);
        hu_sb_puts(sb, " later): no socket error, the answer of a proxy or load balancer whose "
                       "own upstream failed.\n");
        break;
    default:
        break;
    }
    client_saw(sb, rec);
    user_got(sb, rec);
    hu_sb_printf(sb, "  Safe to retry: %s\n",
                 rec->kindid == HU_KIND_REFUSED || rec->kindid == HU_KIND_CONNECT_TIMEOUT
                     ? "yes: no request was sent."
                 : rec->safe_to_retry ? "yes, the method is idempotent."
                                      : "not proven: the server may have acted on the request.");
    if (rec->kindid == HU_KIND_GATEWAY && rec->cause)
        hu_sb_printf(sb, "  Fix: see the upstream incident, #%" PRIu64 " of this capture: the "
                         "proxy answered this because of it, so fixing that one fixes this.\n",
                     rec->cause);
    else
        hu_sb_printf(sb, "  Fix: %s.\n", ki->fix);
    render_gaps(sb, rec);
    reflow(out, hu_sb_cstr(&para), 78);
    hu_sb_free(&para);
    if (timeline && rec->ntimeline)
        render_timeline(out, rec);
    hu_sb_putc(out, '\n');
}

/* A race's "Why now": the connection's history before the late request. */
static void race_why_now(hu_sb *sb, const hu_incident_rec *rec)
{
    hu_sb_puts(sb, "  Why now: ");
    if (rec->requests_before >= 0)
        hu_sb_printf(sb, "the connection had carried %" PRId64 " exchange%s", rec->requests_before,
                     rec->requests_before == 1 ? "" : "s");
    else if (rec->request.tls)
        hu_sb_puts(sb, "the connection is encrypted (TLS), so its earlier exchanges cannot be "
                       "counted");
    else
        hu_sb_puts(sb, "the connection's earlier exchanges are not in the capture");
    if (rec->idle_us >= 0) {
        hu_sb_puts(sb, " and sat idle for ");
        hu_sb_duration(sb, rec->idle_us);
        hu_sb_puts(sb, " before this request");
    }
    if (rec->server_idle_close_us >= 0) {
        hu_sb_puts(sb, "; the server sent its FIN ");
        hu_sb_duration(sb, rec->server_idle_close_us);
        hu_sb_puts(sb, " after its last byte (its idle timeout)");
    }
    if (rec->keepalive_hint_s >= 0)
        hu_sb_printf(sb, "; it had announced Keep-Alive: timeout=%d", rec->keepalive_hint_s);
    if (rec->close_announced)
        hu_sb_puts(sb, "; a 'Connection: close' (or HTTP/1.0) earlier on the connection had "
                       "announced the close, so the client should not have reused it");
    hu_sb_puts(sb, ".");
    if (rec->retried) {
        hu_sb_puts(sb, " The client retried the same request on a new connection ");
        hu_sb_duration(sb, rec->retry_delay_us);
        hu_sb_puts(sb, " after the RST.");
    }
}

/* A race's lost request, and whether it is safe to retry (the incident
 * model's decision, explained). */
static void race_lost_request(hu_sb *sb, const hu_incident_rec *rec)
{
    const hu_request *rq = &rec->request;
    hu_sb_puts(sb, "  Lost request: ");
    hu_request_describe(sb, rq);
    if (rq->has_host) {
        hu_sb_puts(sb, " (Host: ");
        hu_sb_safe(sb, rq->host, rq->host_len);
        hu_sb_putc(sb, ')');
    }
    if (rq->decrypted)
        hu_sb_puts(sb, ", read from the TLS records with the key log's secrets");
    if (rec->server_acked) {
        hu_sb_puts(sb, "\n  Safe to retry: ");
        if (rec->safe_to_retry)
            hu_sb_puts(sb, "yes (the server's kernel acknowledged the request before the RST, "
                           "but the method is idempotent).\n");
        else
            hu_sb_puts(sb, "not proven: the server's kernel acknowledged the request before "
                           "resetting, so its application may have read it.\n");
    } else {
        hu_sb_puts(sb, "\n  Safe to retry: yes. The RST shows the server's kernel discarded the "
                       "request; the server application never read it");
        if (rq->http && !hu_method_idempotent(rq->method))
            hu_sb_puts(sb, ", so even this non-idempotent method can be retried");
        hu_sb_puts(sb, ".\n");
    }
}

void hu_incident_render(hu_sb *out, const hu_incident_rec *rec, bool timeline)
{
    if (rec->kindid != HU_KIND_RACE) {
        render_family(out, rec, timeline);
        return;
    }
    hu_sb para = {0};
    hu_sb *sb = &para;
    char cli[64], srv[64];
    hu_endpoint_str(cli, sizeof cli, rec->ipver, rec->cli_addr, rec->cli_port);
    hu_endpoint_str(srv, sizeof srv, rec->ipver, rec->srv_addr, rec->srv_port);
    const hu_request *rq = &rec->request;
    bool stale = rec->verdict == HU_VERDICT_STALE;

    hu_sb_printf(sb, "Keep-alive race #%" PRIu64 " (%s) in ", rec->number,
                 hu_verdict_name(rec->verdict));
    hu_sb_safe(sb, (const uint8_t *)rec->file, strlen(rec->file));
    hu_sb_printf(sb, "\n  client %s -> server %s, IPv%u, ", cli, srv, rec->ipver);
    if (rec->handshake_seen && rec->rtt_us >= 0) {
        hu_sb_puts(sb, "handshake captured, RTT ");
        hu_sb_duration(sb, rec->rtt_us);
    } else {
        hu_sb_puts(sb, "handshake not in the capture (RTT unknown)");
    }
    if (rec->sni[0]) {
        hu_sb_puts(sb, ", TLS server name ");
        hu_sb_safe(sb, (const uint8_t *)rec->sni, strlen(rec->sni));
    }
    hu_sb_putc(sb, '\n');
    render_ids(sb, rec);
    render_software(sb, rec);
    char pk[PKT_BUF];
    hu_sb_puts(sb, "\n  What happened: the server closed the connection (FIN, packet ");
    hu_sb_printf(sb, "%s) while the client reused it for ", pkt_str(pk, sizeof pk, rec, rec->fin));
    hu_request_describe(sb, rq);
    hu_sb_printf(sb, " (packet %s, ", pkt_str(pk, sizeof pk, rec, rec->req));
    hu_sb_duration(sb, rec->gap_us < 0 ? -rec->gap_us : rec->gap_us);
    hu_sb_printf(sb, " %s the FIN in this capture); the server's kernel answered with %s "
                     "(packet %s).\n",
                 rec->gap_us < 0 ? "before" : "after",
                 rec->rst_ack ? "RST+ACK" : "a bare RST", pkt_str(pk, sizeof pk, rec, rec->rst));
    race_why_now(sb, rec);
    hu_sb_puts(sb, "\n");
    client_saw(sb, rec);
    user_got(sb, rec);
    if (stale)
        hu_sb_puts(sb, "  Verdict: stale. The request acknowledges the FIN: the client's kernel had "
                       "already received the close when the HTTP client wrote the request on that "
                       "socket. The client reused a connection it had been told was closing.\n");
    else
        hu_sb_puts(sb, "  Verdict: crossed. The request does not acknowledge the FIN: it was "
                       "sent before the client could know about the close. A true in-flight race; "
                       "nobody misbehaved.\n");
    race_lost_request(sb, rec);
    const char *fix = client_race_fix(rec);
    if (fix)
        hu_sb_printf(sb, "  Fix: %s.\n", fix);
    else if (stale)
        hu_sb_puts(sb, "  Fix: use an HTTP client that notices the peer's FIN before reusing an "
                       "idle socket, or keep the client's idle timeout well below the server's "
                       "keep-alive timeout; retry requests that fail on a reused connection.\n");
    else
        hu_sb_puts(sb, "  Fix: make the client drop idle pooled connections sooner than the "
                       "server does, by more than one RTT (Node.js http.Agent 'timeout', undici "
                       "'keepAliveTimeout', Go Transport.IdleConnTimeout), or raise the server's "
                       "keep-alive timeout above the clients'; and retry requests that fail on a "
                       "reused connection.\n");
    hu_sb_printf(sb, "  Reassembly: %s.\n", hu_reasm_explain(rec->reasm));
    render_gaps(sb, rec);
    reflow(out, hu_sb_cstr(&para), 78);
    hu_sb_free(&para);
    if (timeline && rec->ntimeline)
        render_timeline(out, rec);
    hu_sb_putc(out, '\n');
}

void hu_report_incident(hu_report *r, const hu_incident_rec *rec)
{
    r->incidents++;
    r->by_kind[rec->kindid]++;
    if (rec->kindid == HU_KIND_RACE) {
        if (rec->verdict == HU_VERDICT_STALE)
            r->stale++;
        else
            r->crossed++;
    }
    if (r->cfg.kinds && !(r->cfg.kinds & (1u << rec->kindid)))
        return;
    hu_group *grp = r->cfg.group != HU_GROUP_ALL ? hu_groups_add(r->groups, rec) : NULL;
    if (grp) {   /* grouped: listed with the summary, or folded after a few */
        if (r->cfg.group == HU_GROUP_SUMMARY ||
            (!r->cfg.json && grp->printed >= HU_GROUP_SHOWN))
            return;
        grp->printed++;
    }
    if (r->cfg.status) {   /* the incident starts on a line of its own */
        fputs("\r\033[K", r->cfg.status);
        fflush(r->cfg.status);
    }
    hu_sb_reset(&r->sb);
    if (r->cfg.json)
        hu_incident_json(&r->sb, rec);
    else
        hu_incident_render(&r->sb, rec, r->cfg.timeline);
    hu_sb_write(&r->sb, r->cfg.out);
    if (r->cfg.flush)
        fflush(r->cfg.out);
}

static void json_server(hu_sb *sb, const hu_server_summary *s)
{
    char ep[64];
    hu_endpoint_str(ep, sizeof ep, s->ipver, s->addr, s->port);
    hu_sb_printf(sb, "{\"type\":\"server\",\"server\":\"%s\",\"connections\":%" PRIu64
                     ",\"requests\":%" PRIu64 ",\"idle_closes\":%" PRIu64 ",\"incidents\":%" PRIu64,
                 ep, s->connections, s->requests, s->idle_closes, s->incidents);
    json_ms_or_null(sb, "idle_timeout_ms", s->idle_timeout_us);
    json_ms_or_null(sb, "idle_timeout_spread_ms", s->idle_timeout_spread_us);
    json_ms_or_null(sb, "max_reuse_idle_ms", s->max_reuse_idle_us);
    json_ms_or_null(sb, "rtt_ms", s->rtt_us);
    hu_sb_printf(sb, ",\"users_felt\":%" PRIu64 ",\"proxy_absorbed\":%" PRIu64,
                 s->users_felt, s->proxy_absorbed);
    hu_sb_printf(sb, ",\"race_risk\":%s,\"advice\":", s->race_risk ? "true" : "false");
    hu_sb_json_str(sb, (const uint8_t *)s->advice, strlen(s->advice));
    json_str_or_null(sb, "software", s->software);
    json_str_or_null(sb, "idle_timeout_default", s->idle_timeout_default);
    hu_sb_puts(sb, "}\n");
}

/* One group as a JSON line. */
static void json_group(hu_sb *sb, const hu_group *g)
{
    char ep[64];
    hu_endpoint_str(ep, sizeof ep, g->ipver, g->srv_addr, g->srv_port);
    hu_sb_printf(sb, "{\"type\":\"group\",\"kind\":\"%s\",\"verdict\":",
                 hu_kind_name(g->kindid));
    if (g->kindid == HU_KIND_RACE)
        hu_sb_printf(sb, "\"%s\"", hu_verdict_name(g->verdict));
    else
        hu_sb_puts(sb, "null");
    hu_sb_printf(sb, ",\"server\":\"%s\",\"method\":", ep);
    json_method_target(sb, g->http, g->method, g->target, g->target_len);
    hu_sb_printf(sb, ",\"count\":%" PRIu64 ",\"first_time\":\"", g->count);
    hu_iso_time(sb, g->first_us);
    hu_sb_puts(sb, "\",\"last_time\":\"");
    hu_iso_time(sb, g->last_us);
    hu_sb_puts(sb, "\",\"first_file\":");
    hu_sb_json_str(sb, (const uint8_t *)g->first_file, strlen(g->first_file));
    hu_sb_printf(sb, ",\"first_number\":%" PRIu64 "}\n", g->first_number);
}

/* One group as a line of the human summary (reflowed by the caller). */
static void human_group(hu_sb *sb, const hu_group *g, bool folded)
{
    char ep[64];
    hu_endpoint_str(ep, sizeof ep, g->ipver, g->srv_addr, g->srv_port);
    hu_sb_printf(sb, "  %" PRIu64 " x %s", g->count, hu_kind_name(g->kindid));
    if (g->kindid == HU_KIND_RACE)
        hu_sb_printf(sb, " (%s)", hu_verdict_name(g->verdict));
    hu_sb_printf(sb, " at server %s", ep);
    if (g->http) {
        hu_sb_puts(sb, ", ");
        hu_sb_safe(sb, (const uint8_t *)g->method, strlen(g->method));
        hu_sb_putc(sb, ' ');
        hu_sb_safe(sb, g->target, g->target_len);
    }
    hu_sb first = { 0 }, last = { 0 };
    hu_iso_time(&first, g->first_us);
    hu_iso_time(&last, g->last_us);
    const char *f = hu_sb_cstr(&first), *l = hu_sb_cstr(&last);
    hu_sb_printf(sb, ": %s", f);
    if (g->count > 1)   /* the last time without the date when it is the same */
        hu_sb_printf(sb, " to %s", strncmp(f, l, 11) == 0 ? l + 11 : l);
    hu_sb_free(&first);
    hu_sb_free(&last);
    hu_sb_printf(sb, "; %s#%" PRIu64 " in ", g->count > 1 ? "first " : "", g->first_number);
    hu_sb_safe(sb, (const uint8_t *)g->first_file, strlen(g->first_file));
    if (folded)
        hu_sb_printf(sb, "; %" PRIu64 " printed above", g->printed);
    hu_sb_putc(sb, '\n');
}

/* The groups section of the human summary, into para: every group with
 * HU_GROUP_SUMMARY, else those with incidents folded (none: nothing). */
static void human_groups(const hu_report *r, hu_sb *para)
{
    size_t n;
    hu_group *const *list = hu_groups_list(r->groups, &n);
    bool all = r->cfg.group == HU_GROUP_SUMMARY;
    uint64_t incidents = 0, folded = 0;
    for (size_t i = 0; i < n; i++) {
        incidents += list[i]->count;
        folded += list[i]->count - list[i]->printed;
    }
    if (all)
        hu_sb_printf(para, "Incidents, identical ones together (%" PRIu64 " in %zu group%s; "
                           "--all prints each in full):\n", incidents, n, n == 1 ? "" : "s");
    else if (folded)
        hu_sb_printf(para, "Repeated incidents (%d of each printed in full above, %" PRIu64
                           " more not; --all prints every one, --summary only these lines):\n",
                     HU_GROUP_SHOWN, folded);
    else
        return;
    for (size_t i = 0; i < n; i++)
        if (all || list[i]->count > list[i]->printed)
            human_group(para, list[i], !all);
    hu_sb_putc(para, '\n');
}

void hu_report_summary(hu_report *r, const hu_server_summary *list, size_t n, uint64_t overflow)
{
    hu_sb *sb = &r->sb;
    hu_sb_reset(sb);
    if (r->cfg.json) {
        size_t ng;
        hu_group *const *groups = hu_groups_list(r->groups, &ng);
        for (size_t i = 0; r->cfg.group == HU_GROUP_SUMMARY && i < ng; i++)
            json_group(sb, groups[i]);
        for (size_t i = 0; i < n; i++)
            json_server(sb, &list[i]);
        hu_sb_write(sb, r->cfg.out);
        return;
    }
    hu_sb para = {0};
    human_groups(r, &para);
    reflow(sb, hu_sb_cstr(&para), 78);
    hu_sb_free(&para);
    hu_report_summary_text(r, sb, list, n, overflow);
    hu_sb_write(sb, r->cfg.out);
}

void hu_report_summary_text(const hu_report *r, hu_sb *sb, const hu_server_summary *list,
                            size_t n, uint64_t overflow)
{
    hu_sb para = {0};
    hu_sb_printf(&para, "Summary: %" PRIu64 " capture%s, %" PRIu64 " packet%s, %" PRIu64
                        " TCP connection%s (%" PRIu64 " reassembled by libnids, %" PRIu64
                        " per segment), %" PRIu64 " keep-alive race%s (%" PRIu64 " crossed, %" PRIu64
                        " stale)",
                 r->files, r->files == 1 ? "" : "s", r->packets, r->packets == 1 ? "" : "s",
                 r->connections, r->connections == 1 ? "" : "s", r->nids_streams,
                 r->segment_flows, r->by_kind[HU_KIND_RACE],
                 r->by_kind[HU_KIND_RACE] == 1 ? "" : "s", r->crossed, r->stale);
    for (int k = 1; k < HU_KIND_COUNT; k++)
        if (r->by_kind[k])
            hu_sb_printf(&para, ", %" PRIu64 " %s", r->by_kind[k], hu_kind_name((hu_kind)k));
    if (r->gap_conns)
        hu_sb_printf(&para, "; capture gaps on %" PRIu64 " connection%s (%" PRIu64 " byte%s "
                            "the peers acknowledged that the capture does not hold)",
                     r->gap_conns, r->gap_conns == 1 ? "" : "s", r->gap_bytes,
                     r->gap_bytes == 1 ? "" : "s");
    if (r->one_sided)
        hu_sb_printf(&para, "; %" PRIu64 " connection%s seen one way only", r->one_sided,
                     r->one_sided == 1 ? "" : "s");
    if (r->cfg.kinds) {   /* the counts are the capture's; say what was printed */
        hu_sb_puts(&para, "; printed: only");
        const char *sep = " ";
        for (int k = 0; k < HU_KIND_COUNT; k++)
            if (r->cfg.kinds & (1u << k)) {
                hu_sb_printf(&para, "%s%s", sep, hu_kind_name((hu_kind)k));
                sep = ", ";
            }
    }
    hu_sb_putc(&para, '\n');
    size_t shown = n < 20 ? n : 20;
    for (size_t i = 0; i < shown; i++) {
        const hu_server_summary *s = &list[i];
        char ep[64];
        hu_endpoint_str(ep, sizeof ep, s->ipver, s->addr, s->port);
        uint64_t races = s->crossed + s->stale;
        hu_sb_printf(&para, "  server %s: %" PRIu64 " connection%s, %" PRIu64 " request%s, %" PRIu64
                            " idle close%s, %" PRIu64 " race%s",
                     ep, s->connections, s->connections == 1 ? "" : "s", s->requests,
                     s->requests == 1 ? "" : "s", s->idle_closes, s->idle_closes == 1 ? "" : "s",
                     races, races == 1 ? "" : "s");
        if (races)
            hu_sb_printf(&para, " (%" PRIu64 " crossed, %" PRIu64 " stale)", s->crossed, s->stale);
        if (s->incidents > races)
            hu_sb_printf(&para, ", %" PRIu64 " other incident%s", s->incidents - races,
                         s->incidents - races == 1 ? "" : "s");
        if (s->users_felt || s->proxy_absorbed)
            hu_sb_printf(&para, "; behind a proxy, its users felt %" PRIu64 " (a 5xx or a "
                                "dropped connection) and the proxy absorbed %" PRIu64,
                         s->users_felt, s->proxy_absorbed);
        if (s->idle_timeout_us >= 0) {
            hu_sb_puts(&para, "; idle timeout ");
            hu_sb_duration(&para, s->idle_timeout_us);
            hu_sb_puts(&para, " (spread ");
            hu_sb_duration(&para, s->idle_timeout_spread_us);
            hu_sb_putc(&para, ')');
        }
        if (s->max_reuse_idle_us >= 0) {
            hu_sb_puts(&para, "; clients reused after up to ");
            hu_sb_duration(&para, s->max_reuse_idle_us);
            hu_sb_puts(&para, " idle");
        }
        hu_sb_printf(&para, "\n    %s%s.\n", s->race_risk ? "RACE RISK: " : "", s->advice);
    }
    if (n > shown)
        hu_sb_printf(&para, "  ... and %zu more servers (see --json)\n", n - shown);
    if (overflow)
        hu_sb_printf(&para, "  (%" PRIu64 " connections to servers beyond the table bound not "
                            "itemised)\n", overflow);
    reflow(sb, hu_sb_cstr(&para), 78);
    hu_sb_free(&para);
}
