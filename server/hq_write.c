/*
 * hq_write.c — the one write path of the headquarters commands (hq.h).
 */
#include "hq.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "lm_text.h"

int lm__hq_exists(sqlite3 *db, const char *table, const char *column, const char *value)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE \"%s\" = ?1 LIMIT 1", table, column);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step == SQLITE_ROW)
        return 1;
    return step == SQLITE_DONE ? 0 : LM_EDB;
}

int lm__hq_write(lm_replica *r, const char *sql, const lm_hq_param *params, size_t n, int *changed,
                 char *err, size_t err_size)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    int rc = LM_EDB;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_begin;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto fail_write;
    for (size_t i = 0; i < n; i++) {
        if (params[i].text)
            sqlite3_bind_text(st, (int)i + 1, params[i].text, -1, SQLITE_STATIC);
        else if (params[i].kind == LM_HQ_REAL)
            sqlite3_bind_double(st, (int)i + 1, params[i].real);
        else if (params[i].kind == LM_HQ_NULL)
            sqlite3_bind_null(st, (int)i + 1);
        else
            sqlite3_bind_int64(st, (int)i + 1, params[i].num);
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail_write;
    if (changed)
        *changed = sqlite3_changes(db);
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail_write;
    /* Stamping now rather than at the next session keeps the change's
     * version close to when HQ made it. */
    rc = lm_replica_stamp(r, NULL);
    if (rc != LM_OK)
        snprintf(err, err_size, "%s", lm_replica_errmsg(r));
    return rc;

fail_write:
    snprintf(err, err_size, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
fail_begin:
    snprintf(err, err_size, "%s", sqlite3_errmsg(db));
    return rc;
}

int lm__hq_check_dates(const char *cmd, const char *from, const char *to)
{
    const char *why = NULL;
    if (from && lm_date_parse(from, NULL, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: --from '%s' %s\n", cmd, from, why);
        return 2;
    }
    if (to && lm_date_parse(to, NULL, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: --to '%s' %s\n", cmd, to, why);
        return 2;
    }
    return 0;
}

lm_replica *lm__hq_open(const char *path, const char *cmd)
{
    char err[512] = "";
    lm_replica *r = NULL;
    if (lm__server_db_open(path, 5000, 0, &r, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, *err ? err : "cannot open database");
        return NULL;
    }
    return r;
}
