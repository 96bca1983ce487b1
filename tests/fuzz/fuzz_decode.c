/*
 * fuzz_decode.c -- one frame through the link/IP/TCP decoder, then
 * tcpdump's payload suffix; the same bytes through the TLS SNI parser and
 * the request-line decoder.
 *
 * Input layout: byte 0 selects the link type (the supported ones by
 * index; other values are passed through as a raw DLT number, which must
 * be refused), the rest is the frame.  The frame is copied to a buffer of
 * exactly its size, so ASan catches any read past caplen.
 */
#include "fuzz.h"

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/decode.h"
#include "hangup/request.h"
#include "hangup/tcpprint.h"
#include "hangup/tls.h"

/* The link types the README lists, plus 14 (DLT_RAW on some BSDs). */
static const int dlts[] = {
    DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
    DLT_RAW,    14,            DLT_IPV4,       DLT_IPV6,
};
#define NDLTS (sizeof dlts / sizeof dlts[0])

static bool within(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
    return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static void decode_frame(int dlt, const uint8_t *frame, uint32_t caplen)
{
    hu_pkt pkt;
    memset(&pkt, 0, sizeof pkt);
    const char *why = NULL;
    hu_decode_rc rc = hu_decode(dlt, frame, caplen, &pkt, &why);
    FUZZ_CHECK(rc == HU_DEC_TCP || rc == HU_DEC_SKIP || rc == HU_DEC_BAD);
    if (rc == HU_DEC_BAD)
        FUZZ_CHECK(why != NULL && why[0] != '\0');
    if (rc != HU_DEC_TCP)
        return;
    FUZZ_CHECK(pkt.ipver == 4 || pkt.ipver == 6);
    FUZZ_CHECK(pkt.optlen <= 40 && pkt.optcap <= pkt.optlen);
    if (pkt.optcap)
        FUZZ_CHECK(within(pkt.opts, pkt.optcap, frame, caplen));
    FUZZ_CHECK(pkt.optcap == pkt.optlen || pkt.capturedlen == 0);
    FUZZ_CHECK(pkt.capturedlen <= pkt.paylen);
    if (pkt.capturedlen)
        FUZZ_CHECK(within(pkt.payload, pkt.capturedlen, frame, caplen));
    pkt.num = 1;
    pkt.ts_us = 1;
    hu_sb sb = {0};
    if (hu_tcpprint_payload_suffix(&pkt, &sb))
        FUZZ_CHECK(sb.len < 1u << 20);
    /* tcpdump decodes HTTP only on ports 80 and 8080: try them too. */
    pkt.sport = 80;
    hu_sb_reset(&sb);
    hu_tcpprint_payload_suffix(&pkt, &sb);
    pkt.sport = 1234;
    pkt.dport = 8080;
    hu_sb_reset(&sb);
    hu_tcpprint_payload_suffix(&pkt, &sb);
    hu_sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int dlt = data[0] < NDLTS ? dlts[data[0]] : data[0] >= 0xf0 ? data[0] : -1;
    size_t n = size - 1;
    uint8_t *frame = malloc(n ? n : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, n);

    if (dlt >= 0) {
        if (data[0] >= 0xf0)   /* not a supported type: must be refused */
            FUZZ_CHECK(!hu_decode_link_supported(dlt));
        else
            FUZZ_CHECK(hu_decode_link_supported(dlt));
        decode_frame(dlt, frame, (uint32_t)n);
    } else {
        /* Every supported type on the same bytes. */
        for (size_t i = 0; i < NDLTS; i++)
            decode_frame(dlts[i], frame, (uint32_t)n);
    }

    /* The client's first bytes: TLS ClientHello, HTTP request line. */
    char sni[256];
    size_t outlen = 1 + (n ? frame[0] % sizeof sni : 0);
    memset(sni, 0x55, sizeof sni);
    hu_tls_rc trc = hu_tls_sni(frame, n, sni, outlen);
    FUZZ_CHECK(trc == HU_TLS_SNI || trc == HU_TLS_NO_SNI || trc == HU_TLS_MORE ||
               trc == HU_TLS_NOT_HELLO);
    if (trc == HU_TLS_SNI)
        FUZZ_CHECK(memchr(sni, '\0', outlen) != NULL);
    for (size_t i = outlen; i < sizeof sni; i++)
        FUZZ_CHECK(sni[i] == 0x55);

    hu_request rq;
    hu_request_decode(frame, n, &rq);
    FUZZ_CHECK(rq.target_len <= HU_TARGET_MAX);
    FUZZ_CHECK(rq.host_len <= sizeof rq.host);
    FUZZ_CHECK(memchr(rq.method, '\0', sizeof rq.method) != NULL);
    FUZZ_CHECK(memchr(rq.version, '\0', sizeof rq.version) != NULL);
    FUZZ_CHECK(rq.content_length >= -1);

    free(frame);
    return 0;
}
