/*
 * sync_rules.c — the ledger's rules (lm_rules.h, rules.c) at their edges:
 * the amount's rounding, text (UTF-8, control characters, lengths),
 * bounds and times; then a server replica applying agents' changes with
 * lm_apply_ctx.ledger_rules: a whole new row refused on one bad cell,
 * references, a correction against its collection, the pusher's site, a
 * loaded stop frozen, agents' deletes, the clock window, and refusals
 * counted rather than stored one by one.
 */
#include <math.h>

#include "lm_rules.h"
#include "sync_test_util.h"

#define NOW UINT64_C(1700000000000)

static const char *const villages_a[] = {"Xiacun"};
static lm_scope agent_a = {LM_ROLE_AGENT, "agent-a", villages_a, 1, NULL};
static lm_scope disp = {LM_ROLE_DISPATCHER, "disp-1", NULL, 0, "Wuyuan"};
static lm_scope hq = {LM_ROLE_HQ, "hq-1", NULL, 0, NULL};

static lm_value txt(const char *s)
{
    lm_value v = {.type = LM_VAL_TEXT, .bytes = (uint8_t *)s, .len = strlen(s)};
    return v;
}

static lm_value num(int64_t i)
{
    lm_value v = {.type = LM_VAL_INTEGER, .i = i};
    return v;
}

static lm_value real(double f)
{
    lm_value v = {.type = LM_VAL_FLOAT, .f = f};
    return v;
}

static int amount(int64_t w, int64_t p, int64_t *out)
{
    return lm_rules_amount_fen(w, p, out);
}

static void test_amount(void)
{
    int64_t a;
    CHECK_RC(amount(1000, 180, &a), LM_OK);
    CHECK_EQ_INT(a, 180);
    CHECK_RC(amount(12345, 310, &a), LM_OK);
    CHECK_EQ_INT(a, 3827); /* 3826.95 */
    CHECK_RC(amount(-12345, 310, &a), LM_OK);
    CHECK_EQ_INT(a, -3827); /* half away from zero: gives back the whole amount */
    CHECK_RC(amount(1, 500, &a), LM_OK);
    CHECK_EQ_INT(a, 1); /* 0.5 up */
    CHECK_RC(amount(1, 499, &a), LM_OK);
    CHECK_EQ_INT(a, 0);
    CHECK_RC(amount(LM_RULES_MAX_G, LM_RULES_MAX_PRICE_FEN, &a), LM_OK);
    CHECK_EQ_INT(a, LM_RULES_MAX_AMOUNT_FEN);
    CHECK_RC(amount(INT64_MAX, 2, &a), LM_ERANGE);
    CHECK_EQ_INT(a, 0);
    CHECK_RC(amount(INT64_MIN, 1, &a), LM_ERANGE);
    CHECK_RC(amount(1000, -1, &a), LM_EINVAL);
}

static int text(const char *s, size_t max)
{
    const char *why;
    return lm_rules_text(s, strlen(s), max, &why);
}

static void test_text(void)
{
    static char long_text[LM_RULES_MAX_LONG_TEXT + 2];
    CHECK_RC(text("Li Guihua 李桂花", 200), 0);
    CHECK_RC(text("", 200), 0);
    CHECK_RC(text("a\tb", 200), LM_EINVAL);
    CHECK_RC(text("a\nmatched 999", 200), LM_EINVAL);
    CHECK_RC(text("a\rb", 200), LM_EINVAL);
    CHECK_RC(text("\x1b[31mred", 200), LM_EINVAL);
    CHECK_RC(text("del\x7f", 200), LM_EINVAL);
    CHECK_RC(text("c1\xc2\x85", 200), LM_EINVAL);       /* U+0085 NEL */
    CHECK_RC(text("c1\xc2\x9b[2J", 200), LM_EINVAL);    /* U+009B CSI */
    CHECK_RC(text("nbsp\xc2\xa0", 200), 0);             /* U+00A0 is text */
    CHECK_RC(text("over\xc0\x80", 200), LM_EINVAL);     /* overlong NUL */
    CHECK_RC(text("over\xe0\x80\xaf", 200), LM_EINVAL); /* overlong '/' */
    CHECK_RC(text("sur\xed\xa0\x80", 200), LM_EINVAL);  /* a surrogate */
    CHECK_RC(text("big\xf4\x90\x80\x80", 200), LM_EINVAL);
    CHECK_RC(text("cut\xe4\xb8", 200), LM_EINVAL);
    CHECK_RC(text("\xf0\x9f\x8c\xbe", 200), 0); /* an emoji, 4 bytes */
    CHECK_RC(lm_rules_text("a\0b", 3, 200, &(const char *){0}), LM_EINVAL);
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[LM_RULES_MAX_SHORT_TEXT] = 0;
    CHECK_RC(text(long_text, LM_RULES_MAX_SHORT_TEXT), 0);
    long_text[LM_RULES_MAX_SHORT_TEXT] = 'x';
    long_text[LM_RULES_MAX_SHORT_TEXT + 1] = 0;
    CHECK_RC(text(long_text, LM_RULES_MAX_SHORT_TEXT), LM_ETOOBIG);
    long_text[LM_RULES_MAX_LONG_TEXT + 1] = 0;
    memset(long_text, 'x', LM_RULES_MAX_LONG_TEXT + 1);
    CHECK_RC(text(long_text, LM_RULES_MAX_LONG_TEXT), LM_ETOOBIG);
}

