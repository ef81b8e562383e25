/*
 * apply.c — applying a batch of remote changes (lm_replica_apply): the
 * batch as a whole, its grouping by row, its transaction and what it
 * commits with, and its result.
 *
 * The batch runs in one BEGIN IMMEDIATE transaction with the lm_applying
 * guard set, so the capture triggers do not log it again, and commits with
 * the origin's watermark, the reader's cursor and the persisted clock.
 *
 * Changes are grouped by row (first appearance order, original order inside
 * a row) so a row that arrives as N column changes is checked against the
 * writer's rights once, with its scope columns known, and written with one
 * INSERT or UPDATE. Each row goes through the merge rules (merge.c);
 * rowio.c loads and writes it, and keeps the batch's new rows and version
 * rows to insert them together.
 */
#include <stdlib.h>
#include <string.h>

#include "batch.h"

typedef struct group {
    uint32_t start, len, first;
} group;

static int cmp_key(const void *a, const void *b)
{
    const sortkey *x = a, *y = b;
    int c = x->tid != y->tid ? (x->tid < y->tid ? -1 : 1) : x->tid ? 0 : strcmp(x->table, y->table);
    if (!c)
        c = strcmp(x->pk, y->pk);
    if (!c)
        c = x->idx < y->idx ? -1 : x->idx > y->idx;
    return c;
}

/* Same table and pk (the run's index aside). */
static int same_row(const sortkey *x, const sortkey *y)
{
    return x->tid == y->tid && (x->tid || !strcmp(x->table, y->table)) && !strcmp(x->pk, y->pk);
}

static int cmp_group(const void *a, const void *b)
{
    const group *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

void lm_apply_result_clear(lm_apply_result *res)
{
    if (!res)
        return;
    for (uint32_t i = 0; i < res->n_refusals; i++)
        lm_free(res->refusals[i].reason);
    lm_free(res->refusals);
    lm_free(res->stamps);
    memset(res, 0, sizeof *res);
}

static int read_u64(lm_replica *r, const char *sql, uint64_t key, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    *out = 0;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "read");
    sqlite3_bind_int64(st, 1, (int64_t)key);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return s == SQLITE_ROW || s == SQLITE_DONE ? LM_OK : lm__dberr(r, "read");
}

int lm_replica_watermark(lm_replica *r, uint64_t origin_site, uint64_t *seq)
{
    if (!r || !seq)
        return LM_EINVAL;
    return read_u64(r, "SELECT seq FROM lm_watermarks WHERE site = ?", origin_site, seq);
}

int lm_replica_watermark_digest(lm_replica *r, uint64_t origin_site, uint64_t *seq,
                                uint64_t *digest)
{
    if (!r || !seq || !digest)
        return LM_EINVAL;
    int rc = read_u64(r, "SELECT seq FROM lm_watermarks WHERE site = ?", origin_site, seq);
    if (rc == LM_OK)
        rc = read_u64(r, "SELECT COALESCE(digest, 0) FROM lm_watermarks WHERE site = ?",
                      origin_site, digest);
    return rc;
}

/* Commits the batch's bookkeeping: seq counter, guard, watermark, cursor,
 * clock. All inside the batch's transaction. */
