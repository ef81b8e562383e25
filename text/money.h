/*
 * money.h — exact decimal input for weights, prices and moisture. Nothing
 * here touches floating point: "12.345" kg is parsed digit by digit into
 * 12345 g, "3.10" yuan/kg into 310 fen, so what the agent typed is what
 * the ledger stores.
 */
#ifndef LM_TEXT_MONEY_H
#define LM_TEXT_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Parses an ASCII decimal "[-]D+[.D+]" into value × 10^places. No sign
 * other than a leading '-', no spaces, no exponent. Returns LM_OK, or
 * LM_EINVAL (not a number, or more than `places` decimals) / LM_ERANGE (does
 * not fit in 64 bits); *why (may be NULL) then points to a fixed phrase
 * ("is not a number", "has more than 3 decimals", "is too large"). */
int lm_money_parse_decimal(const char *s, int places, int64_t *out, const char **why);

/* Bounds on one record's weight (or weight change) and price: far beyond any
 * village purchase, truck load or receipt, and low enough that an amount
 * (at most 10^13 fen) and every report total over billions of records stay
 * far from 64-bit overflow. A value past its bound is LM_ERANGE, and *why
 * names the bound. */
#define LM_MONEY_MAX_G INT64_C(1000000000)       /* 1,000,000 kg */
#define LM_MONEY_MAX_PRICE_FEN INT64_C(10000000) /* 100,000 yuan/kg */

/* --kg: positive, at most 3 decimals and LM_MONEY_MAX_G, in grams. */
int lm_money_parse_kg(const char *s, int64_t *grams, const char **why);
/* --delta-kg: non-zero, may be negative, at most 3 decimals and
 * LM_MONEY_MAX_G either way, in grams. */
int lm_money_parse_delta_kg(const char *s, int64_t *grams, const char **why);
/* --price: yuan per kg, positive, at most 2 decimals and
 * LM_MONEY_MAX_PRICE_FEN, in fen per kg. */
int lm_money_parse_price(const char *s, int64_t *fen, const char **why);
/* --moisture: percent 0..100, at most 1 decimal, in permille. */
int lm_money_parse_moisture(const char *s, int64_t *permille, const char **why);

/* amount = weight_g × price_fen / 1000 rounded half up, i.e. half away from
 * zero, so a negative adjustment of the whole weight gives back exactly the
 * collection's amount. LM_ERANGE when the product does not fit in 64 bits;
 * LM_EINVAL when price_fen is negative. The one formula: the ledger's
 * rules (lm_rules_amount_fen) check received records against it. */
int lm_money_amount_fen(int64_t weight_g, int64_t price_fen, int64_t *amount_fen);

#endif
