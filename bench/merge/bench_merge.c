/*
 * bench_merge.c — how fast the server replica merges pushed collection
 * records, against a raw SQLite bulk insert of the same rows in the same
 * run, and how many bytes of change log each record costs.
 *
 * An agent replica records N collections with plain SQL (captured by the
 * triggers); its pending changes are cut into batches of about 500 records
 * and applied to a server replica with lm_replica_apply (agent writer
 * scope, watermark, received_at), one transaction per batch, as a PUSH
 * would (the batches are cut before the clock starts: a server gets them
 * decoded, and cutting touched 50 MB of change structs for the first time,
 * ~10% of the merge time on this box). The raw baseline inserts the same
 * rows with one prepared INSERT into an identical table without triggers,
 * in one transaction, with the same journal settings (WAL,
 * synchronous=NORMAL).
 *
 * Usage: bench_merge [--batch R] [records]   (defaults: 500, 20000)
 * A client's PUSH grows to 768 KiB, about 1,000 of these records; --batch
 * shows how the merge fares with smaller batches.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lm_sync.h"

static uint32_t batch_records = 500;

/* Process CPU time: the machine running CI (or this bench) is shared, so
 * wall time mostly measures the neighbours; CPU time measures us. Wall time
 * is printed beside it. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double raw_wall;

static int exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_merge: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static long long count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Bytes of the named b-trees (tables and indexes) from dbstat. */
static long long btree_bytes(sqlite3 *db, const char *like)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, "SELECT sum(pgsize) FROM dbstat WHERE name LIKE ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Site 1 is the server: it keeps scope keys, as lastmile-server does. */
static lm_replica *open_replica(const char *path, uint64_t site)
{
    lm_replica_options o = {.create = 1, .site = site, .scope_keys = site == 1};
    lm_replica *r = NULL;
    char err[256];
    int rc = lm_replica_open(path, &o, &r, err, sizeof err);
    if (rc)
        fprintf(stderr, "bench_merge: open %s: %s %s\n", path, lm_errname(rc), err);
    return r;
}

