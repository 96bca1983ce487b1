/*
 * test_tls.c -- SNI from ClientHellos: a well-formed one, one without the
 * extension, every truncation, and lying lengths; the strict test for a
 * hello's first bytes that finds TLS begun mid-stream.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "hangup/tls.h"

/* Build a ClientHello record carrying `sni` (NULL: no SNI extension). */
static size_t hello(uint8_t *b, const char *sni)
{
    uint8_t body[512];
    size_t n = 0;
    body[n++] = 0x03; body[n++] = 0x03;                       /* client_version */
    memset(body + n, 0xab, 32); n += 32;                      /* random */
    body[n++] = 32; memset(body + n, 0x11, 32); n += 32;      /* session id */
    body[n++] = 0; body[n++] = 4;                             /* cipher suites */
    body[n++] = 0x13; body[n++] = 0x01; body[n++] = 0x13; body[n++] = 0x02;
    body[n++] = 1; body[n++] = 0;                             /* compression */
    size_t extlen_at = n;
    n += 2;
    /* supported_versions first, then SNI */
    body[n++] = 0x00; body[n++] = 0x2b; body[n++] = 0; body[n++] = 3;
    body[n++] = 2; body[n++] = 0x03; body[n++] = 0x04;
    if (sni) {
        size_t sl = strlen(sni);
        body[n++] = 0; body[n++] = 0;
        body[n++] = (uint8_t)((sl + 5) >> 8); body[n++] = (uint8_t)(sl + 5);
        body[n++] = (uint8_t)((sl + 3) >> 8); body[n++] = (uint8_t)(sl + 3);
        body[n++] = 0;
        body[n++] = (uint8_t)(sl >> 8); body[n++] = (uint8_t)sl;
        memcpy(body + n, sni, sl); n += sl;
    }
    size_t extlen = n - extlen_at - 2;
    body[extlen_at] = (uint8_t)(extlen >> 8);
    body[extlen_at + 1] = (uint8_t)extlen;
    size_t hl = n;
    b[0] = 0x16; b[1] = 3; b[2] = 1;
    b[3] = (uint8_t)((hl + 4) >> 8); b[4] = (uint8_t)(hl + 4);
    b[5] = 1; b[6] = 0; b[7] = (uint8_t)(hl >> 8); b[8] = (uint8_t)hl;
    memcpy(b + 9, body, hl);
    return hl + 9;
}

Test(tls, finds_the_server_name)
{
    uint8_t b[600];
    char name[256];
    size_t n = hello(b, "api.example.test");
    cr_assert_eq(hu_tls_sni(b, n, name, sizeof name), HU_TLS_SNI);
    cr_expect_str_eq(name, "api.example.test");
    /* A short output buffer cuts the name. */
    char small[4];
    cr_assert_eq(hu_tls_sni(b, n, small, sizeof small), HU_TLS_SNI);
    cr_expect_str_eq(small, "api");
}

Test(tls, hello_without_sni)
{
    uint8_t b[600];
    char name[256];
    size_t n = hello(b, NULL);
    cr_expect_eq(hu_tls_sni(b, n, name, sizeof name), HU_TLS_NO_SNI);
}

Test(tls, every_truncation_asks_for_more)
{
    uint8_t b[600];
    char name[256];
    size_t n = hello(b, "api.example.test");
    for (size_t k = 0; k < n; k++) {
        hu_tls_rc rc = hu_tls_sni(b, k, name, sizeof name);
        cr_expect(rc == HU_TLS_MORE, "cut at %zu of %zu gave %d", k, n, rc);
    }
}

