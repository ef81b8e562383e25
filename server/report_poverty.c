/*
 * report_poverty.c — `report poverty`: how much of the buying reached
 * registered poor households. A farmer's poverty is read from the register
 * HQ imported (lm_poor_register, cmd_farmer_import.c), never from the mark
 * agents set in the field:
 *   verified  the farmer's household id is on the register with the same
 *             name and village;
 *   doubtful  the household id is on the register but the name or the
 *             village differs;
 *   claimed   marked poor in the field (registered_poor = 1) but the
 *             household id is not on the register (or there is none).
 * Per period, county and village: net weight and money (docs/schema.md
 * ledger rules, voided collections excluded) bought from verified
 * households against all farmers, the verified share of the money (the
 * headline figure), the money of doubtful and claimed ones, and the number
 * of distinct selling farmers of each kind. County subtotals have village
 * "*", the period total county "*". Days are China Standard Time days of
 * collected_at; a week starts on Monday and is named by that Monday's
 * date. With follow_up, one line per doubtful or claimed farmer who sold
 * in the range instead; as a terminal table (unless wide) in 80 columns:
 * the farmer's id and county are left out (CSV, JSON and --wide keep
 * them) and the register's name and village are shown only where they
 * differ from the field's.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "report.h"

/* %1$s: the register (a table, or an empty select before any import);
 * %2$s: the period. */
static const char net_fmt[] =
    "WITH adj AS (SELECT collection_id, SUM(delta_weight_g) AS dw, SUM(delta_amount_fen) AS da,"
    "   MAX(COALESCE(voided, 0)) AS v FROM adjustments GROUP BY collection_id),"
    " reg AS (%s),"
    " net AS (SELECT %s AS period, COALESCE(vl.county, '?') AS county, c.village,"
    "   c.farmer_id, f.name, f.household_id, r.name AS reg_name, r.village AS reg_village,"
    "   CASE WHEN r.household_id IS NULL"
    "     THEN (CASE WHEN f.registered_poor = 1 THEN 'claimed' END)"
    "     WHEN r.name = f.name AND r.village = f.village THEN 'verified'"
    "     ELSE 'doubtful' END AS kind,"
    "   c.weight_g + COALESCE(a.dw, 0) AS w, c.amount_fen + COALESCE(a.da, 0) AS m"
    "   FROM (SELECT *, date(collected_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET ") AS day"
    "     FROM collections) c"
    "   LEFT JOIN adj a ON a.collection_id = c.id"
    "   LEFT JOIN farmers f ON f.id = c.farmer_id"
    "   LEFT JOIN reg r ON r.household_id = f.household_id"
    "   LEFT JOIN villages vl ON vl.name = c.village"
    "   WHERE COALESCE(a.v, 0) = 0 AND (?1 IS NULL OR c.day >= ?1)"
    "   AND (?2 IS NULL OR c.day <= ?2))";

static const char totals_fmt[] =
    " SELECT * FROM ("
    " SELECT period, county, village, %s FROM net GROUP BY period, county, village"
    " UNION ALL SELECT period, county, '*', %s FROM net GROUP BY period, county"
    " UNION ALL SELECT period, '*', '*', %s FROM net GROUP BY period)"
    " ORDER BY period, county = '*', county, village = '*', village";

static const char figures[] =
    "SUM(CASE WHEN kind = 'verified' THEN w ELSE 0 END),"
    " SUM(CASE WHEN kind = 'verified' THEN m ELSE 0 END),"
    " SUM(w), SUM(m), COUNT(DISTINCT CASE WHEN kind = 'verified' THEN farmer_id END),"
    " COUNT(DISTINCT farmer_id),"
    " SUM(CASE WHEN kind = 'doubtful' THEN m ELSE 0 END),"
    " SUM(CASE WHEN kind = 'claimed' THEN m ELSE 0 END),"
    " COUNT(DISTINCT CASE WHEN kind = 'doubtful' THEN farmer_id END),"
    " COUNT(DISTINCT CASE WHEN kind = 'claimed' THEN farmer_id END)";

static const char follow_up_sql[] =
    " SELECT kind, county, village, farmer_id, name, household_id, reg_name, reg_village,"
    " SUM(w), SUM(m) FROM net WHERE kind IN ('doubtful', 'claimed')"
    " GROUP BY kind, county, village, farmer_id ORDER BY kind DESC, SUM(m) DESC, farmer_id";

enum {
    C_PERIOD,
    C_COUNTY,
    C_VILLAGE,
    C_VER_W,
    C_VER_M,
    C_ALL_W,
    C_ALL_M,
    C_VER_F,
    C_ALL_F,
    C_DOUBT_M,
    C_CLAIM_M,
    C_DOUBT_F,
    C_CLAIM_F,
    C_SHARE,
    N_COLS
};

static const char *const col_names[N_COLS] = {"period",
                                              "county",
                                              "village",
                                              "verified_weight_g",
                                              "verified_amount_fen",
                                              "all_weight_g",
                                              "all_amount_fen",
                                              "verified_farmers",
                                              "all_farmers",
                                              "doubtful_amount_fen",
                                              "claimed_amount_fen",
                                              "doubtful_farmers",
                                              "claimed_farmers",
                                              "verified_amount_pct"};
static const int numeric[N_COLS] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};

enum { N_FOLLOW = 10 };
static const char *const follow_names[N_FOLLOW] = {
    "kind",         "county",        "village",          "farmer",   "name",
    "household_id", "register_name", "register_village", "weight_g", "amount_fen"};
