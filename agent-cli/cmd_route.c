/*
 * cmd_route.c — `lastmile route create`: a dispatcher plans a pickup route
 * on its replica; the route and its stops reach the stops' agents on their
 * next syncs. The plan columns (routes.*, route_stops seq/village/agent_id/
 * planned_at) are the dispatcher's; status and loaded weight of a stop are
 * its agent's (cmd_stop.c). Definitions in docs/dispatch.md.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "money.h"
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

#define MAX_STOPS 32

/* One text column of a one-row query with up to two text parameters (and
 * LM_TEXT_SQL_OFFSET, the local days' offset), as a new string; NULL when
 * there is no row (or out of memory). */
static char *query_text(sqlite3 *db, const char *sql, const char *p1, const char *p2)
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

/* A stop's load: its latest correction, else what its agent recorded
 * (NULL: not loaded), as in `points`. */
#define STOP_LOAD                                                                                  \
    "COALESCE((SELECT x.loaded_weight_g FROM load_corrections x WHERE x.stop_id = s.id"            \
    " ORDER BY x.\"at\" DESC, x.id DESC LIMIT 1), s.loaded_weight_g)"

/* Net weight waiting in village up to day: collections (adjusted, voided
 * excluded) of days <= day minus the loads of stops in that village on
 * routes dated <= day. */
static const char sql_waiting[] =
    "SELECT COALESCE((SELECT SUM(c.weight_g + COALESCE((SELECT SUM(delta_weight_g)"
    "  FROM adjustments a WHERE a.collection_id = c.id), 0)) FROM collections c"
    "  WHERE c.village = ?1 AND date(c.collected_at / 1000, 'unixepoch', " LM_TEXT_SQL_OFFSET
    ") <= ?2"
    "  AND NOT EXISTS (SELECT 1 FROM adjustments a WHERE a.collection_id = c.id"
    "  AND a.voided = 1)), 0)"
    " - COALESCE((SELECT SUM(COALESCE(" STOP_LOAD ", 0)) FROM route_stops s"
    "  JOIN routes r ON r.id = s.route_id WHERE s.village = ?1 AND r.date <= ?2), 0)";

/* What the unloaded stops at village on routes of day (not done) will
 * take: the sum of their routes' capacities, and how many have no
 * capacity (they take everything). */
static const char sql_planned[] =
    "SELECT COALESCE(SUM(r.capacity_g), 0), COUNT(*) - COUNT(r.capacity_g) FROM route_stops s"
    " JOIN routes r ON r.id = s.route_id WHERE s.village = ?1 AND r.date = ?2"
    " AND r.status NOT IN ('done', 'cancelled') AND " STOP_LOAD " IS NULL";

/* The weight `route suggest` plans at village for day: what waits (as in
 * `points --date`) less what the routes already planned for that day will
 * take there (an unloaded stop takes up to its route's capacity). */