static int value(const char *t, const char *c, lm_value v)
{
    const char *why = NULL;
    int rc = lm_rules_value(t, c, &v, NOW, &why);
    CHECK(!rc == !why); /* a refusal always says why */
    return rc;
}

static void test_values(void)
{
    CHECK_RC(value("collections", "weight_g", num(1)), 0);
    CHECK_RC(value("collections", "weight_g", num(LM_RULES_MAX_G)), 0);
    CHECK_RC(value("collections", "weight_g", num(LM_RULES_MAX_G + 1)), LM_ERANGE);
    CHECK_RC(value("collections", "weight_g", num(0)), LM_ERANGE);
    CHECK_RC(value("collections", "weight_g", num(INT64_MAX)), LM_ERANGE);
    CHECK_RC(value("collections", "weight_g", num(-1000)), LM_ERANGE);
    CHECK_RC(value("collections", "unit_price_fen", num(LM_RULES_MAX_PRICE_FEN)), 0);
    CHECK_RC(value("collections", "unit_price_fen", num(LM_RULES_MAX_PRICE_FEN + 1)), LM_ERANGE);
    CHECK_RC(value("collections", "amount_fen", num(-180)), LM_ERANGE);
    CHECK_RC(value("adjustments", "delta_weight_g", num(-LM_RULES_MAX_G)), 0);
    CHECK_RC(value("adjustments", "delta_weight_g", num(-LM_RULES_MAX_G - 1)), LM_ERANGE);
    CHECK_RC(value("adjustments", "voided", num(2)), LM_ERANGE);
    CHECK_RC(value("gradings", "moisture_permille", num(1001)), LM_ERANGE);
    CHECK_RC(value("route_stops", "loaded_weight_g", num(-1)), LM_ERANGE);
    /* times: 2020-01-01 .. a day ahead (a planned pickup: 400 days) */
    CHECK_RC(value("collections", "collected_at", num((int64_t)LM_RULES_MIN_TIME_MS)), 0);
    CHECK_RC(value("collections", "collected_at", num((int64_t)LM_RULES_MIN_TIME_MS - 1)),
             LM_ERANGE);
    CHECK_RC(value("collections", "collected_at", num((int64_t)(NOW + LM_RULES_MAX_AHEAD_MS))), 0);
    CHECK_RC(value("collections", "collected_at", num((int64_t)(NOW + LM_RULES_MAX_AHEAD_MS + 1))),
             LM_ERANGE);
    CHECK_RC(value("route_stops", "planned_at", num((int64_t)(NOW + 300 * 86400000ull))), 0);
    CHECK_RC(value("route_stops", "planned_at", num((int64_t)(NOW + 401 * 86400000ull))),
             LM_ERANGE);
    /* text in every text column, named or not */
    CHECK_RC(value("farmers", "name", txt("Li\tSi")), LM_EINVAL);
    CHECK_RC(value("routes", "driver", txt("\x1b]0;x\x07")), LM_EINVAL);
    CHECK_RC(value("collections", "product", txt("=HYPERLINK(\"http://x\",\"click\")")), 0);
    /* coordinates (schema 9): decimal degrees, an integer too, finite */
    CHECK_RC(value("villages", "lat", real(90.0)), 0);
    CHECK_RC(value("villages", "lat", real(-90.0000001)), LM_ERANGE);
    CHECK_RC(value("villages", "lon", real(180.0)), 0);
    CHECK_RC(value("villages", "lon", num(-181)), LM_ERANGE);
    CHECK_RC(value("warehouses", "lat", real(NAN)), LM_ERANGE);
    CHECK_RC(value("warehouses", "lon", real(INFINITY)), LM_ERANGE);
    CHECK_RC(value("warehouses", "lon", num(117)), 0);
    CHECK_RC(value("villages", "name", txt("\xe4\xb8\x8a\xe5\x9d\x9d")), 0); /* CJK */
    lm_value null = {.type = LM_VAL_NULL};
    CHECK_RC(value("collections", "weight_g", null), 0);
    CHECK_RC(value("nosuch", "column", num(-5)), 0);
}

