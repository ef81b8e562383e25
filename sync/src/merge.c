/*
 * merge.c — the merge rules, one row of a batch at a time: apply.c groups
 * the batch by row, rowio.c loads the row and writes it back.
 *
 * Each change of the row is checked for its shape and its clock first (a
 * version far in the future is replaced by our own and flagged in
 * lm_flags), so a bad change is refused on its own; a row new to the
 * replica is checked against the writer's rights once, with its scope
 * columns known. Per cell:
 *   - same (hlc, site) as stored, or seq at/below the origin's watermark:
 *     no-op (re-sent);
 *   - prev_hlc == stored hlc and newer: fast-forward;
 *   - otherwise concurrent: the larger (hlc, site) wins everywhere, the other
 *     value goes to lm_conflicts, unless it is our own version that
 *     lm_refusals holds (the server's repair or tombstone answering it);
 *   - immutable / monotonic / ownership / scope refusals are recorded in
 *     lm_refusals and returned; when the row exists the replica re-stamps
 *     its own value ("repair") so the refused writer converges back to it;
 *   - a tombstone deletes the row; cells newer than what the deleter saw
 *     are logged as losers; later updates to a dead row are logged too.
 *
 * The server stamps a new collection's received_at as its own write and
 * reports the stamps in the result, for the PUSH_ACK.
 */
#include <string.h>

#include "batch.h"
#include "lm_rules.h"

/* (hlc, site) order: >0 when a is newer. */
static int ver_cmp(uint64_t ah, uint64_t as, uint64_t bh, uint64_t bs)
{
    if (ah != bh)
        return ah > bh ? 1 : -1;
    return as > bs ? 1 : as < bs ? -1 : 0;
}

static int value_copy(lm_value *dst, const lm_value *src)
{
    lm_value_clear(dst);
    *dst = *src;
    dst->bytes = NULL;
    if (src->type == LM_VAL_TEXT || src->type == LM_VAL_BLOB) {
        dst->bytes = lm_malloc(src->len + 1);
        if (!dst->bytes) {
            dst->type = LM_VAL_NULL;
            return LM_ENOMEM;
        }
        if (src->len)
            memcpy(dst->bytes, src->bytes, src->len);
        dst->bytes[src->len] = 0;
    }
    return LM_OK;
}

/* A server's refusal log: one row per writer, code, table and reason with
 * a count and the first refused change as a sample, so a client that sends
 * refused changes by the million adds no rows (lm_refusal_counts,
 * schema 7). The pusher keeps every refusal itself (PUSH_ACK). */
static int count_refusal(batch *b, const lm_change *c, int code, const char *reason)
{
    lm_replica *r = b->r;
    int rc = lm__prepare(
        r, &r->s_refusal_count,
        "INSERT INTO lm_refusal_counts(user, code, tbl, reason, n, first_at, last_at, site,"
        " pk, col, value, hlc) VALUES(?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(user, code, tbl, reason) DO UPDATE SET n = n + 1,"
        " last_at = excluded.last_at");
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_refusal_count;
    sqlite3_bind_text(st, 1, b->ctx->refusals_by, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, code);
    sqlite3_bind_text(st, 3, c->table ? c->table : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (int64_t)b->now);
    sqlite3_bind_int64(st, 6, (int64_t)b->now);
    sqlite3_bind_int64(st, 7, (int64_t)c->site);
    sqlite3_bind_text(st, 8, c->pk ? c->pk : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, c->column ? c->column : "", -1, SQLITE_STATIC);
    lm__bind_value(st, 10, &c->value);
    sqlite3_bind_int64(st, 11, (int64_t)c->hlc);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "count refusal");
}

