/*
 * watch.c -- `hangup watch DIR`: the files a running tcpdump -G or -C
 * writes into DIR, analysed as one continuous capture while they are
 * written (docs/DESIGN.md §3.9).
 *
 * Each pass lists DIR and knows every capture file in it by its *head*: a
 * hash of its first bytes (the file header and first record of a classic
 * pcap file, as decompressed; the first 4 KiB of anything else), so a
 * file keeps its identity when renamed or compressed (tcpdump -z gzip),
 * and a name tcpdump -W reuses is a new file.  Files are taken in the
 * order of their first packet; the newest is the one being written.  A
 * plain classic pcap file (what tcpdump writes) is read as it grows, up to
 * its last whole record, and taken up again at that record's offset (the
 * direct reader, capture.c); a compressed or pcapng file is read whole
 * once finished.  A file is finished once a newer one exists (tcpdump has
 * moved on), and only then is a record cut short at its end an error.
 * Every file that continues the one before (hu_analyzer_set_continues:
 * link type, snapshot length, interface, time) goes through the same
 * pipeline, so connections, relative sequence numbers and the server
 * summary carry across files; one that does not begins a new capture.
 * Incidents are final when found, as in `live`, and the database is
 * committed after every pass.
 *
 * What has been read of each file (its head, offset, records, done) is
 * kept so that a restart takes up each file where the last run stopped:
 * in the database, inside the transaction of the incidents found (so the
 * two cannot disagree), or with --state FILE in that file (written after
 * each pass, replaced by rename), or nowhere with --no-db alone.
 *
 * The loop waits on inotify (new, written, moved and deleted files, at
 * most one pass per 100 ms) or, without it or with --poll, polls every
 * --interval seconds; SIGINT and SIGTERM come through a signalfd, so the
 * loop ends cleanly: a last pass, the state and the capture committed,
 * the summary printed.
 */
#include "hangup/watch.h"
#include "hangup/analyze.h"
#include "hangup/capture.h"
#include "hangup/cli.h"
#include "hangup/store.h"
#include "hangup/zfile.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

const char hu_usage_watch[] =
    "usage: hangup watch [options] DIR\n"
    "\n"
    "Follow the directory DIR that tcpdump is writing rotated files into\n"
    "(tcpdump -G SECS -w 'DIR/cap-%s.pcap', or -C MB -W N -w DIR/cap.pcap) and\n"
    "report each race as its packets are written: the files are read in the\n"
    "order of their first packet as one continuous capture (connections,\n"
    "tcpdump's relative numbers and the server summary carry across files), the\n"
    "file being written up to its last whole packet, compressed files (gzip,\n"
    "zstd, xz) and pcapng ones once finished.  Each incident is printed and\n"
    "stored as soon as it is found, named by its file and packet number there.\n"
    "Stops on Ctrl-C (SIGINT) or SIGTERM: what is written so far is read,\n"
    "stored and summarised.  Run again, it takes up each file where it stopped.\n"
    "\n"
    "options:\n"
    "  -f, --filter EXPR       only look at packets matching EXPR (quote it)\n"
    "      --json              JSON lines instead of explanations\n"
    "      --no-timeline       no tcpdump timeline in explanations\n"
    "      --summary           one line per group of identical incidents at the\n"
    "                          end, instead of each incident (see analyze)\n"
    "      --all               print every incident in full\n"
    "      --tls-keylog FILE   decrypt TLS with this key log (see analyze)\n"
    "      --kind K[,K...]     print only incidents of these kinds (see analyze)\n"
    "      --db PATH           database (default: hangup.db); --no-db for none.\n"
    "                          What has been read of each file is kept there,\n"
    "                          committed with the incidents found in it\n"
    "      --sensor NAME       the sensor stored with each capture (default: the\n"
    "                          host name)\n"
    "      --state FILE        keep what has been read of each file in FILE\n"
    "                          instead (with --no-db: else nothing is kept and\n"
    "                          every run reads DIR from the start)\n"
    "  -w FILE                 write each incident's connection to the pcapng\n"
    "                          FILE (see live)\n"
    "      --idle-timeout SECS forget connections idle this long (default 3600)\n"
    "      --max-connections N track at most N connections (default 262144)\n"
    "      --poll              look at DIR every --interval seconds instead of\n"
    "                          being told of changes by inotify\n"
    "      --interval SECS     how often to look without inotify (default 1)\n"
    "  -h, --help              show this help\n"
    "\n"
    "exit status: 0 stopped cleanly; 1 a file could be read only in part (each\n"
    "said so in one line); 2 usage error or bad filter; 3 out of memory; 4\n"
    "database error.\n";

