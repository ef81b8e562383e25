/*
 * salvage.c — a damaged replica's own work, copied into a new one.
 *
 * The new replica has already pulled everything the server holds for the
 * user, so what it lacks of the damaged file's rows is exactly what the
 * server never received (or a row the damaged file got from elsewhere,
 * which its log tells apart). Copies are plain INSERTs on the new
 * replica's connection: its triggers capture them as its own changes, and
 * its next sync sends them under its own site, once.
 *
 * Reading a damaged file: a scan stops at the first unreadable page, so
 * each table is read by rowid forward, then backward down to the last row
 * the forward scan reached. One damaged region costs only its own rows.
 *
 * Rows the new replica holds may still carry work the server never got:
 * a cell the damaged file's log shows as written there after its last
 * acknowledgement (a stop marked loaded, a farmer's new phone number). Its
 * value, when readable and not the one the new replica holds, is written
 * into the new replica as an UPDATE: captured as its own change, whose
 * prev_hlc is the server's version, so it fast-forwards there. The local
 * conflict and refusal logs are copied too (each row once, however many
 * times the file is salvaged).
 */
#include <stdio.h>
#include <string.h>

#include "sync_internal.h"

typedef struct salvage {
    lm_replica *r;
    sqlite3 *bad;
    uint64_t bad_site;  /* 0 when the damaged file's meta is unreadable */
    uint64_t bad_acked; /* its push_acked: its own changes after it never reached the server */
    lm_salvage_stats *st;
} salvage;

/* 1 when r holds the row, alive or as a tombstone; <0 on error. */
static int held(salvage *s, int tid, const char *pk)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    lm__sb q = {0};
    lm__sb_addf(&q,
                "SELECT 1 FROM \"%s\" WHERE \"%s\" = ?1 UNION ALL SELECT 1 FROM lm_versions "
                "WHERE tid = %d AND pk = ?1 AND cid = 0",
                t->name, t->pk, tid);
    if (q.oom)
        return lm__fail(s->r, LM_ENOMEM, "out of memory");
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->r->db, q.s, -1, &st, NULL);
    lm__sb_free(&q);
    if (rc != SQLITE_OK)
        return lm__dberr(s->r, "salvage: read the new replica");
    sqlite3_bind_text(st, 1, pk, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_ROW)
        return 1;
    return step == SQLITE_DONE ? 0 : lm__dberr(s->r, "salvage: read the new replica");
}

/* 1 when the damaged file's log says only other sites wrote the row; 0
 * when it names its own site, an unstamped capture, or cannot be read
 * (then the row is kept: re-sending is safer than losing). */
static int foreign(salvage *s, int tid, const char *pk)
{
    sqlite3_stmt *st = NULL;
    if (!s->bad_site ||
        sqlite3_prepare_v2(s->bad,
                           "SELECT count(*), count(*) FILTER (WHERE hlc IS NULL OR site = ?3) "
                           "FROM lm_versions WHERE tid = ?1 AND pk = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_bind_int(st, 1, tid);
    sqlite3_bind_text(st, 2, pk, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, (int64_t)s->bad_site);
    int other = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0 &&
                sqlite3_column_int64(st, 1) == 0;
    sqlite3_finalize(st);
    return other;
}

/* Inserts the current row of src (rowid, pk, cols...) into r. */
static int copy_row(salvage *s, int tid, sqlite3_stmt *src, sqlite3_stmt *ins)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    sqlite3_bind_value(ins, 1, sqlite3_column_value(src, 1));
    for (int c = 0; c < t->n_cols; c++) {
        /* the server stamps what only it writes */
        const char *owner = t->cols[c].owner;
        if (!(owner && strcmp(owner, "system") == 0))
            sqlite3_bind_value(ins, c + 2, sqlite3_column_value(src, c + 2));
    }
    if (sqlite3_step(ins) != SQLITE_DONE)
        return lm__dberr(s->r, "salvage: write the new replica");
    s->st->rows_copied++;
    return LM_OK;
}

/* Looks at one readable row of the damaged file. */
static int take_row(salvage *s, int tid, sqlite3_stmt *src, sqlite3_stmt *ins)
{
    const char *pk = (const char *)sqlite3_column_text(src, 1);
    if (!pk)
        return LM_OK;
    int h = held(s, tid, pk);
    if (h < 0)
        return h;
    if (h) {
        s->st->rows_known++;
        return LM_OK;
    }
    if (foreign(s, tid, pk)) {
        s->st->rows_foreign++;
        return LM_OK;
    }
    return copy_row(s, tid, src, ins);
}

/* SELECT rowid, pk, cols... FROM t WHERE rowid > ? ORDER BY rowid (ASC or
 * DESC), or the INSERT of pk, cols... into t. */
static int table_sql(int tid, int insert, const char *order, lm__sb *q)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    lm__sb_add(q, insert ? "INSERT INTO \"" : "SELECT rowid, \"");
    if (insert)
        lm__sb_addf(q, "%s\"(\"%s\"", t->name, t->pk);
    else
        lm__sb_addf(q, "%s\"", t->pk);
    for (int c = 0; c < t->n_cols; c++)
        lm__sb_addf(q, ", \"%s\"", t->cols[c].name);
    if (insert) {
        lm__sb_add(q, ") VALUES(?");
        for (int c = 0; c < t->n_cols; c++)
            lm__sb_add(q, ", ?");
        lm__sb_add(q, ")");
    } else {
        lm__sb_addf(q, " FROM \"%s\" WHERE rowid > ? ORDER BY rowid %s", t->name, order);
    }
    return q->oom ? LM_ENOMEM : LM_OK;
}

