/*
 * keylog.c -- TLS session secrets by client random (see keylog.h).
 *
 * An NSS key log is text a TLS library appends a line to per secret:
 * "LABEL <client random, 64 hex> <secret, hex>".  Every line is hostile
 * input like a packet's bytes: a line is used only when its label is one
 * hangup decrypts with and both hex fields have the lengths that label
 * has; anything else is skipped without a word (key logs carry comments
 * and labels of other protocols).  The table is open addressing keyed by
 * the random, which is uniformly distributed already.  Files given are
 * remembered with how far they were read, so that a lookup that misses
 * reads only what was appended since, and only whole lines.
 */
#include "hangup/keylog.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct kl_entry {
    bool used;
    uint8_t cr[HU_TLS_RANDOM];
    hu_tls_secrets s;
} kl_entry;

typedef struct kl_file {
    char *path;
    long off;                 /* bytes read, up to the last whole line */
} kl_file;

struct hu_keylog {
    kl_entry *tab;
    size_t cap, count;        /* cap a power of two, 0 before the first */
    kl_file *files;
    size_t nfiles;
};

hu_keylog *hu_keylog_new(void) { return calloc(1, sizeof(hu_keylog)); }

void hu_keylog_free(hu_keylog *kl)
{
    if (!kl)
        return;
    if (kl->tab) {
        /* Secrets do not outlive the table in freed memory. */
        memset(kl->tab, 0, kl->cap * sizeof *kl->tab);
        free(kl->tab);
    }
    for (size_t i = 0; i < kl->nfiles; i++)
        free(kl->files[i].path);
    free(kl->files);
    free(kl);
}

size_t hu_keylog_count(const hu_keylog *kl) { return kl ? kl->count : 0; }

bool hu_keylog_empty(const hu_keylog *kl) { return !kl || (kl->count == 0 && kl->nfiles == 0); }

static size_t slot_of(const kl_entry *tab, size_t cap, const uint8_t *cr)
{
    size_t h;
    memcpy(&h, cr, sizeof h);
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!tab[i].used || memcmp(tab[i].cr, cr, HU_TLS_RANDOM) == 0)
            return i;
}

