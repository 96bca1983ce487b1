/*
 * live.h -- `hangup live`: capture from an interface and report races as
 * they happen.
 */
#ifndef HANGUP_LIVE_H
#define HANGUP_LIVE_H

int hu_cmd_live(int argc, char **argv);
extern const char hu_usage_live[];

#endif
