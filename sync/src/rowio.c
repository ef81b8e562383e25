/*
 * rowio.c — a batch's row and version I/O: loading a row with its
 * versions, and writing its values and its version rows, for the merge
 * rules (merge.c) that run on it in between.
 *
 * Version log: a row new to this replica whose cells come from one write
 * (same hlc and site, no prev) is logged as one row entry (schema.c)
 * instead of one version row per cell. Loading a row expands its row entry
 * into cells, so the merge rules run on cells alone; writing a covered
 * cell again takes it out of the mask and gives it its own entry.
 *
 * Cost: a pushed record is one statement reading the row and its versions
 * together (lm__row_load), and two inserts that wait with the batch's other
 * new rows and version rows to go in 16 at a time (lm__pend_rows_flush,
 * lm__pend_vers_flush): executing a statement costs about as much as the
 * b-tree work of one small insert. Multi-row inserts say OR FAIL, so
 * SQLite opens no statement journal for them (any error fails the batch).
 * Values are borrowed from the batch and bound without copies.
 */
#include "batch.h"

/* Drops vals[cid], freeing it unless it is borrowed from the batch. */
void lm__row_val_drop(rowstate *rs, int cid)
{
    if (rs->lent >> cid & 1u)
        rs->vals[cid] = (lm_value){.type = LM_VAL_NULL};
    else
        lm_value_clear(&rs->vals[cid]);
    rs->lent &= ~(1u << cid);
}

void lm__row_clear(rowstate *rs)
{
    for (int i = 0; i <= LM__MAX_COLS; i++)
        lm__row_val_drop(rs, i);
}

/* Binds a value that outlives the statement's step (no copy). */
static void bind_static(sqlite3_stmt *st, int i, const lm_value *v)
{
    if (v->type == LM_VAL_TEXT)
        sqlite3_bind_text(st, i, v->bytes ? (const char *)v->bytes : "", (int)v->len,
                          SQLITE_STATIC);
    else if (v->type == LM_VAL_BLOB)
        sqlite3_bind_blob(st, i, v->bytes ? (const void *)v->bytes : "", (int)v->len,
                          SQLITE_STATIC);
    else
        lm__bind_value(st, i, v);
}

/* Loads the row and its versions with one statement: the row (kind 0,
 * its values from column 6 on) and then its version rows (kind 1). */
int lm__row_load(lm_replica *r, rowstate *rs)
{
    const lm__table_def *t = &lm__tables[rs->tid - 1];
    lm__table_stmts *ts = &r->t[rs->tid];
    int rc;
    if (!ts->row) {
        lm__sb b = {0};
        lm__sb_add(&b, "SELECT 0, NULL, NULL, NULL, NULL, NULL");
        for (int c = 0; c < t->n_cols; c++)
            lm__sb_addf(&b, ", \"%s\"", t->cols[c].name);
        lm__sb_addf(&b,
                    " FROM \"%s\" WHERE \"%s\" = ?2 UNION ALL"
                    " SELECT 1, cid, hlc, site, prev_hlc, cols",
                    t->name, t->pk);
        for (int c = 0; c < t->n_cols; c++)
            lm__sb_add(&b, ", NULL");
        lm__sb_add(&b, " FROM lm_versions WHERE tid = ?1 AND pk = ?2");
        rc = b.oom ? LM_ENOMEM : lm__prepare(r, &ts->row, b.s);
        lm__sb_free(&b);
        if (rc)
            return rc;
    }
    for (int c = 0; c <= LM__MAX_COLS; c++)
        rs->vals[c].type = LM_VAL_NULL;
    sqlite3_stmt *st = ts->row;
    sqlite3_bind_int(st, 1, rs->tid);
    sqlite3_bind_text(st, 2, rs->pk, -1, SQLITE_STATIC);
    cell re = {0};
    int s = SQLITE_DONE;
    rc = LM_OK;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int(st, 0) == 0) {
            rs->existed = rs->exists = 1;
            for (int c = 0; c < t->n_cols && !rc; c++)
                rc = lm__column_value(st, 6 + c, &rs->vals[c + 1]);
            continue;
        }
        int cid = sqlite3_column_int(st, 1);
        rs->logged = 1;
        cell *cl = cid == LM__ROW_CID ? &re : cid >= 0 && cid <= t->n_cols ? &rs->cells[cid] : NULL;
        if (!cl)
            continue;
        cl->has = 1;
        cl->hlc = (uint64_t)sqlite3_column_int64(st, 2);
        cl->site = (uint64_t)sqlite3_column_int64(st, 3);
        cl->prev = (uint64_t)sqlite3_column_int64(st, 4);
        if (cid == LM__ROW_CID) {
            rs->re_has = 1;
            rs->re_cols = (uint32_t)sqlite3_column_int64(st, 5);
        }
    }
    sqlite3_reset(st);
    if (rc)
        return rc;
    if (s != SQLITE_DONE)
        return lm__dberr(r, "read row");
    /* the row entry's columns as cells; a column with an entry of its own
     * (never written so) keeps that one */
    for (int c = 1; re.has && c <= t->n_cols; c++)
        if ((rs->re_cols >> c & 1u) && !rs->cells[c].has)
            rs->cells[c] = (cell){1, 0, re.hlc, re.site, re.prev};
    return LM_OK;
}

