/*
 * family.h -- the rest of the socket-hang-up family: the causes other
 * than the keep-alive race that a capture can prove (docs/DESIGN.md §2.6).
 */
#ifndef HANGUP_FAMILY_H
#define HANGUP_FAMILY_H

#include "hangup/detect.h"
#include "hangup/flow.h"

typedef struct hu_family {
    hu_incident_fn emit;
    void *arg;
} hu_family;

/* After reassembly and the HTTP layer have seen packet p (side s of f). */
void hu_family_packet(hu_family *fm, hu_flow *f, uint8_t s, const hu_pkt *p);

/* f is being released (or the capture ends): report what only the end
 * can prove (connect-timeout, client-abort). */
void hu_family_release(hu_family *fm, hu_flow *f);

/* True while a pending incident still needs f's ring (do not compact). */
bool hu_family_waiting(const hu_flow *f);

#endif
