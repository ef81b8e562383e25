/*
 * report_reconcile.c — `lastmile-server report reconcile`: per route, what
 * was collected in its villages that day, what the truck loaded at each
 * stop and what the warehouse received, with the differences and a flag
 * where a loss exceeds the tolerance. Definitions in docs/hq.md.
 *
 * collected: the net weight (weight_g + Σ adjustments, voided collections
 * excluded; docs/schema.md) of the collections whose village is one of the
 * route's stops and whose China Standard Time day is the route's date.
 * loaded: route_stops.loaded_weight_g (a stop not loaded yet counts 0).
 * received: Σ receipts.weight_g of the route.
 * Loaded weight is known per stop and received weight per product and
 * grade, so each figure appears at the level where it exists:
 *   route    collected, loaded, received       (whole route)
 *   stop     collected, loaded                 (one village of the route)
 *   product  collected, received               (one product and grade)
 *   village_product collected                  (one village, product, grade)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "report.h"

static const char query[] =
    "WITH adj AS (SELECT collection_id, SUM(delta_weight_g) AS dw,"
    "   MAX(COALESCE(voided, 0)) AS v FROM adjustments GROUP BY collection_id),"
    " net AS (SELECT c.village, c.product, c.grade,"
    "   date(c.collected_at / 1000, 'unixepoch', '+8 hours') AS day,"
    "   c.weight_g + COALESCE(a.dw, 0) AS w"
    "   FROM collections c LEFT JOIN adj a ON a.collection_id = c.id"
    "   WHERE COALESCE(a.v, 0) = 0),"
    " rt AS (SELECT id, date, county FROM routes WHERE (?1 IS NULL OR date >= ?1)"
    "   AND (?2 IS NULL OR date <= ?2) AND (?3 IS NULL OR county = ?3)),"
    " rv AS (SELECT DISTINCT rt.id AS route, rt.date AS day, s.village"
    "   FROM rt JOIN route_stops s ON s.route_id = rt.id),"
    " col AS (SELECT rv.route, rv.village, n.product, n.grade, SUM(n.w) AS w"
    "   FROM rv JOIN net n ON n.village = rv.village AND n.day = rv.day"
    "   GROUP BY rv.route, rv.village, n.product, n.grade),"
    " ld AS (SELECT s.route_id AS route, s.village, SUM(COALESCE(s.loaded_weight_g, 0)) AS w"
    "   FROM route_stops s JOIN rt ON rt.id = s.route_id GROUP BY s.route_id, s.village),"
    " rc AS (SELECT route_id AS route, product, grade, SUM(weight_g) AS w FROM receipts"
    "   WHERE route_id IN (SELECT id FROM rt) GROUP BY route_id, product, grade)"
    " SELECT 0, rt.id, rt.date, rt.county, '*', '*', '*',"
    "   COALESCE((SELECT SUM(w) FROM col WHERE col.route = rt.id), 0),"
    "   COALESCE((SELECT SUM(w) FROM ld WHERE ld.route = rt.id), 0),"
    "   COALESCE((SELECT SUM(w) FROM rc WHERE rc.route = rt.id), 0) FROM rt"
    " UNION ALL"
    " SELECT 1, rt.id, rt.date, rt.county, ld.village, '*', '*',"
    "   COALESCE((SELECT SUM(w) FROM col WHERE col.route = ld.route"
    "     AND col.village = ld.village), 0), ld.w, NULL FROM ld JOIN rt ON rt.id = ld.route"
    " UNION ALL"
    " SELECT 2, rt.id, rt.date, rt.county, '*', pg.product, pg.grade,"
    "   COALESCE((SELECT SUM(w) FROM col WHERE col.route = pg.route"
    "     AND col.product = pg.product AND col.grade = pg.grade), 0), NULL,"
    "   COALESCE((SELECT SUM(w) FROM rc WHERE rc.route = pg.route"
    "     AND rc.product = pg.product AND rc.grade = pg.grade), 0)"
    "   FROM (SELECT route, product, grade FROM col UNION SELECT route, product, grade FROM rc)"
    "   pg JOIN rt ON rt.id = pg.route"
    " UNION ALL"
    " SELECT 3, rt.id, rt.date, rt.county, col.village, col.product, col.grade, col.w, NULL,"
    "   NULL FROM col JOIN rt ON rt.id = col.route"
    " ORDER BY 2, 1, 5, 6, 7";

static const char *const level_names[4] = {"route", "stop", "product", "village_product"};

enum {
    C_LEVEL,
    C_ROUTE,
    C_DATE,
    C_COUNTY,
    C_VILLAGE,
    C_PRODUCT,
    C_GRADE,
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
                                              "county",
                                              "village",
                                              "product",
                                              "grade",
                                              "collected_g",
                                              "loaded_g",
                                              "received_g",
                                              "collected_minus_loaded_g",
                                              "loaded_minus_received_g",
                                              "collected_minus_received_g",
                                              "flag"};

static const int numeric[N_COLS] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0};

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

/* Fills one row's cells from the statement; LM_ENOMEM when a copy fails. */
static int fill_row(sqlite3_stmt *st, char **cells, void *arg)
{
    long long tol = *(const long long *)arg; /* loss tolerance, hundredths of a percent */
    int level = sqlite3_column_int(st, 0);
    cells[C_LEVEL] = lm_strdup(level_names[level & 3]);
    for (int k = C_ROUTE; k <= C_GRADE; k++) {
        const char *t = (const char *)sqlite3_column_text(st, k);
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

int lm__report_reconcile(sqlite3 *db, const char *from, const char *to, const char *county,
                         long long tolerance_cpct, int format, FILE *out, char *err,
                         size_t err_size)
{
    sqlite3_stmt *st = NULL;
    lm_hq_rows rows = {col_names, numeric, N_COLS, NULL, 0, 0};
    if (sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK) {
        const char *binds[3] = {from, to, county};
        for (int i = 0; i < 3; i++) {
            if (binds[i])
                sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_STATIC);
        }
    }
    return lm__hq_rows_report(db, st, &rows, fill_row, &tolerance_cpct, format, out, err, err_size);
}
