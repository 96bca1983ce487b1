/*
 * testutil.h -- shared helpers for the Criterion suites: packet and pcap
 * builders for crafted input, a small pipeline driver that collects
 * incidents, and access to the committed samples.
 */
#ifndef HANGUP_TESTUTIL_H
#define HANGUP_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hangup/capture.h"
#include "hangup/flow.h"
#include "hangup/incident.h"
#include "hangup/packet.h"
#include "hangup/pipeline.h"
#include "hangup/servers.h"
#include "hangup/storerow.h"

/* A conversation between a client and a server for synthetic packets. */
typedef struct tu_conv {
    uint8_t ipver;
    uint8_t cli[16], srv[16];
    uint16_t cport, sport;
} tu_conv;

void tu_conv_v4(tu_conv *c, const char *cli, uint16_t cport, const char *srv, uint16_t sport);
void tu_conv_v6(tu_conv *c, const char *cli, uint16_t cport, const char *srv, uint16_t sport);

/* Fill p as a segment of conv c; from_client picks the direction.  The
 * payload pointer is borrowed. */
void tu_pkt(hu_pkt *p, const tu_conv *c, bool from_client, uint64_t num, int64_t t_us,
            uint8_t flags, uint32_t seq, uint32_t ack, const char *payload, uint32_t len);

/* Collected incidents (copies of the fields tests look at). */
typedef struct tu_inc {
    hu_kind kind;
    hu_verdict verdict;
    uint64_t fin, req, rst;
    int64_t gap_us, rtt_us;
    bool rst_ack, tls, http, handshake_seen, safe, retried;
    char method[40];
    char target[256];
} tu_inc;

/* The analysis pipeline (pipeline.c, every stage in its order) on packets
 * a test makes, collecting every incident as it is final: at once (no
 * retry window), or at tu_run_end for what only the end proves. */
typedef struct tu_run {
    hu_servers *servers;
    hu_pipeline *pl;
    tu_inc inc[64];
    int ninc;
} tu_run;

void tu_run_init(tu_run *r);
void tu_run_feed(tu_run *r, const hu_pkt *p);
void tu_run_end(tu_run *r);    /* the capture ends: connections finished */
void tu_run_fini(tu_run *r);   /* frees (without tu_run_end: drops the rest) */

/* A capture file run through the pipeline exactly as `hangup analyze`
 * runs it (analyze.c: its default limits, libnids sized from the file,
 * the frames prepared on the reader thread, every incident held for its
 * retry window), keeping every record whole.  The environment is read as
 * analyze reads it (HANGUP_CHECK_NIDS: set it before the call). */
typedef struct tu_analysis {
    char *path;                  /* the capture; records' `file` points here */
    hu_capture_rc rc;            /* what hu_capture_file returned */
    char err[256];               /* ... and said, when rc is not HU_CAP_OK */
    const char *warn;            /* hu_pipeline_new's warning (static), or NULL */
    hu_incident_rec **recs;      /* every incident, in the order the sink gave them */
    size_t nrecs;
    size_t lost;                 /* records dropped for want of memory */
    hu_pipeline_stats st;        /* after hu_pipeline_end */
    hu_server_summary *servers;  /* the capture's server summaries (hu_servers_list) */
    size_t nservers;
} tu_analysis;

/* Analyse the capture at path; NULL only when out of memory.  Free with
 * tu_analysis_free (NULL is a no-op), which frees every record. */
tu_analysis *tu_analyze_file(const char *path);
void tu_analysis_free(tu_analysis *a);
/* How many of a's records are of kind k; the first of them, or NULL. */
size_t tu_count(const tu_analysis *a, hu_kind k);
const hu_incident_rec *tu_find(const tu_analysis *a, hu_kind k);
/* Whether the n bytes at p are the string s (request targets and hosts
 * are raw bytes with a length). */
bool tu_bytes_is(const uint8_t *p, size_t n, const char *s);

/* Where two records, or two analyses, differ: the name of the first field
 * that does ("record 2: wait_us", "servers: requests"; a static string),
 * or NULL when they tell the same story.  Without `endpoints` the
 * addresses, ports, IP version and Community ID, the capture name and the
 * text of timeline lines (which print the addresses) are not compared, so
 * one conversation over IPv4 and over IPv6 compares equal.  Analyses compare
 * their records, server summaries and the counters that describe the
 * traffic (not the HANGUP_CHECK_NIDS ones). */
