/*
 * report_agents.c — `lastmile-server report agents`: per user of the
 * server, when it last synced, what is known to be waiting in each
 * direction, and what needs a person. Figures come from the server's own
 * logs: lm_sessions_log (last session of the user, its replica site, the
 * pull cursor it confirmed, the changes it still had queued),
 * lm_conflicts (open conflicts where the user's site wrote the kept or the
 * set-aside value), lm_refusal_counts (changes of the user the server
 * refused, counted per reason) with lm_refusals (one row each, from
 * servers before schema 7) and lm_flags (versions from the user's site
 * stamped further ahead than max_clock_ahead_ms, clamped: clock_ahead_ms is
 * the largest lead measured). A user that never synced has no site, so its
 * conflict and old refusal counts are 0.
 *
 * waiting_pull is counted by the sync engine itself: the changes
 * lm_replica_changes_since() would hand the user's replica from its
 * recorded cursor, with the user's read scope and without the replica's
 * own changes — exactly what its next PULLs would bring. waiting_push is
 * what the replica said it had queued when its last session started (HELLO
 * "p") less what the server applied of it in that session. Counting needs the
 * engine's own connection (it stamps unversioned captures before reading),
 * so the report opens the database twice: the rows come from one read-only
 * snapshot, the counts from the replica a moment later, one user at a time.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "args.h"
#include "report.h"
#include "srvdb.h"

static const char usage[] =
    "usage: lastmile-server report agents --db PATH [--format table|csv|json]\n"
    "\n"
    "Per user: role, revoked, last_sync (local time,\n"
    "$LASTMILE_UTC_OFFSET, default +08:00), sessions, changes pushed and\n"
    "pulled in the last session, waiting_pull (changes in the user's scope the\n"
    "server holds beyond the cursor its replica confirmed), waiting_push\n"
    "(changes its replica still had queued when the last session ended; empty\n"
    "when it did not say), open_conflicts and refusals involving the user's\n"
    "replica; clock_ahead_ms, the furthest its clock was found ahead of the\n"
    "server's, past max_clock_ahead_ms (empty when never); and future_dated:\n"
    "the user's purchases dated more than a day after the server received\n"
    "them (a phone clock running ahead). See docs/hq.md.\n";

/* %s: the progress columns, or NULLs on a file a server of an earlier
 * version wrote and no server has opened since. */
static const char query_fmt[] =
    "SELECT u.id, u.role, u.revoked,"
    " CASE WHEN s.last_sync_at IS NULL THEN NULL ELSE"
    "  strftime('%%Y-%%m-%%d %%H:%%M:%%S', s.last_sync_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET
    ") END,"
    " COALESCE(s.sessions, 0), s.pushed, s.pulled, %s,"
    " (SELECT COUNT(*) FROM lm_conflicts c WHERE c.resolved = 0"
    "  AND s.site IS NOT NULL AND (c.loser_site = s.site OR c.winner_site = s.site)),"
    " (SELECT COUNT(*) FROM lm_refusals f WHERE s.site IS NOT NULL AND f.site = s.site)%s,"
    " (SELECT MAX((g.remote_hlc >> 16) - (g.clamped_hlc >> 16)) FROM lm_flags g"
    "  WHERE s.site IS NOT NULL AND g.site = s.site),"
    " (SELECT COUNT(*) FROM collections fc WHERE fc.agent_id = u.id"
    "  AND fc.received_at > 0 AND fc.collected_at > fc.received_at + " LM_FUTURE_DATED_MS_SQL "),"
    " s.site"
    " FROM lm_users u LEFT JOIN lm_sessions_log s ON s.user = u.id ORDER BY u.id";

static const char *const col_names[] = {
    "user",     "role",           "revoked",      "last_sync",    "sessions",
    "pushed",   "pulled",         "waiting_pull", "waiting_push", "open_conflicts",
    "refusals", "clock_ahead_ms", "future_dated"};
