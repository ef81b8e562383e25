/*
 * outgoing.c — reading changes to send, and the agent's push bookkeeping.
 *
 * lm_versions holds the latest write of every cell, each with this
 * replica's change sequence (seq). "Changes after cursor" is therefore the
 * cells whose seq is above it, in seq order, values read from the live
 * rows: a stable cursor, and a first sync (cursor 0) that is the current
 * state, one version per live cell plus tombstones, not the whole history.
 * Both readers run in a deferred (read) transaction: a WAL snapshot, no
 * write lock, so the server's many PULLs never queue behind its one writer.
 * Only when the snapshot holds captures that plain SQL left unstamped does
 * a reader start over as a write transaction and stamp them first, so a
 * capture is never skipped by a cursor. The cursor is stable because seq is
 * handed out under SQLite's single writer: a snapshot holds every change up
 * to its lm_seq and none above it.
 */
#include <openssl/evp.h>
#include <string.h>

#include "sync_internal.h"

void lm_changes_free(lm_change *changes, uint32_t n)
{
    if (!changes)
        return;
    for (uint32_t i = 0; i < n; i++)
        lm_change_clear(&changes[i]);
    lm_free(changes);
}

typedef struct outlist {
    lm_change *v;
    uint32_t n, cap;
    size_t bytes;
} outlist;

/* Table statements reading a row's columns, filtered by a scope. */
typedef struct reader_stmts {
    sqlite3_stmt *row[LM__N_TABLES + 1];
    int last_tid;
    char *last_pk;
    int last_found;
    sqlite3_stmt *last_st;
} reader_stmts;

static void reader_close(reader_stmts *rd)
{
    for (int i = 0; i <= LM__N_TABLES; i++)
        sqlite3_finalize(rd->row[i]);
    lm_free(rd->last_pk);
    memset(rd, 0, sizeof *rd);
}

/* Positions rd on the row (tid, pk) when visible; *found = 0 otherwise. */
static int reader_row(lm_replica *r, reader_stmts *rd, const lm_scope *scope, int tid,
                      const char *pk, int *found)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    int rc;
    if (rd->last_tid == tid && rd->last_pk && strcmp(rd->last_pk, pk) == 0) {
        *found = rd->last_found;
        return LM_OK;
    }
    if (!rd->row[tid]) {
        char *vis = lm__scope_visible_sql(scope, tid);
        if (!vis)
            return LM_ENOMEM;
        lm__sb b = {0};
        lm__sb_add(&b, "SELECT ");
        for (int c = 0; c < t->n_cols; c++)
            lm__sb_addf(&b, "%s\"%s\"", c ? ", " : "", t->cols[c].name);
        lm__sb_addf(&b, " FROM \"%s\" WHERE \"%s\" = ? AND (%s)", t->name, t->pk, vis);
        lm_free(vis);
        rc = b.oom ? LM_ENOMEM : LM_OK;
        if (!rc && sqlite3_prepare_v2(r->db, b.s, -1, &rd->row[tid], NULL) != SQLITE_OK)
            rc = lm__dberr(r, "prepare scope read");
        lm__sb_free(&b);
        if (rc)
            return rc;
    }
    sqlite3_stmt *st = rd->row[tid];
    if (rd->last_st)
        sqlite3_reset(rd->last_st);
    lm_free(rd->last_pk);
    rd->last_pk = lm_strdup(pk);
    if (!rd->last_pk)
        return LM_ENOMEM;
    rd->last_tid = tid;
    rd->last_st = st;
    sqlite3_bind_text(st, 1, rd->last_pk, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return lm__dberr(r, "scope read");
    rd->last_found = *found = s == SQLITE_ROW;
    return LM_OK;
}

