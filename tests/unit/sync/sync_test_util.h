/*
 * sync_test_util.h — shared fixtures for the sync unit tests: a temp dir,
 * a settable clock, replicas opened on it, and push/pull helpers that move
 * changes between replicas the way the server and an agent do.
 */
#ifndef SYNC_TEST_UTIL_H
#define SYNC_TEST_UTIL_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lm_sync.h"
#include "lm_test.h"

static char st_dir[256];
static uint64_t st_clock = 1700000000000ull;

static inline uint64_t st_now(void *ud)
{
    return ud ? *(uint64_t *)ud : st_clock;
}

static inline void st_mkdir(const char *name)
{
    snprintf(st_dir, sizeof st_dir, "/tmp/lm_%s_XXXXXX", name);
    if (!mkdtemp(st_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void st_rmdir(void)
{
    char cmd[300];
    if (getenv("LM_KEEP_TMP")) /* keep the files to look at a failure */
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", st_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", st_dir);
}

static inline void st_path(char *out, size_t n, const char *file)
{
    snprintf(out, n, "%s/%s", st_dir, file);
}

/* Opens (creating) file in the temp dir with a fixed site and the clock;
 * a server's file keeps scope keys (lm_replica_options.scope_keys). */
static inline lm_replica *st_open_as(const char *file, uint64_t site, uint64_t *clock, int server)
{
    char path[400], err[256];
    st_path(path, sizeof path, file);
    lm_replica_options o = {
        .create = 1, .site = site, .now_ms = st_now, .now_ud = clock, .scope_keys = server};
    lm_replica *r = NULL;
    int rc = lm_replica_open(path, &o, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "open %s: %s (%s)\n", path, lm_errname(rc), err);
        return NULL;
    }
    return r;
}

static inline lm_replica *st_open(const char *file, uint64_t site, uint64_t *clock)
{
    return st_open_as(file, site, clock, 0);
}

static inline int st_exec(lm_replica *r, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(lm_replica_db(r), sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "SQL failed: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
    }
    return rc;
}

/* One integer from a query (or -999 when there is no row). */
static inline long long st_int(lm_replica *r, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -999;
    if (sqlite3_prepare_v2(lm_replica_db(r), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Text of a query's first column into out ("" when none). */
static inline const char *st_text(lm_replica *r, const char *sql, char *out, size_t n)
{
    sqlite3_stmt *st = NULL;
    out[0] = 0;
    if (sqlite3_prepare_v2(lm_replica_db(r), sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

/* Agent -> server: every pending local change in one batch, checked with
 * the writer's scope, then acknowledged on the agent. */
static inline int st_push(lm_replica *agent, lm_replica *server, const lm_scope *writer,
                          lm_apply_result *res_out)
{
    uint64_t after = 0, upto = 0;
    lm_change *ch = NULL;
    uint32_t n = 0;
    lm_apply_result res;
    int rc = lm_replica_push_acked_seq(agent, &after);
    if (!rc)
        rc = lm_replica_local_changes(agent, after, 1u << 30, &ch, &n, &upto);
    if (rc)
        return rc;
    lm_apply_ctx ctx = {
        .writer = writer, .origin_site = lm_replica_site(agent), .origin_upto_seq = upto};
    rc = lm_replica_apply(server, ch, n, &ctx, &res);
    if (!rc)
        rc = lm_replica_push_acked(agent, upto, ch, n, res.refusals, res.n_refusals);
    if (res_out)
        *res_out = res;
    else
        lm_apply_result_clear(&res);
    lm_changes_free(ch, n);
    return rc;
}

/* Server -> agent: everything after the agent's cursor in its scope. */
static inline int st_pull(lm_replica *server, lm_replica *agent, const lm_scope *reader)
{
    char *cur = NULL;
    uint64_t cursor = 0, next = 0;
    int more = 1, rc = LM_OK, rounds = 0;
    if (lm_replica_meta_get(agent, "pull_cursor", &cur) == LM_OK) {
        cursor = strtoull(cur, NULL, 10);
        lm_free(cur);
    }
    while (more && !rc && rounds++ < 10000) {
        lm_change *ch = NULL;
        uint32_t n = 0;
        rc = lm_replica_changes_since(server, cursor, reader, lm_replica_site(agent), 1u << 20, &ch,
                                      &n, &next, &more);
        if (rc)
            break;
        lm_apply_ctx ctx = {.cursor_key = "pull_cursor", .cursor_value = next};
        lm_apply_result res;
        rc = lm_replica_apply(agent, ch, n, &ctx, &res);
        lm_apply_result_clear(&res);
        lm_changes_free(ch, n);
        cursor = next;
    }
    return rc;
}

static inline int st_hash_eq(lm_replica *a, lm_replica *b, const lm_scope *scope)
{
    uint8_t ha[32], hb[32];
    if (lm_replica_state_hash(a, scope, ha) || lm_replica_state_hash(b, scope, hb))
        return 0;
    return memcmp(ha, hb, 32) == 0;
}

#endif
