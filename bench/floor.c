/*
 * floor.c -- the cost floor for reading a capture with libpcap.
 *
 * Opens each FILE with pcap_open_offline(), reads every record with
 * pcap_next_ex(), and finds the TCP header: link layer (Ethernet with any
 * stack of 802.1Q/802.1ad/QinQ tags, LINUX_SLL, LINUX_SLL2, NULL/LOOP, RAW,
 * IPV4, IPV6), then IPv4 (IHL, non-first fragments skipped) or IPv6 (walking
 * hop-by-hop, routing, destination options, fragment, AH and mobility
 * extension headers).  It does nothing else: it counts TCP packets and sums
 * one byte of each TCP header (the flags) so the compiler cannot drop the
 * work.  Any analyser that reads the same file with libpcap cannot be faster
 * than this; bench/run reports every tool as a multiple of it.
 *
 * Build: cc -O2 -o floor floor.c -lpcap
 * Usage: floor FILE...   prints "<packets> packets, <tcp> tcp, sum <n>"
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

static const uint8_t *tcp_header(int dlt, const uint8_t *p, uint32_t n)
{
    uint32_t off = 0;
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
    return p + off;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    uint64_t packets = 0, tcp = 0, sum = 0;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: floor FILE...\n");
        return 2;
    }
    for (int a = 1; a < argc; a++) {
        pcap_t *pc = pcap_open_offline(argv[a], err);
        if (!pc) {
            fprintf(stderr, "floor: %s\n", err);
            rc = 1;
            continue;
        }
        int dlt = pcap_datalink(pc);
        struct pcap_pkthdr *h;
        const u_char *d;
        int r;
        while ((r = pcap_next_ex(pc, &h, &d)) == 1) {
            packets++;
            const uint8_t *t = tcp_header(dlt, d, h->caplen);
            if (t) {
                tcp++;
                sum += t[13];
            }
        }
        if (r == -1) {
            fprintf(stderr, "floor: %s: %s\n", argv[a], pcap_geterr(pc));
            rc = 1;
        }
        pcap_close(pc);
    }
    printf("%llu packets, %llu tcp, sum %llu\n", (unsigned long long)packets,
           (unsigned long long)tcp, (unsigned long long)sum);
    return rc;
}
