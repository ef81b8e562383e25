/*
 * scenario_records.c — `bench_agents records`: one replica pushes the peer
 * benchmark's N records (generate.py JSONL) as collections in one timed
 * sync session.
 *
 * The records carry 200 different agent_ids in 50 villages that are not in
 * the starter catalog, and an agent may only write its own collections in
 * its villages. So the pushing user is an hq user (hq may write every
 * table): its replica first adds the records' villages and products to the
 * catalog and syncs (untimed), then loads the records with plain SQL
 * (untimed, reported), then runs the timed session. Farmers are not
 * registered: collections reference farmer ids as text and the server does
 * not require the farmer row.
 *
 * Before the timed sync it also measures where the bytes of a PUSH go: it
 * encodes the first batch of pending changes as the client would and again
 * with the version fields zeroed, raw and deflated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "bench_common.h"
#include "records.h"

static const char usage[] =
    "usage: bench_agents records --server HOST:PORT --user HQ --key HEX --db PATH\n"
    "                            --records FILE.jsonl [--label TEXT]\n";

#define MAX_NAMES 256

/* Adds s to the set names[0..*n) unless present. */
static void name_add(char names[][48], size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(names[i], s))
            return;
    if (*n < MAX_NAMES)
        snprintf(names[(*n)++], 48, "%s", s);
}

