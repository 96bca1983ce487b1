/*
 * fuzz_tlsdec.c -- the TLS decryptor: key log lines, records and hellos.
 *
 * Input layout:
 *   byte 0-1  length K of the key log text (little endian, clamped)
 *   byte 2-3  length L of the client's stream (clamped)
 *   byte 4    seed of the schedule
 *   byte 5-   K bytes of key log text, then the client's L bytes, then
 *             the server's.
 *
 * The key log text is parsed (hu_keylog_add_text) into the table the
 * decryptor looks sessions up in, so an input that carries a session's
 * secrets and its records (a seed from a real capture does) reaches the
 * key schedules and the ciphers.  Both streams are fed to one decryptor,
 * interleaved in chunks the seed chooses, with a gap now and then; every
 * plaintext chunk must lie inside what was fed, and the lost request's
 * plaintext must fit the buffer it is asked for.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hangup/keylog.h"
#include "hangup/tlsdec.h"

static void on_plain(void *arg, int dir, const uint8_t *p, size_t n, uint32_t seq)
{
    size_t *total = arg;
    FUZZ_CHECK(dir == HU_TLSDEC_CLIENT || dir == HU_TLSDEC_SERVER);
    FUZZ_CHECK(n > 0 && n <= 16384 + 2048);
    (void)seq;
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)   /* every byte readable */
        sum ^= p[i];
    *total += n + (sum & 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    size_t k = (size_t)data[0] | (size_t)data[1] << 8;
    size_t l = (size_t)data[2] | (size_t)data[3] << 8;
    unsigned seed = data[4];
    data += 5;
    size -= 5;
    if (k > size)
        k = size;
    if (l > size - k)
        l = size - k;
    hu_keylog *kl = hu_keylog_new();
    if (!kl)
        return 0;
    hu_keylog_add_text(kl, data, k);
    hu_tlsdec *d = hu_tlsdec_new(kl);
    if (!d) {
        hu_keylog_free(kl);
        return 0;
    }
    const uint8_t *s[2] = { data + k, data + k + l };
    size_t left[2] = { l, size - k - l }, fed[2] = { 0, 0 }, total = 0;
    uint32_t pos[2] = { 1000, 5000000 };
    while (left[0] || left[1]) {
        int dir = left[0] && (!left[1] || (seed & 1)) ? 0 : 1;
        size_t n = 1 + seed % 97 * 13;
        if (n > left[dir])
            n = left[dir];
        hu_tlsdec_feed(d, dir, s[dir], n, pos[dir], on_plain, &total);
        s[dir] += n;
        left[dir] -= n;
        fed[dir] += n;
        pos[dir] += (uint32_t)n;
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 251 == 0)
            hu_tlsdec_gap(d, dir);
    }
    FUZZ_CHECK(total <= fed[0] + fed[1]);
    uint8_t out[1024];
    size_t got = hu_tlsdec_client_plain(d, 1000, out, sizeof out);
    FUZZ_CHECK(got <= sizeof out);
    char cr[2 * HU_TLS_RANDOM + 1];
    hu_tlsdec_client_random(d, cr);
    FUZZ_CHECK(strlen(cr) == 0 || strlen(cr) == 2 * HU_TLS_RANDOM);
    hu_tlsdec_free(d);
    hu_keylog_free(kl);
    return 0;
}