/* The cached INSERT or UPDATE of table tid's columns in mask (a few kept
 * per table). */
static int row_stmt(lm_replica *r, int tid, uint32_t mask, int insert, sqlite3_stmt **out)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    lm__table_stmts *ts = &r->t[tid];
    sqlite3_stmt **slots = insert ? ts->ins : ts->upd;
    uint32_t *masks = insert ? ts->ins_mask : ts->upd_mask;
    unsigned *next = insert ? &ts->ins_next : &ts->upd_next;
    int rc;
    for (int k = 0; k < LM__STMT_SLOTS; k++)
        if (slots[k] && masks[k] == mask) {
            *out = slots[k];
            return LM_OK;
        }
    unsigned k = (*next)++ % LM__STMT_SLOTS;
    sqlite3_stmt **st = &slots[k];
    sqlite3_finalize(*st);
    *st = NULL;
    lm__sb b = {0};
    if (insert) {
        lm__sb_addf(&b, "INSERT INTO \"%s\"(\"%s\"", t->name, t->pk);
        for (int c = 1; c <= t->n_cols; c++)
            if (mask & (1u << c))
                lm__sb_addf(&b, ", \"%s\"", t->cols[c - 1].name);
        lm__sb_add(&b, ") VALUES(?1");
        for (int c = 1; c <= t->n_cols; c++)
            if (mask & (1u << c))
                lm__sb_addf(&b, ", ?%d", c + 1);
        lm__sb_add(&b, ")");
    } else {
        lm__sb_addf(&b, "UPDATE \"%s\" SET ", t->name);
        int first = 1;
        for (int c = 1; c <= t->n_cols; c++)
            if (mask & (1u << c)) {
                lm__sb_addf(&b, "%s\"%s\" = ?%d", first ? "" : ", ", t->cols[c - 1].name, c + 1);
                first = 0;
            }
        lm__sb_addf(&b, " WHERE \"%s\" = ?1", t->pk);
    }
    rc = b.oom ? LM_ENOMEM : lm__prepare(r, st, b.s);
    lm__sb_free(&b);
    if (rc)
        return rc;
    masks[k] = mask;
    *out = *st;
    return LM_OK;
}

/* Runs a row statement from row_stmt with pk and the values in mask. */
static int row_exec(lm_replica *r, sqlite3_stmt *st, const char *pk, const lm_value *vals,
                    uint32_t mask, int n_cols, const char *what)
{
    sqlite3_bind_text(st, 1, pk, -1, SQLITE_STATIC);
    for (int c = 1; c <= n_cols; c++)
        if (mask & (1u << c))
            bind_static(st, c + 1, &vals[c]);
    int s = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, what);
}