static int out_push(outlist *o, int tid, const char *pk, int cid, sqlite3_stmt *rowst, uint64_t hlc,
                    uint64_t site, uint64_t prev, uint64_t seq)
{
    if (o->n == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 64;
        lm_change *nv = lm_realloc(o->v, cap * sizeof *nv);
        if (!nv)
            return LM_ENOMEM;
        o->v = nv;
        o->cap = cap;
    }
    lm_change *c = &o->v[o->n];
    memset(c, 0, sizeof *c);
    c->value.type = LM_VAL_NULL;
    const lm__table_def *t = &lm__tables[tid - 1];
    c->table = lm_strdup(t->name);
    c->pk = lm_strdup(pk);
    c->column = lm_strdup(cid ? t->cols[cid - 1].name : "");
    int rc = (!c->table || !c->pk || !c->column) ? LM_ENOMEM : LM_OK;
    if (!rc && cid && rowst)
        rc = lm__column_value(rowst, cid - 1, &c->value);
    if (rc) {
        lm_change_clear(c);
        return rc;
    }
    c->hlc = hlc;
    c->site = site;
    c->prev_hlc = prev;
    c->seq = seq;
    o->n++;
    /* a rough wire size: names, pk and value plus the varints */
    o->bytes += strlen(c->table) + strlen(c->pk) + strlen(c->column) + c->value.len + 32;
    return LM_OK;
}

/* Opens the reader's transaction (see the top of the file). Deferred: the
 * first SELECT takes the snapshot, and the unstamped check (a partial
 * index, empty in the normal case) reads in that same snapshot. */
static int read_begin(lm_replica *r)
{
    int rc = lm__exec(r, "BEGIN");
    if (rc)
        return rc;
    /* INDEXED BY: as in lm__stamp_in_tx (clock.c) */
    if ((rc = lm__prepare(r, &r->s_unstamped,
                          "SELECT 1 FROM lm_versions INDEXED BY lm_versions_unstamped"
                          " WHERE hlc IS NULL LIMIT 1")))
        goto fail;
    int s = sqlite3_step(r->s_unstamped);
    sqlite3_reset(r->s_unstamped);
    if (s == SQLITE_DONE)
        return LM_OK;
    if (s != SQLITE_ROW) {
        rc = lm__dberr(r, "read changes");
        goto fail;
    }
    /* plain SQL left captures without a version: stamp them under the
     * write lock, and read in the snapshot that includes the stamps */
    lm__rollback(r);
    if ((rc = lm__begin(r)))
        return rc;
    if ((rc = lm__stamp_in_tx(r, NULL)))
        goto fail;
    return LM_OK;
fail:
    lm__rollback(r);
    return rc;
}

/* Versions to leave out: this replica's own, at one of these hlcs. */
typedef struct own_skip {
    const uint64_t *hlcs; /* ascending */
    size_t n;
} own_skip;

static int own_skipped(const own_skip *k, uint64_t hlc)
{
    size_t lo = 0, hi = k ? k->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->hlcs[mid] == hlc)
            return 1;
        if (k->hlcs[mid] < hlc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* The shared reader: versions after `after` in seq order; only_site limits
 * to one origin, exclude_site drops one, skip drops some of our own; scope
 * filters rows. A batch ends at the byte budget, or after scan_max versions
 * examined (0 = no limit) found or not: a server's PULL during a burst steps
 * over many rows the reader may not see, and one answer per scan_max keeps
 * each job short and the client's I/O timer fed (1,000 agents at once: 275
 * sessions gave up after 300 s without an answer to one long walk). */
