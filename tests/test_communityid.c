/*
 * test_communityid.c -- each incident's Community ID: the module against
 * the spec's published vectors, every sample incident against the ID
 * Wireshark's own implementation (tshark) gives its packets, and the ID
 * and database id as analyze prints them, in JSON and for people.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hangup/communityid.h"
#include "testutil.h"

static int run(const char *args, char **out, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "TZ=UTC '%s' %s", HANGUP_BIN, args);
    return tu_sh(cmd, out, err);
}

/* The Community ID of text endpoints a and b (IPv4 or IPv6). */
static const char *cid_of(uint16_t seed, const char *a, uint16_t ap, const char *b, uint16_t bp)
{
    static char out[HU_CID_LEN];
    uint8_t aa[16] = { 0 }, ba[16] = { 0 };
    uint8_t ipver = strchr(a, ':') ? 6 : 4;
    int af = ipver == 4 ? AF_INET : AF_INET6;
    cr_assert_eq(inet_pton(af, a, aa), 1, "%s", a);
    cr_assert_eq(inet_pton(af, b, ba), 1, "%s", b);
    cr_assert(hu_cid_tcp(out, seed, ipver, aa, ap, ba, bp));
    return out;
}

/* The TCP rows of the spec's baseline (corelight/community-id-spec,
 * baseline/README.md and baseline_deflt.json / baseline_seed1.json): the
 * README's table, and real IPv4 and IPv6 flows of its combined.pcap. */
