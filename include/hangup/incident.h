/*
 * incident.h -- an incident as a self-contained record.
 *
 * The detector's hu_incident borrows from the live connection; a record
 * copies everything output and storage need (including the timeline,
 * rendered while the connection's ring still holds it), so it can wait
 * for its retry window to close after the connection is gone.
 */
#ifndef HANGUP_INCIDENT_H
#define HANGUP_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>
#include "hangup/detect.h"
#include "hangup/request.h"

typedef struct hu_pktref {
    uint64_t num;
    int64_t ts_us;
} hu_pktref;

typedef struct hu_incident_rec {
    const char *kind;
    hu_verdict verdict;
    const char *file;            /* borrowed: outlives the run */
    uint8_t ipver;
    uint8_t cli_addr[16], srv_addr[16];
    uint16_t cli_port, srv_port;
    uint64_t conn_id;            /* the connection's number in its file */
    hu_pktref fin, req, rst;
    int64_t gap_us, rtt_us;
    bool rst_ack, handshake_seen, server_acked, safe_to_retry;
    hu_request request;
    int64_t requests_before, idle_us, server_idle_close_us;
    bool close_announced;
    int keepalive_hint_s;
    char sni[256];               /* "" when none */
    uint8_t reasm;
    bool retried;
    int64_t retry_delay_us;      /* -1 when not retried */
    char *timeline;              /* rendered tcpdump timeline, owned (NULL: none) */
} hu_incident_rec;

/* Build a record from a detector incident; NULL on OOM.  The timeline is
 * rendered when `timeline` is true. */
hu_incident_rec *hu_incident_rec_new(const hu_incident *inc, const char *file, bool timeline);
void hu_incident_rec_free(hu_incident_rec *r);

const char *hu_reasm_name(uint8_t reasm);

#endif