static const int numeric[] = {0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
#define N_COLS (sizeof numeric / sizeof numeric[0])
/* Result columns: the N_COLS above with the pull cursor in place of
 * waiting_pull, then the site. */
#define COL_CURSOR 7
#define COL_SITE 13

/* Pull batches of this size while counting: big enough for few round
 * trips, small enough to stay modest in memory. */
#define COUNT_BUDGET (1u << 20)

typedef struct fill_arg {
    lm_replica *r; /* the engine's connection for the counts */
    char err[256];
} fill_arg;

/* Counts what the engine would send user (whose replica is site, 0 when
 * unknown) from cursor. */
static int count_waiting(fill_arg *a, const char *user, uint64_t site, uint64_t cursor,
                         uint64_t *out)
{
    lm_user u;
    *out = 0;
    int rc = lm__srvdb_user_get(lm_replica_db(a->r), user, &u);
    if (rc == LM_OK)
        rc = lm__user_scope_build(&u);
    if (rc != LM_OK) {
        snprintf(a->err, sizeof a->err, "reading user %s: %s", user, lm_strerror(rc));
        goto fail_user;
    }
    int more = 1;
    while (more && rc == LM_OK) {
        lm_change *ch = NULL;
        uint32_t n = 0;
        uint64_t next = cursor;
        rc = lm_replica_changes_since(a->r, cursor, &u.scope, site, COUNT_BUDGET, &ch, &n, &next,
                                      &more);
        lm_changes_free(ch, n);
        if (rc != LM_OK) {
            snprintf(a->err, sizeof a->err, "counting changes for %s: %s", user,
                     lm_replica_errmsg(a->r));
            break;
        }
        *out += n;
        if (more && next == cursor) /* no progress: never loop forever */
            more = 0;
        cursor = next;
    }
fail_user:
    lm__user_clear(&u);
    return rc;
}

static int fill_row(sqlite3_stmt *st, char **cells, void *arg)
{
    fill_arg *a = arg;
    for (int k = 0; k < (int)N_COLS; k++) {
        const char *t = (const char *)sqlite3_column_text(st, k);
        if (k != COL_CURSOR && t && !(cells[k] = lm_strdup(t)))
            return LM_ENOMEM;
    }
    /* A user that never synced has no replica yet: its first sync starts
     * from cursor 0. A replica whose cursor was never recorded (synced
     * with an earlier server) is unknown. */
    int never = sqlite3_column_type(st, COL_SITE) == SQLITE_NULL;
    if (!never && sqlite3_column_type(st, COL_CURSOR) == SQLITE_NULL)
        return LM_OK;
    uint64_t waiting = 0;
    int rc = count_waiting(a, (const char *)sqlite3_column_text(st, 0),
                           never ? 0 : (uint64_t)sqlite3_column_int64(st, COL_SITE),
                           never ? 0 : (uint64_t)sqlite3_column_int64(st, COL_CURSOR), &waiting);
    if (rc != LM_OK)
        return rc;
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)waiting);
    return (cells[COL_CURSOR] = lm_strdup(text)) ? LM_OK : LM_ENOMEM;
}

static int run_report(sqlite3 *db, fill_arg *a, int format, char *err, size_t err_size)
{
    lm_hq_rows rows = {col_names, numeric, N_COLS, NULL, 0, 0};
    int has = lm__srvdb_has_column(db, "lm_sessions_log", "pull_cursor");
    if (has > 0)
        has = lm__srvdb_has_column(db, "lm_sessions_log", "push_queued");
    if (has < 0) {
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        return LM_EDB;
    }
    int counted = lm__srvdb_has_column(db, "lm_refusal_counts", "n");
    if (counted < 0) {
        snprintf(err, err_size, "%s", sqlite3_errmsg(db));
        return LM_EDB;
    }
    char sql[sizeof query_fmt + 160];
    snprintf(sql, sizeof sql, query_fmt,
             has ? "s.pull_cursor, s.push_queued" : "NULL AS pull_cursor, NULL AS push_queued",
             counted
                 ? " + COALESCE((SELECT SUM(n) FROM lm_refusal_counts k WHERE k.user = u.id), 0)"
                 : "");
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    int rc = lm__hq_rows_report(db, st, &rows, fill_row, a, format, stdout, err, err_size);
    if (rc != LM_OK && a->err[0])
        snprintf(err, err_size, "%s", a->err);
    return rc;
}

int lm__cmd_report_agents(int argc, char **argv)
{
    const char *db = NULL, *format = "table";
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL}, {"format", LM_OPT_VALUE, &format, NULL}};
    int prc = lm_args_run(argc, argv, opts, 2, "lastmile-server report agents", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    int fmt = lm__report_parse_format(format);
    if (fmt < 0) {
        fprintf(stderr, "lastmile-server report agents: --format must be table, csv or json\n");
        return 2;
    }
    int code = 1;
    char err[512] = "";
    fill_arg a;
    memset(&a, 0, sizeof a);
    sqlite3 *sdb = lm__report_open(db, "report agents");
    if (!sdb)
        goto fail_open;
    if (!(a.r = lm__hq_open(db, "report agents")))
        goto fail_replica;
    if (run_report(sdb, &a, fmt, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report agents: %s\n", err);
        goto fail_report;
    }
    code = fflush(stdout) == 0 ? 0 : 1;
fail_report:
    lm_replica_close(a.r);
fail_replica:
    sqlite3_close(sdb);
fail_open:
    return code;
}
