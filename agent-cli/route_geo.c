/*
 * route_geo.c — route suggest over coordinates (route_geo.h): per county,
 * node 0 is the county's warehouse (the first by name with coordinates),
 * nodes 1..k its villages with weight waiting; distances are great-circle
 * metres times LM_GEO_DETOUR; lm_route_solve (seed 1, its default
 * iterations) plans within the capacity, --vehicles and --max-km, and
 * splits a village with more than a truck takes over trips. All counties
 * are solved before anything is printed or the picture written, so an
 * error leaves nothing behind.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "lm_route.h"
#include "plan_svg.h"
#include "route_geo.h"

#define EARTH_M 6371008.8
#define PI 3.14159265358979323846

int64_t lm_geo_metres(double lat1, double lon1, double lat2, double lon2, double detour)
{
    double r = PI / 180.0, dlat = (lat2 - lat1) * r, dlon = (lon2 - lon1) * r;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * r) * cos(lat2 * r) * sin(dlon / 2) * sin(dlon / 2);
    double m = 2 * EARTH_M * asin(fmin(1.0, sqrt(a)));
    return (int64_t)llround(m * detour);
}

/* 1 when table has all of cols (a NULL-terminated list). */
static int has_columns(sqlite3 *db, const char *table, const char *const *cols)
{
    sqlite3_stmt *st = NULL;
    int found = 0, want = 0;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1)", -1, &st, NULL) !=
        SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (const char *const *c = cols; *c; c++)
            found += name && strcmp(name, *c) == 0;
    }
    sqlite3_finalize(st);
    for (const char *const *c = cols; *c; c++)
        want++;
    return found == want;
}

typedef struct site {
    char *name;
    double lat, lon;
} site;

/* The first row of sql (one text parameter) as (name, lat, lon) with
 * coordinates in range; 1 found, 0 not. */
static int find_site(sqlite3 *db, const char *sql, const char *key, site *out)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 1) != SQLITE_NULL &&
        sqlite3_column_type(st, 2) != SQLITE_NULL) {
        out->lat = sqlite3_column_double(st, 1);
        out->lon = sqlite3_column_double(st, 2);
        found = fabs(out->lat) <= 90 && fabs(out->lon) <= 180;
        if (found && out->name == NULL)
            out->name = lm_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return found;
}

static const char sql_warehouse[] = "SELECT name, lat, lon FROM warehouses WHERE county = ?1"
                                    " AND lat IS NOT NULL AND lon IS NOT NULL ORDER BY name";
static const char sql_village[] = "SELECT name, lat, lon FROM villages WHERE name = ?1";

static void append(char *why, size_t size, const char *fmt, const char *a, const char *b)
{
    size_t used = strlen(why);
    if (used < size)
        snprintf(why + used, size - used, fmt, a, b);
}

int lm_geo_ready(sqlite3 *db, const lm_geo_point *pts, size_t n, char *why, size_t why_size)
{
    static const char *const vcols[] = {"lat", "lon", NULL};
    static const char *const wcols[] = {"name", "county", "lat", "lon", NULL};
    why[0] = '\0';
    if (n == 0 || !has_columns(db, "villages", vcols) || !has_columns(db, "warehouses", wcols))
        return 0;
    for (size_t i = 0; i < n; i++) {
        site s = {(char *)"", 0, 0}; /* a non-NULL name: only the coordinates are wanted */
        if ((i == 0 || strcmp(pts[i].county, pts[i - 1].county) != 0) &&
            !find_site(db, sql_warehouse, pts[i].county, &s))
            append(why, why_size, "%scounty %s has no warehouse with coordinates",
                   why[0] ? "; " : "", pts[i].county);
        if (!find_site(db, sql_village, pts[i].village, &s))
            append(why, why_size, "%svillage %s has no coordinates", why[0] ? "; " : "",
                   pts[i].village);
    }
    return why[0] == '\0';
}

/* One county's problem and plan: node 0 the warehouse, node k pts[first + k - 1]. */
typedef struct county {
    size_t first, n;
    site wh;
    double *lat, *lon;
    int64_t *dist, *demand;
    lm_route_plan plan;
} county;

static void county_close(county *c)
{
    lm_free(c->wh.name);
    lm_free(c->lat);
    lm_free(c->lon);
    lm_free(c->dist);
    lm_free(c->demand);
    lm_route_plan_clear(&c->plan);
}

static int fmt_km(int64_t m, char *out, size_t size)
{
    return snprintf(out, size, "%lld.%01lld", (long long)(m / 1000), (long long)(m % 1000 / 100));
}

