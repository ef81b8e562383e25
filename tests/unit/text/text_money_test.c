/*
 * text_money_test.c — exact decimal parsing of --kg, --price, --delta-kg,
 * --moisture and the rounded amount: every refusal class, the precision
 * edges, the per-record bounds, 64-bit overflow, and rounding half up (away
 * from zero).
 */
#include <stdint.h>

#include "lm_test.h"
#include "money.h"

static void test_kg(void)
{
    int64_t g = -1;
    const char *why = NULL;
    CHECK_RC(lm_money_parse_kg("12.345", &g, &why), LM_OK);
    CHECK_EQ_INT(g, 12345);
    CHECK(why == NULL);
    CHECK_RC(lm_money_parse_kg("1", &g, NULL), LM_OK);
    CHECK_EQ_INT(g, 1000);
    CHECK_RC(lm_money_parse_kg("0.001", &g, NULL), LM_OK);
    CHECK_EQ_INT(g, 1);
    CHECK_RC(lm_money_parse_kg("2.5", &g, NULL), LM_OK);
    CHECK_EQ_INT(g, 2500);
    CHECK_RC(lm_money_parse_kg("2.50", &g, NULL), LM_OK);
    CHECK_EQ_INT(g, 2500);
    CHECK_RC(lm_money_parse_kg("007.100", &g, NULL), LM_OK);
    CHECK_EQ_INT(g, 7100);

    /* Refusals: each leaves 0 and says why. */
    CHECK_RC(lm_money_parse_kg("1.2345", &g, &why), LM_EINVAL);
    CHECK_EQ_INT(g, 0);
    CHECK_STR(why, "has more than 3 decimals");
    CHECK_RC(lm_money_parse_kg("1.0000", &g, &why), LM_EINVAL);
    CHECK_STR(why, "has more than 3 decimals");
    CHECK_RC(lm_money_parse_kg("-1", &g, &why), LM_EINVAL);
    CHECK_STR(why, "must be positive");
    CHECK_RC(lm_money_parse_kg("0", &g, &why), LM_EINVAL);
    CHECK_STR(why, "must be positive");
    CHECK_RC(lm_money_parse_kg("0.000", &g, &why), LM_EINVAL);
    CHECK_RC(lm_money_parse_kg("-0", &g, &why), LM_EINVAL);
    static const char *const junk[] = {"",   "abc",   "1e3", "1,5", " 1",   "1 ", "+1",  ".5",
                                       "5.", "1.2.3", "--1", "-",   "0x10", "١",  "1\n", "NaN"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        why = NULL;
        CHECK_RC(lm_money_parse_kg(junk[i], &g, &why), LM_EINVAL);
        CHECK_STR(why, "is not a number");
        CHECK_EQ_INT(g, 0);
    }
    CHECK_RC(lm_money_parse_kg(NULL, &g, &why), LM_EINVAL);
    /* 64-bit edges of the parser: 9223372036854775.807 is INT64_MAX
     * thousandths exactly. */
    CHECK_RC(lm_money_parse_decimal("9223372036854775.807", 3, &g, NULL), LM_OK);
    CHECK_EQ_INT(g, INT64_MAX);
    CHECK_RC(lm_money_parse_decimal("9223372036854775.808", 3, &g, &why), LM_ERANGE);
    CHECK_STR(why, "is too large");
    CHECK_RC(lm_money_parse_decimal("9223372036854776", 3, &g, &why), LM_ERANGE);
    /* A weight stops at 1,000,000 kg, whether or not it fits 64 bits, so no
     * amount or report total can come near overflow. */
    CHECK_RC(lm_money_parse_kg("1000000", &g, NULL), LM_OK);
    CHECK_EQ_INT(g, LM_MONEY_MAX_G);
    static const char *const huge[] = {"1000000.001", "10000000000000", "9223372036854775.807",
                                       "9223372036854775.808", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        why = NULL;
        CHECK_RC(lm_money_parse_kg(huge[i], &g, &why), LM_ERANGE);
        CHECK_STR(why, "is over the limit of 1000000 kg");
        CHECK_EQ_INT(g, 0);
    }
}

