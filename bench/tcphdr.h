/*
 * tcphdr.h -- locate the IP and TCP headers of a captured frame, for the
 * bench programs (floor.c, open.c).
 *
 * bench_tcp_header(dlt, p, n, &ip) returns the TCP header of the frame p
 * of n captured bytes of link type dlt, or NULL when the frame is not TCP
 * or is cut short; link layers: Ethernet with any stack of
 * 802.1Q/802.1ad/QinQ tags, LINUX_SLL, LINUX_SLL2, NULL/LOOP, RAW, IPV4,
 * IPV6; IPv4 with IHL (non-first fragments skipped), IPv6 walking
 * hop-by-hop, routing, destination options, fragment, AH and mobility
 * extension headers.  Every read is checked against n.  When it returns a
 * header and ip is not NULL, *ip is the IP header (its version nibble
 * says 4 or 6; the addresses lie within the n bytes).
 *
 * bench_read(prog, path, each, arg) reads every record of the capture
 * path with pcap_next_ex() and calls each(arg, tcp, ip) for every TCP
 * packet; it returns the number of records read, or -1 (after a message
 * on stderr naming prog) when the file cannot be opened or read to its
 * end.  Being inline, a constant each is inlined into the loop.
 */
#ifndef BENCH_TCPHDR_H
#define BENCH_TCPHDR_H

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

static inline const uint8_t *bench_tcp_header(int dlt, const uint8_t *p, uint32_t n,
                                              const uint8_t **ip)
{
    uint32_t off = 0, ipoff;
    unsigned et;

    switch (dlt) {
    case DLT_EN10MB:
        if (n < 14)
            return NULL;
        et = (unsigned)p[12] << 8 | p[13];
        off = 14;
        while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
            if (n < off + 4)
                return NULL;
            et = (unsigned)p[off + 2] << 8 | p[off + 3];
            off += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (n < 16)
            return NULL;
        et = (unsigned)p[14] << 8 | p[15];
        off = 16;
        break;
    case DLT_LINUX_SLL2:
        if (n < 20)
            return NULL;
        et = (unsigned)p[0] << 8 | p[1];
        off = 20;
        break;
    case DLT_NULL:
    case DLT_LOOP: {
        if (n < 4)
            return NULL;
        uint32_t fam = p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
        if (fam > 0xffff)
            fam = p[3] | p[2] << 8 | p[1] << 16 | (uint32_t)p[0] << 24;
        et = fam == 2 ? 0x0800 : (fam == 24 || fam == 28 || fam == 30) ? 0x86dd : 0;
        off = 4;
        break;
    }
    case DLT_RAW:
    case 228: /* DLT_IPV4 */
    case 229: /* DLT_IPV6 */
        if (n < 1)
            return NULL;
        et = (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    default:
        return NULL;
    }

    ipoff = off;
    if (et == 0x0800) {
        if (n < off + 20 || (p[off] >> 4) != 4)
            return NULL;
        uint32_t ihl = (uint32_t)(p[off] & 15) * 4;
        if (ihl < 20 || p[off + 9] != 6 || ((p[off + 6] & 0x1f) | p[off + 7]))
            return NULL;
        off += ihl;
    } else if (et == 0x86dd) {
        if (n < off + 40 || (p[off] >> 4) != 6)
            return NULL;
        unsigned nh = p[off + 6];
        off += 40;
        for (int i = 0; i < 16 && nh != 6; i++) {
            if (n < off + 8)
                return NULL;
            switch (nh) {
            case 0: case 43: case 60: case 135: case 139: case 140:
                nh = p[off];
                off += 8 + (uint32_t)p[off + 1] * 8;
                break;
            case 44: /* fragment: only the first fragment holds the header */
                if (((p[off + 2] << 8 | p[off + 3]) & 0xfff8) != 0)
                    return NULL;
                nh = p[off];
                off += 8;
                break;
            case 51: /* AH */
                nh = p[off];
                off += ((uint32_t)p[off + 1] + 2) * 4;
                break;
            default:
                return NULL;
            }
        }
        if (nh != 6)
            return NULL;
    } else {
        return NULL;
    }
    if (n < off + 20)
        return NULL;
    if (ip)
        *ip = p + ipoff;
    return p + off;
}

static inline int64_t bench_read(const char *prog, const char *path,
                                 void (*each)(void *arg, const uint8_t *tcp, const uint8_t *ip),
                                 void *arg)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    if (!pc) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    int dlt = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *d;
    int64_t packets = 0;
    int r;
    while ((r = pcap_next_ex(pc, &h, &d)) == 1) {
        packets++;
        const uint8_t *ip, *tcp = bench_tcp_header(dlt, d, h->caplen, &ip);
        if (tcp)
            each(arg, tcp, ip);
    }
    if (r == -1) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, pcap_geterr(pc));
        packets = -1;
    }
    pcap_close(pc);
    return packets;
}

#endif
