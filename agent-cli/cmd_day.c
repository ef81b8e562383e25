/*
 * cmd_day.c — `lastmile day`: the agent's day per farmer (purchases, kg,
 * yuan to pay, poor-household mark) with totals: what the agent counts the
 * cash against in the evening. Net of adjustments; void purchases are out.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "catalog.h"
#include "cli.h"
#include "lm_text.h"
#include "money.h"
#include "table.h"

static const char usage[] =
    "usage: lastmile day [--date YYYY-MM-DD] [--db PATH] [--json]\n"
    "\n"
    "This agent's purchases of one day (default today; days are local dates,\n"
    "UTC+8) per farmer: purchases, kg and yuan to pay, net of adjustments, void\n"
    "purchases left out, and the poor-household mark; then the totals. With\n"
    "--json: {\"date\", \"farmers\": [{farmer_id, name, village,\n"
    "registered_poor, purchases, weight_g, amount_fen}], \"total\": {purchases,\n"
    "weight_g, amount_fen}} in grams and fen.\n";

static const char day_sql[] =
    "WITH adj AS (SELECT collection_id, sum(delta_weight_g) AS dw, sum(delta_amount_fen) AS da,"
    "  max(voided) AS v FROM adjustments GROUP BY collection_id)"
    " SELECT f.id, f.name, f.village, f.registered_poor, count(*),"
    "  sum(c.weight_g + ifnull(a.dw, 0)), sum(c.amount_fen + ifnull(a.da, 0))"
    " FROM collections c JOIN farmers f ON f.id = c.farmer_id"
    " LEFT JOIN adj a ON a.collection_id = c.id"
    " WHERE c.agent_id = ?1 AND ifnull(a.v, 0) = 0"
    "  AND date(c.collected_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET ") = ?2"
    " GROUP BY f.id ORDER BY f.name, f.id";

typedef struct totals {
    int64_t purchases, weight_g, amount_fen;
} totals;

static void row_to_json(lm_json *j, sqlite3_stmt *st)
{
    static const char *const keys[] = {"farmer_id", "name",     "village",   "registered_poor",
                                       "purchases", "weight_g", "amount_fen"};
    lm_json_begin_object(j);
    for (int i = 0; i < 7; i++) {
        lm_json_key(j, keys[i]);
        lm_cli_json_column(j, st, i);
    }
    lm_json_end_object(j);
}

static void row_to_table(lm_table *t, sqlite3_stmt *st)
{
    char n[32], kg[LM_TEXT_UNIT_SIZE], yuan[LM_TEXT_UNIT_SIZE];
    lm_table_add(t, (const char *)sqlite3_column_text(st, 1));
    lm_table_add(t, (const char *)sqlite3_column_text(st, 2));
    lm_table_add(t, sqlite3_column_int(st, 3) ? "yes" : "");
    snprintf(n, sizeof n, "%lld", (long long)sqlite3_column_int64(st, 4));
    lm_table_add(t, n);
    lm_text_kg(sqlite3_column_int64(st, 5), kg, sizeof kg);
    lm_table_add(t, kg);
    lm_text_yuan(sqlite3_column_int64(st, 6), yuan, sizeof yuan);
    lm_table_add(t, yuan);
}

static void totals_to_json(lm_json *j, const totals *sum)
{
    lm_json_key(j, "total");
    lm_json_begin_object(j);
    lm_json_key(j, "purchases");
    lm_json_int(j, sum->purchases);
    lm_json_key(j, "weight_g");
    lm_json_int(j, sum->weight_g);
    lm_json_key(j, "amount_fen");
    lm_json_int(j, sum->amount_fen);
    lm_json_end_object(j);
}

static void totals_to_table(lm_table *t, const totals *sum)
{
    char n[32], kg[LM_TEXT_UNIT_SIZE], yuan[LM_TEXT_UNIT_SIZE];
    snprintf(n, sizeof n, "%lld", (long long)sum->purchases);
    lm_table_add(t, "total");
    lm_table_add(t, "");
    lm_table_add(t, "");
    lm_table_add(t, n);
    lm_text_kg(sum->weight_g, kg, sizeof kg);
    lm_table_add(t, kg);
    lm_text_yuan(sum->amount_fen, yuan, sizeof yuan);
    lm_table_add(t, yuan);
}

/* date: the --date given (lm_date_parse, the check of every date option),
 * else today's local date, copied as YYYY-MM-DD. */
static int pick_date(const char *cmd, const char *given, char out[11])
{
    const char *why = NULL;
    int64_t days = 0;
    if (!given) {
        lm_date_format(lm_date_today(lm_text_utc_offset_default()), out, 11);
        return LM_EXIT_OK;
    }
    if (lm_date_parse(given, &days, &why) != LM_OK)
        return strncmp(why, "is ", 3) == 0
                   ? lm_cli_usage_error(cmd, "--date '%s' %s", given, why)
                   : lm_cli_usage_error(cmd, "--date '%s' is not a date: it %s", given, why);
    lm_date_format(days, out, 11);
    return LM_EXIT_OK;
}

static int print_day(const char *cmd, sqlite3 *db, const char *user, const char *date, int json)
{
    sqlite3_stmt *st = NULL;
    totals sum = {0};
    lm_buf b;
    lm_json j;
    lm_table t;
    int code = LM_EXIT_OK, rc = SQLITE_ERROR;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_table_init(&t, 6);
    static const char *const head[] = {"farmer", "village", "poor", "purchases", "kg", "yuan"};
    for (size_t i = 0; i < 6; i++)
        lm_table_add(&t, head[i]);
    if (json) {
        lm_json_begin_object(&j);
        lm_json_key(&j, "date");
        lm_json_string(&j, date);
        lm_json_key(&j, "farmers");
        lm_json_begin_array(&j);
    }
    if (sqlite3_prepare_v2(db, day_sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, date, -1, SQLITE_STATIC);
        lm_cli_bind_utc_offset(st, lm_text_utc_offset_default());
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            sum.purchases += sqlite3_column_int64(st, 4);
            sum.weight_g += sqlite3_column_int64(st, 5);
            sum.amount_fen += sqlite3_column_int64(st, 6);
            if (json)
                row_to_json(&j, st);
            else
                row_to_table(&t, st);
        }
    }
    if (rc != SQLITE_DONE) {
        code = lm_cli_error(cmd, "cannot read purchases: %s", sqlite3_errmsg(db));
    } else if (json) {
        lm_json_end_array(&j);
        totals_to_json(&j, &sum);
        lm_json_end_object(&j);
        code = lm_cli_emit_json(cmd, &j, &b);
    } else {
        printf("%s: %lld purchases\n", date, (long long)sum.purchases);
        totals_to_table(&t, &sum);
        if (sum.purchases && lm_table_print(&t, stdout) != LM_OK)
            code = lm_cli_error(cmd, "cannot print the table");
    }
    sqlite3_finalize(st);
    lm_table_close(&t);
    lm_buf_close(&b);
    return code;
}

int lm_cmd_day(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *date = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"date", LM_OPT_VALUE, &date, NULL},
    };
    const char *cmd = "day";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char day[11];
    if ((code = pick_date(cmd, date, day)) == LM_EXIT_OK)
        code = print_day(cmd, db, user, day, c.json);
    lm_free(user);
    lm_replica_close(r);
    return code;
}
