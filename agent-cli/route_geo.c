/*
 * route_geo.c — route suggest over geography (route_geo.h): per county,
 * node 0 is the county's warehouse (the first by name with coordinates,
 * else the first by name), nodes 1..k its villages with weight waiting;
 * distances are the imported road metres (a pair, else its reverse), else
 * great-circle metres times the county's detour factor; times the imported
 * minutes, else the metres at the county's speed, plus the time at each
 * stop. lm_route_solve (seed 1, its default iterations) minimises the
 * metres within the capacity, --vehicles, --max-km and --max-hours, and
 * splits a village with more than a truck takes over trips. All counties
 * are solved before anything is printed or the picture written, so an
 * error leaves nothing behind.
 */
#include <math.h>
#include <stdarg.h>
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

static void append(char *why, size_t size, const char *fmt, ...)
{
    size_t used = strlen(why);
    if (used + 1 >= size)
        return;
    if (used)
        snprintf(why + used, size - used, "; ");
    used = strlen(why);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + used, size - used, fmt, ap);
    va_end(ap);
}

/* What this replica knows of geography (columns and tables present). */
typedef struct geo_schema {
    int wh;       /* a warehouses table with name and county */
    int wh_pos;   /* ... and lat, lon */
    int v_pos;    /* villages.lat, villages.lon */
    int roads;    /* road_distances */
    int settings; /* routing_settings */
} geo_schema;

static void geo_schema_read(sqlite3 *db, geo_schema *g)
{
    static const char *const pos[] = {"lat", "lon", NULL};
    static const char *const wcols[] = {"name", "county", NULL};
    static const char *const rcols[] = {"county", "from_place", "to_place",
                                        "metres", "seconds",    NULL};
    static const char *const scols[] = {"county", "detour_permille", "speed_m_per_h",
                                        "stop_seconds", NULL};
    g->wh = has_columns(db, "warehouses", wcols);
    g->wh_pos = g->wh && has_columns(db, "warehouses", pos);
    g->v_pos = has_columns(db, "villages", pos);
    g->roads = has_columns(db, "road_distances", rcols);
    g->settings = has_columns(db, "routing_settings", scols);
}

/* One node of a county's problem: node 0 the warehouse, k its villages. */
typedef struct node {
    const char *name; /* the warehouse's owned by the county, villages' borrowed */
    double lat, lon;
    int pos; /* 1 = coordinates known */
} node;

/* One county's problem and plan: node k >= 1 is pts[first + k - 1]. */
typedef struct county {
    size_t first, n, nodes;
    char *wh_name;
    node *at;
    size_t *by_name; /* node indices sorted by name */
    int64_t *dist, *secs;
    int64_t detour_permille, speed_m_per_h, stop_s;
    lm_route_plan plan;
} county;

static void county_close(county *c)
{
    lm_free(c->wh_name);
    lm_free(c->at);
    lm_free(c->by_name);
    lm_free(c->dist);
    lm_free(c->secs);
    lm_route_plan_clear(&c->plan);
}

static const county *sort_county;
static int by_name_cmp(const void *pa, const void *pb)
{
    return strcmp(sort_county->at[*(const size_t *)pa].name,
                  sort_county->at[*(const size_t *)pb].name);
}

