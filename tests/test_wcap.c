/*
 * test_wcap.c -- `-w FILE` writes one pcapng for every capture of a run:
 * an interface per capture with its own link type, each incident's
 * connection once, every packet in time order across incidents and
 * captures, and each incident's explanation as a comment on the packets
 * it names.  The file is read back block by block (tu_pcapng_read) and
 * every packet matched byte for byte against the capture it came from,
 * read with libpcap; the incidents are the ones the pipeline finds in
 * each capture on its own (tu_analyze_file).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hangup/decode.h"
#include "hangup/wcap.h"
#include "testutil.h"

/* A capture given to hangup, as libpcap reads it and as the pipeline
 * analyses it. */
typedef struct src_frame {
    uint64_t num;
    int64_t ts_us;
    uint32_t caplen;
    uint8_t *data;
    int written;              /* times it is in the -w file */
} src_frame;

typedef struct src {
    const char *name;         /* as given on the command line */
    int dlt;
    src_frame *f;
    size_t n;
    tu_analysis *an;
} src;

static void src_load(src *s, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s", tu_sample(name));
    memset(s, 0, sizeof *s);
    s->name = name;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    cr_assert_not_null(pc, "%s", err);
    s->dlt = pcap_datalink(pc);
    size_t cap = 0;
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        if (s->n == cap) {
            cap = cap ? cap * 2 : 256;
            s->f = realloc(s->f, cap * sizeof *s->f);
        }
        src_frame *f = &s->f[s->n++];
        *f = (src_frame){ s->n, (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec, h->caplen,
                          malloc(h->caplen ? h->caplen : 1), 0 };
        memcpy(f->data, d, h->caplen);
    }
    pcap_close(pc);
    s->an = tu_analyze_file(path);
    cr_assert_not_null(s->an);
}

static void src_free(src *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->f[i].data);
    free(s->f);
    tu_analysis_free(s->an);
}

/* The source frame a written packet is, byte for byte, or NULL. */
static src_frame *src_match(src *s, const tu_ng_pkt *p)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].ts_us == p->ts_us && s->f[i].caplen == p->caplen &&
            memcmp(s->f[i].data, p->data, p->caplen) == 0)
            return &s->f[i];
    return NULL;
}

/* The incident whose connection frame f belongs to (by its endpoints),
 * or NULL; *ipver its IP version. */
static const hu_incident_rec *src_incident(const src *s, const src_frame *f, int *ipver)
{
    hu_pkt p;
    const char *why;
    *ipver = 0;
    if (hu_decode(s->dlt, f->data, f->caplen, &p, &why) != HU_DEC_TCP)
        return NULL;
    *ipver = p.ipver;
    size_t al = p.ipver == 4 ? 4 : 16;
    for (size_t i = 0; i < s->an->nrecs; i++) {
        const hu_incident_rec *r = s->an->recs[i];
        bool fwd = memcmp(p.src, r->cli_addr, al) == 0 && memcmp(p.dst, r->srv_addr, al) == 0 &&
                   p.sport == r->cli_port && p.dport == r->srv_port;
        bool rev = memcmp(p.src, r->srv_addr, al) == 0 && memcmp(p.dst, r->cli_addr, al) == 0 &&
                   p.sport == r->srv_port && p.dport == r->cli_port;
        if (r->ipver == p.ipver && (fwd || rev))
            return r;
    }
    return NULL;
}

static bool names(const hu_incident_rec *r, uint64_t num)
{
    return num && (num == r->req.num || num == r->fin.num || num == r->rst.num ||
                   num == r->resp.num);
}

/* The start every comment of incident r has: "hangup #N kind[ (verdict)] in FILE: ". */
static void comment_prefix(char *buf, size_t n, const hu_incident_rec *r, const char *file)
{
    if (r->kindid == HU_KIND_RACE)
        snprintf(buf, n, "hangup #%" PRIu64 " %s (%s) in %s: ", r->number, r->kind,
                 hu_verdict_name(r->verdict), file);
    else
        snprintf(buf, n, "hangup #%" PRIu64 " %s in %s: ", r->number, r->kind, file);
}

/* Run `hangup analyze --no-db -w OUT names...` in samples/, as a user
 * would type it there; the -w file read back. */
