/*
 * tcpprint.c -- tcpdump's one-line TCP rendering, reproduced.
 *
 * A user must be able to put hangup's timeline beside `tcpdump -n -r` of
 * the same file and see identical packet lines, so this file follows
 * tcpdump 4.99's print-tcp.c (and the pieces of print-ip.c, print-ip6.c,
 * print-sll.c, print-mptcp.c and print-http.c a TCP line goes through)
 * rule for rule: flag letters and their order, when seq/ack/win/urg
 * appear, option formatting (SACK edges relative like seq, MPTCP, where a
 * malformed or truncated option ends the line), relative sequence numbers
 * (computed by flow.c at packet time, since they depend on file order),
 * and the ": HTTP: ..." suffix on ports 80 and 8080.  Golden tests compare
 * this output with real tcpdump on every sample.
 *
 * It also holds the bases of released conversations (tcpdump's table
 * outlives hangup's connections): a bounded table with one hash lookup
 * per connection created, none per packet.
 */
#include "hangup/tcpprint.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void hu_tcpprint_time(hu_sb *sb, int64_t ts_us)
{
    time_t sec = (time_t)(ts_us >= 0 ? ts_us / 1000000 : (ts_us - 999999) / 1000000);
    int64_t usec = ts_us - (int64_t)sec * 1000000;
    struct tm tm;
    if (!localtime_r(&sec, &tm)) {
        hu_sb_puts(sb, "[Time out of range]");
        return;
    }
    hu_sb_printf(sb, "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)usec);
}

/* tcpdump's table of option names (print-tcp.c tcp_option_values); kind
 * 27 (Quick-Start) is not in 4.99's table, so it is unknown-27 there. */
static const char *opt_name(uint8_t opt, char *tmp, size_t n)
{
    switch (opt) {
    case 0: return "eol";
    case 1: return "nop";
    case 2: return "mss";
    case 3: return "wscale";
    case 4: return "sackOK";
    case 5: return "sack";
    case 6: return "echo";
    case 7: return "echoreply";
    case 8: return "TS";
    case 11: return "cc";
    case 12: return "ccnew";
    case 13: return "";
    case 19: return "md5";
    case 20: return "scps";
    case 28: return "uto";
    case 29: return "tcp-ao";
    case 30: return "mptcp";
    case 34: return "tfo";
    case 254: return "exp";
    default:
        snprintf(tmp, n, "unknown-%u", opt);
        return tmp;
    }
}

static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

/* print-tcp.c print_tcp_fastopen_option: a TFO cookie (or its request)
 * of n bytes at d, all captured; `exp` names it, as the experimental
 * option 254 does. */
static void print_tfo(hu_sb *sb, const uint8_t *d, uint32_t n, bool exp)
{
    if (exp)
        hu_sb_puts(sb, "tfo");
    if (n == 0) {
        hu_sb_puts(sb, " cookiereq");
    } else if (n % 2 != 0 || n < 4 || n > 16) {
        hu_sb_puts(sb, " (invalid)");
    } else {
        hu_sb_puts(sb, " cookie ");
        for (uint32_t i = 0; i < n; i++)
            hu_sb_printf(sb, "%02x", d[i]);
    }
}

/* One of DSS's numbers: 8 bytes when `wide`, else 4, from *d (left bytes
 * there); false when they are not all there. */
static bool dss_number(hu_sb *sb, const uint8_t **d, uint32_t *left, bool wide)
{
    uint32_t n = wide ? 8 : 4;
    if (*left < n)
        return false;
    if (wide)
        hu_sb_printf(sb, "%" PRIu64, rd64(*d));
    else
        hu_sb_printf(sb, "%u", rd32(*d));
    *d += n;
    *left -= n;
    return true;
}

/* print-mptcp.c's DSS (subtype 2) of len bytes at o: its flags octet says
 * which fields follow; false when the length does not fit them exactly
 * (a checksum is taken when two bytes are left). */
static bool print_mptcp_dss(hu_sb *sb, const uint8_t *o, uint32_t len)
{
    if (len < 4)
        return false;
    uint8_t fl = o[3];
    const uint8_t *d = o + 4;
    uint32_t left = len - 4;
    if (fl & 0x10)
        hu_sb_puts(sb, " fin");
    if (fl & 0x01) {
        hu_sb_puts(sb, " ack ");
        if (!dss_number(sb, &d, &left, fl & 0x02))
            return false;
    }
    if (fl & 0x04) {
        hu_sb_puts(sb, " seq ");
        if (!dss_number(sb, &d, &left, fl & 0x08))
            return false;
        if (left < 4)
            return false;
        hu_sb_printf(sb, " subseq %u", rd32(d));
        d += 4;
        left -= 4;
        if (left < 2)
            return false;
        hu_sb_printf(sb, " len %u", rd16(d));
        d += 2;
        left -= 2;
        if (left >= 2) {
            hu_sb_printf(sb, " csum 0x%x", rd16(d));
            left -= 2;
        }
    }
    return left == 0;
}

/*
 * print-mptcp.c: the MPTCP option (kind 30) of `len` bytes at o, kind and
 * length octets included, every byte captured; tflags are the segment's
 * TCP flags, which decide which forms of a subtype are valid.  Prints
 * " LEN SUBTYPE" and the subtype's fields; returns false where tcpdump's
 * printer fails (the caller then prints "[bad opt]" after what was
 * printed so far).
 */
static bool print_mptcp(hu_sb *sb, const uint8_t *o, uint32_t len, uint8_t tflags)
{
    static const char *const names[] = { "capable", "join", "dss", "add-addr", "rem-addr",
                                         "prio", "fail", "fast-close", "unknown" };
    if (len < 3)
        return false;
    unsigned sub = o[2] >> 4;
    if (sub > 8)
        sub = 8;
    hu_sb_printf(sb, " %u %s", len, names[sub]);
    bool syn = tflags & HU_TH_SYN, ack = tflags & HU_TH_ACK;
    switch (sub) {
    case 0: {   /* MP_CAPABLE */
        if (!((len == 12 || len == 4) && syn) && !((len == 20 || len == 22) && ack && !syn))
            return false;
        unsigned ver = o[2] & 0xf;
        if (ver > 1) {
            hu_sb_printf(sb, " Unknown Version (%u)", ver);
            return true;
        }
        hu_sb_printf(sb, " v%u", ver);
        if (o[3] & 0x80)
            hu_sb_puts(sb, " csum");
        if (len == 12 || len >= 20) {
            hu_sb_printf(sb, " {0x%" PRIx64, rd64(o + 4));
            if (len >= 20)
                hu_sb_printf(sb, ",0x%" PRIx64, rd64(o + 12));
            hu_sb_putc(sb, '}');
        }
        return true;
    }
    case 1:     /* MP_JOIN: SYN, SYN-ACK and ACK forms by length */
        if (!(len == 12 && syn) && !(len == 16 && syn && ack) && !(len == 24 && ack))
            return false;
        if (len != 24) {
            if (o[2] & 1)
                hu_sb_puts(sb, " backup");
            hu_sb_printf(sb, " id %u", o[3]);
        }
        if (len == 12) {
            hu_sb_printf(sb, " token 0x%x nonce 0x%x", rd32(o + 4), rd32(o + 8));
        } else if (len == 16) {
            hu_sb_printf(sb, " hmac 0x%" PRIx64 " nonce 0x%x", rd64(o + 4), rd32(o + 12));
        } else {
            hu_sb_puts(sb, " hmac 0x");
            for (unsigned i = 0; i < 20; i++)
                hu_sb_printf(sb, "%02x", o[4 + i]);
        }
        return true;
    case 2:
        return !syn && print_mptcp_dss(sb, o, len);
    case 3: {   /* ADD_ADDR: address family, port and HMAC by length */
        bool v4 = len == 8 || len == 10 || len == 16 || len == 18;
        bool v6 = len == 20 || len == 22 || len == 28 || len == 30;
        if (!v4 && !v6)
            return false;
        static const char *const echo[] = { "v1", "v1-echo", NULL, NULL, "v0-ip4", NULL, "v0-ip6" };
        unsigned e = o[2] & 0xf;
        hu_sb_printf(sb, " %s", e < 7 && echo[e] ? echo[e] : "[bad version/echo]");
        hu_sb_printf(sb, " id %u", o[3]);
        char a[INET6_ADDRSTRLEN];
        inet_ntop(v4 ? AF_INET : AF_INET6, o + 4, a, sizeof a);
        hu_sb_printf(sb, " %s", a);
        uint32_t end = v4 ? 8 : 20;   /* after the address */
        bool port = len == end + 2 || len == end + 10;
        if (port)
            hu_sb_printf(sb, ":%u", rd16(o + end));
        if (len >= end + 8)
            hu_sb_printf(sb, " hmac 0x%" PRIx64, rd64(o + end + (port ? 2 : 0)));
        return true;
    }
    case 4:     /* REMOVE_ADDR: a list of address ids */
        if (len < 4)
            return false;
        hu_sb_puts(sb, " id");
        for (uint32_t i = 3; i < len; i++)
            hu_sb_printf(sb, " %u", o[i]);
        return true;
    case 5:     /* MP_PRIO */
        if (len != 3 && len != 4)
            return false;
        hu_sb_puts(sb, (o[2] & 1) ? " backup" : " non-backup");
        if (len == 4)
            hu_sb_printf(sb, " id %u", o[3]);
        return true;
    case 6:     /* MP_FAIL */
        if (len != 12)
            return false;
        hu_sb_printf(sb, " seq %" PRIu64, rd64(o + 4));
        return true;
    case 7:     /* MP_FASTCLOSE */
        if (len != 12)
            return false;
        hu_sb_printf(sb, " key 0x%" PRIx64, rd64(o + 4));
        return true;
    default:
        return true;
    }
}

/* How an option list ends: "]" and the rest of the line, or one of
 * tcpdump's marks, after which the line stops. */
typedef enum {
    OPTS_OK,
    OPTS_BAD,      /* "[bad opt]", and "]" once an option was printed */
    OPTS_TRUNC,    /* a byte read past the capture: " [|proto]" */
    OPTS_SHORT,    /* data for an option not captured: " [|proto]", ">" once one was printed */
} opts_end;

/*
 * print-tcp.c's option loop over s->opts (s->optlen bytes in the header,
 * of which the capture kept s->optcap).  `len` is an option's total
 * length (kind and length octets included); `hlen` the header's bytes
 * left after them.  Data an option needs beyond hlen is "[bad opt]"; data
 * within hlen that was not captured is tcpdump's truncation mark.  Either
 * ends the whole line: returns false then.  One function of about 150
 * lines on purpose: it is a switch with a case per option kind in
 * print-tcp.c's order, so that each case can be checked against tcpdump's
 * side by side; split up, the shared bounds checks would be repeated.
 */
static bool print_options(hu_sb *sb, const hu_pktsum *s)
{
    const uint8_t *opts = hu_pktsum_opts(s);
    uint32_t i = 0, hlen = s->optlen, cap = s->optcap;
    const char *proto = "tcp";   /* tcpdump's name for the layer being read */
    char sep = '\0';
    opts_end end = OPTS_OK;
    if (cap > hlen + 1u)
        cap = hlen + 1u;   /* the options and a first payload byte at most */
    hu_sb_puts(sb, ", options [");
/* The option's data: l bytes must be left in the header and captured. */
#define LENCHECK(l) do { if ((l) > hlen) { end = OPTS_BAD; goto out; } \
                         if (i + (l) > cap) { end = OPTS_SHORT; goto out; } } while (0)
    while (hlen > 0) {
        if (sep)
            hu_sb_putc(sb, sep);
        if (i >= cap) {
            end = OPTS_TRUNC;
            goto out;
        }
        uint8_t opt = opts[i++];
        uint32_t len = 1;
        bool zerolen = opt == 0 || opt == 1;
        if (!zerolen) {
            if (i >= cap) {   /* the length octet may lie past the header */
                end = OPTS_TRUNC;
                goto out;
            }
            len = hlen >= 2 ? opts[i] : 0;   /* past the header: invalid whatever it is */
            i++;
            if (len < 2 || len > hlen) {
                end = OPTS_BAD;
                goto out;
            }
            --hlen;
        }
        --hlen;
        const uint8_t *cp = opts + i;
        char tmp[24];
        hu_sb_puts(sb, opt_name(opt, tmp, sizeof tmp));
        uint32_t datalen = 0;
        switch (opt) {
        case 2: case 28:
            datalen = 2;
            LENCHECK(datalen);
            if (opt == 2) {
                hu_sb_printf(sb, " %u", rd16(cp));
            } else {
                uint16_t v = rd16(cp);
                hu_sb_printf(sb, " 0x%x %u", v, (v & 1) ? (v >> 1) * 60u : v >> 1);
            }
            break;
        case 3:
            datalen = 1;
            LENCHECK(datalen);
            hu_sb_printf(sb, " %u", cp[0]);
            break;
        case 5:
            datalen = len - 2;
            if (datalen % 8 != 0) {
                hu_sb_puts(sb, " invalid sack");
            } else {
                hu_sb_printf(sb, " %u ", datalen / 8);
                for (uint32_t k = 0; k < datalen; k += 8) {
                    LENCHECK(k + 8);
                    hu_sb_printf(sb, "{%u:%u}", rd32(cp + k) - s->sackbase,
                                 rd32(cp + k + 4) - s->sackbase);
                }
            }
            break;
        case 6: case 7: case 11: case 12: case 13:
            datalen = 4;
            LENCHECK(datalen);
            hu_sb_printf(sb, " %u", rd32(cp));
            break;
        case 8:
            datalen = 8;
            LENCHECK(datalen);
            hu_sb_printf(sb, " val %u ecr %u", rd32(cp), rd32(cp + 4));
            break;
        case 19:   /* tcpdump has no -M secret, so it cannot check the signature */
            datalen = 16;
            LENCHECK(datalen);
            hu_sb_puts(sb, s->snapcut ? " snaplen too short, " : " shared secret not supplied with -M, ");
            hu_sb_puts(sb, "can't check - ");
            for (uint32_t k = 0; k < datalen; k++)
                hu_sb_printf(sb, "%02x", cp[k]);
            break;
        case 20:
            datalen = 2;
            LENCHECK(datalen);
            hu_sb_printf(sb, " cap %02x id %u", cp[0], cp[1]);
            break;
        case 29:
            datalen = len - 2;
            if (datalen < 2) {
                hu_sb_puts(sb, " (invalid)");
                break;
            }
            LENCHECK(1);
            hu_sb_printf(sb, " keyid %u", cp[0]);
            LENCHECK(2);
            hu_sb_printf(sb, " rnextkeyid %u", cp[1]);
            if (datalen > 2)
                hu_sb_puts(sb, " mac 0x");
            for (uint32_t k = 2; k < datalen; k++) {
                LENCHECK(k + 1);
                hu_sb_printf(sb, "%02x", cp[k]);
            }
            break;
        case 30:
            datalen = len - 2;
            LENCHECK(datalen);
            proto = "mptcp";   /* tcpdump's truncation mark names it from here on */
            if (!print_mptcp(sb, cp - 2, len, s->flags)) {
                end = OPTS_BAD;
                goto out;
            }
            break;
        case 34:
            datalen = len - 2;
            LENCHECK(datalen);
            hu_sb_putc(sb, ' ');
            print_tfo(sb, cp, datalen, false);
            break;
        case 254:   /* RFC 6994: a 16-bit experiment id, then its data */
            datalen = len - 2;
            LENCHECK(datalen);
            if (datalen < 2) {
                end = OPTS_BAD;
                goto out;
            }
            hu_sb_putc(sb, '-');
            if (rd16(cp) == 0xf989)
                print_tfo(sb, cp + 2, datalen - 2, true);
            else
                hu_sb_printf(sb, "%04x", rd16(cp));
            break;
        case 0: case 1: case 4:
            break;
        default:
            datalen = len - 2;
            if (datalen)
                hu_sb_puts(sb, " 0x");
            for (uint32_t k = 0; k < datalen; k++) {
                LENCHECK(k + 1);
                hu_sb_printf(sb, "%02x", cp[k]);
            }
            break;
        }
#undef LENCHECK
        i += datalen;
        hlen -= datalen < hlen ? datalen : hlen;
        datalen++;
        if (!zerolen)
            datalen++;
        if (datalen != len)
            hu_sb_printf(sb, "[len %u]", len);
        sep = ',';
        if (opt == 0)
            break;
    }
out:
    switch (end) {
    case OPTS_OK:
        hu_sb_putc(sb, ']');
        return true;
    case OPTS_BAD:
        hu_sb_puts(sb, "[bad opt]");
        if (sep)
            hu_sb_putc(sb, ']');
        return false;
    case OPTS_TRUNC:
    case OPTS_SHORT:
        hu_sb_printf(sb, " [|%s]", proto);
        if (end == OPTS_SHORT && sep)
            hu_sb_putc(sb, '>');
        return false;
    }
    return false;
}