const char *tu_rec_diff(const hu_incident_rec *a, const hu_incident_rec *b, bool endpoints);
const char *tu_analysis_diff(const tu_analysis *a, const tu_analysis *b, bool endpoints);

/* Frame builders: write an IPv4/IPv6 + TCP packet (no link header) into
 * buf, return its length. */
size_t tu_ip4_tcp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                  uint8_t flags, uint32_t seq, uint32_t ack, const uint8_t *opts, size_t optlen,
                  const char *payload, size_t len);
size_t tu_ip6_tcp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport,
                  uint8_t flags, uint32_t seq, uint32_t ack, const char *payload, size_t len);

/* Write a classic pcap file with link type `linktype` (a LINKTYPE_ value). */
typedef struct tu_pcap tu_pcap;
tu_pcap *tu_pcap_open(const char *path, uint32_t linktype, uint32_t snaplen);
void tu_pcap_add(tu_pcap *w, int64_t t_us, const uint8_t *data, uint32_t caplen, uint32_t len);
void tu_pcap_close(tu_pcap *w);

/* Path of a committed sample: HANGUP_SAMPLES "/" name. Static buffer. */
const char *tu_sample(const char *name);

/* The names (not paths) of the samples' captures, .pcap and .pcapng,
 * sorted; *n gets how many.  The array and its strings are the caller's
 * (tu_names_free). */
char **tu_sample_captures(size_t *n);
void tu_names_free(char **names, size_t n);
/* A fresh temporary file path (static buffer). */
const char *tu_tmp(const char *suffix);

/* Read a whole file into a malloc'd NUL-terminated buffer (NULL if absent). */
char *tu_slurp(const char *path, size_t *len);

/* Run a shell command, capturing stdout and stderr into malloc'd strings;
 * returns the exit status (or -1). */
int tu_sh(const char *cmd, char **out, char **err);

/* Child processes for the tests that run real servers and capturers:
 * tu_spawn starts argv in the background, its stdout and stderr into the
 * files out and err (the child exits 126 when it cannot open them, 127
 * when argv cannot run); tu_wait_exit waits up to timeout_ms for it to
 * exit, *status its waitpid status, false on timeout (it is left
 * running).  tu_sleep_ms sleeps; tu_now_ms is a monotonic clock. */
pid_t tu_spawn(char *const argv[], const char *out, const char *err);
bool tu_wait_exit(pid_t pid, int timeout_ms, int *status);
/* The first TCP port from p up that a socket can bind on 127.0.0.1 now
 * (the tests' servers then take it; another process may in between). */
int tu_free_port(int p);
void tu_sleep_ms(long ms);
int64_t tu_now_ms(void);
/* Wait up to timeout_ms for the file at path to contain needle (a spawned
 * program's line saying it is ready); whether it did. */
bool tu_wait_text(const char *path, const char *needle, int timeout_ms);


/* A scripted TCP conversation written to a pcap (raw IP link type). */
typedef struct tu_cv {
    tu_pcap *w;
    bool v6;
    const char *cli, *srv;
    uint16_t cport, sport;
    uint32_t cseq, sseq;      /* next sequence number of each side */
    int64_t t;                /* time of the last packet, microseconds */
    int packets;
} tu_cv;

/* One segment, 1 ms after the previous one. */
void tu_cv_emit(tu_cv *c, bool from_client, uint8_t fl, uint32_t seq, uint32_t ack,
                const char *data, size_t len);
/* Data from one side in segments of at most mss, advancing its seq. */
void tu_cv_send(tu_cv *c, bool from_client, const char *data, size_t mss);
/* A bare ACK from one side. */
void tu_cv_ack(tu_cv *c, bool from_client);
/* SYN, SYN-ACK, ACK. */
void tu_cv_handshake(tu_cv *c);

/* Value of "key" in a flat JSON object line, as raw JSON text (strings
 * keep their quotes), malloc'd; NULL if absent. */
char *tu_json_get(const char *line, const char *key);

