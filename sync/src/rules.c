/*
 * rules.c — the ledger's rules (lm_rules.h): on one value, for the field
 * tool at entry and the server at receipt, and on a new row with the rows
 * it names, for the server (lm_apply_ctx.ledger_rules; merge.c calls
 * them). The bounds and why they are what they are: docs/sync.md,
 * "Ledger rules".
 *
 * Each column of the domain schema has one entry below: the kind of value
 * it takes and the table its value must name. A column without an entry
 * is short text or an unbounded integer.
 */
#include <math.h>
#include <string.h>

#include "lm_rules.h"
#include "sync_internal.h"

enum kind { K_SHORT, K_LONG, K_INT, K_EVENT, K_PLAN, K_REAL };

/* The rows a value can name; each has its lookup statement below. */
enum ref {
    REF_NONE,
    REF_FARMER,
    REF_VILLAGE,
    REF_PRODUCT,
    REF_GRADE,
    REF_COLLECTION,
    REF_ROUTE,
    REF_COUNTY,
};

static const struct ref_def {
    const char *sql;
    const char *why;
} ref_defs[LM__RULE_REFS] = {
    {NULL, NULL},
    {"SELECT 1 FROM farmers WHERE id = ?", "unknown farmer"},
    {"SELECT 1 FROM villages WHERE name = ?", "unknown village"},
    {"SELECT 1 FROM products WHERE code = ?", "unknown product"},
    {"SELECT 1 FROM grades WHERE code = ?", "unknown grade"},
    {"SELECT 1 FROM collections WHERE id = ?", "unknown collection"},
    {"SELECT 1 FROM routes WHERE id = ?", "unknown route"},
    {"SELECT 1 FROM villages WHERE county = ?", "unknown county (no village is in it)"},
};

typedef struct col_rule {
    const char *table, *column;
    int kind;
    int64_t lo, hi; /* K_INT, K_REAL (whole bounds) */
    int ref;
    const char *why; /* K_INT, K_REAL: the bound, named */
} col_rule;

#define MAX_G LM_RULES_MAX_G
#define MAX_P LM_RULES_MAX_PRICE_FEN
#define MAX_A LM_RULES_MAX_AMOUNT_FEN
#define INT(t, c, lo, hi, why)                                                                     \
    {                                                                                              \
        t, c, K_INT, lo, hi, REF_NONE, why                                                         \
    }
#define REAL(t, c, lo, hi, why)                                                                    \
    {                                                                                              \
        t, c, K_REAL, lo, hi, REF_NONE, why                                                        \
    }
#define TXT(t, c, k, ref)                                                                          \
    {                                                                                              \
        t, c, k, 0, 0, ref, NULL                                                                   \
    }
#define TIME(t, c, k)                                                                              \
    {                                                                                              \
        t, c, k, 0, 0, REF_NONE, NULL                                                              \
    }

