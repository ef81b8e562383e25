/*
 * cmd_route_cancel.c — `lastmile route cancel ROUTE`: a dispatcher of the
 * route's county (or hq) calls a planned pickup off. The route stays, with
 * status 'cancelled' (schema 12: the last of routes.status's order, so no
 * later status replaces it, docs/dispatch.md); its stops are no pickups
 * any more: the agents' `list stops` and `stop arrive|load` and the
 * dispatcher's planning (`points`, `route create --capacity-kg`, `route
 * suggest`) leave them out. A route with a loaded stop cannot be cancelled:
 * the load is on the truck. A dispatcher's replica holds its own county's
 * routes only, and the server checks the same right on receipt (scope.c:
 * a dispatcher writes routes of its county only).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"

static const char usage[] =
    "usage: lastmile route cancel ROUTE [--db PATH] [--json]\n"
    "\n"
    "Cancels a planned pickup route (dispatcher of its county, or hq): the route\n"
    "stays, marked cancelled, and its stops are no longer pickups the agents\n"
    "wait for. A route with a loaded stop, or one already done, is not\n"
    "cancelled. Sync afterwards to send it.\n";

int lm_cmd_route_cancel(int argc, char **argv)
{
    lm_cli_common c = {0};
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c), LM_CLI_JSON_OPT(c)};
    const char *cmd = "route cancel";
    int code = lm_cli_parse(cmd, usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional != 1)
        return lm_cli_usage_error(cmd, "say 'route cancel ROUTE'");
    const char *route = a.positional[0];
    lm_replica *r;
    if ((code = lm_cli_open(cmd, c.db, 1, &r)) != LM_EXIT_OK)
        return code;
    sqlite3 *db = lm_replica_db(r);
    char *role = lm_cli_meta(r, "role");
    char *status = NULL, *rcounty = NULL;
    long long loaded = 0, stops = 0;
    sqlite3_stmt *st = NULL;
    int dispatcher = role && strcmp(role, "dispatcher") == 0;
    if (!dispatcher && (!role || strcmp(role, "hq") != 0)) {
        code = lm_cli_error(cmd, "only a dispatcher or hq cancels a route (this replica is %s's)",
                            role ? role : "unknown");
        goto fail_begin;
    }
    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_error(cmd, "cannot start a transaction: %s", sqlite3_errmsg(db));
        goto fail_begin;
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT r.status, r.county, (SELECT count(*) FROM route_stops s"
                           " WHERE s.route_id = r.id), (SELECT count(*) FROM route_stops s"
                           " WHERE s.route_id = r.id AND s.status = 'loaded')"
                           " FROM routes r WHERE r.id = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        code = lm_cli_error(cmd, "cannot read routes: %s", sqlite3_errmsg(db));
        goto fail_tx;
    }
    sqlite3_bind_text(st, 1, route, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        const char *k = (const char *)sqlite3_column_text(st, 1);
        status = lm_strdup(s ? s : "planned");
        rcounty = lm_strdup(k ? k : "");
        stops = sqlite3_column_int64(st, 2);
        loaded = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (step != SQLITE_ROW) {
        code = step == SQLITE_DONE
                   ? lm_cli_error(cmd, "unknown route '%s' (sync to receive new routes)", route)
                   : lm_cli_error(cmd, "cannot read routes: %s", sqlite3_errmsg(db));
        goto fail_tx;
    }
    if (!status || !rcounty) {
        code = lm_cli_error(cmd, "out of memory");
        goto fail_tx;
    }
    if (!strcmp(status, "cancelled")) {
        code = lm_cli_error(cmd, "route %s is cancelled already", route);
        goto fail_tx;
    }
    if (!strcmp(status, "done")) {
        code = lm_cli_error(cmd, "route %s is done: a finished route is not cancelled", route);
        goto fail_tx;
    }
    if (loaded) {
        code = lm_cli_error(cmd,
                            "route %s has %lld loaded stop%s of %lld: the load is on the truck;"
                            " finish the route instead (a wrong load is corrected with"
                            " 'stop correct')",
                            route, loaded, loaded == 1 ? "" : "s", stops);
        goto fail_tx;
    }
    if (sqlite3_prepare_v2(db, "UPDATE routes SET status = 'cancelled' WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK) {
        code = lm_cli_error(cmd, "cannot write: %s", sqlite3_errmsg(db));
        goto fail_tx;
    }
    sqlite3_bind_text(st, 1, route, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE || lm_cli_exec(db, "COMMIT") != LM_OK) {
        code = lm_cli_error(cmd, "cannot write: %s", sqlite3_errmsg(db));
        goto fail_tx;
    }
    sqlite3_finalize(st);
    if (c.json) {
        fputs("{\"route\":", stdout);
        lm_json_fput_string(stdout, route);
        printf(",\"county\":");
        lm_json_fput_string(stdout, rcounty);
        printf(",\"status\":\"cancelled\",\"stops\":%lld}\n", stops);
    } else
        printf("route %s cancelled (%lld stop%s no longer waited for); sync to send it\n", route,
               stops, stops == 1 ? "" : "s");
    code = LM_EXIT_OK;
    goto done;

fail_tx:
    sqlite3_finalize(st);
    lm_cli_exec(db, "ROLLBACK");
fail_begin:
done:
    lm_free(status);
    lm_free(rcounty);
    lm_free(role);
    lm_replica_close(r);
    return code;
}
