/*
 * report_agents.c — `lastmile-server report agents`: per user of the
 * server, when it last synced and what needs a person. Figures come from
 * the server's own logs: lm_sessions_log (last session of the user, its
 * replica site), lm_conflicts (open conflicts where the user's site wrote
 * the kept or the set-aside value) and lm_refusals (changes from the
 * user's site the server refused). A user that never synced has no site,
 * so its counts are 0.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "opts.h"
#include "report.h"

static const char usage[] =
    "usage: lastmile-server report agents --db PATH [--format table|csv|json]\n"
    "\n"
    "Per user: role, revoked, last_sync (UTC), sessions, changes pushed and\n"
    "pulled in the last session, open_conflicts and refusals involving the\n"
    "user's replica.\n";

static const char query[] =
    "SELECT u.id, u.role, u.revoked,"
    " CASE WHEN s.last_sync_at IS NULL THEN NULL ELSE"
    "  strftime('%Y-%m-%d %H:%M:%S', s.last_sync_at / 1000, 'unixepoch') END,"
    " COALESCE(s.sessions, 0), s.pushed, s.pulled,"
    " (SELECT COUNT(*) FROM lm_conflicts c WHERE c.resolved = 0"
    "  AND s.site IS NOT NULL AND (c.loser_site = s.site OR c.winner_site = s.site)),"
    " (SELECT COUNT(*) FROM lm_refusals f WHERE s.site IS NOT NULL AND f.site = s.site)"
    " FROM lm_users u LEFT JOIN lm_sessions_log s ON s.user = u.id ORDER BY u.id";

static const char *const col_names[] = {"user",      "role",           "revoked",
                                        "last_sync", "sessions",       "pushed",
                                        "pulled",    "open_conflicts", "refusals"};
static const int numeric[] = {0, 0, 1, 0, 1, 1, 1, 1, 1};
#define N_COLS (sizeof numeric / sizeof numeric[0])

static int run_report(sqlite3 *db, int format, char *err, size_t err_size)
{
    sqlite3_stmt *st = NULL;
    lm_hq_rows rows = {col_names, numeric, N_COLS, NULL, 0, 0};
    int rc = LM_EDB, step;
    if (sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK)
        goto fail_db;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        char **cells = lm__hq_rows_add(&rows);
        if (!cells) {
            rc = LM_ENOMEM;
            goto fail_mem;
        }
        for (int k = 0; k < (int)N_COLS; k++) {
            const char *t = (const char *)sqlite3_column_text(st, k);
            if (t && !(cells[k] = lm_strdup(t))) {
                rc = LM_ENOMEM;
                goto fail_mem;
            }
        }
    }
    if (step != SQLITE_DONE)
        goto fail_db;
    lm__hq_rows_print(&rows, format, stdout);
    rc = LM_OK;
    goto done;
fail_db:
    snprintf(err, err_size, "%s", sqlite3_errmsg(db));
    goto done;
fail_mem:
    snprintf(err, err_size, "%s", lm_strerror(rc));
done:
    lm__hq_rows_free(&rows);
    sqlite3_finalize(st);
    return rc;
}

int lm__cmd_report_agents(int argc, char **argv)
{
    const char *db = NULL, *format = "table";
    lm_opt opts[] = {{"db", &db, NULL}, {"format", &format, NULL}};
    int prc = lm__opts_parse(argc, argv, opts, 2, "report agents");
    if (prc == LM_OPTS_HELP) {
        fputs(usage, stdout);
        return 0;
    }
    if (prc != LM_OPTS_OK)
        return 2;
    int fmt = lm__report_parse_format(format);
    if (!db || fmt < 0) {
        fprintf(stderr, "lastmile-server report agents: %s\n",
                !db ? "--db PATH is required" : "--format must be table, csv or json");
        return 2;
    }
    sqlite3 *sdb = NULL;
    int code = 1;
    char err[512] = "";
    if (sqlite3_open_v2(db, &sdb, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "lastmile-server report agents: %s: %s\n", db,
                sdb ? sqlite3_errmsg(sdb) : "cannot open");
        goto fail_open;
    }
    sqlite3_busy_timeout(sdb, 5000);
    if (run_report(sdb, fmt, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report agents: %s\n", err);
        goto fail_open;
    }
    code = fflush(stdout) == 0 ? 0 : 1;
fail_open:
    sqlite3_close(sdb);
    return code;
}