/* ------------------------------------------------------------ the merge */

static lm_change mk(const char *t, const char *pk, const char *col, lm_value v, uint64_t hlc,
                    uint64_t site)
{
    lm_change c = {(char *)t, (char *)pk, (char *)col, v, hlc, site, 0, 0};
    return c;
}

static uint64_t hlc_at(uint64_t ms)
{
    return LM_HLC_MAKE(ms, 1);
}

/* Applies changes as the server applies a PUSH from agent site 2. */
static int push(lm_replica *s, const lm_scope *w, const lm_change *ch, uint32_t n,
                lm_apply_result *res)
{
    lm_apply_ctx ctx = {.writer = w,
                        .origin_site = 2,
                        .ledger_rules = 1,
                        .max_ahead_ms = 120000,
                        .refusals_by = w->user_id};
    return lm_replica_apply(s, ch, n, &ctx, res);
}

/* A collection's cells, with its amount given. */
static uint32_t coll(lm_change *c, const char *id, int64_t w, int64_t p, int64_t a,
                     const char *product, uint64_t h)
{
    uint32_t n = 0;
    c[n++] = mk("collections", id, "agent_id", txt("agent-a"), h, 2);
    c[n++] = mk("collections", id, "farmer_id", txt("f1"), h, 2);
    c[n++] = mk("collections", id, "village", txt("Xiacun"), h, 2);
    c[n++] = mk("collections", id, "product", txt(product), h, 2);
    c[n++] = mk("collections", id, "grade", txt("A"), h, 2);
    c[n++] = mk("collections", id, "weight_g", num(w), h, 2);
    c[n++] = mk("collections", id, "unit_price_fen", num(p), h, 2);
    c[n++] = mk("collections", id, "amount_fen", num(a), h, 2);
    c[n++] = mk("collections", id, "collected_at", num((int64_t)NOW), h, 2);
    return n;
}

static uint32_t adj(lm_change *c, const char *id, int64_t dw, int64_t da, int voided, uint64_t h)
{
    uint32_t n = 0;
    c[n++] = mk("adjustments", id, "collection_id", txt("c1"), h, 2);
    c[n++] = mk("adjustments", id, "delta_weight_g", num(dw), h, 2);
    c[n++] = mk("adjustments", id, "delta_amount_fen", num(da), h, 2);
    c[n++] = mk("adjustments", id, "voided", num(voided), h, 2);
    c[n++] = mk("adjustments", id, "reason", txt("tare"), h, 2);
    return n;
}

/* Applies n changes; returns the refusals' count and checks the first's
 * code when want is not 0. */
static uint32_t refusals(lm_replica *s, const lm_scope *w, const lm_change *c, uint32_t n, int want)
{
    lm_apply_result res;
    CHECK_RC(push(s, w, c, n, &res), LM_OK);
    uint32_t k = res.n_refusals;
    if (want && k)
        CHECK_RC(res.refusals[0].code, want);
    lm_apply_result_clear(&res);
    return k;
}

