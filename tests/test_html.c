/*
 * test_html.c -- the HTML report (html.c, htmldb.c) as a real browser
 * sees it.
 *
 * Every page is loaded by headless Chromium (Debian's `chromium`, which
 * scripts/install-deps installs; without it these tests FAIL, they never
 * skip).  `--dump-dom` gives the document as the browser parsed it, so the
 * counts below are of elements, not of strings in the file; and
 * `--enable-logging=stderr` makes Chromium print every console message,
 * errors and Content-Security-Policy violations included, as a line
 * containing ":CONSOLE", so "no console errors" is "no such line" -- the
 * first test proves that a page with a console error and one with a
 * blocked script both produce one.  Pages come from real captures of
 * samples/ (races of both verdicts, every family kind, IPv6, TLS) and
 * from samples/hostile.pcap, whose target, Host and User-Agent are markup.
 *
 * HANGUP_UPDATE_DOCS=1 makes the screenshot test write docs/ladder.png
 * (the README's picture) from the ladder it renders.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* Run chromium headless on page (a file) with extra flags; its stdout
 * (the DOM with --dump-dom) and stderr (its log) are the caller's. */
static int chromium(const char *page, const char *flags, char **out, char **err)
{
    char profile[256], cmd[2048];
    snprintf(profile, sizeof profile, "%s", tu_tmp("-chromium"));
    snprintf(cmd, sizeof cmd,
             "command -v chromium >/dev/null || { echo 'chromium is not installed "
             "(scripts/install-deps)' >&2; exit 99; }; "
             "HOME=%s timeout 120 chromium --headless --no-sandbox --disable-gpu "
             "--no-first-run --user-data-dir=%s --enable-logging=stderr --v=0 %s 'file://%s'; "
             "rc=$?; rm -rf %s; exit $rc",
             profile, profile, flags, page, profile);
    return tu_sh(cmd, out, err);
}

