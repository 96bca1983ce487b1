/*
 * fileset.h -- files read as one capture: a rotated set (tcpdump -C, -G)
 * whose files continue each other, and the table that names each packet
 * of such a capture by its file and its number in that file.
 *
 * Inside a capture the pipeline numbers packets continuously over its
 * files (file k's packet n is the capture's packet base_k + n); the table
 * turns such a number back into (file, n) when it is shown or stored.
 * Which files continue which is decided here (hu_fileset_plan) from what
 * hu_capture_probe_file reads: docs/DESIGN.md §3.8.
 */
#ifndef HANGUP_FILESET_H
#define HANGUP_FILESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/capture.h"

typedef struct hu_fileset hu_fileset;

/* An empty table; NULL when out of memory. */
hu_fileset *hu_fileset_new(void);
void hu_fileset_free(hu_fileset *fs);
/* Forget every file (a new capture begins). */
void hu_fileset_clear(hu_fileset *fs);

/* The capture's next file: its packets are numbered base + 1, base + 2, ...
 * in the capture; base is at least the previous file's.  The path is
 * copied.  False when out of memory. */
bool hu_fileset_add(hu_fileset *fs, const char *path, uint64_t base);
size_t hu_fileset_count(const hu_fileset *fs);
/* File i (in the order added) and its base. */
const char *hu_fileset_path(const hu_fileset *fs, size_t i);
uint64_t hu_fileset_base(const hu_fileset *fs, size_t i);

/* The file holding the capture's packet num, and num's number in it
 * (*local); NULL (and *local = num) when the table is empty.  A number
 * below the first file's base + 1 is named by the first file. */
const char *hu_fileset_name(const hu_fileset *fs, uint64_t num, uint64_t *local);

/* How files given together become captures. */
typedef enum hu_fileset_mode {
    HU_FILESET_AUTO = 0,      /* join a file to the one it continues, on evidence */
    HU_FILESET_SEPARATE,      /* every file a capture of its own (--separate) */
    HU_FILESET_JOIN,          /* join on the time rule alone (--join) */
} hu_fileset_mode;

/*
 * Which of the n files given together are read as one capture.  Every
 * file is probed for its first packet and taken in that order; a file
 * may continue a set when it has the link type, snapshot length and
 * interface name of the set's last file and its first packet is at or
 * after that file's last one (hu_fileset_continues).  It does continue
 * it (HU_FILESET_AUTO) when a TCP connection of that last file goes on
 * in it: a packet of the same direction of a conversation, its sequence
 * number within 1 MiB of where that direction had got to -- which no two
 * unrelated captures show.  HU_FILESET_JOIN takes the time rule alone;
 * HU_FILESET_SEPARATE joins nothing.  Of several sets a file continues,
 * it continues the one that ended last (two vantages rotated side by
 * side: up to 8 sets are followed at once).  Files that overlap in time
 * (two vantages), cannot be probed, or hold no packet are captures of
 * their own.  Each set lists its files in time order; sets come in the
 * order of their earliest file on the command line, so files that join
 * nothing keep the command line's order.  sets[k] is an array of
 * set_len[k] indexes into paths; *nsets of them.  False when out of
 * memory.  Free with hu_fileset_plan_free.  Every file but those of
 * HU_FILESET_SEPARATE (or a single file) is read here once whole.
 */
typedef struct hu_fileset_plan {
    size_t nsets;
    size_t *set_len;
    size_t **sets;
} hu_fileset_plan;
bool hu_fileset_plan_make(char *const *paths, size_t n, hu_fileset_mode mode,
                          hu_fileset_plan *plan);
void hu_fileset_plan_free(hu_fileset_plan *plan);

/* Whether a file probed as `next` may continue one probed as `prev`: the
 * time, link type, snapshot length and interface rule above (what a
 * directory watcher, whose files are one tcpdump's, asks of each). */
bool hu_fileset_continues(const hu_capture_probe *prev, const hu_capture_probe *next);

#endif
