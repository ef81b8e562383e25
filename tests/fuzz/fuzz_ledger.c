/*
 * fuzz_ledger.c — libFuzzer target for the server's validation of received
 * changes (lm_apply_ctx.ledger_rules, sync/src/rules.c and the merge): the
 * input is a batch of changes from an agent or a dispatcher, applied to
 * a server replica with a small catalog, as a PUSH is. Besides "no crash,
 * no leak, no UB", the batch must apply (a refusal is an answer, not an
 * error), every refusal must say why, and afterwards the ledger must still
 * be true: every collection within bounds with its amount equal to weight
 * × price / 1000 rounded half up and its references present, every
 * farmer's name clean text, the loaded stop's 100 kg untouched.
 *
 * Input: byte 0 picks the writer (the roles the server trusts least); then per change a table, a
 * key from a small pool (rows that exist and rows that do not), a column (0: a row delete), a value
 * (NULL, an integer near a bound, raw or dictionary text), a clock lead (up to 42 minutes) and the
 * site (the pusher's, mostly).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lm_rules.h"
#include "sync_internal.h"

#define NOW UINT64_C(1700000000000)
#define MAX_CHANGES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static lm_replica *server;
static char dir[64] = "/tmp/lm_fuzz_ledger_XXXXXX";

static uint64_t fixed_now(void *ud)
{
    (void)ud;
    return NOW;
}

static void cleanup(void)
{
    char path[128];
    lm_replica_close(server);
    const char *files[] = {"s.db", "s.db-wal", "s.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char path[128], err[256];
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/s.db", dir);
    lm_replica_options o = {.create = 1, .site = 1, .now_ms = fixed_now, .scope_keys = 1};
    if (lm_replica_open(path, &o, &server, err, sizeof err) != LM_OK)
        abort();
    lm_replica_set_durable(server, 0); /* nothing here needs to survive a power cut */
    atexit(cleanup);
    const char *seed =
        "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),('Beicun','Other');"
        "INSERT INTO products(code, name, unit) VALUES('potato','Potato','kg');"
        "INSERT INTO grades(code, name, rank) VALUES('A','A',1);"
        "INSERT INTO farmers(id, name, village) VALUES('f1','Li','Xiacun');"
        "INSERT INTO collections(id, agent_id, farmer_id, village, product, grade, weight_g,"
        " unit_price_fen, amount_fen, collected_at) VALUES('c1','agent-a','f1','Xiacun',"
        " 'potato','A',1000,180,180,1700000000000);"
        "INSERT INTO routes(id, county, date) VALUES('r1','Wuyuan','2023-11-14');"
        "INSERT INTO route_stops(id, route_id, seq, village, agent_id, status, loaded_weight_g)"
        " VALUES('s1','r1',1,'Xiacun','agent-a','loaded',100000)";
    if (sqlite3_exec(lm_replica_db(server), seed, NULL, NULL, NULL) != SQLITE_OK)
        abort();
    return 0;
}

static const char *const villages[] = {"Xiacun"};
static const lm_scope writers[] = {
    {LM_ROLE_AGENT, "agent-a", villages, 1, NULL},
    {LM_ROLE_DISPATCHER, "disp-1", NULL, 0, "Wuyuan"},
};
static const char *const keys[] = {"c1", "f1", "s1", "r1", "n1", "n2", "Xiacun", "potato", "A"};
static const char *const words[] = {"Xiacun", "Beicun", "potato", "A",       "f1",     "c1",
                                    "r1",     "s1",     "loaded", "agent-a", "Wuyuan", "=1+1"};
static const int64_t numbers[] = {0,         1,         -1,           180,
                                  1000,      999,       500,          -90,
                                  10000,     100000,    1000000000,   1000000001,
                                  INT64_MAX, INT64_MIN, (int64_t)NOW, (int64_t)NOW + 86400001};

typedef struct cursor {
    const uint8_t *p;
    size_t n;
} cursor;

static unsigned next(cursor *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

/* One change from the input; text points into the input or a dictionary. */
static void read_change(cursor *in, lm_change *c, uint64_t site)
{
    int tid = 1 + (int)(next(in) % LM__N_TABLES);
    const lm__table_def *t = &lm__tables[tid - 1];
    memset(c, 0, sizeof *c);
    c->table = (char *)t->name;
    c->pk = (char *)keys[next(in) % (sizeof keys / sizeof keys[0])];
    int cid = (int)(next(in) % (unsigned)(t->n_cols + 1));
    c->column = cid ? (char *)t->cols[cid - 1].name : NULL;
    unsigned kind = cid ? next(in) % 4 : 0;
    if (kind == 1) {
        c->value.type = LM_VAL_INTEGER;
        c->value.i = numbers[next(in) % (sizeof numbers / sizeof numbers[0])];
    } else if (kind == 2) {
        const char *w = words[next(in) % (sizeof words / sizeof words[0])];
        c->value = (lm_value){.type = LM_VAL_TEXT, .bytes = (uint8_t *)w, .len = strlen(w)};
    } else if (kind == 3) {
        size_t len = next(in) % 48;
        if (len > in->n)
            len = in->n;
        c->value = (lm_value){.type = LM_VAL_TEXT, .bytes = (uint8_t *)in->p, .len = len};
        in->p += len;
        in->n -= len;
    }
    c->hlc = LM_HLC_MAKE(NOW + next(in) * 10000u, 1);
    c->site = next(in) % 8 == 7 ? site + 1 : site;
}

static void check_ledger(void)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(lm_replica_db(server),
                           "SELECT weight_g, unit_price_fen, amount_fen,"
                           " (SELECT count(*) FROM farmers f WHERE f.id = farmer_id),"
                           " (SELECT count(*) FROM products p WHERE p.code = product)"
                           " FROM collections",
                           -1, &st, NULL) != SQLITE_OK)
        abort();
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t w = sqlite3_column_int64(st, 0), p = sqlite3_column_int64(st, 1), a;
        if (w < 1 || w > LM_RULES_MAX_G || p < 1 || p > LM_RULES_MAX_PRICE_FEN ||
            lm_rules_amount_fen(w, p, &a) || a != sqlite3_column_int64(st, 2) ||
            sqlite3_column_int(st, 3) != 1 || sqlite3_column_int(st, 4) != 1)
            abort();
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(lm_replica_db(server), "SELECT name FROM farmers", -1, &st, NULL) !=
        SQLITE_OK)
        abort();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *why;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (name &&
            lm_rules_text(name, (size_t)sqlite3_column_bytes(st, 0), LM_RULES_MAX_SHORT_TEXT, &why))
            abort();
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(lm_replica_db(server),
                           "SELECT loaded_weight_g FROM route_stops WHERE id = 's1'", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != 100000)
        abort();
    sqlite3_finalize(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cursor in = {data, size};
    const lm_scope *w = &writers[next(&in) % 2];
    lm_change ch[MAX_CHANGES];
    uint32_t n = 0;
    while (in.n && n < MAX_CHANGES)
        read_change(&in, &ch[n++], 2);
    lm_apply_ctx ctx = {.writer = w,
                        .origin_site = 2,
                        .ledger_rules = 1,
                        .max_ahead_ms = 120000,
                        .refusals_by = w->user_id};
    lm_apply_result res;
    if (lm_replica_apply(server, ch, n, &ctx, &res) != LM_OK)
        abort();
    for (uint32_t i = 0; i < res.n_refusals; i++)
        if (!res.refusals[i].reason || !res.refusals[i].reason[0] || res.refusals[i].code >= 0)
            abort();
    lm_apply_result_clear(&res);
    check_ledger();
    return 0;
}
