/*
 * hash.c — a canonical dump of the synced state a scope may see, hashed.
 *
 * Tables in name order, rows in primary-key order, every column as a type
 * tag followed by its bytes (integers as 8 bytes big-endian, text and blobs
 * length-prefixed). Versions and bookkeeping are left out: two replicas that
 * converged hold the same values, whatever path the changes took.
 */
#include <openssl/evp.h>
#include <string.h>

#include "sync_internal.h"

static void put_u64(EVP_MD_CTX *md, uint64_t v)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--) {
        b[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
    EVP_DigestUpdate(md, b, sizeof b);
}

static void put_column(EVP_MD_CTX *md, sqlite3_stmt *st, int i)
{
    uint8_t tag = (uint8_t)sqlite3_column_type(st, i);
    EVP_DigestUpdate(md, &tag, 1);
    if (tag == SQLITE_INTEGER) {
        put_u64(md, (uint64_t)sqlite3_column_int64(st, i));
    } else if (tag == SQLITE_FLOAT) {
        double d = sqlite3_column_double(st, i);
        uint64_t u;
        memcpy(&u, &d, sizeof u);
        put_u64(md, u);
    } else if (tag == SQLITE_TEXT || tag == SQLITE_BLOB) {
        const void *p = tag == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, i)
                                           : sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        put_u64(md, n);
        if (n)
            EVP_DigestUpdate(md, p, n);
    }
}

int lm_replica_state_hash(lm_replica *r, const lm_scope *reader, uint8_t out[32])
{
    if (!r || !out)
        return LM_EINVAL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        return LM_ENOMEM;
    int rc = LM_OK;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        rc = lm__fail(r, LM_ENOMEM, "sha256 init failed");
        goto fail_md;
    }
    /* one read transaction: a consistent snapshot of every table */
    if ((rc = lm__exec(r, "BEGIN")))
        goto fail_md;
    for (int tid = 1; tid <= LM__N_TABLES && !rc; tid++) {
        const lm__table_def *t = &lm__tables[tid - 1];
        char *vis = lm__scope_visible_sql(reader, tid);
        lm__sb b = {0};
        sqlite3_stmt *st = NULL;
        if (!vis) {
            rc = LM_ENOMEM;
            break;
        }
        lm__sb_addf(&b, "SELECT * FROM \"%s\" WHERE (%s) ORDER BY \"%s\"", t->name, vis, t->pk);
        lm_free(vis);
        if (b.oom) {
            rc = LM_ENOMEM;
        } else if (sqlite3_prepare_v2(r->db, b.s, -1, &st, NULL) != SQLITE_OK) {
            rc = lm__dberr(r, "hash");
        } else {
            EVP_DigestUpdate(md, t->name, strlen(t->name) + 1);
            int s, ncol = sqlite3_column_count(st);
            while ((s = sqlite3_step(st)) == SQLITE_ROW) {
                put_u64(md, (uint64_t)ncol);
                for (int i = 0; i < ncol; i++)
                    put_column(md, st, i);
            }
            if (s != SQLITE_DONE)
                rc = lm__dberr(r, "hash");
        }
        sqlite3_finalize(st);
        lm__sb_free(&b);
    }
    lm__rollback(r);
    if (!rc && EVP_DigestFinal_ex(md, out, NULL) != 1)
        rc = lm__fail(r, LM_ENOMEM, "sha256 final failed");
fail_md:
    EVP_MD_CTX_free(md);
    return rc;
}
