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
        lm_free(c[i].label);
        lm_free(c[i].kept);
        lm_free(c[i].resolved_by);
        lm_free(c[i].reason);
        lm_value_clear(&c[i].winner);
        lm_value_clear(&c[i].loser);
    }
    lm_free(c);
}

/* A row in words, per table: ?1 is the row's key. printf() turns a
 * missing value into "" instead of making the whole text NULL. */
static const struct {
    const char *table, *sql;
} label_sql[] = {
    {"farmers", "SELECT printf('%s (%s)', name, village) FROM farmers WHERE id = ?1"},
    {"collections",
     "SELECT printf('%s, %s %s, %s', COALESCE(f.name, c.farmer_id), COALESCE(p.name, c.product),"
     " c.grade, c.village) FROM collections c LEFT JOIN farmers f ON f.id = c.farmer_id"
     " LEFT JOIN products p ON p.code = c.product WHERE c.id = ?1"},
    {"adjustments",
     "SELECT printf('correction of %s, %s %s, %s', COALESCE(f.name, c.farmer_id),"
     " COALESCE(p.name, c.product), c.grade, c.village) FROM adjustments a"
     " JOIN collections c ON c.id = a.collection_id LEFT JOIN farmers f ON f.id = c.farmer_id"
     " LEFT JOIN products p ON p.code = c.product WHERE a.id = ?1"},
    {"gradings",
     "SELECT printf('grading of %s, %s %s, %s', COALESCE(f.name, c.farmer_id),"
     " COALESCE(p.name, c.product), c.grade, c.village) FROM gradings g"
     " JOIN collections c ON c.id = g.collection_id LEFT JOIN farmers f ON f.id = c.farmer_id"
     " LEFT JOIN products p ON p.code = c.product WHERE g.id = ?1"},
    {"grades", "SELECT name FROM grades WHERE code = ?1"},
    {"prices", "SELECT printf('price of %s %s from %s', COALESCE(p.name, x.product), x.grade,"
               " x.effective_from) FROM prices x LEFT JOIN products p ON p.code = x.product"
               " WHERE x.id = ?1"},
    {"products", "SELECT name FROM products WHERE code = ?1"},
    {"receipts",
     "SELECT printf('receipt of %s %s, route %s %s', COALESCE(p.name, x.product), x.grade,"
     " t.date, t.vehicle) FROM receipts x LEFT JOIN products p ON p.code = x.product"
     " LEFT JOIN routes t ON t.id = x.route_id WHERE x.id = ?1"},
    {"route_stops",
     "SELECT printf('stop %s %s, route %s %s %s', s.seq, s.village, t.date, t.vehicle,"
     " t.driver) FROM route_stops s LEFT JOIN routes t ON t.id = s.route_id WHERE s.id = ?1"},
    {"routes", "SELECT printf('route %s %s %s', date, vehicle, driver) FROM routes WHERE id = ?1"},
    {"villages", "SELECT printf('%s (%s)', name, county) FROM villages WHERE name = ?1"},
    {"load_corrections",
     "SELECT printf('load correction, stop %s, route %s %s', s.village, t.date, t.vehicle)"
     " FROM load_corrections x LEFT JOIN route_stops s ON s.id = x.stop_id"
     " LEFT JOIN routes t ON t.id = s.route_id WHERE x.id = ?1"},
};
#define N_LABELS (sizeof label_sql / sizeof label_sql[0])

/* The label of (table, pk) into *out ("" when the table has none or the
 * row is gone); st[] caches one statement per label_sql entry. */
static int row_label(lm_replica *r, sqlite3_stmt **st, const char *table, const char *pk,
                     char **out)
{
    size_t k = 0;
    while (k < N_LABELS && strcmp(label_sql[k].table, table) != 0)
        k++;
    const char *text = NULL;
    int s = SQLITE_DONE;
    if (k < N_LABELS) {
        if (!st[k] && sqlite3_prepare_v2(r->db, label_sql[k].sql, -1, &st[k], NULL) != SQLITE_OK)
            return lm__dberr(r, "name a conflict's record");
        sqlite3_bind_text(st[k], 1, pk, -1, SQLITE_STATIC);
        s = sqlite3_step(st[k]);
        if (s == SQLITE_ROW)
            text = (const char *)sqlite3_column_text(st[k], 0);
        else if (s != SQLITE_DONE)
            return lm__dberr(r, "name a conflict's record");
    }
    *out = lm_strdup(text ? text : "");
    if (k < N_LABELS)
        sqlite3_reset(st[k]);
    return *out ? LM_OK : LM_ENOMEM;
}

