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

#include "hangup/flow.h"
#include "hangup/incident.h"
#include "hangup/packet.h"
#include "hangup/pipeline.h"
#include "hangup/servers.h"

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
/* A fresh temporary file path (static buffer). */
const char *tu_tmp(const char *suffix);

/* Read a whole file into a malloc'd NUL-terminated buffer (NULL if absent). */
char *tu_slurp(const char *path, size_t *len);

/* Run a shell command, capturing stdout and stderr into malloc'd strings;
 * returns the exit status (or -1). */
int tu_sh(const char *cmd, char **out, char **err);


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

#endif

/* Render every packet of a capture file through capture -> decode ->
 * flow tracker -> tcpprint, as the timeline would print it.  Returns an
 * array indexed by packet number - 1 (NULL where the packet is not TCP),
 * *n receives the packet count.  Free with tu_lines_free. */
char **tu_render_file(const char *path, size_t *n);
/* `TZ=UTC tcpdump -n -r path` split into lines (one per packet). */
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