static tu_pcapng *run_w(const char *const *names, size_t n, char **err)
{
    char out[4200], cmd[16384];
    snprintf(out, sizeof out, "%s", tu_tmp(".pcapng"));
    char *dir = strdup(tu_sample(""));
    int k = snprintf(cmd, sizeof cmd, "cd '%s' && '%s' analyze --no-db -w '%s'", dir,
                     HANGUP_BIN, out);
    for (size_t i = 0; i < n; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s'", names[i]);
    free(dir);
    char *o = NULL;
    int st = tu_sh(cmd, &o, err);
    cr_expect_eq(st, 0, "exit status %d: %s", st, *err);
    free(o);
    tu_pcapng *f = tu_pcapng_read(out);
    unlink(out);
    cr_assert_not_null(f, "no -w file");
    cr_expect_str_empty(f->err, "not a well-formed pcapng: %s", f->err);
    cr_expect_eq(f->sections, 1);
    cr_expect_eq(f->other, 0, "blocks other than SHB, IDB and EPB");
    return f;
}

/* What every -w file of these sources must be: one interface per source
 * with incidents, of its link type and named after it; every packet a
 * frame of that source, once, of one of its incidents' connections; time
 * never going back; each incident's line on the packets it names that
 * are in the file (on some packet of it at least) and nowhere else.
 * Returns the packets written per source (counts[i]). */
static void check_file(const tu_pcapng *f, src *srcs, size_t nsrc, size_t *counts)
{
    size_t with_incidents = 0;
    for (size_t i = 0; i < nsrc; i++) {
        with_incidents += srcs[i].an->nrecs > 0;
        counts[i] = 0;
    }
    cr_expect_eq(f->nifaces, with_incidents, "one interface per capture with incidents");
    src *of_iface[64] = { 0 };
    for (size_t k = 0; k < f->nifaces; k++) {
        const tu_ng_iface *in = &f->iface[k];
        for (size_t i = 0; i < nsrc; i++)
            if (strcmp(in->name, srcs[i].name) == 0) {
                cr_expect_null(of_iface[k]);
                of_iface[k] = &srcs[i];
            }
        cr_assert_not_null(of_iface[k], "interface %zu names no capture: '%s'", k, in->name);
        /* DLT and LINKTYPE values agree for the samples' link types. */
        cr_expect_eq(in->linktype, of_iface[k]->dlt, "%s: link type %u", in->name, in->linktype);
        cr_expect_eq(in->tsresol, 6);
        cr_expect(strstr(in->desc, in->name), "description '%s'", in->desc);
    }
    /* Which named packets of each incident carried its line. */
    for (size_t i = 0; i < f->npkts; i++) {
        const tu_ng_pkt *p = &f->pkt[i];
        if (i > 0)
            cr_expect_geq(p->ts_us, f->pkt[i - 1].ts_us, "packet %zu goes back in time", i + 1);
        src *s = of_iface[p->iface];
        src_frame *sf = src_match(s, p);
        cr_assert_not_null(sf, "packet %zu is no frame of %s", i + 1, s->name);
        sf->written++;
        counts[s - srcs]++;
        int ipver;
        const hu_incident_rec *r = src_incident(s, sf, &ipver);
        cr_assert_not_null(r, "packet %zu (%s packet %" PRIu64 ") is of no incident", i + 1,
                           s->name, sf->num);
        char prefix[600];
        comment_prefix(prefix, sizeof prefix, r, s->name);
        if (names(r, sf->num)) {
            cr_expect_eq(p->ncomments, 1, "%s packet %" PRIu64 ": %d comments", s->name, sf->num,
                         p->ncomments);
        }
        for (int c = 0; c < p->ncomments; c++) {
            const char *t = p->comment[c];
            cr_expect_eq(strncmp(t, prefix, strlen(prefix)), 0, "'%s' is not of '%s'", t, prefix);
            cr_expect_null(strchr(t, '\n'));
            const char *safe = r->safe_to_retry ? "; safe to retry: yes" : "; safe to retry: not proven";
            cr_expect(strlen(t) > strlen(safe) && strcmp(t + strlen(t) - strlen(safe), safe) == 0,
                      "%s", t);
            if (r->request.http) {
                char rq[400];
                snprintf(rq, sizeof rq, "%s %.*s", r->request.method, (int)r->request.target_len,
                         (const char *)r->request.target);
                cr_expect(strstr(t, rq), "'%s' does not name %s", t, rq);
            }
        }
    }
    /* Every incident has its line on some packet. */
    for (size_t i = 0; i < nsrc; i++)
        for (size_t k = 0; k < srcs[i].an->nrecs; k++) {
            char prefix[600];
            comment_prefix(prefix, sizeof prefix, srcs[i].an->recs[k], srcs[i].name);
            bool found = false;
            for (size_t j = 0; j < f->npkts && !found; j++)
                for (int c = 0; c < f->pkt[j].ncomments; c++)
                    found |= strncmp(f->pkt[j].comment[c], prefix, strlen(prefix)) == 0;
            cr_expect(found, "no packet carries '%s'", prefix);
        }
    for (size_t i = 0; i < nsrc; i++)
        for (size_t k = 0; k < srcs[i].n; k++)
            cr_expect_leq(srcs[i].f[k].written, 1, "%s packet %" PRIu64 " written %d times",
                          srcs[i].name, srcs[i].f[k].num, srcs[i].f[k].written);
}

/* The command of issue 16: three captures, two link types (Ethernet, and
 * Linux cooked v2 from -i any), IPv4 and IPv6, given newest first.  Each
 * race's connection is its packets up to the RST (at most 32), each named
 * packet carries the race's line, and the IPv6 races are there too. */
Test(wcap, three_captures_of_two_link_types_in_one_pcapng)
{
    static const char *const names3[] = { "crossed-client.pcap", "race-any.pcap",
                                          "race-node-ipv6.pcapng" };
    src srcs[3];
    for (size_t i = 0; i < 3; i++)
        src_load(&srcs[i], names3[i]);
    char *err = NULL;
    tu_pcapng *f = run_w(names3, 3, &err);
    cr_expect_null(strstr(err, "-w"), "-w complained: %s", err);
    free(err);
    size_t counts[3];
    check_file(f, srcs, 3, counts);
    cr_expect_eq(f->nifaces, 3);
    size_t v6 = 0;
    for (size_t i = 0; i < 3; i++) {
        src *s = &srcs[i];
        cr_assert_eq(s->an->nrecs, 2, "%s", s->name);
        size_t want = 0;
        for (size_t k = 0; k < s->an->nrecs; k++) {
            const hu_incident_rec *r = s->an->recs[k];
            cr_assert_eq(r->kindid, HU_KIND_RACE);
            /* The connection's frames up to the RST, the last 32, each
             * written; none after it. */
            size_t conn = 0, got = 0;
            for (size_t j = s->n; j-- > 0;) {
                int ipver;
                if (s->f[j].num > r->rst.num || src_incident(s, &s->f[j], &ipver) != r)
                    continue;
                if (conn++ < 32) {
                    cr_expect_eq(s->f[j].written, 1, "%s #%" PRIu64 ": packet %" PRIu64
                                 " not written", s->name, r->number, s->f[j].num);
                    got += s->f[j].written == 1;
                    v6 += ipver == 6 && s->f[j].written == 1;
                }
            }
            cr_expect_geq(conn, 8, "%s #%" PRIu64 ": a whole connection", s->name, r->number);
            want += conn < 32 ? conn : 32;
            cr_expect_eq(got, conn < 32 ? conn : 32);
        }
        cr_expect_eq(counts[i], want, "%s: %zu packets written, %zu in its races' connections",
                     s->name, counts[i], want);
    }
    cr_expect_gt(v6, 0, "no IPv6 packet written");
    cr_expect_eq(v6, counts[2], "race-node-ipv6's packets are all IPv6");
    /* The captures' times interleave: newest given first, so each capture
     * is not one block -- the order is the times', not the files'. */
    cr_expect_lt(f->pkt[0].ts_us, srcs[0].f[0].ts_us);
    cr_expect_eq(strcmp(f->iface[f->pkt[0].iface].name, "race-node-ipv6.pcapng"), 0);
    tu_pcapng_free(f);
    for (size_t i = 0; i < 3; i++)
        src_free(&srcs[i]);
}

/* Every sample at once: every kind of the family, both vantages of one
 * race, captures without incidents (no interface for them). */
Test(wcap, every_sample_in_one_pcapng, .timeout = 240)
{
    DIR *d = opendir(tu_sample(""));
    cr_assert_not_null(d);
    char *names_all[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64) {
        size_t l = strlen(de->d_name);
        if ((l > 5 && strcmp(de->d_name + l - 5, ".pcap") == 0) ||
            (l > 7 && strcmp(de->d_name + l - 7, ".pcapng") == 0))
            names_all[n++] = strdup(de->d_name);
    }
    closedir(d);
    cr_assert_geq(n, 20);
    src *srcs = calloc(n, sizeof *srcs);
    for (size_t i = 0; i < n; i++)
        src_load(&srcs[i], names_all[i]);
    char *err = NULL;
    tu_pcapng *f = run_w((const char *const *)names_all, n, &err);
    cr_expect_null(strstr(err, "-w"), "-w complained: %s", err);
    free(err);
    size_t *counts = calloc(n, sizeof *counts);
    check_file(f, srcs, n, counts);
    size_t kinds = 0;
    for (int k = 0; k < HU_KIND_COUNT; k++) {
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = tu_count(srcs[i].an, (hu_kind)k) > 0;
        kinds += seen;
    }
    cr_expect_eq(kinds, HU_KIND_COUNT, "the samples hold every kind");
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(counts[i] > 0, srcs[i].an->nrecs > 0, "%s: %zu packets, %zu incidents",
                     srcs[i].name, counts[i], srcs[i].an->nrecs);
        cr_expect_leq(counts[i], 32 * srcs[i].an->nrecs);
        src_free(&srcs[i]);
        free(names_all[i]);
    }
    free(counts);
    free(srcs);
    tu_pcapng_free(f);
}