static int add_refusal(batch *b, uint32_t idx, int code, const char *reason)
{
    lm_apply_result *res = b->res;
    const lm_change *c = &b->ch[idx];
    if (res->n_refusals == b->cap_refusals) {
        uint32_t cap = b->cap_refusals ? b->cap_refusals * 2 : 8;
        lm_refusal *nr = lm_realloc(res->refusals, cap * sizeof *nr);
        if (!nr)
            return LM_ENOMEM;
        res->refusals = nr;
        b->cap_refusals = cap;
    }
    char *why = lm_strdup(reason);
    if (!why)
        return LM_ENOMEM;
    res->refusals[res->n_refusals++] = (lm_refusal){idx, code, why};
    if (b->ctx && b->ctx->refusals_by)
        return count_refusal(b, c, code, reason);

    lm_replica *r = b->r;
    int rc = lm__prepare(r, &r->s_refusal,
                         "INSERT INTO lm_refusals(tbl, pk, col, value, hlc, site, code, reason, at)"
                         " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_refusal;
    sqlite3_bind_text(st, 1, c->table ? c->table : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->pk ? c->pk : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->column ? c->column : "", -1, SQLITE_STATIC);
    lm__bind_value(st, 4, &c->value);
    sqlite3_bind_int64(st, 5, (int64_t)c->hlc);
    sqlite3_bind_int64(st, 6, (int64_t)c->site);
    sqlite3_bind_int(st, 7, code);
    sqlite3_bind_text(st, 8, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, (int64_t)b->now);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "record refusal");
}

/* Binds a cell's table, pk and column name as parameters i, i+1, i+2. */
static void bind_cell(sqlite3_stmt *st, int i, int tid, const char *pk, int cid)
{
    sqlite3_bind_text(st, i, lm__tables[tid - 1].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i + 1, pk, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i + 2, cid ? lm__tables[tid - 1].cols[cid - 1].name : "", -1,
                      SQLITE_STATIC);
}

/* Whether lm_refusals holds this version of one of our own cells: a write
 * the server refused and answered with its own value or a tombstone. */
static int refused_own(batch *b, int tid, const char *pk, int cid, uint64_t hlc, int *yes)
{
    lm_replica *r = b->r;
    *yes = 0;
    int rc = lm__prepare(r, &r->s_refused,
                         "SELECT 1 FROM lm_refusals WHERE site = ? AND hlc = ? AND tbl = ?"
                         " AND pk = ? AND col = ? LIMIT 1");
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_refused;
    sqlite3_bind_int64(st, 1, (int64_t)r->site);
    sqlite3_bind_int64(st, 2, (int64_t)hlc);
    bind_cell(st, 3, tid, pk, cid);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    *yes = s == SQLITE_ROW;
    return s == SQLITE_ROW || s == SQLITE_DONE ? LM_OK : lm__dberr(r, "read refusals");
}

static int add_conflict(batch *b, int tid, const char *pk, int cid, const lm_value *win,
                        uint64_t wh, uint64_t ws, const lm_value *lose, uint64_t lh, uint64_t ls)
{
    lm_replica *r = b->r;
    int rc, refused;
    /* A conflict someone already closed elsewhere (its resolution arrived
     * first, conflict_resolutions) is logged closed. */
    /* A refused write of ours is kept in the refusal log with its reason;
     * as a conflict it could not be resolved ("keep mine" is refused
     * again, or finds the row deleted), so it is not logged twice. */
    if (ls == r->site && ((rc = refused_own(b, tid, pk, cid, lh, &refused)) || refused))
        return rc;
    rc = lm__prepare(r, &r->s_conflict,
                     "INSERT INTO lm_conflicts(tbl, pk, col, winner_value, loser_value,"
                     " winner_hlc, winner_site, loser_hlc, loser_site, at, resolved)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                     " EXISTS (SELECT 1 FROM conflict_resolutions WHERE tbl = ?1"
                     " AND row_pk = ?2 AND col = ?3 AND winner_hlc = ?6 AND winner_site = ?7"
                     " AND loser_hlc = ?8 AND loser_site = ?9))");
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_conflict;
    bind_cell(st, 1, tid, pk, cid);
    lm__bind_value(st, 4, win);
    lm__bind_value(st, 5, lose);
    sqlite3_bind_int64(st, 6, (int64_t)wh);
    sqlite3_bind_int64(st, 7, (int64_t)ws);
    sqlite3_bind_int64(st, 8, (int64_t)lh);
    sqlite3_bind_int64(st, 9, (int64_t)ls);
    sqlite3_bind_int64(st, 10, (int64_t)b->now);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    b->res->conflicts++;
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "record conflict");
}