static int finish(batch *b)
{
    lm_replica *r = b->r;
    const lm_apply_ctx *ctx = b->ctx;
    sqlite3_stmt *st = NULL;
    int rc, s;
    if ((rc = lm__seq_set(r, b->seq)))
        return rc;
    if (ctx && ctx->origin_site) {
        if (sqlite3_prepare_v2(r->db,
                               /* the digest of the batch that moved it (SQLite's SET
                                * reads the row as it was) */
                               "INSERT INTO lm_watermarks(site, seq, digest) VALUES(?, ?, ?)"
                               " ON CONFLICT(site) DO UPDATE SET seq = MAX(seq, excluded.seq),"
                               " digest = CASE WHEN excluded.seq > seq THEN excluded.digest"
                               " ELSE digest END",
                               -1, &st, NULL) != SQLITE_OK)
            return lm__dberr(r, "watermark");
        sqlite3_bind_int64(st, 1, (int64_t)ctx->origin_site);
        sqlite3_bind_int64(st, 2, (int64_t)ctx->origin_upto_seq);
        if (ctx->origin_digest)
            sqlite3_bind_int64(st, 3, (int64_t)ctx->origin_digest);
        else
            sqlite3_bind_null(st, 3);
        s = sqlite3_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE)
            return lm__dberr(r, "watermark");
    }
    if (ctx && ctx->cursor_key && (rc = lm__meta_set_u64(r, ctx->cursor_key, ctx->cursor_value)))
        return rc;
    /* The merge writes with triggers off, so the ones that close a
     * conflict when its resolution arrives (schema 11) did not run: close
     * here every open conflict that a resolution record names. */
    if (b->closes &&
        (rc = lm__exec(r, "UPDATE lm_conflicts SET resolved = 1 WHERE resolved = 0 AND EXISTS"
                          " (SELECT 1 FROM conflict_resolutions x WHERE x.tbl = lm_conflicts.tbl"
                          " AND x.row_pk = lm_conflicts.pk AND x.col = lm_conflicts.col"
                          " AND x.winner_hlc = lm_conflicts.winner_hlc"
                          " AND x.winner_site = lm_conflicts.winner_site"
                          " AND x.loser_hlc = lm_conflicts.loser_hlc"
                          " AND x.loser_site = lm_conflicts.loser_site)")))
        return rc;
    if ((rc = lm__exec(r, "UPDATE lm_applying SET v = 0")))
        return rc;
    return lm__meta_set_u64(r, "hlc_last", r->hlc_last);
}

/* Frees what the batch holds beyond the change arrays: pending rows and
 * the chunk statements. */
static void batch_free(batch *b)
{
    for (uint32_t i = 0; b->rows && i < b->n_rows; i++)
        lm__pend_row_free(&b->rows[i]);
    lm_free(b->rows);
    for (uint32_t i = 0; b->vers && i < b->n_vers; i++)
        lm_free(b->vers[i].scope);
    lm_free(b->vers);
    sqlite3_finalize(b->rows_st);
    sqlite3_finalize(b->vers_st);
    lm_free(b->writer_key);
    memset(b, 0, sizeof *b);
}

/* Triggers on or off for this connection only (SQLite re-prepares the
 * statements this touches by itself). */
static void triggers(lm_replica *r, int on)
{
    int now = -1;
    sqlite3_db_config(r->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &now);
    if (now != on)
        sqlite3_db_config(r->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, on, &now);
}

