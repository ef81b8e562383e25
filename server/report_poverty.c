/*
 * report_poverty.c — `report poverty`: how much of the buying reached
 * registered poor households. Per period, county and village: net weight
 * and money (docs/schema.md ledger rules, voided collections excluded)
 * bought from farmers with registered_poor = 1, against all farmers, the
 * poor share of the money, and the number of distinct selling farmers of
 * each kind. County subtotals have village "*", the period total county
 * "*". Days are China Standard Time days of collected_at; a week starts on
 * Monday and is named by that Monday's date.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

static const char query_fmt[] =
    "WITH adj AS (SELECT collection_id, SUM(delta_weight_g) AS dw, SUM(delta_amount_fen) AS da,"
    "   MAX(COALESCE(voided, 0)) AS v FROM adjustments GROUP BY collection_id),"
    " net AS (SELECT %s AS period, COALESCE(vl.county, '?') AS county, c.village,"
    "   c.farmer_id, COALESCE(f.registered_poor, 0) = 1 AS poor,"
    "   c.weight_g + COALESCE(a.dw, 0) AS w, c.amount_fen + COALESCE(a.da, 0) AS m"
    "   FROM (SELECT *, date(collected_at / 1000, 'unixepoch', '+8 hours') AS day"
    "     FROM collections) c"
    "   LEFT JOIN adj a ON a.collection_id = c.id"
    "   LEFT JOIN farmers f ON f.id = c.farmer_id"
    "   LEFT JOIN villages vl ON vl.name = c.village"
    "   WHERE COALESCE(a.v, 0) = 0 AND (?1 IS NULL OR c.day >= ?1)"
    "   AND (?2 IS NULL OR c.day <= ?2))"
    " SELECT * FROM ("
    " SELECT period, county, village, %s FROM net GROUP BY period, county, village"
    " UNION ALL SELECT period, county, '*', %s FROM net GROUP BY period, county"
    " UNION ALL SELECT period, '*', '*', %s FROM net GROUP BY period)"
    " ORDER BY period, county = '*', county, village = '*', village";

static const char figures[] =
    "SUM(CASE WHEN poor THEN w ELSE 0 END), SUM(CASE WHEN poor THEN m ELSE 0 END),"
    " SUM(w), SUM(m), COUNT(DISTINCT CASE WHEN poor THEN farmer_id END),"
    " COUNT(DISTINCT farmer_id)";

enum {
    C_PERIOD,
    C_COUNTY,
    C_VILLAGE,
    C_POOR_W,
    C_POOR_M,
    C_ALL_W,
    C_ALL_M,
    C_POOR_F,
    C_ALL_F,
    C_SHARE,
    N_COLS
};

static const char *const col_names[N_COLS] = {
    "period",       "county",         "village",      "poor_weight_g", "poor_amount_fen",
    "all_weight_g", "all_amount_fen", "poor_farmers", "all_farmers",   "poor_amount_pct"};
static const int numeric[N_COLS] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 0};

/* The SQL naming a collection's period. */
static const char *period_sql(const char *period)
{
    if (strcmp(period, "day") == 0)
        return "c.day";
    if (strcmp(period, "week") == 0)
        return "date(c.day, '-6 days', 'weekday 1')";
    if (strcmp(period, "month") == 0)
        return "strftime('%Y-%m', c.day)";
    if (strcmp(period, "all") == 0)
        return "'all'";
    return NULL;
}

/* poor / all as a percentage with 2 decimals, rounded half up, exact; "-"
 * (NULL cell) when nothing was paid at all. */
static int share_cell(long long poor, long long all, char **cell)
{
    if (all <= 0)
        return LM_OK;
    long long bp = (poor * 10000 + all / 2) / all;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld.%02lld", bp / 100, bp % 100);
    *cell = lm_strdup(buf);
    return *cell ? LM_OK : LM_ENOMEM;
}

static int fill_row(sqlite3_stmt *st, char **cells, void *arg)
{
    (void)arg;
    for (int k = 0; k < C_SHARE; k++) {
        if (numeric[k] && lm__hq_exact(st, k) != LM_OK)
            return LM_ERANGE;
        const char *t = (const char *)sqlite3_column_text(st, k);
        cells[k] = lm_strdup(t ? t : "0");
        if (!cells[k])
            return LM_ENOMEM;
    }
    return share_cell(sqlite3_column_int64(st, C_POOR_M), sqlite3_column_int64(st, C_ALL_M),
                      &cells[C_SHARE]);
}

int lm__report_poverty(sqlite3 *db, const char *from, const char *to, const char *period,
                       int format, FILE *out, char *err, size_t err_size)
{
    const char *psql = period_sql(period);
    if (!psql) {
        snprintf(err, err_size, "--period must be day, week, month or all");
        return LM_EINVAL;
    }
    char sql[4096];
    snprintf(sql, sizeof sql, query_fmt, psql, figures, figures, figures);
    sqlite3_stmt *st = NULL;
    lm_hq_rows rows = {col_names, numeric, N_COLS, NULL, 0, 0};
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (from)
            sqlite3_bind_text(st, 1, from, -1, SQLITE_STATIC);
        if (to)
            sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    }
    return lm__hq_rows_report(db, st, &rows, fill_row, NULL, format, out, err, err_size);
}
