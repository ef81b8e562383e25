/*
 * cmd_receipt.c — `lastmile-server receipt add`: the warehouse records what
 * a route's truck delivered, per product and grade. Receipts feed
 * `report reconcile` (received weight).
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hq.h"
#include "money.h"
#include "args.h"

static const char usage[] =
    "usage: lastmile-server receipt add --db PATH --route ROUTE_ID --product P --grade G\n"
    "                                   --kg KG [--warehouse NAME]\n"
    "\n"
    "Records a warehouse receipt for a route: KG (at most 3 decimals) of one\n"
    "product and grade. Several receipts for the same route, product and grade\n"
    "add up. Prints the receipt id.\n";

int lm__cmd_receipt(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "add") != 0) {
        int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
        fputs(usage, help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *db = NULL, *route = NULL, *product = NULL, *grade = NULL, *kg = NULL,
               *warehouse = "main";
    lm_opt opts[] = {
        {"db", LM_OPT_VALUE, &db, NULL},           {"route", LM_OPT_VALUE, &route, NULL},
        {"product", LM_OPT_VALUE, &product, NULL}, {"grade", LM_OPT_VALUE, &grade, NULL},
        {"kg", LM_OPT_VALUE, &kg, NULL},           {"warehouse", LM_OPT_VALUE, &warehouse, NULL}};
    int prc = lm_args_run(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server receipt add", usage, "db,route,product,grade,kg");
    if (prc != LM_ARGS_GO)
        return prc;
    int64_t grams;
    const char *why = NULL;
    if (lm_money_parse_kg(kg, &grams, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server receipt add: --kg '%s' %s\n", kg, why);
        return 2;
    }
    lm_replica *r = lm__hq_open(db, "receipt add");
    if (!r)
        return 1;
    int result = 1;
    sqlite3 *sdb = lm_replica_db(r);
    const char *what = NULL, *value = NULL;
    if (lm__hq_exists(sdb, "routes", "id", route) <= 0)
        what = "unknown route", value = route;
    else if (lm__hq_exists(sdb, "products", "code", product) <= 0)
        what = "unknown product", value = product;
    else if (lm__hq_exists(sdb, "grades", "code", grade) <= 0)
        what = "unknown grade", value = grade;
    if (what) {
        fprintf(stderr, "lastmile-server receipt add: %s '%s'\n", what, value);
        goto fail_check;
    }
    char id[LM_ID_SIZE], err[512] = "";
    if (lm_replica_new_id(r, id) != LM_OK) {
        fprintf(stderr, "lastmile-server receipt add: %s\n", lm_replica_errmsg(r));
        goto fail_check;
    }
    lm_hq_param p[] = {{id, 0},
                       {route, 0},
                       {warehouse, 0},
                       {product, 0},
                       {grade, 0},
                       {NULL, (long long)grams},
                       {NULL, (long long)time(NULL) * 1000}};
    if (lm__hq_write(r,
                     "INSERT INTO receipts(id, route_id, warehouse, product, grade, weight_g,"
                     " received_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                     p, 7, NULL, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server receipt add: %s\n", err);
        goto fail_check;
    }
    printf("%s\n", id);
    result = 0;
fail_check:
    lm_replica_close(r);
    return result;
}
