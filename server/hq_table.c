/*
 * hq_table.c — prints the HQ reports' rows as an aligned table, CSV or
 * JSON (see hq.h) through the text layer, which keeps names typed in the
 * field inert on hq's terminal and in its spreadsheets (lm_text.h).
 * Numbers are kept as the text SQLite produced so the figures are printed
 * exactly as summed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "json.h"
#include "lm_text.h"
#include "money.h"
#include "report.h"
#include "table.h"

void lm__hq_rows_free(lm_hq_rows *t)
{
    for (size_t i = 0; i < t->n * t->n_cols; i++)
        lm_free(t->cells[i]);
    lm_free(t->cells);
    t->cells = NULL;
    t->n = t->cap = 0;
}

char **lm__hq_rows_add(lm_hq_rows *t)
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 32;
        char **nc = lm_realloc(t->cells, ncap * t->n_cols * sizeof *nc);
        if (!nc)
            return NULL;
        t->cells = nc;
        t->cap = ncap;
    }
    char **row = t->cells + t->n * t->n_cols;
    memset(row, 0, t->n_cols * sizeof *row);
    t->n++;
    return row;
}

static int print_json(const lm_hq_rows *t, FILE *out)
{
    int rc = LM_OK;
    fputs("[", out);
    for (size_t i = 0; i < t->n; i++) {
        char **row = t->cells + i * t->n_cols;
        fputs(i ? ",\n {" : "\n {", out);
        for (size_t k = 0; k < t->n_cols; k++) {
            fprintf(out, "%s\"%s\":", k ? "," : "", t->names[k]);
            if (t->numeric[k])
                fputs(row[k] ? row[k] : "null", out);
            else if (rc == LM_OK)
                rc = lm_json_fput_string(out, row[k]);
        }
        fputs("}", out);
    }
    fputs(t->n ? "\n]\n" : "]\n", out);
    return rc;
}

static int print_csv(const lm_hq_rows *t, FILE *out)
{
    int rc = LM_OK;
    for (size_t k = 0; k < t->n_cols; k++)
        fprintf(out, "%s%s", t->names[k], k + 1 < t->n_cols ? "," : "\n");
    for (size_t i = 0; i < t->n && rc == LM_OK; i++) {
        for (size_t k = 0; k < t->n_cols && rc == LM_OK; k++) {
            rc = lm_csv_field(out, t->cells[i * t->n_cols + k]);
            fputs(k + 1 < t->n_cols ? "," : "\n", out);
        }
    }
    return rc;
}

/* A numeric cell as people read it: grams as kg, fen as yuan (kind from
 * lm_text_column_header); the cell as it is when it is not an integer. */
static void add_figure(lm_table *tab, int kind, const char *cell)
{
    char *end = NULL, text[LM_TEXT_UNIT_SIZE];
    errno = 0;
    long long v = strtoll(cell, &end, 10);
    if (kind == LM_TEXT_COL_PLAIN || kind == LM_TEXT_COL_TIME || errno || !*cell || *end) {
        lm_table_add(tab, cell);
        return;
    }
    lm_text_column_cell(kind, v, 0, text, sizeof text);
    lm_table_add(tab, text);
}

/* For people: text columns left-aligned, numbers right-aligned, weights in
 * kg and money in yuan (headers *_kg, *_yuan; CSV and JSON keep grams and
 * fen), "-" for not applicable. */
static int print_table(const lm_hq_rows *t, FILE *out)
{
    lm_table tab;
    int kinds[LM_HQ_MAX_COLS];
    lm_table_init(&tab, t->n_cols);
    for (size_t k = 0; k < t->n_cols; k++) {
        char head[64];
        kinds[k] = lm_text_column_header(t->names[k], head, sizeof head);
        if (t->numeric[k])
            lm_table_align_right(&tab, k);
        lm_table_add(&tab, t->numeric[k] ? head : t->names[k]);
    }
    for (size_t i = 0; i < t->n * t->n_cols; i++) {
        size_t k = i % t->n_cols;
        if (!t->cells[i])
            lm_table_add(&tab, "-");
        else if (t->numeric[k])
            add_figure(&tab, kinds[k], t->cells[i]);
        else
            lm_table_add(&tab, t->cells[i]);
    }
    int rc = lm_table_print(&tab, out);
    lm_table_close(&tab);
    return rc;
}

int lm__hq_rows_print(const lm_hq_rows *t, int format, FILE *out)
{
    int rc = LM_OK;
    if (format == LM_FMT_JSON)
        rc = print_json(t, out);
    else if (format == LM_FMT_CSV)
        rc = print_csv(t, out);
    else
        rc = print_table(t, out);
    return rc == LM_OK && ferror(out) ? LM_EIO : rc;
}

