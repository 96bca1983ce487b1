/*
 * tlsdec.c -- one TLS connection decrypted with its session's secrets
 * (see tlsdec.h for the contract, docs/DESIGN.md §3.10 for its place).
 *
 * Each direction's in-order bytes are cut into records (a record may
 * span segments: its bytes are gathered in a buffer of the direction's
 * own, allocated when a record first needs it).  Until a direction's
 * records are encrypted, its handshake is read in the clear with a
 * bounds-checked cursor, the style of tls.c: the ClientHello's random,
 * the ServerHello's version (supported_versions for 1.3), random, suite
 * and encrypt_then_mac.  TLS 1.2 encrypts a direction after its
 * ChangeCipherSpec, TLS 1.3 both after the ServerHello; its handshake
 * records are under the handshake secrets and the rest under the
 * application secrets, and which key a record is under is learnt by its
 * tag: the application key at sequence 0 that verifies is where the
 * handshake ended (no handshake message needs parsing, and a key log
 * without the handshake secrets still decrypts the requests).
 *
 * The keys come from libcrypto's KDFs (TLS1-PRF, HKDF in expand mode);
 * HKDF-Expand-Label's HkdfLabel structure is built here because libcrypto
 * has no call for TLS 1.3's labels.  Ciphers and MACs are EVP's.  The
 * nonces and the additional data are the record layer's (RFC 5246 6.2.3,
 * RFC 7905, RFC 7366, RFC 8446 5.2-5.3), written out.
 *
 * Plaintext is decrypted in place in the record buffer and handed on at
 * once; only the start of the client's newest records is kept, for the
 * lost request.
 */
#include "hangup/tlsdec.h"
#include "hangup/cursor.h"
#include "hangup/packet.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#define REC_HEAD 5
#define REC_MAX (16384 + 2048)   /* TLSCiphertext's bound (RFC 5246 6.2.3) */
#define TAG 16
#define HEAD 1024                /* plaintext kept from each client record's start */
#define WIN_RECS 4               /* ... for its newest records */

enum { K_GCM, K_CHACHA, K_CBC };

typedef struct suite {
    uint16_t id;
    uint8_t kind;             /* K_* */
    uint8_t keylen;
    uint8_t maclen;           /* CBC's HMAC length, 0 for AEAD */
    const char *mac_md;       /* CBC's HMAC hash */
    const char *prf_md;       /* TLS 1.2 PRF's hash / TLS 1.3's HKDF hash */
    bool tls13;
} suite;

static const suite suites[] = {
    /* TLS 1.3 (RFC 8446 B.4) */
    { 0x1301, K_GCM, 16, 0, NULL, "SHA256", true },
    { 0x1302, K_GCM, 32, 0, NULL, "SHA384", true },
    { 0x1303, K_CHACHA, 32, 0, NULL, "SHA256", true },
    /* TLS 1.2 AES-GCM (RFC 5288, 5289) */
    { 0x009C, K_GCM, 16, 0, NULL, "SHA256", false },
    { 0x009D, K_GCM, 32, 0, NULL, "SHA384", false },
    { 0x009E, K_GCM, 16, 0, NULL, "SHA256", false },
    { 0x009F, K_GCM, 32, 0, NULL, "SHA384", false },
    { 0xC02B, K_GCM, 16, 0, NULL, "SHA256", false },
    { 0xC02C, K_GCM, 32, 0, NULL, "SHA384", false },
    { 0xC02F, K_GCM, 16, 0, NULL, "SHA256", false },
    { 0xC030, K_GCM, 32, 0, NULL, "SHA384", false },
    /* TLS 1.2 ChaCha20-Poly1305 (RFC 7905) */
    { 0xCCA8, K_CHACHA, 32, 0, NULL, "SHA256", false },
    { 0xCCA9, K_CHACHA, 32, 0, NULL, "SHA256", false },
    { 0xCCAA, K_CHACHA, 32, 0, NULL, "SHA256", false },
    /* TLS 1.2 AES-CBC with HMAC (RFC 5246, 4492, 5289) */
    { 0x002F, K_CBC, 16, 20, "SHA1", "SHA256", false },
    { 0x0033, K_CBC, 16, 20, "SHA1", "SHA256", false },
    { 0x0035, K_CBC, 32, 20, "SHA1", "SHA256", false },
    { 0x0039, K_CBC, 32, 20, "SHA1", "SHA256", false },
    { 0x003C, K_CBC, 16, 32, "SHA256", "SHA256", false },
    { 0x003D, K_CBC, 32, 32, "SHA256", "SHA256", false },
    { 0x0067, K_CBC, 16, 32, "SHA256", "SHA256", false },
    { 0x006B, K_CBC, 32, 32, "SHA256", "SHA256", false },
    { 0xC009, K_CBC, 16, 20, "SHA1", "SHA256", false },
    { 0xC00A, K_CBC, 32, 20, "SHA1", "SHA256", false },
    { 0xC013, K_CBC, 16, 20, "SHA1", "SHA256", false },
    { 0xC014, K_CBC, 32, 20, "SHA1", "SHA256", false },
    { 0xC023, K_CBC, 16, 32, "SHA256", "SHA256", false },
    { 0xC024, K_CBC, 32, 48, "SHA384", "SHA384", false },
    { 0xC027, K_CBC, 16, 32, "SHA256", "SHA256", false },
    { 0xC028, K_CBC, 32, 48, "SHA384", "SHA384", false },
};

