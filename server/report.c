/*
 * report.c — the volume report (see report.h).
 *
 * Each collection contributes weight_g + Σ adjustments.delta_weight_g and
 * amount_fen + Σ adjustments.delta_amount_fen, or nothing at all when any
 * of its adjustments voids it. The per-collection figures are computed in
 * a subquery first so a collection with several adjustments is counted
 * once; SQLite sums integers exactly (it raises an error rather than wrap),
 * and a total past 64 bits fails the report, naming a row (hq_table.c,
 * whose printer the rows go through).
 * Days are China Standard Time (UTC+8) calendar days of collected_at.
 */
#include "report.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"

static const char *const dim_names[LM_DIM_COUNT_] = {"agent", "village", "product", "grade", "day"};
static const char *const dim_sql[LM_DIM_COUNT_] = {
    "c.agent_id", "c.village", "c.product", "c.grade",
    "date(c.collected_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET ")"};

int lm__report_parse_by(const char *by, lm_report_spec *spec, char *err, size_t err_size)
{
    spec->n_dims = 0;
    if (!by || !*by)
        return LM_OK;
    const char *p = by;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int d = 0; d < LM_DIM_COUNT_; d++) {
            if (strlen(dim_names[d]) == len && strncmp(dim_names[d], p, len) == 0)
                found = d;
        }
        if (found < 0) {
            snprintf(err, err_size,
                     "--by: unknown column '%.*s' (agent, village, product, grade, day)", (int)len,
                     p);
            return LM_EINVAL;
        }
        for (size_t i = 0; i < spec->n_dims; i++) {
            if (spec->dims[i] == found) {
                snprintf(err, err_size, "--by: '%s' given twice", dim_names[found]);
                return LM_EINVAL;
            }
        }
        spec->dims[spec->n_dims++] = found;
        if (!end)
            return LM_OK;
        p = end + 1;
    }
}

int lm__report_parse_format(const char *name)
{
    if (strcmp(name, "table") == 0)
        return LM_FMT_TABLE;
    if (strcmp(name, "csv") == 0)
        return LM_FMT_CSV;
    if (strcmp(name, "json") == 0)
        return LM_FMT_JSON;
    return -1;
}

sqlite3 *lm__report_open(const char *path, const char *cmd)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "lastmile-server %s: %s: %s\n", cmd, path,
                db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* Builds the grouped query into sql. */
static int build_sql(const lm_report_spec *spec, char *sql, size_t size)
{
    int by_day = 0;
    for (size_t i = 0; i < spec->n_dims; i++)
        by_day |= spec->dims[i] == LM_DIM_DAY;
    char cols[512] = "", group[512] = "";
    size_t cl = 0, gl = 0;
    for (size_t i = 0; i < spec->n_dims; i++) {
        cl += (size_t)snprintf(cols + cl, sizeof cols - cl, "%s AS g%zu, ", dim_sql[spec->dims[i]],
                               i);
        gl += (size_t)snprintf(group + gl, sizeof group - gl, "%sg%zu", i ? ", " : "", i);
    }
    int n = snprintf(
        sql, size,
        "SELECT %s"
        " SUM(c.weight_g + COALESCE(a.dw, 0)),"
        " SUM(c.amount_fen + COALESCE(a.da, 0)), COUNT(*)%s"
        " FROM collections c LEFT JOIN"
        " (SELECT collection_id, SUM(delta_weight_g) AS dw,"
        "  SUM(delta_amount_fen) AS da, MAX(COALESCE(voided, 0)) AS v"
        "  FROM adjustments GROUP BY collection_id) a ON a.collection_id = c.id"
        " WHERE COALESCE(a.v, 0) = 0"
        "%s%s%s%s",
        cols,
        by_day
            ? ", SUM(c.received_at > 0 AND c.collected_at > c.received_at + " LM_FUTURE_DATED_MS_SQL
              ")"
            : "",
        gl ? " GROUP BY " : "", group, gl ? " ORDER BY " : "", group);
    return n > 0 && (size_t)n < size ? LM_OK : LM_EINVAL;
}

static const char *const figure_names[4] = {"weight_g", "amount_fen", "count", "future_dated"};

/* 4 with --by day (future_dated: purchases dated more than a day after the
 * server received them), else 3. */
static int n_figures(const lm_report_spec *spec)
{
    for (size_t i = 0; i < spec->n_dims; i++) {
        if (spec->dims[i] == LM_DIM_DAY)
            return 4;
    }
    return 3;
}

/* Group columns as text (NULL when absent), then the three exact figures. */
static int fill_row(sqlite3_stmt *st, char **cells, void *arg)
{
    const lm_report_spec *spec = arg;
    int n_dims = (int)spec->n_dims;
    for (int k = 0; k < n_dims; k++) {
        const char *t = (const char *)sqlite3_column_text(st, k);
        if (t && !(cells[k] = lm_strdup(t)))
            return LM_ENOMEM;
    }
    for (int k = n_dims; k < n_dims + n_figures(spec); k++) {
        if (lm__hq_exact(st, k) != LM_OK)
            return LM_ERANGE;
        char text[24];
        snprintf(text, sizeof text, "%lld", (long long)sqlite3_column_int64(st, k));
        if (!(cells[k] = lm_strdup(text)))
            return LM_ENOMEM;
    }
    return LM_OK;
}

int lm__report_volumes(sqlite3 *db, const lm_report_spec *spec, FILE *out, char *err,
                       size_t err_size)
{
    char sql[2048];
    if (build_sql(spec, sql, sizeof sql) != LM_OK) {
        snprintf(err, err_size, "report query too long");
        return LM_EINVAL;
    }
    const char *names[LM_DIM_COUNT_ + 4];
    int numeric[LM_DIM_COUNT_ + 4];
    size_t n_cols = spec->n_dims + (size_t)n_figures(spec);
    for (size_t k = 0; k < n_cols; k++) {
        names[k] = k < spec->n_dims ? dim_names[spec->dims[k]] : figure_names[k - spec->n_dims];
        numeric[k] = k >= spec->n_dims;
    }
    lm_hq_rows rows = {names, numeric, n_cols, NULL, 0, 0};
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    /* One statement, one read snapshot: every figure agrees even while a
     * server commits batches to the same file. Every row is gathered before
     * anything is printed, so a failing report prints nothing. */
    return lm__hq_rows_report(db, st, &rows, fill_row, (void *)spec, spec->format, out, err,
                              err_size);
}
