/*
 * cmd_farmer.c — `lastmile farmer add`: registers a farmer on the local
 * replica (plain SQL INSERT; the capture triggers queue it for the next
 * sync).
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "farmer_lookup.h"

static const char usage[] =
    "usage: lastmile farmer add --name NAME --village V [--phone P] [--poor]\n"
    "                           [--household ID] [--force] [--db PATH] [--json]\n"
    "\n"
    "Registers a farmer of village V (a village of the synced catalog; the\n"
    "server accepts only the agent's own villages). --poor marks a\n"
    "registered-poor household (--household is its registration id). A phone\n"
    "is 7 to 15 digits, optionally +country code, spaces or '-' between groups.\n"
    "A farmer of the same name in the same village is most likely the same\n"
    "person: it is refused unless --force says it is another. Prints the new\n"
    "farmer id as the last line (with --json: {\"id\": ...}).\n";

#define MAX_FIELD 200

int lm_cmd_farmer_add(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *name = NULL, *village = NULL, *phone = NULL, *household = NULL;
    int poor = 0, force = 0;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"name", LM_OPT_VALUE, &name, NULL},
        {"village", LM_OPT_VALUE, &village, NULL},
        {"phone", LM_OPT_VALUE, &phone, NULL},
        {"household", LM_OPT_VALUE, &household, NULL},
        {"poor", LM_OPT_FLAG, NULL, &poor},
        {"force", LM_OPT_FLAG, NULL, &force},
    };
    const char *cmd = "farmer add";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    if (!name || !*name)
        return lm_cli_usage_error(cmd, "--name is required");
    if (!village || !*village)
        return lm_cli_usage_error(cmd, "--village is required");
    if (strlen(name) > MAX_FIELD || strlen(village) > MAX_FIELD ||
        (phone && strlen(phone) > MAX_FIELD) || (household && strlen(household) > MAX_FIELD))
        return lm_cli_usage_error(cmd, "values are limited to %d bytes", MAX_FIELD);
    if (phone && !lm_farmer_phone_ok(phone))
        return lm_cli_usage_error(cmd, "'%s' is not a phone number (7 to 15 digits)", phone);
    if ((code = lm_cli_check_text(cmd, "name", "farmers", "name", name)) >= 0 ||
        (code = lm_cli_check_text(cmd, "village", "farmers", "village", village)) >= 0 ||
        (code = lm_cli_check_text(cmd, "phone", "farmers", "phone", phone)) >= 0 ||
        (code = lm_cli_check_text(cmd, "household", "farmers", "household_id", household)) >= 0)
        return code;

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char id[LM_ID_SIZE];
    sqlite3_stmt *st = NULL;

    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
        goto fail_begin;
    }
    /* The catalog's villages came with the first sync; a name not in it is
     * a typo the server would refuse days later, so refuse it now. */
    code = lm_cli_require_in_catalog(cmd, db, "village", "SELECT 1 FROM villages WHERE name = ?",
                                     village);
    if (code)
        goto fail_insert;
    /* the server's scope rules, here: a farmer outside the agent's
     * villages is refused before anybody is paid */
    const lm_cli_col row[] = {{"name", name, 0},
                              {"village", village, 0},
                              {"created_by", user, 0},
                              {"registered_poor", NULL, poor}};
    if ((code = lm_cli_check_new_row(cmd, r, "farmers", row, sizeof row / sizeof row[0])) >= 0)
        goto fail_insert;
    char twin[LM_ID_SIZE];
    int dup = lm_farmer_duplicate(db, name, village, NULL, twin);
    if (dup < 0) {
        code = lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
        goto fail_insert;
    }
    if (dup && !force) {
        code = lm_cli_usage_error(cmd,
                                  "%s is already registered in %s (farmer %s); "
                                  "add --force if this is another person",
                                  name, village, twin);
        goto fail_insert;
    }
    code = lm_cli_insert_prepare(cmd, r,
                                 "INSERT INTO farmers (id, name, village, phone, registered_poor, "
                                 "household_id, created_by, created_at) VALUES (?,?,?,?,?,?,?,?)",
                                 id, &st);
    if (code)
        goto fail_insert;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, village, -1, SQLITE_STATIC);
    if (phone)
        sqlite3_bind_text(st, 4, phone, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, poor);
    if (household)
        sqlite3_bind_text(st, 6, household, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)lm_cli_now_ms());
    code = lm_cli_insert_commit(cmd, db, st);
    if (code)
        goto fail_insert;
    sqlite3_finalize(st);
    lm_free(user);
    lm_replica_close(r);
    return lm_cli_print_id(cmd, id, c.json);

fail_insert:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
    lm_free(user);
    lm_replica_close(r);
    return code;
}
