/*
 * check.c — SQLite's own checks of a replica's file. A damaged file must
 * not take new money records: the field tool runs the quick check before
 * every write and sync, and the full one on demand (docs/sync.md,
 * "Damaged replicas").
 */
#include <stdio.h>
#include <string.h>

#include "sync_internal.h"

/* Runs the pragma on db; LM_OK when its only row is "ok", LM_ECORRUPT when
 * it lists damage (first finding into err), LM_ECORRUPT or LM_EDB when the
 * check itself fails (a page too damaged to read stops it). */
static int run_check(sqlite3 *db, int full, void (*line_cb)(const char *line, void *ud), void *ud,
                     char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    const char *sql = full ? "PRAGMA integrity_check" : "PRAGMA quick_check";
    int s = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    size_t found = 0;
    err[0] = 0;
    while (s == SQLITE_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
        s = SQLITE_OK;
        const char *line = (const char *)sqlite3_column_text(st, 0);
        if (!line || strcmp(line, "ok") == 0)
            continue;
        if (found++ == 0)
            snprintf(err, err_size, "%s", line);
        if (line_cb)
            line_cb(line, ud);
    }
    int code = sqlite3_errcode(db) & 0xff;
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) { /* the check could not go on */
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        if (line_cb)
            line_cb(err, ud);
        return code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? LM_ECORRUPT
               : code == SQLITE_FULL                           ? LM_EFULL
                                                               : LM_EDB;
    }
    return found ? LM_ECORRUPT : LM_OK;
}

int lm_replica_check(lm_replica *r, int full, void (*line_cb)(const char *line, void *ud), void *ud)
{
    if (!r)
        return LM_EINVAL;
    char err[sizeof r->errmsg];
    int rc = run_check(r->db, full, line_cb, ud, err, sizeof err);
    return rc ? lm__fail(r, rc, "%s", err) : LM_OK;
}

int lm__open_quiet(const char *path, sqlite3 **db, char *err, size_t err_size)
{
    *db = NULL;
    /* Exclusive locking keeps the WAL index in memory (no -shm file to
     * grow: this works on a full disk too) and query_only writes nothing. */
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", path,
                 *db ? sqlite3_errmsg(*db) : "out of memory");
        sqlite3_close_v2(*db);
        *db = NULL;
        return LM_EDB;
    }
    sqlite3_db_config(*db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (sqlite3_busy_timeout(*db, 5000) != SQLITE_OK ||
        sqlite3_exec(*db, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA query_only=1;", NULL, NULL,
                     NULL) != SQLITE_OK) {
        snprintf(err, err_size, "cannot open %s: %s", path, sqlite3_errmsg(*db));
        sqlite3_close_v2(*db);
        *db = NULL;
        return LM_EDB;
    }
    return LM_OK;
}

int lm_file_check(const char *path, int full, void (*line_cb)(const char *line, void *ud), void *ud,
                  char *errmsg, size_t errmsg_size)
{
    char err[256] = "";
    sqlite3 *db = NULL;
    int rc = lm__open_quiet(path, &db, err, sizeof err);
    if (rc == LM_OK)
        rc = run_check(db, full, line_cb, ud, err, sizeof err);
    sqlite3_close_v2(db);
    if (errmsg && errmsg_size)
        snprintf(errmsg, errmsg_size, "%s", err);
    return rc;
}
