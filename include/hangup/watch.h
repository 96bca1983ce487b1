/*
 * watch.h -- `hangup watch DIR`: follow a directory that tcpdump -G/-C
 * is writing, and report the incidents of its files as one continuous
 * capture while they are written (docs/DESIGN.md §3.9).
 */
#ifndef HANGUP_WATCH_H
#define HANGUP_WATCH_H

/* The command: argv[0] is the program's name, then options and DIR.
 * Returns the exit status (hu_cli_exit). */
int hu_cmd_watch(int argc, char **argv);
extern const char hu_usage_watch[];

#endif
