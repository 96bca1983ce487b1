/*
 * test_tlsdec.c -- TLS decryption with a key log (keylog.c, tlsdec.c and
 * the HTTP layer reading the plaintext).
 *
 * The key schedule against RFC 8448's trace; the key log's parsing
 * (garbage, CRLF, lines appended after it was read); then end to end on
 * the real captures in samples/tls/ (NAME.pcap with its key log NAME.keys,
 * the incidents NAME.expected, tshark's decryption NAME.tshark, and
 * NAME.pcapng, the same packets with the secrets injected): the decrypted
 * lost request as tshark reads it, the same answer from the injected
 * secrets alone, today's answer without keys, a missing key, a garbage
 * key log, a flipped ciphertext byte, a truncated capture, and no secret
 * anywhere in what hangup writes.  HANGUP_TLS_SAMPLES overrides the
 * directory (to try other captures).
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/keylog.h"
#include "hangup/tlsdec.h"
#include "testutil.h"

/* ------------------------------------------------------------ units */

static void unhex(const char *s, uint8_t *out, size_t *n)
{
    *n = 0;
    for (; *s; s++) {
        if (!isxdigit((unsigned char)s[0]))
            continue;
        unsigned v;
        sscanf(s, "%2x", &v);
        out[(*n)++] = (uint8_t)v;
        s++;
    }
}

/* RFC 8448 3 (Simple 1-RTT Handshake): the traffic keys and IVs derived
 * from each traffic secret with HKDF-Expand-Label. */
Test(tlsdec, key_schedule_matches_rfc8448)
{
    static const struct {
        const char *secret, *key, *iv;
    } v[] = {
        { "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
          "3fce516009c21727d0f2e4e86ee403bc", "5d313eb2671276ee13000b30" },
        { "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
          "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f" },
        { "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
          "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t secret[48], key[16], iv[12], want[16];
        size_t sl, kl;
        unhex(v[i].secret, secret, &sl);
        cr_assert(hu_tlsdec_expand_label("SHA256", secret, sl, "key", key, 16));
        cr_assert(hu_tlsdec_expand_label("SHA256", secret, sl, "iv", iv, 12));
        unhex(v[i].key, want, &kl);
        cr_expect_arr_eq(key, want, 16, "key %zu", i);
        unhex(v[i].iv, want, &kl);
        cr_expect_arr_eq(iv, want, 12, "iv %zu", i);
    }
}

#define CR_HEX "0102030405060708091011121314151617181920212223242526272829303132"

Test(tlsdec, key_log_lines_garbage_crlf_and_appended)
{
    const char *path = tu_tmp(".keys");
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("# comment\r\n\r\ngarbage without fields\n"
          "CLIENT_RANDOM 0102 aa\n"                                   /* short random */
          "CLIENT_RANDOM " CR_HEX " zz" "\n"                          /* bad hex */
          "CLIENT_RANDOM " CR_HEX " 00112233\n"                       /* wrong length */
          "EXPORTER_SECRET " CR_HEX " " CR_HEX "\n"                   /* other label */
          "CLIENT_TRAFFIC_SECRET_0 " CR_HEX " " CR_HEX "\r\n",
          fp);
    fclose(fp);
    hu_keylog *kl = hu_keylog_new();
    char err[128];
    cr_assert(hu_keylog_add_file(kl, path, err, sizeof err));
    cr_expect_eq(hu_keylog_count(kl), 1);
    uint8_t cr[32];
    size_t n;
    unhex(CR_HEX, cr, &n);
    hu_tls_secrets s;
    cr_assert(hu_keylog_find(kl, cr, &s));
    cr_expect_eq(s.len13[HU_KL_CTS0], 32);
    cr_expect_eq(s.master_len, 0);
    cr_expect_eq(s.s13[HU_KL_CTS0][0], 0x01);
    /* A line appended later (a log still being written) is found by the
     * next lookup that misses; a half-written line is not taken. */
    uint8_t cr2[32];
    memcpy(cr2, cr, 32);
    cr2[0] = 0xff;
    cr_expect_not(hu_keylog_find(kl, cr2, &s));
    fp = fopen(path, "a");
    fputs("CLIENT_RANDOM ff02030405060708091011121314151617181920212223242526272829303132 "
          "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
          "202122232425262728292a2b2c2d2e2f\nCLIENT_RANDOM ff", fp);
    fclose(fp);
    cr_assert(hu_keylog_find(kl, cr2, &s));
    cr_expect_eq(s.master_len, 48);
    cr_expect_eq(s.master[47], 0x2f);
    cr_expect_eq(hu_keylog_count(kl), 2);
    cr_expect_not(hu_keylog_add_file(kl, "/nonexistent/keys", err, sizeof err));
    hu_keylog_free(kl);
    remove(path);
}

/* ------------------------------------------------------------ captures */

static const char *tls_dir(void)
{
    const char *e = getenv("HANGUP_TLS_SAMPLES");
    static char buf[1024];
    if (e && *e)
        return e;
    snprintf(buf, sizeof buf, "%s/tls", HANGUP_SAMPLES);
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The captures with a key log: NAME for NAME.pcap + NAME.keys +
 * NAME.expected. */
static bool exists(const char *p)
{
    FILE *fp = fopen(p, "rb");
    if (fp)
        fclose(fp);
    return fp != NULL;
}

static char **tls_names(size_t *n)
{
    *n = 0;
    DIR *d = opendir(tls_dir());
    cr_assert_not_null(d, "no directory %s (the TLS captures)", tls_dir());
    char **v = calloc(256, sizeof *v);
    struct dirent *de;
    while ((de = readdir(d)) && *n < 256) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".keys") != 0)
            continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%.*s.expected", tls_dir(), (int)(l - 5), de->d_name);
        FILE *fp = fopen(p, "r");
        if (!fp)
            continue;
        fclose(fp);
        v[(*n)++] = strndup(de->d_name, l - 5);
    }
    closedir(d);
    cr_assert_gt(*n, 0, "no NAME.keys with NAME.expected in %s", tls_dir());
    qsort(v, *n, sizeof *v, by_name);
    return v;
}

