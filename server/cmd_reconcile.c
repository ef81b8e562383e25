/*
 * cmd_reconcile.c — the flags of `lastmile-server report reconcile`; the
 * report itself is report_reconcile.c. Opens the database read-only like
 * `report volumes`, so it runs beside a serving server.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "money.h"
#include "args.h"
#include "report.h"

static const char usage[] =
    "usage: lastmile-server report reconcile --db PATH [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
    "                                        [--county C] [--tolerance PCT]\n"
    "                                        [--format table|csv|json] [--wide]\n"
    "\n"
    "Per route (dates are route dates, inclusive): what was waiting at each stop\n"
    "when the truck came (the village's buying since its previous load, up to the\n"
    "route's date), what was loaded and what the warehouse received, in grams, at\n"
    "the levels route, stop, product and village_product, with a flag where a\n"
    "loss exceeds the tolerance (percent, at most 2 decimals, default 2):\n"
    "collect>load, load>receive, collect>receive. The table prints each route\n"
    "under its date, vehicle, driver and county, one line per total, stop and\n"
    "product; --wide (or --format csv|json) shows every column and level.\n";

int lm__cmd_report_reconcile(int argc, char **argv)
{
    const char *db = NULL, *from = NULL, *to = NULL, *county = NULL, *tol = "2", *format = "table";
    int wide = 0;
    lm_opt opts[] = {
        {"db", LM_OPT_VALUE, &db, NULL},         {"from", LM_OPT_VALUE, &from, NULL},
        {"to", LM_OPT_VALUE, &to, NULL},         {"county", LM_OPT_VALUE, &county, NULL},
        {"tolerance", LM_OPT_VALUE, &tol, NULL}, {"format", LM_OPT_VALUE, &format, NULL},
        {"wide", LM_OPT_FLAG, NULL, &wide}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server report reconcile", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    if (lm__hq_check_dates("report reconcile", from, to) != 0)
        return 2;
    int64_t tol_cpct;
    const char *why = "is not a percentage";
    if (lm_money_parse_decimal(tol, 2, &tol_cpct, &why) != LM_OK || tol_cpct < 0 ||
        tol_cpct > 10000) {
        fprintf(stderr, "lastmile-server report reconcile: --tolerance '%s' %s\n", tol,
                tol_cpct < 0 || tol_cpct > 10000 ? "is not between 0 and 100" : why);
        return 2;
    }
    int fmt = lm__report_parse_format(format);
    if (fmt < 0) {
        fprintf(stderr, "lastmile-server report reconcile: --format must be table, csv or json\n");
        return 2;
    }
    sqlite3 *sdb = lm__report_open(db, "report reconcile");
    if (!sdb)
        return 1;
    int code = 1;
    char err[512] = "";
    lm_reconcile_opts o = {from, to, county, tol_cpct, fmt, wide};
    if (lm__report_reconcile(sdb, &o, stdout, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report reconcile: %s\n", err);
        goto fail_open;
    }
    code = fflush(stdout) == 0 ? 0 : 1;
fail_open:
    sqlite3_close(sdb);
    return code;
}