static int read_changes(lm_replica *r, uint64_t after, uint64_t only_site, uint64_t exclude_site,
                        const own_skip *skip, const lm_scope *scope, size_t budget,
                        uint32_t scan_max, outlist *o, uint64_t *last_seq, int *more)
{
    uint32_t scanned = 0;
    sqlite3_stmt *st = NULL;
    reader_stmts rd;
    int rc = LM_OK, s;
    memset(&rd, 0, sizeof rd);
    *last_seq = after;
    *more = 0;
#define READ_COLS "tid, pk, cid, hlc, site, prev_hlc, seq, cols"
#define READ_FILTER "seq > ?1 AND (?2 = 0 OR site = ?2) AND (?3 = 0 OR site <> ?3)"
    /* an agent reads only the versions under its scope keys (scope_key.c) */
    int keyed = r->keyed && lm__scope_keyed(scope);
    char *sql = keyed ? lm__scope_keyed_sql(scope, READ_COLS, READ_FILTER) : NULL;
    if (keyed && !sql)
        return LM_ENOMEM;
    int prc = sqlite3_prepare_v2(
        r->db,
        sql ? sql : "SELECT " READ_COLS " FROM lm_versions WHERE " READ_FILTER " ORDER BY seq", -1,
        &st, NULL);
    lm_free(sql);
    if (prc != SQLITE_OK)
        return lm__dberr(r, "read changes");
    sqlite3_bind_int64(st, 1, (int64_t)after);
    sqlite3_bind_int64(st, 2, (int64_t)only_site);
    sqlite3_bind_int64(st, 3, (int64_t)exclude_site);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        int tid = sqlite3_column_int(st, 0);
        const char *pk = (const char *)sqlite3_column_text(st, 1);
        if (tid < 1 || tid > LM__N_TABLES) {
            *last_seq = (uint64_t)sqlite3_column_int64(st, 6);
            continue;
        }
        /* a batch ends only between rows: a row inserted as N column
         * changes travels whole, so it is never half visible to a scope
         * (its scope columns may come after its other cells) */
        if ((o->n > 0 && o->bytes >= budget) || (scan_max && scanned >= scan_max)) {
            const lm_change *last = o->n > 0 ? &o->v[o->n - 1] : NULL;
            if (!last || !pk || strcmp(last->pk, pk) != 0 ||
                strcmp(last->table, lm__tables[tid - 1].name)) {
                *more = 1;
                break;
            }
        }
        scanned++;
        int cid = sqlite3_column_int(st, 2);
        uint64_t site = (uint64_t)sqlite3_column_int64(st, 4);
        uint64_t seq = (uint64_t)sqlite3_column_int64(st, 6);
        int n_cols = lm__tables[tid - 1].n_cols;
        *last_seq = seq;
        if (skip && site == r->site && own_skipped(skip, (uint64_t)sqlite3_column_int64(st, 3)))
            continue;
        if (!pk || cid < LM__ROW_CID || cid > n_cols)
            continue;
        int found = 0;
        if (cid == LM__ROW_CID) {
            /* a row entry: one change per column of its mask, each with
             * the seq it reserved (those at or below `after` were sent) */
            uint32_t cols = (uint32_t)sqlite3_column_int64(st, 7);
            if ((rc = reader_row(r, &rd, scope, tid, pk, &found)))
                break;
            for (int c = 1; found && c <= n_cols && !rc; c++) {
                uint64_t back = (uint64_t)(n_cols - c);
                if (!(cols >> c & 1u) || seq < back || seq - back <= after)
                    continue;
                rc = out_push(o, tid, pk, c, rd.last_st, (uint64_t)sqlite3_column_int64(st, 3),
                              site, (uint64_t)sqlite3_column_int64(st, 5), seq - back);
            }
            if (rc)
                break;
            continue;
        }
        if (cid) {
            if ((rc = reader_row(r, &rd, scope, tid, pk, &found)))
                break;
            if (!found)
                continue;
        }
        rc = out_push(o, tid, pk, cid, cid ? rd.last_st : NULL,
                      (uint64_t)sqlite3_column_int64(st, 3), site,
                      (uint64_t)sqlite3_column_int64(st, 5), seq);
        if (rc)
            break;
    }
    if (!rc && s != SQLITE_ROW && s != SQLITE_DONE)
        rc = lm__dberr(r, "read changes");
    sqlite3_finalize(st);
    reader_close(&rd);
    return rc;
}

/* Raises *seq to the last seq handed out in the current snapshot: every
 * later change gets a larger one (seq is assigned under the writer lock). */
static int snapshot_seq(lm_replica *r, uint64_t *seq)
{
    int rc = lm__prepare(r, &r->s_seq_get, "SELECT v FROM lm_seq");
    if (rc)
        return rc;
    int s = sqlite3_step(r->s_seq_get);
    if (s == SQLITE_ROW) {
        uint64_t v = (uint64_t)sqlite3_column_int64(r->s_seq_get, 0);
        if (v > *seq)
            *seq = v;
    }
    sqlite3_reset(r->s_seq_get);
    return s == SQLITE_ROW || s == SQLITE_DONE ? LM_OK : lm__dberr(r, "read seq");
}

static void out_free(outlist *o)
{
    lm_changes_free(o->v, o->n);
    memset(o, 0, sizeof *o);
}