/* One direction's record layer. */
typedef struct tdir {
    uint8_t *rec;             /* the record being gathered, header first */
    size_t have, cap;
    uint32_t rec_seq;         /* TCP position of rec[0] */
    uint32_t next;            /* TCP position of the next byte expected */
    bool next_set;
    bool enc;                 /* its records are encrypted from here on */
    bool keyed;               /* key and iv below are set */
    bool app13;               /* TLS 1.3: under the application secrets */
    bool stopped;             /* a record failed, or a gap */
    uint8_t hs_misses;        /* TLS 1.3 handshake records no key opened */
    uint64_t rseq;            /* the record sequence number */
    uint64_t hseq;            /* TLS 1.3 handshake records' */
    uint8_t key[32], iv[12], mac[48];
    uint8_t hkey[32], hiv[12];
    bool hkeyed;
    uint8_t secret[HU_TLS_SECRET_MAX];   /* TLS 1.3 current application secret */
} tdir;

struct hu_tlsdec {
    hu_keylog *kl;
    uint8_t cr[HU_TLS_RANDOM], sr[HU_TLS_RANDOM];
    bool have_cr, have_sh, have_keys, active, off, etm;
    uint8_t events;           /* bit per hu_tlsdec_event already returned */
    uint16_t version;
    const suite *cs;
    hu_tls_secrets sec;
    EVP_CIPHER_CTX *ctx;
    tdir d[2];
    /* The client's newest records: each one's TCP span [seq, end), its
     * plaintext's length and first HEAD bytes (allocated on the first). */
    struct crec {
        uint32_t seq, end;
        uint32_t len;
        uint8_t head[HEAD];
    } *rr;
    unsigned nrr;
};

hu_tlsdec *hu_tlsdec_new(hu_keylog *kl)
{
    hu_tlsdec *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kl = kl;
    return d;
}

void hu_tlsdec_free(hu_tlsdec *d)
{
    if (!d)
        return;
    EVP_CIPHER_CTX_free(d->ctx);
    for (int i = 0; i < 2; i++) {
        if (d->d[i].rec)
            memset(d->d[i].rec, 0, d->d[i].cap);
        free(d->d[i].rec);
    }
    if (d->rr)
        memset(d->rr, 0, WIN_RECS * sizeof *d->rr);
    free(d->rr);
    memset(d, 0, sizeof *d);
    free(d);
}

bool hu_tlsdec_active(const hu_tlsdec *d) { return d->active; }
bool hu_tlsdec_off(const hu_tlsdec *d) { return d->off; }
bool hu_tlsdec_stopped(const hu_tlsdec *d, int dir) { return d->d[dir].stopped; }
unsigned hu_tlsdec_suite(const hu_tlsdec *d) { return d->cs ? d->cs->id : 0; }
unsigned hu_tlsdec_version(const hu_tlsdec *d) { return d->version; }

