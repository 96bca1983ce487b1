/*
 * query.h -- the database commands: query, report, show.
 *
 * Each takes argc/argv starting at the command name and returns the exit
 * status (hu_cli_exit, cli.h).
 */
#ifndef HANGUP_QUERY_H
#define HANGUP_QUERY_H

int hu_cmd_query(int argc, char **argv);
int hu_cmd_report(int argc, char **argv);
int hu_cmd_show(int argc, char **argv);

extern const char hu_usage_query[];
extern const char hu_usage_report[];
extern const char hu_usage_show[];

#endif