/* The node named name, or -1. */
static long node_of(const county *c, const char *name)
{
    size_t lo = 0, hi = c->nodes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(c->at[c->by_name[mid]].name, name);
        if (cmp == 0)
            return (long)c->by_name[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Reads the coordinates of sql's first row (columns 1, 2) with key bound. */
static int read_pos(sqlite3 *db, const char *sql, const char *key, node *out, char **name)
{
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        if (name && sqlite3_column_text(st, 0))
            *name = lm_strdup((const char *)sqlite3_column_text(st, 0));
        if (sqlite3_column_type(st, 1) != SQLITE_NULL &&
            sqlite3_column_type(st, 2) != SQLITE_NULL) {
            out->lat = sqlite3_column_double(st, 1);
            out->lon = sqlite3_column_double(st, 2);
            out->pos = fabs(out->lat) <= 90 && fabs(out->lon) <= 180;
        }
    }
    sqlite3_finalize(st);
    return found;
}

/* Builds county c's matrices: imported road distances (a pair, else its
 * reverse), else great-circle metres x the county's detour when both ends
 * have coordinates; times from imported minutes, else metres at the
 * county's speed, plus its time at each stop. 1 when every pair is known,
 * 0 with what is missing appended to why, -1 when out of memory or the
 * database fails. */
static int county_build(sqlite3 *db, const geo_schema *g, const lm_geo_point *pts, county *c,
                        char *why, size_t why_size)
{
    const char *name = pts[c->first].county;
    size_t n = c->nodes = c->n + 1;
    c->detour_permille = LM_GEO_DETOUR_PERMILLE;
    c->speed_m_per_h = LM_GEO_SPEED_M_PER_H;
    c->stop_s = LM_GEO_STOP_S;
    c->at = lm_calloc(n, sizeof *c->at);
    c->by_name = lm_calloc(n, sizeof *c->by_name);
    c->dist = lm_calloc(n * n, sizeof *c->dist);
    c->secs = lm_calloc(n * n, sizeof *c->secs);
    char *direct = lm_calloc(n * n, 1);
    if (!c->at || !c->by_name || !c->dist || !c->secs || !direct) {
        lm_free(direct);
        return -1;
    }
    int ok = 1;
    int found = read_pos(db,
                         g->wh_pos ? "SELECT name, lat, lon FROM warehouses WHERE county = ?1"
                                     " ORDER BY lat IS NULL OR lon IS NULL, name LIMIT 1"
                                   : "SELECT name, NULL, NULL FROM warehouses WHERE county = ?1"
                                     " ORDER BY name LIMIT 1",
                         name, &c->at[0], &c->wh_name);
    if (found <= 0 || !c->wh_name) {
        append(why, why_size, "county %s has no warehouse", name);
        lm_free(direct);
        return found < 0 ? -1 : 0;
    }
    c->at[0].name = c->wh_name;
    for (size_t k = 1; k < n; k++) {
        c->at[k].name = pts[c->first + k - 1].village;
        if (g->v_pos && read_pos(db, "SELECT name, lat, lon FROM villages WHERE name = ?1",
                                 c->at[k].name, &c->at[k], NULL) < 0) {
            lm_free(direct);
            return -1;
        }
    }
    for (size_t k = 0; k < n; k++)
        c->by_name[k] = k;
    sort_county = c;
    qsort(c->by_name, n, sizeof *c->by_name, by_name_cmp);
    sqlite3_stmt *st = NULL;
    if (g->settings && sqlite3_prepare_v2(db,
                                          "SELECT detour_permille, speed_m_per_h, stop_seconds FROM"
                                          " routing_settings WHERE county = ?1",
                                          -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (sqlite3_column_int64(st, 0) >= 1000)
                c->detour_permille = sqlite3_column_int64(st, 0);
            if (sqlite3_column_int64(st, 1) > 0)
                c->speed_m_per_h = sqlite3_column_int64(st, 1);
            if (sqlite3_column_type(st, 2) != SQLITE_NULL && sqlite3_column_int64(st, 2) >= 0)
                c->stop_s = sqlite3_column_int64(st, 2);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    for (size_t i = 0; i < n * n; i++)
        c->dist[i] = c->secs[i] = -1;
    if (g->roads && sqlite3_prepare_v2(db,
                                       "SELECT from_place, to_place, metres, seconds FROM"
                                       " road_distances WHERE county = ?1",
                                       -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *f = (const char *)sqlite3_column_text(st, 0);
            const char *t = (const char *)sqlite3_column_text(st, 1);
            long a = f ? node_of(c, f) : -1, b = t ? node_of(c, t) : -1;
            if (a < 0 || b < 0 || a == b || sqlite3_column_int64(st, 2) < 0)
                continue;
            size_t ab = (size_t)a * n + (size_t)b, ba = (size_t)b * n + (size_t)a;
            direct[ab] = 1;
            c->dist[ab] = sqlite3_column_int64(st, 2);
            c->secs[ab] =
                sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 3);
            if (!direct[ba]) { /* the reverse until its own row comes */
                c->dist[ba] = c->dist[ab];
                c->secs[ba] = c->secs[ab];
            }
        }
        sqlite3_finalize(st);
    }
    lm_free(direct);
    char *named = lm_calloc(n, 1); /* the nodes already named in why */
    if (!named)
        return -1;
    double detour = (double)c->detour_permille / 1000.0;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            size_t ab = a * n + b;
            if (a == b) {
                c->dist[ab] = c->secs[ab] = 0;
                continue;
            }
            if (c->dist[ab] < 0 && c->at[a].pos && c->at[b].pos)
                c->dist[ab] =
                    lm_geo_metres(c->at[a].lat, c->at[a].lon, c->at[b].lat, c->at[b].lon, detour);
            if (c->dist[ab] < 0) {
                /* name the end without coordinates, once, with the
                 * first place it has no distance to */
                size_t bad = !c->at[b].pos ? b : a, other = bad == a ? b : a;
                if (!named[bad])
                    append(why, why_size, "%s %s has no coordinates and no road distance to %s",
                           bad ? "village" : "warehouse", c->at[bad].name, c->at[other].name);
                named[bad] = 1;
                ok = 0;
                continue;
            }
            if (c->secs[ab] < 0)
                c->secs[ab] =
                    (int64_t)((double)c->dist[ab] * 3600.0 / (double)c->speed_m_per_h + 0.5);
            if (b)
                c->secs[ab] += c->stop_s;
        }
    }
    lm_free(named);
    return ok;
}

