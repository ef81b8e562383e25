/*
 * cmd_catalog.c — `lastmile-server product add|list` and `price
 * set|list`: the catalog headquarters owns. The writes go through
 * lm__hq_write so agents receive the rows on their next sync.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "lm_text.h"
#include "money.h"
#include "args.h"

static const char product_usage[] =
    "usage: lastmile-server product add --db PATH --code CODE --name NAME [--unit kg]\n"
    "       lastmile-server product list --db PATH [--json]\n"
    "\n"
    "add   adds a product to the catalog every agent receives. CODE is what\n"
    "      agents type (`lastmile collect --product CODE`); an existing code is\n"
    "      an error.\n"
    "list  lists the products (code, name, unit) by code.\n";

static const char price_usage[] =
    "usage: lastmile-server price set --db PATH --product P --grade G --price YUAN_PER_KG\n"
    "                                 [--from YYYY-MM-DD]\n"
    "       lastmile-server price list --db PATH [--product P] [--grade G]\n"
    "                                  [--date YYYY-MM-DD] [--all] [--json]\n"
    "\n"
    "set   sets the farm-gate price of a product and grade, in yuan per kg (at\n"
    "      most 2 decimals), effective from --from (default: today, China\n"
    "      Standard Time). Setting the same product, grade and date again\n"
    "      replaces that price.\n"
    "list  lists per product and grade the price in effect on --date (default:\n"
    "      today; state current) and the prices set for later days (scheduled),\n"
    "      in yuan per kg (--json: price_fen, fen per kg); --all adds the\n"
    "      superseded ones (past).\n";

static const char *const product_cols[] = {"code", "name", "unit"};
static const int product_num[] = {0, 0, 0};

static int product_list(int argc, char **argv)
{
    const char *db = NULL;
    int json = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL}, {"json", LM_OPT_FLAG, NULL, &json}};
    int prc = lm__hq_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], "product list",
                              product_usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    lm_replica *r = lm__hq_open(db, "product list");
    if (!r)
        return 1;
    lm_hq_rows shape = {product_cols, product_num, 3, NULL, 0, 0};
    int rc =
        lm__hq_list(lm_replica_db(r), "product list",
                    "SELECT code, name, unit FROM products ORDER BY code", NULL, 0, &shape, json);
    lm_replica_close(r);
    return rc;
}

static const char *const price_cols[] = {"product", "grade", "price_fen", "effective_from",
                                         "state"};
static const int price_num[] = {0, 0, 1, 0, 0};

/* Per product and grade: the row in effect on ?1 (the latest from on or
 * before it) is current, later ones scheduled, earlier ones past. */
static const char price_sql[] =
    "SELECT * FROM (SELECT p.product, p.grade, p.price_fen, p.effective_from,"
    " CASE WHEN p.effective_from > ?1 THEN 'scheduled'"
    "  WHEN p.effective_from = (SELECT MAX(q.effective_from) FROM prices q"
    "   WHERE q.product = p.product AND q.grade = p.grade AND q.effective_from <= ?1)"
    "  THEN 'current' ELSE 'past' END AS state"
    " FROM prices p WHERE (?2 IS NULL OR p.product = ?2) AND (?3 IS NULL OR p.grade = ?3))"
    " WHERE ?4 IS NOT NULL OR state <> 'past'"
    " ORDER BY product, (SELECT rank FROM grades WHERE code = grade), grade, effective_from";

static int price_list(int argc, char **argv)
{
    const char *cmd = "price list";
    const char *db = NULL, *product = NULL, *grade = NULL, *date = NULL;
    int json = 0, all = 0;
    lm_opt opts[] = {
        {"db", LM_OPT_VALUE, &db, NULL},       {"product", LM_OPT_VALUE, &product, NULL},
        {"grade", LM_OPT_VALUE, &grade, NULL}, {"date", LM_OPT_VALUE, &date, NULL},
        {"all", LM_OPT_FLAG, NULL, &all},      {"json", LM_OPT_FLAG, NULL, &json}};
    int prc =
        lm__hq_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], cmd, price_usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    char today[11];
    const char *why = NULL;
    lm_date_format(lm_date_today(LM_TIME_DEFAULT_OFFSET_MIN), today, sizeof today);
    if (!date)
        date = today;
    else if (lm_date_parse(date, NULL, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: --date '%s' %s\n", cmd, date, why);
        return 2;
    }
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    sqlite3 *sdb = lm_replica_db(r);
    int rc = 1;
    if (product && lm__hq_exists(sdb, "products", "code", product) <= 0) {
        fprintf(stderr, "lastmile-server %s: unknown product '%s'\n", cmd, product);
    } else if (grade && lm__hq_exists(sdb, "grades", "code", grade) <= 0) {
        fprintf(stderr, "lastmile-server %s: unknown grade '%s'\n", cmd, grade);
    } else {
        const char *binds[] = {date, product, grade, all ? "all" : NULL};
        lm_hq_rows shape = {price_cols, price_num, 5, NULL, 0, 0};
        rc = lm__hq_list(sdb, cmd, price_sql, binds, 4, &shape, json);
    }
    lm_replica_close(r);
    return rc;
}