void hu_tlsdec_client_random(const hu_tlsdec *d, char out[2 * HU_TLS_RANDOM + 1])
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\0';
    if (!d->have_cr)
        return;
    for (int i = 0; i < HU_TLS_RANDOM; i++) {
        out[2 * i] = hex[d->cr[i] >> 4];
        out[2 * i + 1] = hex[d->cr[i] & 15];
    }
    out[2 * HU_TLS_RANDOM] = '\0';
}

/* An event, unless it was returned before. */
static hu_tlsdec_event once(hu_tlsdec *d, hu_tlsdec_event ev)
{
    if (d->events & (1u << ev))
        return HU_TLSDEC_NONE;
    d->events |= (uint8_t)(1u << ev);
    return ev;
}

/* ---------------------------------------------------------------- keys */

bool hu_tlsdec_expand_label(const char *md, const uint8_t *secret, size_t slen,
                            const char *label, uint8_t *out, size_t outlen)
{
    /* struct { uint16 length; opaque label<7..255> = "tls13 " + label;
     *          opaque context<0..255> = ""; } HkdfLabel (RFC 8446 7.1) */
    uint8_t info[2 + 1 + 255 + 1];
    size_t ll = strlen(label);
    if (ll > 255 - 6 || outlen > 0xffff)
        return false;
    info[0] = (uint8_t)(outlen >> 8);
    info[1] = (uint8_t)outlen;
    info[2] = (uint8_t)(6 + ll);
    memcpy(info + 3, "tls13 ", 6);
    memcpy(info + 9, label, ll);
    info[9 + ll] = 0;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kc)
        return false;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, slen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, 10 + ll),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(kc, out, outlen, ps) == 1;
    EVP_KDF_CTX_free(kc);
    return ok;
}

/* TLS 1.2's PRF(master, "key expansion", server_random + client_random). */
static bool key_block(hu_tlsdec *d, uint8_t *out, size_t outlen)
{
    uint8_t seed[13 + 2 * HU_TLS_RANDOM];
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, d->sr, HU_TLS_RANDOM);
    memcpy(seed + 13 + HU_TLS_RANDOM, d->cr, HU_TLS_RANDOM);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (!kc)
        return false;
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)d->cs->prf_md, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, d->sec.master,
                                          d->sec.master_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, seed, sizeof seed),
        OSSL_PARAM_construct_end(),
    };
    bool ok = EVP_KDF_derive(kc, out, outlen, ps) == 1;
    EVP_KDF_CTX_free(kc);
    return ok;
}

/* TLS 1.3 key and iv from a traffic secret. */
static bool keys13(const suite *cs, const uint8_t *secret, size_t slen, uint8_t *key,
                   uint8_t *iv)
{
    return hu_tlsdec_expand_label(cs->prf_md, secret, slen, "key", key, cs->keylen) &&
           hu_tlsdec_expand_label(cs->prf_md, secret, slen, "iv", iv, 12);
}

static size_t hash_len(const suite *cs) { return strcmp(cs->prf_md, "SHA384") == 0 ? 48 : 32; }

/* Both directions' keys from the session's secrets, once the suite is
 * known; false when the secrets this version needs are missing. */
