/*
 * tls.h -- the server name (SNI) from a TLS ClientHello.
 */
#ifndef HANGUP_TLS_H
#define HANGUP_TLS_H

#include <stddef.h>
#include <stdint.h>

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