static void test_price(void)
{
    int64_t f = -1;
    const char *why = NULL;
    CHECK_RC(lm_money_parse_price("3.10", &f, &why), LM_OK);
    CHECK_EQ_INT(f, 310);
    CHECK_RC(lm_money_parse_price("3.1", &f, NULL), LM_OK);
    CHECK_EQ_INT(f, 310);
    CHECK_RC(lm_money_parse_price("0.01", &f, NULL), LM_OK);
    CHECK_EQ_INT(f, 1);
    CHECK_RC(lm_money_parse_price("12", &f, NULL), LM_OK);
    CHECK_EQ_INT(f, 1200);
    CHECK_RC(lm_money_parse_price("3.105", &f, &why), LM_EINVAL);
    CHECK_STR(why, "has more than 2 decimals");
    CHECK_RC(lm_money_parse_price("0.00", &f, &why), LM_EINVAL);
    CHECK_STR(why, "must be positive");
    CHECK_RC(lm_money_parse_price("-2.00", &f, &why), LM_EINVAL);
    CHECK_STR(why, "must be positive");
    CHECK_RC(lm_money_parse_price("two", &f, &why), LM_EINVAL);
    CHECK_STR(why, "is not a number");
    CHECK_RC(lm_money_parse_price("100000.00", &f, NULL), LM_OK);
    CHECK_EQ_INT(f, LM_MONEY_MAX_PRICE_FEN);
    CHECK_RC(lm_money_parse_price("100000.01", &f, &why), LM_ERANGE);
    CHECK_STR(why, "is over the limit of 100000 yuan/kg");
    CHECK_EQ_INT(f, 0);
    CHECK_RC(lm_money_parse_price("92233720368547758.08", &f, &why), LM_ERANGE);
    CHECK_STR(why, "is over the limit of 100000 yuan/kg");
    /* The largest weight at the largest price: 10^13 fen, exact. */
    CHECK_RC(lm_money_amount_fen(LM_MONEY_MAX_G, LM_MONEY_MAX_PRICE_FEN, &f), LM_OK);
    CHECK_EQ_INT(f, INT64_C(10000000000000));
}

static void test_delta_and_moisture(void)
{
    int64_t v = 0;
    const char *why = NULL;
    CHECK_RC(lm_money_parse_delta_kg("-1.5", &v, NULL), LM_OK);
    CHECK_EQ_INT(v, -1500);
    CHECK_RC(lm_money_parse_delta_kg("0.250", &v, NULL), LM_OK);
    CHECK_EQ_INT(v, 250);
    CHECK_RC(lm_money_parse_delta_kg("0", &v, &why), LM_EINVAL);
    CHECK_STR(why, "must not be zero");
    CHECK_RC(lm_money_parse_delta_kg("-0.000", &v, &why), LM_EINVAL);
    CHECK_RC(lm_money_parse_delta_kg("-0.0001", &v, &why), LM_EINVAL);
    CHECK_STR(why, "has more than 3 decimals");
    CHECK_RC(lm_money_parse_delta_kg("-1000000", &v, NULL), LM_OK);
    CHECK_EQ_INT(v, -LM_MONEY_MAX_G);
    CHECK_RC(lm_money_parse_delta_kg("1000000.001", &v, &why), LM_ERANGE);
    CHECK_STR(why, "is beyond the limit of 1000000 kg either way");
    CHECK_EQ_INT(v, 0);
    CHECK_RC(lm_money_parse_delta_kg("-1000000.001", &v, &why), LM_ERANGE);
    CHECK_STR(why, "is beyond the limit of 1000000 kg either way");

    CHECK_RC(lm_money_parse_moisture("13.5", &v, NULL), LM_OK);
    CHECK_EQ_INT(v, 135);
    CHECK_RC(lm_money_parse_moisture("0", &v, NULL), LM_OK);
    CHECK_EQ_INT(v, 0);
    CHECK_RC(lm_money_parse_moisture("100", &v, NULL), LM_OK);
    CHECK_EQ_INT(v, 1000);
    CHECK_RC(lm_money_parse_moisture("100.1", &v, &why), LM_ERANGE);
    CHECK_STR(why, "must be between 0 and 100");
    CHECK_RC(lm_money_parse_moisture("-1", &v, &why), LM_ERANGE);
    CHECK_RC(lm_money_parse_moisture("12.25", &v, &why), LM_EINVAL);
    CHECK_STR(why, "has more than 1 decimal");
}

