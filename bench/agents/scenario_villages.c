/*
 * scenario_villages.c — `bench_agents villages`: an hq replica adds the
 * villages the benchmark agents will be provisioned with (one village per
 * agent, "bv-0000", ...) and syncs them to the server.
 *
 * Why: `lastmile-server user add --villages` only accepts villages of the
 * catalog, and villages are hq-written data that reach the server through an
 * ordinary hq sync, so this goes through the server's documented interface,
 * not into its database. One village per agent keeps each agent's read scope
 * to its own farmers: with the six starter villages, 1,000 agents would each
 * pull the farmers of ~170 colleagues and the benchmark would measure that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "bench_common.h"

static const char usage[] =
    "usage: bench_agents villages --server HOST:PORT --user HQ --key HEX --db PATH\n"
    "                             --count N [--county C]\n";

int lm_bench_villages_main(int argc, char **argv)
{
    const char *server = NULL, *user = NULL, *key = NULL, *path = NULL, *county = "pingshan";
    long count = -1;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--server"))
            server = argv[i + 1];
        else if (!strcmp(argv[i], "--user"))
            user = argv[i + 1];
        else if (!strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!strcmp(argv[i], "--db"))
            path = argv[i + 1];
        else if (!strcmp(argv[i], "--count"))
            count = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--county"))
            county = argv[i + 1];
        else
            break;
    }
    if (argc % 2 || !server || !user || !key || !path || count < 1 || count > 100000) {
        fputs(usage, stderr);
        return 2;
    }

    lm_replica *r;
    if (lm_bench_replica_fresh(path, &r) != LM_OK)
        return 1;
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    int code = 1;
    if (lm_bench_exec(db, "BEGIN") != LM_OK)
        goto fail_begin;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO villages (name, county) VALUES (?, ?)", -1,
                           &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_agents: villages: %s\n", sqlite3_errmsg(db));
        goto fail_tx;
    }
    for (long i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "bv-%04ld", i);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, county, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "bench_agents: villages: %s\n", sqlite3_errmsg(db));
            goto fail_tx;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (lm_bench_exec(db, "COMMIT") != LM_OK)
        goto fail_tx;

    lm_sync_stats s;
    if (lm_bench_sync(r, server, user, key, &s, NULL, "villages") != LM_OK)
        goto fail_begin;
    if (s.refusals) {
        fprintf(stderr, "bench_agents: villages: the server refused %llu changes\n",
                (unsigned long long)s.refusals);
        goto fail_begin;
    }
    printf("villages: %ld added as %s (pushed %llu changes)\n", count, user,
           (unsigned long long)s.pushed_changes);
    code = 0;
    goto done;

fail_tx:
    sqlite3_finalize(st);
    lm_bench_exec(db, "ROLLBACK");
fail_begin:
done:
    lm_replica_close(r);
    return code;
}