static int add_flag(batch *b, const lm_change *c, uint64_t clamped)
{
    lm_replica *r = b->r;
    int rc = lm__prepare(r, &r->s_flag,
                         "INSERT INTO lm_flags(tbl, pk, col, site, remote_hlc, clamped_hlc, at)"
                         " VALUES(?, ?, ?, ?, ?, ?, ?)");
    if (rc)
        return rc;
    sqlite3_stmt *st = r->s_flag;
    sqlite3_bind_text(st, 1, c->table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->pk, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->column, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)c->site);
    sqlite3_bind_int64(st, 5, (int64_t)c->hlc);
    sqlite3_bind_int64(st, 6, (int64_t)clamped);
    sqlite3_bind_int64(st, 7, (int64_t)b->now);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "flag clamped clock");
}

typedef struct getctx {
    batch *b;
    rowstate *rs;
    const sortkey *keys;
    uint32_t len;
} getctx;

/* Scope value of a row: the stored row, else what the batch brings. */
static int group_get(void *ud, const char *col, lm_value *out)
{
    getctx *g = ud;
    int cid = lm__col_find(g->rs->tid, col);
    out->type = LM_VAL_NULL;
    if (!cid)
        return LM_OK;
    if (g->rs->exists)
        return value_copy(out, &g->rs->vals[cid]);
    for (uint32_t i = g->len; i-- > 0;) {
        uint32_t idx = g->keys[i].idx;
        if (g->b->cid[idx] == cid)
            return value_copy(out, &g->b->ch[idx].value);
    }
    return LM_OK;
}

/* The replica's own value of a refused cell, re-stamped as its own write so
 * the refused writer (whose copy differs) converges back to it. */
static void repair(batch *b, rowstate *rs, int cid)
{
    if (!rs->exists || rs->deleted)
        return;
    cell *cl = &rs->cells[cid];
    uint64_t prev = cl->has ? cl->hlc : 0;
    *cl = (cell){1, 1, lm__hlc_tick(b->r), b->r->site, prev};
}

static int set_cell(batch *b, rowstate *rs, int cid, const lm_change *c, uint64_t hlc)
{
    /* the batch outlives the row: its value is borrowed, not copied */
    lm__row_val_drop(rs, cid);
    rs->vals[cid] = c->value;
    rs->lent |= 1u << cid;
    rs->val_dirty[cid] = 1;
    rs->cells[cid] = (cell){1, 1, hlc, c->site, c->prev_hlc};
    rs->exists = 1;
    b->res->applied++;
    return LM_OK;
}

static int merge_tombstone(batch *b, rowstate *rs, const lm_change *c, uint64_t hlc)
{
    cell *tb = &rs->cells[0];
    const lm__table_def *t = &lm__tables[rs->tid - 1];
    int rc;
    if (tb->has) {
        /* two deletes of one row: keep the larger version everywhere */
        if (ver_cmp(hlc, c->site, tb->hlc, tb->site) > 0) {
            *tb = (cell){1, 1, hlc, c->site, tb->prev > c->prev_hlc ? tb->prev : c->prev_hlc};
            b->res->applied++;
        } else {
            b->res->noops++;
        }
        return LM_OK;
    }
    lm_value null = {.type = LM_VAL_NULL};
    for (int cid = 1; cid <= t->n_cols; cid++) {
        cell *cl = &rs->cells[cid];
        if (cl->has && cl->hlc > c->prev_hlc &&
            (rc = add_conflict(b, rs->tid, rs->pk, cid, &null, hlc, c->site, &rs->vals[cid],
                               cl->hlc, cl->site)))
            return rc;
        memset(cl, 0, sizeof *cl);
        lm__row_val_drop(rs, cid);
        rs->val_dirty[cid] = 0;
    }
    *tb = (cell){1, 1, hlc, c->site, c->prev_hlc};
    rs->deleted = 1;
    rs->exists = 0;
    b->res->applied++;
    return LM_OK;
}