static bool derive(hu_tlsdec *d)
{
    const suite *cs = d->cs;
    if (!cs->tls13) {
        if (d->sec.master_len != 48)
            return false;
        /* client MAC, server MAC, client key, server key, client IV, server IV */
        uint8_t kb[2 * 48 + 2 * 32 + 2 * 12];
        size_t ivlen = cs->kind == K_GCM ? 4 : cs->kind == K_CHACHA ? 12 : 0;
        size_t need = 2u * cs->maclen + 2u * cs->keylen + 2 * ivlen;
        if (!key_block(d, kb, need))
            return false;
        const uint8_t *q = kb;
        for (int i = 0; i < 2; i++, q += cs->maclen)
            memcpy(d->d[i].mac, q, cs->maclen);
        for (int i = 0; i < 2; i++, q += cs->keylen)
            memcpy(d->d[i].key, q, cs->keylen);
        for (int i = 0; i < 2; i++, q += ivlen)
            memcpy(d->d[i].iv, q, ivlen);
        memset(kb, 0, sizeof kb);
        d->d[0].keyed = d->d[1].keyed = true;
        return true;
    }
    size_t hl = hash_len(cs);
    const int app[2] = { HU_KL_CTS0, HU_KL_STS0 }, hs[2] = { HU_KL_CHTS, HU_KL_SHTS };
    for (int i = 0; i < 2; i++)
        if (d->sec.len13[app[i]] != hl)
            return false;
    for (int i = 0; i < 2; i++) {
        tdir *t = &d->d[i];
        memcpy(t->secret, d->sec.s13[app[i]], hl);
        if (!keys13(cs, t->secret, hl, t->key, t->iv))
            return false;
        t->keyed = true;
        if (d->sec.len13[hs[i]] == hl)
            t->hkeyed = keys13(cs, d->sec.s13[hs[i]], hl, t->hkey, t->hiv);
    }
    return true;
}

/* Look the session up (again) and derive its keys: true once keyed. */
static bool try_keys(hu_tlsdec *d)
{
    if (d->have_keys)
        return true;
    if (!d->have_cr || !d->cs || !hu_keylog_find(d->kl, d->cr, &d->sec))
        return false;
    d->have_keys = derive(d);
    memset(&d->sec, 0, sizeof d->sec);
    if (d->have_keys)
        d->active = true;
    return d->have_keys;
}

/* ---------------------------------------------------------------- handshake */

/* RFC 8446 4.1.3: a ServerHello with this random is a HelloRetryRequest. */
static const uint8_t hrr_random[HU_TLS_RANDOM] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

/* A ServerHello's body: version, suite, random, extensions. */
static hu_tlsdec_event server_hello(hu_tlsdec *d, hu_cur c)
{
    uint32_t ver, sid, cs, comp;
    const uint8_t *random;
    if (!hu_cur_u16(&c, &ver) || !hu_cur_take(&c, HU_TLS_RANDOM, &random) ||
        !hu_cur_u8(&c, &sid) || !hu_cur_take(&c, sid, NULL) || !hu_cur_u16(&c, &cs) ||
        !hu_cur_u8(&c, &comp))
        return HU_TLSDEC_NONE;
    if (memcmp(random, hrr_random, HU_TLS_RANDOM) == 0)
        return HU_TLSDEC_NONE;   /* a second ServerHello follows */
    bool etm = false;
    uint32_t extlen;
    if (hu_cur_u16(&c, &extlen)) {
        hu_cur e = { c.p, c.n < extlen ? c.n : extlen, false };
        uint32_t et, el;
        const uint8_t *ed;
        while (hu_cur_u16(&e, &et) && hu_cur_u16(&e, &el) && hu_cur_take(&e, el, &ed)) {
            if (et == 0x002b && el == 2)   /* supported_versions */
                ver = (uint32_t)ed[0] << 8 | ed[1];
            else if (et == 0x0016)          /* encrypt_then_mac */
                etm = true;
        }
    }
    memcpy(d->sr, random, HU_TLS_RANDOM);
    d->have_sh = true;
    d->version = (uint16_t)ver;
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (suites[i].id == cs)
            d->cs = &suites[i];
    if (ver == 0x0304) {
        d->d[0].enc = d->d[1].enc = true;   /* everything after the ServerHello */
    } else if (ver == 0x0303) {
        d->etm = etm && d->cs && d->cs->kind == K_CBC;
    }
    if (!d->cs || (ver != 0x0303 && ver != 0x0304) || d->cs->tls13 != (ver == 0x0304)) {
        d->cs = NULL;
        d->off = true;
        return once(d, HU_TLSDEC_UNSUPPORTED);
    }
    try_keys(d);
    return HU_TLSDEC_NONE;
}