void lm__pend_row_free(pend_row *p)
{
    for (int c = 0; c <= LM__MAX_COLS; c++)
        if (p->owned >> c & 1u)
            lm_value_clear(&p->vals[c]);
    p->owned = 0;
}

/* Inserts the pending rows: PEND_ROWS at a time with one statement (OR
 * FAIL: a multi-row INSERT otherwise opens a statement journal to undo its
 * own rows on an error; here any error fails the whole batch), the rest
 * one by one. Rows are inserted with every column: a new row's other
 * columns are NULL either way. */
int lm__pend_rows_flush(batch *b)
{
    lm_replica *r = b->r;
    int tid = b->rows_tid, rc = LM_OK;
    uint32_t i = 0;
    if (!b->n_rows)
        return LM_OK;
    const lm__table_def *t = &lm__tables[tid - 1];
    int n_cols = t->n_cols, w = n_cols + 1;
    uint32_t all = ((1u << n_cols) - 1u) << 1;
    if (b->chunks && b->n_rows == PEND_ROWS && b->rows_st_tid != tid) {
        sqlite3_finalize(b->rows_st);
        b->rows_st = NULL;
        b->rows_st_tid = 0;
        lm__sb q = {0};
        lm__sb_addf(&q, "INSERT OR FAIL INTO \"%s\"(\"%s\"", t->name, t->pk);
        for (int c = 0; c < n_cols; c++)
            lm__sb_addf(&q, ", \"%s\"", t->cols[c].name);
        lm__sb_add(&q, ") VALUES");
        for (int k = 0; k < PEND_ROWS; k++) {
            lm__sb_add(&q, k ? ",(?" : "(?");
            for (int c = 0; c < n_cols; c++)
                lm__sb_add(&q, ", ?");
            lm__sb_add(&q, ")");
        }
        rc = q.oom ? LM_ENOMEM : lm__prepare(r, &b->rows_st, q.s);
        lm__sb_free(&q);
        if (rc)
            goto done;
        b->rows_st_tid = tid;
    }
    if (b->chunks && b->n_rows == PEND_ROWS) {
        sqlite3_stmt *st = b->rows_st;
        for (uint32_t k = 0; k < PEND_ROWS; k++) {
            const pend_row *p = &b->rows[k];
            sqlite3_bind_text(st, (int)k * w + 1, p->pk, -1, SQLITE_STATIC);
            for (int c = 1; c <= n_cols; c++)
                bind_static(st, (int)k * w + 1 + c, &p->vals[c]);
        }
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (s != SQLITE_DONE) {
            rc = lm__dberr(r, "insert rows");
            goto done;
        }
        i = PEND_ROWS;
    }
    for (; i < b->n_rows && !rc; i++) {
        sqlite3_stmt *st;
        if (!(rc = row_stmt(r, tid, all, 1, &st)))
            rc = row_exec(r, st, b->rows[i].pk, b->rows[i].vals, all, n_cols, "insert row");
    }
done:
    for (i = 0; i < b->n_rows; i++)
        lm__pend_row_free(&b->rows[i]);
    b->n_rows = 0;
    return rc;
}

/* A row new to the replica joins the pending rows; its values move there
 * (borrowed ones stay borrowed). */
static int pend_row_add(batch *b, rowstate *rs)
{
    int rc;
    if (b->n_rows && b->rows_tid != rs->tid && (rc = lm__pend_rows_flush(b)))
        return rc;
    b->rows_tid = rs->tid;
    pend_row *p = &b->rows[b->n_rows++];
    p->pk = rs->pk;
    p->owned = 0;
    for (int c = 0; c <= LM__MAX_COLS; c++) {
        p->vals[c] = rs->val_dirty[c] ? rs->vals[c] : (lm_value){.type = LM_VAL_NULL};
        if (!rs->val_dirty[c])
            continue;
        if (!(rs->lent >> c & 1u))
            p->owned |= 1u << c;
        rs->vals[c] = (lm_value){.type = LM_VAL_NULL};
        rs->lent &= ~(1u << c);
    }
    return b->n_rows == PEND_ROWS ? lm__pend_rows_flush(b) : LM_OK;
}

