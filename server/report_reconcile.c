/*
 * report_reconcile.c — `lastmile-server report reconcile`: per route, what
 * was waiting at each stop when the truck came, what the truck loaded
 * there and what the warehouse received, with the differences and a flag
 * where a loss exceeds the tolerance. Definitions in docs/hq.md.
 *
 * collected (at a stop): the net weight (weight_g + Σ adjustments, voided
 * collections excluded; docs/schema.md) of the collections of the stop's
 * village whose China Standard Time day is after the previous load at that
 * village and not after this route's date: what `lastmile points --date`
 * showed waiting there. The previous load is the last stop at the village
 * with a recorded load, ordered by route date, then route id, then stop id
 * (a second load on the same day is measured against nothing new).
 * loaded: the stop's latest load correction (load_corrections, by `at`
 * then id) when it has one, else route_stops.loaded_weight_g (a stop not
 * loaded yet counts 0).
 * received: Σ receipts.weight_g of the route, voided receipts left out.
 * Loaded weight is known per stop and received weight per product and
 * grade, so each figure appears at the level where it exists:
 *   route    collected, loaded, received       (whole route)
 *   stop     collected, loaded                 (one stop of the route)
 *   product  collected, received               (one product and grade)
 *   village_product collected                  (one stop, product, grade)
 * The terminal table prints each route under a title line (date,
 * vehicle, driver, county) with one line per total, stop and product: the
 * three weights and the flag, in 80 columns. --wide prints every column
 * and level as one table; CSV and JSON always carry every column.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "report.h"

/* %s: load_corrections, or an empty select in a file older than schema 8. */
static const char query_fmt[] =
    "WITH adj AS (SELECT collection_id, SUM(delta_weight_g) AS dw,"
    "   MAX(COALESCE(voided, 0)) AS v FROM adjustments GROUP BY collection_id),"
    " net AS (SELECT c.village, c.product, c.grade,"
    "   date(c.collected_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET ") AS day,"
    "   c.weight_g + COALESCE(a.dw, 0) AS w"
    "   FROM collections c LEFT JOIN adj a ON a.collection_id = c.id"
    "   WHERE COALESCE(a.v, 0) = 0),"
    " rt AS (SELECT id, date, county, vehicle, driver FROM routes"
    "   WHERE (?1 IS NULL OR date >= ?1) AND (?2 IS NULL OR date <= ?2)"
    "   AND (?3 IS NULL OR county = ?3)),"
    /* a stop's load: its latest correction, else what its agent recorded */
    " lc AS (SELECT s.id AS sid, s.loaded_weight_g AS recorded,"
    "   (SELECT x.loaded_weight_g FROM %s x WHERE x.stop_id = s.id"
    "     ORDER BY x.\"at\" DESC, x.id DESC LIMIT 1) AS corrected FROM route_stops s),"
    /* every load, of any route: the windows' lower ends */
    " lds AS (SELECT s.id AS sid, s.route_id AS route, r.date AS day, s.village"
    "   FROM route_stops s JOIN routes r ON r.id = s.route_id JOIN lc ON lc.sid = s.id"
    "   WHERE COALESCE(lc.corrected, lc.recorded) IS NOT NULL),"
    " st AS (SELECT s.id AS sid, rt.id AS route, rt.date AS day, s.village,"
    "   COALESCE(lc.corrected, lc.recorded, 0) AS lw, lc.corrected IS NOT NULL AS fixed,"
    "   (SELECT MAX(p.day) FROM lds p WHERE p.village = s.village AND (p.day < rt.date"
    "     OR (p.day = rt.date AND (p.route < rt.id OR (p.route = rt.id AND p.sid < s.id)))))"
    "   AS since FROM rt JOIN route_stops s ON s.route_id = rt.id JOIN lc ON lc.sid = s.id),"
    " col AS (SELECT st.sid, st.route, n.product, n.grade, SUM(n.w) AS w"
    "   FROM st JOIN net n ON n.village = st.village AND n.day <= st.day"
    "   AND (st.since IS NULL OR n.day > st.since)"
    "   GROUP BY st.sid, st.route, n.product, n.grade),"
    " rc AS (SELECT route_id AS route, product, grade, SUM(weight_g) AS w FROM receipts"
    "   WHERE route_id IN (SELECT id FROM rt) AND voided_at IS NULL"
    "   GROUP BY route_id, product, grade),"
    " lines AS ("
    " SELECT 0 AS lv, rt.id AS route, '*' AS village, '*' AS product, '*' AS grade,"
    "   NULL AS since, NULL AS fixed, 0 AS seq,"
    "   COALESCE((SELECT SUM(w) FROM col WHERE col.route = rt.id), 0) AS c,"
    "   COALESCE((SELECT SUM(lw) FROM st WHERE st.route = rt.id), 0) AS l,"
    "   COALESCE((SELECT SUM(w) FROM rc WHERE rc.route = rt.id), 0) AS r FROM rt"
    " UNION ALL"
    " SELECT 1, st.route, st.village, '*', '*', COALESCE(st.since, ''), st.fixed, s.seq,"
    "   COALESCE((SELECT SUM(w) FROM col WHERE col.sid = st.sid), 0), st.lw, NULL"
    "   FROM st JOIN route_stops s ON s.id = st.sid"
    " UNION ALL"
    " SELECT 2, pg.route, '*', pg.product, pg.grade, NULL, NULL, 0,"
    "   COALESCE((SELECT SUM(w) FROM col WHERE col.route = pg.route"
    "     AND col.product = pg.product AND col.grade = pg.grade), 0), NULL,"
    "   COALESCE((SELECT SUM(w) FROM rc WHERE rc.route = pg.route"
    "     AND rc.product = pg.product AND rc.grade = pg.grade), 0)"
    "   FROM (SELECT route, product, grade FROM col UNION SELECT route, product, grade FROM rc)"
    "   pg"
    " UNION ALL"
    " SELECT 3, col.route, st.village, col.product, col.grade, NULL, NULL, s.seq, col.w, NULL,"
    "   NULL"
    "   FROM col JOIN st ON st.sid = col.sid JOIN route_stops s ON s.id = col.sid"
    "   WHERE ?4 = 1)"
    " SELECT out.lv, rt.id, rt.date, rt.vehicle, rt.driver, rt.county, out.village,"
    "   out.product, out.grade, out.since, out.fixed, out.c, out.l, out.r"
    " FROM lines out JOIN rt ON rt.id = out.route"
    " ORDER BY rt.date, rt.id, out.lv, out.seq, out.village, out.product, out.grade";

