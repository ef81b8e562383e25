/*
 * cmd_stop.c — `lastmile stop arrive STOP` and `lastmile stop load STOP
 * --kg KG`: the agent's side of a pickup route. Only the stop's status and
 * loaded weight are written (the agent's columns of route_stops; the plan
 * columns are the dispatcher's), so a concurrent re-plan by the dispatcher
 * merges without a conflict. The status only moves forward: planned <
 * arrived < loaded (docs/schema.md); going back is refused here, and the
 * replica engine refuses it from any other writer too.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "money.h"

static const char usage[] =
    "usage: lastmile stop arrive STOP [--db PATH] [--json]\n"
    "       lastmile stop load STOP --kg KG [--db PATH] [--json]\n"
    "       lastmile stop correct STOP --kg KG --reason TEXT   (dispatcher, hq)\n"
    "\n"
    "Marks your stop of a pickup route as arrived, or as loaded with KG (the\n"
    "weight put on the truck, at most 3 decimals). A stop's status only moves\n"
    "forward: planned, arrived, loaded. Sync afterwards to report it.\n";

/* Rank of a stop status in its declared order; 0 when unknown. */
static int rank(const char *status)
{
    static const char *const order[] = {"planned", "arrived", "loaded"};
    for (int i = 0; i < 3; i++) {
        if (status && strcmp(status, order[i]) == 0)
            return i + 1;
    }
    return 0;
}

int lm_cmd_stop(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *kg = NULL, *why = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c), {"kg", LM_OPT_VALUE, &kg, NULL}};
    const char *cmd = "stop";
    if (argc >= 1 && strcmp(argv[0], "correct") == 0)
        return lm_cmd_stop_correct(argc - 1, argv + 1);
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 2 ||
        (strcmp(a.positional[0], "arrive") != 0 && strcmp(a.positional[0], "load") != 0))
        return lm_cli_usage_error(cmd, "say 'stop arrive STOP' or 'stop load STOP --kg KG'");
    int load = strcmp(a.positional[0], "load") == 0;
    const char *stop = a.positional[1];
    int64_t grams = 0;
    if (load && !kg)
        return lm_cli_usage_error(cmd, "stop load needs --kg KG");
    if (!load && kg)
        return lm_cli_usage_error(cmd, "--kg goes with 'stop load'");
    if (load && lm_money_parse_kg(kg, &grams, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--kg '%s' %s", kg, why);

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char *role = lm_cli_meta(r, "role");
    sqlite3_stmt *st = NULL;
    int target = load ? 3 : 2;

    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
        goto fail_begin;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT s.agent_id, s.status, r.status FROM route_stops s"
                           " LEFT JOIN routes r ON r.id = s.route_id WHERE s.id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot read stops");
        goto fail_tx;
    }
    sqlite3_bind_text(st, 1, stop, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        code = lm_cli_error(cmd, "unknown stop '%s' (sync to receive new routes)", stop);
        goto fail_tx;
    }
    const char *owner = (const char *)sqlite3_column_text(st, 0);
    const char *status = (const char *)sqlite3_column_text(st, 1);
    if ((!role || strcmp(role, "hq") != 0) && (!owner || !user || strcmp(owner, user) != 0)) {
        code = lm_cli_error(cmd, "stop '%s' is %s's, not yours", stop, owner ? owner : "nobody");
        goto fail_tx;
    }
    const char *route_status = (const char *)sqlite3_column_text(st, 2);
    if (route_status && strcmp(route_status, "cancelled") == 0) {
        code = lm_cli_error(cmd, "stop '%s' is on a cancelled route: no pickup there", stop);
        goto fail_tx;
    }
    if (rank(status) >= target) {
        code =
            lm_cli_error(cmd, "stop '%s' is %s already; a status only moves forward", stop, status);
        goto fail_tx;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           load ? "UPDATE route_stops SET status = 'loaded', loaded_weight_g = ?2"
                                  " WHERE id = ?1"
                                : "UPDATE route_stops SET status = 'arrived' WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot prepare");
        goto fail_tx;
    }
    sqlite3_bind_text(st, 1, stop, -1, SQLITE_STATIC);
    if (load)
        sqlite3_bind_int64(st, 2, grams);
    if (sqlite3_step(st) != SQLITE_DONE || lm_cli_exec(db, "COMMIT") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot update");
        goto fail_tx;
    }
    sqlite3_finalize(st);
    lm_free(user);
    lm_free(role);
    lm_replica_close(r);
    return lm_cli_print_id(cmd, stop, c.json);

fail_tx:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
    lm_free(user);
    lm_free(role);
    lm_replica_close(r);
    return code;
}