/* Bytes of a file that is not classic pcap taken as its head. */
#define HEAD_BYTES 4096
/* A classic pcap first record longer than this is not waited for: its
 * head is the bytes up to here. */
#define HEAD_MAX (24 + 16 + 262144)
/* A pass after a change is delayed this long, so a busy tcpdump's writes
 * make at most ten passes a second. */
#define SETTLE_MS 100

/* A file of DIR, as known. */
typedef struct wfile {
    char *name;
    char head[33];            /* identity: hash of its first bytes, hex */
    uint64_t dev, ino, size;
    int64_t mtime_ns;
    uint64_t offset;          /* where its next unread record begins (0: unknown) */
    uint64_t records;         /* records read */
    bool done;                /* read to its end (or given up on) */
    bool plain;               /* uncompressed classic pcap: read while written */
    bool probed;              /* pr holds its first packet */
    hu_capture_probe pr;
    bool seen;                /* in the latest listing */
} wfile;

typedef struct watcher {
    hu_analyzer *a;
    const char *dir;
    char dir_key[PATH_MAX];   /* DIR's real path: the state's key */
    const char *state_path;   /* --state, or NULL */
    dev_t state_dev;          /* the state file, when it is in DIR */
    ino_t state_ino;
    wfile *f;
    size_t n, cap;
    bool set_open;
    char cur_head[33];        /* the set's last file, "" before one */
    int status;               /* exit status so far */
    bool dir_failed;          /* DIR could not be listed: said once */
} watcher;

typedef struct watch_args {
    hu_analyze_opts o;
    const char *dir;
    const char *state;
    bool poll;
    long long interval;
    char *filter_owned;
} watch_args;

/* ---- The state: what has been read of each file. ---- */

static wfile *add_file(watcher *w, const char *name)
{
    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        wfile *nf = realloc(w->f, nc * sizeof *nf);
        if (!nf)
            return NULL;
        w->f = nf;
        w->cap = nc;
    }
    wfile *f = &w->f[w->n];
    memset(f, 0, sizeof *f);
    if (!(f->name = strdup(name)))
        return NULL;
    w->n++;
    return f;
}

static void drop_file(watcher *w, size_t i)
{
    free(w->f[i].name);
    w->f[i] = w->f[--w->n];
}

/* hu_watch_row_fn: a file remembered from an earlier run. */
static bool load_row(void *arg, const hu_watch_row *r)
{
    watcher *w = arg;
    wfile *f = add_file(w, r->name);
    if (!f)
        return false;
    snprintf(f->head, sizeof f->head, "%s", r->head);
    f->dev = r->dev;
    f->ino = r->ino;
    f->offset = r->offset;
    f->records = r->records;
    f->done = r->done;
    return true;
}

/* The state file: "hangup-watch 1", then per file "head dev ino offset
 * records done name".  A missing file is an empty state; a line that does
 * not parse ends the load (false, said). */
