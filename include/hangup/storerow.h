/*
 * storerow.h -- what the incident database is given, as plain values: a
 * capture's metadata and end, a connection's row, a file of a capture
 * read from several, a directory watcher's file.  Shared by the store
 * (store.h) and its backends (SQLite in store.c, PostgreSQL in
 * storepg.c), so that the backends need not include the store.
 */
#ifndef HANGUP_STOREROW_H
#define HANGUP_STOREROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HU_STORE_VERSION 15         /* schema version this hangup writes */

/* A capture being written: begin, add rows, end (commit) or abort. */
typedef struct hu_capture_meta {
    const char *source;       /* file path or interface */
    const char *kind;         /* "file" or "live" */
    const char *link_type;    /* "EN10MB", ..., or NULL until known */
    const char *filter;       /* the BPF filter it is analysed under, or NULL */
    const char *sensor;       /* the sensor analysing it (--sensor), or NULL */
    const char *spool_key;    /* a spool's key for it (spool.h), or NULL: a
                                 capture with a key is stored once per key */
} hu_capture_meta;

/* A connection worth keeping (it had an incident, or an idle close), as
 * plain values: rows are written after the connection is gone. */
typedef struct hu_conn_row {
    uint64_t number;          /* connection number in its capture */
    uint8_t ipver;
    uint8_t cli_addr[16], srv_addr[16];
    uint16_t cli_port, srv_port;
    int64_t first_ts, last_ts;
    uint64_t packets;
    bool handshake_seen;
    int64_t rtt_us;           /* -1 when unknown */
    const char *reassembly;   /* hu_reasm_name(): static */
    int64_t idle_close_us;    /* -1 when it did not end in an idle close */
    bool incident;
    uint32_t capture_gaps;    /* both directions' capture gaps (gaps.h) */
    uint64_t capture_gap_bytes;
    const char *one_sided;    /* "client"/"server" (static) or NULL */
} hu_conn_row;

/* One file of a capture read from several (fileset.h): its packets are
 * the capture's first_number to first_number + packets - 1. */
typedef struct hu_capture_file_row {
    const char *file;
    uint64_t first_number;    /* the capture's number of its packet 1 */
    uint64_t packets;         /* records in it (before the filter) */
    uint64_t frames;          /* those with a usable time: first_us, last_us
                                 are meaningless without one */
    int64_t first_us, last_us;
} hu_capture_file_row;

typedef struct hu_capture_end {
    const char *content_hash; /* hex; identifies the capture */
    int64_t first_us, last_us;
    uint64_t packets;
    bool complete;            /* read to the end */
    const char *link_type;    /* "EN10MB", ... */
    const hu_capture_file_row *files;   /* a capture of several files: each one
                                           (table capture_files), else NULL */
    size_t nfiles;
} hu_capture_end;

/* What a directory watcher (watch.h) has read of one file: the file is
 * known by head (a hash of its first bytes, hex), whatever its name;
 * `records` of it read, the next at byte `offset` (0: not known, skip
 * them by reading), `done` once read to its end. */
typedef struct hu_watch_row {
    const char *head, *name;
    uint64_t dev, ino, offset, records;
    bool done;
} hu_watch_row;

typedef bool (*hu_watch_row_fn)(void *arg, const hu_watch_row *r);

#endif