static const char *const level_names[4] = {"route", "stop", "product", "village_product"};

/* The result columns of the query above, then the computed ones. */
enum {
    C_LEVEL,
    C_ROUTE,
    C_DATE,
    C_VEHICLE,
    C_DRIVER,
    C_COUNTY,
    C_VILLAGE,
    C_PRODUCT,
    C_GRADE,
    C_SINCE,
    C_CORRECTED,
    C_COLLECTED,
    C_LOADED,
    C_RECEIVED,
    C_COL_LOAD,
    C_LOAD_REC,
    C_COL_REC,
    C_FLAG,
    N_COLS
};

static const char *const col_names[N_COLS] = {"level",
                                              "route",
                                              "date",
                                              "vehicle",
                                              "driver",
                                              "county",
                                              "village",
                                              "product",
                                              "grade",
                                              "bought_after",
                                              "load_corrected",
                                              "collected_g",
                                              "loaded_g",
                                              "received_g",
                                              "collected_minus_loaded_g",
                                              "loaded_minus_received_g",
                                              "collected_minus_received_g",
                                              "flag"};

static const int numeric[N_COLS] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0};

/* The terminal table: under a title line naming the route (date,
 * vehicle, driver, county), one line per route total, stop and product
 * with the three weights and the flag. */
enum { N_WHAT, N_COLLECTED, N_LOADED, N_RECEIVED, N_FLAG, N_NARROW };
static const char *const narrow_names[N_NARROW] = {"what", "collected_g", "loaded_g", "received_g",
                                                   "flag"};