int lm_replica_conflicts(lm_replica *r, int include_resolved, lm_conflict **out, size_t *n)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!r || !out || !n)
        return LM_EINVAL;
    sqlite3_stmt *st = NULL, *lst[N_LABELS] = {0};
    lm_conflict *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = LM_OK, s;
    /* one read transaction: the conflicts and their records' names agree */
    int own_tx = sqlite3_get_autocommit(r->db);
    if (own_tx && (rc = lm__exec(r, "BEGIN")))
        return rc;
    /* the latest resolution record of each conflict, when there is one */
    if (sqlite3_prepare_v2(r->db,
                           "SELECT c.id, c.tbl, c.pk, c.col, c.winner_value, c.loser_value,"
                           " c.winner_hlc, c.winner_site, c.loser_hlc, c.loser_site, c.at,"
                           " c.resolved, x.kept, x.by, x.reason, x.at FROM lm_conflicts c"
                           " LEFT JOIN conflict_resolutions x ON x.id = (SELECT y.id FROM"
                           " conflict_resolutions y WHERE y.tbl = c.tbl AND y.row_pk = c.pk"
                           " AND y.col = c.col AND y.winner_hlc = c.winner_hlc"
                           " AND y.winner_site = c.winner_site AND y.loser_hlc = c.loser_hlc"
                           " AND y.loser_site = c.loser_site ORDER BY y.at DESC, y.id DESC"
                           " LIMIT 1)"
                           " WHERE ?1 OR c.resolved = 0 ORDER BY c.id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = lm__dberr(r, "list conflicts");
        goto done;
    }
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
        c->kept = col_text(st, 12);
        c->resolved_by = col_text(st, 13);
        c->reason = col_text(st, 14);
        if (!c->table || !c->pk || !c->column || !c->kept || !c->resolved_by || !c->reason ||
            lm__column_value(st, 4, &c->winner) || lm__column_value(st, 5, &c->loser)) {
            rc = LM_ENOMEM;
            break;
        }
        c->winner_hlc = (uint64_t)sqlite3_column_int64(st, 6);
        c->winner_site = (uint64_t)sqlite3_column_int64(st, 7);
        c->loser_hlc = (uint64_t)sqlite3_column_int64(st, 8);
        c->loser_site = (uint64_t)sqlite3_column_int64(st, 9);
        c->at_ms = (uint64_t)sqlite3_column_int64(st, 10);
        c->resolved = sqlite3_column_int(st, 11);
        c->resolved_at_ms = (uint64_t)sqlite3_column_int64(st, 15);
        if ((rc = row_label(r, lst, c->table, c->pk, &c->label)))
            break;
    }
    if (!rc && s != SQLITE_DONE)
        rc = lm__dberr(r, "list conflicts");
done:
    sqlite3_finalize(st);
    for (size_t k = 0; k < N_LABELS; k++)
        sqlite3_finalize(lst[k]);
    if (own_tx)
        lm__rollback(r);
    if (rc) {
        lm_conflicts_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return LM_OK;
}

int lm_replica_conflict_resolve(lm_replica *r, int64_t id, int keep_loser)
{
    return lm_replica_conflict_close(r, id, keep_loser, NULL, NULL);
}

/* keep_loser writes the loser's value with plain SQL, so the capture
 * trigger logs it as a local change (prev = the winner's version) that
 * syncs and wins by fast-forward everywhere. The resolution record is a
 * plain SQL insert too: captured, it syncs to whoever may read the row,
 * and the triggers of schema 11 close the conflict here and wherever it
 * arrives. */
int lm_replica_conflict_close(lm_replica *r, int64_t id, int keep_loser, const char *by,
                              const char *reason)
{
    if (!r)
        return LM_EINVAL;
    sqlite3_stmt *st = NULL, *up = NULL;
    lm_value loser = {.type = LM_VAL_NULL};
    char *table = NULL, *pk = NULL, *col = NULL, *user = NULL;
    char rid[LM_ID_SIZE];
    lm__sb b = {0};
    int rc = lm__begin(r), s;
    if (rc)
        return rc;
    if (!by && (rc = lm_replica_meta_get(r, "user", &user)) != LM_OK && rc != LM_ENOTFOUND)
        goto fail;
    if (!by)
        by = user;
    if (sqlite3_prepare_v2(
            r->db, "SELECT tbl, pk, col, loser_value, resolved FROM lm_conflicts WHERE id = ?", -1,
            &st, NULL) != SQLITE_OK) {
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
    if (sqlite3_column_int(st, 4)) {
        rc = lm__fail(r, LM_ESTATE, "conflict %lld is already closed", (long long)id);
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
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = lm_replica_new_id(r, rid)))
        goto fail;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO conflict_resolutions(id, tbl, row_pk, col, winner_hlc,"
                           " winner_site, loser_hlc, loser_site, kept, by, reason, at)"
                           " SELECT ?2, tbl, pk, col, winner_hlc, winner_site, loser_hlc,"
                           " loser_site, ?3, ?4, ?5, ?6 FROM lm_conflicts WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = lm__dberr(r, "resolve");
        goto fail;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, rid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, keep_loser ? "loser" : "winner", -1, SQLITE_STATIC);
    if (by)
        sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
    if (reason)
        sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (int64_t)lm__phys_now(r));
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = lm__dberr(r, "resolve");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* the trigger closed every copy of it; one of an earlier version's
     * log without matching versions is closed by id */
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
    if ((rc = lm__stamp_in_tx(r, NULL)))
        goto fail;
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
    lm_free(user);
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
