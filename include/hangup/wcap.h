/*
 * wcap.h -- `-w FILE`: the incidents' connections written as a pcap.
 *
 * Each connection keeps its most recent raw frames (a small ring, bounded
 * in frames and bytes) while -w is on; when an incident is reported, its
 * connection's frames are appended to the output file, so the user can
 * open just the incidents in Wireshark.  The file is opened with the link
 * type of the first capture (at the first incident, or at once for live
 * capture, before privileges are dropped); frames of a capture with
 * another link type cannot go into it and are refused with one line.
 */
#ifndef HANGUP_WCAP_H
#define HANGUP_WCAP_H

#include <stdbool.h>
#include <stdio.h>
#include "hangup/capture.h"

typedef struct hu_wcap hu_wcap;
typedef struct hu_wcap_ring hu_wcap_ring;

/* The writer for `path` (borrowed), the file created now (truncated if it
 * exists); later errors go to err as "<progname>: -w <path>: ...".  NULL,
 * with the reason in why, when the file cannot be created or on OOM. */
hu_wcap *hu_wcap_new(const char *path, FILE *err, const char *progname, char *why, size_t n);
/* Ends the file (an empty capture if nothing was written) and frees w;
 * false when the file is not complete (a failure was or is reported).
 * NULL is a no-op (true). */
bool hu_wcap_free(hu_wcap *w);

/* A capture of link type dlt was read: the empty file's link type, when
 * no incident opens it first. */
void hu_wcap_note_dlt(hu_wcap *w, int dlt);

/* Open the file now for link type dlt, if it is not open and has not
 * failed; false (one line printed) when it cannot be. */
bool hu_wcap_open(hu_wcap *w, int dlt);

/* Keep a copy of frame fr in *ring (allocated on first use), dropping the
 * oldest frames to stay within the bounds.  Out of memory: the frame is
 * not kept. */
void hu_wcap_keep(hu_wcap_ring **ring, const hu_frame *fr);
/* Free a ring (NULL is a no-op). */
void hu_wcap_ring_free(hu_wcap_ring *ring);

/* Append ring's frames (a connection of capture `source`, link type dlt)
 * to the file, opening it on first use.  After a failure (reported once)
 * nothing more is written. */
void hu_wcap_write(hu_wcap *w, const hu_wcap_ring *ring, int dlt, const char *source);

#endif
