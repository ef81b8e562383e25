/*
 * srvdb.c — server-only tables (users, last sync per user) and the user
 * record / scope built from them (see srvdb.h).
 */
#include "srvdb.h"

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t lm__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Files from before enrolment (protocol 1) kept every user's shared
 * secret in lm_users.key: the column goes, overwritten on disk
 * (secure_delete), and those users must be rekeyed. The sites they synced
 * from stay theirs (lm_sites, from their last sessions). */
static int migrate_users(sqlite3 *db, char *err, size_t err_size)
{
    int has = lm__srvdb_has_column(db, "lm_users", "key");
    if (has <= 0)
        return has == 0 ? LM_OK : LM_EDB;
    static const char sql[] = "PRAGMA secure_delete = ON;"
                              "BEGIN IMMEDIATE;"
                              "ALTER TABLE lm_users ADD COLUMN pubkey BLOB;"
                              "ALTER TABLE lm_users ADD COLUMN device_site INTEGER;"
                              "ALTER TABLE lm_users ADD COLUMN enrol_hash BLOB;"
                              "ALTER TABLE lm_users ADD COLUMN enrol_expires INTEGER;"
                              "ALTER TABLE lm_users ADD COLUMN auth_gen INTEGER NOT NULL DEFAULT 0;"
                              "UPDATE lm_users SET key = zeroblob(32);"
                              "ALTER TABLE lm_users DROP COLUMN key;"
                              "INSERT OR IGNORE INTO lm_sites(site, user, bound_at)"
                              " SELECT site, user, coalesce(last_sync_at, 0) FROM lm_sessions_log"
                              " WHERE site IS NOT NULL;"
                              "COMMIT;"
                              "PRAGMA secure_delete = OFF;";
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, err_size, "removing the stored user keys: %s",
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return LM_EDB;
    }
    return LM_OK;
}

int lm__srvdb_ensure_schema(sqlite3 *db, char *err, size_t err_size)
{
    static const char sql[] =
        "CREATE TABLE IF NOT EXISTS lm_users("
        " id TEXT PRIMARY KEY, role TEXT NOT NULL, villages TEXT, county TEXT,"
        " revoked INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
        " pubkey BLOB, device_site INTEGER, enrol_hash BLOB, enrol_expires INTEGER,"
        " auth_gen INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS lm_sites("
        " site INTEGER PRIMARY KEY, user TEXT NOT NULL, bound_at INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS lm_sessions_log("
        " user TEXT PRIMARY KEY, site INTEGER, last_sync_at INTEGER,"
        " bytes_in INTEGER, bytes_out INTEGER, pushed INTEGER, pulled INTEGER,"
        " sessions INTEGER NOT NULL DEFAULT 0, pull_cursor INTEGER, push_queued INTEGER);";
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, err_size, "creating server tables: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return LM_EDB;
    }
    if (migrate_users(db, err, err_size) != LM_OK)
        return LM_EDB;
    /* Files made before these columns existed get them now: the sync
     * progress, and the user's name and previous scope (user update). */
    static const char *const added[][3] = {
        {"lm_sessions_log", "pull_cursor", "INTEGER"},
        {"lm_sessions_log", "push_queued", "INTEGER"},
        {"lm_users", "name", "TEXT"},
        {"lm_users", "prev_villages", "TEXT"},
        {"lm_users", "prev_county", "TEXT"},
        {"lm_users", "moved_at", "INTEGER"},
        {"lm_users", "seen_at", "INTEGER"},
        {"lm_users", "next_pin_sent", "BLOB"},
    };
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
        int has = lm__srvdb_has_column(db, added[i][0], added[i][1]);
        char alter[128];
        snprintf(alter, sizeof alter, "ALTER TABLE %s ADD COLUMN %s %s", added[i][0], added[i][1],
                 added[i][2]);
        if (has < 0 || (!has && sqlite3_exec(db, alter, NULL, NULL, NULL) != SQLITE_OK)) {
            snprintf(err, err_size, "adding %s.%s: %s", added[i][0], added[i][1],
                     sqlite3_errmsg(db));
            return LM_EDB;
        }
    }
    return LM_OK;
}

