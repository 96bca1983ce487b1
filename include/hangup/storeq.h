/*
 * storeq.h -- connection rows written to SQLite on a thread of their own.
 *
 * A capture stores a row for every connection that ended in an idle close
 * or an incident: thousands per million packets, each an INSERT into a
 * table and two indexes.  The analysis thread only queues the row; a
 * writer thread inserts it into the capture's open transaction.  Every
 * other use of the store while the writer runs goes through
 * hu_storeq_lock/unlock, so SQLite never sees two threads at once.
 * Rows are written in the order they were queued.
 */
#ifndef HANGUP_STOREQ_H
#define HANGUP_STOREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/store.h"

typedef struct hu_storeq hu_storeq;

/* Start a writer for capture capture_id of s (whose transaction is open).
 * NULL when no thread can be had: the caller then writes rows itself. */
hu_storeq *hu_storeq_start(hu_store *s, int64_t capture_id);

/* Queue a copy of row.  Blocks only when a very long queue (a stalled
 * disk) has built up.  False once a write has failed: the caller then
 * calls hu_storeq_finish to learn why. */
bool hu_storeq_connection(hu_storeq *q, const hu_conn_row *row);

/* Exclusive use of the store for the caller's own writes.  With q NULL
 * (no writer: the caller writes rows itself) these and hu_storeq_sync
 * do nothing. */
void hu_storeq_lock(hu_storeq *q);
void hu_storeq_unlock(hu_storeq *q);

/* Return once every row queued so far is written (or a write failed). */
void hu_storeq_sync(hu_storeq *q);

/* True, with the reason in err, once a write has failed.  The writer
 * records a failure before it lets go of the store, so a caller whose own
 * write fails after it (SQLite rolls a transaction back by itself on a
 * full disk) learns the first cause here.  NULL: false. */
bool hu_storeq_failed(hu_storeq *q, char *err, size_t errlen);

/* Write what is queued, stop the writer and free q (NULL is a no-op).
 * False, with the reason in err, if any write failed (rows after the
 * failure were dropped). */
bool hu_storeq_finish(hu_storeq *q, char *err, size_t errlen);

#endif