static const int follow_numeric[N_FOLLOW] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};

enum {
    F_KIND,
    F_COUNTY,
    F_VILLAGE,
    F_FARMER,
    F_NAME,
    F_HOUSEHOLD,
    F_REG_NAME,
    F_REG_VILLAGE,
    F_W,
    F_M
};
enum { N_NARROW = 7 };
static const char *const narrow_names[N_NARROW] = {
    "kind", "village", "name", "household_id", "register", "weight_g", "amount_fen"};
static const int narrow_numeric[N_NARROW] = {0, 0, 0, 0, 0, 1, 1};

static char *dup_or_null(const char *s)
{
    return s ? lm_strdup(s) : NULL;
}

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* What the register says where it differs from the field: its name and
 * village when they differ, "-" when the household is not on it. */
static char *register_cell(char *const *c)
{
    const char *rn = c[F_REG_NAME], *rv = c[F_REG_VILLAGE];
    if (!rn && !rv)
        return lm_strdup("-");
    char buf[512];
    int nd = !same(rn, c[F_NAME]), vd = !same(rv, c[F_VILLAGE]);
    snprintf(buf, sizeof buf, "%s%s%s", nd ? (rn ? rn : "?") : "", nd && vd ? ", " : "",
             vd ? (rv ? rv : "?") : "");
    return lm_strdup(buf);
}

/* The follow-up rows in 80 columns (see the top of the file). */
static int print_narrow_follow_up(const lm_hq_rows *all, FILE *out)
{
    lm_hq_rows t = {narrow_names, narrow_numeric, N_NARROW, NULL, 0, 0};
    static const int from[N_NARROW] = {F_KIND, F_VILLAGE, F_NAME, F_HOUSEHOLD, -1, F_W, F_M};
    int rc = LM_OK;
    for (size_t i = 0; i < all->n && rc == LM_OK; i++) {
        char *const *c = &all->cells[i * all->n_cols];
        char **row = lm__hq_rows_add(&t);
        if (!row) {
            rc = LM_ENOMEM;
            break;
        }
        for (int k = 0; k < N_NARROW; k++) {
            row[k] = from[k] < 0 ? register_cell(c) : dup_or_null(c[from[k]]);
            if (!row[k] && (from[k] < 0 || c[from[k]]))
                rc = LM_ENOMEM;
        }
    }
    if (rc == LM_OK)
        rc = lm__hq_rows_print(&t, LM_FMT_TABLE, out);
    lm__hq_rows_free(&t);
    return rc;
}

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
    return share_cell(sqlite3_column_int64(st, C_VER_M), sqlite3_column_int64(st, C_ALL_M),
                      &cells[C_SHARE]);
}

/* A follow-up line: text as stored (NULL stays "-"), then the two sums. */
static int fill_follow_up(sqlite3_stmt *st, char **cells, void *arg)
{
    (void)arg;
    for (int k = 0; k < N_FOLLOW; k++) {
        if (follow_numeric[k] && lm__hq_exact(st, k) != LM_OK)
            return LM_ERANGE;
        const char *t = (const char *)sqlite3_column_text(st, k);
        if (t && !(cells[k] = lm_strdup(t)))
            return LM_ENOMEM;
    }
    return LM_OK;
}

/* The register as a select: the imported table, or no rows at all when
 * HQ has not imported one yet (the table is created by the first import). */
static const char *register_sql(sqlite3 *db)
{
    int found = lm__hq_exists(db, "sqlite_master", "name", "lm_poor_register");
    return found == 1 ? "SELECT household_id, name, village FROM lm_poor_register"
                      : "SELECT NULL AS household_id, NULL AS name, NULL AS village WHERE 0";
}

int lm__report_poverty(sqlite3 *db, const lm_poverty_opts *o, FILE *out, char *err, size_t err_size)
{
    const char *psql = period_sql(o->period);
    if (!psql) {
        snprintf(err, err_size, "--period must be day, week, month or all");
        return LM_EINVAL;
    }
    char sql[8192];
    int n = snprintf(sql, sizeof sql, net_fmt, register_sql(db), psql);
    if (o->follow_up)
        snprintf(sql + n, sizeof sql - (size_t)n, "%s", follow_up_sql);
    else
        snprintf(sql + n, sizeof sql - (size_t)n, totals_fmt, figures, figures, figures);
    sqlite3_stmt *st = NULL;
    lm_hq_rows rows = {col_names, numeric, N_COLS, NULL, 0, 0};
    if (o->follow_up)
        rows = (lm_hq_rows){follow_names, follow_numeric, N_FOLLOW, NULL, 0, 0};
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (o->from)
            sqlite3_bind_text(st, 1, o->from, -1, SQLITE_STATIC);
        if (o->to)
            sqlite3_bind_text(st, 2, o->to, -1, SQLITE_STATIC);
    }
    if (!o->follow_up || o->format != LM_FMT_TABLE || o->wide)
        return lm__hq_rows_report(db, st, &rows, o->follow_up ? fill_follow_up : fill_row, NULL,
                                  o->format, out, err, err_size);
    int rc = lm__hq_rows_read(db, st, &rows, fill_follow_up, NULL, err, err_size);
    if (rc != LM_OK)
        return rc;
    /* everything is read before anything is printed */
    if ((rc = print_narrow_follow_up(&rows, out)) != LM_OK)
        snprintf(err, err_size, "cannot print the report: %s", lm_strerror(rc));
    lm__hq_rows_free(&rows);
    return rc;
}
