/*
 * fuzz_capture.c -- the whole offline pipeline on one capture file.
 *
 * The input is written to a file (hu_capture_file takes a path) and
 * analysed twice, as `hangup analyze --no-db` would: once with the human
 * report and its tcpdump timeline (and -w to /dev/null, so the incident
 * pcap writer runs too), once with --json and a tiny connection table and
 * idle timeout (so eviction and release run).  That covers libpcap's
 * reader, decode, the flow tracker, the detector, reassembly (libnids,
 * per capture: it is initialised and torn down by every hu_analyzer_file),
 * the HTTP layer, the timeline printer and both renderers.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hangup/analyze.h"

static char g_path[64];
static FILE *g_null;

static void cleanup(void)
{
    if (g_path[0])
        unlink(g_path);
}

static bool setup(void)
{
    if (g_null)
        return true;
    /* HANGUP_FUZZ_VERBOSE=1: show the reports (to debug a crasher). */
    const char *v = getenv("HANGUP_FUZZ_VERBOSE");
    g_null = v && *v && *v != '0' ? stderr : fopen("/dev/null", "w");
    if (!g_null)
        return false;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(g_path, sizeof g_path, "%s/hangup-fuzz-%ld.pcap", dir, (long)getpid());
    atexit(cleanup);
    /* tcpdump prints local time; keep the rendering deterministic. */
    setenv("TZ", "UTC", 1);
    return true;
}

static bool write_input(const uint8_t *data, size_t size)
{
    int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return false;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return false;
        }
        off += (size_t)w;
    }
    return close(fd) == 0;
}

static void run(bool json)
{
    hu_analyze_opts o;
    hu_analyze_opts_default(&o);
    o.db_path = NULL;                  /* --no-db */
    o.out = g_null;
    o.err = g_null;
    o.progname = "hangup";
    if (json) {
        o.json = true;
        o.max_flows = 4;               /* --max-connections 4 */
        o.idle_us = 2LL * 1000000;     /* --idle-timeout 2 */
    } else {
        o.timeline = true;
        o.write_path = "/dev/null";    /* -w /dev/null */
    }
    hu_analyzer *a = hu_analyzer_new(&o, NULL);
    if (!a)
        abort();                       /* no database: only OOM can fail */
    hu_file_rc rc = hu_analyzer_file(a, g_path);
    FUZZ_CHECK(rc == HU_FILE_OK || rc == HU_FILE_PARTIAL || rc == HU_FILE_FAILED);
    hu_analyzer_finish(a);
    hu_analyzer_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!setup() || !write_input(data, size))
        return 0;
    run(false);
    run(true);
    return 0;
}
