/*
 * cmd_collect.c — `lastmile collect`: records one purchase. Everything is
 * checked against the local replica (the farmer, and the product, grade and
 * price in the catalog the server synced); nothing is looked up remotely,
 * because the agent is usually offline when buying. What was recorded is
 * said back in the farmer's terms (name, kg, yuan) before the id, so the
 * agent can read it out while paying.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "catalog.h"
#include "cli.h"
#include "lm_text.h"
#include "farmer_lookup.h"
#include "money.h"

static const char usage[] =
    "usage: lastmile collect --farmer FARMER --product CODE --grade G --kg KG\n"
    "                        [--price YUAN_PER_KG] [--note TEXT] [--db PATH] [--json]\n"
    "\n"
    "Records a purchase from a farmer registered on this replica: FARMER is\n"
    "the farmer's id, an unambiguous id prefix or exact name. KG has at\n"
    "most 3 decimals and PRICE (yuan per kg) at most 2; both must be positive,\n"
    "KG at most 1000000 and PRICE at most 100000. Without --price the catalog\n"
    "price of the product and grade for today is paid; a --price more than\n"
    "30% away from it is recorded with a warning on stderr.\n"
    "They are stored exactly as grams and fen; the amount in fen is\n"
    "weight_g x price_fen / 1000 rounded half up. Prints the purchase\n"
    "(farmer, kg, yuan per kg, yuan) and then the new collection id as the\n"
    "last line; --json prints one object with the id and the stored values.\n"
    "Bad input exits non-zero and writes nothing.\n";

#define MAX_NOTE 1000

typedef struct purchase {
    const char *farmer_ref, *product, *grade, *kg, *price, *note;
    char farmer_id[LM_ID_SIZE];
    char *farmer_name, *village;
    int64_t weight_g, price_fen, amount_fen;
    char catalog_from[11]; /* the catalog row paid, when --price was not given */
} purchase;

