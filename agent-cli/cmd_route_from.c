/*
 * cmd_route_from.c — `lastmile route create --from-suggestion FILE`: the
 * routes of `route suggest --json`, checked whole against the replica, then
 * all created in one transaction or none (docs/dispatch.md).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "route_cmd.h"

#define SUGGESTION_MAX_BYTES (16L * 1024 * 1024)

/* The file at path, whole, NUL-terminated; NULL with *why set. */
static char *read_file(const char *path, const char **why)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    *why = "cannot be read";
    if (!f)
        return NULL;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = cap > (size_t)SUGGESTION_MAX_BYTES ? NULL : lm_realloc(text, cap);
            if (!grown) {
                *why = "is too large";
                lm_free(text);
                fclose(f);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        lm_free(text);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

/* One stop of a suggestion (the rows of sql_stops). */
static const char sql_stops[] =
    "SELECT r.key, json_extract(r.value, '$.county'), json_extract(r.value, '$.date'),"
    " json_extract(r.value, '$.capacity_g'), json_extract(r.value, '$.over_capacity'),"
    " s.key, s.value, s.type, json_extract(r.value, '$.loads_g[' || s.key || ']'),"
    " json_extract(r.value, '$.waiting_at_g[' || s.key || ']'),"
    " json_array_length(r.value, '$.loads_g'), json_array_length(r.value, '$.waiting_at_g'),"
    " json_array_length(r.value, '$.stops'), r.type"
    " FROM json_each(?1) r LEFT JOIN json_each(r.value, '$.stops') s ORDER BY r.key, s.key";

/* Per village of a suggestion: what it said waited there, what it plans. */
typedef struct sugg_village {
    char *name;
    long long waiting_at, planned;
    long first_route;
} sugg_village;

/* `route create --from-suggestion FILE`: every route of the suggestion,
 * or none (docs/dispatch.md). */
int lm__route_from_suggestion(const char *path, const char *prefix, const char *driver,
                              lm_cli_common *c)
{
    const char *cmd = "route create", *why = NULL;
    char *text = read_file(path, &why);
    if (!text)
        return lm_cli_error(cmd, "--from-suggestion %s %s", path, why);
    lm_replica *r = NULL;
    char *user = NULL, *role = NULL;
    sqlite3_stmt *st = NULL;
    sugg_village *vs = NULL;
    stop_plan *stops = NULL;
    char(*ids)[LM_ID_SIZE] = NULL;
    size_t n_vs = 0, n_stops = 0, n_routes = 0, size = 0;
    char *date = NULL, *county = NULL;
    long long cap = 0, route_load = 0;
    long route = -1;
    int step;
    int code = lm_cli_open(cmd, c->db, LM_CLI_USER | LM_CLI_WRITE, &r);
    if (code != LM_EXIT_OK)
        goto fail_open;
    sqlite3 *db = lm_replica_db(r);
    user = lm_cli_meta(r, "user");
    role = lm_cli_meta(r, "role");
    if (!role || (strcmp(role, "dispatcher") != 0 && strcmp(role, "hq") != 0)) {
        code = lm_cli_error(cmd, "only a dispatcher or hq plans routes (this replica is %s's)",
                            role ? role : "unknown");
        goto fail_open;
    }
    char *ok =
        lm__route_query_text(db, "SELECT json_valid(?1) AND json_type(?1) = 'array'", text, NULL);
    int valid = ok && strcmp(ok, "1") == 0;
    lm_free(ok);
    if (!valid) {
        code = lm_cli_error(cmd, "%s is not the JSON array of route suggest --json", path);
        goto fail_open;
    }
    if (lm_cli_exec(db, "BEGIN IMMEDIATE") != LM_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot start a transaction");
        goto fail_open;
    }
    if (sqlite3_prepare_v2(db, sql_stops, -1, &st, NULL) != SQLITE_OK) {
        code = lm_cli_sql_error(cmd, db, "cannot read the suggestion");
        goto fail_tx;
    }
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    /* Pass 1: check every route and stop, and gather the villages. */
#define BAD(...)                                                                                   \
    do {                                                                                           \
        code = lm_cli_error(cmd, __VA_ARGS__);                                                     \
        goto fail_check;                                                                           \
    } while (0)
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long rk = (long)sqlite3_column_int64(st, 0);
        const char *rtype = (const char *)sqlite3_column_text(st, 13);
        const char *rc = (const char *)sqlite3_column_text(st, 1);
        const char *rd = (const char *)sqlite3_column_text(st, 2);
        long long rcap = sqlite3_column_int64(st, 3);
        if (!rtype || strcmp(rtype, "object") != 0)
            BAD("%s: route %ld is not an object", path, rk + 1);
        if (sqlite3_column_int(st, 4))
            BAD("%s: route %ld is over capacity (a village alone exceeds it): plan it by hand",
                path, rk + 1);
        if (!rc || !rd || sqlite3_column_type(st, 3) != SQLITE_INTEGER || rcap <= 0)
            BAD("%s: route %ld lacks its county, date or capacity_g (made by an older"
                " lastmile? suggest again)",
                path, rk + 1);
        long n_in = (long)sqlite3_column_int64(st, 12);
        if (n_in <= 0 || sqlite3_column_int64(st, 10) != n_in ||
            sqlite3_column_int64(st, 11) != n_in)
            BAD("%s: route %ld needs stops, loads_g and waiting_at_g of one length", path, rk + 1);
        if (rk != route) { /* a new route */
            if (route >= 0 && route_load > cap)
                BAD("%s: route %ld loads more than its capacity", path, route + 1);
            if (date && (strcmp(date, rd) != 0 || cap != rcap))
                BAD("%s: route %ld has another date or capacity than route 1", path, rk + 1);
            if (!date) {
                date = lm_strdup(rd);
                cap = rcap;
                const char *dwhy = NULL;
                if (!date)
                    BAD("out of memory");
                if (lm_date_parse_near(date, lm_date_today(LM_TIME_DEFAULT_OFFSET_MIN),
                                       LM_DATE_ROUTE_BACK, LM_DATE_ROUTE_AHEAD, NULL,
                                       &dwhy) != LM_OK)
                    BAD("%s: date '%s' %s", path, date, dwhy);
            }
            lm_free(county);
            county = lm_strdup(rc);
            route = rk;
            route_load = 0;
            n_routes++;
        }
        const char *stype = (const char *)sqlite3_column_text(st, 7);
        const char *village = (const char *)sqlite3_column_text(st, 6);
        long long load = sqlite3_column_int64(st, 8), at = sqlite3_column_int64(st, 9);
        if (!stype || strcmp(stype, "text") != 0 || !village || !*village)
            BAD("%s: route %ld: stop %lld is not a village name", path, rk + 1,
                (long long)sqlite3_column_int64(st, 5) + 1);
        if (sqlite3_column_type(st, 8) != SQLITE_INTEGER || load <= 0 ||
            sqlite3_column_type(st, 9) != SQLITE_INTEGER || at < load)
            BAD("%s: route %ld: stop %s needs a load in 1..waiting_at_g grams", path, rk + 1,
                village);
        route_load += load;
        char *vc =
            lm__route_query_text(db, "SELECT county FROM villages WHERE name = ?1", village, NULL);
        int same = vc && county && strcmp(vc, county) == 0;
        if (!vc) {
            lm_free(vc);
            BAD("unknown village '%s' (not in the catalog)", village);
        }
        if (!same) {
            code = lm_cli_error(cmd, "stop '%s' is in county %s, the route's is %s", village, vc,
                                county);
            lm_free(vc);
            goto fail_check;
        }
        lm_free(vc);
        size_t v = 0;
        while (v < n_vs && strcmp(vs[v].name, village) != 0)
            v++;
        if (v == n_vs) {
            if (n_vs == size) {
                size = size ? 2 * size : 32;
                sugg_village *grown = lm_realloc(vs, size * sizeof *vs);
                if (!grown)
                    BAD("out of memory");
                vs = grown;
            }
            vs[n_vs] = (sugg_village){lm_strdup(village), at, 0, rk};
            if (!vs[n_vs++].name)
                BAD("out of memory");
        }
        if (vs[v].waiting_at != at)
            BAD("%s: village %s: routes %ld and %ld disagree on what waits there", path, village,
                vs[v].first_route + 1, rk + 1);
        vs[v].planned += load;
        n_stops++;
    }
    if (step != SQLITE_DONE)
        BAD("cannot read the suggestion: %s", sqlite3_errmsg(db));
    if (route >= 0 && route_load > cap)
        BAD("%s: route %ld loads more than its capacity", path, route + 1);
    if (n_routes == 0)
        BAD("%s: no routes", path);
    /* Stale: what waits now differs from what the suggestion saw. */
    for (size_t v = 0; v < n_vs; v++) {
        long long now = lm__route_waiting(db, vs[v].name, date);
        if (now != vs[v].waiting_at)
            BAD("stale suggestion: village %s has %lld.%03lld kg to plan for %s now, the"
                " suggestion saw %lld.%03lld kg (suggest again)",
                vs[v].name, now / 1000, now % 1000, date, vs[v].waiting_at / 1000,
                vs[v].waiting_at % 1000);
        if (vs[v].planned != vs[v].waiting_at)
            BAD("%s: village %s: the routes load %lld.%03lld kg of its %lld.%03lld kg", path,
                vs[v].name, vs[v].planned / 1000, vs[v].planned % 1000, vs[v].waiting_at / 1000,
                vs[v].waiting_at % 1000);
    }
    /* Pass 2: write. */
    stops = lm_calloc(n_stops, sizeof *stops);
    ids = lm_calloc(n_routes, sizeof *ids);
    if (!stops || !ids)
        BAD("out of memory");
    sqlite3_reset(st);
    size_t k = 0, first = 0;
    route = -1;
    while ((step = sqlite3_step(st)) == SQLITE_ROW || route >= 0) {
        long rk = step == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -2;
        if (rk != route && route >= 0) { /* write the route ending at k */
            char vehicle[128];
            size_t at = (size_t)(route < 0 ? 0 : route);
            snprintf(vehicle, sizeof vehicle, "%s-%zu", prefix, at + 1);
            if (lm_replica_new_id(r, ids[at]) != LM_OK ||
                lm__route_insert(db, r, ids[at], county, date, vehicle, driver, user, cap,
                                 stops + first, k - first) != LM_OK)
                BAD("cannot write the route: %s", sqlite3_errmsg(db));
            first = k;
        }
        if (step != SQLITE_ROW)
            break;
        if (rk != route) {
            lm_free(county);
            county = lm_strdup((const char *)sqlite3_column_text(st, 1));
            route = rk;
        }
        const char *village = (const char *)sqlite3_column_text(st, 6);
        for (size_t v = 0; v < n_vs; v++) {
            if (strcmp(vs[v].name, village) == 0)
                stops[k].village = vs[v].name;
        }
        stops[k].agent = lm__route_query_text(
            db,
            "SELECT agent FROM (SELECT agent_id AS agent, collected_at AS t FROM collections"
            " WHERE village = ?1 UNION ALL SELECT created_by, created_at FROM farmers"
            " WHERE village = ?1) WHERE agent IS NOT NULL ORDER BY t DESC LIMIT 1",
            village, NULL);
        stops[k].owned = 1;
        if (!stops[k++].agent)
            BAD("no agent known for village '%s'; plan it with route create --stops %s:AGENT",
                village, village);
    }
    if (step != SQLITE_DONE)
        BAD("cannot read the suggestion: %s", sqlite3_errmsg(db));
    if (lm_cli_exec(db, "COMMIT") != LM_OK)
        BAD("cannot write the routes: %s", sqlite3_errmsg(db));
#undef BAD
    if (c->json)
        fputs("[", stdout);
    for (size_t i = 0; i < n_routes; i++) {
        if (c->json)
            printf("%s{\"id\":\"%s\"}", i ? "," : "", ids[i]);
        else
            printf("%s\n", ids[i]);
    }
    if (c->json)
        fputs("]\n", stdout);
    code = LM_EXIT_OK;
    goto done;
fail_check:
fail_tx:
    lm_cli_exec(db, "ROLLBACK");
done:
    sqlite3_finalize(st);
fail_open:
    lm_free(date);
    lm_free(county);
    for (size_t i = 0; i < n_stops && stops; i++) {
        if (stops[i].owned)
            lm_free(stops[i].agent);
    }
    for (size_t v = 0; v < n_vs; v++)
        lm_free(vs[v].name);
    lm_free(vs);
    lm_free(stops);
    lm_free(ids);
    lm_free(user);
    lm_free(role);
    lm_replica_close(r);
    lm_free(text);
    return code;
}
