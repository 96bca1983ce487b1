/*
 * retry.h -- incidents held for their retry window, and retry matching.
 *
 * A client that retries a lost request on a new connection does so after
 * the RST, so an incident is held until HU_RETRY_WINDOW_US of capture
 * time have passed after it (or the capture ends), and every request
 * head seen meanwhile is matched against the held incidents: the same
 * client address, server endpoint, method and target on another
 * connection marks the incident retried (docs/DESIGN.md §2.9).  Records
 * leave in the order they came, through the done callback.  The queue is
 * bounded; beyond HU_RETRY_MAX the oldest leaves early.
 */
#ifndef HANGUP_RETRY_H
#define HANGUP_RETRY_H

#include <stddef.h>
#include <stdint.h>
#include "hangup/flow.h"
#include "hangup/http.h"
#include "hangup/incident.h"

#define HU_RETRY_WINDOW_US (10LL * 1000000)
#define HU_RETRY_MAX 65536

/* A record whose wait is over; the callee takes ownership. */
typedef void (*hu_retry_done_fn)(void *arg, hu_incident_rec *rec);

typedef struct hu_retry hu_retry;

/* hold false: every record leaves at once (live capture: a user waits
 * for it).  NULL on OOM. */
hu_retry *hu_retry_new(bool hold, hu_retry_done_fn done, void *arg);
/* Frees records still held without handing them out (use
 * hu_retry_flush first to keep them). */
void hu_retry_free(hu_retry *q);

/* Take rec (owned from now on).  Held, or handed out at once when not
 * holding or when no memory is left to hold it. */
void hu_retry_add(hu_retry *q, hu_incident_rec *rec);
/* Capture time is now `now`: hand out the records whose window closed.
 * Returns the time after which the next held record's window closes
 * (INT64_MAX: none held), so the caller need not call again before. */
int64_t hu_retry_advance(hu_retry *q, int64_t now);
/* That time as it stands (after hu_retry_add). */
int64_t hu_retry_due(const hu_retry *q);
/* Request head m on connection f: a retry of a held incident's request? */
void hu_retry_request(hu_retry *q, const hu_flow *f, const hu_http_msg *m);
/* Hand out every held record (the capture ended). */
void hu_retry_flush(hu_retry *q);

#endif
