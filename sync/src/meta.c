/*
 * meta.c — lm_meta, the replica's settings and counters by key (site,
 * hlc_last, clock_offset, schema_version, push_acked, cursors, and what the
 * tools keep there). Values are text; the integer ones are stored as the
 * signed 64-bit integer SQLite reads back.
 *
 * At the bottom of the engine with util.c: the clock, the migrations, the
 * open and the batch all keep their state here.
 */
#include <stdio.h>

#include "sync_internal.h"

int lm__meta_get_u64(lm_replica *r, const char *key, uint64_t dflt, uint64_t *out)
{
    int rc = lm__prepare(r, &r->s_meta_get, "SELECT value FROM lm_meta WHERE key = ?");
    if (rc)
        return rc;
    sqlite3_bind_text(r->s_meta_get, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(r->s_meta_get);
    if (s == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(r->s_meta_get, 0);
    else
        *out = dflt;
    sqlite3_reset(r->s_meta_get);
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        return lm__dberr(r, "read lm_meta");
    return LM_OK;
}

static int meta_set_text(lm_replica *r, const char *key, const char *value)
{
    int rc = lm__prepare(r, &r->s_meta_set,
                         "INSERT INTO lm_meta(key, value) VALUES(?, ?)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (rc)
        return rc;
    sqlite3_bind_text(r->s_meta_set, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->s_meta_set, 2, value, -1, SQLITE_STATIC);
    int s = sqlite3_step(r->s_meta_set);
    sqlite3_reset(r->s_meta_set);
    sqlite3_clear_bindings(r->s_meta_set);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "write lm_meta");
}

int lm__meta_set_u64(lm_replica *r, const char *key, uint64_t v)
{
    char buf[32];
    /* stored as the signed integer SQLite reads back with column_int64 */
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return meta_set_text(r, key, buf);
}

int lm_replica_meta_get(lm_replica *r, const char *key, char **out)
{
    if (!r || !key || !out)
        return LM_EINVAL;
    *out = NULL;
    int rc = lm__prepare(r, &r->s_meta_get, "SELECT value FROM lm_meta WHERE key = ?");
    if (rc)
        return rc;
    sqlite3_bind_text(r->s_meta_get, 1, key, -1, SQLITE_STATIC);
    int s = sqlite3_step(r->s_meta_get);
    if (s == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(r->s_meta_get, 0);
        *out = lm_strdup(v ? v : "");
        rc = *out ? LM_OK : LM_ENOMEM;
    } else if (s == SQLITE_DONE) {
        rc = LM_ENOTFOUND;
    } else {
        rc = lm__dberr(r, "read lm_meta");
    }
    sqlite3_reset(r->s_meta_get);
    return rc;
}

int lm_replica_meta_set(lm_replica *r, const char *key, const char *value)
{
    if (!r || !key || !value)
        return LM_EINVAL;
    return meta_set_text(r, key, value);
}