static void test_merge_rules(void)
{
    uint64_t clock = NOW;
    lm_replica *s = st_open_as("rules_s.db", 1, &clock, 1);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_RC(
        st_exec(s,
                "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Beicun','Other');"
                "INSERT INTO products(code, name, unit) VALUES('potato','Potato','kg');"
                "INSERT INTO grades(code, name, rank) VALUES('A','A',1);"
                "INSERT INTO farmers(id, name, village) VALUES('f1','Li','Xiacun'),"
                " ('f2','Wang','Xiacun');"
                "INSERT INTO routes(id, county, date) VALUES('r1','Wuyuan','2023-11-14'),"
                " ('r2','Other','2023-11-14');"
                "INSERT INTO route_stops(id, route_id, seq, village, agent_id, status)"
                " VALUES('s1','r1',1,'Xiacun','agent-a','planned')"),
        SQLITE_OK);
    lm_change c[16];
    uint64_t h = hlc_at(NOW);
    uint32_t n = coll(c, "c1", 1000, 180, 180, "potato", h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, 0), 0);
    CHECK_EQ_INT(st_int(s, "SELECT amount_fen FROM collections WHERE id='c1'"), 180);

    /* one bad cell refuses the whole new row, every cell with a reason */
    n = coll(c, "c2", 1000, 180, 1000000000000, "potato", h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EINVAL), n);
    n = coll(c, "c3", INT64_MAX, 180, 1, "potato", h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_ERANGE), n);
    n = coll(c, "c4", 1000, 180, 180, "=cmd|' /C calc'!A0", h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_ENOTFOUND), n);
    n = coll(c, "c5", 1000, 180, 180, "potato", h);
    c[1] = mk("collections", "c5", "farmer_id", txt("nobody"), h, 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_ENOTFOUND), n);
    n = coll(c, "c6", 1000, 180, 180, "potato", h) - 1; /* no collected_at */
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EMISSING), n);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM collections"), 1);
    /* the refused rows go back out of the agent's replica: tombstones */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_versions WHERE cid = 0 AND site = 1"), 5);
    /* ... keyed to that agent: no other agent's pull reads them */
    CHECK_EQ_INT(
        st_int(s, "SELECT count(*) FROM lm_versions WHERE cid = 0 AND scope = 'a:agent-a'"), 5);

    /* corrections: the amount from the collection's price, bounds, void */
    n = adj(c, "a1", -500, -90, 0, h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, 0), 0);
    n = adj(c, "a2", -100, -90, 0, h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EINVAL), n);
    n = adj(c, "a3", -600, -108, 0, h); /* 1000 - 500 - 600 < 0 */
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EINVAL), n);
    n = adj(c, "a4", 0, 0, 0, h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EINVAL), n);
    n = adj(c, "a5", 0, 0, 1, h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, 0), 0);
    n = adj(c, "a6", 10, 2, 0, h); /* the collection is void */
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EINVAL), n);

    /* a change to an existing row: bad text refused, the cell repaired */
    c[0] = mk("farmers", "f1", "name", txt("Li\nmatched 999"), h, 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, LM_EINVAL), 1);
    c[0] = mk("farmers", "f1", "name", txt("Li Si"), h, 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, 0), 0);
    /* another device's site in this session's push */
    c[0] = mk("farmers", "f1", "phone", txt("1"), hlc_at(NOW + 1), 3);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, LM_EDENIED), 1);
    /* agents delete no row, not even a farmer of their village */
    c[0] = mk("farmers", "f2", NULL, (lm_value){.type = LM_VAL_NULL}, hlc_at(NOW + 2), 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, LM_EDENIED), 1);
    CHECK_EQ_INT(refusals(s, &hq, c, 1, LM_EDENIED), 1); /* hq deactivates, never erases */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM farmers WHERE id='f2'"), 1);

    /* route stops: agents plan none; a loaded stop is frozen */
    c[0] = mk("route_stops", "s9", "route_id", txt("r2"), h, 2);
    c[1] = mk("route_stops", "s9", "agent_id", txt("agent-a"), h, 2);
    c[2] = mk("route_stops", "s9", "village", txt("Beicun"), h, 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 3, LM_EDENIED), 3);
    c[0] = mk("route_stops", "s8", "route_id", txt("r2"), h, 2);
    c[1] = mk("route_stops", "s8", "agent_id", txt("agent-a"), h, 2);
    c[2] = mk("route_stops", "s8", "village", txt("Beicun"), h, 2);
    CHECK_EQ_INT(refusals(s, &disp, c, 3, LM_ESCOPE), 3); /* another county */
    uint64_t hl = hlc_at(NOW + 10);
    c[0] = mk("route_stops", "s1", "status", txt("loaded"), hl, 2);
    c[1] = mk("route_stops", "s1", "loaded_weight_g", num(100000), hl, 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 2, 0), 0);
    c[0] = mk("route_stops", "s1", "loaded_weight_g", num(999999000), hlc_at(NOW + 20), 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, LM_EIMMUTABLE), 1);
    CHECK_EQ_INT(st_int(s, "SELECT loaded_weight_g FROM route_stops WHERE id='s1'"), 100000);
    c[0] = mk("route_stops", "s1", "loaded_weight_g", num(100000), hl, 2); /* re-sent */
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, 0), 0);
    c[0] = mk("route_stops", "s1", NULL, (lm_value){.type = LM_VAL_NULL}, hlc_at(NOW + 30), 2);
    CHECK_EQ_INT(refusals(s, &disp, c, 1, LM_EIMMUTABLE), 1); /* nor deleted */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM route_stops WHERE id='s1'"), 1);

    /* a version 9 minutes ahead is clamped to the server's clock */
    c[0] = mk("farmers", "f1", "phone", txt("ahead"), hlc_at(NOW + 9 * 60000), 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, 0), 0);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_flags WHERE pk='f1'"), 1);
    CHECK(st_int(s, "SELECT hlc >> 16 FROM lm_versions WHERE pk='f1' AND cid=3") <
          (long long)NOW + 60000);

    /* refusals are counted per user, code, table and reason */
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM lm_refusals"), 0);
    CHECK_EQ_INT(st_int(s, "SELECT n FROM lm_refusal_counts WHERE user='agent-a' AND"
                           " tbl='collections' AND code=-8"),
                 9);
    CHECK_EQ_INT(st_int(s, "SELECT sum(n) FROM lm_refusal_counts"),
                 5 * 9 - 1 + 4 * 5 + 1 + 1 + 2 + 3 + 3 + 2);
    lm_replica_close(s);
}