static int parse_purchase(const char *cmd, purchase *p)
{
    const char *why = NULL;
    if (!p->farmer_ref || !p->product || !p->grade || !p->kg)
        return lm_cli_usage_error(cmd, "--farmer, --product, --grade and --kg are required");
    if (lm_money_parse_kg(p->kg, &p->weight_g, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--kg '%s' %s", p->kg, why);
    if (p->price && lm_money_parse_price(p->price, &p->price_fen, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--price '%s' %s", p->price, why);
    if (p->note && strlen(p->note) > MAX_NOTE)
        return lm_cli_usage_error(cmd, "--note is limited to %d bytes", MAX_NOTE);
    int code = lm_cli_check_text(cmd, "note", "collections", "note", p->note);
    return code >= 0 ? code : LM_EXIT_OK;
}

static int find_farmer(const char *cmd, sqlite3 *db, purchase *p)
{
    int code = lm_farmer_resolve(cmd, db, p->farmer_ref, p->farmer_id);
    if (code)
        return code;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name, village, deactivated_at FROM farmers WHERE id = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return lm_cli_error(cmd, "cannot prepare: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, p->farmer_id, -1, SQLITE_STATIC);
    int deactivated = 0;
    char when[40] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        p->farmer_name = lm_strdup((const char *)sqlite3_column_text(st, 0));
        p->village = lm_strdup((const char *)sqlite3_column_text(st, 1));
        if ((deactivated = sqlite3_column_type(st, 2) != SQLITE_NULL))
            lm_text_time(sqlite3_column_int64(st, 2), LM_TIME_DEFAULT_OFFSET_MIN, when,
                         sizeof when);
    }
    sqlite3_finalize(st);
    if (!p->village)
        return lm_cli_error(cmd, "farmer '%s' has no village", p->farmer_id);
    /* hq deactivated the farmer: the server would refuse the purchase
     * (rules.c), so it is refused before money changes hands */
    if (deactivated)
        return lm_cli_error(cmd,
                            "farmer %s (%s) was deactivated by headquarters on %s: no new"
                            " purchases",
                            p->farmer_name ? p->farmer_name : "", p->farmer_id, when);
    return LM_EXIT_OK;
}

/* The price: the catalog's for today when none was typed; a typed one far
 * from the catalog's is kept (prices are negotiated) but said out loud. */
static int settle_price(const char *cmd, sqlite3 *db, purchase *p)
{
    int64_t catalog_fen = 0;
    char from[11];
    int found = lm_catalog_price_today(db, p->product, p->grade, &catalog_fen, from);
    if (found < 0)
        return lm_cli_error(cmd, "cannot read the catalog: %s", sqlite3_errmsg(db));
    char a[LM_TEXT_UNIT_SIZE], b[LM_TEXT_UNIT_SIZE];
    if (!p->price) {
        if (!found)
            return lm_cli_usage_error(cmd,
                                      "the catalog has no price for %s grade %s today; "
                                      "give --price YUAN_PER_KG",
                                      p->product, p->grade);
        p->price_fen = catalog_fen;
        memcpy(p->catalog_from, from, sizeof from);
    } else if (found && catalog_fen > 0 &&
               llabs(p->price_fen - catalog_fen) * 100 > catalog_fen * LM_CATALOG_WARN_PERCENT) {
        lm_text_yuan(p->price_fen, a, sizeof a);
        lm_text_yuan(catalog_fen, b, sizeof b);
        fprintf(stderr,
                "lastmile: %s: warning: %s/kg is %lld%% %s the catalog price %s/kg for %s "
                "grade %s (recorded as typed)\n",
                cmd, a, (long long)(llabs(p->price_fen - catalog_fen) * 100 / catalog_fen),
                p->price_fen > catalog_fen ? "above" : "below", b, p->product, p->grade);
    }
    if (lm_money_amount_fen(p->weight_g, p->price_fen, &p->amount_fen) != LM_OK) {
        lm_text_yuan(p->price_fen, a, sizeof a);
        return lm_cli_usage_error(cmd, "--kg %s at %s/kg is too large an amount", p->kg, a);
    }
    return LM_EXIT_OK;
}

/* The server's rules on the purchase (scope: the agent's own villages;
 * the farmer of the village; the amount), before it is written: a
 * purchase the server would refuse is refused before the farmer is paid.
 * -1 to go on. */
static int check_row(const char *cmd, lm_replica *r, const char *user, const purchase *p)
{
    const lm_cli_col row[] = {
        {"agent_id", user ? user : "", 0},
        {"farmer_id", p->farmer_id, 0},
        {"village", p->village, 0},
        {"product", p->product, 0},
        {"grade", p->grade, 0},
        {"weight_g", NULL, p->weight_g},
        {"unit_price_fen", NULL, p->price_fen},
        {"amount_fen", NULL, p->amount_fen},
        {"collected_at", NULL, (int64_t)lm_cli_now_ms()},
    };
    return lm_cli_check_new_row(cmd, r, "collections", row, sizeof row / sizeof row[0]);
}

static int insert_purchase(const char *cmd, lm_replica *r, const char *user, const purchase *p,
                           char id[LM_ID_SIZE])
{
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    int code =
        lm_cli_insert_prepare(cmd, r,
                              "INSERT INTO collections (id, agent_id, farmer_id, village, product, "
                              "grade, weight_g, unit_price_fen, amount_fen, collected_at, note) "
                              "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                              id, &st);
    if (code == LM_EXIT_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->farmer_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->village, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, p->product, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, p->grade, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, p->weight_g);
        sqlite3_bind_int64(st, 8, p->price_fen);
        sqlite3_bind_int64(st, 9, p->amount_fen);
        sqlite3_bind_int64(st, 10, (sqlite3_int64)lm_cli_now_ms());
        if (p->note)
            sqlite3_bind_text(st, 11, p->note, -1, SQLITE_STATIC);
        code = lm_cli_insert_commit(cmd, db, st);
    }
    sqlite3_finalize(st);
    return code;
}

typedef struct printed {
    const purchase *p;
    const char *id;
} printed;

static void purchase_members(lm_json *j, const void *arg)
{
    const printed *x = arg;
    lm_json_key(j, "id");
    lm_json_string(j, x->id);
    lm_json_key(j, "farmer_id");
    lm_json_string(j, x->p->farmer_id);
    lm_json_key(j, "farmer");
    lm_json_string(j, x->p->farmer_name ? x->p->farmer_name : "");
    lm_json_key(j, "product");
    lm_json_string(j, x->p->product);
    lm_json_key(j, "grade");
    lm_json_string(j, x->p->grade);
    lm_json_key(j, "weight_g");
    lm_json_int(j, x->p->weight_g);
    lm_json_key(j, "unit_price_fen");
    lm_json_int(j, x->p->price_fen);
    lm_json_key(j, "amount_fen");
    lm_json_int(j, x->p->amount_fen);
    lm_json_key(j, "catalog_price");
    lm_json_bool(j, x->p->catalog_from[0] != 0);
}

static int print_purchase(const char *cmd, const purchase *p, const char *id, int json)
{
    if (json) {
        printed x = {p, id};
        return lm_cli_print_object(cmd, purchase_members, &x);
    }
    char kg[LM_TEXT_UNIT_SIZE], price[LM_TEXT_UNIT_SIZE], amount[LM_TEXT_UNIT_SIZE];
    lm_text_kg(p->weight_g, kg, sizeof kg);
    lm_text_yuan(p->price_fen, price, sizeof price);
    lm_text_yuan(p->amount_fen, amount, sizeof amount);
    printf("%s  %s kg × %s/kg = %s  (%s %s%s%s)\n", p->farmer_name ? p->farmer_name : "", kg, price,
           amount, p->product, p->grade, p->catalog_from[0] ? ", catalog price since " : "",
           p->catalog_from);
    return lm_cli_print_id(cmd, id, 0);
}

int lm_cmd_collect(int argc, char **argv)
{
    lm_cli_common c = {0};
    purchase p = {0};
    lm_args a;
    const lm_opt opts[] = {
        LM_CLI_COMMON_OPTS(c),
        LM_CLI_JSON_OPT(c),
        {"farmer", LM_OPT_VALUE, &p.farmer_ref, NULL},
        {"product", LM_OPT_VALUE, &p.product, NULL},
        {"grade", LM_OPT_VALUE, &p.grade, NULL},
        {"kg", LM_OPT_VALUE, &p.kg, NULL},
        {"price", LM_OPT_VALUE, &p.price, NULL},
        {"note", LM_OPT_VALUE, &p.note, NULL},
    };
    const char *cmd = "collect";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error(cmd, "unexpected argument '%s'", a.positional[0]);
    if ((code = parse_purchase(cmd, &p)) != LM_EXIT_OK)
        return code;

    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        return code;
    lm_cli_warn_clock(cmd, r);
    sqlite3 *db = lm_replica_db(r);
    char *user = lm_cli_meta(r, "user");
    char id[LM_ID_SIZE];
    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
    } else {
        if (!(code = find_farmer(cmd, db, &p)) &&
            !(code = lm_cli_require_in_catalog(
                  cmd, db, "product", "SELECT 1 FROM products WHERE code = ?", p.product)) &&
            !(code = lm_cli_require_in_catalog(cmd, db, "grade",
                                               "SELECT 1 FROM grades WHERE code = ?", p.grade)) &&
            !(code = settle_price(cmd, db, &p)) && (code = check_row(cmd, r, user, &p)) < 0)
            code = insert_purchase(cmd, r, user, &p, id);
        if (code)
            lm_cli_exec(db, "ROLLBACK");
    }
    lm_replica_close(r);
    if (code == LM_EXIT_OK)
        code = print_purchase(cmd, &p, id, c.json);
    lm_free(p.farmer_name);
    lm_free(p.village);
    lm_free(user);
    return code;
}
