/*
 * test_zfile.c -- compressed captures.  Every sample compressed by the real
 * gzip, zstd and xz tools reads frame for frame as the plain file does
 * (same bytes, times, numbers and capture identity), whatever the file is
 * called and through standard input too; concatenated members, frames and
 * streams read as one; a compressed file cut short or corrupted delivers
 * exactly the frames before the fault and names the packet and the fault;
 * and `hangup analyze` gives the same incidents for the compressed copy.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hangup/capture.h"
#include "hangup/zfile.h"
#include "testutil.h"

/* What a read delivered: how many frames, a digest over all of them (number,
 * time, lengths, bytes, in order), and the capture's identity. */
typedef struct readout {
    hu_capture_rc rc;
    char err[512];
    uint64_t n;
    uint64_t digest;
    char hash[33];
    uint64_t prefix_digest[4096];   /* digest after frame i (i < 4096) */
} readout;

static void mix(uint64_t *h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ b[i]) * 1099511628211ull;
}

static void on_frame(void *arg, int dlt, const hu_frame *fr)
{
    (void)dlt;
    readout *o = arg;
    uint64_t meta[4] = { fr->num, (uint64_t)fr->ts_us, fr->caplen, fr->wirelen };
    mix(&o->digest, meta, sizeof meta);
    mix(&o->digest, fr->data, fr->caplen);
    if (o->n < 4096)
        o->prefix_digest[o->n] = o->digest;
    o->n++;
}

static readout *read_file(const char *path)
{
    readout *o = calloc(1, sizeof *o);
    cr_assert_not_null(o);
    o->digest = 1469598103934665603ull;
    hu_capture_cbs cb = { .frame = on_frame, .arg = o };
    hu_capture_info info;
    o->rc = hu_capture_file(path, NULL, &cb, &info, o->err, sizeof o->err);
    snprintf(o->hash, sizeof o->hash, "%s", info.hash);
    return o;
}

/* Compress src with a real tool ("gzip -c", "zstd -q -c", "xz -c") into a
 * new temporary file named with suffix; the name is tu_tmp's (valid until
 * its next call). */
static const char *compress(const char *tool, const char *src, const char *suffix)
{
    const char *dst = tu_tmp(suffix);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s < '%s' > '%s'", tool, src, dst);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    return dst;
}

static const struct tool {
    const char *cmd, *suffix;
    hu_zkind kind;
} tools[] = {
    { "gzip -c", ".pcap.gz", HU_Z_GZIP },
    { "zstd -q -c", ".pcap.zst", HU_Z_ZSTD },
    { "xz -c", ".pcap.xz", HU_Z_XZ },
};

static void same_as_plain(const readout *plain, const readout *z, const char *what)
{
    cr_assert_eq(z->rc, HU_CAP_OK, "%s: %s", what, z->err);
    cr_assert_eq(z->n, plain->n, "%s: %llu frames, plain %llu", what,
                 (unsigned long long)z->n, (unsigned long long)plain->n);
    cr_assert_eq(z->digest, plain->digest, "%s: frames differ", what);
    cr_assert_str_eq(z->hash, plain->hash, "%s: another capture identity", what);
}

Test(zfile, every_sample_compressed_reads_as_the_plain_file)
{
    size_t files;
    char **names = tu_sample_captures(&files);
    for (size_t i = 0; i < files; i++) {
        const char *name = names[i];
        const char *src = tu_sample(name);
        readout *plain = read_file(src);
        cr_assert_eq(plain->rc, HU_CAP_OK, "%s: %s", name, plain->err);
        cr_assert_gt(plain->n, 0, "%s", name);
        for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
            readout *z = read_file(compress(tools[t].cmd, src, tools[t].suffix));
            char what[512];
            snprintf(what, sizeof what, "%s through %s", name, tools[t].cmd);
            same_as_plain(plain, z, what);
            free(z);
        }
        free(plain);
    }
    tu_names_free(names, files);
    cr_assert_gt(files, 10);
}

Test(zfile, the_content_decides_not_the_name)
{
    const char *src = tu_sample("crossed-client.pcap");
    readout *plain = read_file(src);
    for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
        /* compressed but named .pcap, and a plain file named .gz */
        readout *z = read_file(compress(tools[t].cmd, src, ".pcap"));
        same_as_plain(plain, z, tools[t].cmd);
        free(z);
    }
    readout *p = read_file(compress("cat", src, ".pcap.gz"));
    same_as_plain(plain, p, "a plain file named .gz");
    free(p);
    free(plain);
}

/* src's bytes split at an odd offset, each half compressed on its own and
 * the two outputs concatenated: gzip members, zstd frames, xz streams. */
Test(zfile, concatenated_members_frames_and_streams_read_as_one)
{
    const char *src = tu_sample("node-keepalive-v6.pcap");
    readout *plain = read_file(src);
    for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
        const char *dst = tu_tmp(tools[t].suffix);
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "(head -c 1001 '%s' | %s; tail -c +1002 '%s' | %s) > '%s'",
                 src, tools[t].cmd, src, tools[t].cmd, dst);
        cr_assert_eq(system(cmd), 0, "%s", cmd);
        readout *z = read_file(dst);
        same_as_plain(plain, z, tools[t].cmd);
        free(z);
    }
    free(plain);
}