/* Console messages in a Chromium log: the lines with ":CONSOLE". */
static size_t console_lines(const char *log)
{
    size_t n = 0;
    for (const char *p = log; (p = strstr(p, ":CONSOLE")) != NULL; p++)
        n++;
    return n;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The page's DOM as Chromium parsed it, after asserting that it loaded
 * without a console message. */
static char *load(const char *page)
{
    char *dom, *log;
    int rc = chromium(page, "--dump-dom", &dom, &log);
    cr_assert_eq(rc, 0, "chromium failed (%d) on %s: %s", rc, page, log);
    cr_assert_eq(console_lines(log), 0, "console messages loading %s:\n%s", page, log);
    cr_assert(strstr(dom, "</html>"), "no document from %s", page);
    free(log);
    return dom;
}

/* hangup ARGS; asserts it exits 0; its stdout. */
static char *hangup(const char *args)
{
    char cmd[4096], *out, *err;
    snprintf(cmd, sizeof cmd, "'%s' %s", HANGUP_BIN, args);
    int rc = tu_sh(cmd, &out, &err);
    cr_assert_eq(rc, 0, "%s: exit %d: %s", cmd, rc, err);
    free(err);
    return out;
}

Test(html, console_errors_are_caught)
{
    /* Without this the "no console line" assertions below could pass on a
     * browser that logs nothing at all. */
    char a[256], b[256];
    snprintf(a, sizeof a, "%s", tu_tmp(".html"));
    FILE *fp = fopen(a, "w");
    fputs("<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>", fp);
    fclose(fp);
    char *dom, *log;
    cr_assert_eq(chromium(a, "--dump-dom", &dom, &log), 0, "%s", log);
    cr_assert_geq(console_lines(log), 1, "console.error not seen in:\n%s", log);
    free(dom);
    free(log);
    snprintf(b, sizeof b, "%s", tu_tmp(".html"));
    fp = fopen(b, "w");
    fputs("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
          "content=\"default-src 'none'\"></head><body><script>1</script></body></html>", fp);
    fclose(fp);
    cr_assert_eq(chromium(b, "--dump-dom", &dom, &log), 0, "%s", log);
    cr_assert_geq(console_lines(log), 1, "CSP violation not seen in:\n%s", log);
    free(dom);
    free(log);
    unlink(a);
    unlink(b);
}

/* One sample: what its page must hold besides a ladder per incident. */
typedef struct page_case {
    const char *sample;
    const char *must[4];      /* element markers each ladder's kind draws */
} page_case;

static const page_case cases[] = {
    { "crossed-client.pcap", { "<g class=\"pkt fin", "<g class=\"pkt req", "<g class=\"pkt rst",
                               "<g class=\"span idle" } },
    { "crossed-server.pcap", { "<g class=\"pkt fin", "<g class=\"pkt rst", "<line class=\"life near\"" } },
    { "race-node-ipv4.pcap", { "<g class=\"span timeout", "<svg class=\"tplot\"", "<svg class=\"iplot\"",
                               "<rect class=\"racewin\"" } },
    { "node-keepalive-v6.pcap", { "<g class=\"pkt fin", "<g class=\"pkt req" } },
    { "race-tls.pcap", { "<g class=\"pkt rst" } },
    { "server-timeout-node.pcap", { "<g class=\"span timeout", "<g class=\"brk\"" } },
    { "client-abort.pcap", { "<g class=\"span idle" } },
    { "connect-timeout.pcap", { "<g class=\"pkt syn", "<g class=\"span timeout" } },
    { "truncated-response.pcap", { "<g class=\"span cut" } },
    { "refused-v4.pcap", { "<g class=\"pkt rst" } },
    { "reset-unread.pcap", { "<g class=\"pkt rst", "<g class=\"span timeout" } },
    { "closed-before-response.pcap", { "<g class=\"pkt req" } },
    { "proxy-nginx-502.pcap", { "<g class=\"pkt resp" } },
};
_Static_assert(sizeof cases / sizeof cases[0] == 13, "the ladders_* tests cover cases 0..12");

/* Arrows whose first child is a <title> holding a tcpdump line (" IP "
 * or " IP6 "), as the hover needs. */
static size_t titled_arrows(const char *dom)
{
    size_t n = 0;
    for (const char *p = dom; (p = strstr(p, "<g class=\"pkt")) != NULL; p++) {
        const char *t = strstr(p, "\"><title>"), *end = t ? strstr(t, "</title>") : NULL;
        if (t && end && t < strchr(p, '>') + 1 && (memmem(t, (size_t)(end - t), " IP ", 4) ||
                                                   memmem(t, (size_t)(end - t), " IP6 ", 5)))
            n++;
    }
    return n;
}

/* The incidents analyze prints for a sample: its --json lines of type
 * incident. */
static size_t incidents_of(const char *sample)
{
    char args[1024];
    snprintf(args, sizeof args, "analyze --no-db --json '%s'", tu_sample(sample));
    char *out = hangup(args);
    size_t n = count(out, "{\"type\":\"incident\"");
    free(out);
    return n;
}

/* Cases [from, to) of the table: a page each, checked in Chromium.
 * The table is split over several tests so that each stays well inside
 * the suite's 120 s per test on a loaded machine (a browser start costs
 * seconds) and the suite's jobs run them side by side. */
static void ladders(size_t from, size_t to)
{
    for (size_t i = from; i < to && i < sizeof cases / sizeof cases[0]; i++) {
        const page_case *c = &cases[i];
        size_t n = incidents_of(c->sample);
        cr_assert_gt(n, 0, "%s has no incident", c->sample);
        char page[256], args[1024];
        snprintf(page, sizeof page, "%s", tu_tmp(".html"));
        snprintf(args, sizeof args, "analyze --no-db --all --html '%s' '%s'", page,
                 tu_sample(c->sample));
        free(hangup(args));
        char *dom = load(page);
        cr_assert_eq(count(dom, "<details class=\"inc\""), n, "%s: %zu incidents, %zu sections",
                     c->sample, n, count(dom, "<details class=\"inc\""));
        cr_assert_eq(count(dom, "<svg class=\"ladder"), n, "%s: %zu ladders for %zu incidents",
                     c->sample, count(dom, "<svg class=\"ladder"), n);
        cr_assert_geq(count(dom, "<g class=\"pkt"), 2 * n, "%s: too few arrows", c->sample);
        cr_assert_eq(titled_arrows(dom), count(dom, "<g class=\"pkt"),
                     "%s: an arrow without its tcpdump line", c->sample);
        for (int k = 0; k < 4 && c->must[k]; k++)
            cr_assert(strstr(dom, c->must[k]), "%s: no %s in the page", c->sample, c->must[k]);
        cr_assert(strstr(dom, "<pre class=\"expl\">"), "%s: no explanation", c->sample);
        cr_assert(strstr(dom, "<section class=\"srv\""), "%s: no server", c->sample);
        free(dom);
        unlink(page);
    }
}

Test(html, ladders_of_races) { ladders(0, 5); }
Test(html, ladders_of_waits) { ladders(5, 8); }
Test(html, ladders_of_cuts_and_resets) { ladders(8, 11); }
Test(html, ladders_of_closes) { ladders(11, 13); }

Test(html, explanation_is_analyze_output)
{
    /* The page's words are analyze's: every line analyze prints for the
     * incident is in the page (HTML-escaped the same way a browser would
     * read it back). */
    char page[256], args[1024];
    snprintf(page, sizeof page, "%s", tu_tmp(".html"));   /* tu_sh reuses tu_tmp's buffer */
    snprintf(args, sizeof args, "analyze --no-db --html '%s' '%s'", page,
             tu_sample("crossed-client.pcap"));
    char *text = hangup(args);
    char *html = tu_slurp(page, NULL);
    cr_assert_not_null(html);
    char *save, *line = strtok_r(text, "\n", &save);
    size_t checked = 0;
    for (; line; line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, "Summary:") || strchr(line, '<') || strchr(line, '>') ||
            strchr(line, '&') || strchr(line, '"') || strchr(line, '\''))
            continue;   /* escaped in the page; the rest must be there as is */
        cr_assert(strstr(html, line), "analyze's line not in the page: %s", line);
        checked++;
    }
    cr_assert_gt(checked, 20);
    free(text);
    free(html);
    unlink(page);
}

