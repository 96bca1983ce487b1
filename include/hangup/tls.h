/*
 * tls.h -- recognising TLS records, and the server name (SNI) from a TLS
 * ClientHello.
 */
#ifndef HANGUP_TLS_H
#define HANGUP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* TLS record content types that hangup tells apart. */
enum { HU_TLS_ALERT = 0x15, HU_TLS_HANDSHAKE = 0x16, HU_TLS_APPDATA = 0x17 };

/* The content type of the TLS record header at p[0, n) -- a type from 20
 * to 23 (change_cipher_spec .. application_data) followed by major
 * version 3 -- or 0 when p does not start one (n < 2 included). */
int hu_tls_record_type(const uint8_t *p, size_t n);

/* Handshake message types a hello record starts with. */
enum { HU_TLS_CLIENT_HELLO = 1, HU_TLS_SERVER_HELLO = 2 };

/* Bytes of a hello's first record that hu_tls_hello_starts reads: the
 * record header, the handshake header and the hello's own version. */
#define HU_TLS_HELLO_HEAD 11

/*
 * Whether p[0, n) starts a TLS handshake record whose first message is a
 * hello of type hs (HU_TLS_CLIENT_HELLO or HU_TLS_SERVER_HELLO): content
 * type 22, record version 3.0 to 3.4, a record length of 4 to 2^14 + 2048
 * (TLSCiphertext's bound), the handshake type, a message length of at
 * least 38 (version, random, and the shortest session id, cipher and
 * compression fields) and below 2^17, and the hello's own version 3.0 to
 * 3.4.  Strict enough that a cleartext protocol's line or a message body
 * does not pass by chance (nine constrained bytes); it needs the first
 * HU_TLS_HELLO_HEAD bytes, which the first segment of any hello holds, and
 * is false when n is shorter.  Reads nothing outside p[0, n).
 */
bool hu_tls_hello_starts(const uint8_t *p, size_t n, int hs);

typedef enum hu_tls_rc {
    HU_TLS_SNI = 1,        /* found: out holds the name (raw bytes, NUL-terminated) */
    HU_TLS_NO_SNI = 0,     /* a complete ClientHello without server_name */
    HU_TLS_MORE = -1,      /* the bytes end before the hello does */
    HU_TLS_NOT_HELLO = -2, /* not a ClientHello, or malformed */
} hu_tls_rc;

/*
 * Parse the ClientHello that starts at p[0, n) (the client's stream from
 * its start, or from where a mid-stream hello begins).  Only
 * the first record is read (a hello split over records gives MORE until
 * the caller gives up).  Never reads outside p[0, n).  out must hold
 * outlen >= 1 bytes; a longer name is cut.
 */
hu_tls_rc hu_tls_sni(const uint8_t *p, size_t n, char *out, size_t outlen);

#endif
