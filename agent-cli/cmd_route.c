/*
 * cmd_route.c — `lastmile route create`: a dispatcher plans a pickup route
 * on its replica; the route and its stops reach the stops' agents on their
 * next syncs. The plan columns (routes.*, route_stops seq/village/agent_id/
 * planned_at) are the dispatcher's; status and loaded weight of a stop are
 * its agent's (cmd_stop.c). Definitions in docs/dispatch.md. `route
 * suggest` is cmd_route_suggest.c's, `create --from-suggestion`
 * cmd_route_from.c's, `route cancel` cmd_route_cancel.c's.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "money.h"
#include "route_cmd.h"
#include "route_geo.h"

static const char usage[] =
    "usage: lastmile route create --date YYYY-MM-DD --vehicle V --driver NAME\n"
    "                             --stops VILLAGE[:AGENT],... [--capacity-kg N]\n"
    "                             [--db PATH] [--json]\n"
    "       lastmile route create --from-suggestion FILE [--vehicle PREFIX]\n"
    "                             [--driver NAME] [--db PATH] [--json]\n"
    "\n"
    "Plans a pickup route (dispatcher or hq). Stops are visited in the order\n"
    "given; all must be villages of one county. A stop's agent is AGENT when\n"
    "given, else the agent who last bought in that village. With --capacity-kg\n"
    "the weight waiting at the stops (collected up to the date minus already\n"
    "loaded) must fit. Prints the route id; sync to send it.\n"
    "--from-suggestion turns the JSON of 'route suggest --json' into its routes\n"
    "(vehicle PREFIX-1, -2, ..., default 'suggested'), all or none; a suggestion\n"
    "whose waiting weights changed since is refused as stale.\n"
    "\n"
    "usage: lastmile route suggest --date YYYY-MM-DD --capacity-kg N [--vehicles N]\n"
    "                              [--max-km K] [--max-hours H] [--svg FILE] [--json]\n"
    "\n"
    "Proposes routes covering the weight waiting up to the date within the\n"
    "capacity, county by county. When the replica knows where the county's\n"
    "warehouse and villages lie: the shortest routes it finds (vehicle routing\n"
    "over imported road distances, else great-circle x the county's detour\n"
    "factor), stops in order, a village with more than a truck takes split over\n"
    "trips, at most --vehicles routes, --max-km and --max-hours per route; --svg\n"
    "draws the plan. Weight on unloaded stops of routes of that date is not\n"
    "planned again. Otherwise: villages by decreasing\n"
    "waiting weight, each put on the first route of its county with room, else\n"
    "on a new route (first-fit decreasing), which ignores distances.\n"
    "\n"
    "usage: lastmile route cancel ROUTE [--json]   (see route cancel --help)\n";

/* One text column of a one-row query with up to two text parameters (and
 * LM_TEXT_SQL_OFFSET, the local days' offset), as a new string; NULL when
 * there is no row (or out of memory). */
