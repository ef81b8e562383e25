/*
 * prune.c — a replica follows its user's scope (docs/sync.md, "Scope
 * changes"): when hq moves an agent to other villages, or a dispatcher to
 * another county, the rows the new scope does not see leave the replica.
 *
 * A row leaves only when nothing of it waits to be pushed (no local
 * version after the acknowledged seq, none unstamped): a purchase paid
 * before the move stays until the server has it. The deletes are not
 * captured (lm_applying is set, as while applying remote changes) and the
 * rows' versions go with them: they are no change of this replica's, the
 * server keeps the rows, and the state hash of the new scope does not count
 * them. Rows the new scope sees arrive by pulling from the start (the field
 * tool resets its pull cursor when WELCOME names another scope).
 */
#include <string.h>

#include "sync_internal.h"

int lm_replica_scope_prune(lm_replica *r, const lm_scope *scope, uint64_t *removed)
{
    if (!r || !scope)
        return LM_EINVAL;
    if (removed)
        *removed = 0;
    if (scope->role == LM_ROLE_SYSTEM || scope->role == LM_ROLE_HQ)
        return LM_OK; /* sees everything */
    uint64_t acked = 0;
    int rc = lm__begin(r);
    if (rc)
        return rc;
    if ((rc = lm__stamp_in_tx(r, NULL)) || (rc = lm__meta_get_u64(r, "push_acked", 0, &acked)) ||
        (rc = lm__exec(r, "CREATE TEMP TABLE IF NOT EXISTS lm_prune(tid INTEGER NOT NULL,"
                          " pk TEXT NOT NULL, PRIMARY KEY(tid, pk)) WITHOUT ROWID;"
                          "DELETE FROM temp.lm_prune;")))
        goto fail;
    /* every table's leaving rows first: a grading's visibility reads its
     * collection, which may be leaving too */
    for (int tid = 1; tid <= LM__N_TABLES && !rc; tid++) {
        const lm__table_def *t = &lm__tables[tid - 1];
        char *cond = lm__scope_visible_sql(scope, tid);
        if (!cond) {
            rc = lm__fail(r, LM_ENOMEM, "out of memory pruning %s", t->name);
            break;
        }
        lm__sb b = {0};
        lm__sb_addf(&b,
                    "INSERT INTO temp.lm_prune(tid, pk) SELECT %d, \"%s\" FROM \"%s\""
                    " WHERE (%s) IS NOT 1 AND NOT EXISTS (SELECT 1 FROM lm_versions v"
                    " WHERE v.tid = %d AND v.pk = \"%s\".\"%s\" AND v.seq > %llu"
                    " AND (v.site = %lld OR v.hlc IS NULL))",
                    tid, t->pk, t->name, cond, tid, t->name, t->pk, (unsigned long long)acked,
                    (long long)r->site);
        lm_free(cond);
        rc = lm__exec_sb(r, &b, "choosing the rows that leave the scope");
    }
    if (rc || (rc = lm__exec(r, "UPDATE lm_applying SET v = 1")))
        goto fail;
    for (int tid = 1; tid <= LM__N_TABLES && !rc; tid++) {
        const lm__table_def *t = &lm__tables[tid - 1];
        lm__sb b = {0};
        lm__sb_addf(&b,
                    "DELETE FROM \"%s\" WHERE \"%s\" IN (SELECT pk FROM temp.lm_prune"
                    " WHERE tid = %d)",
                    t->name, t->pk, tid);
        rc = lm__exec_sb(r, &b, "removing the rows that left the scope");
    }
    if (rc || (rc = lm__exec(r, "DELETE FROM lm_versions WHERE (tid, pk) IN"
                                " (SELECT tid, pk FROM temp.lm_prune);"
                                "UPDATE lm_applying SET v = 0;")))
        goto fail;
    if (removed) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM temp.lm_prune", -1, &st, NULL) !=
            SQLITE_OK) {
            rc = lm__dberr(r, "counting the rows that left the scope");
            goto fail;
        }
        if (sqlite3_step(st) == SQLITE_ROW)
            *removed = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if ((rc = lm__exec(r, "DELETE FROM temp.lm_prune")) || (rc = lm__commit(r)))
        goto fail;
    return LM_OK;
fail:
    lm__rollback(r);
    return rc;
}
