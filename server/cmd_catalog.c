/*
 * cmd_catalog.c — `lastmile-server product add` and `price set`: the
 * catalog headquarters owns. Both write through lm__hq_write so agents
 * receive the rows on their next sync.
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
    "\n"
    "Adds a product to the catalog every agent receives. CODE is what agents\n"
    "type (`lastmile collect --product CODE`); an existing code is an error.\n";

static const char price_usage[] =
    "usage: lastmile-server price set --db PATH --product P --grade G --price YUAN_PER_KG\n"
    "                                 [--from YYYY-MM-DD]\n"
    "\n"
    "Sets the farm-gate price of a product and grade, in yuan per kg (at most\n"
    "2 decimals), effective from --from (default: today, China Standard Time).\n"
    "Setting the same product, grade and date again replaces that price.\n";

int lm__cmd_product(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "add") != 0) {
        int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
        fputs(product_usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
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
    lm_hq_param p[] = {{code, 0}, {name, 0}, {unit, 0}};
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

/* Today's date in China Standard Time, the calendar every report uses. */
int lm__cmd_price(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "set") != 0) {
        int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
        fputs(price_usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
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
    lm_hq_param p[] = {{id, 0}, {product, 0}, {grade, 0}, {from, 0}, {NULL, (long long)fen}};
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