/* ------------------------------------------------ released conversations */

/* Slots are written in release order, round the array, so the slot to
 * write next holds the conversation put longest ago; a taken slot is
 * left empty (ipver 0) until its turn comes round.  Hash chains link
 * slot numbers plus one (0 ends a chain). */
typedef struct conv_slot {
    uint8_t ipver;            /* 0: empty */
    uint8_t addr[2][16];
    uint16_t port[2];
    uint32_t base[2];
    uint32_t hash;
    uint32_t next;
} conv_slot;

struct hu_tcpprint_convs {
    size_t max, nbuckets;     /* nbuckets: a power of two, at least max */
    size_t write;             /* the slot the next put takes */
    conv_slot *slot;          /* max of them, allocated on the first put */
    uint32_t *bucket;
};

hu_tcpprint_convs *hu_tcpprint_convs_new(size_t max)
{
    hu_tcpprint_convs *c = max ? calloc(1, sizeof *c) : NULL;
    if (!c)
        return NULL;
    c->max = max < UINT32_MAX / 2 ? max : UINT32_MAX / 2;
    for (c->nbuckets = 1; c->nbuckets < c->max; c->nbuckets *= 2)
        ;
    return c;
}

void hu_tcpprint_convs_free(hu_tcpprint_convs *c)
{
    if (!c)
        return;
    free(c->slot);
    free(c->bucket);
    free(c);
}

