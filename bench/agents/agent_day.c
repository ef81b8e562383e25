/*
 * agent_day.c — an agent's farmers and one day of purchases, written as the
 * CLI writes them (plain SQL through lm_replica_db). Batched in one
 * transaction per call because the benchmark measures syncing, not 600
 * separate CLI invocations; the captured changes are the same.
 */
#include "agent_day.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "bench_common.h"

#define CST_OFFSET_MS (8 * 3600 * 1000ull)
#define DAY_MS (24 * 3600 * 1000ull)

typedef struct price_row {
    char product[32];
    char grade[8];
    int64_t fen;
} price_row;

static const char *const notes[] = {"部分有虫眼", "雨后采收",   "已预付定金",   "农户自送",
                                    "重量已复核", "re-weighed", "bags returned"};
static const char *const defects[] = {"bruised", "small size", "insect damage", "mixed grades"};

/* Reads up to cap rows of the synced price list; the number read, or -1. */
static int load_prices(sqlite3 *db, price_row *rows, int cap)
{
    sqlite3_stmt *st = NULL;
    int n = 0, s;
    if (sqlite3_prepare_v2(db, "SELECT product, grade, price_fen FROM prices ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    while (n < cap && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(st, 0);
        const char *g = (const char *)sqlite3_column_text(st, 1);
        snprintf(rows[n].product, sizeof rows[n].product, "%s", p ? p : "");
        snprintf(rows[n].grade, sizeof rows[n].grade, "%s", g ? g : "");
        rows[n].fen = sqlite3_column_int64(st, 2);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

/* Log-normal weight around 25 kg, clipped to 0.5..200 kg, like the peer's
 * record generator. */
static int64_t draw_weight_g(lm_bench_rng *g)
{
    double u = lm_bench_rng_unit(g), v = lm_bench_rng_unit(g);
    double z = sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
    double w = exp(log(25000.0) + z);
    if (w < 500.0)
        w = 500.0;
    if (w > 200000.0)
        w = 200000.0;
    return (int64_t)(w + 0.5);
}

int lm_bench_farmers(lm_replica *r, const char *user, const char *village, uint64_t seed, size_t n,
                     char *ids)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    lm_bench_rng g = {seed};
    uint64_t now = lm_bench_wall_ms();
    if (lm_bench_exec(db, "BEGIN IMMEDIATE") != LM_OK)
        return LM_EDB;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO farmers (id, name, village, phone, registered_poor, "
                           "household_id, created_by, created_at) VALUES (?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    for (size_t i = 0; i < n; i++) {
        char *id = ids + i * LM_ID_SIZE, name[64], phone[16], household[32];
        int poor = lm_bench_rng_below(&g, 10) < 3;
        if (lm_replica_new_id(r, id) != LM_OK) {
            fprintf(stderr, "bench_agents: new id: %s\n", lm_replica_errmsg(r));
            goto fail_tx;
        }
        snprintf(name, sizeof name, "农户 %s-%03zu", village, i);
        snprintf(phone, sizeof phone, "1%010llu",
                 (unsigned long long)lm_bench_rng_below(&g, 10000000000ull));
        snprintf(household, sizeof household, "HH-%06llu",
                 (unsigned long long)lm_bench_rng_below(&g, 1000000));
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, village, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, phone, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, poor);
        if (poor)
            sqlite3_bind_text(st, 6, household, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 6);
        sqlite3_bind_text(st, 7, user, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)now);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail_db;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return lm_bench_exec(db, "COMMIT");

fail_db:
    fprintf(stderr, "bench_agents: farmers: %s\n", sqlite3_errmsg(db));
fail_tx:
    sqlite3_finalize(st);
    lm_bench_exec(db, "ROLLBACK");
    return LM_EDB;
}

/* Inserts one grading of collection cid. */
static int insert_grading(lm_replica *r, sqlite3_stmt *st, lm_bench_rng *g, const char *cid,
                          const char *grade, const char *user, uint64_t at)
{
    char id[LM_ID_SIZE];
    if (lm_replica_new_id(r, id) != LM_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, 80 + (sqlite3_int64)lm_bench_rng_below(g, 140));
    if (lm_bench_rng_below(g, 5) == 0)
        sqlite3_bind_text(st, 5, defects[lm_bench_rng_below(g, 4)], -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)at);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    return s == SQLITE_DONE ? LM_OK : LM_EDB;
}

int lm_bench_day(lm_replica *r, const char *user, const char *village, uint64_t seed,
                 const char *farmer_ids, size_t n_farmers, size_t n)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *ins = NULL, *grd = NULL;
    lm_bench_rng g = {seed};
    price_row prices[64];
    int n_prices = load_prices(db, prices, 64);
    if (n_prices <= 0 || n_farmers == 0) {
        fprintf(stderr, "bench_agents: %s: no price list or farmers on the replica\n", user);
        return LM_ENOTFOUND;
    }
    /* Midnight of today in China Standard Time, as ms since the epoch. */
    uint64_t now = lm_bench_wall_ms();
    uint64_t day0 = (now + CST_OFFSET_MS) / DAY_MS * DAY_MS - CST_OFFSET_MS;
    if (lm_bench_exec(db, "BEGIN IMMEDIATE") != LM_OK)
        return LM_EDB;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO collections (id, agent_id, farmer_id, village, product, "
                           "grade, weight_g, unit_price_fen, amount_fen, collected_at, note) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO gradings (id, collection_id, grade, moisture_permille, "
                           "defects, graded_by, graded_at) VALUES (?,?,?,?,?,?,?)",
                           -1, &grd, NULL) != SQLITE_OK)
        goto fail_db;
    for (size_t i = 0; i < n; i++) {
        char id[LM_ID_SIZE];
        const price_row *p = &prices[lm_bench_rng_below(&g, (uint64_t)n_prices)];
        int64_t w = draw_weight_g(&g);
        int64_t amount = (w * p->fen + 500) / 1000;
        /* Purchases in order through the day, 06:00 to 20:00. */
        uint64_t at = day0 + 6 * 3600 * 1000ull + (uint64_t)i * (14 * 3600 * 1000ull) / n +
                      lm_bench_rng_below(&g, 60000);
        if (lm_replica_new_id(r, id) != LM_OK)
            goto fail_db;
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, farmer_ids + lm_bench_rng_below(&g, n_farmers) * LM_ID_SIZE, -1,
                          SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, village, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, p->product, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, p->grade, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 7, w);
        sqlite3_bind_int64(ins, 8, p->fen);
        sqlite3_bind_int64(ins, 9, amount);
        sqlite3_bind_int64(ins, 10, (sqlite3_int64)at);
        if (lm_bench_rng_below(&g, 10) == 0)
            sqlite3_bind_text(ins, 11, notes[lm_bench_rng_below(&g, 7)], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 11);
        if (sqlite3_step(ins) != SQLITE_DONE)
            goto fail_db;
        sqlite3_reset(ins);
        if (insert_grading(r, grd, &g, id, p->grade, user, at + 120000) != LM_OK)
            goto fail_db;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(grd);
    return lm_bench_exec(db, "COMMIT");

fail_db:
    fprintf(stderr, "bench_agents: day of %s: %s\n", user, sqlite3_errmsg(db));
    sqlite3_finalize(ins);
    sqlite3_finalize(grd);
    lm_bench_exec(db, "ROLLBACK");
    return LM_EDB;
}
