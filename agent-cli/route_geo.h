/*
 * route_geo.h — `lastmile route suggest` over real geography: when the
 * replica knows the county's warehouse and the distances between it and
 * every village with weight waiting, the suggestion is a capacitated
 * vehicle routing plan from lm_route (the solver bench/routing measures)
 * over the road distances headquarters imported (road_distances), else
 * great-circle distances times the county's detour factor, within the
 * capacity, --vehicles, --max-km and --max-hours; otherwise cmd_route.c
 * keeps first-fit decreasing. Details and limits in docs/dispatch.md.
 *
 * Where places come from: villages.lat / villages.lon and the table
 * warehouses(name, county, lat, lon), decimal degrees (schema 9);
 * road_distances and routing_settings (schema 15). Columns are read only
 * when they exist (PRAGMA table_info), so an older file plans by weight.
 */
#ifndef LM_ROUTE_GEO_H
#define LM_ROUTE_GEO_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* A county's routing settings when headquarters set none
 * (`lastmile-server distance set`, table routing_settings): road metres per
 * great-circle metre where no road distance was imported (per mille), the
 * speed where no minutes were imported, the time at each stop. */
#define LM_GEO_DETOUR_PERMILLE 1300
#define LM_GEO_SPEED_M_PER_H 30000
#define LM_GEO_STOP_S 0

/* Villages with weight waiting one county's plan may hold (the matrices
 * are n x n); more is refused with the number. */
#define LM_GEO_MAX_VILLAGES 2000

typedef struct lm_geo_point {
    const char *village, *county; /* borrowed */
    int64_t waiting_g;
} lm_geo_point;

typedef struct lm_geo_opts {
    int64_t cap_g;
    size_t vehicles;     /* per county; 0 = any number */
    int64_t max_route_m; /* 0 = no limit */
    int64_t max_route_s; /* 0 = no limit (--max-hours) */
    const char *svg;     /* NULL = no picture */
    int json;
    const char *date; /* the day planned (in the JSON, for route create) */
} lm_geo_opts;

/* 1 when every county of pts (sorted by county) has a warehouse and the
 * distance between every two of its places is known (imported from
 * road_distances, or both have coordinates); 0 otherwise, with what is
 * missing in why (empty when this replica has no warehouses table at all).
 * pts with n == 0: 0. */
int lm_geo_ready(sqlite3 *db, const lm_geo_point *pts, size_t n, char *why, size_t why_size);

/* Plans each county of pts (sorted by county, lm_geo_ready true) and prints
 * the routes (and writes opts->svg). Returns the exit code; a county that
 * needs more than opts->vehicles routes or a village farther than
 * max_route_m allows is a clear error, nothing printed or written. */
int lm_geo_suggest(sqlite3 *db, const lm_geo_point *pts, size_t n, const lm_geo_opts *o);

/* Great-circle metres between two points (decimal degrees) times detour. */
int64_t lm_geo_metres(double lat1, double lon1, double lat2, double lon2, double detour);

#endif
