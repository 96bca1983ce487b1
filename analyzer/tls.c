/*
 * tls.c -- recognise TLS records and hellos, and find the SNI server name
 * in a TLS ClientHello.
 *
 * A TLS connection's requests are encrypted; the name the client asked for
 * in its ClientHello is what says which service the lost request was for.
 * This walks the record and handshake headers with a cursor that checks
 * every length against what remains (a hello is hostile input like any
 * other bytes off the wire).  A hello is also what says that a connection
 * turned to TLS after a cleartext exchange (STARTTLS and the like), so its
 * first bytes are checked strictly enough to find it mid-stream.
 */
#include "hangup/tls.h"

#include "hangup/cursor.h"

#include <stdbool.h>
#include <string.h>

hu_tls_rc hu_tls_sni(const uint8_t *p, size_t n, char *out, size_t outlen)
{
    out[0] = '\0';
    hu_cur c = { p, n, false };
    uint32_t type, ver, len, hs, hslen;
    if (!hu_cur_u8(&c, &type) || !hu_cur_u16(&c, &ver) || !hu_cur_u16(&c, &len))
        return HU_TLS_MORE;
    if (type != 0x16 || (ver >> 8) != 3)
        return HU_TLS_NOT_HELLO;
    /* Work inside the first record only. */
    if (c.n > len)
        c.n = len;
    bool record_whole = n - 5 >= len;
    if (!hu_cur_u8(&c, &hs) || !hu_cur_u24(&c, &hslen))
        goto more;
    if (hs != 1)
        return HU_TLS_NOT_HELLO;
    if (hslen > c.n && record_whole)
        return HU_TLS_MORE;   /* the hello continues in another record */
    uint32_t l;
    if (!hu_cur_take(&c, 2 + 32, NULL) ||              /* client_version, random */
        !hu_cur_u8(&c, &l) || !hu_cur_take(&c, l, NULL) ||     /* session id */
        !hu_cur_u16(&c, &l) || !hu_cur_take(&c, l, NULL) ||    /* cipher suites */
        !hu_cur_u8(&c, &l) || !hu_cur_take(&c, l, NULL))       /* compression methods */
        goto more;
    if (c.n == 0 && record_whole)
        return HU_TLS_NO_SNI;   /* no extensions at all */
    uint32_t extlen;
    if (!hu_cur_u16(&c, &extlen))
        goto more;
    hu_cur e = { c.p, c.n < extlen ? c.n : extlen, c.n < extlen };
    while (e.n > 0) {
        uint32_t et, el;
        const uint8_t *ed;
        if (!hu_cur_u16(&e, &et) || !hu_cur_u16(&e, &el) || !hu_cur_take(&e, el, &ed))
            goto more_e;
        if (et != 0)
            continue;
        hu_cur s = { ed, el, false };
        uint32_t listlen, nt, nl;
        const uint8_t *name;
        if (!hu_cur_u16(&s, &listlen) || !hu_cur_u8(&s, &nt) || !hu_cur_u16(&s, &nl) ||
            !hu_cur_take(&s, nl, &name) || nt != 0)
            return HU_TLS_NOT_HELLO;
        size_t k = nl < outlen - 1 ? nl : outlen - 1;
        memcpy(out, name, k);
        out[k] = '\0';
        return HU_TLS_SNI;
    }
    if (e.short_ || c.n < extlen)
        goto more;
    return HU_TLS_NO_SNI;
more_e:
    if (!e.short_)
        return HU_TLS_NOT_HELLO;
more:
    return record_whole ? HU_TLS_NOT_HELLO : HU_TLS_MORE;
}

int hu_tls_record_type(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] >= 0x14 && p[0] <= 0x17 && p[1] == 0x03 ? p[0] : 0;
}

bool hu_tls_hello_starts(const uint8_t *p, size_t n, int hs)
{
    if (n < HU_TLS_HELLO_HEAD || p[0] != HU_TLS_HANDSHAKE || p[1] != 3 || p[2] > 4 ||
        p[5] != hs || p[9] != 3 || p[10] > 4)
        return false;
    uint32_t reclen = (uint32_t)p[3] << 8 | p[4];
    uint32_t hslen = (uint32_t)p[6] << 16 | (uint32_t)p[7] << 8 | p[8];
    return reclen >= 4 && reclen <= 16384 + 2048 && hslen >= 38 && hslen < 1u << 17;
}