Test(html, wire_text_cannot_inject_markup)
{
    /* samples/hostile.pcap: target, Host and User-Agent are <script>,
     * <img onerror>, <svg onload> and </pre></details>.  The browser must
     * parse none of it as markup: no script, img or svg-with-onload
     * element, no console message (a script that ran would log, a blocked
     * one would log a CSP violation), and the text shown as text. */
    char page[256], args[1024];
    snprintf(page, sizeof page, "%s", tu_tmp(".html"));
    snprintf(args, sizeof args, "analyze --no-db --html '%s' '%s'", page,
             tu_sample("hostile.pcap"));
    free(hangup(args));
    char *raw = tu_slurp(page, NULL);
    cr_assert_eq(count(raw, "<script"), 0, "a <script> tag in the file");
    cr_assert_eq(count(raw, "<img"), 0, "an <img> tag in the file");
    char *dom = load(page);
    cr_assert_eq(count(dom, "<script"), 0, "the browser built a script element");
    cr_assert_eq(count(dom, "<img"), 0, "the browser built an img element");
    cr_assert_eq(count(dom, "onload="), 0, "an onload attribute reached the DOM");
    cr_assert_eq(count(dom, "<details class=\"inc\""), 2, "the sections were broken up");
    cr_assert(strstr(dom, "&lt;script&gt;console.error("), "the target is not shown as text");
    cr_assert(strstr(dom, "pwned-host"), "the Host is not shown");
    free(raw);
    free(dom);
    unlink(page);
}