/* A handshake record in the clear: its first message, a hello. */
static hu_tlsdec_event clear_handshake(hu_tlsdec *d, int dir, const uint8_t *p, size_t n)
{
    hu_cur c = { p, n, false };
    uint32_t type, l1, l2;
    if (!hu_cur_u8(&c, &type) || !hu_cur_u8(&c, &l1) || !hu_cur_u16(&c, &l2))
        return HU_TLSDEC_NONE;
    if (dir == HU_TLSDEC_CLIENT && type == 1 && !d->have_cr) {
        const uint8_t *random;
        if (hu_cur_take(&c, 2, NULL) && hu_cur_take(&c, HU_TLS_RANDOM, &random)) {
            memcpy(d->cr, random, HU_TLS_RANDOM);
            d->have_cr = true;
        }
        return HU_TLSDEC_NONE;
    }
    if (dir == HU_TLSDEC_SERVER && type == 2 && !d->have_sh)
        return server_hello(d, c);
    return HU_TLSDEC_NONE;
}

/* ---------------------------------------------------------------- records */

static bool ctx_ready(hu_tlsdec *d)
{
    if (!d->ctx)
        d->ctx = EVP_CIPHER_CTX_new();
    return d->ctx && EVP_CIPHER_CTX_reset(d->ctx) == 1;
}

static const EVP_CIPHER *cipher_of(const suite *cs)
{
    if (cs->kind == K_CHACHA)
        return EVP_chacha20_poly1305();
    if (cs->kind == K_GCM)
        return cs->keylen == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
    return cs->keylen == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}

/* AEAD open of ct[0, n) (tag after it) in place; false when the tag fails. */
static bool aead_open(hu_tlsdec *d, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
                      size_t aadlen, uint8_t *ct, size_t n)
{
    int l = 0, l2 = 0;
    if (!ctx_ready(d))
        return false;
    EVP_CIPHER_CTX *x = d->ctx;
    return EVP_DecryptInit_ex(x, cipher_of(d->cs), NULL, NULL, NULL) == 1 &&
           EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
           EVP_DecryptInit_ex(x, NULL, NULL, key, nonce) == 1 &&
           EVP_DecryptUpdate(x, NULL, &l, aad, (int)aadlen) == 1 &&
           EVP_DecryptUpdate(x, ct, &l, ct, (int)n) == 1 &&
           EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, TAG, ct + n) == 1 &&
           EVP_DecryptFinal_ex(x, ct + l, &l2) == 1;
}

/* The 12-byte nonce iv XOR the sequence number, right-aligned. */
static void xor_nonce(uint8_t *nonce, const uint8_t *iv, uint64_t seq)
{
    memcpy(nonce, iv, 12);
    for (int i = 0; i < 8; i++)
        nonce[11 - i] ^= (uint8_t)(seq >> (8 * i));
}

static void put_seq(uint8_t *p, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(seq >> (56 - 8 * i));
}

/* HMAC of the record's sequence number, header fields and data. */
static bool hmac(const tdir *t, const suite *cs, uint8_t type, const uint8_t *ver,
                 const uint8_t *p, size_t n, uint8_t *out)
{
    uint8_t head[13];
    put_seq(head, t->rseq);
    head[8] = type;
    head[9] = ver[0];
    head[10] = ver[1];
    head[11] = (uint8_t)(n >> 8);
    head[12] = (uint8_t)n;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mc = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    size_t ol = 0;
    OSSL_PARAM ps[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)cs->mac_md, 0),
        OSSL_PARAM_construct_end(),
    };
    bool ok = mc && EVP_MAC_init(mc, t->mac, cs->maclen, ps) == 1 &&
              EVP_MAC_update(mc, head, sizeof head) == 1 && EVP_MAC_update(mc, p, n) == 1 &&
              EVP_MAC_final(mc, out, &ol, 64) == 1 && ol == cs->maclen;
    EVP_MAC_CTX_free(mc);
    return ok;
}

/* CBC decryption of the record body b[0, n) (explicit IV first) in place:
 * the content's offset and length in *off and *len; false when the
 * padding or the MAC is wrong. */