static const char *tpath(const char *name, const char *ext)
{
    static char buf[4][2048];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s%s", tls_dir(), name, ext);
    return buf[k];
}


/* The capture a key log belongs to: NAME.pcap, or for NAME.VARIANT (a
 * second key log of one capture: tls-keylog-edge.full) BASE.pcap. */
static const char *cap_of(const char *name)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s/%s.pcap", tls_dir(), name);
    if (exists(buf))
        return buf;
    const char *dot = strrchr(name, '.');
    snprintf(buf, sizeof buf, "%s/%.*s.pcap", tls_dir(), (int)(dot ? dot - name : 0), name);
    return buf;
}

/* hangup analyze --json --no-db ARGS: stdout and stderr; the status. */
static int analyze(const char *args, char **out, char **err)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s analyze --json --no-db %s", HANGUP_BIN, args);
    return tu_sh(cmd, out, err);
}

/* The incident lines of a JSON output (type "incident"). */
static char **incidents(char *out, size_t *n)
{
    char **v = calloc(64, sizeof *v);
    *n = 0;
    for (char *l = strtok(out, "\n"); l && *n < 64; l = strtok(NULL, "\n"))
        if (strstr(l, "\"type\":\"incident\""))
            v[(*n)++] = l;
    return v;
}

static const char *const fields[] = {
    "verdict", "fin_packet", "request_packet", "rst_packet", "method", "target", "tls",
    "tls_decrypted", "ip_version", "client", "server", "host", "http_version",
    "content_length", "requests_before", "close_announced", "keepalive_hint_s",
};

/* Every field of the expected lines (those it names) in the output's
 * incidents, in order. */
