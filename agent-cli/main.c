/*
 * main.c — `lastmile`, the field tool: dispatches to one subcommand.
 * Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 replica damaged, 4
 * disk full; every error is one line
 * on stderr, "lastmile: <command>: <reason>".
 */
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: lastmile COMMAND [options]\n"
    "\n"
    "Commands (each takes --db PATH, default $LASTMILE_DB else ./lastmile.db,\n"
    "and --help; those that print data take --json):\n"
    "  init --enrol STRING [--server HOST:PORT]      set up this replica, first sync\n"
    "  farmer add --name NAME --village V [--phone P] [--poor] [--household ID]\n"
    "  farmer find TEXT [--village V]                by name, phone or household id\n"
    "  farmer edit FARMER [--name N] [--phone P] [--household ID] [--poor|--not-poor]\n"
    "  collect --farmer FARMER --product CODE --grade G --kg KG [--price YUAN_PER_KG] [--note T]\n"
    "  grade --collection ID --grade G [--moisture PCT] [--defects TEXT]\n"
    "  adjust --collection ID (--delta-kg KG | --void) --reason TEXT\n"
    "  day [--date D]                                today's purchases per farmer, totals\n"
    "  slip COLLECTION [--width 32|48] [--utc-offset +08:00]  the farmer's slip\n"
    "  list farmers|collections|gradings|adjustments|routes|stops|refusals\n"
    "       [--utc-offset +08:00]; collections: [--farmer FARMER] [--since D] [--limit N]\n"
    "  status                                        pending changes, last sync, conflicts\n"
    "  sync                                          push, then pull, until up to date\n"
    "  check                                         SQLite's integrity check of the replica\n"
    "  salvage --out NEW                             rebuild a damaged replica into NEW\n"
    "  conflicts [resolve ID --keep mine|theirs]\n"
    "  route create --date D --vehicle V --driver NAME --stops V1,V2 [--capacity-kg N]\n"
    "  route suggest --date D --capacity-kg N        routes covering the waiting weight\n"
    "  route cancel ROUTE                            call a planned route off\n"
    "  points [--date D]                             villages with weight waiting for pickup\n"
    "  stop arrive STOP | stop load STOP --kg KG     your stop of a pickup route\n"
    "  stop correct STOP --kg KG --reason TEXT       correct a recorded load (dispatcher)\n"
    "\n"
    "FARMER is a farmer's id, an unambiguous id prefix or exact name.\n"
    "Local days and times: $LASTMILE_UTC_OFFSET (e.g. +08:00, -05:30), default\n"
    "UTC+8, for every command.\n"
    "Exit codes: 0 ok, 1 runtime error, 2 usage error, 3 replica damaged,\n"
    "4 disk full.\n";

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"init", lm_cmd_init},       {"collect", lm_cmd_collect},
    {"grade", lm_cmd_grade},     {"adjust", lm_cmd_adjust},
    {"list", lm_cmd_list},       {"status", lm_cmd_status},
    {"sync", lm_cmd_sync},       {"conflicts", lm_cmd_conflicts},
    {"route", lm_cmd_route},     {"stop", lm_cmd_stop},
    {"points", lm_cmd_points},   {"check", lm_cmd_check},
    {"salvage", lm_cmd_salvage}, {"day", lm_cmd_day},
    {"slip", lm_cmd_slip},
};

int main(int argc, char **argv)
{
    /* The replica (personal data of poor households), its -wal / -shm and
     * the device key: readable by this user only, whatever the umask. */
    umask(077);
    if (argc < 2) {
        fputs(usage, stderr);
        return LM_EXIT_USAGE;
    }
    char warning[200];
    lm_text_utc_offset_env_warning(warning, sizeof warning);
    if (*warning)
        fprintf(stderr, "lastmile: %s\n", warning);
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        fputs(usage, stdout);
        return LM_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("lastmile %s\n", LM_VERSION);
        return LM_EXIT_OK;
    }
    if (strcmp(name, "farmer") == 0) {
        static const command farmer_commands[] = {
            {"add", lm_cmd_farmer_add}, {"find", lm_cmd_farmer_find}, {"edit", lm_cmd_farmer_edit}};
        for (size_t i = 0; argc >= 3 && i < sizeof farmer_commands / sizeof farmer_commands[0];
             i++) {
            if (strcmp(farmer_commands[i].name, argv[2]) == 0)
                return farmer_commands[i].run(argc - 3, argv + 3);
        }
        FILE *out =
            argc >= 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) ? stdout : stderr;
        fprintf(out, "usage: lastmile farmer add|find|edit ... (each takes --help)\n");
        return out == stdout ? LM_EXIT_OK : LM_EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    }
    fprintf(stderr, "lastmile: unknown command '%s' (see 'lastmile --help')\n", name);
    return LM_EXIT_USAGE;
}