static const int narrow_numeric[N_NARROW] = {0, 1, 1, 1, 0};

/* True when the loss from `from` to `to` is over tol (hundredths of a
 * percent of `from`); exact integer arithmetic. */
static int over(long long from, long long to, long long tol)
{
    return from > 0 && (from - to) * 10000 > tol * from;
}

static char *fmt_ll(long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    return lm_strdup(buf);
}

/* Fills every column of one row from the statement into cells. */
static int fill_all(sqlite3_stmt *st, char **cells, long long tol)
{
    int level = sqlite3_column_int(st, 0);
    cells[C_LEVEL] = lm_strdup(level_names[level & 3]);
    for (int k = C_ROUTE; k <= C_CORRECTED; k++) {
        const char *t = (const char *)sqlite3_column_text(st, k);
        if (k >= C_SINCE && !t)
            continue; /* not applicable at this level */
        cells[k] = lm_strdup(t ? t : "");
        if (!cells[k])
            return LM_ENOMEM;
    }
    long long v[3];
    int known[3];
    for (int i = 0; i < 3; i++) {
        if (lm__hq_exact(st, C_COLLECTED + i) != LM_OK)
            return LM_ERANGE;
        known[i] = sqlite3_column_type(st, C_COLLECTED + i) != SQLITE_NULL;
        v[i] = sqlite3_column_int64(st, C_COLLECTED + i);
        if (known[i] && !(cells[C_COLLECTED + i] = fmt_ll(v[i])))
            return LM_ENOMEM;
    }
    char flag[64] = "";
    if (known[0] && known[1]) {
        if (!(cells[C_COL_LOAD] = fmt_ll(v[0] - v[1])))
            return LM_ENOMEM;
        if (over(v[0], v[1], tol))
            strcat(flag, "collect>load ");
    }
    if (known[1] && known[2]) {
        if (!(cells[C_LOAD_REC] = fmt_ll(v[1] - v[2])))
            return LM_ENOMEM;
        if (over(v[1], v[2], tol))
            strcat(flag, "load>receive ");
    }
    if (known[0] && known[2]) {
        if (!(cells[C_COL_REC] = fmt_ll(v[0] - v[2])))
            return LM_ENOMEM;
        if (over(v[0], v[2], tol))
            strcat(flag, "collect>receive ");
    }
    size_t fl = strlen(flag);
    if (fl)
        flag[fl - 1] = '\0';
    cells[C_FLAG] = lm_strdup(flag);
    return cells[C_LEVEL] && cells[C_FLAG] ? LM_OK : LM_ENOMEM;
}

static int fill_row(sqlite3_stmt *st, char **cells, void *arg)
{
    return fill_all(st, cells, *(const long long *)arg);
}

/* The "what" cell of a narrow line: "route", the stop's village, or
 * "product grade". */
static char *what_cell(char *const *row)
{
    const char *level = row[C_LEVEL];
    if (strcmp(level, "route") == 0)
        return lm_strdup("route");
    if (strcmp(level, "stop") == 0)
        return lm_strdup(row[C_VILLAGE]);
    size_t n = strlen(row[C_PRODUCT]) + strlen(row[C_GRADE]) + 2;
    char *s = lm_malloc(n);
    if (s)
        snprintf(s, n, "%s %s", row[C_PRODUCT], row[C_GRADE]);
    return s;
}

/* 1 when the row is a stop whose load was corrected. */
static int corrected(char *const *row)
{
    return row[C_CORRECTED] && strcmp(row[C_CORRECTED], "1") == 0;
}

/* The loaded cell of a narrow line: the weight, marked "*" when corrected.
 * A marked cell is no longer a number, so the table prints it as it is:
 * it is made in kg here, as the table shows the unmarked ones. */
static char *loaded_cell(char *const *row)
{
    if (!row[C_LOADED] || !corrected(row))
        return row[C_LOADED] ? lm_strdup(row[C_LOADED]) : NULL;
    char kg[LM_TEXT_UNIT_SIZE + 1];
    lm_text_kg(strtoll(row[C_LOADED], NULL, 10), kg, sizeof kg - 1);
    strcat(kg, "*");
    return lm_strdup(kg);
}

