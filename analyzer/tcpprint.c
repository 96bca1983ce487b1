/*
 * tcpprint.c -- tcpdump's one-line TCP rendering, reproduced.
 *
 * A user must be able to put hangup's timeline beside `tcpdump -n -r` of
 * the same file and see identical packet lines, so this file follows
 * tcpdump 4.99's print-tcp.c (and the pieces of print-ip.c, print-ip6.c,
 * print-sll.c and print-http.c a TCP line goes through) rule for rule:
 * flag letters and their order, when seq/ack/win/urg appear, option
 * formatting (SACK edges relative like seq), relative sequence numbers
 * (computed by flow.c at packet time, since they depend on file order),
 * and the ": HTTP: ..." suffix on ports 80 and 8080.  Golden tests compare
 * this output with real tcpdump on every sample.
 */
#include "hangup/tcpprint.h"

#include <arpa/inet.h>
#include <ctype.h>
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

/* tcpdump's table of option names (print-tcp.c tcp_option_values). */
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
    case 27: return "qs";
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

/*
 * print-tcp.c's option loop.  `len` is the option's total length (kind
 * and length octets included); a length that overruns the header, or data
 * the option needs but the header lacks, is "[bad opt]", which ends the
 * whole line.  Returns false in that case.  One function of about 110
 * lines on purpose: it is a switch with a case per option kind in
 * print-tcp.c's order, so that each case can be checked against tcpdump's
 * side by side; split up, the shared bounds checks would be repeated.
 */
static bool print_options(hu_sb *sb, const hu_pktsum *s)
{
    const uint8_t *cp = s->opts;
    uint32_t hlen = s->optlen;
    char sep = '\0';
    hu_sb_puts(sb, ", options [");
    while (hlen > 0) {
        if (sep)
            hu_sb_putc(sb, sep);
        uint8_t opt = *cp++;
        uint32_t len;
        bool zerolen = opt == 0 || opt == 1;
        if (zerolen) {
            len = 1;
        } else {
            if (hlen < 2)
                goto bad;
            len = *cp++;
            if (len < 2 || len > hlen)
                goto bad;
            --hlen;
        }
        --hlen;
        char tmp[24];
        hu_sb_puts(sb, opt_name(opt, tmp, sizeof tmp));
        uint32_t datalen = 0;
        switch (opt) {
        case 0: case 1: case 4:
            break;
        case 2:
            datalen = 2;
            if (datalen > hlen)
                goto bad;
            hu_sb_printf(sb, " %u", rd16(cp));
            break;
        case 3:
            datalen = 1;
            if (datalen > hlen)
                goto bad;
            hu_sb_printf(sb, " %u", cp[0]);
            break;
        case 5:
            datalen = len - 2;
            if (datalen % 8 != 0) {
                hu_sb_puts(sb, " invalid sack");
            } else {
                hu_sb_printf(sb, " %u ", datalen / 8);
                for (uint32_t i = 0; i < datalen; i += 8)
                    hu_sb_printf(sb, "{%u:%u}", rd32(cp + i) - s->sackbase,
                                 rd32(cp + i + 4) - s->sackbase);
            }
            break;
        case 6: case 7: case 11: case 12: case 13:
            datalen = 4;
            if (datalen > hlen)
                goto bad;
            hu_sb_printf(sb, " %u", rd32(cp));
            break;
        case 8:
            datalen = 8;
            if (datalen > hlen)
                goto bad;
            hu_sb_printf(sb, " val %u ecr %u", rd32(cp), rd32(cp + 4));
            break;
        case 28:
            datalen = 2;
            if (datalen > hlen)
                goto bad;
            {
                uint16_t v = rd16(cp);
                hu_sb_printf(sb, " 0x%x %u", v, (v & 1) ? (v >> 1) * 60u : v >> 1);
            }
            break;
        case 34:
            datalen = len - 2;
            if (datalen == 0)
                hu_sb_puts(sb, "  cookiereq");
            else if (datalen % 2 != 0 || datalen < 4 || datalen > 16)
                hu_sb_puts(sb, "  (invalid)");
            else {
                hu_sb_puts(sb, "  cookie ");
                for (uint32_t i = 0; i < datalen; i++)
                    hu_sb_printf(sb, "%02x", cp[i]);
            }
            break;
        default:
            /* Options whose tcpdump rendering is not reproduced here
             * (md5, mptcp, tcp-ao, scps, exp) are shown the generic way. */
            datalen = len - 2;
            if (datalen)
                hu_sb_puts(sb, " 0x");
            for (uint32_t i = 0; i < datalen; i++)
                hu_sb_printf(sb, "%02x", cp[i]);
            break;
        }
        cp += datalen;
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
    hu_sb_putc(sb, ']');
    return true;
bad:
    hu_sb_puts(sb, "[bad opt]");
    if (sep)
        hu_sb_putc(sb, ']');
    return false;
}

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
    hu_sb_puts(sb, ends->ipver == 4 ? "IP " : "IP6 ");
    uint8_t from = s->side & 1u, to = (uint8_t)!from;
    print_addr(sb, ends->ipver, ends->addr[from], ends->port[from]);
    hu_sb_puts(sb, " > ");
    print_addr(sb, ends->ipver, ends->addr[to], ends->port[to]);
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
