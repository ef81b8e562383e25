/*
 * report.c — the volume report (see report.h).
 *
 * Each collection contributes weight_g + Σ adjustments.delta_weight_g and
 * amount_fen + Σ adjustments.delta_amount_fen, or nothing at all when any
 * of its adjustments voids it. The per-collection figures are computed in
 * a subquery first so a collection with several adjustments is counted
 * once; SQLite sums integers exactly (it raises an error rather than wrap).
 * Days are China Standard Time (UTC+8) calendar days of collected_at.
 */
#include "report.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "out.h"

static const char *const dim_names[LM_DIM_COUNT_] = {"agent", "village", "product", "grade", "day"};
static const char *const dim_sql[LM_DIM_COUNT_] = {
    "c.agent_id", "c.village", "c.product", "c.grade",
    "date(c.collected_at / 1000, 'unixepoch', '+8 hours')"};

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
    char cols[512] = "", group[512] = "";
    size_t cl = 0, gl = 0;
    for (size_t i = 0; i < spec->n_dims; i++) {
        cl += (size_t)snprintf(cols + cl, sizeof cols - cl, "%s AS g%zu, ", dim_sql[spec->dims[i]],
                               i);
        gl += (size_t)snprintf(group + gl, sizeof group - gl, "%sg%zu", i ? ", " : "", i);
    }
    int n = snprintf(sql, size,
                     "SELECT %s"
                     " SUM(c.weight_g + COALESCE(a.dw, 0)),"
                     " SUM(c.amount_fen + COALESCE(a.da, 0)), COUNT(*)"
                     " FROM collections c LEFT JOIN"
                     " (SELECT collection_id, SUM(delta_weight_g) AS dw,"
                     "  SUM(delta_amount_fen) AS da, MAX(COALESCE(voided, 0)) AS v"
                     "  FROM adjustments GROUP BY collection_id) a ON a.collection_id = c.id"
                     " WHERE COALESCE(a.v, 0) = 0"
                     "%s%s%s%s",
                     cols, gl ? " GROUP BY " : "", group, gl ? " ORDER BY " : "", group);
    return n > 0 && (size_t)n < size ? LM_OK : LM_EINVAL;
}

/* One result row as text, for the table layout (which needs widths first). */
typedef struct row {
    char *cells[LM_DIM_COUNT_ + 3];
} row;

static void rows_free(row *rows, size_t n, size_t n_cells)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < n_cells; k++)
            lm_free(rows[i].cells[k]);
    }
    lm_free(rows);
}

static const char *const figure_names[3] = {"weight_g", "amount_fen", "count"};

/* Collects all rows, then prints them aligned; figures right-aligned. */
static int print_table(sqlite3_stmt *st, const lm_report_spec *spec, FILE *out)
{
    size_t n_cells = spec->n_dims + 3, n = 0, cap = 0;
    row *rows = NULL;
    size_t width[LM_DIM_COUNT_ + 3];
    for (size_t k = 0; k < n_cells; k++) {
        const char *h =
            k < spec->n_dims ? dim_names[spec->dims[k]] : figure_names[k - spec->n_dims];
        width[k] = strlen(h);
    }
    int step, rc = LM_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            row *nr = lm_realloc(rows, ncap * sizeof *rows);
            if (!nr) {
                rc = LM_ENOMEM;
                goto fail_rows;
            }
            rows = nr;
            cap = ncap;
        }
        memset(&rows[n], 0, sizeof rows[n]);
        n++;
        for (size_t k = 0; k < n_cells; k++) {
            const char *t = (const char *)sqlite3_column_text(st, (int)k);
            rows[n - 1].cells[k] = lm_strdup(t ? t : (k < spec->n_dims ? "-" : "0"));
            if (!rows[n - 1].cells[k]) {
                rc = LM_ENOMEM;
                goto fail_rows;
            }
            size_t w = strlen(rows[n - 1].cells[k]);
            if (w > width[k])
                width[k] = w;
        }
    }
    if (step != SQLITE_DONE) {
        rc = LM_EDB;
        goto fail_rows;
    }
    for (size_t k = 0; k < n_cells; k++) {
        const char *h =
            k < spec->n_dims ? dim_names[spec->dims[k]] : figure_names[k - spec->n_dims];
        fprintf(out, k < spec->n_dims ? "%-*s%s" : "%*s%s", (int)width[k], h,
                k + 1 < n_cells ? "  " : "\n");
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < n_cells; k++)
            fprintf(out, k < spec->n_dims ? "%-*s%s" : "%*s%s", (int)width[k], rows[i].cells[k],
                    k + 1 < n_cells ? "  " : "\n");
    }
fail_rows:
    rows_free(rows, n, n_cells);
    return rc;
}

/* Header line, then one RFC 4180 row per group. */
static int print_csv(sqlite3_stmt *st, const lm_report_spec *spec, FILE *out)
{
    size_t n_cells = spec->n_dims + 3;
    for (size_t k = 0; k < n_cells; k++)
        fprintf(out, "%s%s",
                k < spec->n_dims ? dim_names[spec->dims[k]] : figure_names[k - spec->n_dims],
                k + 1 < n_cells ? "," : "\n");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        for (size_t k = 0; k < n_cells; k++) {
            if (k < spec->n_dims)
                lm__out_csv_field(out, (const char *)sqlite3_column_text(st, (int)k));
            else
                fprintf(out, "%lld", (long long)sqlite3_column_int64(st, (int)k));
            fputs(k + 1 < n_cells ? "," : "\n", out);
        }
    }
    return step == SQLITE_DONE ? LM_OK : LM_EDB;
}

/* An array of objects keyed by the group columns and the figures. */
static int print_json(sqlite3_stmt *st, const lm_report_spec *spec, FILE *out)
{
    int step, n = 0;
    fputs("[", out);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        fputs(n++ ? ",\n {" : "\n {", out);
        for (size_t k = 0; k < spec->n_dims; k++) {
            fprintf(out, "\"%s\":", dim_names[spec->dims[k]]);
            lm__out_json_str(out, (const char *)sqlite3_column_text(st, (int)k));
            fputs(",", out);
        }
        int base = (int)spec->n_dims;
        fprintf(out, "\"weight_g\":%lld,\"amount_fen\":%lld,\"count\":%lld}",
                (long long)sqlite3_column_int64(st, base),
                (long long)sqlite3_column_int64(st, base + 1),
                (long long)sqlite3_column_int64(st, base + 2));
    }
    fputs(n ? "\n]\n" : "]\n", out);
    return step == SQLITE_DONE ? LM_OK : LM_EDB;
}

int lm__report_volumes(sqlite3 *db, const lm_report_spec *spec, FILE *out, char *err,
                       size_t err_size)
{
    char sql[2048];
    int rc = build_sql(spec, sql, sizeof sql);
    if (rc != LM_OK) {
        snprintf(err, err_size, "report query too long");
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        return LM_EDB;
    }
    /* One read transaction: every figure comes from the same snapshot even
     * while a server commits batches to the same file. */
    if (spec->format == LM_FMT_TABLE)
        rc = print_table(st, spec, out);
    else if (spec->format == LM_FMT_CSV)
        rc = print_csv(st, spec, out);
    else
        rc = print_json(st, spec, out);
    if (rc != LM_OK)
        snprintf(err, err_size, "%s", rc == LM_EDB ? sqlite3_errmsg(db) : lm_strerror(rc));
    sqlite3_finalize(st);
    return rc;
}