/* Without an incident: a header and one interface, the capture's. */
Test(wcap, no_incident_gives_one_interface_and_no_packet)
{
    static const char *const one[] = { "clean-keepalive.pcap" };
    char *err = NULL;
    tu_pcapng *f = run_w(one, 1, &err);
    free(err);
    cr_expect_eq(f->nifaces, 1);
    cr_expect_eq(f->iface[0].linktype, 1);
    cr_expect_str_eq(f->iface[0].name, "clean-keepalive.pcap");
    cr_expect_eq(f->npkts, 0);
    tu_pcapng_free(f);
}

/* ---------------------------------------------------------------- the writer itself */

static void keep(hu_wcap *w, hu_wcap_ring **r, uint64_t num, int64_t ts_s)
{
    uint8_t b[60];
    memset(b, (int)num, sizeof b);
    hu_frame fr = { .num = num, .ts_us = ts_s * 1000000, .caplen = sizeof b, .wirelen = 80,
                    .data = b };
    hu_wcap_keep(w, r, &fr);
}

static void note(hu_wcap *w, hu_wcap_ring *r, uint64_t a, uint64_t b, const char *text)
{
    hu_wcap_note nt = { { a, b, 0 }, text };
    hu_wcap_write(w, r, DLT_EN10MB, &nt);
}