static bool load_state_file(watcher *w)
{
    FILE *fp = fopen(w->state_path, "r");
    if (!fp)
        return errno == ENOENT || (fprintf(stderr, "hangup: --state %s: %s\n", w->state_path,
                                           strerror(errno)), false);
    char line[PATH_MAX + 256];
    bool ok = fgets(line, sizeof line, fp) && strcmp(line, "hangup-watch 1\n") == 0;
    while (ok && fgets(line, sizeof line, fp)) {
        char head[33];
        unsigned long long dev, ino, off, rec;
        int done, at = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%32s %llu %llu %llu %llu %d %n", head, &dev, &ino, &off, &rec, &done,
                   &at) < 6 || at == 0 || !line[at]) {
            ok = false;
            break;
        }
        hu_watch_row r = { .head = head, .name = line + at, .dev = dev, .ino = ino,
                           .offset = off, .records = rec, .done = done != 0 };
        if (!load_row(w, &r)) {
            fclose(fp);
            fputs("hangup: out of memory\n", stderr);
            return false;
        }
    }
    fclose(fp);
    if (!ok)
        fprintf(stderr, "hangup: --state %s: not a state file written by hangup watch\n",
                w->state_path);
    return ok;
}

static bool save_state_file(watcher *w)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", w->state_path);
    FILE *fp = fopen(tmp, "w");
    if (!fp) {
        fprintf(stderr, "hangup: --state %s: %s\n", tmp, strerror(errno));
        return false;
    }
    fputs("hangup-watch 1\n", fp);
    for (size_t i = 0; i < w->n; i++) {
        const wfile *f = &w->f[i];
        if (f->head[0])
            fprintf(fp, "%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %d %s\n", f->head,
                    f->dev, f->ino, f->offset, f->records, f->done, f->name);
    }
    bool ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, w->state_path) != 0) {
        fprintf(stderr, "hangup: --state %s: %s\n", w->state_path, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}

/* Record what has been read of each file: in the database (inside the
 * open capture's transaction, committed with its incidents) or the state
 * file. */
static void save_state(watcher *w)
{
    if (w->state_path) {
        if (!save_state_file(w) && w->status == 0)
            w->status = HU_CLI_EXIT_INPUT;
        return;
    }
    hu_store *s = hu_analyzer_store(w->a);
    if (!s)
        return;
    hu_watch_row *rows = calloc(w->n ? w->n : 1, sizeof *rows);
    if (!rows) {
        fputs("hangup: out of memory recording the watched files\n", stderr);
        w->status = HU_CLI_EXIT_NOMEM;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->f[i].head[0])
            rows[k++] = (hu_watch_row){ .head = w->f[i].head, .name = w->f[i].name,
                                        .dev = w->f[i].dev, .ino = w->f[i].ino,
                                        .offset = w->f[i].offset, .records = w->f[i].records,
                                        .done = w->f[i].done };
    char err[1024];
    if (!hu_store_watch_save(s, w->dir_key, rows, k, err, sizeof err)) {
        fprintf(stderr, "hangup: %s\n", err);
        w->status = HU_CLI_EXIT_DB;
    }
    free(rows);
}

/* ---- Knowing a file by its first bytes. ---- */

static uint32_t rd32(const uint8_t *p, bool swapped)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swapped ? __builtin_bswap32(v) : v;
}

/* The head of DIR/name into head (33 bytes) and whether it is plain
 * classic pcap; false when it has none yet (shorter than its header and
 * first record, or than HEAD_BYTES and written to within 2 s) or cannot be
 * read.  The bytes are the decompressed ones. */