/* One column change on a live (or not yet existing) row. */
static int merge_cell(batch *b, rowstate *rs, uint32_t idx, int cid, uint64_t hlc)
{
    const lm_change *c = &b->ch[idx];
    const lm__col_def *d = &lm__tables[rs->tid - 1].cols[cid - 1];
    const lm_scope *w = b->ctx ? b->ctx->writer : NULL;
    cell *cur = &rs->cells[cid];
    lm_value *val = &rs->vals[cid];
    const char *why;
    int rc, code;

    if (cur->has && cur->hlc == hlc && cur->site == c->site) {
        b->res->noops++;
        return LM_OK;
    }
    /* whoever may write the row sets a cell's first value (a dispatcher
     * plans a stop as 'planned', even when the row arrives over several
     * batches); owners guard the cell from then on. "system" columns are
     * never set by a remote writer. */
    int owned_now = cur->has || (d->owner && !strcmp(d->owner, "system"));
    /* a row revived whole carries every column, a "system" one never set
     * (NULL) too: nothing changes, so it is no write of the column */
    if (!cur->has && c->value.type == LM_VAL_NULL && val->type == LM_VAL_NULL)
        owned_now = 0;
    if (w && owned_now && (code = lm__scope_col_check(w, rs->tid, cid, &why))) {
        repair(b, rs, cid);
        return add_refusal(b, idx, code, why);
    }
    int newer = !cur->has || ver_cmp(hlc, c->site, cur->hlc, cur->site) > 0;
    /* a later write by the site that wrote the current value is sequential
     * even when its prev_hlc names a local version that never left that
     * site (overwritten there before a push): every change reaches an
     * agent through the server, so it cannot have missed ours */
    int ff = !cur->has || c->prev_hlc == cur->hlc || (c->site == cur->site && newer);

    if (d->policy == LM__POL_IMMUTABLE && w) {
        int set = cur->has || (rs->exists && val->type != LM_VAL_NULL);
        if (set && !lm__value_equal(val, &c->value)) {
            repair(b, rs, cid);
            return add_refusal(b, idx, LM_EIMMUTABLE, "column is immutable once the row exists");
        }
        if (cur->has) {
            b->res->noops++; /* the same value again */
            return LM_OK;
        }
    }
    if (d->policy == LM__POL_MONOTONIC) {
        int rn = lm__mono_rank(d->mono, &c->value);
        if (rn == -1 && w) {
            repair(b, rs, cid);
            return add_refusal(b, idx, LM_EINVAL, "value is not in the column's declared order");
        }
        int rc0 = lm__mono_rank(d->mono, val);
        if (cur->has && rn != rc0) {
            /* the larger status wins whatever the clocks say: a join */
            if (rn > rc0) {
                if (!ff && (rc = add_conflict(b, rs->tid, rs->pk, cid, &c->value, hlc, c->site, val,
                                              cur->hlc, cur->site)))
                    return rc;
                return set_cell(b, rs, cid, c, hlc);
            }
            if (ff && w) {
                repair(b, rs, cid);
                return add_refusal(b, idx, LM_EMONOTONIC, "status may only move forward");
            }
            /* a writer that lost with a lower status holds it locally, and
             * rank beats clocks: re-stamp ours so it comes back to it */
            rc = add_conflict(b, rs->tid, rs->pk, cid, val, cur->hlc, cur->site, &c->value, hlc,
                              c->site);
            if (w)
                repair(b, rs, cid);
            return rc;
        }
    }
    if (!cur->has || (ff && newer))
        return set_cell(b, rs, cid, c, hlc);
    if (newer) {
        if ((rc = add_conflict(b, rs->tid, rs->pk, cid, &c->value, hlc, c->site, val, cur->hlc,
                               cur->site)))
            return rc;
        return set_cell(b, rs, cid, c, hlc);
    }
    return add_conflict(b, rs->tid, rs->pk, cid, val, cur->hlc, cur->site, &c->value, hlc, c->site);
}

/* lm__col_find, trying the column after `prev` first: a row's cells come
 * in column order. */
static int col_find(int tid, const char *name, int prev)
{
    if (tid < 1 || tid > LM__N_TABLES || !name)
        return 0;
    const lm__table_def *t = &lm__tables[tid - 1];
    if (prev >= 0 && prev < t->n_cols && !strcmp(t->cols[prev].name, name))
        return prev + 1;
    return lm__col_find(tid, name);
}

