/*
 * cmd_list.c — `lastmile list KIND`: the rows of one domain table on this
 * replica, as an aligned table or (--json) an array of objects keyed by the
 * schema's column names; `list refusals` shows the changes the server
 * refused.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile list farmers|collections|gradings|adjustments|routes|stops|refusals\n"
    "                     [--db PATH] [--json]\n"
    "\n"
    "Prints the rows this replica holds. With --json: an array of objects keyed\n"
    "by the schema's column names (id, weight_g, unit_price_fen, ...), weights\n"
    "in grams, money in fen, times in ms since the epoch. 'refusals' lists the\n"
    "changes the server refused, with the reason.\n";

typedef struct kind {
    const char *name;
    const char *sql;
} kind;

static const kind kinds[] = {
    {"farmers", "SELECT * FROM farmers ORDER BY created_at, id"},
    {"collections", "SELECT * FROM collections ORDER BY collected_at, id"},
    {"gradings", "SELECT * FROM gradings ORDER BY graded_at, id"},
    {"adjustments", "SELECT * FROM adjustments ORDER BY \"at\", id"},
    {"routes", "SELECT * FROM routes ORDER BY \"date\", id"},
    {"stops", "SELECT * FROM route_stops ORDER BY route_id, seq, id"},
};

/* Engine bookkeeping columns, should a table carry any, are not schema. */
static int hidden_column(const char *name)
{
    return name[0] == '_' || strncmp(name, "lm_", 3) == 0;
}

static int list_rows(const char *cmd, lm_replica *r, const char *sql, int json)
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    lm_buf b;
    lm_json j;
    lm_table t;
    int code = LM_EXIT_OK, rc;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot read: %s", sqlite3_errmsg(db));
    int n_cols = sqlite3_column_count(st), n_shown = 0;
    for (int i = 0; i < n_cols; i++)
        n_shown += !hidden_column(sqlite3_column_name(st, i));
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, (size_t)n_shown);
    if (json) {
        lm_json_begin_array(&j);
    } else {
        for (int i = 0; i < n_cols; i++) {
            if (!hidden_column(sqlite3_column_name(st, i)))
                lm_table_add(&t, sqlite3_column_name(st, i));
        }
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (json)
            lm_json_begin_object(&j);
        for (int i = 0; i < n_cols; i++) {
            const char *name = sqlite3_column_name(st, i);
            if (hidden_column(name))
                continue;
            if (json) {
                lm_json_key(&j, name);
                lm_cli_json_column(&j, st, i);
            } else {
                lm_table_add(&t, (const char *)sqlite3_column_text(st, i));
            }
        }
        if (json)
            lm_json_end_object(&j);
    }
    if (rc != SQLITE_DONE) {
        code = lm_cli_error(cmd, "cannot read: %s", sqlite3_errmsg(db));
        goto done;
    }
    if (json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    }
done:
    lm_table_close(&t);
    lm_buf_close(&b);
    sqlite3_finalize(st);
    return code;
}

static int list_refusals(const char *cmd, lm_replica *r, int json)
{
    lm_refusal_record *rr = NULL;
    size_t n = 0;
    int code = LM_EXIT_OK;
    if (lm_replica_refusals(r, &rr, &n) != LM_OK)
        return lm_cli_error(cmd, "cannot read refusals: %s", lm_replica_errmsg(r));
    lm_buf b;
    lm_json j;
    lm_table t;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, 7);
    if (json) {
        lm_json_begin_array(&j);
    } else {
        static const char *const head[] = {"id",    "table", "pk",    "column",
                                           "value", "error", "reason"};
        for (size_t i = 0; i < 7; i++)
            lm_table_add(&t, head[i]);
    }
    for (size_t i = 0; i < n; i++) {
        char text[256];
        if (json) {
            lm_json_begin_object(&j);
            lm_json_key(&j, "id");
            lm_json_int(&j, rr[i].id);
            lm_json_key(&j, "table");
            lm_json_string(&j, rr[i].table);
            lm_json_key(&j, "pk");
            lm_json_string(&j, rr[i].pk);
            lm_json_key(&j, "column");
            lm_json_string(&j, rr[i].column);
            lm_json_key(&j, "value");
            lm_cli_json_value(&j, &rr[i].value);
            lm_json_key(&j, "code");
            lm_json_int(&j, rr[i].code);
            lm_json_key(&j, "error");
            lm_json_string(&j, lm_errname(rr[i].code));
            lm_json_key(&j, "reason");
            lm_json_string(&j, rr[i].reason);
            lm_json_key(&j, "at");
            lm_json_uint(&j, rr[i].at_ms);
            lm_json_end_object(&j);
            continue;
        }
        snprintf(text, sizeof text, "%lld", (long long)rr[i].id);
        lm_table_add(&t, text);
        lm_table_add(&t, rr[i].table);
        lm_table_add(&t, rr[i].pk);
        lm_table_add(&t, rr[i].column);
        lm_cli_value_text(&rr[i].value, text, sizeof text);
        lm_table_add(&t, text);
        lm_table_add(&t, lm_errname(rr[i].code));
        lm_table_add(&t, rr[i].reason);
    }
    if (json) {
        lm_json_end_array(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else if (lm_table_print(&t, stdout) != LM_OK) {
        code = lm_cli_error(cmd, "cannot print the table");
    }
    lm_table_close(&t);
    lm_buf_close(&b);
    lm_refusal_records_free(rr, n);
    return code;
}

int lm_cmd_list(int argc, char **argv)
{
    lm_cli_common c = {0};
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c)};
    const char *cmd = "list";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, "say what to list: farmers, collections, gradings, "
                                       "adjustments, routes, stops or refusals");
    const char *what = a.positional[0];
    const kind *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].name, what) == 0)
            k = &kinds[i];
    }
    if (!k && strcmp(what, "refusals") != 0)
        return lm_cli_usage_error(cmd, "cannot list '%s'", what);

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 0, &r)) != LM_EXIT_OK)
        return code;
    code = k ? list_rows(cmd, r, k->sql, c.json) : list_refusals(cmd, r, c.json);
    lm_replica_close(r);
    return code;
}
