/*
 * pgtest.c -- a real PostgreSQL server for the tests (see pgtest.h).
 *
 * Every program runs through tu_sh; as root each runs as nobody under
 * runuser, which is why the directory is made nobody's.  The port is one
 * the kernel just handed out for 127.0.0.1 and freed; should another
 * process take it first, starting fails and is tried with a new port.
 */
#include "pgtest.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A port free on 127.0.0.1 right now, or 0. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Run cmd as the server's user (nobody when we are root); its status, and
 * its output into out (malloc'd, may be NULL). */
static int as_owner(const char *cmd, char **out)
{
    char full[4096];
    if (geteuid() == 0)
        snprintf(full, sizeof full, "cd / && runuser -u nobody -- %s", cmd);
    else
        snprintf(full, sizeof full, "cd / && %s", cmd);
    char *o = NULL, *e = NULL;
    int st = tu_sh(full, &o, &e);
    if (out) {
        size_t lo = o ? strlen(o) : 0, le = e ? strlen(e) : 0;
        *out = malloc(lo + le + 1);
        if (*out)
            snprintf(*out, lo + le + 1, "%s%s", o ? o : "", e ? e : "");
    }
    free(o);
    free(e);
    return st;
}

/* The tail of the server's log (and what failed), into err. */
static void why(const tu_pg *pg, const char *what, const char *out, char *err, size_t n)
{
    char path[300];
    snprintf(path, sizeof path, "%s/log", pg->dir);
    size_t len = 0;
    char *log = tu_slurp(path, &len);
    const char *tail = log ? (len > 600 ? log + len - 600 : log) : "(no log)";
    snprintf(err, n, "PostgreSQL: %s failed: %s | log: %s", what, out ? out : "", tail);
    free(log);
}

static bool start_server(tu_pg *pg, char *err, size_t n)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!pg->port)
            pg->port = free_port();
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "%s/pg_ctl -D %s/data -l %s/log -w -t 60 -o '-c listen_addresses=127.0.0.1 "
                 "-p %d -k %s -c fsync=off -c max_connections=40' start",
                 pg->bin, pg->dir, pg->dir, pg->port, pg->dir);
        char *out = NULL;
        int st = as_owner(cmd, &out);
        if (st == 0) {
            free(out);
            pg->running = true;
            return true;
        }
        why(pg, "pg_ctl start", out, err, n);
        free(out);
        pg->port = 0;   /* taken meanwhile?  another one */
    }
    return false;
}

bool tu_pg_start(tu_pg *pg, char *err, size_t n)
{
    memset(pg, 0, sizeof *pg);
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
        snprintf(err, n, "PostgreSQL: no /usr/lib/postgresql/*/bin/initdb (apt-get install "
                         "postgresql: scripts/install-deps)");
        return false;
    }
    snprintf(pg->bin, sizeof pg->bin, "%.*s", (int)(strlen(g.gl_pathv[g.gl_pathc - 1]) - 7),
             g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    snprintf(pg->dir, sizeof pg->dir, "/tmp/hangup-pg-XXXXXX");
    if (!mkdtemp(pg->dir)) {
        snprintf(err, n, "PostgreSQL: cannot make a temporary directory");
        return false;
    }
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("nobody");
        if (!pw || chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
            snprintf(err, n, "PostgreSQL: cannot give %s to nobody", pg->dir);
            return false;
        }
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/initdb -D %s/data -U hangup --auth=trust -E UTF8 "
             "--locale=C.UTF-8", pg->bin, pg->dir);
    char *out = NULL;
    if (as_owner(cmd, &out) != 0) {
        why(pg, "initdb", out, err, n);
        free(out);
        return false;
    }
    free(out);
    return start_server(pg, err, n);
}

bool tu_pg_stop(tu_pg *pg)
{
    if (!pg->running)
        return true;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/pg_ctl -D %s/data -m fast -w -t 60 stop", pg->bin, pg->dir);
    pg->running = as_owner(cmd, NULL) != 0;
    return !pg->running;
}

bool tu_pg_restart(tu_pg *pg, char *err, size_t n)
{
    int port = pg->port;
    if (!start_server(pg, err, n))
        return false;
    if (pg->port != port) {   /* the old port was taken: clients would not find it */
        snprintf(err, n, "PostgreSQL: port %d was taken while the server was down", port);
        return false;
    }
    return true;
}

void tu_pg_destroy(tu_pg *pg)
{
    if (!pg->dir[0])
        return;
    tu_pg_stop(pg);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", pg->dir);
    tu_sh(cmd, NULL, NULL);
    pg->dir[0] = '\0';
}

const char *tu_pg_uri(const tu_pg *pg, const char *name)
{
    static char buf[300];
    snprintf(buf, sizeof buf, "postgresql://hangup@127.0.0.1:%d/%s", pg->port, name);
    return buf;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

char *tu_pg_value(const tu_pg *pg, const char *name, const char *sql, char *err, size_t n)
{
    PGconn *c = PQconnectdb(tu_pg_uri(pg, name));
    char *v = NULL;
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, n, "%s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        v = strdup(st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    else
        snprintf(err, n, "%s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return v;
}

bool tu_pg_createdb(tu_pg *pg, const char *name, char *err, size_t n)
{
    char sql[300];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\"", name);
    char *v = tu_pg_value(pg, "postgres", sql, err, n);
    if (!v)
        return false;
    free(v);
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
    v = tu_pg_value(pg, "postgres", sql, err, n);
    free(v);
    return v != NULL;
}

void tu_pg_up(tu_pg *pg, const char *name)
{
    char err[2048];
    cr_assert(tu_pg_start(pg, err, sizeof err), "%s", err);
    cr_assert(tu_pg_createdb(pg, name, err, sizeof err), "%s", err);
}
