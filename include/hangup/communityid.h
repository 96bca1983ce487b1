/*
 * communityid.h -- the Community ID of a TCP connection (version 1 of
 * Corelight's community-id-spec), the flow identifier Zeek, Suricata,
 * Arkime and Wireshark compute, so that an incident can be found in their
 * logs by one string: "1:" and the base64 of a SHA-1 over the connection's
 * endpoints, the same whichever endpoint is named first.  Why hangup
 * carries it: docs/DESIGN.md §3.4.
 */
#ifndef HANGUP_COMMUNITYID_H
#define HANGUP_COMMUNITYID_H

#include <stdbool.h>
#include <stdint.h>

/* "1:" + 28 base64 characters + NUL. */
#define HU_CID_LEN 31

/* The Community ID of the TCP connection between (a_addr, a_port) and
 * (b_addr, b_port), the addresses in network order (IPv4: the first 4 of
 * the 16 bytes), with the spec's seed (0 is the default every tool uses).
 * Writes "1:<base64>" into out, NUL-terminated; the order of the two
 * endpoints does not matter.  False, with out "", when ipver is neither 4
 * nor 6 or libcrypto fails. */
bool hu_cid_tcp(char out[HU_CID_LEN], uint16_t seed, uint8_t ipver, const uint8_t a_addr[16],
                uint16_t a_port, const uint8_t b_addr[16], uint16_t b_port);

#endif
