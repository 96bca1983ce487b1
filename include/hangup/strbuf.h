/*
 * strbuf.h -- a growable byte string for building output lines.
 *
 * Output is rendered into a hu_sb and written with one fwrite, so a line
 * is never interleaved and nothing from the wire reaches a terminal or a
 * JSON document without passing through one of the escaping appenders.
 * Allocation failure is sticky: the buffer stops growing, `oom` is set and
 * later appends are ignored; callers check once at the end.
 */
#ifndef HANGUP_STRBUF_H
#define HANGUP_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hu_sb {
    char *buf;       /* NUL-terminated when len > 0 or after hu_sb_cstr */
    size_t len, cap;
    bool oom;
} hu_sb;

void hu_sb_free(hu_sb *sb);
void hu_sb_reset(hu_sb *sb);                 /* len = 0, keeps the memory */
void hu_sb_putc(hu_sb *sb, char c);
void hu_sb_put(hu_sb *sb, const void *p, size_t n);
void hu_sb_puts(hu_sb *sb, const char *s);
void hu_sb_printf(hu_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *hu_sb_cstr(hu_sb *sb);           /* "" when empty */
/* Write the buffer to fp; returns false on a write error. */
bool hu_sb_write(const hu_sb *sb, FILE *fp);

/* Append bytes from the wire as a JSON string literal (with quotes):
 * valid UTF-8 only, control characters and invalid bytes escaped. */
void hu_sb_json_str(hu_sb *sb, const uint8_t *p, size_t n);
/* Append bytes from the wire for a terminal: printable ASCII as is,
 * everything else as \xNN, so no escape sequence can reach the tty. */
void hu_sb_safe(hu_sb *sb, const uint8_t *p, size_t n);
/* Append bytes as a Prometheus label value's inside (without quotes), as
 * the text exposition format escapes it: backslash, double quote and
 * newline as \\, \" and \n; valid UTF-8 as is; other control characters
 * and bytes that are not UTF-8 as U+FFFD, so the text always parses. */
void hu_sb_prom_label(hu_sb *sb, const uint8_t *p, size_t n);
/* A duration for people, |us| scaled: "412 us", "3.250 ms", "5.001 s"
 * (negative durations keep their sign). */
void hu_sb_duration(hu_sb *sb, int64_t us);

/* "ip:port", IPv6 as "[addr]:port" (addr: 4 or 16 bytes by ipver); buf
 * must hold 64 bytes.  The one form every output writes endpoints in. */
void hu_endpoint_str(char *buf, size_t n, uint8_t ipver, const uint8_t *addr, uint16_t port);

#endif