static bool conv_is(const conv_slot *e, const hu_tcpprint_ends *k, uint32_t hash)
{
    size_t n = k->ipver == 4 ? 4 : 16;
    return e->hash == hash && e->ipver == k->ipver && e->port[0] == k->port[0] &&
           e->port[1] == k->port[1] && memcmp(e->addr[0], k->addr[0], n) == 0 &&
           memcmp(e->addr[1], k->addr[1], n) == 0;
}

/* The link that leads to conv's slot (or the chain's final 0). */
static uint32_t *conv_link(hu_tcpprint_convs *c, const hu_tcpprint_ends *k, uint32_t hash)
{
    uint32_t *l = &c->bucket[hash & (c->nbuckets - 1)];
    while (*l && !conv_is(&c->slot[*l - 1], k, hash))
        l = &c->slot[*l - 1].next;
    return l;
}

/* Empty slot i, unlinking it from its chain. */
static void conv_drop(hu_tcpprint_convs *c, uint32_t i)
{
    conv_slot *e = &c->slot[i];
    uint32_t *l = &c->bucket[e->hash & (c->nbuckets - 1)];
    while (*l != i + 1)
        l = &c->slot[*l - 1].next;
    *l = e->next;
    e->ipver = 0;
}

void hu_tcpprint_convs_put(hu_tcpprint_convs *c, const hu_tcpprint_ends *conv, uint32_t hash,
                           const uint32_t base[2])
{
    if (!c->slot) {
        c->slot = calloc(c->max, sizeof *c->slot);
        c->bucket = calloc(c->nbuckets, sizeof *c->bucket);
        if (!c->slot || !c->bucket) {
            free(c->slot);
            free(c->bucket);
            c->slot = NULL;
            c->bucket = NULL;
            return;
        }
    }
    uint32_t *l = conv_link(c, conv, hash);
    if (*l)
        conv_drop(c, *l - 1);
    uint32_t i = (uint32_t)c->write;
    c->write = (c->write + 1) % c->max;
    conv_slot *e = &c->slot[i];
    if (e->ipver)
        conv_drop(c, i);
    size_t n = conv->ipver == 4 ? 4 : 16;
    e->ipver = conv->ipver;
    memcpy(e->addr[0], conv->addr[0], n);
    memcpy(e->addr[1], conv->addr[1], n);
    e->port[0] = conv->port[0];
    e->port[1] = conv->port[1];
    e->base[0] = base[0];
    e->base[1] = base[1];
    e->hash = hash;
    uint32_t *b = &c->bucket[hash & (c->nbuckets - 1)];
    e->next = *b;
    *b = i + 1;
}