static void expect_same(const char *what, char *out, const char *expected_path)
{
    size_t len, no, ne;
    char *exp = tu_slurp(expected_path, &len);
    cr_assert_not_null(exp, "%s", expected_path);
    char **got = incidents(out, &no);
    char **want = calloc(64, sizeof *want);
    ne = 0;
    for (char *l = strtok(exp, "\n"); l && ne < 64; l = strtok(NULL, "\n"))
        if (*l == '{')
            want[ne++] = l;
    cr_expect_eq(no, ne, "%s: %zu incidents, expected %zu", what, no, ne);
    for (size_t i = 0; i < no && i < ne; i++)
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            char *w = tu_json_get(want[i], fields[f]);
            if (!w)
                continue;
            char *g = tu_json_get(got[i], fields[f]);
            if (!g && strcmp(fields[f], "tls_decrypted") == 0 && strcmp(w, "false") == 0)
                g = strdup("false");   /* written only when true */
            cr_expect(g && strcmp(g, w) == 0, "%s: incident %zu: %s is %s, expected %s", what,
                      i + 1, fields[f], g ? g : "(absent)", w);
            free(g);
            free(w);
        }
    free(got);
    free(want);
    free(exp);
}

Test(tlsdec, decrypted_incidents_are_the_expected_ones)
{
    size_t n;
    char **names = tls_names(&n);
    for (size_t i = 0; i < n; i++) {
        char args[4096], *out, *err;
        snprintf(args, sizeof args, "--tls-keylog %s %s", tpath(names[i], ".keys"),
                 cap_of(names[i]));
        cr_expect_eq(analyze(args, &out, &err), 0, "%s: %s", names[i], err);
        expect_same(names[i], out, tpath(names[i], ".expected"));
        free(out);
        free(err);
        free(names[i]);
    }
    free(names);
}

/* A JSON string value without its quotes (escapes kept), or "" for null. */
static void unquote(char *v, char *out, size_t n)
{
    if (v && v[0] == '"')
        snprintf(out, n, "%.*s", (int)strlen(v) - 2, v + 1);
    else
        snprintf(out, n, "%s", v && strcmp(v, "null") != 0 ? v : "");
}

/* tshark's decryption of the same capture with the same key log, one
 * line per request (frame, method, target, Host, Content-Length, tab
 * separated): each decrypted lost request is tshark's line for its
 * packet, field for field. */
Test(tlsdec, decrypted_requests_are_what_tshark_decrypts)
{
    size_t n, checked = 0;
    char **names = tls_names(&n);
    for (size_t i = 0; i < n; i++) {
        char *ts = tu_slurp(tpath(names[i], ".tshark"), NULL);
        if (!ts) {
            free(names[i]);
            continue;
        }
        char args[4096], *out, *err;
        snprintf(args, sizeof args, "--tls-keylog %s %s", tpath(names[i], ".keys"),
                 cap_of(names[i]));
        analyze(args, &out, &err);
        size_t ni;
        char **inc = incidents(out, &ni);
        for (size_t k = 0; k < ni; k++) {
            const char *keys[] = { "request_packet", "method", "target", "host",
                                   "content_length" };
            char f[5][1100], *dec = tu_json_get(inc[k], "tls_decrypted");
            for (int j = 0; j < 5; j++) {
                char *v = tu_json_get(inc[k], keys[j]);
                unquote(v, f[j], sizeof f[j]);
                free(v);
            }
            if (dec && strcmp(dec, "true") == 0) {
                /* tshark names a request at the frame that completed its
                 * record: the first line at or after the request packet. */
                const char *t = NULL;
                for (const char *l = ts; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                    if (strtoull(l, NULL, 10) >= strtoull(f[0], NULL, 10)) {
                        t = l;
                        break;
                    }
                char want[6000];
                snprintf(want, sizeof want, "\t%s\t%s\t%s\t%s\n", f[1], f[2], f[3], f[4]);
                const char *tab = t ? strchr(t, '\t') : NULL;
                cr_expect(tab && strncmp(tab, want, strlen(want)) == 0,
                          "%s: packet %s: tshark says %.*s, hangup%s", names[i], f[0],
                          tab ? (int)(strchr(tab, '\n') ? strchr(tab, '\n') - tab : 80) : 4,
                          tab ? tab : "none", want);
                checked++;
            }
            free(dec);
        }
        free(inc);
        free(out);
        free(err);
        free(ts);
        free(names[i]);
    }
    free(names);
    cr_expect_gt(checked, 0, "no decrypted request checked against tshark");
}

/* The pcapngs with the secrets injected (editcap --inject-secrets,
 * NAME-dsb.pcapng) give their expected answer -- the key log's, of the
 * capture they were made from -- without the option. */
Test(tlsdec, injected_secrets_decrypt_without_the_option)
{
    DIR *d = opendir(tls_dir());
    cr_assert_not_null(d);
    struct dirent *de;
    size_t checked = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 12 || strcmp(de->d_name + l - 11, "-dsb.pcapng") != 0)
            continue;
        char ng[2048], *out, *err;
        snprintf(ng, sizeof ng, "%s/%s", tls_dir(), de->d_name);
        cr_expect_eq(analyze(ng, &out, &err), 0, "%s: %s", ng, err);
        char base[256];
        snprintf(base, sizeof base, "%.*s", (int)(l - 7), de->d_name);
        expect_same(ng, out, tpath(base, ".expected"));
        cr_expect(strstr(out, "\"tls_decrypted\":true"), "%s: nothing decrypted", ng);
        cr_expect_null(strstr(err, "TLS:"), "%s: %s", ng, err);
        free(out);
        free(err);
        checked++;
    }
    closedir(d);
    cr_expect_gt(checked, 0, "no NAME-dsb.pcapng with injected secrets");
}

