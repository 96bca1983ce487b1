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

/* One packet of an incident's timeline. */
typedef struct hu_tl_entry {
    uint64_t num;
    int64_t ts_us;
    bool from_client;
    uint8_t flags;               /* HU_TH_* */
    uint32_t seq, ack;           /* as printed (relative or absolute) */
    uint32_t len;                /* payload length */
    uint64_t omitted_before;     /* packets of the connection not shown before it */
    char *line;                  /* exactly tcpdump -n's line, owned */
    char *note;                  /* annotation ("server FIN: ..."), owned, or NULL */
} hu_tl_entry;

typedef struct hu_incident_rec {
    const char *kind;
    hu_kind kindid;
    hu_verdict verdict;          /* keep-alive races */
    const char *file;            /* borrowed (outlives the run), or file_owned */
    char *file_owned;            /* set for records loaded from the store */
    uint8_t ipver;
    uint8_t cli_addr[16], srv_addr[16];
    uint16_t cli_port, srv_port;
    uint64_t conn_id;            /* the connection's number in its file */
    hu_pktref fin, req, rst;     /* num 0: none (the kind has no such packet) */
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
    /* The other kinds' facts (-1 / "" when they do not apply). */
    int64_t wait_us;
    char close[4], abort[4];
    const char *timeout_hint;    /* static string or NULL */
    bool late_response_rst;
    int64_t late_response_packet;
    int tries;
    int64_t spent_us;
    int64_t expected_bytes, received_bytes;
    uint64_t number;             /* the incident's number in its capture, from 1 */
    hu_tl_entry *timeline;       /* owned; ntimeline entries */
    size_t ntimeline;
} hu_incident_rec;

/* Build a record from a detector incident, timeline included; NULL on
 * OOM.  `number` is its number in the capture. */
hu_incident_rec *hu_incident_rec_new(const hu_incident *inc, const char *file, uint64_t number);
void hu_incident_rec_free(hu_incident_rec *r);

/* Append the human explanation and timeline of rec, exactly as `analyze`
 * prints it (show prints stored incidents through this too). */
struct hu_sb;
void hu_incident_render(struct hu_sb *sb, const hu_incident_rec *rec, bool timeline);

const char *hu_reasm_name(uint8_t reasm);

#endif
