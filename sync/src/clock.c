/*
 * clock.c — the hybrid logical clock, ids and stamping.
 *
 * An HLC is 48 bits of physical ms and a 16-bit counter (lm_protocol.h). A
 * local event takes max(physical now, last + 1); receiving a version moves
 * "last" up to it, so any write made after seeing a version orders after
 * it. "last" is persisted (lm_meta.hlc_last) in the same transaction as the
 * versions it stamped, so the clock never runs backwards across restarts.
 * Ties between sites are broken by the site id, compared by the merge.
 */
#include <string.h>

#include "sync_internal.h"

uint64_t lm__phys_now(lm_replica *r)
{
    int64_t t = (int64_t)r->now_ms(r->now_ud) + r->offset_ms;
    return t < 0 ? 0 : (uint64_t)t;
}

uint64_t lm__hlc_tick(lm_replica *r)
{
    uint64_t pt = LM_HLC_MAKE(lm__phys_now(r), 0);
    /* last + 1 carries into the ms bits when the counter is exhausted */
    r->hlc_last = pt > r->hlc_last ? pt : r->hlc_last + 1;
    return r->hlc_last;
}

void lm__hlc_recv(lm_replica *r, uint64_t remote)
{
    if (remote > r->hlc_last)
        r->hlc_last = remote;
}

/* Another connection to the file (the server's writer and its readers, the
 * CLI and a second process) has its own hlc_last in memory: the persisted
 * one is read and the new one written in one write transaction, so two
 * connections never hand out the same HLC (nor, with the site, the same
 * id). Inside a transaction the caller opened, that one is used. */
int lm_replica_hlc_next(lm_replica *r, uint64_t *out)
{
    if (!r || !out)
        return LM_EINVAL;
    *out = 0;
    int own_tx = sqlite3_get_autocommit(r->db);
    uint64_t saved = r->hlc_last, stored;
    int rc;
    if (own_tx && (rc = lm__begin(r)))
        return rc;
    if ((rc = lm__meta_get_u64(r, "hlc_last", 0, &stored)))
        goto fail_tx;
    lm__hlc_recv(r, stored);
    uint64_t h = lm__hlc_tick(r);
    if ((rc = lm__meta_set_u64(r, "hlc_last", h)))
        goto fail_tx;
    if (own_tx && (rc = lm__commit(r)))
        goto fail_tx;
    *out = h;
    return LM_OK;

fail_tx:
    if (own_tx)
        lm__rollback(r);
    r->hlc_last = saved;
    return rc;
}

int lm_replica_set_server_time(lm_replica *r, uint64_t server_time_ms)
{
    if (!r)
        return LM_EINVAL;
    int64_t off = (int64_t)server_time_ms - (int64_t)r->now_ms(r->now_ud);
    int rc = lm__meta_set_u64(r, "clock_offset", (uint64_t)off);
    if (rc)
        return rc;
    r->offset_ms = off;
    return LM_OK;
}

/* Crockford base32: sorts in numeric order, no ambiguous letters. */
static void b32_u64(char *out, uint64_t v)
{
    static const char digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    for (int i = 12; i >= 0; i--) {
        out[i] = digits[v & 31u];
        v >>= 5;
    }
}

/* id = base32(HLC) | base32(site): ordered by time, unique because the HLC
 * never repeats on a site and the site is in the id. */
int lm_replica_new_id(lm_replica *r, char out[LM_ID_SIZE])
{
    if (!r || !out)
        return LM_EINVAL;
    uint64_t h;
    int rc = lm_replica_hlc_next(r, &h);
    if (rc)
        return rc;
    b32_u64(out, h);
    b32_u64(out + 13, r->site);
    out[26] = 0;
    return LM_OK;
}

/* One HLC for the whole pass is enough: each cell has one unstamped row at
 * most, and (hlc, site) only has to order writes of the same cell. */
int lm__stamp_in_tx(lm_replica *r, uint64_t *n)
{
    sqlite3_stmt *st = NULL;
    uint64_t saved = r->hlc_last, stored;
    int rc;
    /* another connection to the file (the server's writer, while this is
     * one of its readers) may have moved the persisted clock on */
    if ((rc = lm__meta_get_u64(r, "hlc_last", 0, &stored)))
        return rc;
    lm__hlc_recv(r, stored);
    saved = r->hlc_last;
    uint64_t h = lm__hlc_tick(r);
    /* INDEXED BY: with schema 6's seq index holding hlc, the planner
     * scanned that whole index instead of the partial one (a 100,000-record
     * replica: 10 ms per stamp) */
    if (sqlite3_prepare_v2(
            r->db,
            "UPDATE lm_versions INDEXED BY lm_versions_unstamped SET hlc = ?, site = ?"
            " WHERE hlc IS NULL",
            -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "stamp");
    sqlite3_bind_int64(st, 1, (int64_t)h);
    sqlite3_bind_int64(st, 2, (int64_t)r->site);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = lm__dberr(r, "stamp");
        sqlite3_finalize(st);
        r->hlc_last = saved;
        return rc;
    }
    sqlite3_finalize(st);
    int changed = sqlite3_changes(r->db);
    if (n)
        *n = (uint64_t)changed;
    if (changed == 0) {
        r->hlc_last = saved; /* nothing used the tick */
        return LM_OK;
    }
    return lm__meta_set_u64(r, "hlc_last", h);
}

int lm_replica_stamp(lm_replica *r, uint64_t *n)
{
    if (!r)
        return LM_EINVAL;
    if (n)
        *n = 0;
    uint64_t saved = r->hlc_last;
    int rc = lm__begin(r);
    if (rc)
        return rc;
    if ((rc = lm__stamp_in_tx(r, n)) || (rc = lm__commit(r))) {
        lm__rollback(r);
        r->hlc_last = saved;
        return rc;
    }
    return LM_OK;
}