/* The packet numbered num (its bytes are num) and its comments. */
static void expect_pkt(const tu_pcapng *f, size_t i, uint64_t num, int64_t ts_s,
                       const char *comment)
{
    cr_assert_lt(i, f->npkts);
    const tu_ng_pkt *p = &f->pkt[i];
    cr_expect_eq(p->data[0], num, "packet %zu is frame %u, not %" PRIu64, i, p->data[0], num);
    cr_expect_eq(p->ts_us, ts_s * 1000000);
    cr_expect_eq(p->caplen, 60);
    cr_expect_eq(p->wirelen, 80);
    if (!comment) {
        cr_expect_eq(p->ncomments, 0, "frame %" PRIu64 " has a comment", num);
        return;
    }
    cr_expect_eq(p->ncomments, 1, "frame %" PRIu64 ": %d comments", num, p->ncomments);
    if (p->ncomments)
        cr_expect_str_eq(p->comment[0], comment);
}

/*
 * Live capture, through the writer's API: two connections' rings, their
 * frames interleaved in time.  A second incident on one connection adds
 * only its newer frames, and its line also goes on a packet an earlier
 * incident handed over.  A flush writes nothing while a ring still holds
 * an older frame, and then everything older than every ring, in time
 * order; the end writes the rest.  With room for one frame in memory,
 * the others wait in the temporary file, whose space is reused once
 * they are written.
 */