static const col_rule col_rules[] = {
    TXT("adjustments", "collection_id", K_SHORT, REF_COLLECTION),
    INT("adjustments", "delta_weight_g", -MAX_G, MAX_G,
        "weight change beyond 1000000 kg either way"),
    INT("adjustments", "delta_amount_fen", -MAX_A, MAX_A,
        "amount change beyond 10^13 fen either way"),
    INT("adjustments", "voided", 0, 1, "voided is 0 or 1"),
    TXT("adjustments", "reason", K_LONG, REF_NONE),
    TIME("adjustments", "at", K_EVENT),
    TXT("collections", "farmer_id", K_SHORT, REF_FARMER),
    TXT("collections", "village", K_SHORT, REF_VILLAGE),
    TXT("collections", "product", K_SHORT, REF_PRODUCT),
    TXT("collections", "grade", K_SHORT, REF_GRADE),
    INT("collections", "weight_g", 1, MAX_G, "weight must be 1 g to 1000000 kg"),
    INT("collections", "unit_price_fen", 1, MAX_P, "price must be 1 fen to 100000 yuan/kg"),
    INT("collections", "amount_fen", 0, MAX_A, "amount must be 0 to 10^13 fen"),
    TIME("collections", "collected_at", K_EVENT),
    TIME("collections", "received_at", K_EVENT),
    TXT("collections", "note", K_LONG, REF_NONE),
    TXT("farmers", "village", K_SHORT, REF_VILLAGE),
    INT("farmers", "registered_poor", 0, 1, "registered_poor is 0 or 1"),
    TIME("farmers", "created_at", K_EVENT),
    TIME("farmers", "deactivated_at", K_EVENT),
    TXT("gradings", "collection_id", K_SHORT, REF_COLLECTION),
    TXT("gradings", "grade", K_SHORT, REF_GRADE),
    INT("gradings", "moisture_permille", 0, 1000, "moisture must be 0 to 1000 permille"),
    TXT("gradings", "defects", K_LONG, REF_NONE),
    TIME("gradings", "graded_at", K_EVENT),
    INT("grades", "rank", 0, 1000000, "rank must be 0 to 1000000"),
    TXT("prices", "product", K_SHORT, REF_PRODUCT),
    TXT("prices", "grade", K_SHORT, REF_GRADE),
    INT("prices", "price_fen", 1, MAX_P, "price must be 1 fen to 100000 yuan/kg"),
    TXT("receipts", "route_id", K_SHORT, REF_ROUTE),
    TXT("receipts", "product", K_SHORT, REF_PRODUCT),
    TXT("receipts", "grade", K_SHORT, REF_GRADE),
    INT("receipts", "weight_g", 0, MAX_G, "weight must be 0 to 1000000 kg"),
    TIME("receipts", "received_at", K_EVENT),
    TIME("receipts", "voided_at", K_EVENT),
    TXT("receipts", "void_reason", K_LONG, REF_NONE),
    TXT("route_stops", "route_id", K_SHORT, REF_ROUTE),
    INT("route_stops", "seq", 0, 10000, "stop number must be 0 to 10000"),
    TXT("route_stops", "village", K_SHORT, REF_VILLAGE),
    TIME("route_stops", "planned_at", K_PLAN),
    INT("route_stops", "loaded_weight_g", 0, MAX_G, "loaded weight must be 0 to 1000000 kg"),
    TXT("routes", "county", K_SHORT, REF_COUNTY),
    TXT("conflict_resolutions", "tbl", K_SHORT, REF_NONE),
    TXT("conflict_resolutions", "row_pk", K_SHORT, REF_NONE),
    TXT("conflict_resolutions", "col", K_SHORT, REF_NONE),
    TXT("conflict_resolutions", "kept", K_SHORT, REF_NONE),
    TXT("conflict_resolutions", "by", K_SHORT, REF_NONE),
    TXT("conflict_resolutions", "reason", K_LONG, REF_NONE),
    TIME("conflict_resolutions", "at", K_EVENT),
    INT("routes", "capacity_g", 0, MAX_G, "capacity must be 0 to 1000000 kg"),
    REAL("villages", "lat", -90, 90, "latitude must be -90 to 90 degrees"),
    REAL("villages", "lon", -180, 180, "longitude must be -180 to 180 degrees"),
    TXT("warehouses", "county", K_SHORT, REF_COUNTY),
    REAL("warehouses", "lat", -90, 90, "latitude must be -90 to 90 degrees"),
    REAL("warehouses", "lon", -180, 180, "longitude must be -180 to 180 degrees"),
};

static const col_rule *rule_of(const char *table, const char *column)
{
    for (size_t i = 0; i < sizeof col_rules / sizeof col_rules[0]; i++)
        if (!strcmp(col_rules[i].table, table) && !strcmp(col_rules[i].column, column))
            return &col_rules[i];
    return NULL;
}

int lm_rules_amount_fen(int64_t weight_g, int64_t price_fen, int64_t *amount_fen)
{
    return lm_money_amount_fen(weight_g, price_fen, amount_fen);
}