int lm__hq_exact(sqlite3_stmt *st, int k)
{
    return sqlite3_column_type(st, k) == SQLITE_FLOAT ? LM_ERANGE : LM_OK;
}

/* The columns a report sums, and the bound lastmile holds each to. */
static const struct watched {
    const char *what, *table, *column;
    int money;
} watched[] = {
    {"collection", "collections", "weight_g", 0},
    {"collection", "collections", "amount_fen", 1},
    {"adjustment", "adjustments", "delta_weight_g", 0},
    {"adjustment", "adjustments", "delta_amount_fen", 1},
    {"route stop", "route_stops", "loaded_weight_g", 0},
    {"receipt", "receipts", "weight_g", 0},
};

/* Explains a total that does not fit 64-bit integers (SUM's "integer
 * overflow", or LM_ERANGE from a fill function that met an inexact REAL):
 * names the first row holding a value lastmile would never write (past
 * its bounds, or not an integer), which only plain SQL on a replica can
 * put there. A table the database lacks is skipped. */
static void explain_overflow(sqlite3 *db, char *err, size_t err_size)
{
    static const char lead[] = "a total does not fit 64-bit integers";
    const long long max_g = LM_MONEY_MAX_G,
                    max_fen = LM_MONEY_MAX_G * LM_MONEY_MAX_PRICE_FEN / 1000;
    for (size_t i = 0; i < sizeof watched / sizeof watched[0]; i++) {
        const struct watched *w = &watched[i];
        long long max = w->money ? max_fen : max_g;
        char *sql =
            sqlite3_mprintf("SELECT id, %s FROM %s WHERE %s IS NOT NULL AND NOT"
                            " (typeof(%s) = 'integer' AND %s BETWEEN %lld AND %lld)"
                            " LIMIT 1",
                            w->column, w->table, w->column, w->column, w->column, -max, max);
        sqlite3_stmt *st = NULL;
        int found = sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
                    sqlite3_step(st) == SQLITE_ROW;
        if (found)
            snprintf(err, err_size, "%s: %s %s has %s %s, past what lastmile accepts", lead,
                     w->what, (const char *)sqlite3_column_text(st, 0), w->column,
                     (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
        sqlite3_free(sql);
        if (found)
            return;
    }
    snprintf(err, err_size, "%s: the database holds impossible weights or amounts", lead);
}

int lm__hq_rows_read(sqlite3 *db, sqlite3_stmt *st, lm_hq_rows *rows, lm_hq_fill_fn fill, void *arg,
                     char *err, size_t err_size)
{
    int rc = LM_OK, step = SQLITE_ERROR;
    char offset[LM_TEXT_SQL_OFFSET_SIZE];
    lm_text_sql_offset(lm_text_utc_offset_default(), offset, sizeof offset);
    if (st)
        sqlite3_bind_text(st, LM_TEXT_SQL_OFFSET_INDEX, offset, -1, SQLITE_TRANSIENT);
    while (st && (step = sqlite3_step(st)) == SQLITE_ROW) {
        char **cells = lm__hq_rows_add(rows);
        if ((rc = cells ? fill(st, cells, arg) : LM_ENOMEM) != LM_OK)
            break;
    }
    if (rc == LM_ERANGE || (rc == LM_OK && step == SQLITE_ERROR &&
                            strcmp(sqlite3_errmsg(db), "integer overflow") == 0)) {
        rc = LM_ERANGE;
        explain_overflow(db, err, err_size);
    } else if (rc != LM_OK) {
        snprintf(err, err_size, "%s", lm_strerror(rc));
    } else if (step != SQLITE_DONE) {
        rc = LM_EDB;
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
    }
    if (rc != LM_OK)
        lm__hq_rows_free(rows);
    sqlite3_finalize(st);
    return rc;
}

int lm__hq_rows_report(sqlite3 *db, sqlite3_stmt *st, lm_hq_rows *rows, lm_hq_fill_fn fill,
                       void *arg, int format, FILE *out, char *err, size_t err_size)
{
    int rc = lm__hq_rows_read(db, st, rows, fill, arg, err, err_size);
    if (rc == LM_OK && (rc = lm__hq_rows_print(rows, format, out)) != LM_OK)
        snprintf(err, err_size, "cannot print the report: %s", lm_strerror(rc));
    lm__hq_rows_free(rows);
    return rc;
}