/* INSERT or UPDATE of the dirty columns; a new row waits with the pending
 * rows. */
static int row_write(batch *b, rowstate *rs)
{
    lm_replica *r = b->r;
    int n_cols = lm__tables[rs->tid - 1].n_cols;
    uint32_t mask = 0;
    sqlite3_stmt *st;
    int rc;
    for (int c = 1; c <= n_cols; c++)
        if (rs->val_dirty[c])
            mask |= 1u << c;
    if (!mask)
        return LM_OK;
    if (!rs->existed)
        return pend_row_add(b, rs);
    if ((rc = row_stmt(r, rs->tid, mask, 0, &st)))
        return rc;
    return row_exec(r, st, rs->pk, rs->vals, mask, n_cols, "update row");
}

/* Inserts the pending version rows, PEND_VERS at a time with one
 * statement (OR FAIL, as lm__pend_rows_flush), the rest one by one. */
int lm__pend_vers_flush(batch *b)
{
    lm_replica *r = b->r;
    uint32_t i = 0, n = b->n_vers;
    int rc = LM_OK;
    b->n_vers = 0;
    while (i < n && !rc) {
        uint32_t k = b->chunks && n - i >= PEND_VERS ? PEND_VERS : 1;
        sqlite3_stmt **st = k > 1 ? &b->vers_st : &r->s_ver_insert[0];
        if (!*st) {
            lm__sb q = {0};
            lm__sb_add(&q, "INSERT OR FAIL INTO lm_versions(tid, pk, cid, hlc, site, prev_hlc,"
                           " seq, cols, scope) VALUES");
            for (uint32_t j = 0; j < k; j++)
                lm__sb_add(&q, j ? ",(?, ?, ?, ?, ?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?, ?, ?, ?, ?)");
            rc = q.oom ? LM_ENOMEM : lm__prepare(r, st, q.s);
            lm__sb_free(&q);
            if (rc)
                break;
        }
        for (uint32_t j = 0; j < k; j++) {
            const pend_ver *v = &b->vers[i + j];
            int p = 1 + (int)j * 9;
            sqlite3_bind_int(*st, p, v->tid);
            sqlite3_bind_text(*st, p + 1, v->pk, -1, SQLITE_STATIC);
            sqlite3_bind_int(*st, p + 2, v->cid);
            sqlite3_bind_int64(*st, p + 3, (int64_t)v->hlc);
            sqlite3_bind_int64(*st, p + 4, (int64_t)v->site);
            sqlite3_bind_int64(*st, p + 5, (int64_t)v->prev);
            sqlite3_bind_int64(*st, p + 6, (int64_t)v->seq);
            if (v->cols)
                sqlite3_bind_int64(*st, p + 7, (int64_t)v->cols);
            else
                sqlite3_bind_null(*st, p + 7);
            sqlite3_bind_text(*st, p + 8, v->scope, -1, SQLITE_STATIC);
        }
        int s = sqlite3_step(*st);
        sqlite3_reset(*st);
        if (s != SQLITE_DONE)
            rc = lm__dberr(r, "write version");
        i += k;
    }
    for (i = 0; i < n; i++) {
        lm_free(b->vers[i].scope);
        b->vers[i].scope = NULL;
    }
    return rc;
}

/* The row's cells to log again: bit c for cell c (0 = tombstone). */
static uint32_t dirty_cells(const rowstate *rs)
{
    uint32_t dirty = 0;
    for (int c = 0; c <= lm__tables[rs->tid - 1].n_cols; c++)
        if (rs->cells[c].dirty)
            dirty |= 1u << c;
    return dirty;
}

/* Writes the dirty cell versions of a row with one multi-row upsert (one
 * statement per row instead of one per cell: the version log is most of
 * what a merge writes). Statements are kept per entry count. A new row
 * whose cells share one write becomes a row entry (schema.c); a row
 * entry's columns written again leave its mask. key is the row's scope
 * key for every version but the tombstone (scope_key.c). */