static void test_amount(void)
{
    int64_t a = -1;
    /* 12.345 kg at 3.10 yuan/kg = 38.2695 yuan -> 3826.95 fen -> 3827. */
    CHECK_RC(lm_money_amount_fen(12345, 310, &a), LM_OK);
    CHECK_EQ_INT(a, 3827);
    /* Exactly half a fen rounds up: 1 g at 500 fen/kg = 0.5 fen. */
    CHECK_RC(lm_money_amount_fen(1, 500, &a), LM_OK);
    CHECK_EQ_INT(a, 1);
    CHECK_RC(lm_money_amount_fen(1, 499, &a), LM_OK);
    CHECK_EQ_INT(a, 0);
    CHECK_RC(lm_money_amount_fen(3, 500, &a), LM_OK); /* 1.5 -> 2 */
    CHECK_EQ_INT(a, 2);
    CHECK_RC(lm_money_amount_fen(1000, 250, &a), LM_OK);
    CHECK_EQ_INT(a, 250);
    /* Negative deltas mirror positive amounts (half away from zero), so a
     * full negative adjustment gives back exactly the collection's money. */
    CHECK_RC(lm_money_amount_fen(-1, 500, &a), LM_OK);
    CHECK_EQ_INT(a, -1);
    CHECK_RC(lm_money_amount_fen(-12345, 310, &a), LM_OK);
    CHECK_EQ_INT(a, -3827);
    CHECK_RC(lm_money_amount_fen(-1, 499, &a), LM_OK);
    CHECK_EQ_INT(a, 0);
    CHECK_RC(lm_money_amount_fen(0, 999, &a), LM_OK);
    CHECK_EQ_INT(a, 0);
    /* Overflow of the product is refused, not wrapped. */
    CHECK_RC(lm_money_amount_fen(INT64_MAX / 1000, 1001, &a), LM_ERANGE);
    CHECK_EQ_INT(a, 0);
    CHECK_RC(lm_money_amount_fen(INT64_MIN, 1, &a), LM_ERANGE);
    CHECK_RC(lm_money_amount_fen(INT64_MAX, 1, &a), LM_OK);
    CHECK_EQ_INT(a, INT64_MAX / 1000 + 1); /* ...807 / 1000 rounds up */
    CHECK_RC(lm_money_amount_fen(-INT64_MAX, 1, &a), LM_OK);
    CHECK_EQ_INT(a, -(INT64_MAX / 1000 + 1));
    CHECK_RC(lm_money_amount_fen(1000, -1, &a), LM_EINVAL);
    /* Exhaustive small range against the definition in integers. */
    int bad = 0;
    for (int64_t w = -3000; w <= 3000; w += 7) {
        for (int64_t p = 1; p <= 2000; p += 13) {
            int64_t m = (w < 0 ? -w : w) * p;
            int64_t want = (2 * m + 1000) / 2000; /* floor(m/1000 + 1/2) */
            if (w < 0)
                want = -want;
            if (lm_money_amount_fen(w, p, &a) != LM_OK || a != want)
                bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_kg();
    test_price();
    test_delta_and_moisture();
    test_amount();
    return lm_test_done("text_money");
}
