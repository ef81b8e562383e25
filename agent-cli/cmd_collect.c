/*
 * cmd_collect.c — `lastmile collect`: records one purchase. Everything is
 * checked against the local replica (the farmer, and the product and grade
 * in the catalog the server synced); nothing is looked up remotely, because
 * the agent is usually offline when buying.
 */
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>

#include "cli.h"
#include "money.h"

static const char usage[] =
    "usage: lastmile collect --farmer ID --product CODE --grade G --kg KG\n"
    "                        --price YUAN_PER_KG [--note TEXT] [--db PATH] [--json]\n"
    "\n"
    "Records a purchase from a farmer registered on this replica. KG has at\n"
    "most 3 decimals and PRICE (yuan per kg) at most 2; both must be positive,\n"
    "KG at most 1000000 and PRICE at most 100000.\n"
    "They are stored exactly as grams and fen; the amount in fen is\n"
    "weight_g x price_fen / 1000 rounded half up. Prints the new collection\n"
    "id as the last line. Bad input exits non-zero and writes nothing.\n";

#define MAX_NOTE 1000

int lm_cmd_collect(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *farmer = NULL, *product = NULL, *grade = NULL, *kg = NULL, *price = NULL;
    const char *note = NULL, *why = NULL;
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"farmer", LM_OPT_VALUE, &farmer, NULL},
        {"product", LM_OPT_VALUE, &product, NULL},
        {"grade", LM_OPT_VALUE, &grade, NULL},
        {"kg", LM_OPT_VALUE, &kg, NULL},
        {"price", LM_OPT_VALUE, &price, NULL},
        {"note", LM_OPT_VALUE, &note, NULL},
    };
    const char *cmd = "collect";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    if (!farmer || !product || !grade || !kg || !price)
        return lm_cli_usage_error(cmd, "--farmer, --product, --grade, --kg and --price are "
                                       "required");
    int64_t weight_g, price_fen, amount_fen;
    if (lm_money_parse_kg(kg, &weight_g, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--kg '%s' %s", kg, why);
    if (lm_money_parse_price(price, &price_fen, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--price '%s' %s", price, why);
    if (lm_money_amount_fen(weight_g, price_fen, &amount_fen) != LM_OK)
        return lm_cli_usage_error(cmd, "--kg %s at --price %s is too large an amount", kg, price);
    if (note && strlen(note) > MAX_NOTE)
        return lm_cli_usage_error(cmd, "--note is limited to %d bytes", MAX_NOTE);

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 1, &r)) != LM_EXIT_OK)
        return code;
    lm_cli_warn_clock(cmd, r);
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char *village = NULL;
    char id[LM_ID_SIZE];
    sqlite3_stmt *st = NULL;

    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_error(cmd, "cannot start a transaction: %s", sqlite3_errmsg(db));
        goto fail_begin;
    }
    if (sqlite3_prepare_v2(db, "SELECT village FROM farmers WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK) {
        code = lm_cli_error(cmd, "cannot prepare: %s", sqlite3_errmsg(db));
        goto fail_tx;
    }
    sqlite3_bind_text(st, 1, farmer, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        code = lm_cli_error(cmd, "unknown farmer '%s' (see 'lastmile list farmers')", farmer);
        goto fail_tx;
    }
    village = lm_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    st = NULL;
    if (!village) {
        code = lm_cli_error(cmd, "farmer '%s' has no village", farmer);
        goto fail_tx;
    }
    code = lm_cli_require_in_catalog(cmd, db, "product", "SELECT 1 FROM products WHERE code = ?",
                                     product);
    if (code)
        goto fail_village;
    code =
        lm_cli_require_in_catalog(cmd, db, "grade", "SELECT 1 FROM grades WHERE code = ?", grade);
    if (code)
        goto fail_village;
    code =
        lm_cli_insert_prepare(cmd, r,
                              "INSERT INTO collections (id, agent_id, farmer_id, village, product, "
                              "grade, weight_g, unit_price_fen, amount_fen, collected_at, note) "
                              "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                              id, &st);
    if (code)
        goto fail_village;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, farmer, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, village, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, product, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, grade, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, weight_g);
    sqlite3_bind_int64(st, 8, price_fen);
    sqlite3_bind_int64(st, 9, amount_fen);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)lm_cli_now_ms());
    if (note)
        sqlite3_bind_text(st, 11, note, -1, SQLITE_STATIC);
    code = lm_cli_insert_commit(cmd, db, st);
    if (code)
        goto fail_village;
    sqlite3_finalize(st);
    lm_free(village);
    lm_free(user);
    lm_replica_close(r);
    return lm_cli_print_id(cmd, id, c.json);

fail_village:
    lm_free(village);
fail_tx:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
    lm_free(user);
    lm_replica_close(r);
    return code;
}