/* Builds and solves one county; the exit code. */
static int plan_county(sqlite3 *db, const lm_geo_point *pts, county *c, const lm_geo_opts *o)
{
    const char *cmd = "route suggest";
    const char *name = pts[c->first].county;
    size_t nodes = c->n + 1;
    c->lat = lm_calloc(nodes, sizeof *c->lat);
    c->lon = lm_calloc(nodes, sizeof *c->lon);
    c->dist = lm_calloc(nodes * nodes, sizeof *c->dist);
    c->demand = lm_calloc(nodes, sizeof *c->demand);
    if (!c->lat || !c->lon || !c->dist || !c->demand ||
        !find_site(db, sql_warehouse, name, &c->wh) || !c->wh.name)
        return lm_cli_error(cmd, "county %s: out of memory or its warehouse vanished", name);
    c->lat[0] = c->wh.lat;
    c->lon[0] = c->wh.lon;
    for (size_t k = 1; k < nodes; k++) {
        site s = {(char *)"", 0, 0};
        if (!find_site(db, sql_village, pts[c->first + k - 1].village, &s))
            return lm_cli_error(cmd, "village %s lost its coordinates",
                                pts[c->first + k - 1].village);
        c->lat[k] = s.lat;
        c->lon[k] = s.lon;
        c->demand[k] = pts[c->first + k - 1].waiting_g;
    }
    for (size_t a = 0; a < nodes; a++) {
        for (size_t b = 0; b < nodes; b++)
            c->dist[a * nodes + b] =
                lm_geo_metres(c->lat[a], c->lon[a], c->lat[b], c->lon[b], LM_GEO_DETOUR);
    }
    for (size_t k = 1; k < nodes && o->max_route_m; k++) {
        int64_t trip = c->dist[k] + c->dist[k * nodes];
        char km[32], lim[32];
        fmt_km(trip, km, sizeof km);
        fmt_km(o->max_route_m, lim, sizeof lim);
        if (trip > o->max_route_m)
            return lm_cli_error(cmd,
                                "village %s is %s km from warehouse %s and back; --max-km"
                                " allows %s",
                                pts[c->first + k - 1].village, km, c->wh.name, lim);
    }
    lm_route_problem p = {nodes, c->dist, c->demand, o->cap_g, o->vehicles, o->max_route_m, NULL, 0};
    lm_route_options opt = {.seed = 1, .time_limit_ms = 10000};
    char msg[160];
    int rc = lm_route_solve(&p, &opt, &c->plan, msg, sizeof msg);
    if (rc == LM_ERANGE && o->vehicles)
        return lm_cli_error(cmd, "county %s %s (--vehicles %zu)", name, msg, o->vehicles);
    if (rc != LM_OK)
        return lm_cli_error(cmd, "county %s: %s", name, msg);
    return LM_EXIT_OK;
}

static void json_route(lm_json *j, const lm_geo_point *pts, const county *c, size_t r)
{
    const lm_route_plan *pl = &c->plan;
    lm_json_begin_object(j);
    lm_json_key(j, "stops");
    lm_json_begin_array(j);
    for (size_t k = pl->start[r]; k < pl->start[r + 1]; k++)
        lm_json_string(j, pts[c->first + pl->stops[k].node - 1].village);
    lm_json_end_array(j);
    lm_json_key(j, "loads_g");
    lm_json_begin_array(j);
    for (size_t k = pl->start[r]; k < pl->start[r + 1]; k++)
        lm_json_int(j, pl->stops[k].load);
    lm_json_end_array(j);
    lm_json_key(j, "county");
    lm_json_string(j, pts[c->first].county);
    lm_json_key(j, "warehouse");
    lm_json_string(j, c->wh.name);
    lm_json_key(j, "waiting_g");
    lm_json_int(j, pl->route_load[r]);
    lm_json_key(j, "km");
    lm_json_double(j, (double)pl->route_dist[r] / 1000.0);
    lm_json_key(j, "over_capacity");
    lm_json_bool(j, 0);
    lm_json_end_object(j);
}

static void text_route(const lm_geo_point *pts, const county *c, size_t r, int number)
{
    const lm_route_plan *pl = &c->plan;
    printf("route %d:", number);
    for (size_t k = pl->start[r]; k < pl->start[r + 1]; k++) {
        const lm_geo_point *v = &pts[c->first + pl->stops[k].node - 1];
        int64_t load = pl->stops[k].load;
        printf("%s%s", k > pl->start[r] ? "," : " ", v->village);
        if (load != v->waiting_g)
            printf(" (%lld.%03lld of %lld.%03lld kg)", (long long)(load / 1000),
                   (long long)(load % 1000), (long long)(v->waiting_g / 1000),
                   (long long)(v->waiting_g % 1000));
    }
    char km[32];
    fmt_km(pl->route_dist[r], km, sizeof km);
    int64_t w = pl->route_load[r];
    printf("  (%s, %lld.%03lld kg, %s km from %s)\n", pts[c->first].county, (long long)(w / 1000),
           (long long)(w % 1000), km, c->wh.name);
}