static int ver_write(batch *b, rowstate *rs, const char *key)
{
    lm_replica *r = b->r;
    const char *tomb_key = r->keyed ? (rs->tomb_key ? rs->tomb_key : "*") : NULL;
    int n_cols = lm__tables[rs->tid - 1].n_cols;
    int cids[LM__MAX_COLS + 2], k = 0, rc;
    uint32_t dirty = dirty_cells(rs), cover = 0;
    if (!dirty)
        return LM_OK;

    if (rs->re_has && !rs->deleted && (rs->re_cols & dirty)) {
        uint32_t left = rs->re_cols & ~dirty;
        int s;
        if ((rc = lm__prepare(r, &r->s_ver_recols,
                              "UPDATE lm_versions SET cols = ?3 WHERE tid = ?1 AND pk = ?2"
                              " AND cid = -1")) ||
            (rc = lm__prepare(r, &r->s_ver_redel,
                              "DELETE FROM lm_versions WHERE tid = ?1 AND pk = ?2 AND cid = -1")))
            return rc;
        sqlite3_stmt *st = left ? r->s_ver_recols : r->s_ver_redel;
        sqlite3_bind_int(st, 1, rs->tid);
        sqlite3_bind_text(st, 2, rs->pk, -1, SQLITE_STATIC);
        if (left)
            sqlite3_bind_int64(st, 3, (int64_t)left);
        s = sqlite3_step(st);
        sqlite3_reset(st);
        if (s != SQLITE_DONE)
            return lm__dberr(r, "write version");
    }
    /* a row new to this replica, no version of it logged: the cells of
     * one write (same hlc and site, no prev) become one row entry */
    const cell *first = NULL;
    if (!rs->logged && !rs->existed && !rs->deleted) {
        for (int c = 1; c <= n_cols; c++) {
            const cell *cl = &rs->cells[c];
            if (!(dirty >> c & 1u) || cl->prev)
                continue;
            if (!first)
                first = cl;
            if (cl->hlc == first->hlc && cl->site == first->site)
                cover |= 1u << c;
        }
        if ((cover & (cover - 1)) == 0)
            cover = 0; /* one cell: its own entry is as small */
    }
    if (cover)
        cids[k++] = LM__ROW_CID;
    for (int c = 0; c <= n_cols; c++)
        if ((dirty & ~cover) >> c & 1u)
            cids[k++] = c;
    /* a row with no version logged needs no upsert (which would probe the
     * key once more before inserting): its version rows wait with the
     * pending ones */
    rc = LM_OK;
    if (!rs->logged) {
        for (int i = 0; i < k && !rc; i++) {
            const cell *cl = cids[i] == LM__ROW_CID ? first : &rs->cells[cids[i]];
            const char *k1 = cids[i] ? key : tomb_key;
            char *vkey = NULL;
            if (k1 && !(vkey = lm_strdup(k1))) {
                rc = LM_ENOMEM;
                break;
            }
            b->seq += cids[i] == LM__ROW_CID ? (uint64_t)n_cols : 1u;
            b->vers[b->n_vers++] =
                (pend_ver){rs->tid,  cids[i],  rs->pk, cl->hlc,
                           cl->site, cl->prev, b->seq, cids[i] == LM__ROW_CID ? cover : 0,
                           vkey};
            if (b->n_vers == PEND_VERS)
                rc = lm__pend_vers_flush(b);
        }
        return rc;
    }
    sqlite3_stmt **st = &r->s_ver_upsert[k - 1];
    if (!*st) {
        lm__sb q = {0};
        lm__sb_add(&q, "INSERT OR FAIL INTO lm_versions(tid, pk, cid, hlc, site, prev_hlc, seq,"
                       " cols, scope) VALUES");
        for (int i = 0; i < k; i++)
            lm__sb_add(&q, i ? ",(?1, ?2, ?, ?, ?, ?, ?, ?, ?)" : "(?1, ?2, ?, ?, ?, ?, ?, ?, ?)");
        lm__sb_add(&q, " ON CONFLICT(tid, pk, cid) DO UPDATE SET hlc = excluded.hlc,"
                       " site = excluded.site, prev_hlc = excluded.prev_hlc,"
                       " seq = excluded.seq, cols = excluded.cols, scope = excluded.scope");
        rc = q.oom ? LM_ENOMEM : lm__prepare(r, st, q.s);
        lm__sb_free(&q);
        if (rc)
            return rc;
    }
    sqlite3_bind_int(*st, 1, rs->tid);
    sqlite3_bind_text(*st, 2, rs->pk, -1, SQLITE_STATIC);
    for (int i = 0; i < k; i++) {
        int p = 3 + i * 7;
        const cell *cl = cids[i] == LM__ROW_CID ? first : &rs->cells[cids[i]];
        /* a row entry reserves one seq per column of the table */
        b->seq += cids[i] == LM__ROW_CID ? (uint64_t)n_cols : 1u;
        sqlite3_bind_int(*st, p, cids[i]);
        sqlite3_bind_int64(*st, p + 1, (int64_t)cl->hlc);
        sqlite3_bind_int64(*st, p + 2, (int64_t)cl->site);
        sqlite3_bind_int64(*st, p + 3, (int64_t)cl->prev);
        sqlite3_bind_int64(*st, p + 4, (int64_t)b->seq);
        if (cids[i] == LM__ROW_CID)
            sqlite3_bind_int64(*st, p + 5, (int64_t)cover);
        else
            sqlite3_bind_null(*st, p + 5);
        sqlite3_bind_text(*st, p + 6, cids[i] ? key : tomb_key, -1, SQLITE_STATIC);
    }
    int s = sqlite3_step(*st);
    sqlite3_reset(*st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "write version");
}