/* Catalog rows the records need, as hq writes; then an untimed sync. */
static int add_catalog(lm_replica *r, const lm_bench_record *recs, size_t n)
{
    static char villages[MAX_NAMES][48], products[MAX_NAMES][48];
    size_t nv = 0, np = 0;
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *v = NULL, *p = NULL;
    for (size_t i = 0; i < n; i++) {
        name_add(villages, &nv, recs[i].village);
        name_add(products, &np, recs[i].product);
    }
    if (lm_bench_exec(db, "BEGIN") != LM_OK)
        return LM_EDB;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO villages (name, county) VALUES (?, 'bench')",
                           -1, &v, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO products (code, name, unit) VALUES (?,?,'kg')",
                           -1, &p, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < nv; i++) {
        sqlite3_bind_text(v, 1, villages[i], -1, SQLITE_STATIC);
        if (sqlite3_step(v) != SQLITE_DONE)
            goto fail;
        sqlite3_reset(v);
    }
    for (size_t i = 0; i < np; i++) {
        sqlite3_bind_text(p, 1, products[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(p, 2, products[i], -1, SQLITE_STATIC);
        if (sqlite3_step(p) != SQLITE_DONE)
            goto fail;
        sqlite3_reset(p);
    }
    sqlite3_finalize(v);
    sqlite3_finalize(p);
    return lm_bench_exec(db, "COMMIT");

fail:
    fprintf(stderr, "bench_agents: catalog: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(v);
    sqlite3_finalize(p);
    lm_bench_exec(db, "ROLLBACK");
    return LM_EDB;
}

/* The records as collections, one transaction, as `lastmile collect` writes
 * them (amount_fen = weight x price / 1000 rounded half up). */
static int load_records(lm_replica *r, const lm_bench_record *recs, size_t n)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    if (lm_bench_exec(db, "BEGIN") != LM_OK)
        return LM_EDB;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO collections (id, agent_id, farmer_id, village, product, "
                           "grade, weight_g, unit_price_fen, amount_fen, collected_at, note) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const lm_bench_record *c = &recs[i];
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c->agent_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->farmer_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->village, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, c->product, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, c->grade, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, c->weight_g);
        sqlite3_bind_int64(st, 8, c->unit_price_fen);
        sqlite3_bind_int64(st, 9, (c->weight_g * c->unit_price_fen + 500) / 1000);
        sqlite3_bind_int64(st, 10, c->collected_at_ms);
        if (c->note[0])
            sqlite3_bind_text(st, 11, c->note, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 11);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto fail;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return lm_bench_exec(db, "COMMIT");

fail:
    fprintf(stderr, "bench_agents: load: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    lm_bench_exec(db, "ROLLBACK");
    return LM_EDB;
}

/* Encoded size of a PUSH of changes[0..n): raw payload and deflated frame. */
static int push_sizes(lm_change *changes, uint32_t n, uint64_t upto, size_t *raw, size_t *framed)
{
    lm_msg m;
    lm_buf b;
    memset(&m, 0, sizeof m);
    m.type = LM_MSG_PUSH;
    m.u.push.upto_seq = upto;
    m.u.push.changes = changes;
    m.u.push.n_changes = n;
    lm_buf_init(&b);
    int rc = lm_msg_encode(&m, &b);
    *raw = b.len;
    lm_buf_reset(&b);
    if (rc == LM_OK)
        rc = lm_msg_encode_frame(&m, &b, 512, 8u << 20);
    *framed = b.len;
    lm_buf_close(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Distinct primary keys among changes[0..n) (the batch's rows); 0 on OOM. */
static size_t count_rows(const lm_change *c, uint32_t n)
{
    char **pks = lm_calloc(n, sizeof *pks);
    size_t rows = 0;
    if (!pks)
        return 0;
    for (uint32_t i = 0; i < n; i++)
        pks[i] = c[i].pk;
    qsort(pks, n, sizeof *pks, cmp_str);
    for (uint32_t i = 0; i < n; i++)
        if (i == 0 || strcmp(pks[i], pks[i - 1]) != 0)
            rows++;
    lm_free(pks);
    return rows;
}

/* Where the bytes go: the first batch of the client's largest budget as
 * sent, then without versions (hlc, prev_hlc, site, seq zeroed), then also
 * without the repeated table/column names (one-letter names). */
static void byte_breakdown(lm_replica *r, const char *label)
{
    lm_change *c = NULL;
    uint32_t n = 0;
    uint64_t upto = 0;
    size_t raw[3] = {0}, framed[3] = {0};
    uint64_t acked = 0;
    /* After what the catalog sync already pushed: only the records. */
    if (lm_replica_push_acked_seq(r, &acked) != LM_OK ||
        lm_replica_local_changes(r, acked, LM_SYNC_PUSH_BUDGET_MAX, &c, &n, &upto) != LM_OK ||
        n == 0 || count_rows(c, n) == 0) {
        fprintf(stderr, "bench_agents: breakdown: %s\n", lm_replica_errmsg(r));
        goto done;
    }
    size_t rows = count_rows(c, n);
    int rc = push_sizes(c, n, upto, &raw[0], &framed[0]);
    for (uint32_t i = 0; i < n; i++)
        c[i].hlc = c[i].prev_hlc = c[i].site = c[i].seq = 0;
    if (rc == LM_OK)
        rc = push_sizes(c, n, upto, &raw[1], &framed[1]);
    for (uint32_t i = 0; i < n && rc == LM_OK; i++) {
        /* Shortened in place: the strings only get shorter and are freed
         * by lm_changes_free as usual. */
        c[i].table[1] = '\0';
        c[i].column[1] = '\0';
    }
    if (rc == LM_OK)
        rc = push_sizes(c, n, upto, &raw[2], &framed[2]);
    if (rc != LM_OK) {
        fprintf(stderr, "bench_agents: breakdown: encode: %s\n", lm_strerror(rc));
        goto done;
    }
    double k = (double)rows;
    printf("%s: first PUSH batch: %u changes for %zu rows (%.1f changes/row)\n", label, n, rows,
           (double)n / k);
    printf("%s: per row  as sent: %.1f B msgpack, %.1f B deflated | versions zeroed: %.1f / "
           "%.1f | also 1-char table/column names: %.1f / %.1f\n",
           label, (double)raw[0] / k, (double)framed[0] / k, (double)raw[1] / k,
           (double)framed[1] / k, (double)raw[2] / k, (double)framed[2] / k);
    printf("BREAKDOWN scenario=%s changes=%u rows=%zu raw=%.1f deflated=%.1f raw_nover=%.1f "
           "deflated_nover=%.1f raw_nover_short=%.1f deflated_nover_short=%.1f\n",
           label, n, rows, (double)raw[0] / k, (double)framed[0] / k, (double)raw[1] / k,
           (double)framed[1] / k, (double)raw[2] / k, (double)framed[2] / k);
done:
    lm_changes_free(c, n);
}

int lm_bench_records_main(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *key = NULL, *path = NULL, *file = NULL;
    const char *label = "records";
    for (int i = 0; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--server"))
            server = v;
        else if (!strcmp(k, "--user"))
            user = v;
        else if (!strcmp(k, "--key"))
            key = v;
        else if (!strcmp(k, "--db"))
            path = v;
        else if (!strcmp(k, "--records"))
            file = v;
        else if (!strcmp(k, "--label"))
            label = v;
        else
            argc = -1;
    }
    if (argc < 0 || argc % 2 || !server || !user || !key || !path || !file) {
        fputs(usage, stderr);
        return 2;
    }

    lm_bench_record *recs;
    size_t n;
    int code = 1;
    if (lm_bench_records_load(file, &recs, &n) != LM_OK || n == 0)
        return 1;
    lm_replica *r;
    if (lm_bench_replica_fresh(path, &r) != LM_OK)
        goto fail_open;
    lm_sync_stats st;
    uint64_t ns;
    if (add_catalog(r, recs, n) != LM_OK ||
        lm_bench_sync(r, server, user, key, &st, NULL, "catalog") != LM_OK)
        goto fail_work;
    if (st.refusals) {
        fprintf(stderr, "bench_agents: catalog: %llu refusals\n", (unsigned long long)st.refusals);
        goto fail_work;
    }
    uint64_t t0 = lm_bench_mono_ns();
    if (load_records(r, recs, n) != LM_OK)
        goto fail_work;
    uint64_t t1 = lm_bench_mono_ns();
    if (lm_replica_stamp(r, NULL) != LM_OK) {
        fprintf(stderr, "bench_agents: stamp: %s\n", lm_replica_errmsg(r));
        goto fail_work;
    }
    uint64_t t2 = lm_bench_mono_ns();
    byte_breakdown(r, label);
    /* the cells to push (lm_replica_stamp counts log rows: a record is one) */
    uint64_t cells = 0;
    if (lm_replica_pending_count(r, &cells) != LM_OK)
        goto fail_work;

    uint64_t cpu0 = lm_bench_thread_cpu_ns();
    if (lm_bench_sync(r, server, user, key, &st, &ns, "records") != LM_OK)
        goto fail_work;
    double client_cpu = (double)(lm_bench_thread_cpu_ns() - cpu0) / 1e9;
    uint64_t pending = 0;
    if (lm_replica_pending_count(r, &pending) != LM_OK)
        goto fail_work;
    double secs = (double)ns / 1e9, bytes = (double)(st.bytes_sent + st.bytes_received);
    printf("%s: %zu records: local load %.2f s + stamp %.2f s (untimed); sync %.3f s = %.0f "
           "records/s (client CPU %.3f s); wire %llu B sent + %llu B received = %.1f B/record\n",
           label, n, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9, secs, (double)n / secs,
           client_cpu, (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
           bytes / (double)n);
    printf("RESULT scenario=%s records=%zu sync_s=%.3f client_cpu_s=%.3f records_per_s=%.0f "
           "bytes_sent=%llu bytes_received=%llu bytes_per_record=%.2f sent_per_record=%.2f "
           "load_s=%.3f stamp_s=%.3f changes=%llu pushed=%llu pulled=%llu refusals=%llu "
           "pending=%llu\n",
           label, n, secs, client_cpu, (double)n / secs, (unsigned long long)st.bytes_sent,
           (unsigned long long)st.bytes_received, bytes / (double)n,
           (double)st.bytes_sent / (double)n, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
           (unsigned long long)cells, (unsigned long long)st.pushed_changes,
           (unsigned long long)st.pulled_changes, (unsigned long long)st.refusals,
           (unsigned long long)pending);
    if (st.refusals || pending || st.pushed_changes != cells)
        fprintf(stderr, "bench_agents: %s: %llu refusals, %llu pending, %llu of %llu pushed\n",
                label, (unsigned long long)st.refusals, (unsigned long long)pending,
                (unsigned long long)st.pushed_changes, (unsigned long long)cells);
    else
        code = 0;

fail_work:
    lm_replica_close(r);
fail_open:
    lm_free(recs);
    return code;
}