int lm_replica_local_changes(lm_replica *r, uint64_t after_seq, size_t byte_budget, lm_change **out,
                             uint32_t *n, uint64_t *upto_seq)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (upto_seq)
        *upto_seq = after_seq;
    if (!r || !out || !n || !upto_seq)
        return LM_EINVAL;
    outlist o = {0};
    int more;
    uint64_t last;
    int rc = read_begin(r);
    if (rc)
        return rc;
    if ((rc = read_changes(r, after_seq, r->site, 0, NULL, NULL, byte_budget, 0, &o, &last,
                           &more)) ||
        (rc = lm__commit(r)))
        goto fail;
    *out = o.v;
    *n = o.n;
    /* the last log row read, not the last change: a row entry reserves
     * seqs up to its last column's even when that column is NULL, and the
     * acknowledgement must cover the entry (pending count, capture rule) */
    *upto_seq = o.n ? last : after_seq;
    return LM_OK;
fail:
    lm__rollback(r);
    out_free(&o);
    return rc;
}

int lm_replica_changes_since(lm_replica *r, uint64_t cursor, const lm_scope *reader,
                             uint64_t exclude_site, size_t byte_budget, lm_change **out,
                             uint32_t *n, uint64_t *next_cursor, int *more)
{
    return lm_replica_changes_since_except(r, cursor, reader, exclude_site, NULL, 0, byte_budget,
                                           out, n, next_cursor, more);
}

int lm_replica_changes_since_except(lm_replica *r, uint64_t cursor, const lm_scope *reader,
                                    uint64_t exclude_site, const uint64_t *own_hlcs, size_t n_own,
                                    size_t byte_budget, lm_change **out, uint32_t *n,
                                    uint64_t *next_cursor, int *more)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (next_cursor)
        *next_cursor = cursor;
    if (more)
        *more = 0;
    if (!r || !out || !n || !next_cursor || !more)
        return LM_EINVAL;
    outlist o = {0};
    uint64_t last;
    int rc = read_begin(r);
    if (rc)
        return rc;
    own_skip skip = {own_hlcs, n_own};
    if ((rc = read_changes(r, cursor, 0, exclude_site, n_own ? &skip : NULL, reader, byte_budget,
                           r->pull_scan_max, &o, &last, more)))
        goto fail;
    /* the whole snapshot was read: the cursor moves to its end, past the
     * excluded site's own changes and rows outside the scope at the tail,
     * so the next pull does not step over them again */
    if (!*more && (rc = snapshot_seq(r, &last)))
        goto fail;
    if ((rc = lm__commit(r)))
        goto fail;
    *out = o.v;
    *n = o.n;
    *next_cursor = last;
    return LM_OK;
fail:
    lm__rollback(r);
    out_free(&o);
    return rc;
}

int lm_replica_pending_count(lm_replica *r, uint64_t *n)
{
    if (!r || !n)
        return LM_EINVAL;
    uint64_t acked;
    int rc = lm__meta_get_u64(r, "push_acked", 0, &acked);
    if (rc)
        return rc;
    sqlite3_stmt *st = NULL;
    /* cells: a row entry counts one per column of its mask */
    lm__sb q = {0};
    lm__sb_addf(&q, "SELECT COALESCE(SUM(CASE WHEN cid = %d THEN 0", LM__ROW_CID);
    for (int c = 1; c <= LM__MAX_COLS; c++)
        lm__sb_addf(&q, " + ((cols >> %d) & 1)", c);
    lm__sb_add(&q, " ELSE 1 END), 0) FROM lm_versions WHERE seq > ? AND (site = ? OR hlc IS NULL)");
    if (q.oom) {
        lm__sb_free(&q);
        return LM_ENOMEM;
    }
    int prc = sqlite3_prepare_v2(r->db, q.s, -1, &st, NULL);
    lm__sb_free(&q);
    if (prc != SQLITE_OK)
        return lm__dberr(r, "pending");
    sqlite3_bind_int64(st, 1, (int64_t)acked);
    sqlite3_bind_int64(st, 2, (int64_t)r->site);
    int s = sqlite3_step(st);
    *n = s == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return s == SQLITE_ROW ? LM_OK : lm__dberr(r, "pending");
}

/* Moves push_acked up to seq, never back (an older ack arriving late, or a
 * watermark behind our acks), inside the caller's transaction. */