Test(communityid, spec_baseline_vectors)
{
    static const struct {
        const char *a, *b;
        uint16_t ap, bp;
        const char *seed0, *seed1;
    } v[] = {
        { "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM=",
          "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=" },
        { "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
          "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
        { "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
          "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        /* Both directions of the flow: one ID. */
        cr_expect_str_eq(cid_of(0, v[i].a, v[i].ap, v[i].b, v[i].bp), v[i].seed0);
        cr_expect_str_eq(cid_of(0, v[i].b, v[i].bp, v[i].a, v[i].ap), v[i].seed0);
        cr_expect_str_eq(cid_of(1, v[i].a, v[i].ap, v[i].b, v[i].bp), v[i].seed1);
        cr_expect_str_eq(cid_of(1, v[i].b, v[i].bp, v[i].a, v[i].ap), v[i].seed1);
    }
}

/* One address on both sides (every sample is on loopback): the ports
 * decide the order, so both directions still give one ID, and swapping
 * the ports between the sides gives another connection. */
Test(communityid, equal_addresses_are_ordered_by_port)
{
    char one[HU_CID_LEN];
    snprintf(one, sizeof one, "%s", cid_of(0, "::1", 50000, "::1", 3000));
    cr_expect_str_eq(cid_of(0, "::1", 3000, "::1", 50000), one);
    cr_expect_str_neq(cid_of(0, "::1", 50000, "::1", 3001), one);
    snprintf(one, sizeof one, "%s", cid_of(0, "127.0.0.1", 50000, "127.0.0.1", 3000));
    cr_expect_str_eq(cid_of(0, "127.0.0.1", 3000, "127.0.0.1", 50000), one);
}

Test(communityid, other_ip_versions_have_none)
{
    char out[HU_CID_LEN] = "x";
    uint8_t a[16] = { 1 }, b[16] = { 2 };
    cr_expect_not(hu_cid_tcp(out, 0, 0, a, 1, b, 2));
    cr_expect_str_eq(out, "");
    cr_expect_not(hu_cid_tcp(out, 0, 5, a, 1, b, 2));
    cr_expect_str_eq(out, "");
}

/* Every incident of every sample, by its kind and request packet (from
 * the oracle's .expected), with the Community ID tshark 4.0 gives that
 * packet:
 *   tshark --enable-protocol communityid -r SAMPLE -T fields \
 *          -e frame.number -e communityid
 * Regenerate with tests/communityid-golden --write. */
static const struct golden {
    const char *capture, *kind;
    uint64_t request_packet;
    const char *cid;
} golden[] = {
    /* BEGIN tshark golden (tests/communityid-golden --write) */
    { "client-abort.pcap", "client-abort", 4, "1:RGnO6SPAGSkH/fXeWbqMCHGqhm4=" },
    { "client-abort.pcap", "client-abort", 12, "1:Wy9EdUgSvoDAhpLTP/ozNO8ge0k=" },
    { "client-abort.pcap", "client-abort", 20, "1:SZJpJq8ss6tiaxlp5F4TeTsel6U=" },
    { "client-abort.pcap", "client-abort", 28, "1:d0qPmHY+o5+WZXqcqZGBA8tuVFk=" },
    { "client-abort.pcap", "client-abort", 36, "1:ho7Lg1H1ZqXsxHBP1vWPkVGqG5s=" },
    { "client-abort.pcap", "client-abort", 45, "1:JN21YiBguy+Qd6W0VClXe+RzATA=" },
    { "client-abort.pcap", "client-abort", 54, "1:O1ALRL137imt6+ACbXeuqHCnVKk=" },
    { "client-abort.pcap", "client-abort", 63, "1:oYO6wEU57/iihiCZmfTBl6JZOMA=" },
    { "client-abort.pcap", "client-abort", 72, "1:NQH13G/JNGjc2CCTc8y5k2x5IpA=" },
    { "conn-close.pcap", "keepalive-race", 12, "1:JH/kPc7oN/jhavXqXLixS8UYsWQ=" },
    { "conn-close.pcap", "keepalive-race", 25, "1:9YVjWMDjv+pVQH0TJmtzS/UpRJQ=" },
    { "connect-timeout.pcap", "connect-timeout", 13, "1:d/+ybWqXloUJBWsIP2hq6UZBWTg=" },
    { "connect-timeout.pcap", "connect-timeout", 17, "1:7FSY4lHXNFNb7ytl3pM3xUCC8tg=" },
    { "connect-timeout.pcap", "connect-timeout", 21, "1:ZiWUmZf/k3hmeWsn7xxE7kmaSSA=" },
    { "connect-timeout.pcap", "connect-timeout", 25, "1:BZ1QqJR0Yy+/e2RLqMOaBtFDkOA=" },
    { "crossed-client.pcap", "keepalive-race", 14, "1:YpkET/VokETVo8TDXB/Flh+GZDQ=" },
    { "crossed-client.pcap", "keepalive-race", 29, "1:XNRPQBzya6MBeUi27J/MGqDeiGI=" },
    { "crossed-server.pcap", "keepalive-race", 15, "1:YpkET/VokETVo8TDXB/Flh+GZDQ=" },
    { "crossed-server.pcap", "keepalive-race", 30, "1:XNRPQBzya6MBeUi27J/MGqDeiGI=" },
    { "http-reorder.pcap", "keepalive-race", 31, "1:+88VUtGmEZnrcDBQ0CWbOLroJoI=" },
    { "http-split.pcap", "keepalive-race", 41, "1:pjGN/1Im9oelyYYflRBSX57fCxE=" },
    { "midstream.pcap", "keepalive-race", 11, "1:1CUX6b1NkQgIlQ4tAJQePKMvt1c=" },
    { "node-keepalive-v4.pcap", "keepalive-race", 34, "1:ftvTKhEwYilpHD/hRJPIF4uOBI4=" },
    { "node-keepalive-v4.pcap", "keepalive-race", 62, "1:+SIpQl1mwoSTGhs8RHasfbYiLJM=" },
    { "node-keepalive-v6.pcap", "keepalive-race", 34, "1:tRHHe+hHPhmPLSwogCDNXOqMunk=" },
    { "node-keepalive-v6.pcap", "keepalive-race", 62, "1:gHhE7tRsZGaVFU0JCyv8sibdRYg=" },
    { "race-any.pcap", "keepalive-race", 16, "1:ooc5m3CxYsKMBhwRir/WjH1D4aw=" },
    { "race-any.pcap", "keepalive-race", 30, "1:mz/1O1vRCyg5brZtVWgjrR2MU7w=" },
    { "race-node-ipv4.pcap", "keepalive-race", 16, "1:4U2P/LNa4gWDNqa8Jw//+BR6NMU=" },
    { "race-node-ipv4.pcap", "keepalive-race", 30, "1:cdNORTnc8JduN/6H9XSA3F9+GKM=" },
    { "race-node-ipv6.pcapng", "keepalive-race", 16, "1:VdaTI5CxvW8pqPU+eO0H4+MbkOk=" },
    { "race-node-ipv6.pcapng", "keepalive-race", 30, "1:5bqICVSzvKokoZT5sTXgjFHFfYI=" },
    { "race-python.pcap", "keepalive-race", 22, "1:TRZdrqQU2kC1jiLOSmNEHAXQudg=" },
    { "race-python.pcap", "keepalive-race", 40, "1:F7AgzrJdmfO2iBmwrGaoIS8yq0k=" },
    { "race-tls-sni.pcap", "keepalive-race", 19, "1:IUX0cSWKlE8zLfqejAlivmUPbyQ=" },
    { "race-tls.pcap", "keepalive-race", 19, "1:3unxK0ih5hKRoOFW/FIl/BQwWlE=" },
    { "refused-v4.pcap", "refused", 1, "1:PJexHO0WRgk/lpbkeT1yhHnfw4g=" },
    { "refused-v4.pcap", "refused", 3, "1:CJt7EnpFcCk0mB0dPIduCPrTOiw=" },
    { "refused-v4.pcap", "refused", 5, "1:M8DtNpzJvqUkFC1T/JVtubb1Y+8=" },
    { "refused-v4.pcap", "refused", 7, "1:E/O0xM9We9Yjn0qqYG2QmW6m1zE=" },
    { "refused-v4.pcap", "refused", 9, "1:rDGOCPRG7Zcpad3AFaXxNKxYdfw=" },
    { "refused-v4.pcap", "refused", 11, "1:FUQ6zlO0wPjlSjXUussbnyjqhGI=" },
    { "refused-v6.pcap", "refused", 1, "1:WJn2TfCXjFbHDD+fM1lAfHvxKy4=" },
    { "refused-v6.pcap", "refused", 3, "1:U/KHt0DrdnJXHokii/DhNN4urqk=" },
    { "refused-v6.pcap", "refused", 5, "1:R5wZDg+rHseiA37uIygDSKvzzHk=" },
    { "refused-v6.pcap", "refused", 7, "1:TMPQ3fDj1r9k6EPuSwx4sdlafRc=" },
    { "refused-v6.pcap", "refused", 9, "1:aM+rIVM/aHsgDsuSDZHTC3UWLKE=" },
    { "refused-v6.pcap", "refused", 11, "1:xIy5gyNaAg2N6CUV6d+wAjJGnA8=" },
    { "reset-unread.pcap", "reset-before-response", 4, "1:ljFT6VZAfiOl09Q7WClc1sdLpcc=" },
    { "reset-unread.pcap", "reset-before-response", 10, "1:qb2yS305w/78coIP68/mbGfS7SA=" },
    { "reset-unread.pcap", "reset-before-response", 16, "1:vvAYw1tRLpt5OYlOPs0DDqYmA0M=" },
    { "reset-unread.pcap", "reset-before-response", 22, "1:sEc/qX1/Izsf5R21gbxgVyvdWGA=" },
    { "reset-unread.pcap", "reset-before-response", 28, "1:uPQwEJKEnrZ+5k7yxeu5wxvRcN0=" },
    { "retry.pcap", "keepalive-race", 17, "1:rQG3q+403zrxzZQuzqacswHgsKI=" },
    { "retry.pcap", "keepalive-race", 37, "1:7rzK6oSiEAOtZlKt1TKnLPfIXtU=" },
    { "server-timeout-node.pcap", "server-timeout", 8, "1:O+DdgSjynfaRZXmZWhHj8yJ008w=" },
    { "server-timeout-node.pcap", "server-timeout", 16, "1:af9O0L5sduC8XjTAqXJIMMts83s=" },
    { "server-timeout-node.pcap", "server-timeout", 28, "1:9tKNulfRqCwA4+LnRze29q3bZL0=" },
    { "server-timeout-node.pcap", "server-timeout", 42, "1:drh5aV9+sC/Q21MB6cWF8T6DEN0=" },
    { "server-timeout-node.pcap", "server-timeout", 55, "1:UXKRae715g5JeA3ropC+ph1wsaU=" },
    { "server-timeout-node.pcap", "server-timeout", 63, "1:tMKgXsLtVuoeCkDFQEhG9Dfo6hw=" },
    { "truncated-response.pcap", "truncated-response", 4, "1:IGoBelhnWAICm40/Agky9N5jgaw=" },
    { "truncated-response.pcap", "truncated-response", 16, "1:NuLYIkjzAF4gD2Tk9oHIXkrATbA=" },
    { "truncated-response.pcap", "truncated-response", 28, "1:C1+IBABTzOxZ4x2Ga7Kdxv+FUu4=" },
    { "truncated-response.pcap", "truncated-response", 40, "1:REo4mv+3IFp2odGbaQwXw8LbmdA=" },
    { "truncated-response.pcap", "truncated-response", 52, "1:3/RRrAc5pELkFbJxOevjx25gvLA=" },
    { "truncated-response.pcap", "truncated-response", 66, "1:2UoV4P+OPOT4jsbyuGEeO0N9ZkM=" },
    { "truncated-response.pcap", "truncated-response", 80, "1:ouy+OOjVywNYrovE9ImVC8Aqzr4=" },
    { "truncated-response.pcap", "truncated-response", 94, "1:YLjeUPq/4dGE0znlr0W4SP/LNBE=" },
    /* END tshark golden */
};
#define NGOLDEN (sizeof golden / sizeof golden[0])

/* Each sample's incidents, as analyze's pipeline makes them, carry the ID
 * tshark computes from the packets: IPv4 and IPv6, every link type the
 * samples have (Ethernet, LINUX_SLL, pcapng), every kind. */
Test(communityid, every_sample_incident_has_the_id_tshark_computes, .timeout = 240)
{
    size_t checked = 0;
    for (size_t i = 0; i < NGOLDEN; i++) {
        if (i && strcmp(golden[i].capture, golden[i - 1].capture) == 0)
            continue;   /* one analysis per capture */
        tu_analysis *a = tu_analyze_file(tu_sample(golden[i].capture));
        cr_assert_not_null(a);
        cr_assert_eq(a->rc, HU_CAP_OK, "%s: %s", golden[i].capture, a->err);
        size_t rows = 0;
        for (size_t g = i; g < NGOLDEN && strcmp(golden[g].capture, golden[i].capture) == 0;
             g++, rows++) {
            const hu_incident_rec *r = NULL;
            for (size_t k = 0; k < a->nrecs && !r; k++)
                if (strcmp(a->recs[k]->kind, golden[g].kind) == 0 &&
                    a->recs[k]->req.num == golden[g].request_packet)
                    r = a->recs[k];
            cr_assert_not_null(r, "%s: no %s incident at packet %lu", golden[g].capture,
                               golden[g].kind, (unsigned long)golden[g].request_packet);
            cr_expect_str_eq(r->community_id, golden[g].cid, "%s: %s at packet %lu",
                             golden[g].capture, golden[g].kind,
                             (unsigned long)golden[g].request_packet);
            checked++;
        }
        cr_expect_eq(a->nrecs, rows, "%s: %zu incidents, %zu in the golden table",
                     golden[i].capture, a->nrecs, rows);
        tu_analysis_free(a);
    }
    cr_expect_eq(checked, NGOLDEN);
}

/* The golden ID of capture's incident at request packet pkt. */
static const char *golden_cid(const char *capture, uint64_t pkt)
{
    for (size_t i = 0; i < NGOLDEN; i++)
        if (strcmp(golden[i].capture, capture) == 0 && golden[i].request_packet == pkt)
            return golden[i].cid;
    cr_assert_fail("%s: no golden row for packet %lu", capture, (unsigned long)pkt);
    return NULL;
}

/* The line of out that holds both a and b, copied (NULL when none does). */
static char *line_with(const char *out, const char *a, const char *b)
{
    for (const char *p = out; *p;) {
        const char *e = strchr(p, '\n');
        char *line = strndup(p, e ? (size_t)(e - p) : strlen(p));
        if (strstr(line, a) && strstr(line, b))
            return line;
        free(line);
        if (!e)
            break;
        p = e + 1;
    }
    return NULL;
}

/* Without a database every JSON incident has its Community ID and a null
 * incident_id, and the human header its ID and no "stored" part. */
Test(communityid, analyze_without_a_database)
{
    char args[9000], *out, *err;
    char v4[4200];
    snprintf(v4, sizeof v4, "%s", tu_sample("crossed-client.pcap"));
    snprintf(args, sizeof args, "analyze --no-db --json '%s' '%s'", v4,
             tu_sample("race-node-ipv6.pcapng"));
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    const struct { const char *capture; uint64_t pkt; } want[] = {
        { "crossed-client.pcap", 14 }, { "crossed-client.pcap", 29 },
        { "race-node-ipv6.pcapng", 16 }, { "race-node-ipv6.pcapng", 30 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint64_t pkt = want[i].pkt;
        char needle[128];
        snprintf(needle, sizeof needle, "\"request_packet\":%lu,", (unsigned long)pkt);
        char *line = line_with(out, needle, want[i].capture);
        cr_assert_not_null(line, "%s", out);
        char cid[96];
        snprintf(cid, sizeof cid, "\"community_id\":\"%s\",\"incident_id\":null,",
                 golden_cid(want[i].capture, pkt));
        cr_expect(strstr(line, cid), "want %s in %s", cid, line);
        free(line);
    }
    free(out); free(err);

    snprintf(args, sizeof args, "analyze --no-db '%s'", tu_sample("race-node-ipv6.pcapng"));
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char hdr[96];
    snprintf(hdr, sizeof hdr, "\n  Community ID %s\n\n  What happened:",
             golden_cid("race-node-ipv6.pcapng", 16));
    cr_expect(strstr(out, hdr), "want %s in:\n%s", hdr, out);
    cr_expect_null(strstr(out, "stored:"), "%s", out);
    free(out); free(err);
}

/* With a database, each incident names its incidents.id: incident_id in
 * JSON, "stored: hangup show ID" in the header, both before the incident
 * is printed; ids the database holds with the same Community ID. */
Test(communityid, analyze_into_a_database_names_the_stored_id)
{
    char db[256], args[9000], *out, *err;
    snprintf(db, sizeof db, "%s", tu_tmp(".db"));
    unlink(db);
    char v6[4200];
    snprintf(v6, sizeof v6, "%s", tu_sample("race-node-ipv6.pcapng"));
    snprintf(args, sizeof args, "analyze --db '%s' --json '%s' '%s'", db, v6,
             tu_sample("race-any.pcap"));
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char *json = out;
    free(err);
    /* The ids in print order, each with its incident's Community ID. */
    int64_t id = 0;
    size_t n = 0;
    for (const char *p = json; (p = strstr(p, "\"incident_id\":")); p++) {
        int64_t got = strtoll(p + strlen("\"incident_id\":"), NULL, 10);
        cr_expect_eq(got, ++id, "incident %zu", n + 1);
        n++;
    }
    cr_expect_eq(n, 4, "%s", json);
    snprintf(args, sizeof args, "query --db '%s' --csv \"SELECT id || ' ' || community_id || "
             "' ' || request_packet FROM incidents_view ORDER BY id\"", db);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    const char *want[] = { "race-node-ipv6.pcapng", "race-node-ipv6.pcapng", "race-any.pcap",
                           "race-any.pcap" };
    uint64_t pkts[] = { 16, 30, 16, 30 };
    for (int i = 0; i < 4; i++) {
        char row[128];
        snprintf(row, sizeof row, "%d %s %lu\r\n", i + 1, golden_cid(want[i], pkts[i]),
                 (unsigned long)pkts[i]);
        cr_expect(strstr(out, row), "want %s in %s", row, out);
        char js[160];
        snprintf(js, sizeof js, "\"community_id\":\"%s\",\"incident_id\":%d,",
                 golden_cid(want[i], pkts[i]), i + 1);
        cr_expect(strstr(json, js), "want %s in %s", js, json);
    }
    free(out); free(err);
    free(json);

    /* Analysed again, the same packets replace their incidents: the
     * human header names the new ids, which show prints alike. */
    snprintf(args, sizeof args, "analyze --db '%s' '%s'", db, v6);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    char hdr[128];
    snprintf(hdr, sizeof hdr, "\n  Community ID %s; stored: hangup show 6\n",
             golden_cid("race-node-ipv6.pcapng", 30));
    cr_expect(strstr(out, hdr), "want %s in:\n%s", hdr, out);
    char *analyzed = out;
    free(err);
    snprintf(args, sizeof args, "show --db '%s' 6", db);
    cr_assert_eq(run(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(out, hdr), "want %s in:\n%s", hdr, out);
    cr_expect(strstr(analyzed, out), "show is not what analyze printed:\n%s", out);
    free(out); free(err);
    free(analyzed);
    for (const char *const *sfx = (const char *const[]){ "", "-wal", "-shm", NULL }; *sfx;
         sfx++) {
        char b[300];
        snprintf(b, sizeof b, "%s%s", db, *sfx);
        unlink(b);
    }
}

/* A database that cannot be opened stores nothing: no id is printed, in
 * JSON or for people, while the Community ID still is. */
Test(communityid, no_id_when_the_store_failed)
{
    for (int json = 0; json < 2; json++) {
        char args[9000], *out, *err;
        snprintf(args, sizeof args, "analyze --db /nonexistent-dir/x.db %s '%s'",
                 json ? "--json" : "", tu_sample("race-any.pcap"));
        cr_expect_eq(run(args, &out, &err), 4, "%s", err);
        if (json) {
            cr_expect(strstr(out, "\"community_id\":\"1:"), "%s", out);
            cr_expect(strstr(out, "\"incident_id\":null,"), "%s", out);
            cr_expect_null(strstr(out, "\"incident_id\":1"), "%s", out);
        } else {
            cr_expect(strstr(out, "  Community ID 1:"), "%s", out);
            cr_expect_null(strstr(out, "stored:"), "%s", out);
        }
        free(out); free(err);
    }
}
