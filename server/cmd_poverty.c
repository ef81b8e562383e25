/*
 * cmd_poverty.c — the flags of `lastmile-server report poverty`; the report
 * itself is report_poverty.c. Read-only connection, safe beside a server.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"
#include "opts.h"
#include "report.h"

static const char usage[] =
    "usage: lastmile-server report poverty --db PATH [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
    "                                      [--period day|week|month|all]\n"
    "                                      [--format table|csv|json]\n"
    "\n"
    "Per period, county and village: weight (g) and money (fen) bought from\n"
    "registered poor households against all households, the number of selling\n"
    "farmers of each kind and the poor share of the money in percent. County\n"
    "subtotals have village '*', the period total county '*'. Default period: all.\n";

int lm__cmd_report_poverty(int argc, char **argv)
{
    const char *db = NULL, *from = NULL, *to = NULL, *period = "all", *format = "table";
    lm_opt opts[] = {{"db", &db, NULL},
                     {"from", &from, NULL},
                     {"to", &to, NULL},
                     {"period", &period, NULL},
                     {"format", &format, NULL}};
    int prc =
        lm__opts_run(argc, argv, opts, sizeof opts / sizeof opts[0], "report poverty", usage, "db");
    if (prc != LM_OPTS_GO)
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
    sqlite3 *sdb = lm__report_open(db, "report poverty");
    if (!sdb)
        return 1;
    int code = 1;
    char err[512] = "";
    if (lm__report_poverty(sdb, from, to, period, fmt, stdout, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report poverty: %s\n", err);
        goto fail_open;
    }
    code = fflush(stdout) == 0 ? 0 : 1;
fail_open:
    sqlite3_close(sdb);
    return code;
}