Test(tls, not_a_hello_and_lying_lengths)
{
    uint8_t b[600];
    char name[256];
    size_t n = hello(b, "x.test");
    cr_expect_eq(hu_tls_sni((const uint8_t *)"GET / HTTP/1.1\r\n", 16, name, sizeof name),
                 HU_TLS_NOT_HELLO);
    b[5] = 2;   /* ServerHello */
    cr_expect_eq(hu_tls_sni(b, n, name, sizeof name), HU_TLS_NOT_HELLO);
    b[5] = 1;
    /* Every single byte of the hello set to 0xff in turn: never a crash,
     * never a name longer than the buffer. */
    for (size_t i = 0; i < n; i++) {
        uint8_t save = b[i];
        b[i] = 0xff;
        hu_tls_rc rc = hu_tls_sni(b, n, name, sizeof name);
        cr_expect(rc >= HU_TLS_NOT_HELLO && rc <= HU_TLS_SNI);
        cr_expect_lt(strlen(name), sizeof name);
        b[i] = save;
    }
}

/* A ServerHello record's first bytes (the rest does not matter here). */
static size_t server_hello(uint8_t *b)
{
    static const uint8_t h[] = { 0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76,
                                 0x03, 0x03 };
    memcpy(b, h, sizeof h);
    memset(b + sizeof h, 0x5a, 32);
    return sizeof h + 32;
}

Test(tls, hello_starts_where_a_hello_record_starts)
{
    uint8_t b[600];
    size_t n = hello(b, "mail.example.test");
    cr_expect(hu_tls_hello_starts(b, n, HU_TLS_CLIENT_HELLO));
    cr_expect_not(hu_tls_hello_starts(b, n, HU_TLS_SERVER_HELLO));
    size_t sn = server_hello(b + 300);
    cr_expect(hu_tls_hello_starts(b + 300, sn, HU_TLS_SERVER_HELLO));
    cr_expect_not(hu_tls_hello_starts(b + 300, sn, HU_TLS_CLIENT_HELLO));
    /* Only the first HU_TLS_HELLO_HEAD bytes are needed; fewer never pass. */
    for (size_t k = 0; k < HU_TLS_HELLO_HEAD; k++)
        cr_expect_not(hu_tls_hello_starts(b, k, HU_TLS_CLIENT_HELLO), "cut at %zu", k);
    cr_expect(hu_tls_hello_starts(b, HU_TLS_HELLO_HEAD, HU_TLS_CLIENT_HELLO));
}

Test(tls, hello_starts_is_strict)
{
    uint8_t b[600], c[600];
    size_t n = hello(b, "mail.example.test");
    /* Each constrained byte, set to values a hello never has. */
    static const struct { unsigned at; uint8_t v; } bad[] = {
        { 0, 0x17 }, { 0, 0x15 }, { 1, 2 }, { 1, 0x16 }, { 2, 5 }, { 2, 0xff },
        { 3, 0x50 }, { 5, 0x0b }, { 6, 2 }, { 9, 2 }, { 9, 0x16 }, { 10, 5 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(c, b, n);
        c[bad[i].at] = bad[i].v;
        cr_expect_not(hu_tls_hello_starts(c, n, HU_TLS_CLIENT_HELLO), "byte %u = %#x",
                      bad[i].at, bad[i].v);
    }
    /* Lengths: a record or a message too short for a hello. */
    memcpy(c, b, n);
    c[3] = 0; c[4] = 3;
    cr_expect_not(hu_tls_hello_starts(c, n, HU_TLS_CLIENT_HELLO));
    memcpy(c, b, n);
    c[7] = 0; c[8] = 37;
    cr_expect_not(hu_tls_hello_starts(c, n, HU_TLS_CLIENT_HELLO));
    /* The cleartext that comes before a hello in the protocols that turn
     * to TLS, and bytes that open like a TLS record. */
    static const char *const clear[] = {
        "AUTH TLS\r\n", "STARTTLS\r\n", "a1 STARTTLS\r\n", "STLS\r\n",
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        "\x00\x00\x00\x08\x04\xd2\x16\x2f\x00\x00\x00",   /* PostgreSQL's SSLRequest */
        "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03\x03", "\x17\x03\x03\x00\x13\x01\x00\x00\x40\x03\x03",
    };
    for (size_t i = 0; i < sizeof clear / sizeof clear[0]; i++)
        cr_expect_not(hu_tls_hello_starts((const uint8_t *)clear[i], HU_TLS_HELLO_HEAD,
                                          HU_TLS_CLIENT_HELLO), "case %zu", i);
}
