/*
 * units.c — grams, fen and epoch milliseconds as people read them (see
 * lm_text.h). Machines keep the integers (--json, CSV); tables show kg,
 * yuan and local time. Integer arithmetic only, so what is shown is
 * exactly what is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_protocol.h"
#include "lm_text.h"

/* |v| as unsigned, INT64_MIN included. */
static uint64_t magnitude(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

void lm_text_kg(int64_t grams, char *out, size_t size)
{
    uint64_t m = magnitude(grams);
    snprintf(out, size, "%s%llu.%03llu", grams < 0 ? "-" : "", (unsigned long long)(m / 1000),
             (unsigned long long)(m % 1000));
}

void lm_text_yuan(int64_t fen, char *out, size_t size)
{
    uint64_t m = magnitude(fen);
    snprintf(out, size, "%s\xc2\xa5%llu.%02llu", fen < 0 ? "-" : "", (unsigned long long)(m / 100),
             (unsigned long long)(m % 100));
}

void lm_text_time(int64_t ms, int offset_min, char *out, size_t size)
{
    /* Past year 9999 either way (only plain SQL writes such a time): the
     * number as it is, with no arithmetic that could overflow. */
    if (ms > INT64_C(253402300799999) || ms < -INT64_C(62135596800000)) {
        snprintf(out, size, "%lld", (long long)ms);
        return;
    }
    int64_t days = lm_date_days_of_ms(ms, offset_min);
    int64_t in_day = ms + (int64_t)offset_min * 60000 - days * 86400000;
    char date[16];
    lm_date_format(days, date, sizeof date);
    int64_t s = in_day / 1000;
    snprintf(out, size, "%s %02d:%02d:%02d", date, (int)(s / 3600), (int)(s / 60 % 60),
             (int)(s % 60));
}

int lm_text_utc_offset_parse(const char *s, int *minutes)
{
    if (!s || (*s != '+' && *s != '-' && !(*s >= '0' && *s <= '9')))
        return LM_EINVAL;
    int sign = *s == '-' ? -1 : 1;
    const char *p = s + (*s == '+' || *s == '-');
    int digits[4], n = 0, colon = -1;
    for (; *p; p++) {
        if (*p == ':' && colon < 0 && n > 0) {
            colon = n;
            continue;
        }
        if (*p < '0' || *p > '9' || n == 4)
            return LM_EINVAL;
        digits[n++] = *p - '0';
    }
    int h, m = 0;
    if (colon >= 0) {
        if (n - colon != 2 || colon > 2)
            return LM_EINVAL;
        h = colon == 2 ? digits[0] * 10 + digits[1] : digits[0];
        m = digits[colon] * 10 + digits[colon + 1];
    } else if (n <= 2 && n > 0) {
        h = n == 2 ? digits[0] * 10 + digits[1] : digits[0];
    } else if (n == 4) {
        h = digits[0] * 10 + digits[1];
        m = digits[2] * 10 + digits[3];
    } else {
        return LM_EINVAL;
    }
    if (m > 59 || h * 60 + m > 14 * 60)
        return LM_EINVAL;
    *minutes = sign * (h * 60 + m);
    return LM_OK;
}

int lm_text_utc_offset_default(void)
{
    int m;
    const char *env = getenv("LASTMILE_UTC_OFFSET");
    if (env && lm_text_utc_offset_parse(env, &m) == LM_OK)
        return m;
    return LM_TIME_DEFAULT_OFFSET_MIN;
}

void lm_text_utc_offset_env_warning(char *out, size_t size)
{
    int m;
    const char *env = getenv("LASTMILE_UTC_OFFSET");
    if (!env || !*env || lm_text_utc_offset_parse(env, &m) == LM_OK) {
        if (size)
            *out = '\0';
        return;
    }
    snprintf(out, size,
             "warning: $LASTMILE_UTC_OFFSET '%.40s' is not a UTC offset (e.g. +08:00, -05:30, "
             "0): local days and times stay at UTC%+d:%02d",
             env, LM_TIME_DEFAULT_OFFSET_MIN / 60, LM_TIME_DEFAULT_OFFSET_MIN % 60);
}

void lm_text_sql_offset(int offset_min, char *out, size_t size)
{
    snprintf(out, size, "%+d minutes", offset_min);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n > t && strcmp(s + n - t, tail) == 0;
}

int lm_text_column_header(const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    if (ends_with(name, "_g")) {
        snprintf(out, size, "%.*s_kg", (int)(n - 2), name);
        return LM_TEXT_COL_GRAMS;
    }
    if (ends_with(name, "_fen")) {
        snprintf(out, size, "%.*s_yuan", (int)(n - 4), name);
        return LM_TEXT_COL_FEN;
    }
    snprintf(out, size, "%s", name);
    return ends_with(name, "_at") ? LM_TEXT_COL_TIME : LM_TEXT_COL_PLAIN;
}

void lm_text_column_cell(int kind, int64_t v, int offset_min, char *out, size_t size)
{
    if (kind == LM_TEXT_COL_GRAMS)
        lm_text_kg(v, out, size);
    else if (kind == LM_TEXT_COL_FEN)
        lm_text_yuan(v, out, size);
    else if (kind == LM_TEXT_COL_TIME)
        lm_text_time(v, offset_min, out, size);
    else
        snprintf(out, size, "%lld", (long long)v);
}