int lm__srvdb_has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    int found = 0, step;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st,
                           NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        found = 1;
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? found : LM_EDB;
}

int lm__user_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > LM_USER_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-' || c == '@';
        if (!ok)
            return 0;
    }
    return 1;
}

/* Copies a nullable TEXT column into an owned string (NULL stays NULL). */
static int column_strdup(sqlite3_stmt *st, int col, char **out)
{
    *out = NULL;
    const unsigned char *t = sqlite3_column_text(st, col);
    if (!t)
        return LM_OK;
    *out = lm_strdup((const char *)t);
    return *out ? LM_OK : LM_ENOMEM;
}

int lm__srvdb_user_get(sqlite3 *db, const char *id, lm_user *u)
{
    memset(u, 0, sizeof *u);
    if (!lm__user_id_valid(id))
        return LM_ENOTFOUND;
    sqlite3_stmt *st = NULL;
    int rc = LM_EDB;
    if (sqlite3_prepare_v2(db,
                           "SELECT role, villages, county, pubkey, revoked, created_at,"
                           " device_site, auth_gen, prev_villages, prev_county, moved_at,"
                           " seen_at FROM lm_users WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail_prepare;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        rc = LM_ENOTFOUND;
        goto fail_step;
    }
    if (step != SQLITE_ROW)
        goto fail_step;
    snprintf(u->id, sizeof u->id, "%s", id);
    u->role = lm_role_parse((const char *)sqlite3_column_text(st, 0));
    if (u->role < 0)
        goto fail_step; /* a corrupt row authenticates nobody */
    if (sqlite3_column_bytes(st, 3) == LM_PUBKEY_SIZE) {
        memcpy(u->pubkey, sqlite3_column_blob(st, 3), LM_PUBKEY_SIZE);
        u->has_pubkey = 1;
    }
    u->has_device_site = sqlite3_column_type(st, 6) != SQLITE_NULL;
    u->device_site = (uint64_t)sqlite3_column_int64(st, 6);
    u->auth_gen = sqlite3_column_int64(st, 7);
    u->revoked = sqlite3_column_int(st, 4) != 0;
    u->created_at = sqlite3_column_int64(st, 5);
    u->moved_at = sqlite3_column_int64(st, 10);
    u->seen_at = sqlite3_column_int64(st, 11);
    rc = column_strdup(st, 1, &u->villages);
    if (rc == LM_OK)
        rc = column_strdup(st, 2, &u->county);
    if (rc == LM_OK)
        rc = column_strdup(st, 8, &u->prev_villages);
    if (rc == LM_OK)
        rc = column_strdup(st, 9, &u->prev_county);
    if (rc != LM_OK)
        goto fail_copy;
    sqlite3_finalize(st);
    return LM_OK;

fail_copy:
    lm__user_clear(u);
fail_step:
    sqlite3_finalize(st);
fail_prepare:
    return rc;
}

/* Splits a comma list into *list / *n (lm__user_clear frees it). */
static int split_villages(const char *villages, char ***list, size_t *count)
{
    size_t n = 0;
    *count = 0;
    if (villages && *villages) {
        n = 1;
        for (const char *p = villages; *p; p++)
            n += *p == ',';
        *list = lm_calloc(n, sizeof **list);
        if (!*list)
            return LM_ENOMEM;
        const char *start = villages;
        for (size_t i = 0; i < n; i++) {
            const char *end = strchr(start, ',');
            size_t len = end ? (size_t)(end - start) : strlen(start);
            (*list)[i] = lm_strndup(start, len);
            if (!(*list)[i]) {
                *count = i;
                return LM_ENOMEM; /* lm__user_clear frees the ones made */
            }
            start = end ? end + 1 : start + len;
        }
    }
    *count = n;
    return LM_OK;
}

int lm__user_scope_build(lm_user *u)
{
    int rc = split_villages(u->villages, &u->village_list, &u->n_villages);
    if (rc == LM_OK && u->moved_at)
        rc = split_villages(u->prev_villages, &u->prev_village_list, &u->n_prev_villages);
    if (rc != LM_OK)
        return rc;
    u->scope.role = u->role;
    u->scope.user_id = u->id;
    u->scope.villages = (const char *const *)u->village_list;
    u->scope.n_villages = u->n_villages;
    u->scope.county = u->county;
    u->prev_scope = u->scope;
    u->prev_scope.villages = (const char *const *)u->prev_village_list;
    u->prev_scope.n_villages = u->n_prev_villages;
    u->prev_scope.county = u->prev_county;
    return LM_OK;
}

int lm__srvdb_user_seen(sqlite3 *db, const char *user, uint64_t at_ms)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE lm_users SET seen_at = ?2 WHERE id = ?1 AND moved_at IS NOT NULL"
                           " AND seen_at IS NULL AND moved_at <= ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)at_ms);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? LM_OK : LM_EDB;
}

