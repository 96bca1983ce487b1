/*
 * tls.h -- recognising TLS records, and the server name (SNI) from a TLS
 * ClientHello.
 */
#ifndef HANGUP_TLS_H
#define HANGUP_TLS_H

#include <stddef.h>
#include <stdint.h>

/* TLS record content types that hangup tells apart. */
enum { HU_TLS_ALERT = 0x15, HU_TLS_HANDSHAKE = 0x16, HU_TLS_APPDATA = 0x17 };

/* The content type of the TLS record header at p[0, n) -- a type from 20
 * to 23 (change_cipher_spec .. application_data) followed by major
 * version 3 -- or 0 when p does not start one (n < 2 included). */
int hu_tls_record_type(const uint8_t *p, size_t n);

typedef enum hu_tls_rc {
    HU_TLS_SNI = 1,        /* found: out holds the name (raw bytes, NUL-terminated) */
    HU_TLS_NO_SNI = 0,     /* a complete ClientHello without server_name */
    HU_TLS_MORE = -1,      /* the bytes end before the hello does */
    HU_TLS_NOT_HELLO = -2, /* not a ClientHello, or malformed */
} hu_tls_rc;

/*
 * Parse the ClientHello that starts the client's stream at p[0, n).  Only
 * the first record is read (a hello split over records gives MORE until
 * the caller gives up).  Never reads outside p[0, n).  out must hold
 * outlen >= 1 bytes; a longer name is cut.
 */
hu_tls_rc hu_tls_sni(const uint8_t *p, size_t n, char *out, size_t outlen);

#endif
