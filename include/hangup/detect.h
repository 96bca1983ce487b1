/*
 * detect.h -- the keep-alive race's state machine.
 *
 * Fed every tracked packet after flow.c has updated the connection, it
 * finds the core incident (docs/DESIGN.md §2.4): the side that closes
 * first (P) sends a FIN; the other side (C) sends payload whose first byte
 * P's FIN did not acknowledge (before or after the FIN in capture order,
 * so both vantages work); P's host answers with RST.  It is a keep-alive
 * race when P is the server.
 */
#ifndef HANGUP_DETECT_H
#define HANGUP_DETECT_H

#include "hangup/flow.h"
#include "hangup/incident.h"

/* Copies of the packets a race will name, allocated once a connection
 * gets that far (most never do). */
typedef struct hu_detect_pkts {
    hu_pktsum fin, req;       /* P's first FIN, the late request */
} hu_detect_pkts;

/* The state machine's states (detect.c); zero is idle. */
enum { HU_DET_IDLE = 0, HU_DET_FIN, HU_DET_LATE, HU_DET_DONE };

/* This layer's state for one connection: zeroed at creation (idle),
 * owned by the connection object, written only here; free its copies
 * with hu_detect_conn_free. */
typedef struct hu_detect_conn {
    uint8_t state;
    uint8_t fin_side;         /* the side that closed first (peer P) */
    bool emitted;             /* an incident was reported */
    bool req_acked;           /* P acknowledged late-request bytes */
    int64_t fin_idle_us;      /* FIN time - P's last payload before it, or -1 */
    int64_t req_idle_us;      /* request time - last payload before it, or -1 */
    hu_detect_pkts *pk;       /* NULL until a FIN is seen */
} hu_detect_conn;

typedef struct hu_detect {
    hu_incident_fn emit;
    void *arg;
    uint64_t incidents;
} hu_detect;

/* The questions other stages ask, inline: they are asked of every packet.
 *
 * Waiting: the connection's ring and request window are still needed (a
 * late request was seen after the server's FIN, and its RST may yet
 * come; only a server's FIN can end in a keep-alive race).  Reported: the
 * race was reported.  Claimed: reported or waiting, so the family's
 * detectors leave the connection alone. */
static inline bool hu_detect_waiting(const hu_flow *f, const hu_detect_conn *dc)
{
    return dc->state == HU_DET_LATE && dc->fin_side != f->client;
}
static inline bool hu_detect_reported(const hu_detect_conn *dc) { return dc->emitted; }
static inline bool hu_detect_claimed(const hu_flow *f, const hu_detect_conn *dc)
{
    return dc->emitted || hu_detect_waiting(f, dc);
}

/* Run the state machine on packet p, sent by side s of flow f (already
 * tracked; dc is f's state here).  Calls d->emit at most once per
 * connection, on the RST, with the incident's detector facts (the
 * pipeline adds the HTTP story and the reassembly path). */
void hu_detect_packet(hu_detect *d, const hu_flow *f, hu_detect_conn *dc, uint8_t s,
                      const hu_pkt *p);

/* Start loading dc's packet copies, which the next packet may write. */
static inline void hu_detect_prefetch(const hu_detect_conn *dc)
{
    if (dc->pk)
        __builtin_prefetch(dc->pk, 1, 3);
}

/* Free dc's packet copies (the connection is finished). */
void hu_detect_conn_free(hu_detect_conn *dc);
/* The connection is closed (an RST, or both FINs) and no race waits on it
 * (!hu_detect_waiting): nothing the detector could still find there needs
 * its copies, so they are freed and the detector is done with it. */
void hu_detect_compact(hu_detect_conn *dc);

#endif