Test(wcap, live_writes_in_time_order_as_it_goes_and_each_frame_once)
{
    char *path = strdup(tu_tmp(".pcapng")), why[256];
    hu_wcap *w = hu_wcap_new(path, stderr, "hangup", why, sizeof why);
    cr_assert_not_null(w, "%s", why);
    hu_wcap_set_memory(w, 100);
    hu_wcap_begin(w, "lo", true, DLT_EN10MB);
    tu_pcapng *f = tu_pcapng_read(path);
    cr_expect_eq(f->sections, 1, "the header is written at once");
    cr_expect_eq(f->nifaces, 1);
    cr_expect_str_eq(f->iface[0].name, "lo");
    tu_pcapng_free(f);

    hu_wcap_ring *a = NULL, *b = NULL;
    keep(w, &a, 1, 10);
    keep(w, &b, 2, 11);
    keep(w, &a, 3, 12);
    keep(w, &b, 4, 13);
    keep(w, &b, 5, 14);
    note(w, b, 4, 0, "B1");
    keep(w, &b, 6, 15);
    note(w, b, 5, 6, "B2");   /* 5 was handed over with B1 */
    keep(w, &b, 7, 30);
    hu_wcap_flush(w);         /* a still holds frame 1, older than all */
    f = tu_pcapng_read(path);
    cr_expect_eq(f->npkts, 0, "written before an older frame could come");
    tu_pcapng_free(f);

    note(w, a, 1, 0, "A1");
    hu_wcap_flush(w);         /* b holds frame 7 (30 s): 1..6 can go */
    f = tu_pcapng_read(path);
    cr_expect_str_empty(f->err, "%s", f->err);
    cr_expect_eq(f->npkts, 6);
    expect_pkt(f, 0, 1, 10, "A1");
    expect_pkt(f, 1, 2, 11, NULL);
    expect_pkt(f, 2, 3, 12, NULL);
    expect_pkt(f, 3, 4, 13, "B1");
    expect_pkt(f, 4, 5, 14, "B2");
    expect_pkt(f, 5, 6, 15, "B2");
    tu_pcapng_free(f);

    keep(w, &b, 8, 31);
    note(w, b, 8, 0, "B3");
    hu_wcap_ring_free(w, a);
    hu_wcap_ring_free(w, b);
    cr_expect(hu_wcap_free(w));
    f = tu_pcapng_read(path);
    cr_expect_str_empty(f->err, "%s", f->err);
    cr_expect_eq(f->nifaces, 1);
    cr_expect_eq(f->npkts, 8, "each frame once");
    expect_pkt(f, 6, 7, 30, NULL);
    expect_pkt(f, 7, 8, 31, "B3");
    tu_pcapng_free(f);
    unlink(path);
    free(path);
}

/* Files: everything is held to the end (a later file may be older); with
 * no memory budget the held bytes wait in the temporary file, and the
 * result is the same, byte for byte. */
static char *write_files(size_t memory)
{
    char *path = strdup(tu_tmp(".pcapng")), why[256];
    hu_wcap *w = hu_wcap_new(path, stderr, "hangup", why, sizeof why);
    cr_assert_not_null(w, "%s", why);
    hu_wcap_set_memory(w, memory);
    for (int cap = 0; cap < 3; cap++) {
        hu_wcap_begin(w, cap == 1 ? "two.pcap" : "one.pcap", false, -1);
        for (int c = 0; c < 20; c++) {
            hu_wcap_ring *r = NULL;
            for (int k = 0; k < 5; k++)   /* later captures are older */
                keep(w, &r, (uint64_t)(c * 5 + k + 1), 1000 - cap * 100 + c * 3 + k);
            note(w, r, (uint64_t)(c * 5 + 5), 0, cap == 1 ? "two" : "one");
            hu_wcap_ring_free(w, r);
        }
        hu_wcap_note_dlt(w, DLT_EN10MB);
    }
    cr_expect(hu_wcap_free(w));
    return path;
}

Test(wcap, files_held_to_the_end_in_memory_or_not)
{
    char *mem = write_files(HU_WCAP_MEMORY), *disk = write_files(0);
    size_t lm, ld;
    char *bm = tu_slurp(mem, &lm), *bd = tu_slurp(disk, &ld);
    cr_assert(bm && bd);
    cr_expect(lm == ld && memcmp(bm, bd, lm) == 0, "spilled frames read back differently");
    tu_pcapng *f = tu_pcapng_read(mem);
    cr_expect_str_empty(f->err, "%s", f->err);
    cr_expect_eq(f->npkts, 300);
    cr_expect_eq(f->nifaces, 2, "one.pcap given twice is one interface");
    for (size_t i = 1; i < f->npkts; i++)
        cr_expect_geq(f->pkt[i].ts_us, f->pkt[i - 1].ts_us);
    size_t comments = 0;
    for (size_t i = 0; i < f->npkts; i++)
        comments += (size_t)f->pkt[i].ncomments;
    cr_expect_eq(comments, 60);
    tu_pcapng_free(f);
    free(bm);
    free(bd);
    unlink(mem);
    unlink(disk);
    free(mem);
    free(disk);
}
