/*
 * wcap.h -- `-w FILE`: the incidents' connections written as one pcapng.
 *
 * Each connection keeps its most recent raw frames (a small ring, bounded
 * in frames and bytes) while -w is on.  When an incident is reported, the
 * frames its connection's ring holds are handed to the writer, with the
 * incident's one-line explanation for the packets it names; they leave
 * the ring, so a second incident on the connection adds only newer frames
 * and no packet is written twice.
 *
 * The file is pcapng (docs/DESIGN.md §3.6): one Section Header Block, one
 * Interface Description Block per capture (and link type) that gave an
 * incident, so captures of different link types share the file, and the
 * packets in time order across every incident and capture, each
 * explanation a packet comment.  Time order means holding packets until
 * nothing can still come before them: to the end for files (a later file
 * may be older), and for live capture until no connection's ring holds an
 * older frame (hu_wcap_flush).  Held frame bytes beyond a memory budget
 * wait in an unlinked temporary file.
 */
#ifndef HANGUP_WCAP_H
#define HANGUP_WCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "hangup/capture.h"

typedef struct hu_wcap hu_wcap;
typedef struct hu_wcap_ring hu_wcap_ring;

/* Frame bytes held in memory by default; the rest wait in a temporary
 * file (hu_wcap_set_memory). */
#define HU_WCAP_MEMORY (64u * 1024 * 1024)
/* Live capture: packets held this much behind the newest frame seen, for
 * frames the kernel stamps slightly out of order. */
#define HU_WCAP_LIVE_SLACK_US 1000000

/* The writer for `path` (borrowed), the file created now (truncated if it
 * exists), as tcpdump -w does, so nothing is read when it cannot be;
 * later errors go to err as "<progname>: -w <path>: ...", once.  NULL,
 * with the reason in why, when the file cannot be created or on OOM. */
hu_wcap *hu_wcap_new(const char *path, FILE *err, const char *progname, char *why, size_t n);
/* Hold at most `bytes` of frame data in memory (tests make it small). */
void hu_wcap_set_memory(hu_wcap *w, size_t bytes);
/* Write every held packet in time order, end the file (without any
 * incident: a header and one interface, the first capture's) and free w;
 * every ring must have been freed before.  false when the file is not
 * complete (reported).  NULL is a no-op (true). */
bool hu_wcap_free(hu_wcap *w);

/* A capture begins: `source` (copied) is its file name or interface;
 * dlt its link type when known (live: the file's header and the
 * interface's block are written now, so the file is valid at once),
 * else -1. */
void hu_wcap_begin(hu_wcap *w, const char *source, bool live, int dlt);
/* The current capture's link type once read (dlt < 0: none): the
 * interface of a file without incidents is the first capture's. */
void hu_wcap_note_dlt(hu_wcap *w, int dlt);

/* Keep a copy of frame fr in *ring (allocated on first use and known to
 * w until hu_wcap_ring_free), dropping the oldest frames to stay within
 * the bounds.  Out of memory: the frame is not kept. */
void hu_wcap_keep(hu_wcap *w, hu_wcap_ring **ring, const hu_frame *fr);
/* Free a ring (NULL is a no-op). */
void hu_wcap_ring_free(hu_wcap *w, hu_wcap_ring *ring);

/* An incident's explanation and the packets (numbers in the current
 * capture, 0: none) it goes on: its request, FIN, RST and response. */
#define HU_WCAP_NOTE_PACKETS 4
typedef struct hu_wcap_note {
    uint64_t packets[HU_WCAP_NOTE_PACKETS];
    const char *text;         /* one line; copied */
} hu_wcap_note;

/* Hand ring's frames (of the current capture, link type dlt) to the file
 * and empty the ring.  The note (may be NULL) becomes a comment on each
 * named packet that is in the file or held for it (an earlier incident's
 * too); when none is, on the newest frame handed.  After a write failure
 * (reported once) nothing more is written. */
void hu_wcap_write(hu_wcap *w, hu_wcap_ring *ring, int dlt, const hu_wcap_note *note);

/* Live capture: write, in time order, every held packet that nothing can
 * still come before (older than every frame any ring holds, and than the
 * newest frame kept minus HU_WCAP_LIVE_SLACK_US), and flush the file. */
void hu_wcap_flush(hu_wcap *w);

#endif
