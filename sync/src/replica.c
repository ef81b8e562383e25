/*
 * replica.c — opening, migrating and closing a replica; small settings.
 *
 * Open: connect (WAL), read lm_meta.schema_version, refuse a newer file,
 * migrate an older (or empty) one in one transaction, load the site and the
 * persisted clock, then stamp whatever plain SQL logged since last time.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sync_internal.h"

/* Schema version of the file: 0 when lastmile never touched it. */
static int read_version(lm_replica *r, uint64_t *ver)
{
    sqlite3_stmt *st = NULL;
    *ver = 0;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lm_meta'",
                           -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "read schema");
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s == SQLITE_DONE)
        return LM_OK;
    if (s != SQLITE_ROW)
        return lm__dberr(r, "read schema");
    return lm__meta_get_u64(r, "schema_version", 0, ver);
}

uint64_t lm__random_site(void)
{
    uint64_t s = 0;
    while (s == 0) {
        if (RAND_bytes((unsigned char *)&s, sizeof s) != 1)
            s = (uint64_t)rand() << 32 ^ (uint64_t)rand();
        s &= (uint64_t)INT64_MAX; /* stored in a signed SQLite integer */
    }
    return s;
}

/* Migrates (or creates) inside one transaction; a newer file is refused. */
static int check_and_migrate(lm_replica *r, const lm_replica_options *o)
{
    int rc = lm__begin(r);
    if (rc)
        return rc;
    uint64_t ver;
    if ((rc = read_version(r, &ver)))
        goto fail_tx;
    if (ver > LM_SCHEMA_VERSION) {
        rc = lm__fail(r, LM_ESCHEMA,
                      "replica schema version %llu is newer than this program's (%d): "
                      "upgrade lastmile to open it",
                      (unsigned long long)ver, LM_SCHEMA_VERSION);
        goto fail_tx;
    }
    if (ver < LM_SCHEMA_VERSION) {
        uint64_t site = o && o->site ? (o->site & (uint64_t)INT64_MAX) : 0;
        if ((rc = lm__schema_migrate(r, (int)ver, site ? site : lm__random_site())))
            goto fail_tx;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT v FROM lm_keyed", -1, &st, NULL) != SQLITE_OK) {
        rc = lm__dberr(r, "read lm_keyed");
        goto fail_tx;
    }
    r->keyed = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (o && o->scope_keys && !r->keyed && (rc = lm__scope_keys_enable(r)))
        goto fail_tx;
    return lm__commit(r);

fail_tx:
    lm__rollback(r);
    return rc;
}

/* A read-only open migrates nothing: the file must be of this version. */
static int check_current(lm_replica *r)
{
    uint64_t ver;
    int rc = read_version(r, &ver);
    if (rc)
        return rc;
    if (ver != LM_SCHEMA_VERSION)
        return lm__fail(r, LM_ESCHEMA,
                        "replica schema version %llu needs an upgrade, which cannot be done "
                        "read-only",
                        (unsigned long long)ver);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "SELECT v FROM lm_keyed", -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "read lm_keyed");
    r->keyed = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return LM_OK;
}

