/*
 * capture.h -- reading capture files: libpcap opens them, and reads
 * pcapng; capture.c reads classic pcap records itself, as libpcap would.
 * Files compressed with gzip, zstd or xz are read through zfile.h.
 */
#ifndef HANGUP_CAPTURE_H
#define HANGUP_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One frame as libpcap would hand it over; data is valid during the call. */
typedef struct hu_frame {
    uint64_t num;             /* 1-based position in the file, plus
                                 hu_capture_cbs.num_base */
    int64_t ts_us;
    uint32_t caplen, wirelen;
    const uint8_t *data;
    const char *bad;          /* non-NULL: unusable (why), skip it */
    const void *prep;         /* what hu_capture_cbs.prep made of it, or NULL */
} hu_frame;

typedef void (*hu_frame_fn)(void *arg, int dlt, const hu_frame *fr);

/* Progress of a file being read: bytes read so far of total.  Called
 * every HU_PROGRESS_FRAMES frames (never per frame: it costs a syscall). */
typedef void (*hu_progress_fn)(void *arg, uint64_t bytes, uint64_t total, uint64_t frames);
#define HU_PROGRESS_FRAMES 65536

typedef struct hu_progress {
    hu_progress_fn fn;
    void *arg;
} hu_progress;

typedef enum hu_capture_rc {
    HU_CAP_OK = 0,            /* read to the end */
    HU_CAP_PARTIAL,           /* stopped early (truncated or corrupt file): the
                                 frames before were delivered, err says where */
    HU_CAP_FAILED,            /* nothing read: cannot open, unsupported link type */
    HU_CAP_BADFILTER,         /* the BPF expression does not compile */
} hu_capture_rc;

/* What was read: the link type, and the identity of the packets. */
typedef struct hu_capture_info {
    int dlt;
    char link_name[64];       /* "EN10MB", "LINUX_SLL2", ... */
    uint64_t frames;          /* frames delivered (after the filter) */
    int64_t first_us, last_us;
    char hash[33];            /* 128-bit hex hash of every frame read (time,
                                 lengths, every byte), before the filter:
                                 the same packets give the same hash whatever
                                 the file's name, format or filter */
    uint64_t taken;           /* frames that passed the filter, unusable ones
                                 included (what cbs.limit counts) */
    bool limited;             /* reading stopped at cbs.limit: the hash covers
                                 the frames up to there only */
    uint64_t records;         /* records read, before the filter: the file's
                                 last packet number once read whole (with
                                 start_records: those included) */
    uint64_t next_offset;     /* a classic pcap file read to its end by the
                                 direct reader: the offset after its last
                                 whole record (where cbs.start_offset may take
                                 it up later); 0 when not known */
} hu_capture_info;

/* How far ahead of fn the ahead callback runs, in frames. */
#define HU_AHEAD_FRAMES 8

/*
 * Work done for each frame on the reader thread, while the caller's thread
 * analyses earlier frames: it must depend on the frame alone (and on arg,
 * which only the reader thread touches).  It fills `size` bytes at out,
 * which the frame then carries as hu_frame.prep.
 */
typedef void (*hu_prep_fn)(void *arg, int dlt, const hu_frame *fr, void *out);

typedef struct hu_capture_cbs {
    hu_frame_fn frame;        /* every frame, in file order (required) */
    /* Optional: each frame once, up to HU_AHEAD_FRAMES frames before
     * `frame` gets it (fewer at the start of each internal batch), in the
     * same order and with its data valid until `frame` has had it.  For
     * prefetching and caching only: frame's state may change in between. */
    hu_frame_fn ahead;
    void *arg;                /* for frame and ahead */
    const hu_progress *progress;   /* may be NULL */
    hu_prep_fn prep;          /* optional */
    void *prep_arg;
    size_t prep_size;
    uint64_t limit;           /* stop reading once this many frames have passed
                                 the filter, as tcpdump -c (0: read them all) */
    uint64_t num_base;        /* added to every frame's number: the packets of
                                 the files before this one in a set read as one
                                 capture (fileset.h); 0 for a file on its own.
                                 Error messages keep the file's own numbers. */
    /* Reading part of a file (a directory watcher, watch.h): the first
     * start_records records are not delivered, nor hashed.  With
     * start_offset (> 0: the byte offset where record start_records + 1
     * begins, as info->next_offset said) a classic pcap file is read from
     * there without reading them; without it they are read and skipped
     * (any file, compressed ones too).  A start_offset the direct reader
     * cannot take (not a plain classic pcap file) is HU_CAP_FAILED. */
    uint64_t start_records;
    uint64_t start_offset;
    bool growing;             /* the file is still being written: a last record
                                 cut short by its end is left unread, not an
                                 error (info->next_offset is where it starts) */
} hu_capture_cbs;

/*
 * Read every frame of the pcap or pcapng file at path ("-": standard
 * input; libpcap detects which format), plain or compressed with gzip,
 * zstd or xz (told by content, decompressed as it is read), apply the BPF filter when non-NULL, and call cb->frame for each
 * frame that passes, in file order, on the calling thread (the file itself
 * is read on a second thread).  On any rc but HU_CAP_OK, err receives one
 * line (without the file name) saying what was wrong and where.  *info is
 * filled in either way (info may be NULL).
 */
hu_capture_rc hu_capture_file(const char *path, const char *filter, const hu_capture_cbs *cb,
                              hu_capture_info *info, char *err, size_t errlen);

/* What hu_capture_probe learns of a file without analysing it: enough to
 * tell whether it continues another (fileset.h). */
typedef struct hu_capture_probe {
    int dlt;
    int snaplen;
    char iface[64];           /* pcapng: the first interface's if_name, else "" */
    uint64_t frames;          /* frames with a usable timestamp (all when to_end,
                                 else at most 1) */
    int64_t first_us, last_us;   /* of those frames; 0 when frames is 0 */
} hu_capture_probe;

/* Open path as hu_capture_file would and read its header and first frame
 * (to_end: every frame, for the last timestamp).  each, when not NULL, is
 * called with every frame read that has a usable timestamp (on this
 * thread, no prep; arg is its argument).  False with err set when it
 * cannot be opened or its link type is not supported; a read error after
 * the first frame only ends the scan. */
bool hu_capture_probe_file(const char *path, bool to_end, hu_frame_fn each, void *arg,
                           hu_capture_probe *pr, char *err, size_t errlen);

/* "EN10MB (Ethernet)" style name of a DLT for messages. */
void hu_capture_dlt_name(int dlt, char *buf, size_t n);

/* The libpcap hangup runs with, as it names itself (pcap_lib_version():
 * "libpcap version 1.10.3 (with TPACKET_V3)"); a static string. */
const char *hu_capture_lib_version(void);

#endif