/* One scan of table tid in the damaged file; *last: the forward scan's
 * last rowid read (in), the backward scan's bound. Returns LM_OK, or the
 * new replica's error; *broken is set when an unreadable page stopped it. */
static int scan(salvage *s, int tid, int backward, int64_t *last, sqlite3_stmt *ins, int *broken)
{
    lm__sb q = {0};
    sqlite3_stmt *src = NULL;
    if (table_sql(tid, 0, backward ? "DESC" : "ASC", &q) != LM_OK) {
        lm__sb_free(&q);
        return lm__fail(s->r, LM_ENOMEM, "out of memory");
    }
    int rc = LM_OK, step;
    if (sqlite3_prepare_v2(s->bad, q.s, -1, &src, NULL) != SQLITE_OK) {
        lm__sb_free(&q);
        *broken = 1;
        return LM_OK;
    }
    lm__sb_free(&q);
    sqlite3_bind_int64(src, 1, backward ? *last : INT64_MIN);
    while ((step = sqlite3_step(src)) == SQLITE_ROW) {
        if (!backward)
            *last = sqlite3_column_int64(src, 0);
        if ((rc = take_row(s, tid, src, ins)) != LM_OK)
            break;
    }
    if (rc == LM_OK && step != SQLITE_DONE)
        *broken = 1;
    sqlite3_finalize(src);
    return rc;
}

static void note_damaged(salvage *s, const char *name)
{
    lm_salvage_stats *st = s->st;
    size_t len = strlen(st->damaged);
    snprintf(st->damaged + len, sizeof st->damaged - len, "%s%s", len ? ", " : "", name);
    st->tables_damaged++;
}

static int salvage_table(salvage *s, int tid)
{
    lm__sb q = {0};
    sqlite3_stmt *ins = NULL;
    if (table_sql(tid, 1, NULL, &q) != LM_OK) {
        lm__sb_free(&q);
        return lm__fail(s->r, LM_ENOMEM, "out of memory");
    }
    int rc = sqlite3_prepare_v2(s->r->db, q.s, -1, &ins, NULL) == SQLITE_OK
                 ? LM_OK
                 : lm__dberr(s->r, "salvage: prepare");
    lm__sb_free(&q);
    int64_t last = INT64_MIN;
    int broken = 0;
    if (rc == LM_OK)
        rc = scan(s, tid, 0, &last, ins, &broken);
    if (rc == LM_OK && broken) {
        note_damaged(s, lm__tables[tid - 1].name);
        rc = scan(s, tid, 1, &last, ins, &broken);
    }
    sqlite3_finalize(ins);
    return rc;
}

