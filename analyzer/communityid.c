/*
 * communityid.c -- the Community ID v1 of a TCP connection (see
 * communityid.h for the contract).
 *
 * The spec hashes, in this order: the seed (2 bytes, big endian), the
 * source address, the destination address, the protocol (1 byte), one
 * zero byte of padding, the source port and the destination port (2 bytes
 * each, big endian).  Source and destination are the two endpoints
 * ordered so that the smaller address comes first, or with equal
 * addresses the smaller port; so both directions of a connection get one
 * ID.  SHA-1 and base64 are libcrypto's: the digest is what every other
 * implementation computes, and there is no point in a copy of our own.
 *
 * The digest is OpenSSL's SHA1_Init/Update/Final, which OpenSSL 3 marks
 * deprecated in favour of EVP_Digest, on purpose: the first EVP call
 * initialises OpenSSL 3's provider machinery (the default provider, its
 * algorithm and name tables), 2.2 MB resident for the process's life, and
 * a capture without TLS keys needs nothing else of it.  The low-level
 * functions compute the same digest directly (docs/BENCHMARKS.md, memory
 * at 50,000 open connections).
 */
#define OPENSSL_SUPPRESS_DEPRECATED   /* SHA1_Init and friends: see above */
#include "hangup/communityid.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

#define CID_PROTO_TCP 6

bool hu_cid_tcp(char out[HU_CID_LEN], uint16_t seed, uint8_t ipver, const uint8_t a_addr[16],
                uint16_t a_port, const uint8_t b_addr[16], uint16_t b_port)
{
    out[0] = '\0';
    if (ipver != 4 && ipver != 6)
        return false;
    size_t alen = ipver == 4 ? 4 : 16;
    int c = memcmp(a_addr, b_addr, alen);
    bool swap = c > 0 || (c == 0 && a_port > b_port);
    const uint8_t *src = swap ? b_addr : a_addr, *dst = swap ? a_addr : b_addr;
    uint16_t sport = swap ? b_port : a_port, dport = swap ? a_port : b_port;

    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, src, alen);
    n += alen;
    memcpy(buf + n, dst, alen);
    n += alen;
    buf[n++] = CID_PROTO_TCP;
    buf[n++] = 0;   /* padding */
    buf[n++] = (uint8_t)(sport >> 8);
    buf[n++] = (uint8_t)sport;
    buf[n++] = (uint8_t)(dport >> 8);
    buf[n++] = (uint8_t)dport;

    unsigned char md[SHA_DIGEST_LENGTH];
    SHA_CTX sha;
    if (SHA1_Init(&sha) != 1 || SHA1_Update(&sha, buf, n) != 1 || SHA1_Final(md, &sha) != 1)
        return false;
    out[0] = '1';
    out[1] = ':';
    /* 20 bytes make 28 characters and a NUL: exactly what out holds. */
    EVP_EncodeBlock((unsigned char *)out + 2, md, SHA_DIGEST_LENGTH);
    return true;
}