static bool file_head(const char *path, const struct stat *st, char head[33], bool *plain)
{
    char err[256];
    hu_zfile *z = NULL;
    FILE *fp = hu_zfile_open(path, &z, err, sizeof err);
    if (!fp)
        return false;
    uint8_t *buf = malloc(HEAD_MAX);
    size_t got = buf ? fread(buf, 1, 40, fp) : 0;
    size_t want = HEAD_BYTES;
    bool classic = false;
    if (got >= 4) {
        uint32_t m = rd32(buf, false);
        classic = m == 0xa1b2c3d4u || m == 0xa1b23c4du || m == 0xd4c3b2a1u || m == 0x4d3cb2a1u;
    }
    if (classic) {
        bool sw = rd32(buf, false) == 0xd4c3b2a1u || rd32(buf, false) == 0x4d3cb2a1u;
        want = got >= 40 ? 40 + (size_t)rd32(buf + 32, sw) : 40;
        if (want > HEAD_MAX)
            want = HEAD_MAX;
    }
    if (buf && got == 40 && want > 40)
        got += fread(buf + 40, 1, want - 40, fp);
    bool ok = buf && got >= 4 && got >= (classic ? want : 1);
    if (ok && !classic && got < want) {
        /* A short file that is not classic pcap: its first bytes may still
         * change, unless nothing has been written for a while. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        ok = now.tv_sec - st->st_mtim.tv_sec >= 2;
    }
    if (ok) {
        XXH128_hash_t h = XXH3_128bits(buf, got);
        snprintf(head, 33, "%016llx%016llx", (unsigned long long)h.high64,
                 (unsigned long long)h.low64);
        *plain = classic && !z;
    }
    free(buf);
    fclose(fp);
    return ok;
}

/* ---- One look at DIR. ---- */

static wfile *find_head(watcher *w, const char *head)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->f[i].head, head) == 0)
            return &w->f[i];
    return NULL;
}

static wfile *find_name(watcher *w, const char *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->f[i].name, name) == 0)
            return &w->f[i];
    return NULL;
}

/* A file unread in part has gone (deleted, or its name taken by another
 * file): one line. */
static void say_lost(const wfile *f, const char *how)
{
    if (!f->done)
        fprintf(stderr, "hangup: watch: %s %s before it was read to its end (%" PRIu64
                " packets read); going on\n", f->name, how, f->records);
}

/* One directory entry: match it to a known file or add it.  False when
 * out of memory. */
static bool look_at(watcher *w, const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", w->dir, name) >= (int)sizeof path ||
        stat(path, &st) != 0 || !S_ISREG(st.st_mode) || strchr(name, '\n'))
        return true;
    if (w->state_path && st.st_dev == w->state_dev && st.st_ino == w->state_ino)
        return true;
    int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    wfile *byname = find_name(w, name);
    char head[33];
    bool plain;
    if (byname && byname->head[0] && byname->dev == (uint64_t)st.st_dev &&
        byname->ino == (uint64_t)st.st_ino && byname->size == (uint64_t)st.st_size &&
        byname->mtime_ns == mt) {
        byname->seen = true;   /* unchanged since the last look */
        return true;
    }
    if (!file_head(path, &st, head, &plain)) {
        if (byname && byname->head[0] && !byname->seen) {
            say_lost(byname, "was truncated");
            byname->done = true;   /* its row goes with it */
            byname->head[0] = '\0';
        }
        return true;
    }
    wfile *f = find_head(w, head);
    if (f && f->seen && strcmp(f->name, name) != 0)
        return true;   /* a second copy of a file already listed */
    if (byname && byname != f && !byname->seen && byname->head[0]) {
        say_lost(byname, "was replaced");   /* -W reused its name, or it was rewritten */
        byname->done = true;
        byname->head[0] = '\0';
    }
    if (f && strcmp(f->name, name) != 0) {
        fprintf(stderr, "hangup: watch: %s was renamed %s\n", f->name, name);
        char *nn = strdup(name);
        if (!nn)
            return false;
        free(f->name);
        f->name = nn;
    }
    if (!f) {
        if (!(f = add_file(w, name)))
            return false;
        memcpy(f->head, head, sizeof head);
    }
    if (f->plain && f->offset && (uint64_t)st.st_size < f->offset && !f->done) {
        fprintf(stderr, "hangup: watch: %s was truncated to %llu bytes under hangup, which "
                "had read %llu (%" PRIu64 " packets); the rest is not read\n", name,
                (unsigned long long)st.st_size, (unsigned long long)f->offset, f->records);
        f->done = true;
    }
    f->plain = plain;
    f->dev = (uint64_t)st.st_dev;
    f->ino = (uint64_t)st.st_ino;
    f->size = (uint64_t)st.st_size;
    f->mtime_ns = mt;
    f->seen = true;
    if (!f->probed && !f->done) {
        char err[256];
        f->probed = hu_capture_probe_file(path, false, NULL, NULL, &f->pr, err, sizeof err) &&
                    f->pr.frames > 0;
    }
    return true;
}