int lm_replica_apply(lm_replica *r, const lm_change *changes, uint32_t n, const lm_apply_ctx *ctx,
                     lm_apply_result *res)
{
    if (res)
        memset(res, 0, sizeof *res);
    if (!r || !res || (n && !changes))
        return LM_EINVAL;
    if (n > LM_MAX_CHANGES)
        return lm__fail(r, LM_ETOOBIG, "batch of %u changes is over the limit", n);
    batch b = {.r = r, .ch = changes, .ctx = ctx, .res = res, .now = lm__phys_now(r)};
    b.chunks = n >= PEND_MIN;
    uint64_t saved_hlc = r->hlc_last;
    sortkey *keys = NULL, *runs = NULL, *sorted = NULL;
    uint32_t *run_len = NULL;
    group *groups = NULL;
    uint32_t ng = 0;
    int rc;

    keys = lm_malloc((n ? n : 1) * sizeof *keys);
    runs = lm_malloc((n ? n : 1) * sizeof *runs);
    sorted = lm_malloc((n ? n : 1) * sizeof *sorted);
    run_len = lm_malloc((n ? n : 1) * sizeof *run_len);
    groups = lm_malloc((n ? n : 1) * sizeof *groups);
    b.hlc = lm_calloc(n ? n : 1, sizeof *b.hlc);
    b.cid = lm_calloc(n ? n : 1, sizeof *b.cid);
    b.rows = lm_malloc(PEND_ROWS * sizeof *b.rows);
    b.vers = lm_malloc(PEND_VERS * sizeof *b.vers);
    if (!keys || !runs || !sorted || !run_len || !groups || !b.hlc || !b.cid || !b.rows ||
        !b.vers) {
        rc = LM_ENOMEM;
        goto fail_alloc;
    }
    /* Grouping by row sorts runs, not changes: a batch is cut from a log
     * in seq order, so a row's cells mostly come one after the other. A
     * run's key carries its first change's index, so runs of one row stay
     * in batch order (and so do the changes inside a row). */
    const char *last_table = NULL;
    int last_tid = 0;
    uint32_t nr = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *t = changes[i].table ? changes[i].table : "";
        /* a batch names few tables, mostly one after the other */
        if (!last_table || strcmp(t, last_table)) {
            last_table = t;
            last_tid = lm__table_find(t);
            if (!strcmp(t, "conflict_resolutions"))
                b.closes = 1;
        }
        sortkey k = {t, changes[i].pk ? changes[i].pk : "", last_tid, i};
        if (!nr || !same_row(&keys[nr - 1], &k)) {
            keys[nr] = k;
            run_len[nr++] = 0;
        }
        run_len[nr - 1]++;
    }
    /* keys[0..nr) are the runs; sort them into the order of groups */
    if (nr)
        memcpy(runs, keys, nr * sizeof *runs);
    for (uint32_t i = 0; i < nr; i++)
        runs[i].idx = i; /* run number; keys[i].idx is its first change */
    qsort(runs, nr, sizeof *runs, cmp_key);
    uint32_t nk = 0;
    for (uint32_t i = 0; i < nr; i++) {
        const sortkey *run = &keys[runs[i].idx];
        uint32_t first = run->idx, len = run_len[runs[i].idx];
        if (i == 0 || !same_row(&runs[i], &runs[i - 1]))
            groups[ng++] = (group){nk, 0, first};
        groups[ng - 1].len += len;
        for (uint32_t j = 0; j < len; j++)
            sorted[nk++] = (sortkey){run->table, run->pk, run->tid, first + j};
    }
    qsort(groups, ng, sizeof *groups, cmp_group);

    if ((rc = lm__begin(r)))
        goto fail_alloc;
    if ((rc = lm__stamp_in_tx(r, NULL)) ||
        (rc = read_u64(r, "SELECT v FROM lm_seq WHERE ? IS NOT NULL", 0, &b.seq)))
        goto fail_tx;
    if (ctx && ctx->origin_site && (rc = lm_replica_watermark(r, ctx->origin_site, &b.watermark)))
        goto fail_tx;
    if ((rc = lm__exec(r, "UPDATE lm_applying SET v = 1")))
        goto fail_tx;
    /* The guard alone keeps the merge's writes out of the log, but every
     * INSERT would still enter the capture trigger's program to test it
     * (a frame of a few hundred registers per row). Switching triggers off
     * on this connection skips that; the guard stays for safety. */
    triggers(r, 0);
    for (uint32_t g = 0; g < ng; g++)
        if ((rc = lm__merge_row(&b, sorted + groups[g].start, groups[g].len)))
            goto fail_tx;
    if ((rc = lm__pend_rows_flush(&b)) || (rc = lm__pend_vers_flush(&b)))
        goto fail_tx;
    triggers(r, 1);
    if ((rc = finish(&b)) || (rc = lm__commit(r)))
        goto fail_tx;
    lm_free(keys);
    lm_free(groups);
    lm_free(b.hlc);
    lm_free(b.cid);
    lm_free(runs);
    lm_free(sorted);
    lm_free(run_len);
    batch_free(&b);
    return LM_OK;

fail_tx:
    triggers(r, 1);
    lm__rollback(r);
fail_alloc:
    r->hlc_last = saved_hlc;
    lm_free(keys);
    lm_free(groups);
    lm_free(b.hlc);
    lm_free(b.cid);
    lm_free(runs);
    lm_free(sorted);
    lm_free(run_len);
    batch_free(&b);
    lm_apply_result_clear(res);
    if (rc == LM_ENOMEM)
        lm__fail(r, rc, "out of memory applying a batch");
    return rc;
}