int lm__srvdb_user_next_pin_sent(sqlite3 *db, const char *user, const uint8_t fp[32])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "UPDATE lm_users SET next_pin_sent = ?2 WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, fp, 32, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? LM_OK : LM_EDB;
}

uint64_t lm__user_prev_scope_until(const lm_user *u)
{
    if (!u->moved_at)
        return 0;
    return u->seen_at > 0 ? (uint64_t)u->seen_at : UINT64_MAX;
}

void lm__user_clear(lm_user *u)
{
    if (!u)
        return;
    if (u->village_list) {
        for (size_t i = 0; i < u->n_villages; i++)
            lm_free(u->village_list[i]);
        lm_free(u->village_list);
    }
    if (u->prev_village_list) {
        for (size_t i = 0; i < u->n_prev_villages; i++)
            lm_free(u->prev_village_list[i]);
        lm_free(u->prev_village_list);
    }
    lm_free(u->villages);
    lm_free(u->county);
    lm_free(u->prev_villages);
    lm_free(u->prev_county);
    memset(u, 0, sizeof *u);
}

int lm__srvdb_session_log(sqlite3 *db, const char *user, uint64_t site, uint64_t at_ms,
                          uint64_t bytes_in, uint64_t bytes_out, uint64_t pushed, uint64_t pulled)
{
    return lm__srvdb_session_log_progress(db, user, site, at_ms, bytes_in, bytes_out, pushed,
                                          pulled, NULL, NULL);
}

int lm__srvdb_session_log_progress(sqlite3 *db, const char *user, uint64_t site, uint64_t at_ms,
                                   uint64_t bytes_in, uint64_t bytes_out, uint64_t pushed,
                                   uint64_t pulled, const uint64_t *pull_cursor,
                                   const uint64_t *push_queued)
{
    sqlite3_stmt *st = NULL;
    /* A session that did not PULL leaves the cursor of the same replica as
     * it was; a new replica (site) starts unknown. */
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO lm_sessions_log(user, site, last_sync_at, bytes_in,"
                           " bytes_out, pushed, pulled, sessions, pull_cursor, push_queued)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9)"
                           " ON CONFLICT(user) DO UPDATE SET site = excluded.site,"
                           " last_sync_at = excluded.last_sync_at, bytes_in = excluded.bytes_in,"
                           " bytes_out = excluded.bytes_out, pushed = excluded.pushed,"
                           " pulled = excluded.pulled, sessions = sessions + 1,"
                           " pull_cursor = CASE WHEN excluded.pull_cursor IS NOT NULL"
                           "  THEN excluded.pull_cursor WHEN site = excluded.site"
                           "  THEN pull_cursor END,"
                           " push_queued = excluded.push_queued",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    if (pull_cursor)
        sqlite3_bind_int64(st, 8, (sqlite3_int64)*pull_cursor);
    if (push_queued)
        sqlite3_bind_int64(st, 9, (sqlite3_int64)*push_queued);
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)site);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)at_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)bytes_in);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)bytes_out);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)pushed);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)pulled);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LM_OK : LM_EDB;
    sqlite3_finalize(st);
    return rc;
}