bool hu_tcpprint_convs_take(hu_tcpprint_convs *c, const hu_tcpprint_ends *conv, uint32_t hash,
                            uint32_t base[2])
{
    if (!c->slot)
        return false;
    uint32_t *l = conv_link(c, conv, hash);
    if (!*l)
        return false;
    conv_slot *e = &c->slot[*l - 1];
    base[0] = e->base[0];
    base[1] = e->base[1];
    *l = e->next;
    e->ipver = 0;
    return true;
}

/* ------------------------------------------------------------- lines */

static void print_addr(hu_sb *sb, uint8_t ipver, const uint8_t *a, uint16_t port)
{
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(ipver == 4 ? AF_INET : AF_INET6, a, buf, sizeof buf);
    hu_sb_printf(sb, "%s.%u", buf, port);
}

/* print-sll.c: without -e, LINUX_SLL2 shows the interface and direction. */
static void print_sll2(hu_sb *sb, const hu_pktsum *s)
{
    char name[IF_NAMESIZE + 1];
    const char *ifname = if_indextoname(s->ifindex, name) ? name : "?";
    static const char *const dirs[] = { "In", "B", "M", "P", "Out" };
    hu_sb_printf(sb, "%-5s %-3s ", ifname, s->pkttype < 5 ? dirs[s->pkttype] : "?");
}

