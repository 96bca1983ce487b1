/*
 * keylog.h -- TLS session secrets by client random: the NSS key log
 * format (SSLKEYLOGFILE) and a pcapng's Decryption Secrets Blocks.
 *
 * A table from a ClientHello's 32-byte random to the secrets a key log
 * gave for that session: the TLS 1.2 master secret (CLIENT_RANDOM) and the
 * TLS 1.3 traffic secrets (CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET,
 * CLIENT_/SERVER_TRAFFIC_SECRET_0).  Lines it cannot use (comments, other
 * labels, bad hex, wrong lengths) are skipped; CRLF is taken as LF.  The
 * secrets never leave this table but through hu_keylog_find, to the
 * decryptor (tlsdec.h); nothing here prints them.
 */
#ifndef HANGUP_KEYLOG_H
#define HANGUP_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HU_TLS_RANDOM 32
#define HU_TLS_SECRET_MAX 48

/* The TLS 1.3 secrets, by index. */
enum { HU_KL_CHTS, HU_KL_SHTS, HU_KL_CTS0, HU_KL_STS0, HU_KL_N13 };

/* One session's secrets: len 0 is "not given". */
typedef struct hu_tls_secrets {
    uint8_t master_len;                     /* 48, or 0 */
    uint8_t master[HU_TLS_SECRET_MAX];
    uint8_t len13[HU_KL_N13];               /* 32 or 48 (the suite's hash), or 0 */
    uint8_t s13[HU_KL_N13][HU_TLS_SECRET_MAX];
} hu_tls_secrets;

typedef struct hu_keylog hu_keylog;

/* An empty table; NULL on OOM. */
hu_keylog *hu_keylog_new(void);
void hu_keylog_free(hu_keylog *kl);

/* Read the key log at path now, and remember it: a lookup that misses
 * reads what was appended since (a log still being written, `live`).
 * False, with the reason (strerror) in err[0, n), when it cannot be
 * opened; false on OOM with err "out of memory". */
bool hu_keylog_add_file(hu_keylog *kl, const char *path, char *err, size_t n);

/* Key log lines in p[0, n) (a Decryption Secrets Block's), added. */
void hu_keylog_add_text(hu_keylog *kl, const uint8_t *p, size_t n);

/*
 * The secrets of pcapng Decryption Secrets Blocks of type TLS key log
 * ("TLSK") in the capture read from fp, from its start, added: the
 * blocks before the first packet block (where `editcap --inject-secrets`
 * puts them).  Stops at a malformed block; a file that is not pcapng
 * adds nothing.  Returns the number of blocks read.
 */
size_t hu_keylog_add_pcapng(hu_keylog *kl, FILE *fp);

/* The secrets for client random cr, merged from every line naming it,
 * into *out; false when none.  A miss first reads what the remembered
 * files gained since they were read. */
bool hu_keylog_find(hu_keylog *kl, const uint8_t cr[HU_TLS_RANDOM], hu_tls_secrets *out);

/* No sessions and no files to read more from: nothing to decrypt with. */
bool hu_keylog_empty(const hu_keylog *kl);

/* Sessions in the table. */
size_t hu_keylog_count(const hu_keylog *kl);

#endif