/* A connection row from 10.0.0.1:40000 to 10.0.0.2:80, numbered: every
 * even one an idle close of 5 us, number 8 an incident. */
hu_conn_row tu_conn_row(uint64_t number);
/* Database db holds exactly rows 1..n of tu_conn_row, stored in the order
 * given (id = number) and every column as written; scalar(db, sql) is
 * the backend's way to run a query for its single integer. */
void tu_expect_conn_rows(const char *db, int64_t n, int64_t (*scalar)(const char *db,
                                                                        const char *sql));

#endif

/* A pcapng file as `-w` writes it, read block by block (libpcap 1.10
 * stops at an interface whose link type differs from the first's, so the
 * tests read the file themselves).  Host byte order only. */
typedef struct tu_ng_iface {
    uint16_t linktype;
    char name[512], desc[1024];  /* if_name, if_description ("" when absent) */
    int tsresol;                 /* if_tsresol's value (6 when absent) */
} tu_ng_iface;

typedef struct tu_ng_pkt {
    uint32_t iface;
    int64_t ts_us;
    uint32_t caplen, wirelen;
    const uint8_t *data;         /* into the file's bytes */
    char *comment[4];            /* opt_comment options, owned */
    int ncomments;
} tu_ng_pkt;

typedef struct tu_pcapng {
    uint8_t *buf;
    size_t len;
    int sections;                /* Section Header Blocks */
    tu_ng_iface iface[64];
    size_t nifaces;
    tu_ng_pkt *pkt;              /* Enhanced Packet Blocks, in file order */
    size_t npkts;
    size_t other;                /* blocks of any other type */
    char err[160];               /* "" when every block was well formed */
} tu_pcapng;

/* Read path; NULL when it cannot be read at all.  A malformed block stops
 * the reading with err set.  Free with tu_pcapng_free (NULL: no-op). */
tu_pcapng *tu_pcapng_read(const char *path);
void tu_pcapng_free(tu_pcapng *f);

/* Render every packet of a capture file through capture -> decode ->
 * flow tracker -> tcpprint, as the timeline would print it: the
 * analyzer's default timeouts and table size, and released conversations'
 * tcpdump bases kept as the pipeline keeps them.  Returns an array
 * indexed by packet number - 1 (NULL where the packet is not TCP), *n
 * receives the packet count.  Free with tu_lines_free. */
char **tu_render_file(const char *path, size_t *n);
/* The same with every connection released after idle_us without a
 * packet, whatever its state, and at most max_flows at once (the least
 * recently active evicted), so that conversations come back after their
 * release. */
char **tu_render_file_releasing(const char *path, int64_t idle_us, size_t max_flows, size_t *n);
/* Join each tcpdump continuation line (a VXLAN packet's inner frame,
 * "IP ...", "ARP, ...", on a line of its own) to the timestamp-led line before it, with
 * its newline, so that lines[i] is one packet's text; returns the count
 * left (lines[0, n) are compacted in place). */
size_t tu_join_continuations(char **lines, size_t n);
/* True when hangup's text hu for a packet is tcpdump's td: equal, or
 * one of the differences docs/DESIGN.md §7 gives: for ERSPAN, which
 * tcpdump 4.99 does not decode, tcpdump's text followed by ": " and the
 * inner packet; for an IPv4 total length of 0, which tcpdump prints as
 * "IP bad-len 0", the packet decoded with the wire's length. */
bool tu_tcpdump_same(const char *hu, const char *td);
/* `TZ=UTC tcpdump -n -r path` split into packets (tu_join_continuations). */
char **tu_tcpdump_lines(const char *path, size_t *n);
/* The committed golden output for a sample (NAME.tcpdump beside
 * NAME.pcap, written by samples/regenerate with real tcpdump); NULL when
 * there is none. */
char **tu_golden_lines(const char *capture, size_t *n);
void tu_lines_free(char **lines, size_t n);

/* Write a raw-IP pcap holding one server-vantage stale keep-alive race
 * (10 packets: handshake, one exchange, FIN, late request with the given
 * request line, RST) and return the packet count. */
int tu_write_race(const char *path, const char *request_line);
/* n such races on distinct connections (10 n packets); returns the count. */
long tu_write_races(const char *path, uint32_t n);