int lm__cmd_product(int argc, char **argv)
{
    static const char *const subs[] = {"add", "list", NULL};
    int urc = lm__hq_usage(argc, argv, subs, product_usage);
    if (urc >= 0)
        return urc;
    if (!strcmp(argv[0], "list"))
        return product_list(argc - 1, argv + 1);
    const char *db = NULL, *code = NULL, *name = NULL, *unit = "kg";
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"code", LM_OPT_VALUE, &code, NULL},
                     {"name", LM_OPT_VALUE, &name, NULL},
                     {"unit", LM_OPT_VALUE, &unit, NULL}};
    int prc = lm_args_run(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server product add", product_usage, "db,code,name");
    if (prc != LM_ARGS_GO)
        return prc;
    lm_replica *r = lm__hq_open(db, "product add");
    if (!r)
        return 1;
    int result = 1;
    int have = lm__hq_exists(lm_replica_db(r), "products", "code", code);
    if (have != 0) {
        fprintf(stderr, "lastmile-server product add: %s\n",
                have > 0 ? "a product with this code exists already" : lm_strerror(have));
        goto fail_check;
    }
    char err[512] = "";
    lm_hq_param p[] = {{code, 0, 0, 0}, {name, 0, 0, 0}, {unit, 0, 0, 0}};
    if (lm__hq_write(r, "INSERT INTO products(code, name, unit) VALUES(?1, ?2, ?3)", p, 3, NULL,
                     err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server product add: %s\n", err);
        goto fail_check;
    }
    printf("%s\n", code);
    result = 0;
fail_check:
    lm_replica_close(r);
    return result;
}

int lm__cmd_price(int argc, char **argv)
{
    static const char *const subs[] = {"set", "list", NULL};
    int urc = lm__hq_usage(argc, argv, subs, price_usage);
    if (urc >= 0)
        return urc;
    if (!strcmp(argv[0], "list"))
        return price_list(argc - 1, argv + 1);
    const char *db = NULL, *product = NULL, *grade = NULL, *price = NULL, *from = NULL;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"product", LM_OPT_VALUE, &product, NULL},
                     {"grade", LM_OPT_VALUE, &grade, NULL},
                     {"price", LM_OPT_VALUE, &price, NULL},
                     {"from", LM_OPT_VALUE, &from, NULL}};
    int prc = lm_args_run(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server price set", price_usage, "db,product,grade,price");
    if (prc != LM_ARGS_GO)
        return prc;
    int64_t fen;
    const char *why = NULL;
    if (lm_money_parse_price(price, &fen, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server price set: --price '%s' %s\n", price, why);
        return 2;
    }
    char today[11];
    int64_t today_days = lm_date_today(lm_text_utc_offset_default());
    lm_date_format(today_days, today, sizeof today);
    if (!from)
        from = today;
    if (lm_date_parse_near(from, today_days, LM_DATE_PRICE_BACK, LM_DATE_PRICE_AHEAD, NULL, &why) !=
        LM_OK) {
        fprintf(stderr, "lastmile-server price set: --from '%s' %s\n", from, why);
        return 2;
    }
    lm_replica *r = lm__hq_open(db, "price set");
    if (!r)
        return 1;
    int result = 1;
    int hp = lm__hq_exists(lm_replica_db(r), "products", "code", product);
    int hg = lm__hq_exists(lm_replica_db(r), "grades", "code", grade);
    if (hp <= 0 || hg <= 0) {
        fprintf(stderr, "lastmile-server price set: %s '%s'\n",
                hp <= 0 ? "unknown product" : "unknown grade", hp <= 0 ? product : grade);
        goto fail_check;
    }
    char id[LM_ID_SIZE], err[512] = "";
    if (lm_replica_new_id(r, id) != LM_OK) {
        fprintf(stderr, "lastmile-server price set: %s\n", lm_replica_errmsg(r));
        goto fail_check;
    }
    lm_hq_param p[] = {{id, 0, 0, 0},
                       {product, 0, 0, 0},
                       {grade, 0, 0, 0},
                       {from, 0, 0, 0},
                       {NULL, (long long)fen, 0, 0}};
    int changed = 0;
    /* An update of the row for the same day keeps one price per product,
     * grade and date; only a new date makes a new row. */
    if (lm__hq_write(r,
                     "UPDATE prices SET price_fen = ?5 WHERE product = ?2 AND grade = ?3"
                     " AND effective_from = ?4 AND ?1 IS NOT NULL",
                     p, 5, &changed, err, sizeof err) != LM_OK)
        goto fail_write;
    if (changed == 0 &&
        lm__hq_write(r,
                     "INSERT INTO prices(id, product, grade, effective_from, price_fen)"
                     " VALUES(?1, ?2, ?3, ?4, ?5)",
                     p, 5, NULL, err, sizeof err) != LM_OK)
        goto fail_write;
    printf("%s %s %lld.%02lld yuan/kg from %s\n", product, grade, (long long)(fen / 100),
           (long long)(fen % 100), from);
    result = 0;
    goto fail_check;
fail_write:
    fprintf(stderr, "lastmile-server price set: %s\n", err);
fail_check:
    lm_replica_close(r);
    return result;
}
