/*
 * agent_day.h — generates an agent's local data the way the field tool
 * writes it: plain SQL INSERTs on the replica's connection (the capture
 * triggers queue them for the next sync), the same columns `lastmile farmer
 * add`, `collect` and `grade` write (agent-cli/cmd_*.c).
 */
#ifndef LM_BENCH_AGENT_DAY_H
#define LM_BENCH_AGENT_DAY_H

#include <stddef.h>
#include <stdint.h>

#include "lm_sync.h"

/* Registers n farmers of village for agent user (one transaction). The
 * farmer ids are written to ids (n * LM_ID_SIZE bytes, caller-owned) so the
 * day can buy from them. LM_OK or an LM_E* code (message on stderr). */
int lm_bench_farmers(lm_replica *r, const char *user, const char *village, uint64_t seed, size_t n,
                     char *ids);

/* Writes one working day of agent user: n collections from the given farmers
 * of village, each with one grading, at prices read from the replica's
 * synced price list (so the catalog must have been pulled first), times
 * spread over 06:00-20:00 of today (China Standard Time). One transaction.
 * Returns LM_OK or an LM_E* code (message on stderr). */
int lm_bench_day(lm_replica *r, const char *user, const char *village, uint64_t seed,
                 const char *farmer_ids, size_t n_farmers, size_t n);

#endif