size_t hu_tcpprint_flags(uint8_t flags, char out[9])
{
    static const struct { uint8_t bit; char c; } flagtab[] = {
        { HU_TH_FIN, 'F' }, { HU_TH_SYN, 'S' }, { HU_TH_RST, 'R' }, { HU_TH_PUSH, 'P' },
        { HU_TH_ACK, '.' }, { HU_TH_URG, 'U' }, { HU_TH_ECE, 'E' }, { HU_TH_CWR, 'W' },
    };
    size_t k = 0;
    for (size_t i = 0; i < sizeof flagtab / sizeof flagtab[0]; i++)
        if (flags & flagtab[i].bit)
            out[k++] = flagtab[i].c;
    out[k] = '\0';
    return k;
}

void hu_tcpprint_line(hu_sb *sb, const hu_tcpprint_ends *ends, const hu_pktsum *s)
{
    hu_tcpprint_time(sb, s->ts_us);
    hu_sb_putc(sb, ' ');
    if (s->has_sll2)
        print_sll2(sb, s);
    const char *text = hu_pktsum_text(s);
    hu_sb_put(sb, text, s->text_pre);
    hu_sb_puts(sb, ends->ipver == 4 ? "IP " : "IP6 ");
    uint8_t from = s->side & 1u, to = (uint8_t)!from;
    if (s->text_ext) {   /* print-ip6.c: the addresses, the headers, then the ports */
        char a[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, ends->addr[from], a, sizeof a);
        hu_sb_printf(sb, "%s > ", a);
        inet_ntop(AF_INET6, ends->addr[to], a, sizeof a);
        hu_sb_printf(sb, "%s: ", a);
        hu_sb_put(sb, text + s->text_pre, s->text_ext);
        hu_sb_printf(sb, "%u > %u", ends->port[from], ends->port[to]);
    } else {
        print_addr(sb, ends->ipver, ends->addr[from], ends->port[from]);
        hu_sb_puts(sb, " > ");
        print_addr(sb, ends->ipver, ends->addr[to], ends->port[to]);
    }
    hu_sb_puts(sb, ": Flags [");
    char fl[9];
    hu_sb_puts(sb, hu_tcpprint_flags(s->flags, fl) ? fl : "none");
    hu_sb_putc(sb, ']');
    if (s->paylen > 0 || (s->flags & (HU_TH_SYN | HU_TH_FIN | HU_TH_RST))) {
        hu_sb_printf(sb, ", seq %u", s->seq);
        if (s->paylen > 0)
            hu_sb_printf(sb, ":%u", s->seq + s->paylen);
    }
    if (s->flags & HU_TH_ACK)
        hu_sb_printf(sb, ", ack %u", s->ack);
    hu_sb_printf(sb, ", win %u", s->win);
    if (s->flags & HU_TH_URG)
        hu_sb_printf(sb, ", urg %u", s->urp);
    if (s->optlen > 0 && !print_options(sb, s))
        return;
    hu_sb_printf(sb, ", length %u", s->paylen);
    const char *suffix = hu_pktsum_http(s);
    if (suffix)
        hu_sb_puts(sb, suffix);
}

