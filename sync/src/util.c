/*
 * util.c — small helpers the sync files share: error text, statements,
 * transactions, SQL text building and lm_value <-> SQLite conversion.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sync_internal.h"

int lm__fail(lm_replica *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

int lm__dberr(lm_replica *r, const char *what)
{
    /* Damage and a full disk get codes of their own: the field tool tells
     * the user what to do about each (docs/cli.md, exit codes). */
    int code = sqlite3_errcode(r->db) & 0xff;
    int rc = (code == SQLITE_BUSY || code == SQLITE_LOCKED)      ? LM_EBUSY
             : code == SQLITE_NOMEM                              ? LM_ENOMEM
             : (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) ? LM_ECORRUPT
             : code == SQLITE_FULL                               ? LM_EFULL
                                                                 : LM_EDB;
    return lm__fail(r, rc, "%s: %s", what, sqlite3_errmsg(r->db));
}

int lm__exec(lm_replica *r, const char *sql)
{
    if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return lm__dberr(r, "exec");
    return LM_OK;
}

int lm__exec_sb(lm_replica *r, lm__sb *b, const char *what)
{
    int rc = b->oom ? lm__fail(r, LM_ENOMEM, "out of memory %s", what) : lm__exec(r, b->s);
    lm__sb_free(b);
    return rc;
}

int lm__prepare(lm_replica *r, sqlite3_stmt **st, const char *sql)
{
    if (*st)
        return LM_OK;
    if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return lm__dberr(r, "prepare");
    }
    return LM_OK;
}

int lm__seq_set(lm_replica *r, uint64_t seq)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, "UPDATE lm_seq SET v = ?", -1, &st, NULL) != SQLITE_OK)
        return lm__dberr(r, "seq");
    sqlite3_bind_int64(st, 1, (int64_t)seq);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? LM_OK : lm__dberr(r, "seq");
}

int lm__begin(lm_replica *r)
{
    return lm__exec(r, "BEGIN IMMEDIATE");
}

int lm__commit(lm_replica *r)
{
    return lm__exec(r, "COMMIT");
}

void lm__rollback(lm_replica *r)
{
    if (!sqlite3_get_autocommit(r->db))
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ------------------------------------------------------------ SQL text */

static void sb_grow(lm__sb *b, size_t extra)
{
    if (b->oom)
        return;
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *s = lm_realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return;
    }
    b->s = s;
    b->cap = cap;
}

void lm__sb_add(lm__sb *b, const char *text)
{
    size_t n = strlen(text);
    sb_grow(b, n);
    if (b->oom)
        return;
    memcpy(b->s + b->len, text, n + 1);
    b->len += n;
}

void lm__sb_addf(lm__sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    sb_grow(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lm__sb_quote(lm__sb *b, const char *text)
{
    lm__sb_add(b, "'");
    for (const char *p = text; *p; p++) {
        char c[2] = {*p, 0};
        lm__sb_add(b, *p == '\'' ? "''" : c);
    }
    lm__sb_add(b, "'");
}

void lm__sb_free(lm__sb *b)
{
    lm_free(b->s);
    memset(b, 0, sizeof *b);
}

/* -------------------------------------------------------------- values */

int lm__bind_value(sqlite3_stmt *st, int i, const lm_value *v)
{
    int rc;
    switch (v->type) {
    case LM_VAL_INTEGER:
        rc = sqlite3_bind_int64(st, i, v->i);
        break;
    case LM_VAL_FLOAT:
        rc = sqlite3_bind_double(st, i, v->f);
        break;
    case LM_VAL_TEXT:
        rc = sqlite3_bind_text(st, i, v->bytes ? (const char *)v->bytes : "", (int)v->len,
                               SQLITE_TRANSIENT);
        break;
    case LM_VAL_BLOB:
        rc = sqlite3_bind_blob(st, i, v->bytes ? (const void *)v->bytes : "", (int)v->len,
                               SQLITE_TRANSIENT);
        break;
    default:
        rc = sqlite3_bind_null(st, i);
        break;
    }
    return rc == SQLITE_OK ? LM_OK : LM_EDB;
}

int lm__column_value(sqlite3_stmt *st, int i, lm_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = sqlite3_column_type(st, i);
    switch (out->type) {
    case SQLITE_INTEGER:
        out->i = sqlite3_column_int64(st, i);
        return LM_OK;
    case SQLITE_FLOAT:
        out->f = sqlite3_column_double(st, i);
        return LM_OK;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
        const void *p = out->type == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, i)
                                                 : sqlite3_column_blob(st, i);
        size_t n = (size_t)sqlite3_column_bytes(st, i);
        /* one spare byte keeps TEXT NUL-terminated for C callers */
        out->bytes = lm_malloc(n + 1);
        if (!out->bytes) {
            out->type = LM_VAL_NULL;
            return LM_ENOMEM;
        }
        if (n)
            memcpy(out->bytes, p, n);
        out->bytes[n] = 0;
        out->len = n;
        return LM_OK;
    }
    default:
        out->type = LM_VAL_NULL;
        return LM_OK;
    }
}

int lm__value_equal(const lm_value *a, const lm_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case LM_VAL_INTEGER:
        return a->i == b->i;
    case LM_VAL_FLOAT:
        return a->f == b->f;
    case LM_VAL_TEXT:
    case LM_VAL_BLOB:
        return a->len == b->len && (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0);
    default:
        return 1;
    }
}
