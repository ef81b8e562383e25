/*
 * lm_rules.h — the ledger's rules on one value, one implementation for both
 * ends: the field tool checks what an agent types before it writes it (and
 * exits 2 with the reason), the server checks every change it receives
 * before the merge applies it (lm_apply_ctx.ledger_rules) and refuses it
 * with the same reason. docs/cli.md "Bounds" and docs/sync.md "Ledger
 * rules" list them.
 *
 * Rules on a value alone live here. The rules on a new row that read the
 * writer's scope and other rows (a village of the agent's, a farmer of
 * the collection's village, a stop on a route of the dispatcher's county,
 * an amount against its price) are the engine's (scope.c, rules.c); the
 * server runs them on every change, the field tool on the row it is about
 * to write (lm_rules_new_row), against the scope the server last told it.
 *
 * Ownership: reasons are static strings; nothing is allocated.
 */
#ifndef LM_RULES_H
#define LM_RULES_H

#include <stdint.h>

#include "lm_protocol.h"
#include "lm_sync.h"
#include "money.h" /* text/: the amount formula and the kg and price bounds */

#ifdef __cplusplus
extern "C" {
#endif

/* One record's weight (or weight change, either way) and price per kg: far
 * beyond any village purchase, truck load or receipt, and low enough that
 * an amount (at most LM_RULES_MAX_AMOUNT_FEN) and every report total over
 * billions of records stay far from 64-bit overflow. */
#define LM_RULES_MAX_G LM_MONEY_MAX_G                   /* 1,000,000 kg */
#define LM_RULES_MAX_PRICE_FEN LM_MONEY_MAX_PRICE_FEN   /* 100,000 yuan/kg */
#define LM_RULES_MAX_AMOUNT_FEN INT64_C(10000000000000) /* 10^13 fen */
/* Bytes of UTF-8 in a text column: free text (a note, a reason, defects:
 * the protocol's value limit, LM_MAX_VALUE; lastmile's options take 1,000)
 * and everything else (names, codes, ids, phone numbers, dates). */
#define LM_RULES_MAX_LONG_TEXT 65536
#define LM_RULES_MAX_SHORT_TEXT 200
/* Times (ms since the epoch): none before 2020-01-01 UTC; a recorded event
 * at most a day past the checker's clock (a phone clock that is off by a
 * few hours still records), a planned pickup at most 400 days ahead. */
#define LM_RULES_MIN_TIME_MS UINT64_C(1577836800000)
#define LM_RULES_MAX_AHEAD_MS UINT64_C(86400000)
#define LM_RULES_MAX_PLAN_AHEAD_MS UINT64_C(34560000000)

/* amount = weight_g × price_fen / 1000 rounded half up, i.e. half away from
 * zero, so a negative adjustment of the whole weight gives back exactly the
 * collection's amount. LM_ERANGE when the product does not fit in 64 bits;
 * LM_EINVAL when price_fen is negative. *amount_fen is 0 on failure. */
int lm_rules_amount_fen(int64_t weight_g, int64_t price_fen, int64_t *amount_fen);

/* Whether text[0..len) is valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF) with no control character (C0 including TAB
 * and newline, DEL, C1) and at most max bytes. 0 when fine, else LM_EINVAL
 * (LM_ETOOBIG for the length) with *why set. */
int lm_rules_text(const char *text, size_t len, size_t max, const char **why);

/* The rules on one value of table.column as stored (NULL passes: whether a
 * column is required is a rule on the row). now_ms is the checker's clock.
 * 0 when fine; else LM_ERANGE (a number or time out of its bounds),
 * LM_EINVAL / LM_ETOOBIG (text) or LM_ETYPE, with *why a static reason
 * naming the bound. Columns the ledger does not know pass. */
int lm_rules_value(const char *table, const char *column, const lm_value *v, uint64_t now_ms,
                   const char **why);

/* Reads the value of column of the row being checked into *out (type
 * LM_VAL_NULL when the row has none; text borrowed or owned, the caller
 * clears out); < 0 fails the check with that error. */
typedef int (*lm_rules_get_fn)(void *ud, const char *column, lm_value *out);

/* The rules the server applies to a new row of table written by writer,
 * the same code: the scope and ownership rules (scope.c: an agent writes
 * farmers and its own collections in its villages, no route stops; a
 * dispatcher routes of its county and stops on them...) and the row
 * rules (rules.c: required columns, the amount, the farmer of the
 * collection's village), reading the other rows from r. 0 when the server
 * would take the row; else a refusal code (LM_ESCOPE, LM_EDENIED,
 * LM_EINVAL, LM_EMISSING...) with *why a static reason; or an error with
 * *why NULL. */
int lm_rules_new_row(lm_replica *r, const lm_scope *writer, const char *table, lm_rules_get_fn get,
                     void *ud, const char **why);

#ifdef __cplusplus
}
#endif
#endif