/* Prints rows[first, end) (one route's lines) as a titled narrow table. */
static int print_route(const lm_hq_rows *all, size_t first, size_t end, FILE *out)
{
    lm_hq_rows t = {narrow_names, narrow_numeric, N_NARROW, NULL, 0, 0};
    static const int from[N_NARROW] = {-1, C_COLLECTED, C_LOADED, C_RECEIVED, C_FLAG};
    int any_corrected = 0;
    for (size_t i = first; i < end; i++) {
        char *const *row = all->cells + i * all->n_cols;
        char **cells = lm__hq_rows_add(&t);
        if (!cells)
            goto fail;
        for (int k = 0; k < N_NARROW; k++) {
            const char *src = from[k] < 0 ? NULL : row[from[k]];
            if (from[k] < 0)
                cells[k] = what_cell(row);
            else if (from[k] == C_LOADED)
                cells[k] = loaded_cell(row);
            else
                cells[k] = src ? lm_strdup(src) : NULL;
            if (!cells[k] && (from[k] < 0 || src))
                goto fail;
        }
        any_corrected |= corrected(row);
    }
    char *const *head = all->cells + first * all->n_cols;
    fprintf(out, "%s%s  %s  %s  (%s)\n", first ? "\n" : "", head[C_DATE], head[C_VEHICLE],
            head[C_DRIVER], head[C_COUNTY]);
    lm__hq_rows_print(&t, LM_FMT_TABLE, out);
    if (any_corrected)
        fputs("* a load corrected with `lastmile stop correct` (the latest correction)\n", out);
    lm__hq_rows_free(&t);
    return LM_OK;
fail:
    lm__hq_rows_free(&t);
    return LM_ENOMEM;
}

/* The terminal table: route after route (rows are sorted by route). */
static int print_narrow(const lm_hq_rows *all, FILE *out)
{
    size_t first = 0;
    for (size_t i = 1; i <= all->n; i++) {
        if (i < all->n && strcmp(all->cells[i * all->n_cols + C_ROUTE],
                                 all->cells[first * all->n_cols + C_ROUTE]) == 0)
            continue;
        if (print_route(all, first, i, out) != LM_OK)
            return LM_ENOMEM;
        first = i;
    }
    return LM_OK;
}

int lm__report_reconcile(sqlite3 *db, const lm_reconcile_opts *o, FILE *out, char *err,
                         size_t err_size)
{
    sqlite3_stmt *st = NULL;
    int narrow = o->format == LM_FMT_TABLE && !o->wide;
    lm_hq_rows rows = {col_names, numeric, N_COLS, NULL, 0, 0};
    /* A report opens read-only, so a file no lastmile of schema 8 has
     * opened yet has no load_corrections table: then there are none. */
    char query[8192];
    snprintf(query, sizeof query, query_fmt,
             lm__hq_exists(db, "sqlite_master", "name", "load_corrections") == 1
                 ? "load_corrections"
                 : "(SELECT NULL AS stop_id, NULL AS loaded_weight_g, NULL AS \"at\","
                   " NULL AS id WHERE 0)");
    if (sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK) {
        const char *binds[3] = {o->from, o->to, o->county};
        for (int i = 0; i < 3; i++) {
            if (binds[i])
                sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_STATIC);
        }
        sqlite3_bind_int(st, 4, !narrow); /* village_product lines */
    }
    long long tol = o->tolerance_cpct;
    if (!narrow)
        return lm__hq_rows_report(db, st, &rows, fill_row, &tol, o->format, out, err, err_size);
    int rc = lm__hq_rows_read(db, st, &rows, fill_row, &tol, err, err_size);
    if (rc != LM_OK)
        return rc;
    /* Everything is read before anything is printed: a failing report
     * prints nothing but its error. */
    if ((rc = print_narrow(&rows, out)) != LM_OK)
        snprintf(err, err_size, "%s", lm_strerror(rc));
    lm__hq_rows_free(&rows);
    return rc;
}
