/*
 * health.c — opening a replica the way its command needs, and saying in
 * the user's terms why it cannot be used: a damaged file (exit 3) or a
 * full disk (exit 4). Internal table names never reach the user.
 *
 * Read commands fall back to a read-only open when the disk is full: the
 * ordinary open needs room for the WAL index (-shm), and an agent must be
 * able to read its own records whatever the disk. Write commands and sync
 * run SQLite's quick check first and refuse a damaged file: new money
 * records never go into a file that may lose them (docs/sync.md, "Damaged
 * replicas and a full disk").
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cli.h"
#include "sync_client.h"

/* A failed write on a disk with less than this free is put down to the
 * disk: SQLite's first step (the 32 KiB WAL index, a few pages of WAL)
 * needs less, so a failure with more free is something else. */
#define DISK_LOW_BYTES (1024u * 1024u)

/* Free bytes for an unprivileged writer on the file system holding path
 * (a file or its folder); UINT64_MAX when unknown. */
static uint64_t free_bytes(const char *path)
{
    struct statvfs sv;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path && *path ? path : ".");
    if (statvfs(dir, &sv) != 0) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = 0;
        else
            snprintf(dir, sizeof dir, ".");
        if (statvfs(dir, &sv) != 0)
            return UINT64_MAX;
    }
    return (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
}

int lm_cli_disk_full(const char *path, int rc)
{
    return rc == LM_EFULL || (rc != LM_OK && free_bytes(path) < DISK_LOW_BYTES);
}

int lm_cli_disk_full_error(const char *cmd, const char *path, const char *outcome)
{
    uint64_t free = free_bytes(path);
    double mb = free == UINT64_MAX ? 0.0 : (double)free / (1024.0 * 1024.0);
    lm_cli_error(cmd,
                 "disk full: %.1f MB free where %s is kept; %s (free some space, then "
                 "run it again)",
                 mb, path, outcome);
    return LM_EXIT_DISK_FULL;
}

/* "<path>-damaged": left by whatever found the file damaged, so that
 * every later write checks it whatever its size (see lm_cli_open). */
static void marker_path(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s-damaged", path);
}

static void mark_damaged(const char *path, const char *finding)
{
    char name[4096];
    marker_path(path, name, sizeof name);
    FILE *f = fopen(name, "w"); /* best effort: a full disk may refuse it */
    if (f) {
        fprintf(f, "%s\n", finding);
        fclose(f);
    }
}

void lm_cli_damage_cleared(const char *path)
{
    char name[4096];
    marker_path(path, name, sizeof name);
    unlink(name);
}

int lm_cli_damaged_error(const char *cmd, const char *path, const char *finding)
{
    mark_damaged(path, finding);
    lm_cli_error(cmd,
                 "the replica %s is damaged (%s): it takes no new records; run 'lastmile "
                 "check --db %s' for details and 'lastmile salvage --db %s --out NEW' to "
                 "rebuild it",
                 path, finding, path, path);
    return LM_EXIT_DAMAGED;
}

int lm_cli_sql_error(const char *cmd, sqlite3 *db, const char *what)
{
    int code = sqlite3_errcode(db) & 0xff;
    const char *path = sqlite3_db_filename(db, "main");
    if (code == SQLITE_FULL)
        return lm_cli_disk_full_error(cmd, path, "nothing was written");
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
        return lm_cli_damaged_error(cmd, path, sqlite3_errmsg(db));
    return lm_cli_error(cmd, "%s: %s", what, sqlite3_errmsg(db));
}

/* Opens path with o; on failure *out is NULL, rc and err say why. */
static int open_with(const char *path, int read_only, lm_replica **out, char *err, size_t err_size)
{
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.cache_kib = LM_AGENT_CACHE_KIB;
    o.read_only = read_only;
    int rc = lm_replica_open(path, &o, out, err, err_size);
    if (rc != LM_OK)
        *out = NULL;
    return rc;
}

/* The quick check before a write or a sync: always for a sync and for a
 * file marked damaged before, else while the file is small enough for it
 * to cost little. Passing clears the mark (a file moved into its place). */
static int quick_check(lm_replica *r, const char *path, int flags)
{
    char marker[4096];
    marker_path(path, marker, sizeof marker);
    int marked = access(marker, F_OK) == 0;
    if (!(flags & LM_CLI_SYNC) && !marked) {
        sqlite3_stmt *st = NULL;
        int64_t pages = 0;
        if (sqlite3_prepare_v2(lm_replica_db(r), "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            pages = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (pages > LM_CLI_QUICK_CHECK_MAX_PAGES)
            return LM_OK;
    }
    int rc = lm_replica_check(r, 0, NULL, NULL);
    if (rc == LM_OK && marked)
        unlink(marker);
    return rc;
}

/* A write command that cannot even open: say what stays queued, read
 * through the read-only open that works on a full disk. */
static int disk_full_at_open(const char *cmd, const char *path)
{
    lm_replica *r = NULL;
    char err[256], outcome[128] = "nothing was written";
    uint64_t pending = 0;
    if (open_with(path, 1, &r, err, sizeof err) == LM_OK &&
        lm_replica_pending_count(r, &pending) == LM_OK)
        snprintf(outcome, sizeof outcome,
                 "nothing was written and nothing is lost: %llu changes stay queued",
                 (unsigned long long)pending);
    lm_replica_close(r);
    return lm_cli_disk_full_error(cmd, path, outcome);
}

int lm_cli_open(const char *cmd, const char *db_opt, int flags, lm_replica **out)
{
    const char *path = lm_cli_db_path(db_opt);
    char err[256] = "";
    *out = NULL;
    if (access(path, F_OK) != 0)
        return lm_cli_error(cmd, "no replica at %s (run 'lastmile init' first)", path);
    int writes = (flags & LM_CLI_WRITE) != 0;
    int rc = open_with(path, 0, out, err, sizeof err);
    if (rc != LM_OK && !writes && lm_cli_disk_full(path, rc))
        rc = open_with(path, 1, out, err, sizeof err);
    if (rc == LM_ECORRUPT)
        return lm_cli_damaged_error(cmd, path, err);
    if (rc != LM_OK && lm_cli_disk_full(path, rc))
        return disk_full_at_open(cmd, path);
    if (rc != LM_OK)
        return lm_cli_error(cmd, "cannot open %s: %s", path, err[0] ? err : lm_strerror(rc));
    lm_cli_private_files(path); /* a replica copied in with another mode */
    if (flags & LM_CLI_USER) {
        char *user = lm_cli_meta(*out, "user");
        if (!user) {
            lm_replica_close(*out);
            *out = NULL;
            return lm_cli_error(cmd, "%s is not initialised (run 'lastmile init' first)", path);
        }
        lm_free(user);
    }
    if (writes && (rc = quick_check(*out, path, flags)) != LM_OK) {
        snprintf(err, sizeof err, "%s", lm_replica_errmsg(*out));
        lm_replica_close(*out);
        *out = NULL;
        if (rc == LM_ECORRUPT)
            return lm_cli_damaged_error(cmd, path, err);
        return lm_cli_error(cmd, "cannot check %s: %s", path, err);
    }
    return LM_EXIT_OK;
}