/* List DIR and bring the known files up to date; false when out of
 * memory. */
static bool scan(watcher *w)
{
    for (size_t i = 0; i < w->n; i++)
        w->f[i].seen = false;
    DIR *d = opendir(w->dir);
    if (!d) {
        if (!w->dir_failed)
            fprintf(stderr, "hangup: watch: %s: %s; still watching\n", w->dir, strerror(errno));
        w->dir_failed = true;
        for (size_t i = 0; i < w->n; i++)
            w->f[i].seen = true;   /* nothing is known to be gone */
        return true;
    }
    w->dir_failed = false;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            ok = look_at(w, e->d_name);
    closedir(d);
    for (size_t i = w->n; ok && i-- > 0;) {
        wfile *f = &w->f[i];
        if (f->seen)
            continue;
        if (f->head[0] && (f->probed || f->records))
            say_lost(f, "was deleted");
        if (f->head[0] && strcmp(w->cur_head, f->head) == 0)
            w->cur_head[0] = '\0';
        drop_file(w, i);
    }
    return ok;
}

/* ---- Reading. ---- */

static int by_first_packet(const void *x, const void *y)
{
    const wfile *a = *(wfile *const *)x, *b = *(wfile *const *)y;
    if (a->pr.first_us != b->pr.first_us)
        return a->pr.first_us < b->pr.first_us ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* The set ends (what has been read is recorded in its transaction). */
static void end_set(watcher *w)
{
    if (!w->set_open)
        return;
    save_state(w);
    hu_file_rc rc = hu_analyzer_set_end(w->a);
    if (rc == HU_FILE_STORE && w->status == 0)
        w->status = HU_CLI_EXIT_DB;
    else if (rc == HU_FILE_NOMEM)
        w->status = HU_CLI_EXIT_NOMEM;
    w->set_open = false;
    w->cur_head[0] = '\0';
}

/* Read what is new of file f; finished: tcpdump has moved on from it.
 * False on a fatal error (bad filter, out of memory): w->status says. */
static bool read_one(watcher *w, wfile *f, bool finished)
{
    bool same = w->set_open && strcmp(w->cur_head, f->head) == 0;
    if (!same) {
        if (w->set_open && !hu_analyzer_set_continues(w->a, &f->pr))
            end_set(w);
        if (!w->set_open) {
            if (!hu_analyzer_set_begin(w->a, 64ull << 20)) {
                fputs("hangup: out of memory\n", stderr);
                w->status = HU_CLI_EXIT_NOMEM;
                return false;
            }
            w->set_open = true;
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", w->dir, f->name);
    hu_set_part p = { .records = f->records, .offset = f->plain ? f->offset : 0,
                      .growing = !finished, .more = same };
    hu_file_rc rc = hu_analyzer_set_part(w->a, path, &p);
    memcpy(w->cur_head, f->head, sizeof f->head);
    if (p.records > f->records || rc == HU_FILE_OK)
        f->offset = p.offset;
    if (p.records > f->records)
        f->records = p.records;
    switch (rc) {
    case HU_FILE_OK:
        f->done = finished;
        return true;
    case HU_FILE_BADFILTER:
        w->status = HU_CLI_EXIT_USAGE;
        return false;
    case HU_FILE_NOMEM:
        w->status = HU_CLI_EXIT_NOMEM;
        return false;
    case HU_FILE_STORE:
        if (w->status == 0)
            w->status = HU_CLI_EXIT_DB;
        f->done = finished;
        return true;
    default:   /* said in one line, with the packet: this file is over */
        f->done = true;
        if (w->status == 0)
            w->status = HU_CLI_EXIT_INPUT;
        return true;
    }
}

/* One pass: look at DIR, read what is new in every file in order.  False
 * on a fatal error. */
static bool pass(watcher *w)
{
    if (!scan(w)) {
        fputs("hangup: out of memory\n", stderr);
        w->status = HU_CLI_EXIT_NOMEM;
        return false;
    }
    wfile **order = malloc((w->n ? w->n : 1) * sizeof *order);
    if (!order) {
        fputs("hangup: out of memory\n", stderr);
        w->status = HU_CLI_EXIT_NOMEM;
        return false;
    }
    size_t k = 0;
    const wfile *last = NULL;   /* the newest first packet: being written */
    for (size_t i = 0; i < w->n; i++) {
        const wfile *f = &w->f[i];
        if (f->probed && (!last || by_first_packet(&f, &last) > 0))
            last = f;
        if (f->probed && !f->done && f->head[0])
            order[k++] = &w->f[i];
    }
    qsort(order, k, sizeof *order, by_first_packet);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    bool ok = true;
    for (size_t i = 0; i < k && ok; i++) {
        wfile *f = order[i];
        /* A newer file means tcpdump has moved on; the newest is being
         * written, unless it is not a plain pcap file (tcpdump writes no
         * other) and nothing has touched it for 2 s. */
        bool finished = f != last || (!f->plain && now_ns - f->mtime_ns > 2000000000LL);
        if (!finished && !f->plain)
            break;   /* read whole once finished */
        ok = read_one(w, f, finished);
    }
    free(order);
    return ok;
}

/* ---- The command. ---- */

static int parse_args(int argc, char **argv, watch_args *wa)
{
    hu_cli_opts_default(&wa->o);
    wa->interval = 1;
    enum { OPT_STATE = HU_CLI_OPT_OWN, OPT_POLL, OPT_INTERVAL };
    static const struct option lo[] = {
        HU_CLI_LONGOPTS,
        { "state", required_argument, NULL, OPT_STATE },
        { "poll", no_argument, NULL, OPT_POLL },
        { "interval", required_argument, NULL, OPT_INTERVAL },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, HU_CLI_SHORTOPTS "h", lo, NULL)) != -1) {
        hu_cli_opt_rc shared = hu_cli_common_option(c, optarg, &wa->o);
        if (shared == HU_CLI_HANDLED)
            continue;
        if (shared == HU_CLI_BAD_VALUE)
            return HU_CLI_EXIT_USAGE;
        switch (c) {
        case OPT_STATE:
            wa->state = optarg;
            break;
        case OPT_POLL:
            wa->poll = true;
            break;
        case OPT_INTERVAL:
            if (!hu_cli_parse_number(optarg, "--interval", 1, 3600, &wa->interval))
                return HU_CLI_EXIT_USAGE;
            break;
        case 'h':
            fputs(hu_usage_watch, stdout);
            return 0;
        default:
            fputs("Run 'hangup help watch' for the options.\n", stderr);
            return HU_CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "hangup: watch takes one directory\n\n%s", hu_usage_watch);
        return HU_CLI_EXIT_USAGE;
    }
    wa->dir = argv[optind];
    wa->o.live = true;   /* incidents final when found; commits as the loop goes */
    return -1;
}

/* Wait for a change in DIR (ifd: inotify, or -1: poll every interval s)
 * or a signal (sfd); true when a signal asks to stop. */
static bool wait_change(int ifd, int sfd, long long interval)
{
    struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ifd, .events = POLLIN } };
    int r = poll(p, ifd >= 0 ? 2 : 1, (int)(ifd >= 0 ? 1000 : interval * 1000));
    if (r > 0 && (p[0].revents & POLLIN))
        return true;
    if (r > 0 && ifd >= 0 && (p[1].revents & POLLIN)) {
        char buf[4096];
        while (read(ifd, buf, sizeof buf) > 0) {
        }
        /* let a burst of writes settle into one pass */
        if (poll(p, 1, SETTLE_MS) > 0 && (p[0].revents & POLLIN))
            return true;
    }
    return false;
}

