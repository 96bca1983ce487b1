/*
 * zfile.c -- compressed capture files, decompressed as they are read.
 *
 * Captures travel compressed (`.pcap.gz`, `.pcapng.zst`, `.xz`), and
 * Wireshark opens them as they are.  So does hangup: the first bytes of a
 * file say whether it is gzip (1f 8b), zstd (28 b5 2f fd) or xz (fd 37 7a
 * 58 5a 00) -- a name proves nothing -- and a compressed file is handed to
 * libpcap as a stdio stream (fopencookie) whose read function runs the
 * decoder of zlib, libzstd or liblzma over a 64 KiB input buffer.  Nothing
 * is written to disk and nothing is held whole: memory is the decoder's
 * window plus the buffer, so a 50 GB capture costs what a small one does.
 * Concatenated gzip members, zstd frames and xz streams are read as one,
 * as their command-line tools do.
 *
 * A fault in the compressed data ends the stream as end-of-file after the
 * last good byte, and hu_zfile_error() says what and where; capture.c
 * words it with the packet number, so everything before the fault is
 * analysed and the user is told why the rest was not.  The decoders come
 * from libraries because their formats are long, exacting specifications
 * with decades of hardening behind those implementations; nothing here
 * parses compressed data itself.
 *
 * A pipe (standard input) cannot be rewound after its first bytes are
 * read to tell its format, so an uncompressed pipe goes through the same
 * kind of stream, replaying those bytes first.
 */
#include "hangup/zfile.h"

#include <errno.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zlib.h>
#include <zstd.h>

#define HU_ZIN_BYTES 65536

struct hu_zfile {
    hu_zkind kind;
    FILE *in;                 /* the file itself; closed with the stream unless stdin */
    uint64_t size;            /* of a regular file, else 0 */
    uint64_t read_in;         /* bytes read from in so far */
    uint8_t buf[HU_ZIN_BYTES];
    size_t len, off;          /* buf[off, len) not yet given to the decoder */
    bool in_eof;
    bool ended;               /* no more output: end of data, or a fault */
    bool frame_done;          /* the last decoder call closed a member/frame */
    bool out_full;            /* the last call filled its output: more may be
                                 pending inside the decoder without input */
    char err[192];
    z_stream gz;
    ZSTD_DStream *zs;
    lzma_stream xz;
};

void hu_zfile_lib_versions(char *buf, size_t n)
{
    snprintf(buf, n, "zlib %s, zstd %s, xz %s", zlibVersion(), ZSTD_versionString(),
             lzma_version_string());
}

hu_zkind hu_zfile_kind(const hu_zfile *z)
{
    return z->kind;
}

const char *hu_zfile_kind_name(hu_zkind k)
{
    switch (k) {
    case HU_Z_GZIP: return "gzip";
    case HU_Z_ZSTD: return "zstd";
    case HU_Z_XZ: return "xz";
    default: return "uncompressed";
    }
}

uint64_t hu_zfile_consumed(const hu_zfile *z)
{
    return z->read_in - (z->len - z->off);
}

uint64_t hu_zfile_size(const hu_zfile *z)
{
    return z->size;
}

const char *hu_zfile_error(const hu_zfile *z)
{
    return z->err[0] ? z->err : NULL;
}

/* Make unread input available: keep what is left, read more behind it.
 * False at end of file (or a read error, recorded in err). */
static bool refill(hu_zfile *z)
{
    if (z->off > 0) {
        memmove(z->buf, z->buf + z->off, z->len - z->off);
        z->len -= z->off;
        z->off = 0;
    }
    if (z->in_eof || z->len == sizeof z->buf)
        return z->len > 0;
    size_t n = fread(z->buf + z->len, 1, sizeof z->buf - z->len, z->in);
    z->len += n;
    z->read_in += n;
    if (n == 0) {
        if (ferror(z->in))
            snprintf(z->err, sizeof z->err, "read error at compressed byte %llu: %s",
                     (unsigned long long)z->read_in, strerror(errno ? errno : EIO));
        z->in_eof = true;
    }
    return n > 0 || z->len > 0;
}

/* Stop the stream with a fault (the bytes produced so far stand). */
static void fault(hu_zfile *z, const char *what)
{
    /* zstd checks a frame as a whole (its checksum, its block sizes), so
     * where it stopped says little: the frame is what is corrupt. */
    if (z->kind == HU_Z_ZSTD)
        snprintf(z->err, sizeof z->err, "corrupt zstd data in the frame read by compressed "
                 "byte %llu: %s", (unsigned long long)z->read_in, what);
    else
        snprintf(z->err, sizeof z->err, "corrupt %s data at compressed byte %llu: %s",
                 hu_zfile_kind_name(z->kind), (unsigned long long)hu_zfile_consumed(z), what);
    z->ended = true;
}

