/*
 * date.c — the one check of a typed date (see lm_text.h). Every date a
 * person types (a price's first day, a route's day, a report's bounds) is
 * a real calendar day in a sane range, or it is refused: "2026-02-30"
 * stored as a price's start would never match a day and silently drop the
 * price.
 */
#include <stdio.h>
#include <time.h>

#include "lm_protocol.h"
#include "lm_text.h"

static int leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int lm_date_parse(const char *s, int64_t *days, const char **why)
{
    const char *w = NULL;
    int y, m, d;
    if (!s || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != '\0')
        w = "is not a date (YYYY-MM-DD)";
    else if (m < 1 || m > 12)
        w = "has no such month";
    else if (d < 1 || d > month_days(y, m))
        w = "has no such day in that month";
    else if (y < LM_DATE_MIN_YEAR || y > LM_DATE_MAX_YEAR)
        w = "is outside the years 2000-2099";
    if (why)
        *why = w;
    if (w)
        return LM_EINVAL;
    if (days)
        *days = days_from_civil(y, m, d);
    return LM_OK;
}

int lm_date_parse_near(const char *s, int64_t today_days, int64_t back, int64_t ahead,
                       int64_t *days, const char **why)
{
    int64_t v;
    int rc = lm_date_parse(s, &v, why);
    if (rc != LM_OK)
        return rc;
    if (v < today_days - back || v > today_days + ahead) {
        if (why)
            *why = "is too far from today";
        return LM_EINVAL;
    }
    if (days)
        *days = v;
    return LM_OK;
}

int64_t lm_date_days_of_ms(int64_t ms, int offset_min)
{
    int64_t local = ms + (int64_t)offset_min * 60000;
    int64_t day = local / 86400000;
    return local % 86400000 < 0 ? day - 1 : day;
}

int64_t lm_date_today(int offset_min)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return lm_date_days_of_ms((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, offset_min);
}

void lm_date_format(int64_t days, char *out, size_t size)
{
    /* civil_from_days, the inverse of days_from_civil. */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, size, "%04lld-%02lld-%02lld", (long long)y, (long long)m, (long long)d);
}
