/*
 * cmd_stop_correct.c — `lastmile stop correct STOP --kg KG --reason TEXT`:
 * a dispatcher or hq corrects the load an agent recorded at a stop (a
 * typo like 99999 kg would otherwise stay in `points` and `report
 * reconcile` forever, since a stop's status only moves forward). The
 * recorded weight is never changed: the correction is its own row of
 * load_corrections, immutable and never deleted like an adjustment, and
 * the latest correction of a stop (by time, then id) is its load from
 * then on (docs/dispatch.md). The server checks the same rights on
 * receipt: hq anywhere, a dispatcher in its own county, no agent.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "money.h"

#define MAX_REASON 1000

static const char usage[] =
    "usage: lastmile stop correct STOP --kg KG --reason TEXT [--db PATH] [--json]\n"
    "\n"
    "Records a correction of the load recorded at STOP (dispatcher of its county,\n"
    "or hq): KG is the weight really loaded (0 or more, at most 3 decimals). The\n"
    "recorded load stays as it was; `points` and `report reconcile` use the latest\n"
    "correction. Prints the correction's id. Sync afterwards to send it.\n";

/* --kg for a correction: what lm_money_parse_kg takes, or zero. */
static int parse_corrected_kg(const char *kg, int64_t *grams, const char **why)
{
    size_t n = strlen(kg);
    if (n && strspn(kg, "0.") == n && strchr(kg, '0') && strchr(kg, '.') == strrchr(kg, '.') &&
        kg[0] != '.' && kg[n - 1] != '.') {
        *grams = 0;
        return LM_OK;
    }
    return lm_money_parse_kg(kg, grams, why);
}

/* The county of the stop's route into *county (lm_strdup'd, the caller
 * frees it): 1 found, 0 unknown stop, -1 error. */
static int stop_county(sqlite3 *db, const char *stop, char **county)
{
    sqlite3_stmt *st = NULL;
    *county = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT r.county FROM route_stops s JOIN routes r ON r.id = s.route_id"
                           " WHERE s.id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, stop, -1, SQLITE_STATIC);
    int step = sqlite3_step(st), found = 0;
    if (step == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        *county = lm_strdup(c ? c : "");
        found = *county ? 1 : -1;
    } else if (step != SQLITE_DONE) {
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

int lm_cmd_stop_correct(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *kg = NULL, *reason = NULL, *why = "is not a weight";
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c),
                           LM_CLI_JSON_OPT(c),
                           {"kg", LM_OPT_VALUE, &kg, NULL},
                           {"reason", LM_OPT_VALUE, &reason, NULL}};
    const char *cmd = "stop correct";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, "say 'stop correct STOP --kg KG --reason TEXT'");
    if (!kg)
        return lm_cli_usage_error(cmd, "--kg is required");
    if (!reason || !*reason)
        return lm_cli_usage_error(cmd, "--reason is required");
    if (strlen(reason) > MAX_REASON)
        return lm_cli_usage_error(cmd, "--reason is limited to %d bytes", MAX_REASON);
    int64_t grams = 0;
    if (parse_corrected_kg(kg, &grams, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--kg '%s' %s", kg, why);
    const char *stop = a.positional[0];

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 1, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user"), *role = lm_cli_meta(r, "role");
    char *county = NULL;
    char id[LM_ID_SIZE];
    sqlite3_stmt *st = NULL;
    int dispatcher = role && strcmp(role, "dispatcher") == 0;
    if (!dispatcher && (!role || strcmp(role, "hq") != 0)) {
        code = lm_cli_error(cmd, "only a dispatcher or hq corrects a load (this replica is %s's)",
                            role ? role : "unknown");
        goto fail_begin;
    }
    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_error(cmd, "cannot start a transaction: %s", sqlite3_errmsg(db));
        goto fail_begin;
    }
    int found = stop_county(db, stop, &county);
    if (found != 1) {
        code = found < 0
                   ? lm_cli_error(cmd, "cannot read stops: %s", sqlite3_errmsg(db))
                   : lm_cli_error(cmd, "unknown stop '%s' (sync to receive new routes)", stop);
        goto fail_tx;
    }
    /* A dispatcher's replica holds its own county's stops only; the
     * server refuses a correction outside it all the same. */
    code = lm_cli_insert_prepare(cmd, r,
                                 "INSERT INTO load_corrections (id, stop_id, county,"
                                 " loaded_weight_g, reason, \"by\", \"at\")"
                                 " VALUES (?,?,?,?,?,?,?)",
                                 id, &st);
    if (code)
        goto fail_tx;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stop, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, county, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, grams);
    sqlite3_bind_text(st, 5, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)lm_cli_now_ms());
    code = lm_cli_insert_commit(cmd, db, st);
    if (code)
        goto fail_tx;
    sqlite3_finalize(st);
    lm_free(county);
    lm_free(user);
    lm_free(role);
    lm_replica_close(r);
    return lm_cli_print_id(cmd, id, c.json);

fail_tx:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
    lm_free(county);
    lm_free(user);
    lm_free(role);
    lm_replica_close(r);
    return code;
}
