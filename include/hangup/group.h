/*
 * group.h -- identical incidents counted together.
 *
 * Six refused connections, or a client pool racing the same server a
 * hundred times an hour, are one finding, not seventy lines each.  Two
 * incidents are identical when they share kind, server (address and
 * port), verdict (keep-alive races) and the lost request's method and
 * target; a group counts them and keeps the first and last time and the
 * first one's file and number, so the report can print a few in full and
 * one line for the rest (report.c decides how many).
 */
#ifndef HANGUP_GROUP_H
#define HANGUP_GROUP_H

#include <stddef.h>
#include <stdint.h>
#include "hangup/incident.h"

/* At most this many groups are kept; incidents beyond are not grouped. */
#define HU_MAX_GROUPS 16384

/* How a report shows identical incidents. */
typedef enum hu_group_mode {
    HU_GROUP_AUTO = 0,        /* the first HU_GROUP_SHOWN of a group in full, the
                                 rest counted and listed after them */
    HU_GROUP_SUMMARY,         /* one line per group, no incident in full */
    HU_GROUP_ALL,             /* every incident in full, no grouping */
} hu_group_mode;

#define HU_GROUP_SHOWN 3

typedef struct hu_group {
    /* The key. */
    hu_kind kindid;
    hu_verdict verdict;       /* keep-alive races; HU_VERDICT_CROSSED otherwise */
    uint8_t ipver;
    uint8_t srv_addr[16];
    uint16_t srv_port;
    bool http;                /* method and target were decoded */
    char method[HU_METHOD_MAX + 1];
    uint8_t target[HU_TARGET_MAX];
    size_t target_len;
    /* What was seen. */
    uint64_t count;
    int64_t first_us, last_us;   /* the incidents' times (hu_group_time) */
    char *first_file;         /* owned */
    uint64_t first_number;    /* the first incident's number in its capture */
    uint64_t printed;         /* the report's: how many it printed in full */
} hu_group;

typedef struct hu_groups hu_groups;

/* An empty set; NULL when out of memory. */
hu_groups *hu_groups_new(void);
/* Frees g and its groups (NULL is a no-op). */
void hu_groups_free(hu_groups *g);

/* Count rec in its group, made on first sight; the group (owned by g,
 * valid until hu_groups_free), or NULL when rec cannot be grouped (out of
 * memory, or HU_MAX_GROUPS groups already). */
hu_group *hu_groups_add(hu_groups *g, const hu_incident_rec *rec);

/* The groups, in the order they were first seen: *n of them (owned by g). */
hu_group *const *hu_groups_list(const hu_groups *g, size_t *n);

/* When an incident happened: its request, else its FIN, RST or first
 * timeline packet (0 when it has none). */
int64_t hu_group_time(const hu_incident_rec *rec);

#endif