/* The agent's day: N collections by one agent in its two villages. */
static int record_collections(lm_replica *a, int n)
{
    sqlite3 *db = lm_replica_db(a);
    sqlite3_stmt *st = NULL;
    if (exec(db, "BEGIN") ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO collections(id,agent_id,farmer_id,village,product,grade,"
                           "weight_g,unit_price_fen,amount_fen,collected_at,note)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    srand(7);
    for (int i = 0; i < n; i++) {
        char id[LM_ID_SIZE], farmer[32];
        if (lm_replica_new_id(a, id))
            return -1;
        snprintf(farmer, sizeof farmer, "F%05d", rand() % 3000);
        long w = 500 + rand() % 60000, price = 300 + rand() % 700;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, "agent-7", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, farmer, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, i % 3 ? "Xiacun" : "Shangcun", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, i % 5 ? "apple" : "pear", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, i % 4 ? "A" : "B", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, w);
        sqlite3_bind_int64(st, 8, price);
        sqlite3_bind_int64(st, 9, (w * price + 500) / 1000);
        sqlite3_bind_int64(st, 10, 1790000000000ll + i * 60000ll);
        if (i % 4 == 0)
            sqlite3_bind_text(st, 11, "wet, re-weighed", -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 11);
        if (sqlite3_step(st) != SQLITE_DONE)
            return -1;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return exec(db, "COMMIT");
}

/* The raw baseline: the same rows from the agent's table into a plain
 * copy of it, prepared INSERT, one transaction. Returns seconds. */
static double raw_insert(const char *path, lm_replica *a)
{
    sqlite3 *raw = NULL;
    sqlite3_stmt *in = NULL, *out = NULL;
    double t = -1;
    unlink(path);
    if (sqlite3_open(path, &raw) != SQLITE_OK ||
        exec(raw, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                  "CREATE TABLE collections(id TEXT PRIMARY KEY NOT NULL, agent_id TEXT,"
                  " farmer_id TEXT, village TEXT, product TEXT, grade TEXT, weight_g INTEGER,"
                  " unit_price_fen INTEGER, amount_fen INTEGER, collected_at INTEGER,"
                  " received_at INTEGER, note TEXT)"))
        goto done;
    if (sqlite3_prepare_v2(lm_replica_db(a), "SELECT * FROM collections ORDER BY id", -1, &in,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(raw, "INSERT INTO collections VALUES(?,?,?,?,?,?,?,?,?,?,?,?)", -1, &out,
                           NULL) != SQLITE_OK)
        goto done;
    /* rows are read first so only the insert is timed */
    sqlite3_value **rows = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(in) == SQLITE_ROW) {
        if (n + 12 > cap) {
            cap = cap ? cap * 2 : 1200;
            rows = realloc(rows, cap * sizeof *rows);
            if (!rows)
                goto done;
        }
        for (int c = 0; c < 12; c++)
            rows[n++] = sqlite3_value_dup(sqlite3_column_value(in, c));
    }
    double t0 = cpu_s(), w0 = wall_s();
    if (exec(raw, "BEGIN"))
        goto done;
    for (size_t i = 0; i < n; i += 12) {
        for (int c = 0; c < 12; c++)
            sqlite3_bind_value(out, c + 1, rows[i + (size_t)c]);
        if (sqlite3_step(out) != SQLITE_DONE)
            goto done;
        sqlite3_reset(out);
    }
    if (exec(raw, "COMMIT"))
        goto done;
    t = cpu_s() - t0;
    raw_wall = wall_s() - w0;
    for (size_t i = 0; i < n; i++)
        sqlite3_value_free(rows[i]);
    free(rows);
done:
    sqlite3_finalize(in);
    sqlite3_finalize(out);
    sqlite3_close(raw);
    unlink(path);
    return t;
}

int main(int argc, char **argv)
{
    int n = 20000, br = 500;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_merge [--batch R] [records]\n"
                   "  records   collection records pushed (default 20000)\n"
                   "  --batch R records per pushed batch (default 500)\n");
            return 0;
        }
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            br = atoi(argv[++i]);
        else
            n = atoi(argv[i]);
        if (n < 1 || br < 1) {
            fprintf(stderr, "usage: bench_merge [--batch R] [records]\n");
            return 2;
        }
    }
    batch_records = (uint32_t)br;
    if (n < br)
        n = br;
    char dir[64];
    snprintf(dir, sizeof dir, "%s/lm_bench_merge_XXXXXX",
             getenv("LM_BENCH_DIR") ? getenv("LM_BENCH_DIR") : "/tmp");
    char pa[128], ps[128], pr[128];
    if (!mkdtemp(dir))
        return 1;
    snprintf(pa, sizeof pa, "%s/agent.db", dir);
    snprintf(ps, sizeof ps, "%s/server.db", dir);
    snprintf(pr, sizeof pr, "%s/raw.db", dir);
    int rc = 1;
    lm_replica *a = open_replica(pa, 7), *s = open_replica(ps, 1);
    lm_change *ch = NULL;
    uint32_t nch = 0, *ends = NULL, n_ends = 0;
    uint64_t upto = 0;
    if (!a || !s || record_collections(a, n) ||
        exec(lm_replica_db(s), "INSERT INTO villages(name, county) VALUES('Xiacun','Wuyuan'),"
                               "('Shangcun','Wuyuan')") ||
        lm_replica_local_changes(a, 0, (size_t)1 << 40, &ch, &nch, &upto))
        goto done;
    long long log0 = btree_bytes(lm_replica_db(s), "lm_versions%");
    long long vrows0 = count_rows(lm_replica_db(s), "SELECT count(*) FROM lm_versions");

    static const char *const vil[] = {"Xiacun", "Shangcun"};
    lm_scope agent = {LM_ROLE_AGENT, "agent-7", vil, 2, NULL};
    /* batch_records per batch, cut between rows like a PUSH; cut before
     * the clock starts (a server gets its batches decoded, not cut) */
    ends = malloc(((size_t)nch / batch_records + 2) * sizeof *ends);
    if (!ends)
        goto done;
    for (uint32_t start = 0; start < nch;) {
        uint32_t end = start, rows = 0;
        while (end < nch) {
            if (end == start || strcmp(ch[end].pk, ch[end - 1].pk)) {
                if (rows == batch_records)
                    break;
                rows++;
            }
            end++;
        }
        ends[n_ends++] = end;
        start = end;
    }
    double t0 = cpu_s(), w0 = wall_s();
    uint32_t applied = 0, batches = 0;
    for (uint32_t start = 0; start < nch;) {
        uint32_t end = ends[batches];
        lm_apply_ctx ctx = {.writer = &agent,
                            .origin_site = 7,
                            .origin_upto_seq = ch[end - 1].seq,
                            .received_at_ms = 1790000000000ull};
        lm_apply_result res;
        if (lm_replica_apply(s, ch + start, end - start, &ctx, &res)) {
            fprintf(stderr, "bench_merge: apply: %s\n", lm_replica_errmsg(s));
            goto done;
        }
        applied += res.applied;
        if (res.n_refusals)
            fprintf(stderr, "bench_merge: %u refusals\n", res.n_refusals);
        lm_apply_result_clear(&res);
        start = end;
        batches++;
    }
    double t_merge = cpu_s() - t0, w_merge = wall_s() - w0;
    free(ends);
    ends = NULL;
    double t_raw = raw_insert(pr, a);
    if (t_raw <= 0)
        goto done;
    long long log1 = btree_bytes(lm_replica_db(s), "lm_versions%");
    long long rows_b = btree_bytes(lm_replica_db(s), "collections") +
                       btree_bytes(lm_replica_db(s), "sqlite_autoindex_collections%");
    uint64_t stored = (uint64_t)n * 11; /* 10 pushed cells + received_at */
    long long vrows = count_rows(lm_replica_db(s), "SELECT count(*) FROM lm_versions") - vrows0;
    printf("bench_merge: %d collection records, %u changes in %u batches (~%u records each)\n", n,
           nch, batches, batch_records);
    printf("merge (lm_replica_apply): %.3f s cpu (%.3f s wall), %.0f changes/s, %.0f records/s"
           " (%u applied)\n",
           t_merge, w_merge, nch / t_merge, n / t_merge, applied);
    printf("raw SQLite bulk insert:   %.3f s cpu (%.3f s wall), %.0f records/s\n", t_raw, raw_wall,
           n / t_raw);
    printf("ratio merge/raw: %.2fx cpu, %.2fx wall (target <= 3x)\n", t_merge / t_raw,
           w_merge / raw_wall);
    printf("change log (lm_versions + indexes): %.1f bytes per collection record"
           " (%lld version rows for %llu cell versions; the row itself takes %.1f bytes)\n",
           (double)(log1 - log0) / n, vrows, (unsigned long long)stored, (double)rows_b / n);
    rc = 0;
done:
    free(ends);
    lm_changes_free(ch, nch);
    lm_replica_close(a);
    lm_replica_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_merge: could not remove %s\n", dir);
    return rc;
}
