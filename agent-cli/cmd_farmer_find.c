/*
 * cmd_farmer_find.c — `lastmile farmer find TEXT`: the farmers whose name,
 * phone or household id contains TEXT (letters in any case; spaces and '-'
 * in phone numbers ignored), or whose id starts with it. How an agent gets
 * from "王秀英" to the id the other commands print.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile farmer find TEXT [--village V] [--db PATH] [--json]\n"
    "\n"
    "Lists the farmers on this replica whose name, phone number or household\n"
    "id contains TEXT, or whose id starts with it, optionally in village V.\n"
    "Columns: id, name, village, phone, household, poor. With --json: an array\n"
    "of objects keyed id, name, village, phone, household_id, registered_poor.\n"
    "Exit codes: 0 one or more found, 1 none found (or an error), 2 usage.\n";

#define PHONE_DIGITS(x) "replace(replace(" x ", ' ', ''), '-', '')"

static const char find_sql[] =
    "SELECT id, name, village, phone, household_id, registered_poor FROM farmers"
    " WHERE (instr(lower(name), lower(?1)) > 0"
    "  OR instr(lower(ifnull(household_id, '')), lower(?1)) > 0"
    "  OR (length(" PHONE_DIGITS("?1") ") > 0 AND instr(" PHONE_DIGITS(
        "ifnull(phone, '')") ", " PHONE_DIGITS("?1") ") > 0)"
                                                     "  OR substr(id, 1, length(?1)) = upper(?1))"
                                                     " AND (?2 IS NULL OR village = ?2)"
                                                     " ORDER BY name, village, created_at, id";

static void add_row_to_table(lm_table *t, sqlite3_stmt *st)
{
    for (int i = 0; i < 5; i++)
        lm_table_add(t, (const char *)sqlite3_column_text(st, i));
    lm_table_add(t, sqlite3_column_int(st, 5) ? "yes" : "");
}

static void add_row_to_json(lm_json *j, sqlite3_stmt *st)
{
    lm_json_begin_object(j);
    for (int i = 0; i < 6; i++) {
        lm_json_key(j, sqlite3_column_name(st, i));
        lm_cli_json_column(j, st, i);
    }
    lm_json_end_object(j);
}

int lm_cmd_farmer_find(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *village = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"village", LM_OPT_VALUE, &village, NULL},
    };
    const char *cmd = "farmer find";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, a.n_positional ? "give one TEXT (quote names with spaces)"
                                                      : "say what to find: a name, phone or "
                                                        "household id");
    const char *text = a.positional[0];
    if (!*text)
        return lm_cli_usage_error(cmd, "TEXT is empty");

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 0, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    lm_buf b;
    lm_json j;
    lm_table t;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, 6);
    static const char *const head[] = {"id", "name", "village", "phone", "household", "poor"};
    for (size_t i = 0; i < 6; i++)
        lm_table_add(&t, head[i]);
    if (c.json)
        lm_json_begin_array(&j);

    int rc = SQLITE_ERROR, found = 0;
    if (sqlite3_prepare_v2(db, find_sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        if (village)
            sqlite3_bind_text(st, 2, village, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            found++;
            if (c.json)
                add_row_to_json(&j, st);
            else
                add_row_to_table(&t, st);
        }
    }
    if (rc != SQLITE_DONE) {
        code = lm_cli_error(cmd, "cannot read farmers: %s", sqlite3_errmsg(db));
    } else if (c.json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (found && lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    }
    if (code == LM_EXIT_OK && !found) {
        if (!c.json)
            fprintf(stderr, "lastmile: %s: no farmer matches '%s'%s%s\n", cmd, text,
                    village ? " in " : "", village ? village : "");
        code = LM_EXIT_RUNTIME;
    }
    sqlite3_finalize(st);
    lm_table_close(&t);
    lm_buf_close(&b);
    lm_replica_close(r);
    return code;
}
