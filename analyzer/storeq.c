/*
 * storeq.c -- rows written on a thread of their own (see storeq.h for the
 * contract).
 *
 * On the 1M-packet bench capture the connection rows cost the analysis
 * thread 0.05 s, nearly a tenth of its time, while the reader thread sat
 * idle a third of it.  So the analysis thread appends rows to a queue and
 * a writer thread takes the whole queue at a time and writes it holding
 * the store lock.  Two locks, never held together by the analysis thread:
 * `mu` guards the queue (held for an append), `store_mu` what the rows are
 * written to (held by the writer for a whole take, by the owner for its
 * own writes).  The writer is woken when the queue reaches WAKE_ROWS, on
 * sync and at the end, not per row.
 */
#include "storeq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAKE_ROWS 64          /* rows queued before the writer is woken */
#define MAX_ROWS (1u << 16)   /* the queue's bound: the producer waits beyond it */

struct hu_storeq {
    size_t row_size;
    hu_storeq_write_fn write;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu;       /* everything below but the store */
    pthread_cond_t work;      /* rows to write, a sync or the end */
    pthread_cond_t idle;      /* the writer emptied the queue */
    pthread_mutex_t store_mu;
    unsigned char *rows;      /* n rows of row_size bytes, oldest first */
    size_t n, cap;
    bool writing;             /* the writer holds rows taken from the queue */
    bool stop;
    bool failed;
    char err[1024];
};

/* Write the rows taken from the queue, holding the store; a failure is
 * recorded before the store is let go. */
static void write_rows(hu_storeq *q, const unsigned char *rows, size_t n)
{
    char err[sizeof q->err] = "";
    bool ok = true;
    pthread_mutex_lock(&q->store_mu);
    for (size_t i = 0; i < n && ok; i++)
        ok = q->write(q->arg, rows + i * q->row_size, err, sizeof err);
    if (!ok) {
        pthread_mutex_lock(&q->mu);
        q->failed = true;
        snprintf(q->err, sizeof q->err, "%s", err);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_unlock(&q->store_mu);
}

static void *writer(void *arg)
{
    pthread_setname_np(pthread_self(), "hangup-store");   /* for top -H and perf */
    hu_storeq *q = arg;
    unsigned char *mine = NULL;
    size_t mine_cap = 0;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (q->n == 0 && !q->stop) {
            pthread_cond_broadcast(&q->idle);
            pthread_cond_wait(&q->work, &q->mu);
        }
        if (q->n == 0 && q->stop)
            break;
        /* Take the whole queue: swap buffers, so the producer appends to
         * an empty one while these rows are written. */
        unsigned char *take = q->rows;
        size_t ntake = q->n, take_cap = q->cap;
        q->rows = mine;
        q->cap = mine_cap;
        q->n = 0;
        q->writing = true;
        bool failed = q->failed;
        pthread_mutex_unlock(&q->mu);

        if (!failed)
            write_rows(q, take, ntake);
        mine = take;
        mine_cap = take_cap;

        pthread_mutex_lock(&q->mu);
        q->writing = false;
    }
    pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->mu);
    free(mine);
    return NULL;
}

hu_storeq *hu_storeq_start(size_t row_size, hu_storeq_write_fn write, void *arg)
{
    hu_storeq *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->row_size = row_size;
    q->write = write;
    q->arg = arg;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->store_mu, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->idle, NULL);
    if (pthread_create(&q->thread, NULL, writer, q) != 0) {
        pthread_cond_destroy(&q->idle);
        pthread_cond_destroy(&q->work);
        pthread_mutex_destroy(&q->store_mu);
        pthread_mutex_destroy(&q->mu);
        free(q);
        return NULL;
    }
    return q;
}

bool hu_storeq_push(hu_storeq *q, const void *row)
{
    pthread_mutex_lock(&q->mu);
    while (q->n >= MAX_ROWS && !q->failed) {
        pthread_cond_signal(&q->work);
        pthread_cond_wait(&q->idle, &q->mu);
    }
    bool ok = !q->failed;
    if (ok && q->n == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 256;
        unsigned char *nr = realloc(q->rows, ncap * q->row_size);
        if (!nr) {
            q->failed = true;
            snprintf(q->err, sizeof q->err, "storing a connection: out of memory");
            ok = false;
        } else {
            q->rows = nr;
            q->cap = ncap;
        }
    }
    if (ok) {
        memcpy(q->rows + q->n++ * q->row_size, row, q->row_size);
        if (q->n == WAKE_ROWS)
            pthread_cond_signal(&q->work);
    }
    pthread_mutex_unlock(&q->mu);
    return ok;
}

void hu_storeq_lock(hu_storeq *q)
{
    if (q)
        pthread_mutex_lock(&q->store_mu);
}

void hu_storeq_unlock(hu_storeq *q)
{
    if (q)
        pthread_mutex_unlock(&q->store_mu);
}

void hu_storeq_sync(hu_storeq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->mu);
    while ((q->n || q->writing) && !q->failed) {
        pthread_cond_signal(&q->work);
        pthread_cond_wait(&q->idle, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
}

bool hu_storeq_failed(hu_storeq *q, char *err, size_t errlen)
{
    if (!q)
        return false;
    pthread_mutex_lock(&q->mu);
    bool failed = q->failed;
    if (failed)
        snprintf(err, errlen, "%s", q->err);
    pthread_mutex_unlock(&q->mu);
    return failed;
}

/* Stop the writer once the queue is empty (drop: empty it now) and free
 * q; false, with the reason in err (when given), if a write failed. */
static bool stop(hu_storeq *q, bool drop, char *err, size_t errlen)
{
    pthread_mutex_lock(&q->mu);
    if (drop)
        q->n = 0;
    q->stop = true;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    bool ok = !q->failed;
    if (!ok && err)
        snprintf(err, errlen, "%s", q->err);
    pthread_cond_destroy(&q->idle);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->store_mu);
    pthread_mutex_destroy(&q->mu);
    free(q->rows);
    free(q);
    return ok;
}

bool hu_storeq_finish(hu_storeq *q, char *err, size_t errlen)
{
    return !q || stop(q, false, err, errlen);
}

void hu_storeq_cancel(hu_storeq *q)
{
    if (q)
        stop(q, true, NULL, 0);
}