static uint64_t real_now(void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int load_state(lm_replica *r)
{
    uint64_t off;
    int rc;
    if ((rc = lm__meta_get_u64(r, "site", 0, &r->site)) ||
        (rc = lm__meta_get_u64(r, "hlc_last", 0, &r->hlc_last)) ||
        (rc = lm__meta_get_u64(r, "clock_offset", 0, &off)))
        return rc;
    r->offset_ms = (int64_t)off;
    if (r->site == 0)
        return lm__fail(r, LM_EDB, "replica has no site id");
    return LM_OK;
}

int lm_replica_open(const char *path, const lm_replica_options *opts, lm_replica **out,
                    char *errmsg, size_t errmsg_size)
{
    int rc;
    if (out)
        *out = NULL;
    if (errmsg && errmsg_size)
        errmsg[0] = 0;
    if (!path || !out) {
        if (errmsg && errmsg_size)
            snprintf(errmsg, errmsg_size, "lm_replica_open: path and out are required");
        return LM_EINVAL;
    }
    lm_replica *r = lm_calloc(1, sizeof *r);
    if (!r) {
        if (errmsg && errmsg_size)
            snprintf(errmsg, errmsg_size, "out of memory");
        return LM_ENOMEM;
    }
    r->now_ms = opts && opts->now_ms ? opts->now_ms : real_now;
    r->now_ud = opts ? opts->now_ud : NULL;
    r->max_drift_ms = opts && opts->max_drift_ms ? opts->max_drift_ms : 10u * 60u * 1000u;
    r->pull_scan_max = opts && opts->pull_scan_max ? opts->pull_scan_max : 20000u;
    r->durable = 1;

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (opts && opts->create)
        flags |= SQLITE_OPEN_CREATE;
    int s = sqlite3_open_v2(path, &r->db, flags, NULL);
    if (s != SQLITE_OK) {
        rc = s == SQLITE_CANTOPEN && !(flags & SQLITE_OPEN_CREATE) ? LM_ENOTFOUND : LM_EDB;
        lm__fail(r, rc, "cannot open %s: %s", path, r->db ? sqlite3_errmsg(r->db) : "no memory");
        goto fail_open;
    }
    sqlite3_busy_timeout(r->db, opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : 5000);
    /* WAL lets the CLI or a report read while the sync writes. FULL syncs
     * the WAL at every commit: under NORMAL a power cut rolls back every
     * commit since the last checkpoint (up to 1,000 pages — a day of an
     * agent's purchases, or batches the server has already acknowledged,
     * which the agent would then never send again). */
    if (opts && opts->read_only) {
        /* Before the first read: the WAL index then lives in this
         * connection's memory, not in a -shm file a full disk cannot grow. */
        sqlite3_db_config(r->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        if ((rc = lm__exec(r, "PRAGMA locking_mode=EXCLUSIVE; PRAGMA query_only=1;")))
            goto fail_open;
    } else if ((rc = lm__exec(r, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"))) {
        goto fail_open;
    }
    if (opts && opts->cache_kib > 0) {
        char pragma[48];
        snprintf(pragma, sizeof pragma, "PRAGMA cache_size=-%d;", opts->cache_kib);
        if ((rc = lm__exec(r, pragma)))
            goto fail_open;
    }
    if ((rc = opts && opts->read_only ? check_current(r) : check_and_migrate(r, opts)))
        goto fail_open;
    if ((rc = load_state(r)))
        goto fail_open;
    if (!(opts && opts->read_only) && (rc = lm_replica_stamp(r, NULL)))
        goto fail_open;
    *out = r;
    return LM_OK;

fail_open:
    if (errmsg && errmsg_size)
        snprintf(errmsg, errmsg_size, "%s", r->errmsg);
    lm_replica_close(r);
    return rc;
}

static void finalize(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
    *st = NULL;
}

void lm_replica_close(lm_replica *r)
{
    if (!r)
        return;
    for (int t = 0; t <= LM__N_TABLES; t++) {
        lm__table_stmts *ts = &r->t[t];
        finalize(&ts->row);
        finalize(&ts->del);
        for (int k = 0; k < LM__STMT_SLOTS; k++) {
            finalize(&ts->ins[k]);
            finalize(&ts->upd[k]);
        }
        for (int c = 0; c <= LM__MAX_COLS; c++)
            finalize(&ts->cell[c]);
    }
    finalize(&r->s_ver_row);
    for (int k = 0; k <= LM__MAX_COLS + 1; k++) {
        finalize(&r->s_ver_upsert[k]);
        finalize(&r->s_ver_insert[k]);
    }
    finalize(&r->s_ver_recols);
    finalize(&r->s_ver_redel);
    finalize(&r->s_ver_delrow);
    finalize(&r->s_conflict);
    finalize(&r->s_refusal);
    finalize(&r->s_refused);
    finalize(&r->s_flag);
    finalize(&r->s_meta_get);
    finalize(&r->s_meta_set);
    finalize(&r->s_unstamped);
    finalize(&r->s_seq_get);
    finalize(&r->s_key_agent);
    for (int k = 0; k < LM__RULE_STMTS; k++)
        finalize(&r->s_rule[k]);
    finalize(&r->s_refusal_count);
    /* closing with a transaction open rolls it back, as a crash would */
    sqlite3_close_v2(r->db);
    lm_free(r);
}

const char *lm_replica_errmsg(const lm_replica *r)
{
    return r ? r->errmsg : "no replica";
}

sqlite3 *lm_replica_db(lm_replica *r)
{
    return r ? r->db : NULL;
}

int lm_replica_set_durable(lm_replica *r, int durable)
{
    if (!r)
        return LM_EINVAL;
    int rc = lm__exec(r, durable ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
    if (rc == LM_OK)
        r->durable = durable != 0;
    return rc;
}

uint64_t lm_replica_site(const lm_replica *r)
{
    return r ? r->site : 0;
}
