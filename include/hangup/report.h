/*
 * report.h -- what the user reads: each incident explained (human) or as
 * one JSON object per line (--json), and the closing summary.
 */
#ifndef HANGUP_REPORT_H
#define HANGUP_REPORT_H

#include <stdio.h>
#include "hangup/group.h"
#include "hangup/incident.h"
#include "hangup/servers.h"
#include "hangup/strbuf.h"

typedef struct hu_report hu_report;

typedef struct hu_report_cfg {
    FILE *out;                /* incidents and summary */
    bool json;                /* one JSON object per line, nothing else */
    bool timeline;            /* human output: print the tcpdump timeline */
    bool flush;               /* flush after each incident (live) */
    unsigned kinds;           /* bit per hu_kind to print; 0 = all.  Every
                                 incident is counted in the summary either way */
    FILE *status;             /* a terminal where a status or progress line may
                                 stand: erased before an incident is printed
                                 (NULL: none) */
    hu_group_mode group;      /* identical incidents (group.h): human output
                                 folds them unless HU_GROUP_ALL; JSON prints
                                 each, or with HU_GROUP_SUMMARY only groups */
} hu_report_cfg;

/* Returns NULL on allocation failure. */
hu_report *hu_report_new(const hu_report_cfg *cfg);
void hu_report_free(hu_report *r);

/* Totals of one analysed file, for the summary. */
void hu_report_file_done(hu_report *r, uint64_t packets, uint64_t connections,
                         uint64_t nids_streams, uint64_t segment_flows);
/* ... and its connections with capture gaps: how many, the bytes their
 * peers acknowledged that the capture lacks, and those seen one way only
 * (the summary says so, since incidents there rest on the
 * acknowledgements). */
void hu_report_gaps_done(hu_report *r, uint64_t gap_conns, uint64_t gap_bytes,
                         uint64_t one_sided);

/* Count one incident for the summary, and print it now if its kind is
 * one to print. */
void hu_report_incident(hu_report *r, const hu_incident_rec *rec);

/* The closing summary: human text (the groups of identical incidents
 * first, when some were folded or with HU_GROUP_SUMMARY), or one
 * {"type":"server"} JSON line per server (after one {"type":"group"}
 * line per group with HU_GROUP_SUMMARY). */
void hu_report_summary(hu_report *r, const hu_server_summary *list, size_t n, uint64_t overflow);

/* The summary's own paragraph (the captures' totals and one entry per
 * server, without the groups), reflowed exactly as hu_report_summary
 * prints it, appended to sb: the HTML report's words (html.h). */
void hu_report_summary_text(const hu_report *r, hu_sb *sb, const hu_server_summary *list,
                            size_t n, uint64_t overflow);

/* Append rec as the one JSON line `analyze --json` prints for it
 * (newline included). */
void hu_incident_json(hu_sb *sb, const hu_incident_rec *rec);

/* Append the human explanation and timeline of rec, exactly as `analyze`
 * prints it (show prints stored incidents through this too). */
void hu_incident_render(hu_sb *sb, const hu_incident_rec *rec, bool timeline);

/* Incidents reported so far. */
uint64_t hu_report_incidents(const hu_report *r);

/* UTC ISO-8601 with microseconds: "2026-11-21T15:53:53.187939Z". */
void hu_iso_time(hu_sb *sb, int64_t ts_us);

#endif