/* Geography (schema 9) as the server receives it: coordinates within
 * bounds and numbers, a warehouse in a county some village is in, a
 * village or warehouse with its county; only hq (or the server) writes
 * them, and no agent reads warehouses. */
static void test_geography(void)
{
    uint64_t clock = NOW;
    lm_replica *s = st_open_as("geo_s.db", 1, &clock, 1);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_RC(st_exec(s, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan')"), SQLITE_OK);
    lm_change c[4];
    uint64_t h = hlc_at(NOW);
    c[0] = mk("villages", "Xiacun", "lat", real(29.25), h, 2);
    c[1] = mk("villages", "Xiacun", "lon", real(117.85), h, 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 2, 0), 0);
    c[0] = mk("villages", "Xiacun", "lat", real(95.0), hlc_at(NOW + 1), 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 1, LM_ERANGE), 1);
    c[0] = mk("villages", "Xiacun", "lat", txt("north"), hlc_at(NOW + 1), 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 1, LM_ETYPE), 1);
    CHECK(st_int(s, "SELECT lat * 100 FROM villages WHERE name='Xiacun'") == 2925);
    /* a new village needs its county */
    c[0] = mk("villages", "Dongcun", "lat", real(29.0), h, 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 1, LM_EMISSING), 1);
    c[0] = mk("warehouses", "depot", "county", txt("Nowhere"), h, 2);
    c[1] = mk("warehouses", "depot", "lat", real(29.2), h, 2);
    c[2] = mk("warehouses", "depot", "lon", num(117), h, 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 3, LM_ENOTFOUND), 3);
    c[0] = mk("warehouses", "depot", "county", txt("Wuyuan"), h, 2);
    CHECK_EQ_INT(refusals(s, &disp, c, 3, LM_EDENIED), 3);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 3, LM_EDENIED), 3);
    CHECK_EQ_INT(refusals(s, &hq, c, 3, 0), 0);
    CHECK(st_int(s, "SELECT lon FROM warehouses WHERE name='depot'") == 117);
    /* read scopes: the county's dispatcher reads it, no agent does */
    static lm_scope other = {LM_ROLE_DISPATCHER, "disp-2", NULL, 0, "Other"};
    const lm_scope *readers[] = {&disp, &other, &agent_a, &hq};
    const int sees[] = {1, 0, 0, 1};
    for (size_t k = 0; k < 4; k++) {
        lm_change *out = NULL;
        uint32_t got = 0, depot = 0;
        uint64_t next = 0;
        int more = 0;
        CHECK_RC(lm_replica_changes_since(s, 0, readers[k], 0, 1 << 20, &out, &got, &next, &more),
                 LM_OK);
        for (uint32_t i = 0; i < got; i++)
            depot += !strcmp(out[i].table, "warehouses") && out[i].column && out[i].column[0];
        CHECK_EQ_INT(depot > 0, sees[k]);
        lm_changes_free(out, got);
    }
    lm_replica_close(s);
}

/* Schema 12 as the server receives it: a purchase from a farmer hq
 * deactivated is refused when it was made at or after the deactivation
 * (one made before still counts); nobody but the server sets or clears
 * deactivated_at; a receipt's void stays once set. */