static int raise_push_acked(lm_replica *r, uint64_t seq)
{
    uint64_t acked;
    int rc = lm__meta_get_u64(r, "push_acked", 0, &acked);
    if (rc == LM_OK && seq > acked)
        rc = lm__meta_set_u64(r, "push_acked", seq);
    if (rc == LM_OK && seq > acked) {
        /* the marks of acknowledged batches have done their work */
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(r->db, "DELETE FROM lm_push_marks WHERE upto <= ?", -1, &st, NULL) !=
            SQLITE_OK)
            return lm__dberr(r, "forget push marks");
        sqlite3_bind_int64(st, 1, (int64_t)seq);
        int s = sqlite3_step(st);
        sqlite3_finalize(st);
        if (s != SQLITE_DONE)
            return lm__dberr(r, "forget push marks");
    }
    return rc;
}

int lm_replica_push_acked_seq(lm_replica *r, uint64_t *upto_seq)
{
    if (!r || !upto_seq)
        return LM_EINVAL;
    return lm__meta_get_u64(r, "push_acked", 0, upto_seq);
}

/* Keeps a sent batch's digest until an acknowledgement covers it. */
static int keep_mark(lm_replica *r, uint64_t upto, uint64_t digest)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "INSERT OR IGNORE INTO lm_push_marks(upto, digest) VALUES(?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "keep push mark");
    sqlite3_bind_int64(st, 1, (int64_t)upto);
    sqlite3_bind_int64(st, 2, (int64_t)digest);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "keep push mark");
}

/* A change may be sent only once a power cut can no longer take it back:
 * the server's watermark then names it for good, and a counter rolled back
 * under it would give a new change a seq the server says it has. A sync
 * session commits without fsync (lm_replica_set_durable), and what it
 * logs as this replica's own writes (a refused cell taken back, say) is
 * not fetched again, so one durable commit covers the log before it is
 * sent. With a mark (mark_upto > 0), the batch's digest is kept in the
 * same commit. */
static int durable_commit(lm_replica *r, uint64_t mark_upto, uint64_t mark_digest,
                          uint64_t *upto_seq)
{
    int rc = r->durable ? LM_OK : lm__exec(r, "PRAGMA synchronous=FULL;");
    if (rc == LM_OK && (rc = lm__begin(r)) == LM_OK) {
        /* a commit with nothing written syncs nothing: flushed_seq is that
         * something (read by no one) */
        uint64_t seq = 0;
        if ((rc = snapshot_seq(r, &seq)) || (rc = lm__meta_set_u64(r, "flushed_seq", seq)) ||
            (mark_upto && (rc = keep_mark(r, mark_upto, mark_digest))) || (rc = lm__commit(r)))
            lm__rollback(r);
        else if (upto_seq)
            *upto_seq = seq;
    }
    if (!r->durable) {
        int rc2 = lm__exec(r, "PRAGMA synchronous=NORMAL;");
        if (rc == LM_OK)
            rc = rc2;
    }
    return rc;
}

int lm_replica_flush(lm_replica *r, uint64_t *upto_seq)
{
    if (!r || !upto_seq)
        return LM_EINVAL;
    return durable_commit(r, 0, 0, upto_seq);
}

static void digest_u64(EVP_MD_CTX *md, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    EVP_DigestUpdate(md, b, sizeof b);
}

static void digest_text(EVP_MD_CTX *md, const char *t)
{
    size_t n = t ? strlen(t) : 0;
    digest_u64(md, n);
    if (n)
        EVP_DigestUpdate(md, t, n);
}

