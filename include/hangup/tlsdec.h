/*
 * tlsdec.h -- one TLS connection decrypted with its session's secrets.
 *
 * Given a connection's in-order bytes, direction by direction, this
 * reassembles TLS records across segments, follows the handshake in the
 * clear (the ClientHello's random, the ServerHello's version, cipher
 * suite, random and encrypt_then_mac), looks the session up in a key log
 * (keylog.h) by the client random, derives each direction's keys, and
 * decrypts the records that follow with their sequence numbers: TLS 1.2
 * AES-GCM, ChaCha20-Poly1305 and AES-CBC with HMAC-SHA1/SHA256/SHA384
 * (MAC-then-encrypt, or encrypt-then-MAC when negotiated), TLS 1.3
 * AES-128/256-GCM and ChaCha20-Poly1305 with key updates.  The
 * application data's plaintext goes to a callback, with the TCP position
 * of the record that carried it.  Every cipher, MAC and KDF is
 * libcrypto's (EVP); only HKDF-Expand-Label's label and the records'
 * nonces and additional data are built here.
 *
 * A decryptor exists only for a TLS connection when a key log was given:
 * nothing here runs for any other connection.  It never prints: what the
 * user must hear (a missing key, a record that does not decrypt) comes
 * back as an event, once per connection, for the caller to word.
 */
#ifndef HANGUP_TLSDEC_H
#define HANGUP_TLSDEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hangup/keylog.h"

/* Directions, as the HTTP layer numbers them (http.h). */
enum { HU_TLSDEC_CLIENT = 0, HU_TLSDEC_SERVER = 1 };

typedef enum hu_tlsdec_event {
    HU_TLSDEC_NONE = 0,
    HU_TLSDEC_NO_KEY,         /* the key log has no secrets for this session */
    HU_TLSDEC_FAILED,         /* a record did not decrypt (tag or MAC): direction stopped */
    HU_TLSDEC_UNSUPPORTED,    /* a version or cipher suite hangup does not decrypt */
    HU_TLSDEC_MALFORMED,      /* a record longer than TLS allows: direction stopped */
} hu_tlsdec_event;

/* Plaintext application data sent by dir, from the record whose first
 * byte is at TCP position seq. */
typedef void (*hu_tlsdec_out)(void *arg, int dir, const uint8_t *p, size_t n, uint32_t seq);

typedef struct hu_tlsdec hu_tlsdec;

/* A decryptor looking sessions up in kl (borrowed, must outlive it);
 * NULL on OOM. */
hu_tlsdec *hu_tlsdec_new(hu_keylog *kl);
/* Frees d, its keys wiped first.  NULL is fine. */
void hu_tlsdec_free(hu_tlsdec *d);

/*
 * The next n in-order bytes sent by dir, the first at TCP position seq:
 * records completed by them are processed, application data handed to
 * out(arg, ...).  Returns the event these bytes caused, each kind at most
 * once per connection (HU_TLSDEC_NONE otherwise).  Never reads outside
 * p[0, n).
 */
hu_tlsdec_event hu_tlsdec_feed(hu_tlsdec *d, int dir, const uint8_t *p, size_t n, uint32_t seq,
                               hu_tlsdec_out out, void *arg);
/* Bytes sent by dir were lost to the capture: that direction stops. */
void hu_tlsdec_gap(hu_tlsdec *d, int dir);

/* The session's keys are known and its suite is one hangup decrypts:
 * from now on the connection's application data is plaintext (through
 * out), not records. */
bool hu_tlsdec_active(const hu_tlsdec *d);
/* The connection will not be decrypted: no key, or an unsupported
 * version or suite (never true once active). */
bool hu_tlsdec_off(const hu_tlsdec *d);
/* Direction dir stopped (a record failed, a gap) after it was active. */
bool hu_tlsdec_stopped(const hu_tlsdec *d, int dir);

/* The ClientHello's random as 64 lowercase hex digits and a NUL, or ""
 * before it was seen.  (The random is public: it is in the capture.) */
void hu_tlsdec_client_random(const hu_tlsdec *d, char out[2 * HU_TLS_RANDOM + 1]);
/* The negotiated cipher suite's number, 0 before the ServerHello. */
unsigned hu_tlsdec_suite(const hu_tlsdec *d);
/* The negotiated version (0x0303 for TLS 1.2, 0x0304 for 1.3), 0 before. */
unsigned hu_tlsdec_version(const hu_tlsdec *d);

/*
 * The client's plaintext from the first of its last 4 records that spans
 * TCP position seq (the lost request's first byte) or begins after it:
 * up to cap bytes into out, that record's first 1 KiB joined with the
 * next records' while each was whole in its 1 KiB.  0 when no such
 * record was decrypted.
 */
size_t hu_tlsdec_client_plain(const hu_tlsdec *d, uint32_t seq, uint8_t *out, size_t cap);

/* TLS 1.3's HKDF-Expand-Label(secret, label, "", outlen) with hash md
 * ("SHA256" or "SHA384"); false on a libcrypto failure.  For the key
 * schedule's tests. */
bool hu_tlsdec_expand_label(const char *md, const uint8_t *secret, size_t slen,
                            const char *label, uint8_t *out, size_t outlen);

#endif