static void counties_close(county *cs, size_t n)
{
    for (size_t c = 0; c < n; c++)
        county_close(&cs[c]);
    lm_free(cs);
}

/* Splits pts (sorted by county) into counties and builds each; 1 when all
 * are complete, 0 with the gaps in why, -1 on failure. */
static int counties_build(sqlite3 *db, const lm_geo_point *pts, size_t n, county **out,
                          size_t *n_out, char *why, size_t why_size)
{
    geo_schema g;
    geo_schema_read(db, &g);
    *out = NULL;
    *n_out = 0;
    why[0] = '\0';
    if (n == 0 || !g.wh)
        return 0;
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        nc += i == 0 || strcmp(pts[i].county, pts[i - 1].county) != 0;
    county *cs = lm_calloc(nc, sizeof *cs);
    if (!cs)
        return -1;
    int ok = 1;
    for (size_t i = 0, c = 0; i < n; c++) {
        size_t end = i + 1;
        while (end < n && strcmp(pts[end].county, pts[i].county) == 0)
            end++;
        cs[c].first = i;
        cs[c].n = end - i;
        i = end;
        if (cs[c].n > LM_GEO_MAX_VILLAGES) {
            append(why, why_size,
                   "county %s has %zu villages with weight waiting; route suggest plans at most"
                   " %d per county over distances",
                   pts[cs[c].first].county, cs[c].n, LM_GEO_MAX_VILLAGES);
            ok = 0;
            continue;
        }
        int rc = county_build(db, &g, pts, &cs[c], why, why_size);
        if (rc < 0) {
            counties_close(cs, nc);
            return -1;
        }
        ok &= rc;
    }
    *out = cs;
    *n_out = nc;
    return ok;
}

int lm_geo_ready(sqlite3 *db, const lm_geo_point *pts, size_t n, char *why, size_t why_size)
{
    county *cs;
    size_t nc;
    int rc = counties_build(db, pts, n, &cs, &nc, why, why_size);
    counties_close(cs, nc);
    if (rc < 0)
        append(why, why_size, "cannot read the geography: %s", sqlite3_errmsg(db));
    return rc > 0;
}

static int fmt_km(int64_t m, char *out, size_t size)
{
    return snprintf(out, size, "%lld.%01lld", (long long)(m / 1000), (long long)(m % 1000 / 100));
}

static int fmt_hours(int64_t s, char *out, size_t size)
{
    int64_t tenths = (s + 180) / 360;
    return snprintf(out, size, "%lld.%01lld", (long long)(tenths / 10), (long long)(tenths % 10));
}