/* Load what earlier runs read (database or state file); false when it
 * cannot be, said. */
static bool load_state(watcher *w)
{
    if (w->state_path) {
        struct stat st;
        if (stat(w->state_path, &st) == 0) {
            w->state_dev = st.st_dev;
            w->state_ino = st.st_ino;
        }
        return load_state_file(w);
    }
    hu_store *s = hu_analyzer_store(w->a);
    char err[1024];
    if (s && !hu_store_watch_load(s, w->dir_key, load_row, w, err, sizeof err)) {
        fprintf(stderr, "hangup: %s\n", err);
        return false;
    }
    return true;
}

/* The loop: pass, record, commit, wait; until a signal. */
static void watch_loop(watcher *w, int ifd, int sfd, long long interval)
{
    for (;;) {
        if (!pass(w))
            return;
        save_state(w);   /* into the transaction the tick commits, if one is open */
        hu_analyzer_tick(w->a);
        if (wait_change(ifd, sfd, interval))
            break;
    }
    pass(w);   /* what was written up to the signal */
}

int hu_cmd_watch(int argc, char **argv)
{
    watch_args wa = { 0 };
    int st = parse_args(argc, argv, &wa);
    if (st >= 0)
        return st;
    watcher w = { .dir = wa.dir, .state_path = wa.state };
    struct stat dst;
    if (!realpath(wa.dir, w.dir_key) || stat(w.dir_key, &dst) != 0) {
        fprintf(stderr, "hangup: watch: %s: %s\n", wa.dir, strerror(errno));
        return HU_CLI_EXIT_INPUT;
    }
    if (!S_ISDIR(dst.st_mode)) {
        fprintf(stderr, "hangup: watch: %s: not a directory\n", wa.dir);
        return HU_CLI_EXIT_INPUT;
    }
    tzset();
    hu_file_rc why;
    w.a = hu_analyzer_new(&wa.o, &why);
    if (!w.a)
        return why == HU_FILE_FAILED ? HU_CLI_EXIT_INPUT : HU_CLI_EXIT_NOMEM;
    if (!load_state(&w)) {
        hu_analyzer_free(w.a);
        return HU_CLI_EXIT_USAGE;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sfd < 0)   /* no way to hear them in the loop: let them end it */
        sigprocmask(SIG_UNBLOCK, &sigs, NULL);
    int ifd = wa.poll ? -1 : inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd >= 0 && inotify_add_watch(ifd, wa.dir, IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE |
                                                       IN_MOVED_FROM | IN_MOVED_TO |
                                                       IN_DELETE | IN_ATTRIB) < 0) {
        close(ifd);
        ifd = -1;
    }
    fprintf(stderr, "hangup: watching %s (%s); Ctrl-C to stop\n", wa.dir,
            ifd >= 0 ? "inotify" : "polling");
    watch_loop(&w, ifd, sfd, wa.interval);
    if (w.set_open)
        end_set(&w);   /* the state committed with the capture */
    else
        save_state(&w);
    if (!hu_analyzer_finish(w.a) && w.status == 0)
        w.status = HU_CLI_EXIT_INPUT;
    hu_analyzer_free(w.a);
    for (size_t i = 0; i < w.n; i++)
        free(w.f[i].name);
    free(w.f);
    if (ifd >= 0)
        close(ifd);
    if (sfd >= 0)
        close(sfd);
    return w.status;
}