static bool cbc_open(hu_tlsdec *d, tdir *t, uint8_t type, const uint8_t *ver, uint8_t *b,
                     size_t n, size_t *off, size_t *len)
{
    const suite *cs = d->cs;
    uint8_t m[64];
    if (d->etm) {
        if (n < 32u + cs->maclen)
            return false;
        n -= cs->maclen;
        if (!hmac(t, cs, type, ver, b, n, m) || CRYPTO_memcmp(m, b + n, cs->maclen) != 0)
            return false;
    }
    if (n < 32 || (n - 16) % 16)
        return false;
    int l = 0;
    EVP_CIPHER_CTX *x;
    if (!ctx_ready(d) || !(x = d->ctx) ||
        EVP_DecryptInit_ex(x, cipher_of(cs), NULL, t->key, b) != 1 ||
        EVP_CIPHER_CTX_set_padding(x, 0) != 1 ||
        EVP_DecryptUpdate(x, b + 16, &l, b + 16, (int)(n - 16)) != 1)
        return false;
    size_t pl = n - 16;
    uint8_t pad = b[16 + pl - 1];
    if ((size_t)pad + 1 > pl)
        return false;
    for (size_t i = 0; i <= pad; i++)
        if (b[16 + pl - 1 - i] != pad)
            return false;
    pl -= (size_t)pad + 1;
    if (!d->etm) {
        if (pl < cs->maclen)
            return false;
        pl -= cs->maclen;
        if (!hmac(t, cs, type, ver, b + 16, pl, m) ||
            CRYPTO_memcmp(m, b + 16 + pl, cs->maclen) != 0)
            return false;
    }
    *off = 16;
    *len = pl;
    return true;
}

/* TLS 1.3: the record under the key and iv at sequence seq, in place;
 * the content's length and inner type in *len and *type.  trial: another
 * key may be tried after this one fails, so the ciphertext is restored. */
static bool open13(hu_tlsdec *d, const uint8_t *key, const uint8_t *iv, uint64_t seq,
                   uint8_t *rec, size_t reclen, bool trial, size_t *len, uint8_t *type)
{
    if (reclen < REC_HEAD + TAG + 1)
        return false;
    uint8_t nonce[12];
    xor_nonce(nonce, iv, seq);
    size_t n = reclen - REC_HEAD - TAG;
    uint8_t *copy = NULL;
    if (trial) {
        if (!(copy = malloc(n)))
            return false;
        memcpy(copy, rec + REC_HEAD, n);
    }
    bool ok = aead_open(d, key, nonce, rec, REC_HEAD, rec + REC_HEAD, n);
    if (!ok && copy)
        memcpy(rec + REC_HEAD, copy, n);
    free(copy);
    if (!ok)
        return false;
    while (n > 0 && rec[REC_HEAD + n - 1] == 0)
        n--;
    if (n == 0)
        return false;
    *type = rec[REC_HEAD + n - 1];
    *len = n - 1;
    return true;
}

/* TLS 1.3 post-handshake messages: a KeyUpdate moves this direction to
 * its next application secret after this record. */
static bool key_update(hu_tlsdec *d, tdir *t, const uint8_t *p, size_t n)
{
    hu_cur c = { p, n, false };
    uint32_t type, l1, l2;
    bool upd = false;
    while (hu_cur_u8(&c, &type) && hu_cur_u8(&c, &l1) && hu_cur_u16(&c, &l2) &&
           hu_cur_take(&c, l1 << 16 | l2, NULL))
        upd |= type == 24;
    if (!upd)
        return true;
    size_t hl = hash_len(d->cs);
    uint8_t next[HU_TLS_SECRET_MAX];
    if (!hu_tlsdec_expand_label(d->cs->prf_md, t->secret, hl, "traffic upd", next, hl) ||
        !keys13(d->cs, next, hl, t->key, t->iv))
        return false;
    memcpy(t->secret, next, hl);
    memset(next, 0, sizeof next);
    t->rseq = 0;
    return true;
}

/* The client's plaintext, kept for the lost request: the start of each
 * of its newest records. */