static bool grow(hu_keylog *kl)
{
    size_t cap = kl->cap ? kl->cap * 2 : 64;
    kl_entry *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return false;
    for (size_t i = 0; i < kl->cap; i++)
        if (kl->tab[i].used)
            tab[slot_of(tab, cap, kl->tab[i].cr)] = kl->tab[i];
    if (kl->tab) {
        memset(kl->tab, 0, kl->cap * sizeof *kl->tab);
        free(kl->tab);
    }
    kl->tab = tab;
    kl->cap = cap;
    return true;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The hex field p[0, n) into out (n / 2 bytes); false if n is odd, over
 * max bytes, or a character is not a hex digit. */
static bool unhex(const uint8_t *p, size_t n, uint8_t *out, size_t max)
{
    if (n % 2 || n / 2 > max || n == 0)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static const struct {
    const char *label;
    int which;                /* HU_KL_*, or -1 for the master secret */
} labels[] = {
    { "CLIENT_RANDOM", -1 },
    { "CLIENT_HANDSHAKE_TRAFFIC_SECRET", HU_KL_CHTS },
    { "SERVER_HANDSHAKE_TRAFFIC_SECRET", HU_KL_SHTS },
    { "CLIENT_TRAFFIC_SECRET_0", HU_KL_CTS0 },
    { "SERVER_TRAFFIC_SECRET_0", HU_KL_STS0 },
};

/* One line, without its end of line. */
static void add_line(hu_keylog *kl, const uint8_t *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    const uint8_t *sp1 = memchr(p, ' ', n);
    if (!sp1)
        return;
    size_t ll = (size_t)(sp1 - p);
    const uint8_t *f1 = sp1 + 1;
    const uint8_t *sp2 = memchr(f1, ' ', n - ll - 1);
    if (!sp2 || sp2 - f1 != 2 * HU_TLS_RANDOM)
        return;
    const uint8_t *f2 = sp2 + 1;
    size_t l2 = n - (size_t)(f2 - p);
    int which = -2;
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strlen(labels[i].label) == ll && memcmp(labels[i].label, p, ll) == 0)
            which = labels[i].which;
    uint8_t cr[HU_TLS_RANDOM], sec[HU_TLS_SECRET_MAX];
    if (which == -2 || !unhex(f1, 2 * HU_TLS_RANDOM, cr, sizeof cr) ||
        !unhex(f2, l2, sec, sizeof sec))
        return;
    size_t slen = l2 / 2;
    if ((which == -1 && slen != 48) || (which >= 0 && slen != 32 && slen != 48))
        return;
    if ((kl->count + 1) * 4 > kl->cap * 3 && !grow(kl))
        return;
    kl_entry *e = &kl->tab[slot_of(kl->tab, kl->cap, cr)];
    if (!e->used) {
        e->used = true;
        memcpy(e->cr, cr, sizeof cr);
        kl->count++;
    }
    if (which == -1) {
        memcpy(e->s.master, sec, slen);
        e->s.master_len = (uint8_t)slen;
    } else {
        memcpy(e->s.s13[which], sec, slen);
        e->s.len13[which] = (uint8_t)slen;
    }
    memset(sec, 0, sizeof sec);
}

/* The whole lines of p[0, n); returns the bytes they took. */
static size_t add_lines(hu_keylog *kl, const uint8_t *p, size_t n, bool last_whole)
{
    size_t i = 0;
    while (i < n) {
        const uint8_t *lf = memchr(p + i, '\n', n - i);
        if (!lf && !last_whole)
            break;
        size_t e = lf ? (size_t)(lf - p) : n;
        add_line(kl, p + i, e - i);
        i = lf ? e + 1 : n;
    }
    return i;
}

void hu_keylog_add_text(hu_keylog *kl, const uint8_t *p, size_t n)
{
    add_lines(kl, p, n, true);
}

/* What file kf gained since it was read, up to its last whole line. */
static bool read_more(hu_keylog *kl, kl_file *kf, char *err, size_t n)
{
    FILE *fp = fopen(kf->path, "rb");
    if (!fp) {
        if (err)
            snprintf(err, n, "%s", strerror(errno));
        return false;
    }
    if (fseek(fp, kf->off, SEEK_SET) != 0) {
        fclose(fp);
        return true;   /* truncated since: nothing new */
    }
    uint8_t buf[8192];
    size_t have = 0, got;
    while ((got = fread(buf + have, 1, sizeof buf - have, fp)) > 0) {
        have += got;
        size_t used = add_lines(kl, buf, have, false);
        if (used == 0 && have == sizeof buf)
            used = have;   /* a line longer than any key log line: dropped */
        memmove(buf, buf + used, have - used);
        have -= used;
        kf->off += (long)used;
    }
    memset(buf, 0, sizeof buf);
    fclose(fp);
    return true;
}

bool hu_keylog_add_file(hu_keylog *kl, const char *path, char *err, size_t n)
{
    kl_file *nf = realloc(kl->files, (kl->nfiles + 1) * sizeof *nf);
    if (!nf) {
        snprintf(err, n, "out of memory");
        return false;
    }
    kl->files = nf;
    kl_file kf = { strdup(path), 0 };
    if (!kf.path) {
        snprintf(err, n, "out of memory");
        return false;
    }
    if (!read_more(kl, &kf, err, n)) {
        free(kf.path);
        return false;
    }
    kl->files[kl->nfiles++] = kf;
    return true;
}

bool hu_keylog_find(hu_keylog *kl, const uint8_t cr[HU_TLS_RANDOM], hu_tls_secrets *out)
{
    for (int pass = 0; pass < 2; pass++) {
        if (kl->cap) {
            const kl_entry *e = &kl->tab[slot_of(kl->tab, kl->cap, cr)];
            if (e->used) {
                *out = e->s;
                return true;
            }
        }
        if (pass == 0)
            for (size_t i = 0; i < kl->nfiles; i++)
                read_more(kl, &kl->files[i], NULL, 0);
    }
    return false;
}

/* ------------------------------------------------------------ pcapng */

static uint32_t get32(const uint8_t *p, bool swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    return swap ? __builtin_bswap32(v) : v;
}

#define PCAPNG_SHB 0x0A0D0D0Au
#define PCAPNG_DSB 0x0000000Au
#define DSB_TLS 0x544c534bu      /* "TLSK" */
#define BLOCK_MAX (64u << 20)

size_t hu_keylog_add_pcapng(hu_keylog *kl, FILE *fp)
{
    size_t found = 0;
    bool swap = false, first = true;
    uint8_t h[12];
    for (;;) {
        if (fread(h, 1, 8, fp) != 8)
            return found;
        uint32_t type = get32(h, false);
        if (first && type != PCAPNG_SHB)
            return 0;   /* not pcapng */
        first = false;
        if (type == PCAPNG_SHB) {
            if (fread(h + 8, 1, 4, fp) != 4)
                return found;
            uint32_t magic = get32(h + 8, false);
            if (magic != 0x1A2B3C4Du && magic != 0x4D3C2B1Au)
                return found;
            swap = magic == 0x4D3C2B1Au;
        }
        type = get32(h, swap);
        uint32_t len = get32(h + 4, swap);
        if (len < 12 || len % 4 || len > BLOCK_MAX)
            return found;
        if (type == 2 || type == 3 || type == 6)
            return found;   /* the packets begin */
        size_t body = len - (type == PCAPNG_SHB ? 12 : 8);
        if (type != PCAPNG_DSB) {
            if (fseek(fp, (long)body, SEEK_CUR) != 0)
                return found;
            continue;
        }
        uint8_t *b = malloc(body);
        if (!b || fread(b, 1, body, fp) != body) {
            free(b);
            return found;
        }
        uint32_t stype = body >= 8 ? get32(b, swap) : 0, slen = body >= 8 ? get32(b + 4, swap) : 0;
        if (stype == DSB_TLS && slen <= body - 8) {
            hu_keylog_add_text(kl, b + 8, slen);
            found++;
        }
        memset(b, 0, body);
        free(b);
    }
}
