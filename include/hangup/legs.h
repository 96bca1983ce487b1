/*
 * legs.h -- a proxy's two legs in one capture: the user's request on the
 * downstream connection linked to the incident on the upstream one, and
 * what the user got.
 *
 * At a proxy host (tcpdump -i any on the nginx or HAProxy box) one
 * capture holds both connections of a proxied request: user -> proxy and
 * proxy -> target.  When the upstream connection races (or fails another
 * way), the question is what the user saw: the proxy retried it on a new
 * upstream connection, answered 502, or closed the user's connection.
 * Every request head of the capture goes into a short ring; an incident
 * looks there for the downstream request it carried -- the same method
 * and target, on another connection to another server, at most
 * HU_LEGS_WINDOW_US before the upstream request -- and is linked only
 * when exactly one fits (more: ambiguous, said so, not linked).  While
 * the record waits for its retry window (retry.h), the downstream
 * connection's response head or close, and the proxy's retry upstream,
 * fill in the outcome.  docs/DESIGN.md §2.11.
 */
#ifndef HANGUP_LEGS_H
#define HANGUP_LEGS_H

#include <stdint.h>
#include "hangup/flow.h"
#include "hangup/http.h"
#include "hangup/incident.h"

#define HU_LEGS_WINDOW_US (2LL * 1000000)   /* downstream request to upstream one */
#define HU_LEGS_RING 2048                   /* request heads, and response heads
                                               and closes, remembered */
#define HU_LEGS_WATCH 256                   /* records followed at once */

typedef struct hu_legs hu_legs;

/* NULL on OOM. */
hu_legs *hu_legs_new(void);
void hu_legs_free(hu_legs *l);

/* Request head m on flow f, its packet num at time ts: remembered, and
 * checked as a retry of a followed record's upstream request. */
void hu_legs_request(hu_legs *l, const hu_flow *f, const hu_http_msg *m, uint64_t num,
                     int64_t ts);
/* Response head m on flow f (packet num, time ts), and a FIN or RST from
 * side `side` of flow f: remembered (a proxy may answer its user before
 * the upstream incident is found), and the outcome of a followed record
 * whose downstream connection f is -- the first response or the proxy's
 * close after the user's request, unless the user closed first. */
void hu_legs_response(hu_legs *l, const hu_flow *f, const hu_http_msg *m, uint64_t num,
                      int64_t ts);
void hu_legs_close(hu_legs *l, const hu_flow *f, uint8_t side, uint64_t num, int64_t ts);

/* A new record: fill rec->ds from the remembered requests, and follow
 * rec (borrowed until hu_legs_release) when linked.  A record on the
 * downstream connection of a linked one, proven at or after the user's
 * request there (the proxy closing the user's connection, or answering it
 * 502/503/504, is an incident of its own), gets that one's number as its
 * `cause`, whichever of the two comes first. */
void hu_legs_incident(hu_legs *l, hu_incident_rec *rec);
/* rec leaves (its retry window closed): stop following it. */
void hu_legs_release(hu_legs *l, hu_incident_rec *rec);

#endif