/* ------------------------------------------- encapsulations (decode.c) */

/*
 * print-ip6.c's text for the extension headers of the IPv6 header at ip6,
 * which end at `end` (where decode.c found the next protocol): "HBH ",
 * "DSTOPT ", "frag (OFFSET|LEN) ".  Returns false, having appended
 * nothing, for a chain holding another header (routing, AH, ...), whose
 * text is not reproduced (docs/DESIGN.md §7).
 */
static bool print_ip6_ext(hu_sb *sb, const uint8_t *ip6, const uint8_t *end)
{
    size_t start = sb->len;
    uint8_t nh = ip6[6];
    for (const uint8_t *q = ip6 + 40; q < end;) {
        uint32_t ext;
        switch (nh) {
        case 0: case 60:
            hu_sb_puts(sb, nh == 0 ? "HBH " : "DSTOPT ");
            ext = ((uint32_t)q[1] + 1) * 8;
            break;
        case 44:
            hu_sb_printf(sb, "frag (%u|%u) ", rd16(q + 2) & 0xfff8u,
                         (unsigned)(40u + rd16(ip6 + 4) - (uint32_t)(q - ip6) - 8u));
            ext = 8;
            break;
        default:
            sb->len = start;
            if (sb->buf)
                sb->buf[start] = '\0';
            return false;
        }
        nh = q[0];
        q += ext;
    }
    return true;
}

/* An outer IP header's text: "IP a > b: ", or with the UDP ports of the
 * tunnel it carries ("IP a.sport > b.dport: "); IPv6 extension headers
 * between the addresses and the ports.  `end` is where the next header
 * decode.c recorded starts. */
static void print_outer_ip(hu_sb *sb, bool v6, const uint8_t *ip, const uint8_t *end, bool udp)
{
    const uint8_t *l4 = udp ? end - 8 : end;
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 8 : 12), a, sizeof a);
    inet_ntop(v6 ? AF_INET6 : AF_INET, ip + (v6 ? 24 : 16), b, sizeof b);
    hu_sb_puts(sb, v6 ? "IP6 " : "IP ");
    if (v6 && l4 > ip + 40) {
        hu_sb_printf(sb, "%s > %s: ", a, b);
        print_ip6_ext(sb, ip, l4);   /* nothing when tcpdump's text is not reproduced */
        if (udp)
            hu_sb_printf(sb, "%u > %u: ", rd16(l4), rd16(l4 + 2));
    } else if (udp) {
        hu_sb_printf(sb, "%s.%u > %s.%u: ", a, rd16(l4), b, rd16(l4 + 2));
    } else {
        hu_sb_printf(sb, "%s > %s: ", a, b);
    }
}

/* print-gre.c gre_print_0 without -v: "GREv0[, off N][, key=K][, seq S],
 * length L: ", and tcpdump's text for a protocol it does not decode
 * (ERSPAN, which hangup goes on into: "gre-proto-0x88be: "). */
