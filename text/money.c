/*
 * money.c — exact decimal parsing (see money.h). The ledger stores integer
 * grams and fen; a value that cannot be stored exactly is refused rather
 * than rounded, because a silently rounded weight is a wrong payment.
 */
#include "money.h"

#include <stdio.h>
#include <string.h>

#include "lm_protocol.h"

/* Multiplies *acc by 10 and adds digit, refusing 64-bit overflow. */
static int push_digit(int64_t *acc, int digit)
{
    if (*acc > (INT64_MAX - digit) / 10)
        return LM_ERANGE;
    *acc = *acc * 10 + digit;
    return LM_OK;
}

int lm_money_parse_decimal(const char *s, int places, int64_t *out, const char **why)
{
    const char *p = s;
    int64_t acc = 0;
    int negative = 0, int_digits = 0, frac_digits = 0;
    const char *reason = "is not a number";
    int rc = LM_EINVAL;

    *out = 0;
    if (!s || places < 0 || places > 9)
        goto fail;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    for (; *p >= '0' && *p <= '9'; p++, int_digits++) {
        if (push_digit(&acc, *p - '0') != LM_OK)
            goto fail_range;
    }
    if (int_digits == 0)
        goto fail;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, frac_digits++) {
            /* Strict on purpose: "1.5000" has four decimals even though it
             * is exact, and the contract is "at most N decimals". */
            if (frac_digits >= places) {
                reason = NULL;
                goto fail;
            }
            if (push_digit(&acc, *p - '0') != LM_OK)
                goto fail_range;
        }
        if (frac_digits == 0)
            goto fail;
    }
    if (*p != '\0')
        goto fail;
    for (int i = frac_digits; i < places; i++) {
        if (push_digit(&acc, 0) != LM_OK)
            goto fail_range;
    }
    *out = negative ? -acc : acc;
    if (why)
        *why = NULL;
    return LM_OK;

fail_range:
    reason = "is too large";
    rc = LM_ERANGE;
fail:
    if (why) {
        if (reason) {
            *why = reason;
        } else {
            static const char *const over[] = {
                "must be a whole number",   "has more than 1 decimal",  "has more than 2 decimals",
                "has more than 3 decimals", "has more than 4 decimals", "has more than 5 decimals",
                "has more than 6 decimals", "has more than 7 decimals", "has more than 8 decimals",
                "has more than 9 decimals",
            };
            *why = over[places];
        }
    }
    return rc;
}

/* Parses with `places` decimals and applies a sign rule (sign > 0 requires a
 * positive value, sign == 0 a non-zero one) and a bound on the magnitude;
 * a value past max, even one past 64 bits, is refused with over_why. */
static int parse_bounded(const char *s, int places, int sign, int64_t max, const char *over_why,
                         int64_t *out, const char **why)
{
    int rc = lm_money_parse_decimal(s, places, out, why);
    if (rc == LM_ERANGE || (rc == LM_OK && (*out > max || *out < -max))) {
        if (why)
            *why = over_why;
        rc = LM_ERANGE;
        goto fail;
    }
    if (rc != LM_OK)
        return rc;
    rc = LM_EINVAL;
    if (sign > 0 && *out < 0) {
        if (why)
            *why = "must be positive";
        goto fail;
    }
    if (*out == 0) {
        if (why)
            *why = sign > 0 ? "must be positive" : "must not be zero";
        goto fail;
    }
    return LM_OK;
fail:
    *out = 0;
    return rc;
}

int lm_money_parse_kg(const char *s, int64_t *grams, const char **why)
{
    return parse_bounded(s, 3, 1, LM_MONEY_MAX_G, "is over the limit of 1000000 kg", grams, why);
}

int lm_money_parse_delta_kg(const char *s, int64_t *grams, const char **why)
{
    return parse_bounded(s, 3, 0, LM_MONEY_MAX_G, "is beyond the limit of 1000000 kg either way",
                         grams, why);
}

int lm_money_parse_price(const char *s, int64_t *fen, const char **why)
{
    return parse_bounded(s, 2, 1, LM_MONEY_MAX_PRICE_FEN, "is over the limit of 100000 yuan/kg",
                         fen, why);
}

int lm_money_parse_moisture(const char *s, int64_t *permille, const char **why)
{
    int rc = lm_money_parse_decimal(s, 1, permille, why);
    if (rc != LM_OK)
        return rc;
    if (*permille < 0 || *permille > 1000) {
        *permille = 0;
        if (why)
            *why = "must be between 0 and 100";
        return LM_ERANGE;
    }
    return LM_OK;
}

int lm_money_amount_fen(int64_t weight_g, int64_t price_fen, int64_t *amount_fen)
{
    *amount_fen = 0;
    if (price_fen < 0)
        return LM_EINVAL;
    if (weight_g == INT64_MIN)
        return LM_ERANGE;
    int64_t magnitude = weight_g < 0 ? -weight_g : weight_g;
    if (price_fen != 0 && magnitude > INT64_MAX / price_fen)
        return LM_ERANGE;
    int64_t product = magnitude * price_fen;
    int64_t amount = product / 1000 + (product % 1000 >= 500 ? 1 : 0);
    *amount_fen = weight_g < 0 ? -amount : amount;
    return LM_OK;
}
