/*
 * floor.c -- the cost floor for reading a capture with libpcap.
 *
 * Opens each FILE with pcap_open_offline(), reads every record with
 * pcap_next_ex(), and finds the TCP header (tcphdr.h: link layer (Ethernet
 * with any stack of 802.1Q/802.1ad/QinQ tags, LINUX_SLL, LINUX_SLL2,
 * NULL/LOOP, RAW, IPV4, IPV6), then IPv4 (IHL, non-first fragments
 * skipped) or IPv6 (walking hop-by-hop, routing, destination options,
 * fragment, AH and mobility extension headers)).  It does nothing else: it counts TCP packets and sums
 * one byte of each TCP header (the flags) so the compiler cannot drop the
 * work.  Any analyser that reads the same file with libpcap cannot be faster
 * than this; bench/run reports every tool as a multiple of it.
 *
 * Build: cc -O2 -o floor floor.c -lpcap   (tcphdr.h beside it)
 * Usage: floor FILE...   prints "<packets> packets, <tcp> tcp, sum <n>"
 */
#include "tcphdr.h"

#include <stdio.h>

typedef struct {
    uint64_t tcp, sum;
} tally;

static void count(void *arg, const uint8_t *t, const uint8_t *ip)
{
    tally *c = arg;
    (void)ip;
    c->tcp++;
    c->sum += t[13];
}

int main(int argc, char **argv)
{
    uint64_t packets = 0;
    tally c = { 0, 0 };
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: floor FILE...\n");
        return 2;
    }
    for (int a = 1; a < argc; a++) {
        int64_t n = bench_read("floor", argv[a], count, &c);
        if (n < 0)
            rc = 1;
        else
            packets += (uint64_t)n;
    }
    printf("%llu packets, %llu tcp, sum %llu\n", (unsigned long long)packets,
           (unsigned long long)c.tcp, (unsigned long long)c.sum);
    return rc;
}