/* `hangup report --db DB OPTS --html PAGE`, then the page as Chromium
 * parsed it (asserted to load without a console message). */
static char *report_dom(const char *db, const char *opts, const char *page)
{
    char args[2048];
    snprintf(args, sizeof args, "report --db '%s' %s --html '%s'", db, opts, page);
    free(hangup(args));
    return load(page);
}

Test(html, report_and_show_from_the_database)
{
    const char *db0 = tu_tmp(".db");
    char db[256], page[256], args[2048];
    snprintf(db, sizeof db, "%s", db0);
    const char *samples[] = { "crossed-client.pcap", "server-timeout-node.pcap",
                              "connect-timeout.pcap", "race-node-ipv4.pcap" };
    size_t total = 0;
    for (size_t i = 0; i < 4; i++) {
        snprintf(args, sizeof args, "analyze --db '%s' '%s' >/dev/null", db,
                 tu_sample(samples[i]));
        free(hangup(args));
        total += incidents_of(samples[i]);
    }
    snprintf(page, sizeof page, "%s", tu_tmp(".html"));
    char *dom = report_dom(db, "", page);
    cr_assert_eq(count(dom, "<svg class=\"ladder"), total, "report: %zu ladders, %zu incidents",
                 count(dom, "<svg class=\"ladder"), total);
    cr_assert_geq(count(dom, "<section class=\"srv\""), 4, "report: a server missing");
    cr_assert_geq(count(dom, "<svg class=\"tplot\""), 2, "report: no server's timeout plot");
    cr_assert(strstr(dom, "<rect class=\"idlec\""), "report: no stored idle close plotted");
    free(dom);
    /* report's filters: only the server-timeouts */
    dom = report_dom(db, "--kind server-timeout", page);
    cr_assert_eq(count(dom, "<svg class=\"ladder"), incidents_of("server-timeout-node.pcap"));
    cr_assert_eq(count(dom, "<svg class=\"ladder k-keepalive-race"), 0);
    free(dom);
    /* show ID */
    snprintf(args, sizeof args, "show --db '%s' --html '%s' 1", db, page);
    free(hangup(args));
    dom = load(page);
    cr_assert_eq(count(dom, "<svg class=\"ladder"), 1);
    cr_assert(strstr(dom, "<details class=\"inc\" open"), "show: the incident is not open");
    free(dom);
    unlink(page);
    unlink(db);
}

Test(html, report_of_one_sensor)
{
    /* Two sensors' captures in one database: the page of one holds its
     * incidents and servers only. */
    char db[256], page[256], args[2048];
    snprintf(db, sizeof db, "%s", tu_tmp(".db"));
    snprintf(page, sizeof page, "%s", tu_tmp(".html"));
    static const char *const a[] = { "crossed-client.pcap", "connect-timeout.pcap" };
    static const char *const b[] = { "client-abort.pcap", "race-node-ipv4.pcap" };
    size_t mine = 0;
    for (size_t i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "analyze --sensor sensor-a --db '%s' '%s' >/dev/null", db,
                 tu_sample(a[i]));
        free(hangup(args));
        snprintf(args, sizeof args, "analyze --sensor sensor-b --db '%s' '%s' >/dev/null", db,
                 tu_sample(b[i]));
        free(hangup(args));
        mine += incidents_of(a[i]);
    }
    char *dom = report_dom(db, "--sensor sensor-a", page);
    cr_assert_eq(count(dom, "<svg class=\"ladder"), mine, "%zu ladders, %zu incidents of sensor-a",
                 count(dom, "<svg class=\"ladder"), mine);
    cr_assert_eq(count(dom, "<svg class=\"ladder k-client-abort"), 0, "sensor-b's incident shown");
    cr_assert(strstr(dom, "id=\"s-10-77-0-2-3100\""), "sensor-a's server missing");
    cr_assert(!strstr(dom, "id=\"s-127-0-0-1-3123\""), "sensor-b's server shown");
    for (size_t i = 0; i < 2; i++)
        cr_assert(!strstr(dom, b[i]), "sensor-b's capture %s shown", b[i]);
    free(dom);
    /* A name no sensor can have: one line, exit 2, no page. */
    unlink(page);
    char cmd[2048], *out, *err;
    snprintf(cmd, sizeof cmd, "'%s' report --db '%s' --sensor '' --html '%s'", HANGUP_BIN, db,
             page);
    cr_assert_eq(tu_sh(cmd, &out, &err), 2, "%s", err);
    cr_assert_str_eq(err, "hangup: --sensor takes a name of 1 to 255 bytes\n");
    cr_assert_neq(access(page, F_OK), 0, "a page was written");
    free(out);
    free(err);
    unlink(db);
}