/* Length of the UTF-8 sequence at s[0..n) that is a valid code point, 0
 * when it is not one (RFC 3629: shortest form, no surrogates, <= U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, *cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, *cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, *cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3Fu);
    }
    if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return len;
}

int lm_rules_text(const char *text, size_t len, size_t max, const char **why)
{
    const unsigned char *s = (const unsigned char *)text;
    *why = NULL;
    if (len > max) {
        *why = max == LM_RULES_MAX_SHORT_TEXT ? "text longer than 200 bytes"
                                              : "text longer than its column takes";
        return LM_ETOOBIG;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_seq(s + i, len - i, &cp);
        if (!n) {
            *why = "text is not valid UTF-8";
            return LM_EINVAL;
        }
        /* C0 (TAB and newline included: they forge columns and lines in
         * what people read), DEL and C1 (terminal escapes) */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
            *why = "text holds a control character (tab, newline, escape ...)";
            return LM_EINVAL;
        }
        i += n;
    }
    return 0;
}

static int check_value(const col_rule *cr, const lm_value *v, uint64_t now_ms, const char **why)
{
    int kind = cr ? cr->kind : K_SHORT;
    *why = NULL;
    if (v->type == LM_VAL_NULL)
        return 0;
    if (v->type == LM_VAL_TEXT) {
        if (kind != K_SHORT && kind != K_LONG)
            return 0; /* the merge's type check answers this */
        return lm_rules_text((const char *)v->bytes, v->len,
                             kind == K_LONG ? LM_RULES_MAX_LONG_TEXT : LM_RULES_MAX_SHORT_TEXT,
                             why);
    }
    if (kind == K_REAL && (v->type == LM_VAL_FLOAT || v->type == LM_VAL_INTEGER)) {
        double d = v->type == LM_VAL_FLOAT ? v->f : (double)v->i;
        if (!isfinite(d) || d < (double)cr->lo || d > (double)cr->hi) {
            *why = cr->why;
            return LM_ERANGE;
        }
        return 0;
    }
    if (v->type != LM_VAL_INTEGER)
        return 0;
    if (kind == K_INT && (v->i < cr->lo || v->i > cr->hi)) {
        *why = cr->why;
        return LM_ERANGE;
    }
    if (kind == K_EVENT || kind == K_PLAN) {
        uint64_t ahead = kind == K_PLAN ? LM_RULES_MAX_PLAN_AHEAD_MS : LM_RULES_MAX_AHEAD_MS;
        if (v->i < (int64_t)LM_RULES_MIN_TIME_MS) {
            *why = "time before 2020-01-01";
            return LM_ERANGE;
        }
        if ((uint64_t)v->i > now_ms + ahead) {
            *why = kind == K_PLAN ? "planned time more than 400 days ahead"
                                  : "time more than a day ahead of the clock";
            return LM_ERANGE;
        }
    }
    return 0;
}

int lm_rules_value(const char *table, const char *column, const lm_value *v, uint64_t now_ms,
                   const char **why)
{
    *why = NULL;
    if (!table || !column || !v)
        return LM_EINVAL;
    return check_value(rule_of(table, column), v, now_ms, why);
}

/* Whether ref_defs[ref]'s row named by v exists; 0 when it does. */
static int ref_exists(lm_replica *r, int ref, const lm_value *v, const char **why)
{
    int rc = lm__prepare(r, &r->s_rule[ref], ref_defs[ref].sql);
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_rule[ref];
    lm__bind_value(st, 1, v);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s == SQLITE_ROW)
        return 0;
    if (s != SQLITE_DONE)
        return lm__dberr(r, "check a reference");
    *why = ref_defs[ref].why;
    return LM_ENOTFOUND;
}

int lm__rules_cell(lm_replica *r, int tid, int cid, const lm_value *v, uint64_t now_ms,
                   const char **why)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    const col_rule *cr = rule_of(t->name, t->cols[cid - 1].name);
    int rc = check_value(cr, v, now_ms, why);
    if (rc || !cr || cr->ref == REF_NONE || v->type != LM_VAL_TEXT)
        return rc;
    return ref_exists(r, cr->ref, v, why);
}