/* Reading stops at the fault with a line naming the next packet and the
 * fault.  With exact, the frames delivered before it are exactly the
 * plain file's first frames: true of a file cut short, not of corrupt
 * data, which gzip and xz detect by a checksum at the end of a member or
 * block, after its bytes were decoded. */
static void faulty(const readout *plain, const char *path, const char *why_part,
                   bool exact, const char *what)
{
    readout *z = read_file(path);
    cr_assert_neq(z->rc, HU_CAP_OK, "%s: read as whole", what);
    cr_assert(strstr(z->err, why_part), "%s: '%s' lacks '%s'", what, z->err, why_part);
    cr_assert_lt(z->n, plain->n, "%s", what);
    if (z->n > 0 && exact) {
        cr_assert_eq(z->digest, plain->prefix_digest[z->n - 1], "%s: frames before the fault "
                     "differ", what);
        char want[64];
        snprintf(want, sizeof want, "packet %llu: ", (unsigned long long)z->n + 1);
        cr_assert(strncmp(z->err, want, strlen(want)) == 0, "%s: '%s' does not start with "
                  "'%s'", what, z->err, want);
    }
    free(z);
}

Test(zfile, cut_short_or_corrupt_keeps_what_came_before_and_says_where)
{
    /* A capture of many blocks, so that the fault lands mid-stream. */
    const char *src = tu_sample("http-pipeline.pcap");
    readout *plain = read_file(src);
    cr_assert_lt(plain->n, 4096);
    for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
        const char *whole = compress(tools[t].cmd, src, tools[t].suffix);
        size_t len;
        char *bytes = tu_slurp(whole, &len);
        cr_assert_not_null(bytes);

        const char *cut = tu_tmp(tools[t].suffix);
        FILE *f = fopen(cut, "wb");
        cr_assert_not_null(f);
        fwrite(bytes, 1, len * 3 / 4, f);
        fclose(f);
        char why[64];
        snprintf(why, sizeof why, "the %s data ends early", hu_zfile_kind_name(tools[t].kind));
        faulty(plain, cut, why, true, tools[t].cmd);

        bytes[len * 3 / 4] ^= 0x5a;
        const char *bad = tu_tmp(tools[t].suffix);
        f = fopen(bad, "wb");
        cr_assert_not_null(f);
        fwrite(bytes, 1, len, f);
        fclose(f);
        snprintf(why, sizeof why, "corrupt %s data", hu_zfile_kind_name(tools[t].kind));
        faulty(plain, bad, why, false, tools[t].cmd);
        free(bytes);
    }
    free(plain);
}

Test(zfile, analyze_reads_compressed_files_and_standard_input)
{
    const char *src = tu_sample("crossed-server.pcap");
    char cmd[4096], *plain = NULL, *zout = NULL, *in = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s analyze --no-db --json - < '%s' | grep -v '\"type\":\"capture\"'",
             HANGUP_BIN, src);
    cr_assert_eq(tu_sh(cmd, &plain, &err), 0, "%s", err);
    free(err);
    cr_assert(strstr(plain, "\"kind\":\"keepalive-race\""), "%s", plain);
    for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
        /* a copy: tu_sh reuses tu_tmp's buffer */
        char *z = strdup(compress(tools[t].cmd, src, tools[t].suffix));
        snprintf(cmd, sizeof cmd, "%s analyze --no-db --json - < '%s' | grep -v "
                 "'\"type\":\"capture\"'", HANGUP_BIN, z);
        cr_assert_eq(tu_sh(cmd, &in, &err), 0, "%s", err);
        free(err);
        cr_assert_str_eq(in, plain, "%s from standard input", tools[t].cmd);
        /* by name: only the file field differs */
        snprintf(cmd, sizeof cmd, "%s analyze --no-db --json '%s' | grep -v "
                 "'\"type\":\"capture\"' | sed 's|\"file\":\"[^\"]*\"|\"file\":\"-\"|'",
                 HANGUP_BIN, z);
        cr_assert_eq(tu_sh(cmd, &zout, &err), 0, "%s", err);
        free(err);
        cr_assert_str_eq(zout, plain, "%s by name:\n%s\n--- plain:\n%s", tools[t].cmd, zout,
                         plain);
        free(in);
        free(zout);
        free(z);
    }
    free(plain);
}

Test(zfile, formats_not_read_get_a_clear_line)
{
    const char *bz = tu_tmp(".pcap.bz2");
    FILE *f = fopen(bz, "wb");
    cr_assert_not_null(f);
    fputs("BZh91AY&SY", f);   /* a bzip2 header */
    fclose(f);
    char cmd[2048], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "%s analyze --no-db '%s'", HANGUP_BIN, bz);
    int rc = tu_sh(cmd, &out, &err);
    cr_assert_neq(rc, 0);
    cr_assert(strstr(err, "bzip2-compressed"), "%s", err);
    cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
    free(out);
    free(err);
}