static void keep_client(hu_tlsdec *d, const uint8_t *p, size_t n, uint32_t seq, uint32_t end)
{
    if (!d->rr && !(d->rr = malloc(WIN_RECS * sizeof *d->rr)))
        return;
    if (d->nrr == WIN_RECS) {
        memmove(d->rr, d->rr + 1, sizeof d->rr[0] * (WIN_RECS - 1));
        d->nrr--;
    }
    struct crec *r = &d->rr[d->nrr++];
    r->seq = seq;
    r->end = end;
    r->len = (uint32_t)n;
    memcpy(r->head, p, n < HEAD ? n : HEAD);
}

size_t hu_tlsdec_client_plain(const hu_tlsdec *d, uint32_t seq, uint8_t *out, size_t cap)
{
    if (!d || !d->rr)
        return 0;
    unsigned i = 0;
    while (i < d->nrr && !hu_seq_geq(d->rr[i].seq, seq) && !hu_seq_gt(d->rr[i].end, seq))
        i++;   /* to the first record that begins at or after seq, or spans it */
    size_t n = 0;
    for (; i < d->nrr && n < cap; i++) {
        const struct crec *r = &d->rr[i];
        size_t k = r->len < HEAD ? r->len : HEAD;
        if (k > cap - n)
            k = cap - n;
        memcpy(out + n, r->head, k);
        n += k;
        if (r->len > HEAD)
            break;   /* the rest of this record is not kept */
    }
    return n;
}

/* A direction stops: its records are no longer decrypted. */
static hu_tlsdec_event stop(hu_tlsdec *d, tdir *t, hu_tlsdec_event ev)
{
    t->stopped = true;
    return once(d, ev);
}

/* An encrypted record of dir, whole in t->rec[0, t->have). */
static hu_tlsdec_event encrypted(hu_tlsdec *d, int dir, tdir *t, hu_tlsdec_out out, void *arg)
{
    uint8_t *rec = t->rec, rtype = rec[0];
    size_t n = t->have - REC_HEAD, off = REC_HEAD, len = 0;
    uint8_t type = rtype;
    if (!d->have_keys && !try_keys(d)) {
        /* The key log may be written after the handshake (live): until
         * the client's first encrypted record, keep the count and wait. */
        if (dir == HU_TLSDEC_CLIENT) {
            d->off = true;
            return once(d, HU_TLSDEC_NO_KEY);
        }
        t->rseq += d->version == 0x0303;
        return HU_TLSDEC_NONE;
    }
    if (d->version == 0x0304) {
        if (rtype != 23)
            return HU_TLSDEC_NONE;   /* a plaintext alert */
        bool ok = false;
        if (!t->app13) {
            if (t->hkeyed && open13(d, t->hkey, t->hiv, t->hseq, rec, t->have, true, &len, &type)) {
                t->hseq++;
                return HU_TLSDEC_NONE;   /* a handshake message */
            }
            ok = open13(d, t->key, t->iv, 0, rec, t->have, true, &len, &type);
            if (!ok) {
                /* A handshake record no key opens: its secret is missing
                 * (with it, neither key opening the record is a failure). */
                if (t->hkeyed || ++t->hs_misses > 32)
                    return stop(d, t, HU_TLSDEC_FAILED);
                return HU_TLSDEC_NONE;
            }
            t->app13 = true;
            t->rseq = 0;
        } else {
            ok = open13(d, t->key, t->iv, t->rseq, rec, t->have, false, &len, &type);
        }
        if (!ok)
            return stop(d, t, HU_TLSDEC_FAILED);
        t->rseq++;
        if (type == 22 && !key_update(d, t, rec + off, len))
            return stop(d, t, HU_TLSDEC_FAILED);
    } else if (d->cs->kind == K_CBC) {
        if (!cbc_open(d, t, rtype, rec + 1, rec + REC_HEAD, n, &off, &len))
            return stop(d, t, HU_TLSDEC_FAILED);
        off += REC_HEAD;
        t->rseq++;
    } else {
        uint8_t nonce[12], aad[13];
        size_t explicit = d->cs->kind == K_GCM ? 8 : 0;
        if (n < explicit + TAG)
            return stop(d, t, HU_TLSDEC_FAILED);
        len = n - explicit - TAG;
        if (explicit) {
            memcpy(nonce, t->iv, 4);
            memcpy(nonce + 4, rec + REC_HEAD, 8);
        } else {
            xor_nonce(nonce, t->iv, t->rseq);
        }
        put_seq(aad, t->rseq);
        aad[8] = rtype;
        aad[9] = rec[1];
        aad[10] = rec[2];
        aad[11] = (uint8_t)(len >> 8);
        aad[12] = (uint8_t)len;
        off = REC_HEAD + explicit;
        if (!aead_open(d, t->key, nonce, aad, sizeof aad, rec + off, len))
            return stop(d, t, HU_TLSDEC_FAILED);
        t->rseq++;
    }
    if (type == 23 && len > 0) {
        if (dir == HU_TLSDEC_CLIENT)
            keep_client(d, rec + off, len, t->rec_seq, t->rec_seq + (uint32_t)t->have);
        out(arg, dir, rec + off, len, t->rec_seq);
    }
    return HU_TLSDEC_NONE;
}