/* The input ran out inside a member or frame. */
static void cut_short(hu_zfile *z)
{
    if (!z->err[0])
        snprintf(z->err, sizeof z->err,
                 "the %s data ends early, at compressed byte %llu: the file is cut short",
                 hu_zfile_kind_name(z->kind), (unsigned long long)hu_zfile_consumed(z));
    z->ended = true;
}

/* After a gzip member: another follows only if a gzip header does (a
 * tool's zero padding after the last member is not an error). */
static bool gzip_next_member(hu_zfile *z)
{
    while (z->len - z->off < 2 && !z->in_eof)
        refill(z);
    if (z->len - z->off < 2 || z->buf[z->off] != 0x1f || z->buf[z->off + 1] != 0x8b)
        return false;
    inflateReset(&z->gz);
    z->frame_done = false;
    return true;
}

/* One decoder step into out[0, size): bytes produced (0 with z->ended
 * set when nothing more will come). */
static size_t gzip_step(hu_zfile *z, uint8_t *out, size_t size)
{
    if (z->frame_done && !gzip_next_member(z)) {
        z->ended = true;
        return 0;
    }
    bool have = z->off < z->len || refill(z);
    if (!have && !z->out_full) {
        cut_short(z);
        return 0;
    }
    z->gz.next_in = z->buf + z->off;
    z->gz.avail_in = (uInt)(z->len - z->off);
    z->gz.next_out = out;
    z->gz.avail_out = size > UINT32_MAX ? UINT32_MAX : (uInt)size;
    int rc = inflate(&z->gz, Z_NO_FLUSH);
    z->off = z->len - z->gz.avail_in;
    size_t made = (size_t)(z->gz.next_out - out);
    z->out_full = made == size;
    if (rc == Z_STREAM_END)
        z->frame_done = true;
    else if (rc == Z_BUF_ERROR && !have)
        cut_short(z);
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
        fault(z, z->gz.msg ? z->gz.msg : "inflate failed");
    return made;
}

static size_t zstd_step(hu_zfile *z, uint8_t *out, size_t size)
{
    bool have = z->off < z->len || refill(z);
    if (!have && !z->out_full) {
        if (z->frame_done)
            z->ended = true;
        else
            cut_short(z);
        return 0;
    }
    ZSTD_inBuffer ib = { z->buf + z->off, z->len - z->off, 0 };
    ZSTD_outBuffer ob = { out, size, 0 };
    size_t rc = ZSTD_decompressStream(z->zs, &ob, &ib);
    z->off += ib.pos;
    if (ZSTD_isError(rc)) {
        fault(z, ZSTD_getErrorName(rc));
        return ob.pos;
    }
    z->frame_done = rc == 0;
    z->out_full = ob.pos == size;
    return ob.pos;
}

static size_t xz_step(hu_zfile *z, uint8_t *out, size_t size)
{
    if (z->off == z->len)
        refill(z);
    z->xz.next_in = z->buf + z->off;
    z->xz.avail_in = z->len - z->off;
    z->xz.next_out = out;
    z->xz.avail_out = size;
    lzma_ret rc = lzma_code(&z->xz, z->in_eof && z->off == z->len ? LZMA_FINISH : LZMA_RUN);
    z->off = z->len - z->xz.avail_in;
    size_t made = (size_t)(z->xz.next_out - out);
    switch (rc) {
    case LZMA_OK:
        break;
    case LZMA_STREAM_END:
        z->ended = true;
        break;
    case LZMA_BUF_ERROR:
        cut_short(z);
        break;
    case LZMA_MEM_ERROR:
        fault(z, "out of memory");
        break;
    case LZMA_DATA_ERROR:
        fault(z, "compressed data is corrupt");
        break;
    case LZMA_FORMAT_ERROR:
    case LZMA_OPTIONS_ERROR:
        fault(z, "not a valid xz stream");
        break;
    default:
        fault(z, "the decoder failed");
        break;
    }
    return made;
}