static long long suggest_waiting(sqlite3 *db, const char *village, const char *day)
{
    char *wt = query_text(db, sql_waiting, village, day);
    long long w = wt ? atoll(wt) : 0;
    lm_free(wt);
    sqlite3_stmt *st = NULL;
    if (w <= 0 || sqlite3_prepare_v2(db, sql_planned, -1, &st, NULL) != SQLITE_OK)
        return w;
    sqlite3_bind_text(st, 1, village, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, day, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        w = sqlite3_column_int64(st, 1) > 0
                ? 0
                : w - (sqlite3_column_int64(st, 0) < w ? sqlite3_column_int64(st, 0) : w);
    sqlite3_finalize(st);
    return w;
}

typedef struct stop_plan {
    char *village; /* points into the stops copy */
    char *agent;   /* into the copy, or owned when inferred (owned = 1) */
    int owned;
} stop_plan;

static int insert_route(sqlite3 *db, lm_replica *r, const char *id, const char *county,
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

typedef struct point {
    char *village, *county;
    long long waiting;
    int bin; /* suggested route number, 1-based */
} point;

/* Decreasing waiting weight within a county. */
static int point_cmp(const void *pa, const void *pb)
{
    const point *a = pa, *b = pb;
    int c = strcmp(a->county, b->county);
    if (c)
        return c;
    return a->waiting < b->waiting ? 1 : a->waiting > b->waiting ? -1 : 0;
}

/* Plans over geography when the replica has it (route_geo.c): 1 when it
 * did (its exit code in *code), 0 to go on with first-fit decreasing. */
static int suggest_geo(sqlite3 *db, const point *pts, size_t n, lm_geo_opts *go, int *code)
{
    lm_geo_point *gp = lm_calloc(n ? n : 1, sizeof *gp);
    char why[1024];
    if (!gp) {
        *code = lm_cli_error("route suggest", "out of memory");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        gp[i] = (lm_geo_point){pts[i].village, pts[i].county, pts[i].waiting};
    int done = 1;
    why[0] = '\0';
    if (n == 0) /* nothing to plan: an empty suggestion */
        done = 0;
    else if (lm_geo_ready(db, gp, n, why, sizeof why))
        *code = lm_geo_suggest(db, gp, n, go);
    else if (go->max_route_m || go->max_route_s || go->svg)
        *code = lm_cli_error("route suggest", "--max-km, --max-hours and --svg need distances: %s",
                             why[0] ? why : "this replica has no warehouses");
    else
        done = 0;
    if (!done && why[0])
        fprintf(stderr, "lastmile: route suggest: %s; planning by weight only\n", why);
    lm_free(gp);
    return done;
}

/* `route suggest`: over geography when known, else first-fit decreasing
 * per county (docs/dispatch.md). */
static int suggest(lm_replica *r, const char *date, long long cap, lm_geo_opts *go)
{
    int json = go->json;
    const char *cmd = "route suggest";
    sqlite3 *db = lm_replica_db(r);
    sqlite3_stmt *st = NULL;
    point *pts = NULL;
    long long *load = NULL;
    size_t n = 0, size = 0;
    int code = LM_EXIT_OK, step;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, county FROM villages WHERE name IN"
                           " (SELECT village FROM collections) ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return lm_cli_sql_error(cmd, db, "cannot read");
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        long long w = suggest_waiting(db, (const char *)sqlite3_column_text(st, 0), date);
        if (w <= 0)
            continue;
        if (n == size) {
            size_t more = size ? 2 * size : 64;
            point *grown = lm_realloc(pts, more * sizeof *pts);
            if (!grown) {
                code = lm_cli_error(cmd, "out of memory");
                goto fail_read;
            }
            pts = grown;
            size = more;
        }
        pts[n].village = lm_strdup((const char *)sqlite3_column_text(st, 0));
        pts[n].county = lm_strdup((const char *)sqlite3_column_text(st, 1));
        pts[n].waiting = w;
        pts[n].bin = 0;
        n++;
        if (!pts[n - 1].village || !pts[n - 1].county) {
            code = lm_cli_error(cmd, "out of memory");
            goto fail_read;
        }
    }
    if (step != SQLITE_DONE) {
        code = lm_cli_sql_error(cmd, db, "cannot read");
        goto fail_read;
    }
    if (n)
        qsort(pts, n, sizeof pts[0], point_cmp);
    if (suggest_geo(db, pts, n, go, &code))
        goto fail_read;
    load = lm_calloc(n ? n : 1, sizeof *load);
    if (!load) {
        code = lm_cli_error(cmd, "out of memory");
        goto fail_read;
    }
    int bins = 0, first_of_county = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(pts[i].county, pts[i - 1].county) != 0)
            first_of_county = bins;
        for (int b = first_of_county; b < bins && !pts[i].bin; b++) {
            if (load[b] + pts[i].waiting <= cap) {
                load[b] += pts[i].waiting;
                pts[i].bin = b + 1;
            }
        }
        if (!pts[i].bin) {
            load[bins] = pts[i].waiting;
            pts[i].bin = ++bins;
        }
        int in_county = bins - first_of_county;
        if (go->vehicles && (size_t)in_county > go->vehicles &&
            (i + 1 == n || strcmp(pts[i + 1].county, pts[i].county) != 0)) {
            code =
                lm_cli_error(cmd, "county %s needs %d routes, at most %zu allowed (--vehicles %zu)",
                             pts[i].county, in_county, go->vehicles, go->vehicles);
            goto fail_read;
        }
    }
    if (json)
        fputs("[", stdout);
    for (int b = 1; b <= bins; b++) {
        const char *county = NULL;
        if (json)
            printf("%s{\"stops\":[", b > 1 ? "," : "");
        else
            printf("route %d:", b);
        int k = 0;
        for (size_t i = 0; i < n; i++) {
            if (pts[i].bin != b)
                continue;
            county = pts[i].county;
            fputs(k++ ? "," : json ? "" : " ", stdout);
            if (json)
                lm_json_fput_string(stdout, pts[i].village);
            else
                lm_text_fput(stdout, pts[i].village);
        }
        long long w = load[b - 1];
        if (json) {
            /* the village's whole weight at each stop: loads_g and
             * waiting_at_g as over geography, for route create */
            for (int list = 0; list < 2; list++) {
                fputs(list ? "],\"waiting_at_g\":[" : "],\"loads_g\":[", stdout);
                k = 0;
                for (size_t i = 0; i < n; i++) {
                    if (pts[i].bin == b)
                        printf("%s%lld", k++ ? "," : "", pts[i].waiting);
                }
            }
            fputs("],\"county\":", stdout);
            lm_json_fput_string(stdout, county);
            fputs(",\"date\":", stdout);
            lm_json_fput_string(stdout, date);
            printf(",\"capacity_g\":%lld,\"waiting_g\":%lld,\"over_capacity\":%s}", cap, w,
                   w > cap ? "true" : "false");
        } else {
            fputs("  (", stdout);
            lm_text_fput(stdout, county);
            printf(", %lld.%03lld kg%s)\n", w / 1000, w % 1000,
                   w > cap ? ", OVER CAPACITY: one village alone exceeds it" : "");
        }
    }
    if (json)
        fputs("]\n", stdout);
fail_read:
    for (size_t i = 0; i < n; i++) {
        lm_free(pts[i].village);
        lm_free(pts[i].county);
    }
    lm_free(pts);
    lm_free(load);
    sqlite3_finalize(st);
    return code;
}

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
static int from_suggestion(const char *path, const char *prefix, const char *driver,
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
    char *ok = query_text(db, "SELECT json_valid(?1) AND json_type(?1) = 'array'", text, NULL);
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
        char *vc = query_text(db, "SELECT county FROM villages WHERE name = ?1", village, NULL);
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
        long long now = suggest_waiting(db, vs[v].name, date);
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
                insert_route(db, r, ids[at], county, date, vehicle, driver, user, cap,
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
        stops[k].agent = query_text(
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
        code = suggest(sr, date, cg, &go);
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
        return from_suggestion(from, vehicle ? vehicle : "suggested",
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
        char *vc =
            query_text(db, "SELECT county FROM villages WHERE name = ?1", stops[i].village, NULL);
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
            stops[i].agent = query_text(
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
        char *w = query_text(db, sql_waiting, stops[i].village, date);
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
        insert_route(db, r, id, county, date, vehicle, driver, user, cap, stops, n) != LM_OK ||
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
