/*
 * pktsum.c -- copying and clearing packet summaries (see pktsum.h): the
 * only part of a summary that owns memory is a long text (encapsulations
 * and payload suffix).
 */
#include "hangup/pktsum.h"

#include <stdlib.h>
#include <string.h>

void hu_pktsum_clear(hu_pktsum *s)
{
    if (s->http_heap) {
        free(s->http_heap);
        s->http_heap = NULL;
    }
    s->http_inline[0] = '\0';
    s->text_pre = 0;
    s->text_ext = 0;
}

void hu_pktsum_copy(hu_pktsum *dst, const hu_pktsum *src)
{
    *dst = *src;
    dst->http_heap = src->http_heap ? strdup(src->http_heap) : NULL;
    if (src->http_heap && !dst->http_heap) {   /* out of memory: no text */
        dst->http_inline[0] = '\0';
        dst->text_pre = 0;
        dst->text_ext = 0;
    }
}