static void print_gre(hu_sb *sb, const uint8_t *g, uint32_t len)
{
    uint16_t flags = rd16(g), proto = rd16(g + 2);
    const uint8_t *q = g + 4;
    hu_sb_puts(sb, "GREv0");
    if (flags & 0x8000) {
        hu_sb_printf(sb, ", off 0x%x", rd16(q + 2));
        q += 4;
    }
    if (flags & 0x2000) {
        hu_sb_printf(sb, ", key=0x%x", rd32(q));
        q += 4;
    }
    if (flags & 0x1000)
        hu_sb_printf(sb, ", seq %u", rd32(q));
    hu_sb_printf(sb, ", length %u: ", len);
    if (proto != 0x0800 && proto != 0x86dd && proto != 0x6558 && proto != 0x8847 &&
        proto != 0x8848)
        hu_sb_printf(sb, "gre-proto-0x%x: ", proto);
}

/* print-mpls.c without -v: each label of the stack, then a blank. */
static void print_mpls(hu_sb *sb, const uint8_t *m)
{
    hu_sb_puts(sb, "MPLS");
    for (uint32_t e = 0; !(e & 0x100); m += 4) {
        e = rd32(m);
        hu_sb_printf(sb, " (label %u, tc %u%s, ttl %u)", e >> 12, (e >> 9) & 7u,
                     (e & 0x100) ? ", [S]" : "", e & 0xffu);
    }
    hu_sb_putc(sb, ' ');
}

static void print_encap(hu_sb *sb, const hu_pkt *p, unsigned i)
{
    const uint8_t *at = p->frame + p->encap_off[i];
    const uint8_t *end = i + 1u < p->nencap ? p->frame + p->encap_off[i + 1] : p->iph;
    uint8_t next = i + 1u < p->nencap ? p->encap_kind[i + 1] : 0;
    bool udp = next == HU_ENC_VXLAN || next == HU_ENC_GENEVE;
    switch (p->encap_kind[i]) {
    case HU_ENC_IP4: case HU_ENC_IP6:
        print_outer_ip(sb, p->encap_kind[i] == HU_ENC_IP6, at, end, udp);
        break;
    case HU_ENC_VXLAN:   /* print-vxlan.c: the inner frame on a line of its own */
        hu_sb_printf(sb, "VXLAN, flags [%s] (0x%02x), vni %u\n", (at[0] & 0x08) ? "I" : "invalid",
                     at[0], rd32(at + 4) >> 8);
        break;
    case HU_ENC_GENEVE: {
        static const char *const fl[] = { "none", "C", "O", "OC" };
        uint32_t rsvd = at[7], opts = (uint32_t)(at[0] & 0x3f) * 4;
        hu_sb_printf(sb, "Geneve, Flags [%s], vni 0x%x", fl[at[1] >> 6], rd32(at + 4) >> 8);
        if (rsvd)
            hu_sb_printf(sb, ", rsvd 0x%x", rsvd);
        if (opts)
            hu_sb_printf(sb, ", options [%u bytes]", opts);
        hu_sb_puts(sb, ": ");
        break;
    }
    case HU_ENC_GRE:
        print_gre(sb, at, p->encap_len[i]);
        break;
    case HU_ENC_MPLS:
        print_mpls(sb, at);
        break;
    case HU_ENC_PPPOE:
        hu_sb_printf(sb, "PPPoE  [ses 0x%x] ", rd16(at + 2));
        break;
    default:
        break;
    }
}

bool hu_tcpprint_packet_text(const hu_pkt *p, hu_sb *sb, uint16_t *pre, uint16_t *ext)
{
    size_t start = sb->len;
    for (unsigned i = 0; i < p->nencap; i++)
        print_encap(sb, p, i);
    size_t a = sb->len;
    if (p->ipver == 6 && p->iph && p->opts - 20 > p->iph + 40)
        print_ip6_ext(sb, p->iph, p->opts - 20);
    size_t b = sb->len;
    hu_tcpprint_payload_suffix(p, sb);
    if (sb->oom || a - start > UINT16_MAX || b - a > UINT16_MAX) {
        sb->len = start;
        if (sb->buf)
            sb->buf[start] = '\0';
        *pre = *ext = 0;
        return false;
    }
    *pre = (uint16_t)(a - start);
    *ext = (uint16_t)(b - a);
    return sb->len > start;
}

/* util-print.c fetch_token: a run of printable non-blank ASCII at p[idx]
 * ending at a blank, CR, LF or the end; then skip blanks.  Returns the
 * index after it (0 when there is no token, it is too long, or one of its
 * bytes was not captured; the blank skip just stops at the capture's end)
 * and copies the token to tok. */
static uint32_t fetch_token(const uint8_t *p, uint32_t caplen, uint32_t len, uint32_t idx,
                            char *tok, size_t toklen)
{
    size_t toki = 0;
    for (; idx < len; idx++) {
        if (idx >= caplen)
            return 0;
        uint8_t c = p[idx];
        if (c >= 0x80)
            return 0;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            break;
        if (c < 0x21 || c > 0x7e)
            return 0;
        if (toki + 1 >= toklen)
            return 0;
        tok[toki++] = (char)c;
    }
    if (toki == 0)
        return 0;
    tok[toki] = '\0';
    for (; idx < len && idx < caplen; idx++)
        if (p[idx] != ' ' && p[idx] != '\t')
            break;
    return idx;
}

