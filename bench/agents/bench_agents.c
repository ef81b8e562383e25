/*
 * bench_agents.c — the agents benchmark's entry point: one scenario per
 * invocation, driven by scripts/bench-agents.sh, which starts the real
 * lastmile-server, provisions users with its commands and collects the
 * RESULT lines this program prints.
 *
 *   bench_agents villages ...  hq adds one village per benchmark agent
 *   bench_agents day ...       N agents sync a day's work concurrently
 *   bench_agents records ...   one replica pushes the peer's N records
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "bench_common.h"

int main(int argc, char **argv)
{
    /* Up to 1,000 agents share this one process (in the field each is its
     * own phone). SQLite's memory statistics take one process-wide mutex on
     * every allocation; off, so the agents do not queue on each other. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (argc >= 2 && !strcmp(argv[1], "villages"))
        return lm_bench_villages_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "day"))
        return lm_bench_day_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "records"))
        return lm_bench_records_main(argc - 2, argv + 2);
    fputs("usage: bench_agents villages|day|records [options]  (see scripts/bench-agents.sh)\n",
          stderr);
    return 2;
}
