/*
 * main.c — `lastmile-server`: subcommand dispatch. Exit codes: 0 ok,
 * 1 runtime error, 2 usage error.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "cmds.h"
#include "hq.h"
#include "lm_text.h"

static const char usage[] =
    "usage: lastmile-server <command> [options]\n"
    "\n"
    "commands:\n"
    "  init --db PATH                      create the server database (idempotent)\n"
    "  user add|rekey|list|revoke|unrevoke provision users, enrolment strings\n"
    "  identity show|rotate --db PATH      the server's key and its rotation\n"
    "  serve --db PATH --listen HOST:PORT  serve sync sessions\n"
    "  report volumes --db PATH ...        volume report (table, csv, json)\n"
    "  report reconcile --db PATH ...      collected / loaded / received per route\n"
    "  report poverty --db PATH ...        buying from registered poor households\n"
    "  report agents --db PATH ...         last sync, conflicts, refusals per user\n"
    "  village add|list|update ...         the catalog's villages (a county comes with\n"
    "                                      its first village) and their coordinates\n"
    "  warehouse add|list ...              a county's warehouses\n"
    "  product add|list --db PATH ...      the catalog's products\n"
    "  price set|list --db PATH ...        a product and grade's price, current and\n"
    "                                      scheduled prices\n"
    "  farmer import --db PATH --csv FILE  match farmers to the poor-household register\n"
    "  farmer deactivate|reactivate ...    stop (or allow again) buying from a farmer\n"
    "  receipt add|list|void ...           warehouse receipts for a route\n"
    "  distance import|set --db PATH ...   road distances, a county's routing settings\n"
    "  conflicts list|show|resolve ...     review and close concurrent-write conflicts\n"
    "  version                             print the version\n"
    "\n"
    "`lastmile-server <command> --help` describes each command. Reports count\n"
    "local days: $LASTMILE_UTC_OFFSET (e.g. +08:00, -05:30), default UTC+8.\n";

int main(int argc, char **argv)
{
    /* SQLite's memory statistics take one process-wide mutex on every
     * allocation, which the loop and every pool thread contend for; nothing
     * here reads them. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* The database, its -wal / -shm and the identity key: readable by the
     * server's user only, whatever the umask. */
    umask(077);
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    char warning[200];
    lm_text_utc_offset_env_warning(warning, sizeof warning);
    if (*warning)
        fprintf(stderr, "lastmile-server: %s\n", warning);
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("lastmile-server %s\n", LM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "init") == 0)
        return lm__cmd_init(argc - 2, argv + 2);
    if (strcmp(cmd, "user") == 0)
        return lm__cmd_user(argc - 2, argv + 2);
    if (strcmp(cmd, "identity") == 0)
        return lm__cmd_identity(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0)
        return lm__cmd_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "village") == 0)
        return lm__cmd_village(argc - 2, argv + 2);
    if (strcmp(cmd, "warehouse") == 0)
        return lm__cmd_warehouse(argc - 2, argv + 2);
    if (strcmp(cmd, "product") == 0)
        return lm__cmd_product(argc - 2, argv + 2);
    if (strcmp(cmd, "price") == 0)
        return lm__cmd_price(argc - 2, argv + 2);
    if (strcmp(cmd, "farmer") == 0)
        return lm__cmd_farmer(argc - 2, argv + 2);
    if (strcmp(cmd, "receipt") == 0)
        return lm__cmd_receipt(argc - 2, argv + 2);
    if (strcmp(cmd, "distance") == 0)
        return lm__cmd_distance(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0)
        return lm__cmd_report(argc - 2, argv + 2);
    if (strcmp(cmd, "conflicts") == 0)
        return lm__cmd_conflicts(argc - 2, argv + 2);
    fprintf(stderr, "lastmile-server: unknown command '%s' (see --help)\n", cmd);
    return 2;
}