/* Checks one change's shape; 0 when fine, else a refusal code + reason. */
static int validate(const lm_change *c, int tid, int *cid, const char **why)
{
    int named = *cid; /* the column the change names, found by the caller */
    *cid = 0;
    if (!tid) {
        *why = "unknown table";
        return LM_EINVAL;
    }
    if (!c->pk || !c->pk[0] || strlen(c->pk) > LM_MAX_PK) {
        *why = "missing or oversized primary key";
        return LM_EINVAL;
    }
    if (c->hlc == 0 || c->site == 0 || c->site > (uint64_t)INT64_MAX ||
        c->hlc > (uint64_t)INT64_MAX) {
        *why = "change without a valid version (hlc, site)";
        return LM_EINVAL;
    }
    if (!c->column || !c->column[0]) {
        if (c->value.type != LM_VAL_NULL) {
            *why = "a row delete carries no value";
            return LM_ETYPE;
        }
        return 0;
    }
    *cid = named;
    if (!*cid) {
        *why = "unknown column";
        return LM_EINVAL;
    }
    const char *type = lm__tables[tid - 1].cols[*cid - 1].type;
    int want = type[0] == 'I' ? LM_VAL_INTEGER : type[0] == 'R' ? LM_VAL_FLOAT : LM_VAL_TEXT;
    /* a REAL column stores an integer as a float (SQLite's affinity) */
    int also = want == LM_VAL_FLOAT ? LM_VAL_INTEGER : want;
    if (c->value.type != want && c->value.type != also && c->value.type != LM_VAL_NULL) {
        *why = want == LM_VAL_INTEGER ? "column takes an integer"
               : want == LM_VAL_FLOAT ? "column takes a number"
                                      : "column takes text";
        return LM_ETYPE;
    }
    if ((c->value.type == LM_VAL_TEXT && c->value.len > LM_MAX_VALUE) ||
        (c->value.type == LM_VAL_TEXT && !c->value.bytes && c->value.len)) {
        *why = "value too large";
        return LM_ETOOBIG;
    }
    return 0;
}

/* Stamps a new collection's received_at. One stamp hlc serves the whole
 * batch (the cells are distinct), as long as it orders after every version
 * of the row, as a fresh tick would: else a refused received_at from the
 * agent could outrank it. The rows stamped with it are reported as ranges
 * of their first change's index, so the pusher can write the same cells
 * from the PUSH_ACK instead of pulling them back. A row whose prev_hlc the
 * pusher could not tell from its own batch (its received_at change was
 * refused or clamped here) gets a tick of its own and is not reported. */
static int stamp_received(batch *b, rowstate *rs, const sortkey *keys, uint32_t len, int stamp_open)
{
    lm_replica *r = b->r;
    int tid = rs->tid, rcid = lm__col_find(tid, "received_at");
    cell *cl = &rs->cells[rcid];
    uint64_t prev = cl->has ? cl->hlc : 0, sent_prev = 0;
    for (uint32_t i = 0; i < len; i++) {
        const lm_change *c = &b->ch[keys[i].idx];
        if (c->column && !strcmp(c->column, "received_at"))
            sent_prev = c->hlc;
    }
    lm__row_val_drop(rs, rcid);
    rs->vals[rcid] = (lm_value){.type = LM_VAL_INTEGER, .i = (int64_t)b->ctx->received_at_ms};
    rs->val_dirty[rcid] = 1;
    if (prev != sent_prev) {
        *cl = (cell){1, 1, lm__hlc_tick(r), r->site, prev};
        return LM_OK;
    }
    for (int c = 0; c <= lm__tables[tid - 1].n_cols; c++)
        if (rs->cells[c].has && rs->cells[c].hlc >= b->recv_hlc)
            b->recv_hlc = 0;
    if (!b->recv_hlc)
        b->recv_hlc = lm__hlc_tick(r);
    *cl = (cell){1, 1, b->recv_hlc, r->site, prev};

    lm_apply_result *res = b->res;
    uint32_t first = keys[0].idx;
    if (stamp_open && res->stamps[res->n_stamps - 1].hlc == b->recv_hlc) {
        res->stamps[res->n_stamps - 1].hi = first;
    } else {
        if (res->n_stamps == b->cap_stamps) {
            uint32_t cap = b->cap_stamps ? b->cap_stamps * 2 : 4;
            lm_stamp_range *ns = lm_realloc(res->stamps, cap * sizeof *ns);
            if (!ns)
                return LM_ENOMEM;
            res->stamps = ns;
            b->cap_stamps = cap;
        }
        res->stamps[res->n_stamps++] =
            (lm_stamp_range){b->recv_hlc, b->ctx->received_at_ms, first, first};
    }
    b->stamp_open = 1;
    return LM_OK;
}