char *lm__route_query_text(sqlite3 *db, const char *sql, const char *p1, const char *p2)
{
    sqlite3_stmt *st = NULL;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
    if (p2)
        sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
    lm_cli_bind_utc_offset(st, lm_text_utc_offset_default());
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = lm_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

int lm__route_insert(sqlite3 *db, lm_replica *r, const char *id, const char *county,
                     const char *date, const char *vehicle, const char *driver, const char *user,
                     long long cap, const stop_plan *stops, size_t n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO routes (id, county, date, vehicle, driver, dispatcher_id,"
                           " capacity_g, status) VALUES (?,?,?,?,?,?,?,'planned')",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    const char *t[6] = {id, county, date, vehicle, driver, user};
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(st, i + 1, t[i], -1, SQLITE_STATIC);
    if (cap > 0)
        sqlite3_bind_int64(st, 7, cap);
    int rc = sqlite3_step(st) == SQLITE_DONE ? LM_OK : LM_EDB;
    sqlite3_finalize(st);
    if (rc != LM_OK)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO route_stops (id, route_id, seq, village, agent_id,"
                           " planned_at, status) VALUES (?,?,?,?,?,?,'planned')",
                           -1, &st, NULL) != SQLITE_OK)
        return LM_EDB;
    for (size_t i = 0; i < n && rc == LM_OK; i++) {
        char sid[LM_ID_SIZE];
        if ((rc = lm_replica_new_id(r, sid)) != LM_OK)
            break;
        sqlite3_bind_text(st, 1, sid, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)i + 1);
        sqlite3_bind_text(st, 4, stops[i].village, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, stops[i].agent, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)lm_cli_now_ms());
        rc = sqlite3_step(st) == SQLITE_DONE ? LM_OK : LM_EDB;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

int lm_cmd_route(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *date = NULL, *vehicle = NULL, *driver = NULL, *stops_arg = NULL, *cap_kg = NULL;
    const char *vehicles = NULL, *max_km = NULL, *svg = NULL, *max_hours = NULL, *from = NULL;
    const char *why = NULL;
    lm_args a;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c),
                           LM_CLI_JSON_OPT(c),
                           {"date", LM_OPT_VALUE, &date, NULL},
                           {"vehicle", LM_OPT_VALUE, &vehicle, NULL},
                           {"driver", LM_OPT_VALUE, &driver, NULL},
                           {"stops", LM_OPT_VALUE, &stops_arg, NULL},
                           {"capacity-kg", LM_OPT_VALUE, &cap_kg, NULL},
                           {"vehicles", LM_OPT_VALUE, &vehicles, NULL},
                           {"max-km", LM_OPT_VALUE, &max_km, NULL},
                           {"svg", LM_OPT_VALUE, &svg, NULL},
                           {"max-hours", LM_OPT_VALUE, &max_hours, NULL},
                           {"from-suggestion", LM_OPT_VALUE, &from, NULL}};
    const char *cmd = "route create";
    if (argc >= 1 && strcmp(argv[0], "cancel") == 0)
        return lm_cmd_route_cancel(argc - 1, argv + 1);
    int code = lm_cli_parse("route", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional == 1 && strcmp(a.positional[0], "suggest") == 0) {
        int64_t cg = 0;
        if (!date || !cap_kg)
            return lm_cli_usage_error("route suggest",
                                      "needs --date YYYY-MM-DD and --capacity-kg N");
        if (lm_date_parse(date, NULL, &why) != LM_OK)
            return lm_cli_usage_error("route suggest", "--date '%s' %s", date, why);
        if (lm_money_parse_kg(cap_kg, &cg, &why) != LM_OK)
            return lm_cli_usage_error("route suggest", "--capacity-kg '%s' %s", cap_kg, why);
        lm_geo_opts go = {.cap_g = cg, .svg = svg, .json = c.json, .date = date};
        if (from)
            return lm_cli_usage_error("route suggest", "--from-suggestion is route create's");
        if (cg <= 0)
            return lm_cli_usage_error("route suggest", "--capacity-kg must be more than 0");
        int64_t nv = 0;
        if (vehicles &&
            (lm_money_parse_decimal(vehicles, 0, &nv, &why) != LM_OK || nv < 1 || nv > 10000))
            return lm_cli_usage_error("route suggest", "--vehicles '%s' is not a whole number >= 1",
                                      vehicles);
        go.vehicles = (size_t)nv;
        /* kilometres with up to 3 decimals are metres, as kg are grams */
        if (max_km &&
            (lm_money_parse_kg(max_km, &go.max_route_m, &why) != LM_OK || go.max_route_m <= 0))
            return lm_cli_usage_error("route suggest", "--max-km '%s' is not a positive number",
                                      max_km);
        /* hours with up to 3 decimals: thousandths of an hour are 3.6 s */
        int64_t mh = 0;
        if (max_hours &&
            (lm_money_parse_kg(max_hours, &mh, &why) != LM_OK || mh <= 0 || mh > 1000 * 1000))
            return lm_cli_usage_error(
                "route suggest", "--max-hours '%s' is not a positive number of hours", max_hours);
        go.max_route_s = mh * 36 / 10;
        lm_replica *sr;
        if ((code = lm_cli_open("route suggest", c.db, 1, &sr)) != LM_EXIT_OK)
            return code;
        code = lm__route_suggest(sr, date, cg, &go);
        lm_replica_close(sr);
        return code;
    }
    if (a.n_positional != 1 || strcmp(a.positional[0], "create") != 0)
        return lm_cli_usage_error("route", "say 'route create' or 'route suggest' (see --help)");
    if (vehicles || max_km || svg || max_hours)
        return lm_cli_usage_error(
            cmd, "--vehicles, --max-km, --max-hours and --svg are route suggest's");
    if (from) {
        if (date || stops_arg || cap_kg)
            return lm_cli_usage_error(cmd, "--from-suggestion takes its date, stops and capacity"
                                           " from the file");
        int tc;
        if ((vehicle &&
             (tc = lm_cli_check_text(cmd, "vehicle", "routes", "vehicle", vehicle)) >= 0) ||
            (driver && (tc = lm_cli_check_text(cmd, "driver", "routes", "driver", driver)) >= 0))
            return tc;
        if (vehicle && strlen(vehicle) > 100)
            return lm_cli_usage_error(cmd, "--vehicle is at most 100 bytes with --from-suggestion");
        return lm__route_from_suggestion(from, vehicle ? vehicle : "suggested",
                                         driver ? driver : "unassigned", &c);
    }
    if (!date || !vehicle || !driver || !stops_arg)
        return lm_cli_usage_error(cmd, "--date, --vehicle, --driver and --stops are required");
    if (lm_date_parse_near(date, lm_date_today(lm_text_utc_offset_default()), LM_DATE_ROUTE_BACK,
                           LM_DATE_ROUTE_AHEAD, NULL, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--date '%s' %s%s", date, why,
                                  strcmp(why, "is too far from today") == 0
                                      ? " (a route is recorded at most a month late and planned"
                                        " at most a year ahead)"
                                      : "");
    int tc;
    if ((tc = lm_cli_check_text(cmd, "vehicle", "routes", "vehicle", vehicle)) >= 0 ||
        (tc = lm_cli_check_text(cmd, "driver", "routes", "driver", driver)) >= 0)
        return tc;
    int64_t cap = 0;
    if (cap_kg && lm_money_parse_kg(cap_kg, &cap, &why) != LM_OK)
        return lm_cli_usage_error(cmd, "--capacity-kg '%s' %s", cap_kg, why);

    char *copy = lm_strdup(stops_arg);
    if (!copy)
        return lm_cli_error(cmd, "out of memory");
    stop_plan stops[MAX_STOPS];
    size_t n = 0;
    for (char *p = copy; p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (n == MAX_STOPS || !*p) {
            lm_free(copy);
            return lm_cli_usage_error(
                cmd, n == MAX_STOPS ? "at most %d stops" : "--stops has an empty village (%d)",
                n == MAX_STOPS ? MAX_STOPS : (int)n + 1);
        }
        char *colon = strchr(p, ':');
        if (colon)
            *colon = '\0';
        stops[n].village = p;
        stops[n].agent = colon ? colon + 1 : NULL;
        stops[n++].owned = 0;
        p = comma ? comma + 1 : NULL;
    }

    lm_replica *r = NULL;
    char *user = NULL, *role = NULL, *county = NULL;
    if ((code = lm_cli_open(cmd, c.db, LM_CLI_USER | LM_CLI_WRITE, &r)) != LM_EXIT_OK)
        goto fail_open;
    sqlite3 *db = lm_replica_db(r);
    user = lm_cli_meta(r, "user");
    role = lm_cli_meta(r, "role");
    if (!role || (strcmp(role, "dispatcher") != 0 && strcmp(role, "hq") != 0)) {
        code = lm_cli_error(cmd, "only a dispatcher or hq plans routes (this replica is %s's)",
                            role ? role : "unknown");
        goto fail_role;
    }
    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
        goto fail_role;
    }
    long long waiting = 0;
    for (size_t i = 0; i < n; i++) {
        char *vc = lm__route_query_text(db, "SELECT county FROM villages WHERE name = ?1",
                                        stops[i].village, NULL);
        if (!vc) {
            code = lm_cli_error(cmd, "unknown village '%s' (not in the catalog)", stops[i].village);
            goto fail_tx;
        }
        if (county && strcmp(county, vc) != 0) {
            code = lm_cli_error(cmd, "stop '%s' is in county %s, the route's is %s",
                                stops[i].village, vc, county);
            lm_free(vc);
            goto fail_tx;
        }
        if (!county)
            county = vc;
        else
            lm_free(vc);
        if (!stops[i].agent) {
            stops[i].agent = lm__route_query_text(
                db,
                "SELECT agent FROM (SELECT agent_id AS agent, collected_at AS t FROM collections"
                " WHERE village = ?1 UNION ALL SELECT created_by, created_at FROM farmers"
                " WHERE village = ?1) WHERE agent IS NOT NULL ORDER BY t DESC LIMIT 1",
                stops[i].village, NULL);
            stops[i].owned = 1;
            if (!stops[i].agent) {
                code = lm_cli_error(cmd, "no agent known for village '%s'; write %s:AGENT",
                                    stops[i].village, stops[i].village);
                goto fail_tx;
            }
        }
        char *w = lm__route_query_text(db, lm__route_sql_waiting, stops[i].village, date);
        waiting += w ? atoll(w) : 0;
        lm_free(w);
    }
    /* the server's scope rule, here: a route outside the dispatcher's
     * county is refused before a truck is sent */
    const lm_cli_col route_row[] = {{"county", county, 0}};
    if ((code = lm_cli_check_new_row(cmd, r, "routes", route_row, 1)) >= 0)
        goto fail_tx;
    if (cap > 0 && waiting > cap) {
        code = lm_cli_error(cmd,
                            "plan over capacity: %lld.%03lld kg waiting at the stops, vehicle"
                            " takes %lld.%03lld kg",
                            waiting / 1000, waiting % 1000, (long long)cap / 1000,
                            (long long)cap % 1000);
        goto fail_tx;
    }
    char id[LM_ID_SIZE];
    if (lm_replica_new_id(r, id) != LM_OK ||
        lm__route_insert(db, r, id, county, date, vehicle, driver, user, cap, stops, n) != LM_OK ||
        lm_cli_exec(db, "COMMIT") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot write the route");
        goto fail_tx;
    }
    code = lm_cli_print_id(cmd, id, c.json);
    goto fail_role;

fail_tx:
    lm_cli_exec(db, "ROLLBACK");
fail_role:
    lm_replica_close(r);
fail_open:
    for (size_t i = 0; i < n; i++) {
        if (stops[i].owned)
            lm_free(stops[i].agent);
    }
    lm_free(county);
    lm_free(user);
    lm_free(role);
    lm_free(copy);
    return code;
}
