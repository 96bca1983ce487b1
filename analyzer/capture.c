/*
 * capture.c -- frames from capture files, through libpcap.
 *
 * libpcap reads pcap and pcapng alike and compiles BPF; this file adds the
 * checks and messages a user needs when a file is bad: the link type is
 * checked against what decode.c understands before anything is read, a
 * read error names the packet number it happened at (everything before it
 * has already been analysed), and a filter error quotes the expression.
 */
#include "hangup/capture.h"
#include "hangup/decode.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/stat.h>


void hu_capture_dlt_name(int dlt, char *buf, size_t n)
{
    const char *name = pcap_datalink_val_to_name(dlt);
    const char *desc = pcap_datalink_val_to_description(dlt);
    if (name && desc)
        snprintf(buf, n, "%s (%s)", name, desc);
    else if (name)
        snprintf(buf, n, "%s", name);
    else
        snprintf(buf, n, "DLT %d", dlt);
}

#define HU_HASH_BYTES 128
#define HU_MAX_EPOCH_S 253402300800LL   /* year 10000: beyond, a timestamp is garbage */

/* A fast 128-bit content hash: two multiply-rotate lanes over 8-byte
 * words, finished with murmur3's fmix64.  Identity, not security. */
typedef struct chash {
    uint64_t a, b;
} chash;

static inline uint64_t lane(uint64_t h, uint64_t v)
{
    h ^= v * 0x9e3779b97f4a7c15ull;
    h = (h << 27 | h >> 37) * 0xc2b2ae3d27d4eb4full;
    return h;
}

static void chash_update(chash *h, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t a = h->a, b = h->b;
    while (n >= 16) {
        uint64_t w0, w1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + 8, 8);
        a = lane(a, w0);
        b = lane(b, w1);
        p += 16;
        n -= 16;
    }
    uint64_t t[2] = { 0, 0 };
    memcpy(t, p, n);
    a = lane(a, t[0] ^ ((uint64_t)n << 56));
    b = lane(b, t[1]);
    h->a = a;
    h->b = b;
}

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

hu_capture_rc hu_capture_file(const char *path, const char *filter, hu_frame_fn fn, void *arg,
                              const hu_progress *progress, hu_capture_info *info, char *err,
                              size_t errlen)
{
    hu_capture_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof *info);
    info->dlt = -1;
    chash ch = { 0x243f6a8885a308d3ull, 0x13198a2e03707344ull };
    if (filter)
        chash_update(&ch, filter, strlen(filter));
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_open_offline(path, ebuf);
    if (!pc) {
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : strerror(errno));
        return HU_CAP_FAILED;
    }
    int dlt = pcap_datalink(pc);
    info->dlt = dlt;
    const char *lname = pcap_datalink_val_to_name(dlt);
    snprintf(info->link_name, sizeof info->link_name, "%s", lname ? lname : "unknown");
    if (!hu_decode_link_supported(dlt)) {
        char name[128];
        hu_capture_dlt_name(dlt, name, sizeof name);
        snprintf(err, errlen,
                 "link type %s is not supported (supported: Ethernet with VLAN tags, "
                 "LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW, IPV4, IPV6)",
                 name);
        pcap_close(pc);
        return HU_CAP_FAILED;
    }
    /* The filter runs here rather than in libpcap's reader so that packet
     * numbers stay positions in the file, as Wireshark shows them. */
    struct bpf_program prog;
    bool filtering = filter != NULL;
    if (filtering && pcap_compile(pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "bad filter expression '%s': %s", filter, pcap_geterr(pc));
        pcap_close(pc);
        return HU_CAP_BADFILTER;
    }

    hu_capture_rc out = HU_CAP_OK;
    uint64_t num = 0;
    uint64_t total = 0;
    FILE *fp = pcap_file(pc);
    struct stat st;
    if (progress && progress->fn && fp && fstat(fileno(fp), &st) == 0)
        total = (uint64_t)st.st_size;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc = pcap_next_ex(pc, &h, &data);
        if (rc == PCAP_ERROR_BREAK)
            break;   /* end of file */
        if (rc < 0) {
            snprintf(err, errlen,
                     "packet %llu: %s; the %llu packets before it were analysed",
                     (unsigned long long)num + 1, pcap_geterr(pc), (unsigned long long)num);
            out = HU_CAP_PARTIAL;
            break;
        }
        num++;
        if (rc == 0)
            continue;   /* cannot happen offline; be safe */
        if (total && (num % HU_PROGRESS_FRAMES) == 0)
            progress->fn(progress->arg, (uint64_t)ftello(fp), total, num);
        if (filtering && !pcap_offline_filter(&prog, h, data))
            continue;
        /* Identity, not integrity: every frame's time and lengths, and its
         * first HU_HASH_BYTES bytes (all headers, the start of the
         * payload), are enough to tell captures apart at a fraction of
         * the cost of hashing every byte. */
        uint32_t meta[4] = { (uint32_t)h->ts.tv_sec, (uint32_t)h->ts.tv_usec, h->caplen, h->len };
        chash_update(&ch, meta, sizeof meta);
        chash_update(&ch, data, h->caplen < HU_HASH_BYTES ? h->caplen : HU_HASH_BYTES);
        /* pcapng timestamps are 64-bit: a hostile one can overflow
         * microseconds since the epoch.  Such a frame is unusable. */
        bool ts_ok = h->ts.tv_sec >= 0 && h->ts.tv_sec < HU_MAX_EPOCH_S && h->ts.tv_usec >= 0 &&
                     h->ts.tv_usec < 1000000;
        hu_frame fr = {
            .num = num,
            .bad = ts_ok ? NULL : "timestamp out of range",
            .ts_us = ts_ok ? (int64_t)h->ts.tv_sec * 1000000 + (int64_t)h->ts.tv_usec : 0,
            .caplen = h->caplen,
            .wirelen = h->len,
            .data = data,
        };
        if (!fr.bad) {
            if (info->frames++ == 0)
                info->first_us = fr.ts_us;
            info->last_us = fr.ts_us;
        }
        fn(arg, dlt, &fr);
    }
    snprintf(info->hash, sizeof info->hash, "%016llx%016llx",
             (unsigned long long)fmix64(ch.a ^ fmix64(ch.b)),
             (unsigned long long)fmix64(ch.b + ch.a));
    if (filtering)
        pcap_freecode(&prog);
    pcap_close(pc);
    return out;
}
