/*
 * cursor.h -- bounds-checked big-endian reads over a byte range (header
 * only), for the TLS parsers (tls.c, tlsdec.c).
 *
 * A cursor never reads past p + n: every read checks what is left first,
 * and a read that does not fit consumes nothing, returns false and sets
 * short_ (the caller tells "need more bytes" from "malformed" by it).
 */
#ifndef HANGUP_CURSOR_H
#define HANGUP_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hu_cur {
    const uint8_t *p;
    size_t n;                 /* bytes left at p */
    bool short_;              /* a read ran past the end of what there is */
} hu_cur;

/* Consume k bytes; *out (out may be NULL) points at them. */
static inline bool hu_cur_take(hu_cur *c, size_t k, const uint8_t **out)
{
    if (c->n < k) {
        c->short_ = true;
        return false;
    }
    if (out)
        *out = c->p;
    c->p += k;
    c->n -= k;
    return true;
}

/* A 1-, 2- or 3-byte unsigned integer in network order into *v. */
static inline bool hu_cur_u8(hu_cur *c, uint32_t *v)
{
    const uint8_t *q;
    if (!hu_cur_take(c, 1, &q))
        return false;
    *v = q[0];
    return true;
}

static inline bool hu_cur_u16(hu_cur *c, uint32_t *v)
{
    const uint8_t *q;
    if (!hu_cur_take(c, 2, &q))
        return false;
    *v = (uint32_t)q[0] << 8 | q[1];
    return true;
}

static inline bool hu_cur_u24(hu_cur *c, uint32_t *v)
{
    const uint8_t *q;
    if (!hu_cur_take(c, 3, &q))
        return false;
    *v = (uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2];
    return true;
}

#endif