/* Writes the picture to path through path.tmp and a rename. */
static int write_svg(const char *path, const lm_geo_point *pts, size_t n, const county *cs,
                     size_t n_counties)
{
    const char *cmd = "route suggest";
    size_t n_routes = 0, n_stops = 0;
    for (size_t i = 0; i < n_counties; i++) {
        n_routes += cs[i].plan.n_routes;
        n_stops += cs[i].plan.start[cs[i].plan.n_routes];
    }
    lm_plan_svg_site *wh = lm_calloc(n_counties ? n_counties : 1, sizeof *wh);
    lm_plan_svg_site *vs = lm_calloc(n ? n : 1, sizeof *vs);
    lm_plan_svg_route *rs = lm_calloc(n_routes ? n_routes : 1, sizeof *rs);
    size_t *stops = lm_calloc(n_stops ? n_stops : 1, sizeof *stops);
    char *tmp = lm_malloc(strlen(path) + 5);
    int code = LM_EXIT_OK;
    if (!wh || !vs || !rs || !stops || !tmp) {
        code = lm_cli_error(cmd, "out of memory");
        goto fail_alloc;
    }
    size_t r = 0, at = 0;
    for (size_t i = 0; i < n_counties; i++) {
        const county *c = &cs[i];
        wh[i] = (lm_plan_svg_site){c->wh.name, c->wh.lat, c->wh.lon, 0};
        for (size_t k = 1; k <= c->n; k++)
            vs[c->first + k - 1] = (lm_plan_svg_site){pts[c->first + k - 1].village, c->lat[k],
                                                      c->lon[k], pts[c->first + k - 1].waiting_g};
        for (size_t q = 0; q < c->plan.n_routes; q++, r++) {
            rs[r] = (lm_plan_svg_route){i, stops + at, c->plan.start[q + 1] - c->plan.start[q]};
            for (size_t k = c->plan.start[q]; k < c->plan.start[q + 1]; k++)
                stops[at++] = c->first + c->plan.stops[k].node - 1;
        }
    }
    lm_plan_svg pic = {wh, n_counties, vs, n, rs, n_routes};
    sprintf(tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        code = lm_cli_error(cmd, "cannot write %s", tmp);
        goto fail_alloc;
    }
    int rc = lm_plan_svg_write(f, &pic);
    if (fclose(f) != 0 || rc != LM_OK || rename(tmp, path) != 0) {
        unlink(tmp);
        code = lm_cli_error(cmd, "cannot write %s", path);
    }
fail_alloc:
    lm_free(wh);
    lm_free(vs);
    lm_free(rs);
    lm_free(stops);
    lm_free(tmp);
    return code;
}

int lm_geo_suggest(sqlite3 *db, const lm_geo_point *pts, size_t n, const lm_geo_opts *o)
{
    size_t n_counties = 0;
    for (size_t i = 0; i < n; i++)
        n_counties += i == 0 || strcmp(pts[i].county, pts[i - 1].county) != 0;
    county *cs = lm_calloc(n_counties ? n_counties : 1, sizeof *cs);
    if (!cs)
        return lm_cli_error("route suggest", "out of memory");
    int code = LM_EXIT_OK;
    for (size_t i = 0, c = 0; i < n; c++) {
        size_t end = i + 1;
        while (end < n && strcmp(pts[end].county, pts[i].county) == 0)
            end++;
        cs[c].first = i;
        cs[c].n = end - i;
        i = end;
    }
    for (size_t c = 0; c < n_counties && code == LM_EXIT_OK; c++)
        code = plan_county(db, pts, &cs[c], o);
    if (code == LM_EXIT_OK && o->svg)
        code = write_svg(o->svg, pts, n, cs, n_counties);
    if (code == LM_EXIT_OK && o->json) {
        lm_buf b;
        lm_json j;
        lm_buf_init(&b);
        lm_json_init(&j, &b);
        lm_json_begin_array(&j);
        for (size_t c = 0; c < n_counties; c++) {
            for (size_t r = 0; r < cs[c].plan.n_routes; r++)
                json_route(&j, pts, &cs[c], r);
        }
        lm_json_end_array(&j);
        code = lm_cli_emit_json("route suggest", &j, &b);
        lm_buf_close(&b);
    } else if (code == LM_EXIT_OK) {
        int number = 0;
        for (size_t c = 0; c < n_counties; c++) {
            for (size_t r = 0; r < cs[c].plan.n_routes; r++)
                text_route(pts, &cs[c], r, ++number);
        }
    }
    for (size_t c = 0; c < n_counties; c++)
        county_close(&cs[c]);
    lm_free(cs);
    return code;
}
