/*
 * cmd_farmer_state.c — `lastmile-server farmer deactivate|reactivate`: hq
 * stops buying from a farmer, or allows it again (issue 19: a farmer is
 * deactivated, never erased). farmers.deactivated_at (schema 12, written
 * by the server only) holds when; the farmer's row and purchases stay, in
 * every report and list. From then on the field tool refuses a new
 * purchase from the farmer at entry and the server's ledger rules refuse
 * one collected at or after that time (a purchase made on a phone before
 * it learnt of the deactivation still syncs).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hq.h"
#include "lm_text.h"
#include "args.h"

static const char usage[] =
    "usage: lastmile-server farmer deactivate --db PATH --farmer ID\n"
    "       lastmile-server farmer reactivate --db PATH --farmer ID\n"
    "\n"
    "deactivate  stops purchases from the farmer: agents' phones refuse a new\n"
    "            one once they synced, and the server refuses one collected\n"
    "            after now. The farmer and its purchases stay in every list and\n"
    "            report; nothing is erased.\n"
    "reactivate  allows purchases from the farmer again.\n";

/* The farmer's deactivated_at: 1 and *at when deactivated, 0 when active,
 * -1 when there is no such farmer, LM_EDB-ish negatives below -1. */
static int state_of(sqlite3 *db, const char *id, long long *at, char *name, size_t name_size)
{
    sqlite3_stmt *st = NULL;
    int rc = -2;
    if (sqlite3_prepare_v2(db, "SELECT deactivated_at, name FROM farmers WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = sqlite3_column_type(st, 0) != SQLITE_NULL;
        *at = sqlite3_column_int64(st, 0);
        const char *n = (const char *)sqlite3_column_text(st, 1);
        snprintf(name, name_size, "%s", n ? n : "");
    } else if (step == SQLITE_DONE) {
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int lm__cmd_farmer_state(int argc, char **argv)
{
    int deactivate = strcmp(argv[0], "deactivate") == 0;
    const char *cmd = deactivate ? "farmer deactivate" : "farmer reactivate";
    const char *db = NULL, *farmer = NULL;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL}, {"farmer", LM_OPT_VALUE, &farmer, NULL}};
    int rc = lm__hq_args_run(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0], cmd, usage,
                             "db,farmer");
    if (rc != LM_ARGS_GO)
        return rc;
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    char name[256] = "", err[512] = "", when[40] = "";
    long long at = 0;
    int state = state_of(lm_replica_db(r), farmer, &at, name, sizeof name);
    rc = 1;
    if (state == -1) {
        fprintf(stderr, "lastmile-server %s: unknown farmer '%s'\n", cmd, farmer);
        goto done;
    }
    if (state < 0) {
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, sqlite3_errmsg(lm_replica_db(r)));
        goto done;
    }
    if (state == deactivate) {
        if (deactivate)
            lm_text_time(at, LM_TIME_DEFAULT_OFFSET_MIN, when, sizeof when);
        fprintf(stderr, "lastmile-server %s: farmer '%s' (%s) is %s%s\n", cmd, farmer, name,
                deactivate ? "deactivated already, since " : "active already", when);
        goto done;
    }
    lm_hq_param p[] = {
        {farmer, 0, 0, 0},
        {NULL, (long long)time(NULL) * 1000, deactivate ? LM_HQ_INT : LM_HQ_NULL, 0}};
    if (lm__hq_write(r, "UPDATE farmers SET deactivated_at = ?2 WHERE id = ?1", p, 2, NULL, err,
                     sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, err);
        goto done;
    }
    printf("%s %s %s\n", farmer, name, deactivate ? "deactivated" : "reactivated");
    rc = 0;
done:
    lm_replica_close(r);
    return rc;
}