static const char *const http_methods[] = {
    "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE",
    "MKCOL", "TRACE", "LABEL", "MERGE", "DELETE", "SEARCH", "UNLOCK", "REPORT",
    "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS", "CHECKIN", "PROPFIND",
    "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH",
    "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE", "UNSUBSCRIBE", "RPC_CONNECT",
    "VERSION-CONTROL", "BASELINE-CONTROL", NULL,
};
static const char *const rtsp_methods[] = {
    "DESCRIBE", "ANNOUNCE", "GET_PARAMETER", "OPTIONS", "PAUSE", "PLAY", "RECORD",
    "REDIRECT", "SETUP", "SET_PARAMETER", "TEARDOWN", NULL,
};

/* " [|name]": tcpdump's mark for bytes it needed but were not captured. */
static void trunc_mark(hu_sb *sb, const char *name)
{
    hu_sb_puts(sb, " [|");
    for (const char *c = name; *c; c++)
        hu_sb_putc(sb, (char)tolower((unsigned char)*c));
    hu_sb_putc(sb, ']');
}

/* util-print.c txtproto_print, without -v: ": NAME", then ": <first line>"
 * when the line qualifies.  cmds == NULL means every line qualifies. */
static void txtproto(hu_sb *sb, const hu_pkt *p, const char *name, const char *const *cmds)
{
    const uint8_t *d = p->payload;
    uint32_t len = p->paylen, cap = p->capturedlen;
    hu_sb_puts(sb, ": ");
    hu_sb_puts(sb, name);
    bool print_this = cmds == NULL;
    if (cmds) {
        char tok[130];
        uint32_t idx = fetch_token(d, cap, len, 0, tok, sizeof tok);
        if (idx != 0) {
            /* Methods are 3 to 16 letters: most body segments fail here
             * without a single comparison. */
            size_t tl = strlen(tok);
            for (size_t i = 0; tl >= 3 && tl <= 16 && cmds[i] && !print_this; i++)
                if (strlen(cmds[i]) == tl && strcasecmp(tok, cmds[i]) == 0)
                    print_this = true;
            if (!print_this) {
                char tok2[130];
                if (fetch_token(d, cap, len, idx, tok2, sizeof tok2) != 0 && strlen(tok2) == 3 &&
                    isdigit((unsigned char)tok2[0]) && isdigit((unsigned char)tok2[1]) &&
                    isdigit((unsigned char)tok2[2]))
                    print_this = true;
            }
        }
    }
    if (!print_this)
        return;
    /* print_txt_line: printable ASCII and TAB up to LF or CRLF. */
    uint32_t i = 0, linelen = 0;
    for (; i < len; i++) {
        if (i >= cap) {
            trunc_mark(sb, name);
            return;
        }
        uint8_t c = d[i];
        if (c == '\r') {
            if (i + 1 >= len)
                return;
            if (i + 1 >= cap) {
                trunc_mark(sb, name);
                return;
            }
            if (d[i + 1] != '\n')
                return;
            linelen = i;
            break;
        }
        if (c == '\n') {
            linelen = i;
            break;
        }
        if (!((c >= 0x20 && c <= 0x7e) || c == '\t'))
            return;
    }
    if (i == len) {   /* no end of line: the text, then tcpdump's marker */
        hu_sb_puts(sb, ": ");
        hu_sb_put(sb, d, len);
        trunc_mark(sb, name);
        return;
    }
    hu_sb_puts(sb, ": ");
    hu_sb_put(sb, d, linelen);
}

/*
 * tcpdump's port dispatch, first match wins, in its order.  Only the
 * text protocols are reproduced; for ports whose binary decoders tcpdump
 * runs (BGP, DNS, Redis, ...) nothing is appended and the line ends at
 * ", length N" (a known difference, documented in the README).
 */
bool hu_tcpprint_payload_suffix(const hu_pkt *p, hu_sb *sb)
{
    if (p->paylen == 0)
        return false;
#define PORT(n) (p->sport == (n) || p->dport == (n))
    const char *name = NULL;
    const char *const *cmds = NULL;
    if (PORT(23) || PORT(179) || PORT(1723) || PORT(6379) || PORT(22) || PORT(10288) ||
        PORT(6633) || PORT(6653))
        return false;
    if (PORT(25))
        name = "SMTP";
    else if (PORT(43))
        name = "WHOIS";
    else if (PORT(21))
        name = "FTP";
    else if (PORT(80) || PORT(8080)) {
        name = "HTTP";
        cmds = http_methods;
    } else if (PORT(554) || PORT(8554)) {
        name = "RTSP";
        cmds = rtsp_methods;
    } else
        return false;
#undef PORT
    txtproto(sb, p, name, cmds);
    return !sb->oom;
}