int lm__srvdb_bump_auth_gen(sqlite3 *db, const char *user)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "UPDATE lm_users SET auth_gen ="
                           " (SELECT coalesce(max(auth_gen), 0) + 1 FROM lm_users) WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LM_OK : LM_EDB;
    sqlite3_finalize(st);
    return rc;
}

/* Checks the token and the site; LM_OK, LM_EAUTH, LM_EDENIED or LM_EDB. */
static int enrol_check(sqlite3 *db, const char *user, const uint8_t token_hash[32], uint64_t site,
                       uint64_t now_ms, char *why, size_t why_size)
{
    sqlite3_stmt *st = NULL;
    int rc = LM_EDB;
    if (sqlite3_prepare_v2(db,
                           "SELECT enrol_hash, enrol_expires, revoked FROM lm_users WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW || step == SQLITE_DONE) {
        int ok = step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 &&
                 CRYPTO_memcmp(sqlite3_column_blob(st, 0), token_hash, 32) == 0 &&
                 (uint64_t)sqlite3_column_int64(st, 1) > now_ms && sqlite3_column_int(st, 2) == 0;
        rc = ok ? LM_OK : LM_EAUTH;
        if (!ok)
            snprintf(why, why_size,
                     "enrolment refused: the enrolment string is unknown, already used or "
                     "expired (ask for a new one: lastmile-server user rekey)");
    }
    sqlite3_finalize(st);
    if (rc != LM_OK)
        return rc;
    if (sqlite3_prepare_v2(db, "SELECT user FROM lm_sites WHERE site = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)site);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), user) != 0) {
        rc = LM_EDENIED;
        snprintf(why, why_size, "site %016llx belongs to another user", (unsigned long long)site);
    } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = LM_EDB;
    }
    sqlite3_finalize(st);
    return rc;
}

int lm__srvdb_enrol(sqlite3 *db, const char *user, const uint8_t token_hash[32],
                    const uint8_t pubkey[LM_PUBKEY_SIZE], uint64_t site, uint64_t now_ms, char *why,
                    size_t why_size)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return LM_EDB;
    int rc = enrol_check(db, user, token_hash, site, now_ms, why, why_size);
    if (rc != LM_OK)
        goto fail;
    sqlite3_stmt *st = NULL;
    rc = LM_EDB;
    if (sqlite3_prepare_v2(db,
                           "UPDATE lm_users SET pubkey = ?2, device_site = ?3, enrol_hash = NULL,"
                           " enrol_expires = NULL WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, pubkey, LM_PUBKEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)site);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE ||
        sqlite3_prepare_v2(
            db, "INSERT OR IGNORE INTO lm_sites(site, user, bound_at) VALUES(?1, ?2, ?3)", -1, &st,
            NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)site);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms);
    step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE || sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return LM_OK;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int lm__srvdb_site_check(sqlite3 *db, uint64_t site, const char *user, int *bound)
{
    sqlite3_stmt *st = NULL;
    *bound = 0;
    if (sqlite3_prepare_v2(db, "SELECT user FROM lm_sites WHERE site = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)site);
    int step = sqlite3_step(st), rc = LM_OK;
    if (step == SQLITE_ROW)
        *bound = strcmp((const char *)sqlite3_column_text(st, 0), user) == 0 ? 1 : -1;
    else if (step != SQLITE_DONE)
        rc = LM_EDB;
    sqlite3_finalize(st);
    return rc;
}

int lm__srvdb_site_bind(sqlite3 *db, uint64_t site, const char *user, uint64_t now_ms, int *bound)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            db, "INSERT OR IGNORE INTO lm_sites(site, user, bound_at) VALUES(?1, ?2, ?3)", -1, &st,
            NULL) != SQLITE_OK)
        return LM_EDB;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)site);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return LM_EDB;
    return lm__srvdb_site_check(db, site, user, bound);
}