/* The ledger's rules on one change from an untrusted writer
 * (lm_apply_ctx.ledger_rules): its site is the pushing device's, its key
 * and value pass rules.c. 0, a refusal code with *why, or an error. */
static int ledger_change(batch *b, const lm_change *c, int tid, int cid, const char **why)
{
    const lm_apply_ctx *ctx = b->ctx;
    *why = NULL;
    if (ctx->origin_site && c->site != ctx->origin_site) {
        *why = "change is stamped with another device's site";
        return LM_EDENIED;
    }
    int rc = lm_rules_text(c->pk, strlen(c->pk), LM_MAX_PK, why);
    if (rc || !cid)
        return rc;
    return lm__rules_cell(b->r, tid, cid, &c->value, b->now, why);
}

/* Refuses every valid change of a row the writer may not write as it
 * comes (its scope, or the ledger's rules on a new row): each gets the
 * reason, a cell the replica holds is repaired, and a refused new row with
 * a generated id is taken back out of the writer's replica by a tombstone
 * of our own (a natural catalog key is left alone: hq may create it
 * legitimately later). */
static int refuse_row(batch *b, rowstate *rs, const sortkey *keys, uint32_t len,
                      const uint8_t *valid, int code, const char *why)
{
    lm_replica *r = b->r;
    int rc = LM_OK;
    for (uint32_t i = 0; i < len && !rc; i++) {
        if (!valid[i])
            continue;
        int cc = b->cid[keys[i].idx];
        if (cc)
            repair(b, rs, cc);
        rc = add_refusal(b, keys[i].idx, code, why);
    }
    if (!rc && !rs->existed && !rs->cells[0].has && !strcmp(lm__tables[rs->tid - 1].pk, "id")) {
        rs->cells[0] = (cell){1, 1, lm__hlc_tick(r), r->site, 0};
        /* only the refused agent ever held the row: its tombstone is keyed
         * to that agent, so no other agent's pull reads it (a client that
         * sends refused rows by the thousand would otherwise have every
         * agent pull a tombstone for each) */
        const lm_scope *w = b->ctx ? b->ctx->writer : NULL;
        if (w && w->role == LM_ROLE_AGENT && w->user_id) {
            size_t ulen = strlen(w->user_id);
            if (!b->writer_key && (b->writer_key = lm_malloc(ulen + 3))) {
                memcpy(b->writer_key, "a:", 2);
                memcpy(b->writer_key + 2, w->user_id, ulen + 1);
            }
            if (!b->writer_key)
                return LM_ENOMEM;
            rs->tomb_key = b->writer_key;
        }
    }
    if (!rc)
        rc = lm__row_flush(b, rs);
    return rc;
}

/* A loaded stop's status and loaded weight are frozen (docs/dispatch.md):
 * the hlc of the load when the stored stop is loaded, else 0. A later write
 * to either is refused; the load's own cells (stamped with it) are not. */
static uint64_t loaded_at(const rowstate *rs, int *status_cid, int *weight_cid)
{
    static const lm_value loaded = {.type = LM_VAL_TEXT, .bytes = (uint8_t *)"loaded", .len = 6};
    *status_cid = lm__col_find(rs->tid, "status");
    *weight_cid = lm__col_find(rs->tid, "loaded_weight_g");
    if (strcmp(lm__tables[rs->tid - 1].name, "route_stops") || !rs->exists || !*status_cid ||
        !rs->cells[*status_cid].has || !lm__value_equal(&rs->vals[*status_cid], &loaded))
        return 0;
    return rs->cells[*status_cid].hlc;
}

/* 1 when every valid change of the row was stamped before the moved
 * writer's cut-off (lm_apply_ctx.writer_before_until_ms). */
static int stamped_before(const batch *b, const sortkey *keys, uint32_t len, const uint8_t *valid)
{
    int any = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (!valid[i])
            continue;
        if (LM_HLC_MS(b->ch[keys[i].idx].hlc) >= b->ctx->writer_before_until_ms)
            return 0;
        any = 1;
    }
    return any;
}

