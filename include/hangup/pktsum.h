/*
 * pktsum.h -- one packet as a timeline needs it.
 *
 * The flow tracker keeps a bounded ring of these per connection, and the
 * detectors copy the few an incident names, so that an incident can print
 * its tcpdump lines after the pcap has moved on.  A summary holds what
 * tcpdump -n prints (the sequence numbers as it prints them, options,
 * interface), the text it prints for the encapsulations and IPv6
 * extension headers around the TCP line, and the payload suffix it
 * appends: the common options in place, long options and any text in
 * one heap part.
 */
#ifndef HANGUP_PKTSUM_H
#define HANGUP_PKTSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Option bytes a summary holds in place; longer options (a SYN's, SACK
 * blocks) go to its heap part.  12 is Linux's NOP, NOP, timestamps: the
 * options of nearly every segment of an established connection. */
#define HU_PKTSUM_OPTS_INLINE 12

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
    /* tcpdump's text around the TCP line: text_pre bytes for the
     * encapsulations (before the inner "IP"), text_ext for IPv6 extension
     * headers ("HBH "), then the ": HTTP..." suffix. */
    uint16_t text_pre;
    uint16_t text_ext;
    uint8_t opts_inline[HU_PKTSUM_OPTS_INLINE];
    /* NULL, or the option bytes when more than the inline room
     * (hu_pktsum_optkept of them), then the text, NUL-terminated: owned,
     * or inside the packed block it was unpacked from (whoever holds
     * the summary knows which: the flow's ring_heap bits).  A slot
     * is in every connection's ring 32 times over and most packets (ACKs
     * with timestamps) have neither, so they cost a pointer, not room.
     * Read them with hu_pktsum_opts(), hu_pktsum_text(), hu_pktsum_http(). */
    char *ext;
} hu_pktsum;

/* How many option bytes s holds (those the capture kept). */
static inline unsigned hu_pktsum_optkept(const hu_pktsum *s)
{
    return s->optcap < s->optlen ? s->optcap : s->optlen;
}

/* s's option bytes (hu_pktsum_optkept of them). */
static inline const uint8_t *hu_pktsum_opts(const hu_pktsum *s)
{
    return hu_pktsum_optkept(s) > HU_PKTSUM_OPTS_INLINE ? (const uint8_t *)s->ext
                                                        : s->opts_inline;
}

/* All of s's text: the encapsulations', the extension headers', then the
 * payload suffix ("" for none). */
static inline const char *hu_pktsum_text(const hu_pktsum *s)
{
    if (!s->ext)
        return "";
    unsigned k = hu_pktsum_optkept(s);
    return s->ext + (k > HU_PKTSUM_OPTS_INLINE ? k : 0);
}

/* The payload suffix tcpdump prints for this packet, or NULL. */
static inline const char *hu_pktsum_http(const hu_pktsum *s)
{
    const char *t = hu_pktsum_text(s) + s->text_pre + s->text_ext;
    return t[0] ? t : NULL;
}

/* The one text most payload segments carry (tcpdump's mark for a segment
 * of an HTTP port that starts no message), kept once, not per summary:
 * a summary whose heap part is it (hu_pktsum_shared) owns no memory, and
 * its ring does not free it.  Most of a busy capture's texts are this. */
extern const char hu_pktsum_shared_text[];

static inline bool hu_pktsum_shared(const hu_pktsum *s)
{
    return s->ext == hu_pktsum_shared_text;
}

/* Fill s's options (n = hu_pktsum_optkept(s) bytes of opts; optlen and
 * optcap set first) and text (len bytes; pre and ext as text_pre and
 * text_ext), its heap part allocated when they need one, or the shared
 * text when that is all (hu_pktsum_shared).  s->ext must be NULL or
 * already freed.  False when that allocation failed: s then has no text
 * and no options (optlen and optcap 0). */
bool hu_pktsum_fill(hu_pktsum *s, const uint8_t *opts, const char *text, size_t len,
                    uint16_t pre, uint16_t ext);

/*
 * A run of summaries packed into one block: an idle connection's ring,
 * kept at about a third of its size until the connection's next packet.
 * Each field is stored as its difference from the previous summary's (of
 * the same side for the sequence fields), as a variable-length integer;
 * the options and text as a heap part's bytes (pktsum.c).
 *
 * hu_pktsum_pack: v[0..n) packed into a block it allocates (the caller
 * frees it); NULL on OOM.  hu_pktsum_unpack: the n summaries of such a
 * block into out[0..n), their heap parts pointing into the block itself
 * (no allocation): the caller keeps the block until those summaries are
 * gone, and never frees their heap parts.  False when the block is not
 * one pack made: out then holds what could be read, the rest zeroed.
 */
uint8_t *hu_pktsum_pack(const hu_pktsum *const *v, unsigned n);
unsigned hu_pktsum_packed_count(const uint8_t *b);
bool hu_pktsum_unpack(const uint8_t *b, hu_pktsum *out, unsigned n);

/* Copy src into dst, duplicating its heap part unless it is the shared
 * text (dst's own is not freed: clear it first).  On OOM the copy has no
 * text and no long options. */
void hu_pktsum_copy(hu_pktsum *dst, const hu_pktsum *src);
/* Free s's heap part (the shared text is not freed): s is left with no
 * text and no options beyond the inline room (optlen and optcap 0 if it
 * had them); the rest is kept. */
void hu_pktsum_clear(hu_pktsum *s);

#endif