/* fopencookie's read: up to size decompressed bytes; 0 is end of file. */
static ssize_t z_read(void *cookie, char *buf, size_t size)
{
    hu_zfile *z = cookie;
    uint8_t *out = (uint8_t *)buf;
    size_t got = 0;
    while (got < size && !z->ended) {
        size_t n;
        switch (z->kind) {
        case HU_Z_GZIP: n = gzip_step(z, out + got, size - got); break;
        case HU_Z_ZSTD: n = zstd_step(z, out + got, size - got); break;
        case HU_Z_XZ: n = xz_step(z, out + got, size - got); break;
        default:
            if (z->off == z->len && !refill(z)) {
                z->ended = true;
                n = 0;
                break;
            }
            n = z->len - z->off < size - got ? z->len - z->off : size - got;
            memcpy(out + got, z->buf + z->off, n);
            z->off += n;
            break;
        }
        got += n;
        if (n > 0)
            break;   /* stdio asks again for more */
    }
    return (ssize_t)got;
}

static void z_free(hu_zfile *z)
{
    switch (z->kind) {
    case HU_Z_GZIP: inflateEnd(&z->gz); break;
    case HU_Z_ZSTD: ZSTD_freeDStream(z->zs); break;
    case HU_Z_XZ: lzma_end(&z->xz); break;
    default: break;
    }
    if (z->in && z->in != stdin)
        fclose(z->in);
    free(z);
}

static int z_close(void *cookie)
{
    z_free(cookie);
    return 0;
}

/* The compression named by a file's first n bytes. */
static hu_zkind sniff(const uint8_t *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return HU_Z_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return HU_Z_ZSTD;
    if (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
        return HU_Z_XZ;
    return HU_Z_NONE;
}

/* Formats hangup recognises but does not read: a clear line beats
 * libpcap's "unknown file format". */
static const char *unread_format(const uint8_t *p, size_t n)
{
    if (n >= 3 && memcmp(p, "BZh", 3) == 0)
        return "bzip2";
    if (n >= 4 && memcmp(p, "\x04\x22\x4d\x18", 4) == 0)
        return "lz4";
    return NULL;
}

/* Start z's decoder; false with err set. */
static bool z_start(hu_zfile *z, char *err, size_t errlen)
{
    bool ok = false;
    switch (z->kind) {
    case HU_Z_GZIP:
        /* 15 + 16: a gzip wrapper, any window size */
        ok = inflateInit2(&z->gz, 15 + 16) == Z_OK;
        break;
    case HU_Z_ZSTD:
        ok = (z->zs = ZSTD_createDStream()) != NULL && !ZSTD_isError(ZSTD_initDStream(z->zs));
        break;
    case HU_Z_XZ:
        z->xz = (lzma_stream)LZMA_STREAM_INIT;
        ok = lzma_stream_decoder(&z->xz, UINT64_MAX, LZMA_CONCATENATED) == LZMA_OK;
        break;
    default:
        ok = true;
        break;
    }
    if (!ok)
        snprintf(err, errlen, "cannot start the %s decoder (out of memory?)",
                 hu_zfile_kind_name(z->kind));
    return ok;
}

FILE *hu_zfile_open(const char *path, hu_zfile **zp, char *err, size_t errlen)
{
    *zp = NULL;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *in = is_stdin ? stdin : fopen(path, "rb");
    if (!in) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    struct stat st;
    bool regular = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode);
    off_t start = regular ? ftello(in) : -1;
    uint8_t head[6];
    size_t n = fread(head, 1, sizeof head, in);
    if (n < sizeof head && ferror(in)) {
        snprintf(err, errlen, "%s", strerror(errno ? errno : EIO));
        if (!is_stdin)
            fclose(in);
        return NULL;
    }
    const char *other = unread_format(head, n);
    if (other) {
        snprintf(err, errlen, "the file is %s-compressed, which hangup does not read "
                              "(gzip, zstd and xz are read directly)", other);
        if (!is_stdin)
            fclose(in);
        return NULL;
    }
    hu_zkind kind = sniff(head, n);
    if (kind == HU_Z_NONE && start >= 0 && fseeko(in, start, SEEK_SET) == 0)
        return in;   /* plain, and rewound: libpcap reads it as ever */

    hu_zfile *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        if (!is_stdin)
            fclose(in);
        return NULL;
    }
    z->kind = kind;
    z->in = in;
    z->size = regular ? (uint64_t)st.st_size : 0;
    memcpy(z->buf, head, n);
    z->len = n;
    z->read_in = n;
    if (!z_start(z, err, errlen)) {
        z_free(z);
        return NULL;
    }
    cookie_io_functions_t io = { .read = z_read, .close = z_close };
    FILE *fp = fopencookie(z, "rb", io);
    if (!fp) {
        snprintf(err, errlen, "%s", strerror(errno));
        z_free(z);
        return NULL;
    }
    *zp = z;
    return fp;
}