/* Whether v sets a route's status to cancelled while a stop of the route
 * (pk) is loaded: the load is on the truck, so the route is finished, not
 * called off (`lastmile route cancel` refuses the same). *yes = 1 then. */
static int cancels_loaded(lm_replica *r, int tid, int cid, const lm_value *v, const char *pk,
                          int *yes)
{
    *yes = 0;
    if (strcmp(lm__tables[tid - 1].name, "routes") || cid != lm__col_find(tid, "status") ||
        v->type != LM_VAL_TEXT || v->len != 9 || memcmp(v->bytes, "cancelled", 9))
        return LM_OK;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT 1 FROM route_stops WHERE route_id = ?1 AND status = 'loaded'"
                           " LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "check a route's stops");
    sqlite3_bind_text(st, 1, pk, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return lm__dberr(r, "check a route's stops");
    *yes = step == SQLITE_ROW;
    return LM_OK;
}

int lm__merge_row(batch *b, const sortkey *keys, uint32_t len)
{
    lm_replica *r = b->r;
    const lm_scope *w = b->ctx ? b->ctx->writer : NULL;
    int ledger = b->ctx && b->ctx->ledger_rules;
    uint64_t max_ahead = b->ctx && b->ctx->max_ahead_ms ? b->ctx->max_ahead_ms : r->max_drift_ms;
    int tid = keys[0].tid;
    rowstate rs;
    int rc = LM_OK, code, cid, bad_code = 0;
    const char *why, *bad_why = NULL;
    uint32_t ok = 0;
    memset(&rs, 0, sizeof rs);
    /* a range of stamped collections runs on across rows of other tables
     * (a grading between two purchases), not across a collection that got
     * no reported stamp */
    int stamp_open = b->stamp_open;
    if (tid && !strcmp(lm__tables[tid - 1].name, "collections"))
        b->stamp_open = 0;

    /* shape checks and clocks first: a bad change is refused on its own */
    /* pending rows of another table are inserted first: a scope check
     * reads other tables (a correction's collection, a stop's route),
     * never its own */
    if (b->n_rows && b->rows_tid != tid && (rc = lm__pend_rows_flush(b)))
        return rc;
    uint8_t *valid = lm_calloc(len, 1);
    if (!valid)
        return LM_ENOMEM;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t idx = keys[i].idx;
        const lm_change *c = &b->ch[idx];
        /* the column by name, also for a change refused below: the
         * scope check reads a new row's scope columns by name */
        b->cid[idx] = (uint8_t)(cid = col_find(tid, c->column, i ? b->cid[keys[i - 1].idx] : 0));
        if ((code = validate(c, tid, &cid, &why)) ||
            (ledger && (code = ledger_change(b, c, tid, cid, &why)))) {
            if (!why) {
                rc = code; /* not a refusal: the lookup failed */
                goto done;
            }
            if (!bad_code)
                bad_code = code, bad_why = why;
            if ((rc = add_refusal(b, idx, code, why)))
                goto done;
            continue;
        }
        if (b->ctx && b->ctx->origin_site && c->seq && c->seq <= b->watermark) {
            b->res->noops++;
            continue;
        }
        uint64_t h = c->hlc;
        if (LM_HLC_MS(h) > b->now + max_ahead) {
            /* a phone clock far ahead would win every later conflict: the
             * version is replaced by our own clock and the row flagged */
            h = lm__hlc_tick(r);
            b->res->clamped++;
            if ((rc = add_flag(b, c, h)))
                goto done;
        }
        lm__hlc_recv(r, h);
        b->hlc[idx] = h;
        valid[i] = 1;
        ok++;
    }
    if (!ok)
        goto done;

    rs.tid = tid;
    rs.pk = keys[0].pk;
    if ((rc = lm__row_load(r, &rs)))
        goto done;

    getctx g = {b, &rs, keys, len};
    if (w && !rs.cells[0].has) {
        code = lm__scope_row_check(r, w, tid, !rs.existed, group_get, &g, &why);
        if (code == LM_ESCOPE && b->ctx->writer_before && stamped_before(b, keys, len, valid)) {
            /* the user was moved: its changes made before it heard of the
             * move are checked against the scope it had then */
            const char *why_before = NULL;
            code = lm__scope_row_check(r, b->ctx->writer_before, tid, !rs.existed, group_get, &g,
                                       &why_before);
            if (code == LM_ESCOPE || code == LM_EDENIED)
                code = LM_ESCOPE; /* with the reason of the scope it has now */
        }
        if (code < 0 && code != LM_ESCOPE && code != LM_EDENIED) {
            rc = code;
            goto done;
        }
        if (code) {
            rc = refuse_row(b, &rs, keys, len, valid, code, why);
            goto done;
        }
    }
    /* a new row is whole or not at all: one refused cell refuses it, and
     * the row as a whole passes the ledger's rules (rules.c) */
    int cells = 0;
    for (uint32_t i = 0; i < len; i++)
        cells |= valid[i] && b->cid[keys[i].idx];
    if (ledger && cells && !rs.existed && !rs.cells[0].has) {
        code = bad_code;
        why = bad_why;
        if (!code && (code = lm__rules_row(r, tid, group_get, &g, &why)) && !why) {
            rc = code;
            goto done;
        }
        if (code) {
            rc = refuse_row(b, &rs, keys, len, valid, code, why);
            goto done;
        }
    }

    int status_cid = 0, weight_cid = 0;
    uint64_t frozen = ledger ? loaded_at(&rs, &status_cid, &weight_cid) : 0;
    for (uint32_t i = 0; i < len && !rc; i++) {
        if (!valid[i])
            continue;
        uint32_t idx = keys[i].idx;
        const lm_change *c = &b->ch[idx];
        uint64_t h = b->hlc[idx];
        cid = b->cid[idx];
        if (!cid) {
            if (w && w->role != LM_ROLE_SYSTEM && lm__tables[tid - 1].append_only)
                rc = add_refusal(b, idx, LM_EIMMUTABLE, "ledger rows are never deleted");
            else if (ledger && w && w->role == LM_ROLE_AGENT)
                rc = add_refusal(b, idx, LM_EDENIED,
                                 "agents never delete rows (hq deactivates a farmer)");
            else if (ledger && w && !strcmp(lm__tables[tid - 1].name, "farmers"))
                rc = add_refusal(b, idx, LM_EDENIED,
                                 "farmers are never deleted (hq deactivates them)");
            else if (frozen)
                rc = add_refusal(b, idx, LM_EIMMUTABLE, "the stop is loaded: it stays");
            else
                rc = merge_tombstone(b, &rs, c, h);
        } else if (rs.cells[0].has) {
            /* the row is deleted: delete wins; what the deleter did not see
             * is set aside in the conflict log */
            if (h <= rs.cells[0].prev) {
                b->res->noops++;
            } else {
                lm_value null = {.type = LM_VAL_NULL};
                rc = add_conflict(b, tid, rs.pk, cid, &null, rs.cells[0].hlc, rs.cells[0].site,
                                  &c->value, h, c->site);
            }
        } else if (frozen && h > frozen && (cid == status_cid || cid == weight_cid)) {
            repair(b, &rs, cid);
            rc = add_refusal(b, idx, LM_EIMMUTABLE,
                             "the stop is loaded: its status and loaded weight are frozen");
        } else {
            int held = 0;
            if (ledger && w && (rc = cancels_loaded(r, tid, cid, &c->value, rs.pk, &held)))
                break;
            if (held) {
                repair(b, &rs, cid);
                rc = add_refusal(b, idx, LM_EIMMUTABLE,
                                 "the route has a loaded stop: it is finished, not cancelled");
            } else {
                rc = merge_cell(b, &rs, idx, cid, h);
            }
        }
    }
    if (rc)
        goto done;

    /* the server stamps receipt of a new collection as its own write, so
     * the time syncs back to the agent like any other change */
    if (b->ctx && b->ctx->received_at_ms && !rs.existed && rs.exists && !rs.deleted &&
        !strcmp(lm__tables[tid - 1].name, "collections"))
        rc = stamp_received(b, &rs, keys, len, stamp_open);
    if (!rc)
        rc = lm__row_flush(b, &rs);

done:
    lm_free(valid);
    lm__row_clear(&rs);
    return rc;
}