uint64_t lm_push_digest(const lm_change *batch, uint32_t n, uint64_t upto_seq)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    uint64_t d = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
        digest_u64(md, upto_seq);
        digest_u64(md, n);
        for (uint32_t i = 0; batch && i < n; i++) {
            const lm_change *c = &batch[i];
            digest_text(md, c->table);
            digest_text(md, c->pk);
            digest_text(md, c->column);
            digest_u64(md, (uint64_t)c->value.type);
            if (c->value.type == LM_VAL_INTEGER) {
                digest_u64(md, (uint64_t)c->value.i);
            } else if (c->value.type == LM_VAL_FLOAT) {
                uint64_t bits;
                memcpy(&bits, &c->value.f, sizeof bits);
                digest_u64(md, bits);
            } else if (c->value.type == LM_VAL_TEXT || c->value.type == LM_VAL_BLOB) {
                digest_u64(md, c->value.len);
                if (c->value.len)
                    EVP_DigestUpdate(md, c->value.bytes, c->value.len);
            }
            digest_u64(md, c->hlc);
            digest_u64(md, c->site);
            digest_u64(md, c->prev_hlc);
            digest_u64(md, c->seq);
        }
        if (EVP_DigestFinal_ex(md, out, NULL) == 1) {
            for (int i = 0; i < 8; i++)
                d |= (uint64_t)out[i] << (8 * i);
            /* stored as a signed SQLite integer; 0 means "none" */
            d &= (uint64_t)INT64_MAX;
            d = d ? d : 1;
        }
    }
    EVP_MD_CTX_free(md);
    return d; /* 0: no memory for the digest (the receiver keeps none) */
}

int lm_replica_push_mark(lm_replica *r, const lm_change *batch, uint32_t n, uint64_t upto_seq)
{
    if (!r || (n && !batch) || !upto_seq)
        return LM_EINVAL;
    uint64_t digest = lm_push_digest(batch, n, upto_seq);
    if (!digest)
        return lm__fail(r, LM_ENOMEM, "out of memory");
    return durable_commit(r, upto_seq, digest, NULL);
}

int lm_replica_seq(lm_replica *r, uint64_t *seq)
{
    if (seq)
        *seq = 0;
    if (!r || !seq)
        return LM_EINVAL;
    return snapshot_seq(r, seq);
}

/* The watermark is the last of our changes the server committed. A power
 * cut on this side can roll back the acks of batches the server kept (the
 * session writes them without fsync), and a restored copy of the file
 * can be behind it altogether: the acks catch up, or the changes would
 * show as waiting forever though nothing will send them, and the counter
 * moves past it, or a new change would be numbered as one the server
 * already has and never leave. */
/* A restored or copied file: the server holds changes of this site up to
 * watermark that this file did not make (past anything it ever counted,
 * or a batch it never sent), so the changes it logged since its last
 * acknowledgement may carry seqs the server already gave to others. They are logged again under a
 * fresh site id, with a fresh HLC and their seqs moved past the watermark (by one offset: a row
 * entry's reserved seqs stay together), in the caller's transaction. The previous site is kept in
 * meta "previous_site". */
static int take_fresh_site(lm_replica *r, uint64_t acked, uint64_t head, uint64_t watermark,
                           uint64_t *site)
{
    uint64_t hlc = 0, delta = watermark - acked;
    sqlite3_stmt *st = NULL;
    *site = lm__random_site();
    int rc = lm_replica_hlc_next(r, &hlc);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(r->db,
                           "UPDATE lm_versions SET site = ?1, hlc = ?2, seq = seq + ?3"
                           " WHERE seq > ?4 AND (site = ?5 OR hlc IS NULL)",
                           -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "re-log under a new site");
    sqlite3_bind_int64(st, 1, (int64_t)*site);
    sqlite3_bind_int64(st, 2, (int64_t)hlc);
    sqlite3_bind_int64(st, 3, (int64_t)delta);
    sqlite3_bind_int64(st, 4, (int64_t)acked);
    sqlite3_bind_int64(st, 5, (int64_t)r->site);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE)
        return lm__dberr(r, "re-log under a new site");
    /* the marks were the old site's batches; the new site pulls from the
     * start (the field tool's cursor), as rows the old site wrote on the
     * other copy never came down to this one */
    if ((rc = lm__exec(r, "DELETE FROM lm_push_marks")) || (rc = lm__seq_set(r, head + delta)) ||
        (rc = lm__meta_set_u64(r, "previous_site", r->site)) ||
        (rc = lm__meta_set_u64(r, "site", *site)) || (rc = lm__meta_set_u64(r, "pull_cursor", 0)))
        return rc;
    return raise_push_acked(r, watermark);
}

/* Whether this replica sent the batch (upto, digest): kept by
 * lm_replica_push_mark until an acknowledgement covered it. */
