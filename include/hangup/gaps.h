/*
 * gaps.h -- capture gaps: bytes a side sent that the capture does not
 * hold, proven by the peer's acknowledgements (docs/DESIGN.md §2.13).
 *
 * A capture point can miss packets the two hosts exchanged (a busy
 * sensor, a snapshot length that cut a segment, a dropped segment, an
 * asymmetric route that shows one direction only).  The peer's
 * cumulative ACK says how far the sender's stream really went: sequence
 * space the peer acknowledged and the capture never held is a capture
 * gap, not data that was never sent (Zeek's "content gap").  The flow
 * tracker feeds every packet here (hu_gaps_packet); the connection's
 * facts are then asked through the functions below.  Sequence space
 * acknowledged and never captured is counted as it is: when a FIN was
 * not captured either, its one sequence number is part of the gap.
 *
 * The state is allocated on the first packet that needs it (a sequence
 * hole, a cut segment, an ACK above all that was seen, an ACK from a side
 * whose peer was never seen); an in-order connection never allocates.
 */
#ifndef HANGUP_GAPS_H
#define HANGUP_GAPS_H

#include <stdbool.h>
#include <stdint.h>
#include "hangup/packet.h"

typedef struct hu_gaps hu_gaps;

/* The gaps of one side's stream (a side's bytes the peer acknowledged
 * and the capture does not hold): how many distinct ranges, how many
 * sequence numbers in all. */
typedef struct hu_gaps_count {
    uint32_t count;
    uint64_t bytes;
} hu_gaps_count;

/*
 * Packet p, sent by side s, before the tracker's own update of s:
 * seen_s and max_s say whether s had been seen and the highest sequence
 * number it had sent (snd_max), seen_o and max_o the same of its peer.
 * *g is allocated when p needs state (it may stay NULL); false only when
 * that allocation failed (the packet's evidence is then lost).
 */
bool hu_gaps_packet(hu_gaps **g, const hu_pkt *p, uint8_t s, bool seen_s, uint32_t max_s,
                    bool seen_o, uint32_t max_o);

/* Sequence distances this large are not evidence (a stray or corrupt
 * number, not a stream that went that far). */
#define HU_GAPS_FAR 0x40000000u

/* True when packet p (arguments as for hu_gaps_packet) tells the gaps
 * nothing and g is NULL: in order, captured whole, acknowledging nothing
 * beyond what was seen.  The tracker's per-packet test. */
static inline bool hu_gaps_quiet(const hu_gaps *g, const hu_pkt *p, bool seen_s, uint32_t max_s,
                                 bool seen_o, uint32_t max_o)
{
    if (g)
        return false;
    if (p->capturedlen < p->paylen)
        return false;
    if (seen_s && !(p->flags & HU_TH_SYN) && (int32_t)(p->seq - max_s) > 0 &&
        p->seq - max_s < HU_GAPS_FAR)
        return false;
    if (p->flags & HU_TH_ACK) {
        if (!seen_o)
            return false;
        if ((int32_t)(p->ack - max_o) > 0 && p->ack - max_o < HU_GAPS_FAR)
            return false;
    }
    return true;
}

/* Side s's gaps so far (zero when g is NULL). */
hu_gaps_count hu_gaps_of(const hu_gaps *g, uint8_t s);

/* True when the peer acknowledged bytes of side s at or after stream
 * position pos that the capture does not hold. */
bool hu_gaps_acked_from(const hu_gaps *g, uint8_t s, uint32_t pos);

/* True when side s's stream has a hole at or after pos (sequence space
 * skipped by a later segment, or a segment's cut tail) that the peer has
 * not acknowledged yet: its acknowledgement may still come. */
bool hu_gaps_open_from(const hu_gaps *g, uint8_t s, uint32_t pos);

void hu_gaps_free(hu_gaps *g);

#endif
