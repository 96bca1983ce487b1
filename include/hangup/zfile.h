/*
 * zfile.h -- capture files that may be compressed: gzip, zstd or xz,
 * recognised by their first bytes (never by name) and decompressed as
 * they are read, through zlib, libzstd and liblzma.
 */
#ifndef HANGUP_ZFILE_H
#define HANGUP_ZFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum hu_zkind {
    HU_Z_NONE = 0,            /* not compressed */
    HU_Z_GZIP,
    HU_Z_ZSTD,
    HU_Z_XZ,
} hu_zkind;

/* What a stream opened by hu_zfile_open is, and how far it has got. */
typedef struct hu_zfile hu_zfile;

/*
 * Open path for reading ("-" is standard input, which is then owned by the
 * returned stream).  The result reads the file's bytes, decompressed when
 * its content starts with a gzip, zstd or xz header.  A regular
 * uncompressed file comes back as a plain stdio stream at offset 0 (its
 * descriptor usable for pread and fstat) with *zp NULL; anything else --
 * a compressed file, or a pipe whose first bytes had to be read to tell --
 * is a stdio stream over a decoder, with *zp its state, owned by the
 * stream and freed by fclose().  Decompression is streamed: memory is a
 * decoder's window and two small buffers, whatever the file's size.
 * NULL with err set (the reason, without the path) when the file cannot
 * be opened or read.
 */
FILE *hu_zfile_open(const char *path, hu_zfile **zp, char *err, size_t errlen);

/* The compression of z (HU_Z_NONE for a replayed pipe). */
hu_zkind hu_zfile_kind(const hu_zfile *z);

/* "gzip", "zstd", "xz" or "uncompressed". */
const char *hu_zfile_kind_name(hu_zkind k);

/* Bytes of the underlying file consumed so far, and its size (0 when it
 * is not a regular file): what a progress line shows for a compressed
 * file. */
uint64_t hu_zfile_consumed(const hu_zfile *z);
uint64_t hu_zfile_size(const hu_zfile *z);

/*
 * Why decompression stopped early, or NULL: the data is corrupt ("corrupt
 * gzip data at compressed byte N: ...") or the compressed stream ends
 * before its end marker ("the xz data ends early, at compressed byte N:
 * the file is cut short").  Set once the stream has returned its last
 * byte; the bytes before the fault were all returned.
 */
const char *hu_zfile_error(const hu_zfile *z);

/* "zlib 1.2.13, zstd 1.5.4, xz 5.4.1": the decoders' versions as they
 * report themselves at run time, into buf (n bytes, always terminated). */
void hu_zfile_lib_versions(char *buf, size_t n);

#endif
