/*
 * cmd_poverty.c — the flags of `lastmile-server report poverty`; the report
 * itself is report_poverty.c. Read-only connection, safe beside a server.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "args.h"
#include "report.h"

static const char usage[] =
    "usage: lastmile-server report poverty --db PATH [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
    "                                      [--period day|week|month|all]\n"
    "                                      [--format table|csv|json] [--follow-up [--wide]]\n"
    "\n"
    "Per period, county and village: weight (g) and money (fen) bought from\n"
    "households the imported register verifies (household id, name and village\n"
    "match) against all households, the verified share of the money in percent,\n"
    "and apart the money of doubtful (household id on the register, name or\n"
    "village differ) and claimed (marked poor in the field, not on the register)\n"
    "households. County subtotals have village '*', the period total county '*'.\n"
    "Default period: all. --follow-up lists the doubtful and claimed farmers who\n"
    "sold in the range, with what they sold, instead: as a table in 80 columns\n"
    "(the register's name and village where they differ); --wide (or --format\n"
    "csv|json) adds the farmer id, county and the register's name and village.\n";

int lm__cmd_report_poverty(int argc, char **argv)
{
    const char *db = NULL, *from = NULL, *to = NULL, *period = "all", *format = "table";
    int follow_up = 0, wide = 0;
    lm_opt opts[] = {
        {"db", LM_OPT_VALUE, &db, NULL},         {"from", LM_OPT_VALUE, &from, NULL},
        {"to", LM_OPT_VALUE, &to, NULL},         {"period", LM_OPT_VALUE, &period, NULL},
        {"format", LM_OPT_VALUE, &format, NULL}, {"follow-up", LM_OPT_FLAG, NULL, &follow_up},
        {"wide", LM_OPT_FLAG, NULL, &wide}};
    int prc = lm_args_run(argc, argv, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server report poverty", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    if (lm__hq_check_dates("report poverty", from, to) != 0)
        return 2;
    int fmt = lm__report_parse_format(format);
    if (fmt < 0 || (strcmp(period, "day") != 0 && strcmp(period, "week") != 0 &&
                    strcmp(period, "month") != 0 && strcmp(period, "all") != 0)) {
        fprintf(stderr, "lastmile-server report poverty: %s\n",
                fmt < 0 ? "--format must be table, csv or json"
                        : "--period must be day, week, month or all");
        return 2;
    }
    if (wide && !follow_up) {
        fprintf(stderr, "lastmile-server report poverty: --wide goes with --follow-up\n");
        return 2;
    }
    sqlite3 *sdb = lm__report_open(db, "report poverty");
    if (!sdb)
        return 1;
    int code = 1;
    char err[512] = "";
    lm_poverty_opts o = {from, to, period, fmt, follow_up, wide};
    if (lm__report_poverty(sdb, &o, stdout, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report poverty: %s\n", err);
        goto fail_open;
    }
    code = fflush(stdout) == 0 ? 0 : 1;
fail_open:
    sqlite3_close(sdb);
    return code;
}
