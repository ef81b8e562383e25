/*
 * cmd_report.c — `lastmile-server report volumes`: the volume report over
 * a server database, safe to run while a server is using it.
 *
 * The file is opened read-only with its own connection: in WAL mode a
 * reader neither blocks the server's writer nor is blocked by it, and the
 * busy timeout covers the short moments (checkpoint, recovery) when SQLite
 * does make a reader wait.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "hq.h"
#include "args.h"
#include "report.h"

static const char usage[] =
    "usage: lastmile-server report volumes --db PATH [--by agent,village,product,grade,day]\n"
    "                                      [--format table|csv|json]\n"
    "\n"
    "Per group: weight_g (collections plus adjustments, voided collections\n"
    "excluded), amount_fen and count. Without --by, one total line. JSON is an\n"
    "array of objects keyed by the group columns and the three figures. Days are\n"
    "China Standard Time (UTC+8). Reads a database a running server is using.\n"
    "\n"
    "Also: report reconcile | poverty | agents (see docs/hq.md, or --help on each).\n";

int lm__cmd_report(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (strcmp(argv[0], "reconcile") == 0)
        return lm__cmd_report_reconcile(argc - 1, argv + 1);
    if (strcmp(argv[0], "agents") == 0)
        return lm__cmd_report_agents(argc - 1, argv + 1);
    if (strcmp(argv[0], "poverty") == 0)
        return lm__cmd_report_poverty(argc - 1, argv + 1);
    if (strcmp(argv[0], "volumes") != 0) {
        fprintf(stderr, "lastmile-server report: unknown report '%s' (volumes)\n", argv[0]);
        return 2;
    }
    const char *db = NULL, *by = NULL, *format = "table";
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"by", LM_OPT_VALUE, &by, NULL},
                     {"format", LM_OPT_VALUE, &format, NULL}};
    int prc = lm_args_run(argc - 1, argv + 1, opts, sizeof opts / sizeof opts[0],
                          "lastmile-server report volumes", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    lm_report_spec spec;
    memset(&spec, 0, sizeof spec);
    char err[512] = "";
    if (lm__report_parse_by(by, &spec, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report volumes: %s\n", err);
        return 2;
    }
    spec.format = lm__report_parse_format(format);
    if (spec.format < 0) {
        fprintf(stderr, "lastmile-server report volumes: --format must be table, csv or json\n");
        return 2;
    }

    sqlite3 *sdb = lm__report_open(db, "report volumes");
    if (!sdb)
        return 1;
    int code = 1;
    if (lm__report_volumes(sdb, &spec, stdout, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server report volumes: %s\n", err);
        goto fail_open;
    }
    code = fflush(stdout) == 0 ? 0 : 1;
fail_open:
    sqlite3_close(sdb);
    return code;
}
