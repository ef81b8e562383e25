/*
 * cmd_grade.c — `lastmile grade`: records a grading of a collection. The
 * collection's own grade is immutable (ledger rule); gradings are separate
 * records, so a regrade is history, not an overwrite.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "money.h"

static const char usage[] =
    "usage: lastmile grade --collection ID --grade G [--moisture PCT] [--defects TEXT]\n"
    "                      [--db PATH] [--json]\n"
    "\n"
    "Records a grading of a collection on this replica. G must be a grade in\n"
    "the catalog; PCT is the moisture in percent, 0 to 100 with at most one\n"
    "decimal (stored in permille). Prints the new grading id as the last line.\n";

#define MAX_DEFECTS 1000

int lm_cmd_grade(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *collection = NULL, *grade = NULL, *moisture = NULL, *defects = NULL, *why;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"collection", LM_OPT_VALUE, &collection, NULL},
        {"grade", LM_OPT_VALUE, &grade, NULL},
        {"moisture", LM_OPT_VALUE, &moisture, NULL},
        {"defects", LM_OPT_VALUE, &defects, NULL},
    };
    const char *cmd = "grade";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    if (!collection || !grade)
        return lm_cli_usage_error(cmd, "--collection and --grade are required");
    int64_t permille = 0;
    if (moisture && lm_money_parse_moisture(moisture, &permille, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--moisture '%s' %s", moisture, why);
    if (defects && strlen(defects) > MAX_DEFECTS)
        return lm_cli_usage_error(cmd, "--defects is limited to %d bytes", MAX_DEFECTS);
    if ((code = lm_cli_check_text(cmd, "defects", "gradings", "defects", defects)) >= 0)
        return code;

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char id[LM_ID_SIZE];
    sqlite3_stmt *st = NULL;
    int found;

    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
        goto fail_begin;
    }
    found = lm_cli_row_exists(db, "SELECT 1 FROM collections WHERE id = ?", collection);
    if (found != 1) {
        code = found < 0 ? lm_cli_sql_error(cmd, db, "cannot read collections")
                         : lm_cli_error(cmd, "unknown collection '%s'", collection);
        goto fail_tx;
    }
    code =
        lm_cli_require_in_catalog(cmd, db, "grade", "SELECT 1 FROM grades WHERE code = ?", grade);
    if (code)
        goto fail_tx;
    code =
        lm_cli_insert_prepare(cmd, r,
                              "INSERT INTO gradings (id, collection_id, grade, moisture_permille, "
                              "defects, graded_by, graded_at) VALUES (?,?,?,?,?,?,?)",
                              id, &st);
    if (code)
        goto fail_tx;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, collection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, grade, -1, SQLITE_STATIC);
    if (moisture)
        sqlite3_bind_int64(st, 4, permille);
    if (defects)
        sqlite3_bind_text(st, 5, defects, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)lm_cli_now_ms());
    code = lm_cli_insert_commit(cmd, db, st);
    if (code)
        goto fail_tx;
    sqlite3_finalize(st);
    lm_free(user);
    lm_replica_close(r);
    return lm_cli_print_id(cmd, id, c.json);

fail_tx:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
    lm_free(user);
    lm_replica_close(r);
    return code;
}