/* Solves one built county; the exit code. */
static int plan_county(const lm_geo_point *pts, county *c, const lm_geo_opts *o)
{
    const char *cmd = "route suggest";
    const char *name = pts[c->first].county;
    size_t nodes = c->nodes;
    for (size_t k = 1; k < nodes; k++) {
        int64_t trip = c->dist[k] + c->dist[k * nodes];
        int64_t time = c->secs[k] + c->secs[k * nodes];
        char a[32], b[32];
        if (o->max_route_m && trip > o->max_route_m) {
            fmt_km(trip, a, sizeof a);
            fmt_km(o->max_route_m, b, sizeof b);
            return lm_cli_error(cmd,
                                "village %s is %s km from warehouse %s and back; --max-km"
                                " allows %s",
                                c->at[k].name, a, c->wh_name, b);
        }
        if (o->max_route_s && time > o->max_route_s) {
            fmt_hours(time, a, sizeof a);
            fmt_hours(o->max_route_s, b, sizeof b);
            return lm_cli_error(cmd,
                                "village %s is %s hours from warehouse %s and back (its stop"
                                " included); --max-hours allows %s",
                                c->at[k].name, a, c->wh_name, b);
        }
    }
    int64_t *demand = lm_calloc(nodes, sizeof *demand);
    if (!demand)
        return lm_cli_error(cmd, "out of memory");
    for (size_t k = 1; k < nodes; k++)
        demand[k] = pts[c->first + k - 1].waiting_g;
    lm_route_problem p = {nodes,       c->dist,        demand,  o->cap_g,
                          o->vehicles, o->max_route_m, c->secs, o->max_route_s};
    lm_route_options opt = {.seed = 1, .time_limit_ms = 10000};
    char msg[160];
    int rc = lm_route_solve(&p, &opt, &c->plan, msg, sizeof msg);
    lm_free(demand);
    if (rc == LM_ERANGE && o->vehicles)
        return lm_cli_error(cmd, "county %s %s (--vehicles %zu)", name, msg, o->vehicles);
    if (rc != LM_OK)
        return lm_cli_error(cmd, "county %s: %s", name, msg);
    return LM_EXIT_OK;
}

static void json_route(lm_json *j, const lm_geo_point *pts, const county *c, size_t r,
                       const lm_geo_opts *o)
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
    lm_json_key(j, "waiting_at_g");
    lm_json_begin_array(j);
    for (size_t k = pl->start[r]; k < pl->start[r + 1]; k++)
        lm_json_int(j, pts[c->first + pl->stops[k].node - 1].waiting_g);
    lm_json_end_array(j);
    lm_json_key(j, "county");
    lm_json_string(j, pts[c->first].county);
    lm_json_key(j, "warehouse");
    lm_json_string(j, c->wh_name);
    lm_json_key(j, "date");
    lm_json_string(j, o->date);
    lm_json_key(j, "capacity_g");
    lm_json_int(j, o->cap_g);
    lm_json_key(j, "waiting_g");
    lm_json_int(j, pl->route_load[r]);
    lm_json_key(j, "km");
    lm_json_double(j, (double)pl->route_dist[r] / 1000.0);
    lm_json_key(j, "hours");
    lm_json_double(j, (double)pl->route_time[r] / 3600.0);
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
    char km[32], h[32];
    fmt_km(pl->route_dist[r], km, sizeof km);
    fmt_hours(pl->route_time[r], h, sizeof h);
    int64_t w = pl->route_load[r];
    printf("  (%s, %lld.%03lld kg, %s km, %s h from %s)\n", pts[c->first].county,
           (long long)(w / 1000), (long long)(w % 1000), km, h, c->wh_name);
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
        for (size_t k = 0; k <= c->n; k++) {
            if (!c->at[k].pos) {
                code = lm_cli_error(cmd, "--svg needs coordinates: %s %s has none",
                                    k ? "village" : "warehouse", c->at[k].name);
                goto fail_alloc;
            }
        }
        wh[i] = (lm_plan_svg_site){c->wh_name, c->at[0].lat, c->at[0].lon, 0};
        for (size_t k = 1; k <= c->n; k++)
            vs[c->first + k - 1] =
                (lm_plan_svg_site){pts[c->first + k - 1].village, c->at[k].lat, c->at[k].lon,
                                   pts[c->first + k - 1].waiting_g};
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
    county *cs = NULL;
    size_t n_counties = 0;
    char why[1024];
    int rc = counties_build(db, pts, n, &cs, &n_counties, why, sizeof why);
    if (rc <= 0) {
        counties_close(cs, n_counties);
        return lm_cli_error("route suggest", "%s", rc < 0 ? sqlite3_errmsg(db) : why);
    }
    int code = LM_EXIT_OK;
    for (size_t c = 0; c < n_counties && code == LM_EXIT_OK; c++)
        code = plan_county(pts, &cs[c], o);
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
                json_route(&j, pts, &cs[c], r, o);
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
    counties_close(cs, n_counties);
    return code;
}