/* A whole record of dir in t->rec[0, t->have). */
static hu_tlsdec_event record(hu_tlsdec *d, int dir, tdir *t, hu_tlsdec_out out, void *arg)
{
    uint8_t type = t->rec[0];
    if (type == 20) {   /* ChangeCipherSpec: TLS 1.2 encrypts from here */
        if (d->version == 0x0303 && !t->enc) {
            t->enc = true;
            t->rseq = 0;
        }
        return HU_TLSDEC_NONE;
    }
    if (t->enc)
        return encrypted(d, dir, t, out, arg);
    if (type == 22)
        return clear_handshake(d, dir, t->rec + REC_HEAD, t->have - REC_HEAD);
    return HU_TLSDEC_NONE;
}

hu_tlsdec_event hu_tlsdec_feed(hu_tlsdec *d, int dir, const uint8_t *p, size_t n, uint32_t seq,
                               hu_tlsdec_out out, void *arg)
{
    tdir *t = &d->d[dir];
    hu_tlsdec_event ev = HU_TLSDEC_NONE;
    if (t->next_set && t->next != seq)
        t->stopped = true;   /* bytes were skipped: the records lost their frame */
    t->next = seq + (uint32_t)n;
    t->next_set = true;
    while (n > 0 && !t->stopped && !d->off) {
        size_t need = REC_HEAD;
        if (t->have >= REC_HEAD)
            need = REC_HEAD + ((size_t)t->rec[3] << 8 | t->rec[4]);
        if (t->have == 0)
            t->rec_seq = seq;
        if (need > t->cap) {
            size_t cap = need > 4096 ? REC_HEAD + REC_MAX : 4096;
            uint8_t *nr = realloc(t->rec, cap);
            if (!nr)
                return stop(d, t, HU_TLSDEC_MALFORMED);
            t->rec = nr;
            t->cap = cap;
        }
        size_t k = need - t->have < n ? need - t->have : n;
        memcpy(t->rec + t->have, p, k);
        t->have += k;
        p += k;
        n -= k;
        seq += (uint32_t)k;
        if (t->have < need)
            break;
        if (need == REC_HEAD) {
            size_t len = (size_t)t->rec[3] << 8 | t->rec[4];
            /* TLS 1.3 bounds records at 2^14 + 256 (RFC 8446 5.2). */
            size_t max = d->version == 0x0304 ? 16384 + 256 : REC_MAX;
            if (t->rec[1] != 3 || t->rec[0] < 20 || t->rec[0] > 23 || len > max) {
                ev = stop(d, t, HU_TLSDEC_MALFORMED);
                break;
            }
            if (len > 0)
                continue;
        }
        hu_tlsdec_event e = record(d, dir, t, out, arg);
        if (e != HU_TLSDEC_NONE)
            ev = e;
        t->have = 0;
    }
    return ev;
}

void hu_tlsdec_gap(hu_tlsdec *d, int dir)
{
    d->d[dir].stopped = true;
}
