/*
 * conflicts.c — the conflict log and the refusal log, as lists for people
 * to look at, and resolving a conflict (which is itself a synced write).
 */
#include <string.h>

#include "sync_internal.h"

static char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return lm_strdup(s ? s : "");
}

void lm_conflicts_free(lm_conflict *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++) {
        lm_free(c[i].table);
        lm_free(c[i].pk);
        lm_free(c[i].column);
        lm_value_clear(&c[i].winner);
        lm_value_clear(&c[i].loser);
    }
    lm_free(c);
}

int lm_replica_conflicts(lm_replica *r, int include_resolved, lm_conflict **out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!r || !out || !n)
        return LM_EINVAL;
    sqlite3_stmt *st = NULL;
    lm_conflict *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = LM_OK, s;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT id, tbl, pk, col, winner_value, loser_value, winner_hlc,"
                           " winner_site, loser_hlc, loser_site, at, resolved FROM lm_conflicts"
                           " WHERE ?1 OR resolved = 0 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "list conflicts");
    sqlite3_bind_int(st, 1, include_resolved ? 1 : 0);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            lm_conflict *nv = lm_realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = LM_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        lm_conflict *c = &v[cnt++];
        memset(c, 0, sizeof *c);
        c->winner.type = c->loser.type = LM_VAL_NULL;
        c->id = sqlite3_column_int64(st, 0);
        c->table = col_text(st, 1);
        c->pk = col_text(st, 2);
        c->column = col_text(st, 3);
        if (!c->table || !c->pk || !c->column || lm__column_value(st, 4, &c->winner) ||
            lm__column_value(st, 5, &c->loser)) {
            rc = LM_ENOMEM;
            break;
        }
        c->winner_hlc = (uint64_t)sqlite3_column_int64(st, 6);
        c->winner_site = (uint64_t)sqlite3_column_int64(st, 7);
        c->loser_hlc = (uint64_t)sqlite3_column_int64(st, 8);
        c->loser_site = (uint64_t)sqlite3_column_int64(st, 9);
        c->at_ms = (uint64_t)sqlite3_column_int64(st, 10);
        c->resolved = sqlite3_column_int(st, 11);
    }
    if (!rc && s != SQLITE_DONE)
        rc = lm__dberr(r, "list conflicts");
    sqlite3_finalize(st);
    if (rc) {
        lm_conflicts_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return LM_OK;
}

/* keep_loser writes the loser's value with plain SQL, so the capture
 * trigger logs it as a local change (prev = the winner's version) that
 * syncs and wins by fast-forward everywhere. */
int lm_replica_conflict_resolve(lm_replica *r, int64_t id, int keep_loser)
{
    if (!r)
        return LM_EINVAL;
    sqlite3_stmt *st = NULL, *up = NULL;
    lm_value loser = {.type = LM_VAL_NULL};
    char *table = NULL, *pk = NULL, *col = NULL;
    lm__sb b = {0};
    int rc = lm__begin(r), s;
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(r->db, "SELECT tbl, pk, col, loser_value FROM lm_conflicts WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = lm__dberr(r, "resolve");
        goto fail;
    }
    sqlite3_bind_int64(st, 1, id);
    s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = s == SQLITE_DONE ? lm__fail(r, LM_ENOTFOUND, "no conflict %lld", (long long)id)
                              : lm__dberr(r, "resolve");
        goto fail;
    }
    table = col_text(st, 0);
    pk = col_text(st, 1);
    col = col_text(st, 2);
    if (!table || !pk || !col || lm__column_value(st, 3, &loser)) {
        rc = LM_ENOMEM;
        goto fail;
    }
    if (keep_loser) {
        int tid = lm__table_find(table), cid = lm__col_find(tid, col);
        if (!cid) {
            rc = lm__fail(r, LM_ESTATE,
                          "the loser of conflict %lld was a deleted row's value: "
                          "re-create the row to keep it",
                          (long long)id);
            goto fail;
        }
        lm__sb_addf(&b, "UPDATE \"%s\" SET \"%s\" = ? WHERE \"%s\" = ?", table, col,
                    lm__tables[tid - 1].pk);
        if (b.oom) {
            rc = LM_ENOMEM;
            goto fail;
        }
        if (sqlite3_prepare_v2(r->db, b.s, -1, &up, NULL) != SQLITE_OK) {
            rc = lm__dberr(r, "resolve");
            goto fail;
        }
        lm__bind_value(up, 1, &loser);
        sqlite3_bind_text(up, 2, pk, -1, SQLITE_STATIC);
        if (sqlite3_step(up) != SQLITE_DONE) {
            rc = lm__dberr(r, "resolve");
            goto fail;
        }
        if (sqlite3_changes(r->db) == 0) {
            rc = lm__fail(r, LM_ESTATE, "row %s of %s no longer exists", pk, table);
            goto fail;
        }
        if ((rc = lm__stamp_in_tx(r, NULL)))
            goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(r->db, "UPDATE lm_conflicts SET resolved = 1 WHERE id = ?", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = lm__dberr(r, "resolve");
        goto fail;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = lm__dberr(r, "resolve");
        goto fail;
    }
    if ((rc = lm__commit(r)))
        goto fail;
    rc = LM_OK;
    goto done;
fail:
    lm__rollback(r);
done:
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    lm__sb_free(&b);
    lm_value_clear(&loser);
    lm_free(table);
    lm_free(pk);
    lm_free(col);
    return rc;
}

void lm_refusal_records_free(lm_refusal_record *rr, size_t n)
{
    if (!rr)
        return;
    for (size_t i = 0; i < n; i++) {
        lm_free(rr[i].table);
        lm_free(rr[i].pk);
        lm_free(rr[i].column);
        lm_free(rr[i].reason);
        lm_value_clear(&rr[i].value);
    }
    lm_free(rr);
}

int lm_replica_refusals(lm_replica *r, lm_refusal_record **out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!r || !out || !n)
        return LM_EINVAL;
    sqlite3_stmt *st = NULL;
    lm_refusal_record *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = LM_OK, s;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT id, tbl, pk, col, value, code, reason, at FROM lm_refusals"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "list refusals");
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 16;
            lm_refusal_record *nv = lm_realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = LM_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        lm_refusal_record *f = &v[cnt++];
        memset(f, 0, sizeof *f);
        f->value.type = LM_VAL_NULL;
        f->id = sqlite3_column_int64(st, 0);
        f->table = col_text(st, 1);
        f->pk = col_text(st, 2);
        f->column = col_text(st, 3);
        f->reason = col_text(st, 6);
        if (!f->table || !f->pk || !f->column || !f->reason || lm__column_value(st, 4, &f->value)) {
            rc = LM_ENOMEM;
            break;
        }
        f->code = sqlite3_column_int(st, 5);
        f->at_ms = (uint64_t)sqlite3_column_int64(st, 7);
    }
    if (!rc && s != SQLITE_DONE)
        rc = lm__dberr(r, "list refusals");
    sqlite3_finalize(st);
    if (rc) {
        lm_refusal_records_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return LM_OK;
}