/* Without a key log the output is what it was before decryption existed:
 * no incident says tls_decrypted, and the TLS ones have no method. */
Test(tlsdec, without_keys_nothing_is_decrypted)
{
    size_t n;
    char **names = tls_names(&n);
    for (size_t i = 0; i < n; i++) {
        char *out, *err;
        analyze(cap_of(names[i]), &out, &err);
        cr_expect_null(strstr(out, "tls_decrypted"), "%s", names[i]);
        cr_expect_null(strstr(err, "TLS:"), "%s: %s", names[i], err);
        size_t ni;
        char **inc = incidents(out, &ni);
        for (size_t k = 0; k < ni; k++)
            if (strstr(inc[k], "\"tls\":true"))
                cr_expect(strstr(inc[k], "\"method\":null"), "%s: %s", names[i], inc[k]);
        free(inc);
        free(out);
        free(err);
        free(names[i]);
    }
    free(names);
}

/* The secrets of a key log line: its third field. */
static size_t secrets_of(const char *keys_path, char secrets[][200], size_t max)
{
    char *k = tu_slurp(keys_path, NULL);
    size_t n = 0;
    for (char *l = strtok(k, "\r\n"); l && n < max; l = strtok(NULL, "\r\n")) {
        char a[64], b[80], c[200];
        if (sscanf(l, "%63s %79s %199s", a, b, c) == 3 && a[0] != '#')
            snprintf(secrets[n++], 200, "%s", c);
    }
    free(k);
    return n;
}

static bool has_ci(const char *hay, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (strncasecmp(hay + i, needle, nl) == 0)
            return true;
    return false;
}

/* Whether key logs a and b name a client random in common (two vantages
 * of one capture share their sessions). */
static bool keys_shared(const char *a, const char *b)
{
    char *ka = tu_slurp(tpath(a, ".keys"), NULL), *kb = tu_slurp(tpath(b, ".keys"), NULL);
    bool shared = false;
    char *save = NULL;
    for (char *line = strtok_r(kb, "\r\n", &save); line && !shared;
         line = strtok_r(NULL, "\r\n", &save)) {
        char *sp = strchr(line, ' ');
        if (line[0] == '#' || !sp || strlen(sp + 1) < 64)
            continue;
        char random[65];
        memcpy(random, sp + 1, 64);
        random[64] = '\0';
        shared = strstr(ka, random) != NULL;
    }
    free(ka);
    free(kb);
    return shared;
}

/* The first capture: a missing key (the key log of a capture sharing no
 * session with it), then a key log with garbage around the right lines. */
