/*
 * farmer_lookup.h — finding a farmer by what a person types: the field
 * tool's --farmer takes an id, an unambiguous id prefix or an exact name
 * (agents know farmers by name, not by 26-character ids), and `farmer
 * find` searches names, phones and household ids. Also the phone check
 * `farmer add` and `farmer edit` share.
 */
#ifndef LM_AGENT_FARMER_LOOKUP_H
#define LM_AGENT_FARMER_LOOKUP_H

#include <sqlite3.h>

#include "lm_sync.h"

/* Shortest id prefix taken as a reference (shorter ones are names only). */
#define LM_FARMER_MIN_PREFIX 4
/* Candidates listed when a reference is ambiguous. */
#define LM_FARMER_MAX_CANDIDATES 10

/* Resolves ref to one farmer of this replica: the farmer with that id, else
 * the one farmer whose name is ref or whose id starts with ref (letters in
 * any case). Copies the id to id_out and returns LM_EXIT_OK. Unknown: prints
 * "unknown farmer" with a pointer to `farmer find`, returns LM_EXIT_RUNTIME;
 * ambiguous: prints the candidates (id, name, village, phone) and returns
 * LM_EXIT_USAGE. */
int lm_farmer_resolve(const char *cmd, sqlite3 *db, const char *ref, char id_out[LM_ID_SIZE]);

/* 1 when a farmer named name already lives in village (other than
 * except_id, which may be NULL), with its id in id_out; 0 when none; an
 * LM_E* (negative) when the replica cannot be read. */
int lm_farmer_duplicate(sqlite3 *db, const char *name, const char *village, const char *except_id,
                        char id_out[LM_ID_SIZE]);

/* 1 when phone looks like a phone number: digits with at most one leading
 * '+' and spaces or '-' between groups, 7 to 15 digits (E.164's limit); a
 * Chinese mobile number (11 digits) must start with 1. 0 otherwise. */
int lm_farmer_phone_ok(const char *phone);

#endif