/* A meta value of the damaged file, 0 when it cannot be read. */
static uint64_t bad_meta(sqlite3 *bad, const char *key)
{
    sqlite3_stmt *st = NULL;
    uint64_t v = 0;
    if (sqlite3_prepare_v2(bad, "SELECT value FROM lm_meta WHERE key = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

/* Prepares "SELECT col FROM t WHERE pk = ?" on db (NULL on failure). */
static sqlite3_stmt *cell_reader(sqlite3 *db, const lm__table_def *t, int cid)
{
    lm__sb q = {0};
    sqlite3_stmt *st = NULL;
    lm__sb_addf(&q, "SELECT \"%s\" FROM \"%s\" WHERE \"%s\" = ?", t->cols[cid - 1].name, t->name,
                t->pk);
    if (q.oom || sqlite3_prepare_v2(db, q.s, -1, &st, NULL) != SQLITE_OK)
        st = NULL;
    lm__sb_free(&q);
    return st;
}

/* One cell the damaged file wrote after its last acknowledgement, on a row
 * the new replica holds alive: its value goes into the new replica when
 * readable and different. */
static int take_cell(salvage *s, int tid, const char *pk, int cid)
{
    const lm__table_def *t = &lm__tables[tid - 1];
    const char *owner = t->cols[cid - 1].owner;
    if (owner && strcmp(owner, "system") == 0)
        return LM_OK; /* the server's to write */
    sqlite3_stmt *from = cell_reader(s->bad, t, cid), *mine = NULL, *upd = NULL;
    lm__sb q = {0}, u = {0};
    int rc = LM_OK;
    if (!from)
        return LM_OK; /* unreadable: nothing to carry */
    sqlite3_bind_text(from, 1, pk, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(from) != SQLITE_ROW)
        goto out;
    lm__sb_addf(&q, "SELECT 1 FROM \"%s\" WHERE \"%s\" = ?1 AND \"%s\" IS NOT ?2", t->name, t->pk,
                t->cols[cid - 1].name);
    if (q.oom || sqlite3_prepare_v2(s->r->db, q.s, -1, &mine, NULL) != SQLITE_OK) {
        rc = q.oom ? lm__fail(s->r, LM_ENOMEM, "out of memory")
                   : lm__dberr(s->r, "salvage: read the new replica");
        goto out;
    }
    sqlite3_bind_text(mine, 1, pk, -1, SQLITE_TRANSIENT);
    sqlite3_bind_value(mine, 2, sqlite3_column_value(from, 0));
    int step = sqlite3_step(mine);
    if (step == SQLITE_DONE) /* not held alive, or the same value */
        goto out;
    if (step != SQLITE_ROW) {
        rc = lm__dberr(s->r, "salvage: read the new replica");
        goto out;
    }
    lm__sb_addf(&u, "UPDATE \"%s\" SET \"%s\" = ?2 WHERE \"%s\" = ?1", t->name,
                t->cols[cid - 1].name, t->pk);
    if (u.oom || sqlite3_prepare_v2(s->r->db, u.s, -1, &upd, NULL) != SQLITE_OK) {
        rc = u.oom ? lm__fail(s->r, LM_ENOMEM, "out of memory")
                   : lm__dberr(s->r, "salvage: write the new replica");
        goto out;
    }
    sqlite3_bind_text(upd, 1, pk, -1, SQLITE_TRANSIENT);
    sqlite3_bind_value(upd, 2, sqlite3_column_value(from, 0));
    if (sqlite3_step(upd) != SQLITE_DONE)
        rc = lm__dberr(s->r, "salvage: write the new replica");
    else
        s->st->cells_copied++;
out:
    lm__sb_free(&q);
    lm__sb_free(&u);
    sqlite3_finalize(upd);
    sqlite3_finalize(mine);
    sqlite3_finalize(from);
    return rc;
}

/* The damaged file's own cell changes after its last acknowledgement
 * (read as far as its log is readable). */
static int salvage_cells(salvage *s)
{
    sqlite3_stmt *v = NULL;
    if (!s->bad_site ||
        sqlite3_prepare_v2(s->bad,
                           "SELECT tid, pk, cid FROM lm_versions WHERE cid > 0 AND seq > ?1"
                           " AND (hlc IS NULL OR site = ?2)",
                           -1, &v, NULL) != SQLITE_OK) {
        sqlite3_finalize(v);
        return LM_OK;
    }
    sqlite3_bind_int64(v, 1, (int64_t)s->bad_acked);
    sqlite3_bind_int64(v, 2, (int64_t)s->bad_site);
    int rc = LM_OK;
    while (rc == LM_OK && sqlite3_step(v) == SQLITE_ROW) {
        int tid = sqlite3_column_int(v, 0), cid = sqlite3_column_int(v, 2);
        const char *pk = (const char *)sqlite3_column_text(v, 1);
        if (pk && tid >= 1 && tid <= LM__N_TABLES && cid <= lm__tables[tid - 1].n_cols)
            rc = take_cell(s, tid, pk, cid);
    }
    sqlite3_finalize(v);
    return rc;
}

/* Copies the rows of a local log (lm_conflicts, lm_refusals) the new
 * replica does not hold yet, all columns but the id. */
static int copy_log(salvage *s, const char *table, uint64_t *count)
{
    lm__sb q = {0};
    sqlite3_stmt *from = NULL, *ins = NULL;
    lm__sb_addf(&q, "SELECT * FROM %s ORDER BY id", table);
    int ok = !q.oom && sqlite3_prepare_v2(s->bad, q.s, -1, &from, NULL) == SQLITE_OK;
    lm__sb_free(&q);
    if (!ok) {
        sqlite3_finalize(from);
        return LM_OK; /* unreadable */
    }
    int n = sqlite3_column_count(from);
    lm__sb_addf(&q, "INSERT INTO %s(", table);
    for (int i = 1; i < n; i++)
        lm__sb_addf(&q, "%s\"%s\"", i > 1 ? ", " : "", sqlite3_column_name(from, i));
    lm__sb_add(&q, ") SELECT ");
    for (int i = 1; i < n; i++)
        lm__sb_addf(&q, "%s?%d", i > 1 ? ", " : "", i);
    lm__sb_addf(&q, " WHERE NOT EXISTS (SELECT 1 FROM %s WHERE ", table);
    for (int i = 1; i < n; i++)
        lm__sb_addf(&q, "%s\"%s\" IS ?%d", i > 1 ? " AND " : "", sqlite3_column_name(from, i), i);
    lm__sb_add(&q, ")");
    ok = n > 1 && !q.oom && sqlite3_prepare_v2(s->r->db, q.s, -1, &ins, NULL) == SQLITE_OK;
    lm__sb_free(&q);
    int rc = LM_OK;
    while (ok && rc == LM_OK && sqlite3_step(from) == SQLITE_ROW) {
        sqlite3_reset(ins);
        for (int i = 1; i < n; i++)
            sqlite3_bind_value(ins, i, sqlite3_column_value(from, i));
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = lm__dberr(s->r, "salvage: copy a local log");
        else if (sqlite3_changes(s->r->db) > 0)
            (*count)++;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(from);
    return rc;
}

int lm_replica_salvage(lm_replica *r, const char *bad_path, lm_salvage_stats *st)
{
    if (!r || !bad_path || !st)
        return LM_EINVAL;
    memset(st, 0, sizeof *st);
    salvage s = {r, NULL, 0, 0, st};
    char err[256];
    if (lm__open_quiet(bad_path, &s.bad, err, sizeof err) != LM_OK)
        return lm__fail(r, LM_EDB, "%s", err);
    s.bad_site = bad_meta(s.bad, "site");
    s.bad_acked = bad_meta(s.bad, "push_acked");
    int rc = lm__begin(r);
    for (int tid = 1; rc == LM_OK && tid <= LM__N_TABLES; tid++)
        rc = salvage_table(&s, tid);
    if (rc == LM_OK)
        rc = salvage_cells(&s);
    if (rc == LM_OK)
        rc = copy_log(&s, "lm_conflicts", &st->conflicts_copied);
    if (rc == LM_OK)
        rc = copy_log(&s, "lm_refusals", &st->refusals_copied);
    if (rc == LM_OK)
        rc = lm__commit(r);
    else
        lm__rollback(r);
    sqlite3_close_v2(s.bad);
    if (rc == LM_OK)
        rc = lm_replica_stamp(r, NULL);
    return rc;
}
