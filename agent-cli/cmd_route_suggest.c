/*
 * cmd_route_suggest.c — `lastmile route suggest`: which villages wait for a
 * pickup on a day and how much, put on routes over geography when the
 * replica has it (route_geo.c), else first-fit decreasing per county
 * (docs/dispatch.md).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "route_cmd.h"

/* A stop's load: its latest correction, else what its agent recorded
 * (NULL: not loaded), as in `points`. */
#define STOP_LOAD                                                                                  \
    "COALESCE((SELECT x.loaded_weight_g FROM load_corrections x WHERE x.stop_id = s.id"            \
    " ORDER BY x.\"at\" DESC, x.id DESC LIMIT 1), s.loaded_weight_g)"

/* Net weight waiting in village up to day: collections (adjusted, voided
 * excluded) of days <= day minus the loads of stops in that village on
 * routes dated <= day. */
const char lm__route_sql_waiting[] =
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
long long lm__route_waiting(sqlite3 *db, const char *village, const char *day)
{
    char *wt = lm__route_query_text(db, lm__route_sql_waiting, village, day);
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
int lm__route_suggest(lm_replica *r, const char *date, long long cap, lm_geo_opts *go)
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
        long long w = lm__route_waiting(db, (const char *)sqlite3_column_text(st, 0), date);
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