/* Reads column `col` of the row through get into *v (cleared first);
 * LM_EMISSING with *why when it is NULL. */
static int need(lm__row_get_fn get, void *ud, const char *col, lm_value *v, const char **why)
{
    lm_value_clear(v);
    int rc = get(ud, col, v);
    if (rc)
        return rc;
    if (v->type != LM_VAL_NULL)
        return 0;
    *why = "a required column is missing";
    return LM_EMISSING;
}

/* A statement's one row into a[0..n) as integers; *found = 0 when none. */
static int query_ints(lm_replica *r, int slot, const char *sql, const lm_value *key, int64_t *a,
                      int n, int *found)
{
    int rc = lm__prepare(r, &r->s_rule[slot], sql);
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_rule[slot];
    lm__bind_value(st, 1, key);
    int s = sqlite3_step(st);
    *found = s == SQLITE_ROW;
    for (int i = 0; *found && i < n; i++)
        a[i] = sqlite3_column_type(st, i) == SQLITE_INTEGER ? sqlite3_column_int64(st, i) : -1;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? 0 : lm__dberr(r, "check a row");
}

static int collection_row(lm_replica *r, lm__row_get_fn get, void *ud, const char **why)
{
    static const char *const req[] = {"agent_id", "farmer_id", "village",
                                      "product",  "grade",     "collected_at"};
    lm_value v = {.type = LM_VAL_NULL}, w = {.type = LM_VAL_NULL}, p = {.type = LM_VAL_NULL},
             a = {.type = LM_VAL_NULL};
    int rc = 0, found = 0;
    for (size_t i = 0; i < sizeof req / sizeof req[0] && !rc; i++)
        rc = need(get, ud, req[i], &v, why);
    if (rc || (rc = need(get, ud, "weight_g", &w, why)) ||
        (rc = need(get, ud, "unit_price_fen", &p, why)) ||
        (rc = need(get, ud, "amount_fen", &a, why)))
        goto done;
    int64_t want;
    if (lm_rules_amount_fen(w.i, p.i, &want) || a.i != want) {
        *why = "amount_fen is not weight_g x unit_price_fen / 1000 rounded half up";
        rc = LM_EINVAL;
        goto done;
    }
    /* the farmer sells in its own village, and had not been deactivated
     * by hq when the purchase was made (one made on a phone that had not
     * heard of it yet still counts) */
    if ((rc = need(get, ud, "farmer_id", &v, why)) || (rc = need(get, ud, "village", &w, why)) ||
        (rc = need(get, ud, "collected_at", &p, why)))
        goto done;
    rc = lm__prepare(r, &r->s_rule[LM__RULE_REFS],
                     "SELECT deactivated_at FROM farmers WHERE id = ? AND village = ?");
    if (rc)
        goto done;
    sqlite3_stmt *st = r->s_rule[LM__RULE_REFS];
    lm__bind_value(st, 1, &v);
    lm__bind_value(st, 2, &w);
    int s = sqlite3_step(st), off = 0;
    found = s == SQLITE_ROW;
    if (found && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        off = p.type == LM_VAL_INTEGER && p.i >= sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = lm__dberr(r, "check a row");
    else if (!found && (rc = LM_EINVAL))
        *why = "the farmer is not of the collection's village";
    else if (off && (rc = LM_EDENIED))
        *why = "the farmer was deactivated by hq before the purchase";
done:
    lm_value_clear(&v);
    lm_value_clear(&w);
    lm_value_clear(&p);
    lm_value_clear(&a);
    return rc;
}

/* A correction: its amount follows from its collection's price, its weight
 * keeps the collection's weight within bounds, a void one moves nothing. */
static int adjustment_row(lm_replica *r, lm__row_get_fn get, void *ud, const char **why)
{
    lm_value c = {.type = LM_VAL_NULL}, d = {.type = LM_VAL_NULL}, a = {.type = LM_VAL_NULL},
             vo = {.type = LM_VAL_NULL};
    int64_t col[3] = {0}; /* price, weight with its live deltas, voided before */
    int rc, found;
    if ((rc = need(get, ud, "collection_id", &c, why)) ||
        (rc = need(get, ud, "delta_weight_g", &d, why)) ||
        (rc = need(get, ud, "delta_amount_fen", &a, why)) ||
        (rc = need(get, ud, "voided", &vo, why)))
        goto done;
    if ((rc = query_ints(r, LM__RULE_REFS + 1,
                         "SELECT c.unit_price_fen, c.weight_g + COALESCE((SELECT"
                         " SUM(delta_weight_g) FROM adjustments WHERE collection_id = c.id),"
                         " 0), COALESCE((SELECT MAX(voided) FROM adjustments WHERE"
                         " collection_id = c.id), 0) FROM collections c WHERE c.id = ?",
                         &c, col, 3, &found)))
        goto done;
    rc = LM_EINVAL;
    int64_t want;
    if (!found) {
        *why = "unknown collection";
        rc = LM_ENOTFOUND;
    } else if (col[2] == 1) {
        *why = "the collection is void: it takes no more corrections";
    } else if (vo.i == 1 && (d.i || a.i)) {
        *why = "a void moves no weight or amount";
    } else if (vo.i == 0 && d.i == 0) {
        *why = "a weight correction of zero";
    } else if (lm_rules_amount_fen(d.i, col[0], &want) || a.i != want) {
        *why = "delta_amount_fen is not delta_weight_g x the collection's price / 1000 rounded "
               "half up";
    } else if (col[1] + d.i < 0 || col[1] + d.i > LM_RULES_MAX_G) {
        *why = "the correction takes the collection's weight below 0 or over 1000000 kg";
    } else {
        rc = 0;
    }
done:
    lm_value_clear(&c);
    lm_value_clear(&d);
    lm_value_clear(&a);
    lm_value_clear(&vo);
    return rc;
}

/* The columns a new row of these tables cannot be without. */
static int required(lm__row_get_fn get, void *ud, const char *const *cols, const char **why)
{
    lm_value v = {.type = LM_VAL_NULL};
    int rc = 0;
    for (; *cols && !rc; cols++)
        rc = need(get, ud, *cols, &v, why);
    lm_value_clear(&v);
    return rc;
}

int lm__rules_row(lm_replica *r, int tid, lm__row_get_fn get, void *ud, const char **why)
{
    static const char *const farmers[] = {"name", "village", NULL};
    static const char *const gradings[] = {"collection_id", "grade", NULL};
    static const char *const stops[] = {"route_id", "village", "agent_id", NULL};
    static const char *const routes[] = {"county", NULL};
    static const char *const prices[] = {"product", "grade", "price_fen", NULL};
    static const char *const in_county[] = {"county", NULL};
    static const char *const resolutions[] = {"tbl",        "row_pk",      "col",
                                              "winner_hlc", "winner_site", "loser_hlc",
                                              "loser_site", "kept",        NULL};
    const char *table = lm__tables[tid - 1].name;
    *why = NULL;
    if (!strcmp(table, "collections"))
        return collection_row(r, get, ud, why);
    if (!strcmp(table, "adjustments"))
        return adjustment_row(r, get, ud, why);
    if (!strcmp(table, "farmers"))
        return required(get, ud, farmers, why);
    if (!strcmp(table, "gradings"))
        return required(get, ud, gradings, why);
    if (!strcmp(table, "route_stops"))
        return required(get, ud, stops, why);
    if (!strcmp(table, "routes"))
        return required(get, ud, routes, why);
    if (!strcmp(table, "prices"))
        return required(get, ud, prices, why);
    if (!strcmp(table, "villages") || !strcmp(table, "warehouses"))
        return required(get, ud, in_county, why);
    if (!strcmp(table, "conflict_resolutions"))
        return required(get, ud, resolutions, why);
    return 0;
}