Test(html, bad_path_fails_before_reading)
{
    char cmd[1024], *out, *err;
    snprintf(cmd, sizeof cmd, "'%s' analyze --no-db --html /nonexistent/dir/x.html '%s'",
             HANGUP_BIN, tu_sample("crossed-client.pcap"));
    cr_assert_eq(tu_sh(cmd, &out, &err), 1);
    cr_assert(strstr(err, "--html /nonexistent/dir/x.html:"), "%s", err);
    cr_assert_eq(strlen(out), 0, "something was printed: %s", out);
    free(out);
    free(err);
}

Test(html, screenshot_of_a_ladder)
{
    /* The ladder of crossed-client's race alone (the page's <style> and
     * the first <svg class="ladder">), rendered at its own size. */
    const char *page = tu_tmp(".html");
    char p[256], args[1024];
    snprintf(p, sizeof p, "%s", page);
    snprintf(args, sizeof args, "analyze --no-db --html '%s' '%s'", p,
             tu_sample("crossed-client.pcap"));
    free(hangup(args));
    char *html = tu_slurp(p, NULL);
    char *st = strstr(html, "<style>"), *se = strstr(html, "</style>");
    char *sv = strstr(html, "<svg class=\"ladder"), *ve = sv ? strstr(sv, "</svg>") : NULL;
    cr_assert(st && se && sv && ve);
    int w = 0, h = 0;
    cr_assert_eq(sscanf(strstr(sv, "width="), "width=\"%d\" height=\"%d\"", &w, &h), 2);
    char one[256];
    snprintf(one, sizeof one, "%s", tu_tmp(".html"));
    FILE *fp = fopen(one, "w");
    fprintf(fp, "<!DOCTYPE html><html><head><meta charset=\"utf-8\">%.*s<style>body{margin:0}"
                "</style></head><body>%.*s</body></html>", (int)(se + 8 - st), st,
            (int)(ve + 6 - sv), sv);
    fclose(fp);
    char png[256], flags[512], *out, *log;
    snprintf(png, sizeof png, "%s", tu_tmp(".png"));
    snprintf(flags, sizeof flags, "--hide-scrollbars --window-size=%d,%d --screenshot=%s", w, h,
             png);
    cr_assert_eq(chromium(one, flags, &out, &log), 0, "%s", log);
    cr_assert_eq(console_lines(log), 0, "%s", log);
    size_t len = 0;
    char *img = tu_slurp(png, &len);
    cr_assert(img && len > 8000 && memcmp(img, "\x89PNG", 4) == 0, "no screenshot (%zu bytes)",
              len);
    if (getenv("HANGUP_UPDATE_DOCS")) {
        char dst[1024];
        snprintf(dst, sizeof dst, "%s/docs/ladder.png", HANGUP_SOURCE_DIR);
        FILE *d = fopen(dst, "wb");
        cr_assert_not_null(d);
        fwrite(img, 1, len, d);
        fclose(d);
    }
    free(img);
    free(out);
    free(log);
    free(html);
    unlink(png);
    unlink(one);
    unlink(p);
}
