/*
 * storeq.h -- rows written to SQLite on a thread of their own (private to
 * the store: store.c starts and stops it; nothing else sees it).
 *
 * A capture stores a row for every connection that ended in an idle close
 * or an incident: thousands per million packets, each an INSERT into a
 * table and two indexes.  The analysis thread only queues the row; a
 * writer thread hands it to the owner's write function inside the
 * capture's open transaction.  The owner's own statements go through
 * hu_storeq_lock/unlock, so SQLite never sees two threads at once.  Rows
 * are written in the order they were queued.
 *
 * The queue knows rows only by their size, so it depends on nothing of
 * the store's.
 */
#ifndef HANGUP_STOREQ_H
#define HANGUP_STOREQ_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hu_storeq hu_storeq;

/* Write one queued row (called on the writer thread, holding the lock).
 * False, with one line in err, when it could not be written. */
typedef bool (*hu_storeq_write_fn)(void *arg, const void *row, char *err, size_t errlen);

/* Start a writer for rows of row_size bytes, each passed to write(arg,
 * ...).  NULL when no thread (or memory) can be had: the owner then
 * writes rows itself. */
hu_storeq *hu_storeq_start(size_t row_size, hu_storeq_write_fn write, void *arg);

/* Queue a copy of row.  Blocks only when a very long queue (a stalled
 * disk) has built up.  False once a write has failed (hu_storeq_failed
 * says why). */
bool hu_storeq_push(hu_storeq *q, const void *row);

/* Exclusive use of what the rows are written to, for the owner's own
 * writes.  With q NULL (no writer) these and hu_storeq_sync do nothing. */
void hu_storeq_lock(hu_storeq *q);
void hu_storeq_unlock(hu_storeq *q);

/* Return once every row queued so far is written (or a write failed). */
void hu_storeq_sync(hu_storeq *q);

/* True, with the reason in err, once a write has failed.  The writer
 * records a failure before it lets go of the lock, so an owner holding
 * the lock that finds no failure here knows any failure of its own came
 * first.  NULL: false. */
bool hu_storeq_failed(hu_storeq *q, char *err, size_t errlen);

/* Write what is queued, stop the writer and free q (NULL is a no-op).
 * False, with the reason in err, if any write failed (rows after the
 * failure were dropped). */
bool hu_storeq_finish(hu_storeq *q, char *err, size_t errlen);

/* Drop what is queued, stop the writer and free q (NULL is a no-op).  On
 * return nothing is being written: the owner may roll back. */
void hu_storeq_cancel(hu_storeq *q);

#endif
