/*
 * cmd_receipt.c — `lastmile-server receipt add|list|void`: the warehouse
 * records what a route's truck delivered, per product and grade. Receipts
 * feed `report reconcile` (received weight). A wrong receipt is voided,
 * never erased: receipts.voided_at and void_reason (schema 12, immutable
 * once set) keep when and why, and the reports leave it out.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hq.h"
#include "lm_rules.h"
#include "money.h"
#include "args.h"

static const char usage[] =
    "usage: lastmile-server receipt add --db PATH --route ROUTE_ID --product P --grade G\n"
    "                                   --kg KG [--warehouse NAME]\n"
    "       lastmile-server receipt list --db PATH [--route ROUTE_ID] [--json]\n"
    "       lastmile-server receipt void --db PATH --id RECEIPT_ID --reason TEXT\n"
    "\n"
    "add   records a warehouse receipt for a route: KG (at most 3 decimals) of one\n"
    "      product and grade. Several receipts for the same route, product and\n"
    "      grade add up. Prints the receipt id.\n"
    "list  lists receipts (kg; --json: weight_g), oldest first, voided ones with\n"
    "      when and why.\n"
    "void  marks a receipt void: it stays, with the time and the reason, and\n"
    "      report reconcile leaves it out. A void is never undone (record the\n"
    "      receipt again instead).\n";

static const char *const list_cols[] = {"id",        "route_id",   "county",   "warehouse",
                                        "product",   "grade",      "weight_g", "received_at",
                                        "voided_at", "void_reason"};
static const int list_num[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 0};

static int receipt_list(int argc, char **argv)
{
    lm_hq_rows shape = {list_cols, list_num, 10, NULL, 0, 0};
    return lm__hq_list_cmd(argc, argv, "receipt list", usage, "route", "routes", "id",
                           "unknown route",
                           "SELECT c.id, c.route_id, t.county, c.warehouse, c.product, c.grade,"
                           " c.weight_g, c.received_at, c.voided_at, c.void_reason FROM receipts c"
                           " LEFT JOIN routes t ON t.id = c.route_id"
                           " WHERE ?1 IS NULL OR c.route_id = ?1 ORDER BY c.received_at, c.id",
                           &shape);
}

static int receipt_void(int argc, char **argv)
{
    const char *cmd = "receipt void";
    const char *db = NULL, *id = NULL, *reason = NULL;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"id", LM_OPT_VALUE, &id, NULL},
                     {"reason", LM_OPT_VALUE, &reason, NULL}};
    int rc =
        lm__hq_args_run(argc, argv, opts, sizeof opts / sizeof opts[0], cmd, usage, "db,id,reason");
    if (rc != LM_ARGS_GO)
        return rc;
    const char *why = NULL;
    if (lm_rules_text(reason, strlen(reason), 1000, &why) != LM_OK) {
        fprintf(stderr, "lastmile-server %s: --reason: %s\n", cmd, why);
        return 2;
    }
    lm_replica *r = lm__hq_open(db, cmd);
    if (!r)
        return 1;
    char err[512] = "";
    int changed = 0;
    lm_hq_param p[] = {
        {id, 0, 0, 0}, {NULL, (long long)time(NULL) * 1000, 0, 0}, {reason, 0, 0, 0}};
    rc = 1;
    if (lm__hq_exists(lm_replica_db(r), "receipts", "id", id) <= 0)
        fprintf(stderr, "lastmile-server %s: unknown receipt '%s'\n", cmd, id);
    else if (lm__hq_write(r,
                          "UPDATE receipts SET voided_at = ?2, void_reason = ?3"
                          " WHERE id = ?1 AND voided_at IS NULL",
                          p, 3, &changed, err, sizeof err) != LM_OK)
        fprintf(stderr, "lastmile-server %s: %s\n", cmd, err);
    else if (!changed)
        fprintf(stderr, "lastmile-server %s: receipt '%s' is void already\n", cmd, id);
    else
        rc = 0;
    if (!rc)
        printf("%s voided\n", id);
    lm_replica_close(r);
    return rc;
}

int lm__cmd_receipt(int argc, char **argv)
{
    static const char *const subs[] = {"add", "list", "void", NULL};
    int urc = lm__hq_usage(argc, argv, subs, usage);
    if (urc >= 0)
        return urc;
    if (!strcmp(argv[0], "list"))
        return receipt_list(argc - 1, argv + 1);
    if (!strcmp(argv[0], "void"))
        return receipt_void(argc - 1, argv + 1);
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
    lm_hq_param p[] = {{id, 0, 0, 0},
                       {route, 0, 0, 0},
                       {warehouse, 0, 0, 0},
                       {product, 0, 0, 0},
                       {grade, 0, 0, 0},
                       {NULL, (long long)grams, 0, 0},
                       {NULL, (long long)time(NULL) * 1000, 0, 0}};
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
