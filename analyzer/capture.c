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

hu_capture_rc hu_capture_file(const char *path, const char *filter, hu_frame_fn fn, void *arg,
                              int *dlt_out, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pc = pcap_open_offline(path, ebuf);
    if (!pc) {
        snprintf(err, errlen, "%s", ebuf[0] ? ebuf : strerror(errno));
        return HU_CAP_FAILED;
    }
    int dlt = pcap_datalink(pc);
    if (dlt_out)
        *dlt_out = dlt;
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
        if (filtering && !pcap_offline_filter(&prog, h, data))
            continue;
        hu_frame fr = {
            .num = num,
            .ts_us = (int64_t)h->ts.tv_sec * 1000000 + (int64_t)h->ts.tv_usec,
            .caplen = h->caplen,
            .wirelen = h->len,
            .data = data,
        };
        fn(arg, dlt, &fr);
    }
    if (filtering)
        pcap_freecode(&prog);
    pcap_close(pc);
    return out;
}
