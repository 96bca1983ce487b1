/*
 * pktsum.c -- filling, copying and clearing packet summaries (see
 * pktsum.h): the only part of a summary that owns memory is its heap part,
 * the options beyond the inline room and the text (encapsulations and
 * payload suffix), kept in one block so that a packet needing either pays
 * one allocation.
 */
#include "hangup/pktsum.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of s's heap part: its long options, then its text and NUL. */
static size_t ext_size(const hu_pktsum *s)
{
    unsigned k = hu_pktsum_optkept(s);
    size_t n = k > HU_PKTSUM_OPTS_INLINE ? k : 0;
    return n + strlen(s->ext + n) + 1;
}

/* s lost its heap part (OOM or cleared): no text, no long options. */
static void lose_ext(hu_pktsum *s)
{
    if (hu_pktsum_optkept(s) > HU_PKTSUM_OPTS_INLINE)
        s->optlen = s->optcap = 0;
    s->ext = NULL;
    s->text_pre = 0;
    s->text_ext = 0;
}

bool hu_pktsum_fill(hu_pktsum *s, const uint8_t *opts, const char *text, size_t len,
                    uint16_t pre, uint16_t ext)
{
    unsigned k = hu_pktsum_optkept(s);
    s->text_pre = len ? pre : 0;
    s->text_ext = len ? ext : 0;
    s->ext = NULL;
    if (k <= HU_PKTSUM_OPTS_INLINE) {
        if (k)
            memcpy(s->opts_inline, opts, k);
        if (!len)
            return true;
        k = 0;
    }
    char *b = malloc(k + len + 1);
    if (!b) {
        lose_ext(s);
        return false;
    }
    if (k)
        memcpy(b, opts, k);
    if (len)
        memcpy(b + k, text, len);
    b[k + len] = '\0';
    s->ext = b;
    return true;
}

void hu_pktsum_clear(hu_pktsum *s)
{
    free(s->ext);
    lose_ext(s);
}

void hu_pktsum_copy(hu_pktsum *dst, const hu_pktsum *src)
{
    *dst = *src;
    if (!src->ext)
        return;
    size_t n = ext_size(src);
    dst->ext = malloc(n);
    if (dst->ext)
        memcpy(dst->ext, src->ext, n);
    else
        lose_ext(dst);
}