Test(tlsdec, missing_key_one_line_with_the_client_random_and_garbage_ignored)
{
    size_t n;
    char **names = tls_names(&n);
    cr_assert_geq(n, 2, "two captures needed");
    size_t other = 1;
    while (other < n && keys_shared(names[0], names[other]))
        other++;
    cr_assert_lt(other, n, "no capture whose sessions differ from %s's", names[0]);
    char args[4096], *out, *err, *plain, *perr;
    analyze(cap_of(names[0]), &plain, &perr);
    snprintf(args, sizeof args, "--tls-keylog %s %s", tpath(names[other], ".keys"),
             cap_of(names[0]));
    cr_expect_eq(analyze(args, &out, &err), 0);
    cr_expect_str_eq(out, plain, "a missing key changes the answer");
    cr_expect(strstr(err, "no key logged for client random "), "%s", err);
    /* one line per connection: each names a 64-digit random */
    char *p = strstr(err, "client random ");
    cr_assert_not_null(p);
    p += strlen("client random ");
    size_t hex = strspn(p, "0123456789abcdef");
    cr_expect_eq(hex, 64, "%s", err);
    free(out);
    free(err);

    const char *g = tu_tmp(".keys");
    char *keys = tu_slurp(tpath(names[0], ".keys"), NULL);
    FILE *fp = fopen(g, "w");
    fputs("garbage\r\nCLIENT_RANDOM nothex nothex\n\x01\x02\xff\n# comment\r\n", fp);
    for (char *l = strtok(keys, "\n"); l; l = strtok(NULL, "\n"))
        fprintf(fp, "%s\r\nCLIENT_RANDOM %.10s\n", l, l);
    fclose(fp);
    snprintf(args, sizeof args, "--tls-keylog %s %s", g, cap_of(names[0]));
    cr_expect_eq(analyze(args, &out, &err), 0);
    expect_same("garbage key log", out, tpath(names[0], ".expected"));
    free(keys);
    free(out);
    free(err);
    free(plain);
    free(perr);
    remove(g);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Byte offsets of pcap record num (from 1) in buf: header and data. */
static bool record_at(const uint8_t *b, size_t len, uint64_t num, size_t *hdr, uint32_t *caplen)
{
    size_t off = 24;
    for (uint64_t i = 1; off + 16 <= len; i++) {
        uint32_t incl;
        memcpy(&incl, b + off + 8, 4);
        if (i == num) {
            *hdr = off;
            *caplen = incl;
            return true;
        }
        off += 16 + incl;
    }
    return false;
}

/* A decrypted capture's first incident with its request packet. */
static uint64_t first_request_packet(const char *name)
{
    char *exp = tu_slurp(tpath(name, ".expected"), NULL);
    cr_assert_not_null(exp);
    char *v = tu_json_get(exp, "request_packet");
    uint64_t num = v ? strtoull(v, NULL, 10) : 0;
    free(v);
    free(exp);
    return num;
}

/* One ciphertext byte of the lost request flipped (its tag's last): one
 * line says the record did not decrypt, the incident is still reported,
 * with the TLS-only request. */
Test(tlsdec, flipped_ciphertext_byte_one_line_and_the_rest_reported)
{
    size_t n;
    char **names = tls_names(&n);
    size_t len;
    uint8_t *b = (uint8_t *)tu_slurp(cap_of(names[0]), &len);
    uint64_t num = first_request_packet(names[0]);
    size_t hdr;
    uint32_t caplen;
    cr_assert(b && num && record_at(b, len, num, &hdr, &caplen));
    b[hdr + 16 + caplen - 1] ^= 0x01;
    const char *bad = tu_tmp(".pcap");
    FILE *fp = fopen(bad, "wb");
    fwrite(b, 1, len, fp);
    fclose(fp);
    char args[4096], *out, *err;
    snprintf(args, sizeof args, "--tls-keylog %s %s", tpath(names[0], ".keys"), bad);
    cr_expect_eq(analyze(args, &out, &err), 0, "%s", err);
    cr_expect(strstr(err, "did not decrypt"), "%s", err);
    cr_expect_eq(strchr(err, '\n') - err + 1, (long)strlen(err), "one line: %s", err);
    size_t ni;
    char **inc = incidents(out, &ni);
    cr_expect_geq(ni, 1);
    if (ni) {
        cr_expect(strstr(inc[0], "\"method\":null"), "%s", inc[0]);
        cr_expect_null(strstr(inc[0], "tls_decrypted"), "%s", inc[0]);
    }
    free(inc);
    free(out);
    free(err);
    free(b);
    remove(bad);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The capture cut inside the lost request's record: a clean end (the
 * file is reported truncated), no crash. */
Test(tlsdec, truncated_capture_ends_cleanly)
{
    size_t n;
    char **names = tls_names(&n);
    for (size_t i = 0; i < n; i++) {
        size_t len, hdr;
        uint32_t caplen;
        uint8_t *b = (uint8_t *)tu_slurp(cap_of(names[i]), &len);
        uint64_t num = first_request_packet(names[i]);
        cr_assert(b && num && record_at(b, len, num, &hdr, &caplen));
        const char *cut = tu_tmp(".pcap");
        FILE *fp = fopen(cut, "wb");
        fwrite(b, 1, hdr + 16 + caplen / 2, fp);
        fclose(fp);
        char args[4096], *out, *err;
        snprintf(args, sizeof args, "--tls-keylog %s %s", tpath(names[i], ".keys"), cut);
        int st = analyze(args, &out, &err);
        cr_expect(st == 0 || st == 1, "%s: status %d: %s", names[i], st, err);
        cr_expect(strstr(out, "\"type\":\"server\""), "%s: the summary: %s", names[i], out);
        free(out);
        free(err);
        free(b);
        remove(cut);
        free(names[i]);
    }
    free(names);
}

/* Text with every run of white space made one space (a reflowed
 * paragraph as one line), in place. */
static char *flat(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        if (!isspace((unsigned char)*r) || (w > s && w[-1] != ' '))
            *w++ = isspace((unsigned char)*r) ? ' ' : *r;
    *w = '\0';
    return s;
}

/* No secret of the key log in stdout, stderr, the database or -w's file,
 * in hex (either case) or raw. */
Test(tlsdec, key_material_never_written)
{
    size_t n;
    char **names = tls_names(&n);
    for (size_t i = 0; i < n; i++) {
        const char *db = tu_tmp(".db");
        char w[1024];
        snprintf(w, sizeof w, "%s", tu_tmp(".pcapng"));
        char cmd[8192], *out, *err;
        snprintf(cmd, sizeof cmd, "%s analyze --db %s -w %s --tls-keylog %s %s && %s show --db %s 1",
                 HANGUP_BIN, db, w, tpath(names[i], ".keys"), cap_of(names[i]),
                 HANGUP_BIN, db);
        tu_sh(cmd, &out, &err);
        char *exp = tu_slurp(tpath(names[i], ".expected"), NULL);
        if (exp && strstr(exp, "\"tls_decrypted\":true"))
            cr_expect(strstr(flat(out), "with the key log's secrets"),
                      "%s: the decrypted incident: %s", names[i], out);
        free(exp);
        size_t dl = 0, wl = 0;
        char *dbb = tu_slurp(db, &dl), *wb = tu_slurp(w, &wl);
        char secrets[64][200];
        size_t ns = secrets_of(tpath(names[i], ".keys"), secrets, 64);
        cr_expect_gt(ns, 0);
        for (size_t k = 0; k < ns; k++) {
            cr_expect_not(has_ci(out, strlen(out), secrets[k]), "%s: a secret in stdout", names[i]);
            cr_expect_not(has_ci(err, strlen(err), secrets[k]), "%s: a secret in stderr", names[i]);
            cr_expect_not(dbb && has_ci(dbb, dl, secrets[k]), "%s: a secret in the db", names[i]);
            cr_expect_not(wb && has_ci(wb, wl, secrets[k]), "%s: a secret in -w", names[i]);
            uint8_t raw[100];
            size_t rl;
            unhex(secrets[k], raw, &rl);
            cr_expect_not(dbb && memmem(dbb, dl, raw, rl), "%s: a raw secret in the db", names[i]);
        }
        free(dbb);
        free(wb);
        free(out);
        free(err);
        remove(db);
        remove(w);
        free(names[i]);
    }
    free(names);
}
