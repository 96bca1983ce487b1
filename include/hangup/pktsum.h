/*
 * pktsum.h -- one packet as a timeline needs it.
 *
 * The flow tracker keeps a bounded ring of these per connection, and the
 * detectors copy the few an incident names, so that an incident can print
 * its tcpdump lines after the pcap has moved on.  A summary holds what
 * tcpdump -n prints (the sequence numbers as it prints them, options,
 * interface), the text it prints for the encapsulations and IPv6
 * extension headers around the TCP line, and the payload suffix it
 * appends, inline when short.
 */
#ifndef HANGUP_PKTSUM_H
#define HANGUP_PKTSUM_H

#include <stddef.h>
#include <stdint.h>

typedef struct hu_pktsum {
    int64_t ts_us;
    uint64_t num;
    uint32_t seq, ack;        /* as tcpdump -n prints them (relative or not) */
    uint32_t sackbase;        /* subtracted from SACK block edges, as tcpdump does */
    uint32_t rawseq, rawack;  /* the header's own numbers */
    uint32_t paylen;
    uint32_t ifindex;
    uint16_t win, urp;
    uint8_t flags, side, optlen, pkttype;
    uint8_t has_sll2;
    /* What the snapshot kept, for tcpdump's truncation marks: optcap
     * counts the captured bytes from the first option byte on, at most
     * optlen + 1 (the options and a first payload byte); snapcut is 1
     * when any byte of the segment was not captured. */
    uint8_t optcap, snapcut;
    uint8_t opts[40];
    /* tcpdump's text around the TCP line: text_pre bytes for the
     * encapsulations (before the inner "IP"), text_ext for IPv6 extension
     * headers ("HBH "), then the ": HTTP..." suffix; inline when short,
     * else owned on the heap.  Most packets (ACKs) have none, and a slot
     * is in every connection's ring 32 times over, so the inline room is
     * small: a message's first packet (one or two per exchange) pays an
     * allocation rather than every slot 64 bytes.  Read them with
     * hu_pktsum_text() and hu_pktsum_http(). */
    uint16_t text_pre;
    uint16_t text_ext;
    char http_inline[12];
    char *http_heap;
} hu_pktsum;

/* All of s's text: the encapsulations', the extension headers', then the
 * payload suffix ("" for none). */
static inline const char *hu_pktsum_text(const hu_pktsum *s)
{
    return s->http_heap ? s->http_heap : s->http_inline;
}

/* The payload suffix tcpdump prints for this packet, or NULL. */
static inline const char *hu_pktsum_http(const hu_pktsum *s)
{
    const char *t = hu_pktsum_text(s) + s->text_pre + s->text_ext;
    return t[0] ? t : NULL;
}

/* Copy src into dst, duplicating its heap suffix (dst's own is not freed:
 * clear it first).  On OOM the copy simply has no long suffix. */
void hu_pktsum_copy(hu_pktsum *dst, const hu_pktsum *src);
/* Free s's heap text and empty the inline one; the rest is kept. */
void hu_pktsum_clear(hu_pktsum *s);

#endif