int lm__row_flush(batch *b, rowstate *rs)
{
    lm_replica *r = b->r;
    const lm__table_def *t = &lm__tables[rs->tid - 1];
    int rc;
    if (rs->deleted) {
        lm__table_stmts *ts = &r->t[rs->tid];
        if (rs->existed) {
            if (!ts->del) {
                lm__sb s = {0};
                lm__sb_addf(&s, "DELETE FROM \"%s\" WHERE \"%s\" = ?", t->name, t->pk);
                rc = s.oom ? LM_ENOMEM : lm__prepare(r, &ts->del, s.s);
                lm__sb_free(&s);
                if (rc)
                    return rc;
            }
            sqlite3_bind_text(ts->del, 1, rs->pk, -1, SQLITE_STATIC);
            int s = sqlite3_step(ts->del);
            sqlite3_reset(ts->del);
            if (s != SQLITE_DONE)
                return lm__dberr(r, "delete row");
        }
        if ((rc = lm__prepare(r, &r->s_ver_delrow,
                              "DELETE FROM lm_versions WHERE tid = ? AND pk = ? AND cid <> 0")))
            return rc;
        sqlite3_bind_int(r->s_ver_delrow, 1, rs->tid);
        sqlite3_bind_text(r->s_ver_delrow, 2, rs->pk, -1, SQLITE_STATIC);
        int s = sqlite3_step(r->s_ver_delrow);
        sqlite3_reset(r->s_ver_delrow);
        if (s != SQLITE_DONE)
            return lm__dberr(r, "delete versions");
        return ver_write(b, rs, NULL);
    }
    /* the row's scope key for its versions, while its values are here
     * (row_write hands a new row's values to the pending insert); none
     * when no version is written (a grading's costs a lookup) */
    char *key = NULL;
    rc = dirty_cells(rs) ? lm__scope_key(r, rs->tid, rs->vals, &key) : LM_OK;
    if (!rc)
        rc = row_write(b, rs);
    if (!rc)
        rc = ver_write(b, rs, key);
    lm_free(key);
    return rc;
}
