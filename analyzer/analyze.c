/*
 * analyze.c -- the offline pipeline, wired through one context.
 *
 * For each file: a fresh flow table (so connection state, packet numbers
 * and tcpdump's relative sequence numbers never leak between captures,
 * e.g. the two vantages of one race), frames decoded, tracked, run through
 * the detector, incidents printed as they complete.  Undecodable frames
 * are counted; the first of each file is reported with its packet number
 * and the rest summarised, so a capture full of snaplen-cut packets gives
 * two lines, not thousands.
 */
#include "hangup/analyze.h"
#include "hangup/capture.h"
#include "hangup/decode.h"
#include "hangup/detect.h"
#include "hangup/flow.h"
#include "hangup/report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct hu_analyzer {
    hu_analyze_opts o;
    hu_report *report;
    hu_detect detect;
    /* Per file: */
    const char *path;
    hu_flowtab *flows;
    uint64_t packets, bad, nomem;
    uint64_t first_bad_num;
    const char *first_bad_why;
};

void hu_analyze_opts_default(hu_analyze_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeline = true;
    o->max_flows = 1000000;
    o->idle_us = 3600LL * 1000000;     /* an hour without a packet */
    o->closed_us = 60LL * 1000000;     /* a minute after RST or both FINs */
    o->out = stdout;
    o->err = stderr;
    o->progname = "hangup";
}

hu_analyzer *hu_analyzer_new(const hu_analyze_opts *o)
{
    hu_analyzer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->o = *o;
    hu_report_cfg rc = { .out = o->out, .json = o->json, .timeline = o->timeline };
    a->report = hu_report_new(&rc);
    if (!a->report) {
        free(a);
        return NULL;
    }
    a->detect.emit = hu_report_incident;
    a->detect.arg = a->report;
    return a;
}

void hu_analyzer_free(hu_analyzer *a)
{
    if (!a)
        return;
    hu_flowtab_free(a->flows);
    hu_report_free(a->report);
    free(a);
}

uint64_t hu_analyzer_incidents(const hu_analyzer *a) { return hu_report_incidents(a->report); }

static void on_release(void *arg, hu_flow *f)
{
    hu_analyzer *a = arg;
    hu_report_connection(a->report, f);
}

static void on_frame(void *arg, int dlt, const hu_frame *fr)
{
    hu_analyzer *a = arg;
    a->packets++;
    hu_pkt p;
    const char *why;
    hu_decode_rc rc = hu_decode(dlt, fr->data, fr->caplen, &p, &why);
    if (rc == HU_DEC_SKIP)
        return;
    if (rc == HU_DEC_BAD) {
        if (a->bad++ == 0) {
            a->first_bad_num = fr->num;
            a->first_bad_why = why;
            fprintf(a->o.err, "%s: %s: packet %" PRIu64 ": %s; skipped\n", a->o.progname,
                    a->path, fr->num, why);
        }
        return;
    }
    p.num = fr->num;
    p.ts_us = fr->ts_us;
    uint8_t side;
    hu_flow *f = hu_flowtab_track(a->flows, &p, &side);
    if (!f) {
        a->nomem++;
        return;
    }
    hu_detect_packet(&a->detect, f, side, &p);
}

hu_file_rc hu_analyzer_file(hu_analyzer *a, const char *path)
{
    hu_flowtab_cfg fc = { .max_flows = a->o.max_flows, .idle_us = a->o.idle_us,
                          .closed_us = a->o.closed_us };
    a->flows = hu_flowtab_new(&fc, on_release, a);
    if (!a->flows) {
        fprintf(a->o.err, "%s: %s: out of memory\n", a->o.progname, path);
        return HU_FILE_NOMEM;
    }
    a->path = path;
    a->packets = a->bad = a->nomem = 0;
    hu_report_begin_file(a->report, path);

    char err[512] = "";
    hu_capture_rc rc = hu_capture_file(path, a->o.filter, on_frame, a, NULL, err, sizeof err);

    hu_flowtab_stats st;
    hu_flowtab_stats_get(a->flows, &st);
    hu_flowtab_free(a->flows);   /* accounts every remaining connection */
    a->flows = NULL;
    hu_report_end_file(a->report, a->packets);

    if (a->bad > 1)
        fprintf(a->o.err, "%s: %s: %" PRIu64 " packets could not be decoded in all "
                          "(first: packet %" PRIu64 ")\n",
                a->o.progname, path, a->bad, a->first_bad_num);
    if (st.evicted)
        fprintf(a->o.err, "%s: %s: %" PRIu64 " connections evicted early because more than "
                          "%zu were open at once (raise --max-connections)\n",
                a->o.progname, path, st.evicted, a->o.max_flows);
    if (a->nomem)
        fprintf(a->o.err, "%s: %s: out of memory: %" PRIu64 " packets not tracked\n",
                a->o.progname, path, a->nomem);

    switch (rc) {
    case HU_CAP_OK:
        return a->nomem ? HU_FILE_NOMEM : HU_FILE_OK;
    case HU_CAP_PARTIAL:
        fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
        return HU_FILE_PARTIAL;
    case HU_CAP_BADFILTER:
        fprintf(a->o.err, "%s: %s\n", a->o.progname, err);
        return HU_FILE_BADFILTER;
    default:
        fprintf(a->o.err, "%s: %s: %s\n", a->o.progname, path, err);
        return HU_FILE_FAILED;
    }
}

void hu_analyzer_finish(hu_analyzer *a)
{
    hu_report_summary(a->report);
}
