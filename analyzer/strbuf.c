/*
 * strbuf.c -- growable output strings and the escaping used for every byte
 * that came off the wire (see strbuf.h for the contract).
 */
#include "hangup/strbuf.h"

#include <arpa/inet.h>

#include <inttypes.h>

#include <stdlib.h>
#include <string.h>

static bool sb_reserve(hu_sb *sb, size_t extra)
{
    if (sb->oom)
        return false;
    if (sb->len + extra + 1 <= sb->cap)
        return true;
    size_t ncap = sb->cap ? sb->cap : 256;
    while (ncap < sb->len + extra + 1) {
        if (ncap > SIZE_MAX / 2) {
            sb->oom = true;
            return false;
        }
        ncap *= 2;
    }
    char *nb = realloc(sb->buf, ncap);
    if (!nb) {
        sb->oom = true;
        return false;
    }
    sb->buf = nb;
    sb->cap = ncap;
    return true;
}

void hu_sb_free(hu_sb *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    sb->oom = false;
}

void hu_sb_reset(hu_sb *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void hu_sb_put(hu_sb *sb, const void *p, size_t n)
{
    if (!sb_reserve(sb, n))
        return;
    memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void hu_sb_putc(hu_sb *sb, char c) { hu_sb_put(sb, &c, 1); }
void hu_sb_puts(hu_sb *sb, const char *s) { hu_sb_put(sb, s, strlen(s)); }

void hu_sb_printf(hu_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        hu_sb_put(sb, tmp, (size_t)n);
        return;
    }
    if (!sb_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

const char *hu_sb_cstr(hu_sb *sb)
{
    return sb->buf && sb->len ? sb->buf : "";
}

bool hu_sb_write(const hu_sb *sb, FILE *fp)
{
    if (sb->len == 0)
        return true;
    return fwrite(sb->buf, 1, sb->len, fp) == sb->len;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The JSON and Prometheus escapers' common walk: `\` and `"` get a
 * backslash; valid UTF-8 is copied and each invalid byte becomes
 * `invalid`; control characters become \u00XX in JSON, and in a
 * Prometheus label \n for a newline, `invalid` for the rest. */
static void put_escaped(hu_sb *sb, const uint8_t *p, size_t n, const char *invalid,
                        bool prom)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t l = 1;
        if (c == '"' || c == '\\') {
            hu_sb_putc(sb, '\\');
            hu_sb_putc(sb, (char)c);
        } else if (prom && c == '\n') {
            hu_sb_puts(sb, "\\n");
        } else if (c < 0x20 || c == 0x7f) {
            if (prom)
                hu_sb_puts(sb, invalid);
            else
                hu_sb_printf(sb, "\\u%04x", c);
        } else if ((l = utf8_len(p + i, n - i)) == 0) {
            hu_sb_puts(sb, invalid);   /* invalid byte: replacement char */
            l = 1;
        } else {
            hu_sb_put(sb, p + i, l);
        }
        i += l;
    }
}

void hu_sb_json_str(hu_sb *sb, const uint8_t *p, size_t n)
{
    hu_sb_putc(sb, '"');
    put_escaped(sb, p, n, "\\ufffd", false);
    hu_sb_putc(sb, '"');
}

void hu_sb_prom_label(hu_sb *sb, const uint8_t *p, size_t n)
{
    put_escaped(sb, p, n, "\xef\xbf\xbd", true);   /* U+FFFD */
}

void hu_sb_safe(hu_sb *sb, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            hu_sb_putc(sb, (char)c);
        else
            hu_sb_printf(sb, "\\x%02x", c);
    }
}

/* A duration for people: "412 us", "3.250 ms", "5.001 s". */
void hu_sb_duration(hu_sb *sb, int64_t us)
{
    uint64_t a = us < 0 ? (uint64_t)(-(us + 1)) + 1 : (uint64_t)us;
    const char *sign = us < 0 ? "-" : "";
    if (a < 1000)
        hu_sb_printf(sb, "%s%" PRIu64 " us", sign, a);
    else if (a < 1000000)
        hu_sb_printf(sb, "%s%" PRIu64 ".%03" PRIu64 " ms", sign, a / 1000, a % 1000);
    else
        hu_sb_printf(sb, "%s%" PRIu64 ".%03" PRIu64 " s", sign, a / 1000000, a / 1000 % 1000);
}

void hu_endpoint_str(char *buf, size_t n, uint8_t ipver, const uint8_t *addr, uint16_t port)
{
    char a[INET6_ADDRSTRLEN] = "?";
    inet_ntop(ipver == 4 ? AF_INET : AF_INET6, addr, a, sizeof a);
    snprintf(buf, n, ipver == 4 ? "%s:%u" : "[%s]:%u", a, port);
}