static void test_admin(void)
{
    uint64_t clock = NOW;
    lm_replica *s = st_open_as("admin_s.db", 1, &clock, 1);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_RC(st_exec(s, "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan');"
                        "INSERT INTO products(code, name, unit) VALUES('potato','Potato','kg');"
                        "INSERT INTO grades(code, name, rank) VALUES('A','A',1);"
                        "INSERT INTO farmers(id, name, village) VALUES('f1','Li','Xiacun');"
                        "INSERT INTO routes(id, county, date) VALUES('r1','Wuyuan','2023-11-14'),"
                        " ('r2','Wuyuan','2023-11-14');"
                        "INSERT INTO route_stops(id, route_id, seq, village, agent_id, status)"
                        " VALUES('s1','r1',1,'Xiacun','agent-a','loaded'),"
                        " ('s2','r2',1,'Xiacun','agent-a','planned');"
                        "INSERT INTO receipts(id, route_id, product, grade, weight_g)"
                        " VALUES('k1','r1','potato','A',5000)"),
             SQLITE_OK);
    lm_change c[16];
    uint64_t h = hlc_at(NOW);
    /* deactivated 1 s after NOW: a purchase collected at NOW still counts */
    CHECK_RC(st_exec(s, "UPDATE farmers SET deactivated_at = 1700000001000 WHERE id = 'f1'"),
             SQLITE_OK);
    uint32_t n = coll(c, "c1", 1000, 180, 180, "potato", h);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, 0), 0);
    n = coll(c, "c2", 1000, 180, 180, "potato", hlc_at(NOW + 5000));
    c[8] = mk("collections", "c2", "collected_at", num((int64_t)NOW + 1000), hlc_at(NOW + 5000), 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, n, LM_EDENIED), n);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM collections"), 1);
    /* the column is the server's: an agent or a remote hq neither clears nor sets it */
    c[0] = mk("farmers", "f1", "deactivated_at", (lm_value){.type = LM_VAL_NULL},
              hlc_at(NOW + 6000), 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, LM_EOWNER), 1);
    CHECK_EQ_INT(refusals(s, &hq, c, 1, LM_EOWNER), 1);
    CHECK_RC(st_exec(s, "INSERT INTO farmers(id, name, village) VALUES('f2','Wang','Xiacun')"),
             SQLITE_OK);
    c[0] = mk("farmers", "f2", "deactivated_at", num((int64_t)NOW), hlc_at(NOW + 7000), 2);
    CHECK_EQ_INT(refusals(s, &agent_a, c, 1, LM_EOWNER), 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM farmers WHERE deactivated_at IS NULL"), 1);
    /* a receipt's void: set once, then it stays */
    c[0] = mk("receipts", "k1", "voided_at", num((int64_t)NOW), hlc_at(NOW + 8000), 2);
    c[1] = mk("receipts", "k1", "void_reason", txt("counted twice"), hlc_at(NOW + 8000), 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 2, 0), 0);
    c[0] =
        mk("receipts", "k1", "voided_at", (lm_value){.type = LM_VAL_NULL}, hlc_at(NOW + 9000), 2);
    CHECK_EQ_INT(refusals(s, &hq, c, 1, LM_EIMMUTABLE), 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM receipts WHERE voided_at IS NOT NULL"), 1);
    /* a route with a loaded stop is not cancelled; one without is, for good */
    c[0] = mk("routes", "r1", "status", txt("cancelled"), hlc_at(NOW + 10000), 2);
    CHECK_EQ_INT(refusals(s, &disp, c, 1, LM_EIMMUTABLE), 1);
    c[0] = mk("routes", "r2", "status", txt("cancelled"), hlc_at(NOW + 10000), 2);
    CHECK_EQ_INT(refusals(s, &disp, c, 1, 0), 0);
    c[0] = mk("routes", "r2", "status", txt("done"), hlc_at(NOW + 11000), 2);
    CHECK_EQ_INT(refusals(s, &disp, c, 1, LM_EMONOTONIC), 1);
    CHECK_EQ_INT(st_int(s, "SELECT count(*) FROM routes WHERE status = 'cancelled'"), 1);
    lm_replica_close(s);
}

int main(void)
{
    st_mkdir("rules");
    test_amount();
    test_text();
    test_values();
    test_merge_rules();
    test_geography();
    test_admin();
    st_rmdir();
    return lm_test_done("sync_rules");
}
