/*
 * storetab.h -- hangup's tables as column tables (private to the stores,
 * store.c and storepg.c): incidents (records hu_incident_rec), their
 * timelines (hu_tl_entry, owner the incident, position its index),
 * connections (hu_conn_row) and server summaries (hu_server_summary),
 * each owned by its capture.  Constant data, no state.
 */
#ifndef HANGUP_STORETAB_H
#define HANGUP_STORETAB_H

#include "storecol.h"

extern const hu_storecol_table hu_store_incidents;
extern const hu_storecol_table hu_store_incident_packets;
extern const hu_storecol_table hu_store_connections;
extern const hu_storecol_table hu_store_servers;

#endif