static int mark_kept(lm_replica *r, uint64_t upto, uint64_t digest, int *kept)
{
    sqlite3_stmt *st = NULL;
    *kept = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT 1 FROM lm_push_marks WHERE upto = ? AND digest = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "read push marks");
    sqlite3_bind_int64(st, 1, (int64_t)upto);
    sqlite3_bind_int64(st, 2, (int64_t)digest);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return lm__dberr(r, "read push marks");
    *kept = s == SQLITE_ROW;
    return LM_OK;
}

int lm_replica_adopt_watermark(lm_replica *r, uint64_t watermark)
{
    return lm_replica_adopt_watermark_digest(r, watermark, 0);
}

int lm_replica_adopt_watermark_digest(lm_replica *r, uint64_t watermark, uint64_t digest)
{
    if (!r)
        return LM_EINVAL;
    uint64_t acked = 0, seq = 0, site = 0;
    int rc = lm__meta_get_u64(r, "push_acked", 0, &acked);
    if (rc || watermark <= acked) /* the usual case: nothing to catch up */
        return rc;
    if ((rc = lm__begin(r)))
        return rc;
    if ((rc = snapshot_seq(r, &seq)))
        goto fail_tx;
    /* Not a lost ack but a copy: with the digest of the batch that set the
     * watermark, when this replica never sent that batch (a clone that
     * logged as many changes since the copy, or more, has a counter past
     * the watermark); without one, when the counter never reached it. */
    int copy = watermark > seq;
    if (digest) {
        int kept = 0;
        if ((rc = mark_kept(r, watermark, digest, &kept)))
            goto fail_tx;
        copy = !kept;
    }
    const char *what = watermark > seq ? "restored from before the server's watermark"
                                       : "cloned: the server holds other changes under its seqs";
    if (copy)
        rc = take_fresh_site(r, acked, seq, watermark, &site);
    else
        rc = raise_push_acked(r, watermark);
    if (rc || (rc = lm__commit(r)))
        goto fail_tx;
    if (!site)
        return LM_OK;
    uint64_t old = r->site;
    r->site = site;
    /* The session that brought the watermark speaks for the old site:
     * sending under the new one is the next session's. */
    return lm__fail(r, LM_ECONFLICT,
                    "this replica is a copy of site %016llx %s; it goes on as site %016llx",
                    (unsigned long long)old, what, (unsigned long long)site);

fail_tx:
    lm__rollback(r);
    return rc;
}

int lm_replica_push_acked(lm_replica *r, uint64_t upto_seq, const lm_change *batch,
                          uint32_t n_batch, const lm_refusal *refusals, uint32_t n_refusals)
{
    if (!r || (n_refusals && !refusals))
        return LM_EINVAL;
    uint64_t now = lm__phys_now(r);
    sqlite3_stmt *st = NULL;
    int rc = lm__begin(r);
    if (rc)
        return rc;
    if ((rc = raise_push_acked(r, upto_seq)))
        goto fail;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO lm_refusals(tbl, pk, col, value, hlc, site, code, reason,"
                           " at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = lm__dberr(r, "record refusal");
        goto fail;
    }
    for (uint32_t i = 0; i < n_refusals; i++) {
        const lm_refusal *f = &refusals[i];
        const lm_change *c = batch && f->index < n_batch ? &batch[f->index] : NULL;
        lm_value null = {.type = LM_VAL_NULL};
        sqlite3_bind_text(st, 1, c && c->table ? c->table : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, c && c->pk ? c->pk : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c && c->column ? c->column : "", -1, SQLITE_STATIC);
        lm__bind_value(st, 4, c ? &c->value : &null);
        sqlite3_bind_int64(st, 5, c ? (int64_t)c->hlc : 0);
        sqlite3_bind_int64(st, 6, c ? (int64_t)c->site : 0);
        sqlite3_bind_int(st, 7, f->code);
        sqlite3_bind_text(st, 8, f->reason ? f->reason : lm_strerror(f->code), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, (int64_t)now);
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        if (s != SQLITE_DONE) {
            rc = lm__dberr(r, "record refusal");
            goto fail;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = lm__commit(r)))
        goto fail;
    return LM_OK;
fail:
    sqlite3_finalize(st);
    lm__rollback(r);
    return rc;
}
